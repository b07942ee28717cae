// BLAKE2s (RFC 7693), HMAC-BLAKE2s (RFC 2104) and the Noise/WireGuard HKDF.
// The sigma table is indexed by the round number only (public), never by data.
#include "tn_crypto.h"
#include "tn_internal.h"

static const uint32_t blake2s_iv[8] = {
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
    0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
};

static const uint8_t blake2s_sigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

#define G(a, b, c, d, x, y) \
    a = a + b + x; d = tn_rotr32(d ^ a, 16); \
    c = c + d; b = tn_rotr32(b ^ c, 12); \
    a = a + b + y; d = tn_rotr32(d ^ a, 8); \
    c = c + d; b = tn_rotr32(b ^ c, 7)

static void blake2s_compress(tn_blake2s_ctx *ctx, const uint8_t *block, uint32_t last) {
    uint32_t m[16], v[16];
    for (int i = 0; i < 16; i++) {
        m[i] = tn_load32_le(block + 4 * i);
    }
    for (int i = 0; i < 8; i++) {
        v[i] = ctx->h[i];
        v[i + 8] = blake2s_iv[i];
    }
    v[12] ^= ctx->t[0];
    v[13] ^= ctx->t[1];
    v[14] ^= (uint32_t)0 - last; // all ones for the final block
    for (int r = 0; r < 10; r++) {
        const uint8_t *s = blake2s_sigma[r];
        G(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]]);
        G(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]]);
        G(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]]);
        G(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]]);
        G(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]]);
        G(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]]);
        G(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]]);
        G(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) {
        ctx->h[i] ^= v[i] ^ v[i + 8];
    }
    // wipe: message words may be key material (keyed hash, HMAC pads).
    tn_wipe(m, sizeof(m));
    tn_wipe(v, sizeof(v));
}

int tn_blake2s_init(tn_blake2s_ctx *ctx, size_t outlen, const uint8_t *key, size_t keylen) {
    if (outlen < 1 || outlen > 32 || keylen > 32) {
        return -1;
    }
    for (int i = 0; i < 8; i++) {
        ctx->h[i] = blake2s_iv[i];
    }
    ctx->h[0] ^= 0x01010000u ^ ((uint32_t)keylen << 8) ^ (uint32_t)outlen;
    ctx->t[0] = 0;
    ctx->t[1] = 0;
    ctx->buflen = 0;
    ctx->outlen = (uint8_t)outlen;
    memset(ctx->buf, 0, sizeof(ctx->buf));
    if (keylen > 0) {
        memcpy(ctx->buf, key, keylen);
        ctx->buflen = TN_BLAKE2S_BLOCK; // the padded key block, compressed lazily
    }
    return 0;
}

static void incr_t(tn_blake2s_ctx *ctx, uint32_t n) {
    ctx->t[0] += n;
    ctx->t[1] += (ctx->t[0] < n); // counter carry: public (message length)
}

void tn_blake2s_update(tn_blake2s_ctx *ctx, const uint8_t *in, size_t len) {
    while (len > 0) {
        // Keep the last block buffered: it must be compressed with the final flag.
        if (ctx->buflen == TN_BLAKE2S_BLOCK) {
            incr_t(ctx, TN_BLAKE2S_BLOCK);
            blake2s_compress(ctx, ctx->buf, 0);
            ctx->buflen = 0;
        }
        if (ctx->buflen == 0) {
            while (len > TN_BLAKE2S_BLOCK) {
                incr_t(ctx, TN_BLAKE2S_BLOCK);
                blake2s_compress(ctx, in, 0);
                in += TN_BLAKE2S_BLOCK;
                len -= TN_BLAKE2S_BLOCK;
            }
        }
        size_t n = TN_BLAKE2S_BLOCK - ctx->buflen;
        if (n > len) {
            n = len;
        }
        memcpy(ctx->buf + ctx->buflen, in, n);
        ctx->buflen = (uint8_t)(ctx->buflen + n);
        in += n;
        len -= n;
    }
}

