# ESP32_GENERIC_C3: the port's own modules (_boot, inisetup, flashbdev, espnow) + asyncio + tailnet.
freeze("$(PORT_DIR)/modules")
include("../tailnet_manifest.py")
