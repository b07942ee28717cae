# ESP32C3 module with tailnet: upstream ESP32_GENERIC_C3 settings + sdkconfig.tailnet (mbedTLS for DERP TLS,
# lwIP UDP depth), tailnet manifest.
# CMAKE_SOURCE_DIR is ports/esp32; relative SDKCONFIG_DEFAULTS entries are read from there.
set(IDF_TARGET esp32c3)
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.ble
    boards/ESP32_GENERIC_C3/sdkconfig.c3usb
    ${MICROPY_BOARD_DIR}/../sdkconfig.tailnet
)
set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
