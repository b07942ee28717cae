# Frozen content of the host (unix port) firmware: asyncio plus the tailnet package.
# micropython-lib is not available from the Debian source, so the port's default
# manifest (which requires mip/ssl from it) is not included.
include("$(MPY_DIR)/extmod/asyncio")
package("tailnet", base_path="../modules", opt=3)
