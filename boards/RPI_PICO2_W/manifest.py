# RPI_PICO2_W: the port's own modules (rp2, _boot) + asyncio + tailnet.
freeze("$(PORT_DIR)/modules")
include("../tailnet_manifest.py")
