// Constant-time helpers and secret wiping.
#include "tn_crypto.h"
#include "tn_internal.h"

// Constant time: the loop always runs n iterations and accumulates the XOR
// of every byte; the only branch-free reduction to 0/1 is arithmetic.
int tn_ct_equal(const uint8_t *a, const uint8_t *b, size_t n) {
    uint32_t d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= (uint32_t)(a[i] ^ b[i]);
    }
    // d in 0..255: (d - 1) >> 8 has bit 0 set exactly when d == 0.
    return (int)(1u & ((d - 1u) >> 8));
}

// Constant time, same technique as tn_ct_equal.
int tn_ct_is_zero(const uint8_t *p, size_t n) {
    uint32_t d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= p[i];
    }
    return (int)(1u & ((d - 1u) >> 8));
}

// Wipe: the stores go through a volatile pointer, so the compiler must emit
// them even though the memory is dead afterwards (dead-store elimination
// cannot remove volatile accesses).
void tn_wipe(void *p, size_t n) {
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n--) {
        *v++ = 0;
    }
}
