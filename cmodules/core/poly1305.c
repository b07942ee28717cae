// Poly1305 (RFC 8439 §2.5) with five 26-bit limbs (poly1305-donna-32 layout):
// 25 32x32->64 products per 16-byte block and no data-dependent branches.
#include "tn_crypto.h"
#include "tn_internal.h"

#if defined(__ARM_ARCH_6M__) || defined(TN_POLY_SPLIT16)
#define TN_POLY_SPLIT16_ACTIVE 1
#endif

void tn_poly1305_init(tn_poly1305_ctx *st, const uint8_t key[32]) {
    // r &= 0xffffffc0ffffffc0ffffffc0fffffff, split into 26-bit limbs.
    st->r[0] = (tn_load32_le(key + 0)) & 0x3ffffff;
    st->r[1] = (tn_load32_le(key + 3) >> 2) & 0x3ffff03;
    st->r[2] = (tn_load32_le(key + 6) >> 4) & 0x3ffc0ff;
    st->r[3] = (tn_load32_le(key + 9) >> 6) & 0x3f03fff;
    st->r[4] = (tn_load32_le(key + 12) >> 8) & 0x00fffff;
    for (int i = 0; i < 5; i++) {
        st->h[i] = 0;
    }
    for (int i = 0; i < 4; i++) {
        st->pad[i] = tn_load32_le(key + 16 + 4 * i);
    }
    st->buflen = 0;
}

// hibit is 1<<24 for full blocks (the appended 0x01 byte at 2^128), 0 for the
// final padded partial block (whose 0x01 is written into the buffer).
#ifndef TN_POLY_SPLIT16_ACTIVE
// 25 32x32->64 products per block (donna-32).
static void poly_blocks(tn_poly1305_ctx *st, const uint8_t *m, size_t len, uint32_t hibit) {
    const uint32_t r0 = st->r[0], r1 = st->r[1], r2 = st->r[2], r3 = st->r[3], r4 = st->r[4];
    const uint32_t s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
    uint32_t h0 = st->h[0], h1 = st->h[1], h2 = st->h[2], h3 = st->h[3], h4 = st->h[4];
    while (len >= 16) {
        h0 += (tn_load32_le(m + 0)) & 0x3ffffff;
        h1 += (tn_load32_le(m + 3) >> 2) & 0x3ffffff;
        h2 += (tn_load32_le(m + 6) >> 4) & 0x3ffffff;
        h3 += (tn_load32_le(m + 9) >> 6) & 0x3ffffff;
        h4 += (tn_load32_le(m + 12) >> 8) | hibit;

        uint64_t d0 = (uint64_t)h0 * r0 + (uint64_t)h1 * s4 + (uint64_t)h2 * s3 + (uint64_t)h3 * s2 + (uint64_t)h4 * s1;
        uint64_t d1 = (uint64_t)h0 * r1 + (uint64_t)h1 * r0 + (uint64_t)h2 * s4 + (uint64_t)h3 * s3 + (uint64_t)h4 * s2;
        uint64_t d2 = (uint64_t)h0 * r2 + (uint64_t)h1 * r1 + (uint64_t)h2 * r0 + (uint64_t)h3 * s4 + (uint64_t)h4 * s3;
        uint64_t d3 = (uint64_t)h0 * r3 + (uint64_t)h1 * r2 + (uint64_t)h2 * r1 + (uint64_t)h3 * r0 + (uint64_t)h4 * s4;
        uint64_t d4 = (uint64_t)h0 * r4 + (uint64_t)h1 * r3 + (uint64_t)h2 * r2 + (uint64_t)h3 * r1 + (uint64_t)h4 * r0;

        uint32_t c;
        c = (uint32_t)(d0 >> 26); h0 = (uint32_t)d0 & 0x3ffffff;
        d1 += c; c = (uint32_t)(d1 >> 26); h1 = (uint32_t)d1 & 0x3ffffff;
        d2 += c; c = (uint32_t)(d2 >> 26); h2 = (uint32_t)d2 & 0x3ffffff;
        d3 += c; c = (uint32_t)(d3 >> 26); h3 = (uint32_t)d3 & 0x3ffffff;
        d4 += c; c = (uint32_t)(d4 >> 26); h4 = (uint32_t)d4 & 0x3ffffff;
        h0 += c * 5; c = h0 >> 26; h0 &= 0x3ffffff;
        h1 += c;
        m += 16;
        len -= 16;
    }
    st->h[0] = h0; st->h[1] = h1; st->h[2] = h2; st->h[3] = h3; st->h[4] = h4;
}
#else
// ARMv6-M (Cortex-M0/M0+) has no 32x32->64 multiply; GCC would call the
// generic __aeabi_lmul and spill 64-bit sums. Same 26-bit limbs, but every
// product h*R is built from 16-bit halves with 32-bit MULS only:
//   h*R = hh*Rh*2^32 + (hh*Rl + hl*Rh)*2^16 + hl*Rl
// accumulated per column in A (hl*Rl, exact via the lo/hi trick), B and C,
// which the bounds below keep within 32 bits. Constant time: no branches.
// Bounds: h_j < 2^27 (hh < 2^11), R < 5*2^26 < 2^29 (Rh < 2^13):
//   B < 5*(2^27 + 2^29) < 2^32, C < 5*2^24, column sum < 2^57.
typedef struct { uint32_t a_lo, a_hi, b, c; } col_acc;

