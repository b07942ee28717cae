// mbedTLS configuration of the ESP32 stand-in 32-bit host firmware (build_host32.sh with
// TLS_HEAP=libc -> build/host32-esp/micropython). The same MicroPython configuration as
// mbedtls_config_host32.h (extmod/mbedtls/mbedtls_config_common.h: TLS 1.2, IN_CONTENT_LEN
// 16384, OUT_CONTENT_LEN 4096 = ESP-IDF's CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN defaults that
// ports/esp32/boards/sdkconfig.base selects), but WITHOUT the bare-metal allocation hooks:
// mbedTLS allocates with libc calloc/free, outside the MicroPython heap, as ESP-IDF's mbedTLS
// does on ESP32 boards (the IDF heap; CONFIG_MBEDTLS_DEFAULT_MEM_ALLOC). So -X heapsize counts
// only the Python objects of the TLS connections (the SSLContext/socket objects), not their
// mbedTLS contexts and record buffers. Entropy from the OS.
#ifndef TAILNET_MBEDTLS_CONFIG_HOST32_LIBC_H
#define TAILNET_MBEDTLS_CONFIG_HOST32_LIBC_H
#define MBEDTLS_CIPHER_MODE_CTR
#define MBEDTLS_TIMING_C
#define MICROPY_MBEDTLS_CONFIG_BARE_METAL (0)
#include "extmod/mbedtls/mbedtls_config_common.h"
#endif
