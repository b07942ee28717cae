// tailnet crypto core: the primitives Tailscale needs, in plain portable C99.
// No MicroPython headers, no heap, no global mutable state. Every function
// works on caller buffers; "out may equal in" is stated where in-place use is
// allowed (the per-packet paths). Secrets held on the stack are wiped before
// return with tn_wipe().
#ifndef TN_CRYPTO_H
#define TN_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define TN_KEY_LEN 32
#define TN_TAG_LEN 16
#define TN_AEAD_NONCE_LEN 12
#define TN_XNONCE_LEN 24
#define TN_BLAKE2S_OUT_MAX 32
#define TN_BLAKE2S_KEY_MAX 32
#define TN_BLAKE2S_BLOCK 64

// ---- utilities -------------------------------------------------------------
// Constant-time equality: returns 1 when a[0..n) == b[0..n), else 0.
int tn_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);
// Constant-time "all bytes zero": returns 1 when p[0..n) is all zero.
int tn_ct_is_zero(const uint8_t *p, size_t n);
// Wipe memory in a way the compiler cannot elide.
void tn_wipe(void *p, size_t n);

// ---- X25519 (RFC 7748) -----------------------------------------------------
// out = X25519(scalar, point); the scalar is clamped internally.
// Returns 0, or -1 when the result is all-zero (low-order point); out is
// written in both cases (callers that must reject it check the result).
int tn_x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]);
// out = X25519(scalar, 9): the public key of a private key.
void tn_x25519_base(uint8_t out[32], const uint8_t scalar[32]);

// ---- ChaCha20-Poly1305 IETF (RFC 8439) --------------------------------------
// out receives len bytes of ciphertext followed by the 16-byte tag.
// out may equal pt (in place).
void tn_aead_seal(uint8_t *out, const uint8_t key[32], const uint8_t nonce[12],
    const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t len);
// ct is ctlen bytes including the trailing tag (ctlen >= 16). On success
// writes ctlen-16 plaintext bytes to out and returns 0; on a bad tag returns
// -1 and writes nothing. out may equal ct.
int tn_aead_open(uint8_t *out, const uint8_t key[32], const uint8_t nonce[12],
    const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t ctlen);

// ---- XChaCha20-Poly1305 (WireGuard cookie reply) ----------------------------
void tn_xaead_seal(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24],
    const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t len);
int tn_xaead_open(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24],
    const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t ctlen);

// ---- NaCl secretbox / box (XSalsa20-Poly1305) --------------------------------
// Layout is libsodium's *_easy / Go's box.Seal: out = tag(16) || ciphertext.
// out holds 16+len bytes; out+16 may equal m (in place).
void tn_secretbox_seal(uint8_t *out, const uint8_t *m, size_t len,
    const uint8_t nonce[24], const uint8_t key[32]);
// c is tag||ciphertext, clen >= 16; writes clen-16 bytes to out; returns 0 or
// -1 (nothing written). out may equal c+16.
int tn_secretbox_open(uint8_t *out, const uint8_t *c, size_t clen,
    const uint8_t nonce[24], const uint8_t key[32]);
// k = HSalsa20(X25519(sk, pk), 0): the precomputed box key (crypto_box_beforenm).
// Returns -1 (k still written) when the shared point is all-zero.
int tn_box_beforenm(uint8_t k[32], const uint8_t pk[32], const uint8_t sk[32]);
// HSalsa20 core (for tests and beforenm).
void tn_hsalsa20(uint8_t out[32], const uint8_t in[16], const uint8_t key[32]);

// ---- BLAKE2s (RFC 7693), HMAC-BLAKE2s, Noise/WireGuard HKDF -----------------
typedef struct {
    uint32_t h[8];
    uint32_t t[2];
    uint8_t buf[TN_BLAKE2S_BLOCK];
    uint8_t buflen;
    uint8_t outlen;
} tn_blake2s_ctx;

// Returns -1 for outlen not in 1..32 or keylen > 32.
int tn_blake2s_init(tn_blake2s_ctx *ctx, size_t outlen, const uint8_t *key, size_t keylen);
void tn_blake2s_update(tn_blake2s_ctx *ctx, const uint8_t *in, size_t len);
// Writes ctx->outlen bytes and wipes the context.
void tn_blake2s_final(tn_blake2s_ctx *ctx, uint8_t *out);
int tn_blake2s(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
    const uint8_t *in, size_t len);
// HMAC (RFC 2104) over BLAKE2s-256, 64-byte block. Not keyed BLAKE2s.
void tn_hmac_blake2s(uint8_t out[32], const uint8_t *key, size_t keylen,
    const uint8_t *in, size_t len);
// Noise HKDF: t0 = HMAC(ck, ikm); out1 = HMAC(t0, 0x01);
// out2 = HMAC(t0, out1 || 0x02); out3 = HMAC(t0, out2 || 0x03).
// NULL outputs are not written (later ones are still computed correctly).
void tn_hkdf(uint8_t out1[32], uint8_t out2[32], uint8_t out3[32],
    const uint8_t ck[32], const uint8_t *ikm, size_t ikmlen);

#endif
