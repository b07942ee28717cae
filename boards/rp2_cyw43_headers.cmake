# Pico W / Pico 2 W with Bluetooth off: in MicroPython 1.25 the pico-sdk cyw43 glue headers
# (pico/cyw43_driver.h, used by cyw43_bus_pio_spi.c) only reach the firmware through the
# Bluetooth (btstack) libraries. This file, appended to USER_C_MODULES by the board's
# mpconfigboard.cmake (so it is included after pico_sdk_init()), links their header target.
if(TARGET pico_cyw43_driver_headers)
    target_link_libraries(usermod INTERFACE pico_cyw43_driver_headers)
endif()