#define PACC(acc, hl, hh, R) do { uint32_t rl_ = (R) & 0xffff, rh_ = (R) >> 16; \
    uint32_t p_ = (hl) * rl_; acc.a_lo += p_; acc.a_hi += p_ >> 16; \
    acc.b += (hh) * rl_ + (hl) * rh_; acc.c += (hh) * rh_; } while (0)

// Column value D = acc + cin (cin < 2^31): h_k = D mod 2^26, returns D >> 26.
static inline uint32_t col_out(const col_acc *acc, uint32_t cin, uint32_t *hk) {
    uint32_t a_hi = acc->a_hi + (((acc->a_lo >> 16) - acc->a_hi) & 0xffff); // exact A >> 16
    uint32_t l = (acc->a_lo & 0xffff) + (cin & 0xffff);
    uint32_t mid = a_hi + acc->b + (cin >> 16) + (l >> 16); // D = C*2^32 + mid*2^16 + (l & 0xffff)
    *hk = ((mid & 0x3ff) << 16) | (l & 0xffff);
    return (acc->c << 6) + (mid >> 10);
}

static void poly_blocks(tn_poly1305_ctx *st, const uint8_t *m, size_t len, uint32_t hibit) {
    const uint32_t r0 = st->r[0], r1 = st->r[1], r2 = st->r[2], r3 = st->r[3], r4 = st->r[4];
    const uint32_t s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
    uint32_t h0 = st->h[0], h1 = st->h[1], h2 = st->h[2], h3 = st->h[3], h4 = st->h[4];
    while (len >= 16) {
        h0 += (tn_load32_le(m + 0)) & 0x3ffffff;
        h1 += (tn_load32_le(m + 3) >> 2) & 0x3ffffff;
        h2 += (tn_load32_le(m + 6) >> 4) & 0x3ffffff;
        h3 += (tn_load32_le(m + 9) >> 6) & 0x3ffffff;
        h4 += (tn_load32_le(m + 12) >> 8) | hibit;
        const uint32_t l0 = h0 & 0xffff, u0 = h0 >> 16, l1 = h1 & 0xffff, u1 = h1 >> 16;
        const uint32_t l2 = h2 & 0xffff, u2 = h2 >> 16, l3 = h3 & 0xffff, u3 = h3 >> 16;
        const uint32_t l4 = h4 & 0xffff, u4 = h4 >> 16;
        col_acc a;
        uint32_t c;
        a.a_lo = a.a_hi = a.b = a.c = 0;
        PACC(a, l0, u0, r0); PACC(a, l1, u1, s4); PACC(a, l2, u2, s3); PACC(a, l3, u3, s2); PACC(a, l4, u4, s1);
        c = col_out(&a, 0, &h0);
        a.a_lo = a.a_hi = a.b = a.c = 0;
        PACC(a, l0, u0, r1); PACC(a, l1, u1, r0); PACC(a, l2, u2, s4); PACC(a, l3, u3, s3); PACC(a, l4, u4, s2);
        c = col_out(&a, c, &h1);
        a.a_lo = a.a_hi = a.b = a.c = 0;
        PACC(a, l0, u0, r2); PACC(a, l1, u1, r1); PACC(a, l2, u2, r0); PACC(a, l3, u3, s4); PACC(a, l4, u4, s3);
        c = col_out(&a, c, &h2);
        a.a_lo = a.a_hi = a.b = a.c = 0;
        PACC(a, l0, u0, r3); PACC(a, l1, u1, r2); PACC(a, l2, u2, r1); PACC(a, l3, u3, r0); PACC(a, l4, u4, s4);
        c = col_out(&a, c, &h3);
        a.a_lo = a.a_hi = a.b = a.c = 0;
        PACC(a, l0, u0, r4); PACC(a, l1, u1, r3); PACC(a, l2, u2, r2); PACC(a, l3, u3, r1); PACC(a, l4, u4, r0);
        c = col_out(&a, c, &h4);
        h0 += c * 5; c = h0 >> 26; h0 &= 0x3ffffff;
        h1 += c;
        m += 16;
        len -= 16;
    }
    st->h[0] = h0; st->h[1] = h1; st->h[2] = h2; st->h[3] = h3; st->h[4] = h4;
}
#endif

