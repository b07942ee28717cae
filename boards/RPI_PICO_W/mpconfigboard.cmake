# Raspberry Pi Pico W (RP2040 + CYW43439 wifi) with tailnet.
# Same as upstream RPI_PICO_W except: Bluetooth off (tailnet does not use it; saves ~100 KiB of
# flash and ~10 KiB of RAM, and drops the lib/btstack dependency), tailnet manifest.
set(PICO_BOARD "pico_w")
set(MICROPY_PY_LWIP ON)
set(MICROPY_PY_NETWORK_CYW43 ON)
set(MICROPY_PY_BLUETOOTH OFF)
set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
# Bluetooth off: bring pico-sdk's cyw43 glue headers in (see ../rp2_cyw43_headers.cmake).
list(APPEND USER_C_MODULES ${MICROPY_BOARD_DIR}/../rp2_cyw43_headers.cmake)
