// HSalsa20, XSalsa20 and NaCl secretbox / box (XSalsa20-Poly1305), laid out
// as libsodium's *_easy and Go's nacl/box: tag(16) || ciphertext.
#include "tn_crypto.h"
#include "tn_internal.h"

static void salsa_rounds(uint32_t x[16]) {
    for (int i = 0; i < 10; i++) {
        x[4] ^= tn_rotl32(x[0] + x[12], 7);
        x[8] ^= tn_rotl32(x[4] + x[0], 9);
        x[12] ^= tn_rotl32(x[8] + x[4], 13);
        x[0] ^= tn_rotl32(x[12] + x[8], 18);
        x[9] ^= tn_rotl32(x[5] + x[1], 7);
        x[13] ^= tn_rotl32(x[9] + x[5], 9);
        x[1] ^= tn_rotl32(x[13] + x[9], 13);
        x[5] ^= tn_rotl32(x[1] + x[13], 18);
        x[14] ^= tn_rotl32(x[10] + x[6], 7);
        x[2] ^= tn_rotl32(x[14] + x[10], 9);
        x[6] ^= tn_rotl32(x[2] + x[14], 13);
        x[10] ^= tn_rotl32(x[6] + x[2], 18);
        x[3] ^= tn_rotl32(x[15] + x[11], 7);
        x[7] ^= tn_rotl32(x[3] + x[15], 9);
        x[11] ^= tn_rotl32(x[7] + x[3], 13);
        x[15] ^= tn_rotl32(x[11] + x[7], 18);
        x[1] ^= tn_rotl32(x[0] + x[3], 7);
        x[2] ^= tn_rotl32(x[1] + x[0], 9);
        x[3] ^= tn_rotl32(x[2] + x[1], 13);
        x[0] ^= tn_rotl32(x[3] + x[2], 18);
        x[6] ^= tn_rotl32(x[5] + x[4], 7);
        x[7] ^= tn_rotl32(x[6] + x[5], 9);
        x[4] ^= tn_rotl32(x[7] + x[6], 13);
        x[5] ^= tn_rotl32(x[4] + x[7], 18);
        x[11] ^= tn_rotl32(x[10] + x[9], 7);
        x[8] ^= tn_rotl32(x[11] + x[10], 9);
        x[9] ^= tn_rotl32(x[8] + x[11], 13);
        x[10] ^= tn_rotl32(x[9] + x[8], 18);
        x[12] ^= tn_rotl32(x[15] + x[14], 7);
        x[13] ^= tn_rotl32(x[12] + x[15], 9);
        x[14] ^= tn_rotl32(x[13] + x[12], 13);
        x[15] ^= tn_rotl32(x[14] + x[13], 18);
    }
}

static void salsa_init(uint32_t x[16], const uint8_t key[32], const uint8_t in[16]) {
    x[0] = 0x61707865; x[5] = 0x3320646e; x[10] = 0x79622d32; x[15] = 0x6b206574;
    for (int i = 0; i < 4; i++) {
        x[1 + i] = tn_load32_le(key + 4 * i);
        x[11 + i] = tn_load32_le(key + 16 + 4 * i);
        x[6 + i] = tn_load32_le(in + 4 * i);
    }
}

void tn_hsalsa20(uint8_t out[32], const uint8_t in[16], const uint8_t key[32]) {
    uint32_t x[16];
    salsa_init(x, key, in);
    salsa_rounds(x);
    static const uint8_t idx[8] = {0, 5, 10, 15, 6, 7, 8, 9}; // public indices
    for (int i = 0; i < 8; i++) {
        tn_store32_le(out + 4 * i, x[idx[i]]);
    }
    tn_wipe(x, sizeof(x)); // wipe: permuted state reveals the key
}

// State for XSalsa20: Salsa20 keyed with HSalsa20(key, nonce[0..16]) and
// nonce[16..24], block counter 0.
static void xsalsa_setup(uint32_t s[16], const uint8_t nonce[24], const uint8_t key[32]) {
    uint8_t sub[32], in16[16];
    tn_hsalsa20(sub, nonce, key);
    memcpy(in16, nonce + 16, 8);
    memset(in16 + 8, 0, 8); // block counter 0
    salsa_init(s, sub, in16);
    tn_wipe(sub, sizeof(sub)); // wipe: subkey now lives only in s
}

