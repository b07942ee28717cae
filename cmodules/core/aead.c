// ChaCha20-Poly1305 IETF AEAD (RFC 8439 §2.8) and XChaCha20-Poly1305.
#include "tn_crypto.h"
#include "tn_internal.h"

static const uint8_t zeros16[16];

static void aead_mac(uint8_t tag[16], const uint8_t otk[32], const uint8_t *ad, size_t adlen,
    const uint8_t *ct, size_t len) {
    tn_poly1305_ctx p;
    uint8_t lens[16];
    tn_poly1305_init(&p, otk);
    tn_poly1305_update(&p, ad, adlen);
    tn_poly1305_update(&p, zeros16, (16 - (adlen & 15)) & 15);
    tn_poly1305_update(&p, ct, len);
    tn_poly1305_update(&p, zeros16, (16 - (len & 15)) & 15);
    tn_store64_le(lens, (uint64_t)adlen);
    tn_store64_le(lens + 8, (uint64_t)len);
    tn_poly1305_update(&p, lens, 16);
    tn_poly1305_final(&p, tag); // wipes p
}

// One-time Poly1305 key: first 32 bytes of ChaCha20 block 0.
static void aead_otk(uint8_t otk[32], const uint8_t key[32], const uint8_t nonce[12]) {
    uint8_t block[64];
    tn_chacha20_block(block, key, nonce, 0);
    memcpy(otk, block, 32);
    tn_wipe(block, sizeof(block)); // wipe: keystream
}

void tn_aead_seal(uint8_t *out, const uint8_t key[32], const uint8_t nonce[12],
    const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t len) {
    uint8_t otk[32];
    aead_otk(otk, key, nonce);
    tn_chacha20_xor(out, pt, len, key, nonce, 1);
    aead_mac(out + len, otk, ad, adlen, out, len);
    tn_wipe(otk, sizeof(otk)); // wipe: one-time MAC key
}

int tn_aead_open(uint8_t *out, const uint8_t key[32], const uint8_t nonce[12],
    const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t ctlen) {
    if (ctlen < 16) {
        return -1; // public length check
    }
    size_t len = ctlen - 16;
    uint8_t otk[32], tag[16];
    aead_otk(otk, key, nonce);
    aead_mac(tag, otk, ad, adlen, ct, len);
    tn_wipe(otk, sizeof(otk)); // wipe: one-time MAC key
    // constant time: every tag byte is compared whatever the mismatch.
    int ok = tn_ct_equal(tag, ct + len, 16);
    tn_wipe(tag, sizeof(tag)); // wipe: the valid tag for this message
    TN_DECLASSIFY(&ok, sizeof(ok)); // accept/reject is public
    if (!ok) {
        return -1; // nothing written to out
    }
    tn_chacha20_xor(out, ct, len, key, nonce, 1);
    return 0;
}

static void xsubkey(uint8_t sub[32], uint8_t n12[12], const uint8_t key[32], const uint8_t nonce[24]) {
    tn_hchacha20(sub, key, nonce);
    memset(n12, 0, 4);
    memcpy(n12 + 4, nonce + 16, 8);
}

void tn_xaead_seal(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24],
    const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t len) {
    uint8_t sub[32], n12[12];
    xsubkey(sub, n12, key, nonce);
    tn_aead_seal(out, sub, n12, ad, adlen, pt, len);
    tn_wipe(sub, sizeof(sub)); // wipe: derived key
}

int tn_xaead_open(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24],
    const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t ctlen) {
    uint8_t sub[32], n12[12];
    xsubkey(sub, n12, key, nonce);
    int r = tn_aead_open(out, sub, n12, ad, adlen, ct, ctlen);
    tn_wipe(sub, sizeof(sub)); // wipe: derived key
    return r;
}
