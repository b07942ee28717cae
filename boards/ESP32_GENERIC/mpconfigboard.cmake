# Generic ESP32 module with tailnet: upstream ESP32_GENERIC settings + sdkconfig.tailnet (mbedTLS for DERP TLS,
# lwIP UDP depth), tailnet manifest.
# CMAKE_SOURCE_DIR is ports/esp32; relative SDKCONFIG_DEFAULTS entries are read from there.
set(IDF_TARGET esp32)
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.ble
    ${MICROPY_BOARD_DIR}/../sdkconfig.tailnet
)
set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