void tn_blake2s_final(tn_blake2s_ctx *ctx, uint8_t *out) {
    uint8_t full[32];
    incr_t(ctx, ctx->buflen);
    memset(ctx->buf + ctx->buflen, 0, TN_BLAKE2S_BLOCK - ctx->buflen);
    blake2s_compress(ctx, ctx->buf, 1);
    for (int i = 0; i < 8; i++) {
        tn_store32_le(full + 4 * i, ctx->h[i]);
    }
    memcpy(out, full, ctx->outlen);
    tn_wipe(full, sizeof(full)); // wipe: untruncated hash state
    tn_wipe(ctx, sizeof(*ctx)); // wipe: chaining value and (key) buffer
}

int tn_blake2s(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
    const uint8_t *in, size_t len) {
    tn_blake2s_ctx ctx;
    if (tn_blake2s_init(&ctx, outlen, key, keylen) != 0) {
        return -1;
    }
    tn_blake2s_update(&ctx, in, len);
    tn_blake2s_final(&ctx, out); // wipes ctx
    return 0;
}

// HMAC-BLAKE2s over two input pieces (in1 || in2), used by the HKDF chain.
static void hmac2(uint8_t out[32], const uint8_t *key, size_t keylen,
    const uint8_t *in1, size_t len1, const uint8_t *in2, size_t len2) {
    uint8_t k[TN_BLAKE2S_BLOCK], pad[TN_BLAKE2S_BLOCK], ih[32];
    tn_blake2s_ctx ctx;
    memset(k, 0, sizeof(k));
    if (keylen > TN_BLAKE2S_BLOCK) {
        tn_blake2s(k, 32, NULL, 0, key, keylen);
    } else if (keylen > 0) {
        memcpy(k, key, keylen);
    }
    for (int i = 0; i < TN_BLAKE2S_BLOCK; i++) {
        pad[i] = k[i] ^ 0x36;
    }
    tn_blake2s_init(&ctx, 32, NULL, 0);
    tn_blake2s_update(&ctx, pad, sizeof(pad));
    tn_blake2s_update(&ctx, in1, len1);
    tn_blake2s_update(&ctx, in2, len2);
    tn_blake2s_final(&ctx, ih);
    for (int i = 0; i < TN_BLAKE2S_BLOCK; i++) {
        pad[i] = k[i] ^ 0x5c;
    }
    tn_blake2s_init(&ctx, 32, NULL, 0);
    tn_blake2s_update(&ctx, pad, sizeof(pad));
    tn_blake2s_update(&ctx, ih, 32);
    tn_blake2s_final(&ctx, out);
    // wipe: key block, padded keys and the inner hash.
    tn_wipe(k, sizeof(k));
    tn_wipe(pad, sizeof(pad));
    tn_wipe(ih, sizeof(ih));
}

void tn_hmac_blake2s(uint8_t out[32], const uint8_t *key, size_t keylen,
    const uint8_t *in, size_t len) {
    hmac2(out, key, keylen, in, len, NULL, 0);
}

void tn_hkdf(uint8_t out1[32], uint8_t out2[32], uint8_t out3[32],
    const uint8_t ck[32], const uint8_t *ikm, size_t ikmlen) {
    uint8_t t0[32], t[32];
    uint8_t b = 1;
    hmac2(t0, ck, 32, ikm, ikmlen, NULL, 0);
    hmac2(t, t0, 32, &b, 1, NULL, 0);
    if (out1) {
        memcpy(out1, t, 32);
    }
    if (out2 || out3) {
        b = 2;
        hmac2(t, t0, 32, t, 32, &b, 1);
        if (out2) {
            memcpy(out2, t, 32);
        }
        if (out3) {
            b = 3;
            hmac2(t, t0, 32, t, 32, &b, 1);
            memcpy(out3, t, 32);
        }
    }
    // wipe: the PRK and the last output block.
    tn_wipe(t0, sizeof(t0));
    tn_wipe(t, sizeof(t));
}
