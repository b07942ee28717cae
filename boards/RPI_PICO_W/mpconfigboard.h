// Raspberry Pi Pico W with tailnet (upstream RPI_PICO_W settings, Bluetooth off).
#define MICROPY_HW_BOARD_NAME                   "Raspberry Pi Pico W (tailnet)"
// 2 MiB flash: upstream leaves 848 KiB for the filesystem; tailnet's frozen code and C modules
// take ~150 KiB of it, Bluetooth being off gives ~100 KiB back.
#define MICROPY_HW_FLASH_STORAGE_BYTES          (800 * 1024)
#define MICROPY_PY_NETWORK 1
#define MICROPY_PY_NETWORK_HOSTNAME_DEFAULT     "PicoW"

// CYW43 driver configuration (as upstream).
#define CYW43_USE_SPI (1)
#define CYW43_LWIP (1)
#define CYW43_GPIO (1)
#define CYW43_SPI_PIO (1)
#define MICROPY_HW_PIN_EXT_COUNT    CYW43_WL_GPIO_COUNT
int mp_hal_is_pin_reserved(int n);
#define MICROPY_HW_PIN_RESERVED(i) mp_hal_is_pin_reserved(i)

// tailnet: lwIP keeps the port defaults (extmod/lwip-include/lwipopts_common.h: MEM_SIZE 16000,
// TCP_WND 8*MSS, 4 UDP PCBs of which DHCP and DNS use 2). tailnet needs 2 UDP sockets (WireGuard/disco, STUN) and 2 TCP
// connections (control, DERP), which fits; MEM_SIZE may be raised here (#ifndef-guarded) if HIL
// shows pbuf exhaustion under load.

// mbedTLS for DERP/control over TLS: the rp2 port config (mbedtls_config_port.h, shared with
// extmod) already has what Go TLS servers need: TLS 1.2 client, ECDHE-ECDSA/ECDHE-RSA with
// AES-GCM, SECP256R1/384R1, SNI, 16 KiB input records (Go does not negotiate max_fragment_length,
// so MBEDTLS_SSL_IN_CONTENT_LEN must stay 16384) and 4 KiB output records. Nothing to change.

