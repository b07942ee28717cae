// ChaCha20 (RFC 8439 §2.3-2.4) and HChaCha20. No table lookups, no
// data-dependent branches: constant time by construction.
#include "tn_crypto.h"
#include "tn_internal.h"

#define QR(a, b, c, d) \
    a += b; d ^= a; d = tn_rotl32(d, 16); \
    c += d; b ^= c; b = tn_rotl32(b, 12); \
    a += b; d ^= a; d = tn_rotl32(d, 8); \
    c += d; b ^= c; b = tn_rotl32(b, 7)

static void chacha_rounds(uint32_t x[16]) {
    uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
    uint32_t x4 = x[4], x5 = x[5], x6 = x[6], x7 = x[7];
    uint32_t x8 = x[8], x9 = x[9], x10 = x[10], x11 = x[11];
    uint32_t x12 = x[12], x13 = x[13], x14 = x[14], x15 = x[15];
    for (int i = 0; i < 10; i++) {
        QR(x0, x4, x8, x12);
        QR(x1, x5, x9, x13);
        QR(x2, x6, x10, x14);
        QR(x3, x7, x11, x15);
        QR(x0, x5, x10, x15);
        QR(x1, x6, x11, x12);
        QR(x2, x7, x8, x13);
        QR(x3, x4, x9, x14);
    }
    x[0] = x0; x[1] = x1; x[2] = x2; x[3] = x3;
    x[4] = x4; x[5] = x5; x[6] = x6; x[7] = x7;
    x[8] = x8; x[9] = x9; x[10] = x10; x[11] = x11;
    x[12] = x12; x[13] = x13; x[14] = x14; x[15] = x15;
}

static void chacha_init(uint32_t s[16], const uint8_t key[32], const uint8_t nonce[12], uint32_t counter) {
    s[0] = 0x61707865; s[1] = 0x3320646e; s[2] = 0x79622d32; s[3] = 0x6b206574;
    for (int i = 0; i < 8; i++) {
        s[4 + i] = tn_load32_le(key + 4 * i);
    }
    s[12] = counter;
    s[13] = tn_load32_le(nonce);
    s[14] = tn_load32_le(nonce + 4);
    s[15] = tn_load32_le(nonce + 8);
}

static void chacha_block_words(uint32_t out[16], const uint32_t s[16]) {
    for (int i = 0; i < 16; i++) {
        out[i] = s[i];
    }
    chacha_rounds(out);
    for (int i = 0; i < 16; i++) {
        out[i] += s[i];
    }
}

void tn_chacha20_block(uint8_t out[64], const uint8_t key[32], const uint8_t nonce[12], uint32_t counter) {
    uint32_t s[16], x[16];
    chacha_init(s, key, nonce, counter);
    chacha_block_words(x, s);
    for (int i = 0; i < 16; i++) {
        tn_store32_le(out + 4 * i, x[i]);
    }
    // wipe: the key schedule and keystream words are secret.
    tn_wipe(s, sizeof(s));
    tn_wipe(x, sizeof(x));
}

void tn_chacha20_xor(uint8_t *out, const uint8_t *in, size_t len,
    const uint8_t key[32], const uint8_t nonce[12], uint32_t counter) {
    uint32_t s[16], x[16];
    chacha_init(s, key, nonce, counter);
    while (len > 0) {
        chacha_block_words(x, s);
        s[12]++;
        size_t n = len < 64 ? len : 64;
        if (n == 64) {
            // Whole block: word-wise XOR through explicit LE loads/stores.
            for (int i = 0; i < 16; i++) {
                tn_store32_le(out + 4 * i, tn_load32_le(in + 4 * i) ^ x[i]);
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                out[i] = in[i] ^ (uint8_t)(x[i >> 2] >> (8 * (i & 3)));
            }
        }
        in += n;
        out += n;
        len -= n;
    }
    // wipe: key words in the state and the last keystream block.
    tn_wipe(s, sizeof(s));
    tn_wipe(x, sizeof(x));
}

void tn_hchacha20(uint8_t out[32], const uint8_t key[32], const uint8_t in[16]) {
    uint32_t x[16];
    x[0] = 0x61707865; x[1] = 0x3320646e; x[2] = 0x79622d32; x[3] = 0x6b206574;
    for (int i = 0; i < 8; i++) {
        x[4 + i] = tn_load32_le(key + 4 * i);
    }
    for (int i = 0; i < 4; i++) {
        x[12 + i] = tn_load32_le(in + 4 * i);
    }
    chacha_rounds(x);
    for (int i = 0; i < 4; i++) {
        tn_store32_le(out + 4 * i, x[i]);
        tn_store32_le(out + 16 + 4 * i, x[12 + i]);
    }
    // wipe: the permuted state reveals the key.
    tn_wipe(x, sizeof(x));
}
