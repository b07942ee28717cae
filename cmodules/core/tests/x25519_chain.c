// Prints a BLAKE2s digest over N X25519 results on pseudo-random scalars and
// points (xorshift; points include non-canonical values >= p and bit 255 set).
// Built once per field representation (5x51 and 16x16); the Makefile checks
// that both print the same digest.
#include <stdio.h>
#include <stdlib.h>
#include "tn_crypto.h"

static uint64_t s = 0x9E3779B97F4A7C15ull;
static uint8_t rnd8(void) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    return (uint8_t)(s >> 29);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3000;
    uint8_t k[32], u[32], o[32], d[32];
    tn_blake2s_ctx h;
    tn_blake2s_init(&h, 32, NULL, 0);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < 32; j++) { k[j] = rnd8(); u[j] = rnd8(); }
        if (i % 7 == 0) { for (int j = 1; j < 32; j++) u[j] = 0xff; }           // near 2^256-1
        if (i % 11 == 0) { u[0] = (uint8_t)(0xed + (i % 18)); for (int j = 1; j < 31; j++) u[j] = 0xff; u[31] = 0x7f; } // around p
        tn_x25519(o, k, u);
        tn_blake2s_update(&h, o, 32);
    }
    tn_blake2s_final(&h, d);
    for (int j = 0; j < 32; j++) printf("%02x", d[j]);
    printf("\n");
    return 0;
}
