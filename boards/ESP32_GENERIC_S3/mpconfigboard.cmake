# Generic ESP32S3 module with tailnet: upstream ESP32_GENERIC_S3 settings + sdkconfig.tailnet (mbedTLS for DERP TLS,
# lwIP UDP depth), tailnet manifest.
# CMAKE_SOURCE_DIR is ports/esp32; relative SDKCONFIG_DEFAULTS entries are read from there.
set(IDF_TARGET esp32s3)
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.usb
    boards/sdkconfig.ble
    boards/sdkconfig.spiram_sx
    ${CMAKE_SOURCE_DIR}/boards/ESP32_GENERIC_S3/sdkconfig.board
    ${MICROPY_BOARD_DIR}/../sdkconfig.tailnet
)
set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
