// Raspberry Pi Pico with tailnet (upstream RPI_PICO settings).
#define MICROPY_HW_BOARD_NAME                   "Raspberry Pi Pico (tailnet)"
// 2 MiB flash: firmware + frozen tailnet take more room than stock, so the filesystem shrinks
// from upstream's 1408 KiB (the build fails at link time if the image does not fit).
#define MICROPY_HW_FLASH_STORAGE_BYTES          (1280 * 1024)