void tn_poly1305_update(tn_poly1305_ctx *st, const uint8_t *m, size_t len) {
    if (len == 0) {
        return; // public length; m may be NULL
    }
    if (st->buflen) {
        size_t want = 16 - st->buflen;
        if (want > len) {
            want = len;
        }
        memcpy(st->buf + st->buflen, m, want);
        st->buflen += want;
        m += want;
        len -= want;
        if (st->buflen < 16) {
            return;
        }
        poly_blocks(st, st->buf, 16, 1u << 24);
        st->buflen = 0;
    }
    if (len >= 16) {
        size_t n = len & ~(size_t)15;
        poly_blocks(st, m, n, 1u << 24);
        m += n;
        len -= n;
    }
    if (len) {
        memcpy(st->buf, m, len);
        st->buflen = len;
    }
}

void tn_poly1305_final(tn_poly1305_ctx *st, uint8_t tag[16]) {
    if (st->buflen) {
        st->buf[st->buflen] = 1;
        for (size_t i = st->buflen + 1; i < 16; i++) {
            st->buf[i] = 0;
        }
        poly_blocks(st, st->buf, 16, 0);
    }
    uint32_t h0 = st->h[0], h1 = st->h[1], h2 = st->h[2], h3 = st->h[3], h4 = st->h[4];
    uint32_t c;
    c = h1 >> 26; h1 &= 0x3ffffff;
    h2 += c; c = h2 >> 26; h2 &= 0x3ffffff;
    h3 += c; c = h3 >> 26; h3 &= 0x3ffffff;
    h4 += c; c = h4 >> 26; h4 &= 0x3ffffff;
    h0 += c * 5; c = h0 >> 26; h0 &= 0x3ffffff;
    h1 += c;

    // g = h + 5 - 2^130; select g when it did not borrow. Constant time:
    // the choice is a mask, not a branch.
    uint32_t g0 = h0 + 5; c = g0 >> 26; g0 &= 0x3ffffff;
    uint32_t g1 = h1 + c; c = g1 >> 26; g1 &= 0x3ffffff;
    uint32_t g2 = h2 + c; c = g2 >> 26; g2 &= 0x3ffffff;
    uint32_t g3 = h3 + c; c = g3 >> 26; g3 &= 0x3ffffff;
    uint32_t g4 = h4 + c - (1u << 26);
    uint32_t mask = (g4 >> 31) - 1; // all ones when h >= p
    g0 &= mask; g1 &= mask; g2 &= mask; g3 &= mask; g4 &= mask;
    mask = ~mask;
    h0 = (h0 & mask) | g0; h1 = (h1 & mask) | g1; h2 = (h2 & mask) | g2;
    h3 = (h3 & mask) | g3; h4 = (h4 & mask) | g4;

    // h = h % 2^128, then + pad.
    h0 = (h0) | (h1 << 26);
    h1 = (h1 >> 6) | (h2 << 20);
    h2 = (h2 >> 12) | (h3 << 14);
    h3 = (h3 >> 18) | (h4 << 8);
    uint64_t f;
    f = (uint64_t)h0 + st->pad[0]; h0 = (uint32_t)f;
    f = (uint64_t)h1 + st->pad[1] + (f >> 32); h1 = (uint32_t)f;
    f = (uint64_t)h2 + st->pad[2] + (f >> 32); h2 = (uint32_t)f;
    f = (uint64_t)h3 + st->pad[3] + (f >> 32); h3 = (uint32_t)f;
    tn_store32_le(tag + 0, h0);
    tn_store32_le(tag + 4, h1);
    tn_store32_le(tag + 8, h2);
    tn_store32_le(tag + 12, h3);
    // wipe: r and pad are the one-time key, h/buf depend on it and the message.
    tn_wipe(st, sizeof(*st));
}

void tn_poly1305(uint8_t tag[16], const uint8_t *m, size_t len, const uint8_t key[32]) {
    tn_poly1305_ctx st;
    tn_poly1305_init(&st, key);
    tn_poly1305_update(&st, m, len);
    tn_poly1305_final(&st, tag); // wipes st
}

int tn_poly1305_verify(const uint8_t tag[16], const uint8_t *m, size_t len, const uint8_t key[32]) {
    uint8_t calc[16];
    tn_poly1305(calc, m, len, key);
    // constant time: tn_ct_equal touches all 16 bytes whatever they hold.
    int ok = tn_ct_equal(calc, tag, 16);
    tn_wipe(calc, sizeof(calc)); // wipe: a valid tag for attacker-chosen data
    TN_DECLASSIFY(&ok, sizeof(ok)); // the verdict itself is public
    return ok;
}
