// mbedTLS configuration of the 32-bit host firmware (tests/host/control/build_host32.sh):
// MicroPython's own board configuration (extmod/mbedtls/mbedtls_config_common.h: TLS 1.2,
// IN_CONTENT_LEN 16384, OUT_CONTENT_LEN 4096) with its bare-metal allocation hooks, so the
// TLS buffers come from the MicroPython heap (m_tracked_calloc) as on rp2 and stm32, and
// count against -X heapsize. Entropy from the OS (like ports/unix's coverage variant).
#ifndef TAILNET_MBEDTLS_CONFIG_HOST32_H
#define TAILNET_MBEDTLS_CONFIG_HOST32_H
#define MBEDTLS_CIPHER_MODE_CTR
#define MBEDTLS_TIMING_C
#define MICROPY_MBEDTLS_CONFIG_BARE_METAL (1)
#include "extmod/mbedtls/mbedtls_config_common.h"
#undef MBEDTLS_ENTROPY_HARDWARE_ALT
#undef MBEDTLS_NO_PLATFORM_ENTROPY
#endif
