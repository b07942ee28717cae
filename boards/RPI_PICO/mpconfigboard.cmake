# Raspberry Pi Pico (RP2040, no wifi): upstream RPI_PICO + tailnet frozen + tailnet C modules.
# Built on this project's machines as the proof that the C modules and the frozen package
# build for Cortex-M0+ (make firmware BOARD=RPI_PICO).
include(${MICROPY_PORT_DIR}/boards/RPI_PICO/mpconfigboard.cmake)
set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
