# ESP32_GENERIC_S3: the port's own modules (_boot, inisetup, flashbdev, espnow) + asyncio + tailnet.
freeze("$(PORT_DIR)/modules")
include("../tailnet_manifest.py")
