# Raspberry Pi Pico 2 W (RP2350 Cortex-M33 + CYW43439 wifi) with tailnet.
# Same as upstream RPI_PICO2_W (ARM variant) except: Bluetooth off, tailnet manifest.
set(PICO_BOARD "pico2_w")
set(PICO_PLATFORM "rp2350")
set(MICROPY_PY_LWIP ON)
set(MICROPY_PY_NETWORK_CYW43 ON)
set(MICROPY_PY_BLUETOOTH OFF)
set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
# Bluetooth off: bring pico-sdk's cyw43 glue headers in (see ../rp2_cyw43_headers.cmake).
list(APPEND USER_C_MODULES ${MICROPY_BOARD_DIR}/../rp2_cyw43_headers.cmake)