// XOR len bytes with the keystream starting `skip` bytes into block 0
// (skip < 64). When first32 is not NULL, the first 32 bytes of block 0 (the
// NaCl Poly1305 key) are copied there; block 0 is generated even for len 0.
static void xsalsa_xor(uint32_t s[16], uint8_t *out, const uint8_t *in, size_t len, size_t skip,
    uint8_t *first32) {
    uint32_t x[16];
    uint64_t ctr = 0;
    int first = 1;
    while (len > 0 || first) {
        for (int i = 0; i < 16; i++) {
            x[i] = s[i];
        }
        salsa_rounds(x);
        for (int i = 0; i < 16; i++) {
            x[i] += s[i];
        }
        if (first && first32) {
            for (int i = 0; i < 8; i++) {
                tn_store32_le(first32 + 4 * i, x[i]);
            }
        }
        first = 0;
        size_t n = 64 - skip;
        if (n > len) {
            n = len;
        }
        if (n == 64) {
            // Whole aligned block: word-wise XOR through explicit LE loads/stores.
            for (int i = 0; i < 16; i++) {
                tn_store32_le(out + 4 * i, tn_load32_le(in + 4 * i) ^ x[i]);
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                size_t j = i + skip;
                out[i] = in[i] ^ (uint8_t)(x[j >> 2] >> (8 * (j & 3)));
            }
        }
        skip = 0;
        in += n;
        out += n;
        len -= n;
        ctr++;
        s[8] = (uint32_t)ctr;
        s[9] = (uint32_t)(ctr >> 32);
    }
    tn_wipe(x, sizeof(x)); // wipe: keystream
}

void tn_xsalsa20_xor(uint8_t *out, const uint8_t *in, size_t len,
    const uint8_t nonce[24], const uint8_t key[32], size_t skip) {
    uint32_t s[16];
    xsalsa_setup(s, nonce, key);
    xsalsa_xor(s, out, in, len, skip, NULL);
    tn_wipe(s, sizeof(s)); // wipe: subkey words
}

void tn_secretbox_seal(uint8_t *out, const uint8_t *m, size_t len,
    const uint8_t nonce[24], const uint8_t key[32]) {
    uint32_t s[16];
    uint8_t otk[32];
    // One pass: block 0 gives the Poly1305 key (bytes 0..31) and the first
    // 32 bytes of message keystream (bytes 32..63).
    xsalsa_setup(s, nonce, key);
    xsalsa_xor(s, out + 16, m, len, 32, otk);
    tn_poly1305(out, out + 16, len, otk);
    tn_wipe(s, sizeof(s)); // wipe: subkey words
    tn_wipe(otk, sizeof(otk)); // wipe: one-time MAC key
}

int tn_secretbox_open(uint8_t *out, const uint8_t *c, size_t clen,
    const uint8_t nonce[24], const uint8_t key[32]) {
    if (clen < 16) {
        return -1; // public length check
    }
    uint32_t s[16];
    uint8_t otk[32];
    xsalsa_setup(s, nonce, key);
    xsalsa_xor(s, otk, otk, 0, 0, otk); // block 0 only: the MAC key
    int ok = tn_poly1305_verify(c, c + 16, clen - 16, otk); // constant-time compare inside
    tn_wipe(otk, sizeof(otk)); // wipe: one-time MAC key
    if (ok) {
        s[8] = s[9] = 0; // restart at block 0 for the message
        xsalsa_xor(s, out, c + 16, clen - 16, 32, NULL);
    }
    tn_wipe(s, sizeof(s)); // wipe: subkey words
    return ok ? 0 : -1; // nothing written on a bad tag
}

int tn_box_beforenm(uint8_t k[32], const uint8_t pk[32], const uint8_t sk[32]) {
    uint8_t s[32];
    static const uint8_t z16[16];
    int r = tn_x25519(s, sk, pk);
    tn_hsalsa20(k, z16, s);
    tn_wipe(s, sizeof(s)); // wipe: raw shared secret
    return r;
}
