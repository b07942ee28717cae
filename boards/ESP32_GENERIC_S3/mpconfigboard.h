// Generic ESP32S3 module with tailnet (upstream ESP32_GENERIC_S3 settings).
#define MICROPY_HW_BOARD_NAME               "Generic ESP32S3 module (tailnet)"
#define MICROPY_HW_MCU_NAME                 "ESP32S3"
#define MICROPY_HW_ENABLE_UART_REPL         (1)
#define MICROPY_HW_I2C0_SCL                 (9)
#define MICROPY_HW_I2C0_SDA                 (8)
// MicroPython task stack: tailnet's deepest C path (X25519 + Noise handshake from Python) needs
// < 4 KiB of C stack; the port default of 16 KiB is kept, stated here so HIL can tune it.
#define MICROPY_TASK_STACK_SIZE             (16 * 1024)
