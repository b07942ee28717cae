# Frozen content of the *stock* unix-port firmware built by natmod/build.sh ($BUILD/stock/):
# what a stock board image has of ours, i.e. nothing: only MicroPython's asyncio. No cmodules
# are compiled in, so `_tncrypto` must come from the native .mpy that mip installs.
include("$(MPY_DIR)/extmod/asyncio")
