// ESP32C3 module with tailnet (upstream ESP32_GENERIC_C3 settings).
#define MICROPY_HW_BOARD_NAME               "ESP32C3 module (tailnet)"
#define MICROPY_HW_MCU_NAME                 "ESP32C3"
#define MICROPY_HW_ENABLE_UART_REPL         (1)
// MicroPython task stack: tailnet's deepest C path (X25519 + Noise handshake from Python) needs
// < 4 KiB of C stack; the port default of 16 KiB is kept, stated here so HIL can tune it.
#define MICROPY_TASK_STACK_SIZE             (16 * 1024)
