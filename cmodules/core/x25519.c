// X25519 (RFC 7748): Montgomery ladder over GF(2^255-19).
//
// Two field representations, one ladder:
//  - portable 32-bit default: 16 limbs of 16 bits in uint32_t. Every product
//    a_i*b_j is a plain 32x32->32 multiply (one MULS on Cortex-M0+, no
//    __aeabi_lmul); column sums use two 32-bit accumulators (see ACC), so
//    no 64-bit arithmetic is needed. ~7.0 M cycles per X25519 on Cortex-M0+
//    at -Os (tools/bench/crypto_m0_unicorn.py).
//  - 64-bit hosts with unsigned __int128: 5 limbs of 51 bits (donna-c64
//    layout). Selected automatically; define TN_X25519_PORTABLE32 to force the
//    32-bit path (the C tests build and check both).
//
// Constant time: the ladder runs all 255 steps, the conditional swap is a
// mask (no branch), no array is indexed by a secret, inversion is a fixed
// Fermat addition chain, and the final reduction selects with a mask.
#include "tn_crypto.h"
#include "tn_internal.h"

#if defined(__SIZEOF_INT128__) && !defined(TN_X25519_PORTABLE32)
// ============================ 5 x 51-bit limbs ===============================
__extension__ typedef unsigned __int128 u128; // GCC/Clang extension on 64-bit hosts
typedef uint64_t fe[5];
#define MASK51 ((uint64_t)0x7ffffffffffff)
// Host path: force inlining (MicroPython's unix port builds with -Os, which
// otherwise keeps these tiny functions out of line; ~25% of the run time).
#if defined(__GNUC__)
#define FE_INLINE static inline __attribute__((always_inline))
#else
#define FE_INLINE static inline
#endif

static uint64_t load64_le(const uint8_t *p) {
    return (uint64_t)tn_load32_le(p) | ((uint64_t)tn_load32_le(p + 4) << 32);
}

static void fe_frombytes(fe h, const uint8_t s[32]) {
    h[0] = load64_le(s) & MASK51;
    h[1] = (load64_le(s + 6) >> 3) & MASK51;
    h[2] = (load64_le(s + 12) >> 6) & MASK51;
    h[3] = (load64_le(s + 19) >> 1) & MASK51;
    h[4] = (load64_le(s + 24) >> 12) & MASK51; // drops bit 255 (RFC 7748 §5)
}

static void fe_0(fe h) { h[0] = h[1] = h[2] = h[3] = h[4] = 0; }
static void fe_1(fe h) { fe_0(h); h[0] = 1; }
static void fe_copy(fe r, const fe a) { for (int i = 0; i < 5; i++) r[i] = a[i]; }

FE_INLINE void fe_add(fe r, const fe a, const fe b) {
    r[0] = a[0] + b[0]; r[1] = a[1] + b[1]; r[2] = a[2] + b[2];
    r[3] = a[3] + b[3]; r[4] = a[4] + b[4];
}

// r = a - b + 8p (limbs stay non-negative for b_i < 2^54).
FE_INLINE void fe_sub(fe r, const fe a, const fe b) {
    r[0] = a[0] + 0x3fffffffffff68 - b[0];
    r[1] = a[1] + 0x3ffffffffffff8 - b[1];
    r[2] = a[2] + 0x3ffffffffffff8 - b[2];
    r[3] = a[3] + 0x3ffffffffffff8 - b[3];
    r[4] = a[4] + 0x3ffffffffffff8 - b[4];
}

FE_INLINE void fe_carry128(fe r, u128 t0, u128 t1, u128 t2, u128 t3, u128 t4) {
    uint64_t r0, r1, r2, r3, r4;
    r0 = (uint64_t)t0 & MASK51; t1 += t0 >> 51;
    r1 = (uint64_t)t1 & MASK51; t2 += t1 >> 51;
    r2 = (uint64_t)t2 & MASK51; t3 += t2 >> 51;
    r3 = (uint64_t)t3 & MASK51; t4 += t3 >> 51;
    r4 = (uint64_t)t4 & MASK51;
    u128 c = (t4 >> 51) * 19 + r0;
    r0 = (uint64_t)c & MASK51;
    r1 += (uint64_t)(c >> 51);
    r[0] = r0; r[1] = r1; r[2] = r2; r[3] = r3; r[4] = r4;
}

FE_INLINE void fe_mul(fe r, const fe a, const fe b) {
    const uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4];
    const uint64_t b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3], b4 = b[4];
    const uint64_t b1_19 = 19 * b1, b2_19 = 19 * b2, b3_19 = 19 * b3, b4_19 = 19 * b4;
    u128 t0 = (u128)a0 * b0 + (u128)a1 * b4_19 + (u128)a2 * b3_19 + (u128)a3 * b2_19 + (u128)a4 * b1_19;
    u128 t1 = (u128)a0 * b1 + (u128)a1 * b0 + (u128)a2 * b4_19 + (u128)a3 * b3_19 + (u128)a4 * b2_19;
    u128 t2 = (u128)a0 * b2 + (u128)a1 * b1 + (u128)a2 * b0 + (u128)a3 * b4_19 + (u128)a4 * b3_19;
    u128 t3 = (u128)a0 * b3 + (u128)a1 * b2 + (u128)a2 * b1 + (u128)a3 * b0 + (u128)a4 * b4_19;
    u128 t4 = (u128)a0 * b4 + (u128)a1 * b3 + (u128)a2 * b2 + (u128)a3 * b1 + (u128)a4 * b0;
    fe_carry128(r, t0, t1, t2, t3, t4);
}

FE_INLINE void fe_sq(fe r, const fe a) {
    const uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4];
    const uint64_t d0 = 2 * a0, d1 = 2 * a1, d2 = 2 * a2, d3 = 2 * a3;
    const uint64_t a3_19 = 19 * a3, a4_19 = 19 * a4;
    u128 t0 = (u128)a0 * a0 + (u128)d1 * a4_19 + (u128)d2 * a3_19;
    u128 t1 = (u128)d0 * a1 + (u128)d2 * a4_19 + (u128)a3 * a3_19;
    u128 t2 = (u128)d0 * a2 + (u128)a1 * a1 + (u128)d3 * a4_19;
    u128 t3 = (u128)d0 * a3 + (u128)d1 * a2 + (u128)a4 * a4_19;
    u128 t4 = (u128)d0 * a4 + (u128)d1 * a3 + (u128)a2 * a2;
    fe_carry128(r, t0, t1, t2, t3, t4);
}

FE_INLINE void fe_mul121665(fe r, const fe a) {
    fe_carry128(r, (u128)a[0] * 121665, (u128)a[1] * 121665, (u128)a[2] * 121665,
        (u128)a[3] * 121665, (u128)a[4] * 121665);
}

// Constant time: mask-based exchange.
FE_INLINE void fe_cswap(fe a, fe b, uint32_t swap) {
    uint64_t mask = (uint64_t)0 - swap, x;
    x = mask & (a[0] ^ b[0]); a[0] ^= x; b[0] ^= x;
    x = mask & (a[1] ^ b[1]); a[1] ^= x; b[1] ^= x;
    x = mask & (a[2] ^ b[2]); a[2] ^= x; b[2] ^= x;
    x = mask & (a[3] ^ b[3]); a[3] ^= x; b[3] ^= x;
    x = mask & (a[4] ^ b[4]); a[4] ^= x; b[4] ^= x;
}

static void fe_tobytes(uint8_t s[32], const fe h) {
    uint64_t t[5], g[5], c;
    for (int i = 0; i < 5; i++) t[i] = h[i];
    // Two carry passes: value < 2^255 with limbs < 2^51.
    for (int pass = 0; pass < 2; pass++) {
        c = t[0] >> 51; t[0] &= MASK51;
        t[1] += c; c = t[1] >> 51; t[1] &= MASK51;
        t[2] += c; c = t[2] >> 51; t[2] &= MASK51;
        t[3] += c; c = t[3] >> 51; t[3] &= MASK51;
        t[4] += c; c = t[4] >> 51; t[4] &= MASK51;
        t[0] += 19 * c;
    }
    // g = t + 19; if it reaches 2^255 then t >= p and the answer is g - 2^255.
    g[0] = t[0] + 19; c = g[0] >> 51; g[0] &= MASK51;
    g[1] = t[1] + c; c = g[1] >> 51; g[1] &= MASK51;
    g[2] = t[2] + c; c = g[2] >> 51; g[2] &= MASK51;
    g[3] = t[3] + c; c = g[3] >> 51; g[3] &= MASK51;
    g[4] = t[4] + c; c = g[4] >> 51; g[4] &= MASK51;
    uint64_t mask = (uint64_t)0 - c; // constant time select
    for (int i = 0; i < 5; i++) t[i] = (g[i] & mask) | (t[i] & ~mask);
    uint64_t w0 = t[0] | (t[1] << 51);
    uint64_t w1 = (t[1] >> 13) | (t[2] << 38);
    uint64_t w2 = (t[2] >> 26) | (t[3] << 25);
    uint64_t w3 = (t[3] >> 39) | (t[4] << 12);
    tn_store64_le(s, w0);
    tn_store64_le(s + 8, w1);
    tn_store64_le(s + 16, w2);
    tn_store64_le(s + 24, w3);
    tn_wipe(t, sizeof(t)); // wipe: secret field element
    tn_wipe(g, sizeof(g));
}

#else
// ======================= 16 x 16-bit limbs (portable) ========================
// Invariant between operations: every limb <= 0xffff (value < 2^256, not
// necessarily reduced mod p). 2^256 = 38 (mod p).
typedef uint32_t fe[16];

static void fe_frombytes(fe h, const uint8_t s[32]) {
    for (int i = 0; i < 16; i++) {
        h[i] = (uint32_t)s[2 * i] | ((uint32_t)s[2 * i + 1] << 8);
    }
    h[15] &= 0x7fff; // RFC 7748 §5: ignore bit 255
}

static void fe_0(fe h) { for (int i = 0; i < 16; i++) h[i] = 0; }
static void fe_1(fe h) { fe_0(h); h[0] = 1; }
static void fe_copy(fe r, const fe a) { for (int i = 0; i < 16; i++) r[i] = a[i]; }

#if defined(__GNUC__) && !defined(__clang__)
#define TN_UNROLL _Pragma("GCC unroll 32")
#else
#define TN_UNROLL
#endif

// Fold a carry c (weight 2^256, c < 2^26) back in and restore the invariant.
// A full pass, then a second short fold: when the pass carries out (c == 1)
// every limb above r[1] wrapped to zero and r[1] is below the first carry
// (< 2^16), so adding the final carry into r[1] cannot overflow. Fixed
// operation count: constant time.
static void fe_fold(fe r, uint32_t c) {
    c *= 38;
    TN_UNROLL
    for (int i = 0; i < 16; i++) {
        c += r[i];
        r[i] = c & 0xffff;
        c >>= 16;
    }
    c = 38 * c + r[0];
    r[0] = c & 0xffff;
    r[1] += c >> 16;
}

static void fe_add(fe r, const fe a, const fe b) {
    uint32_t c = 0;
    TN_UNROLL
    for (int i = 0; i < 16; i++) {
        c += a[i] + b[i];
        r[i] = c & 0xffff;
        c >>= 16;
    }
    fe_fold(r, c);
}

// r = a - b + 4p; 4p = 2^257 - 76 as limbs {0x1ffb4, 0x1fffe x 15}, each
// >= 0xffff, so no limb term goes negative.
static void fe_sub(fe r, const fe a, const fe b) {
    uint32_t c = a[0] + 0x1ffb4 - b[0];
    r[0] = c & 0xffff;
    c >>= 16;
    TN_UNROLL
    for (int i = 1; i < 16; i++) {
        c += a[i] + 0x1fffe - b[i];
        r[i] = c & 0xffff;
        c >>= 16;
    }
    fe_fold(r, c);
}

// Reduce the 32-limb product t (16-bit limbs, t[31] < 2^16) into r.
static void fe_reduce512(fe r, const uint32_t t[32]) {
    uint32_t c = 0;
    TN_UNROLL
    for (int i = 0; i < 16; i++) {
        c += t[i] + 38 * t[i + 16];
        r[i] = c & 0xffff;
        c >>= 16;
    }
    fe_fold(r, c);
}

// Column sums without 64-bit arithmetic: for each 32-bit product p,
//   lo += p (mod 2^32) and hi += p >> 16.
// With S the true column sum (lo started at the carry c, hi at c >> 16),
// S >> 16 lies in [hi, hi + n] for n <= 17 terms, and its low 16 bits are
// lo >> 16, so S >> 16 = hi + (((lo >> 16) - hi) & 0xffff). Per product that
// is LDR, LDR, MULS, ADDS, LSRS, ADDS on ARMv6-M (a uint64_t accumulator makes
// GCC spill every partial sum to the stack).
// TN_KEEP is an empty GCC/Clang asm that pins lo/hi in registers after each
// product: without it GCC reassociates the two sums, computes all products
// first and spills them. It emits no instruction.
#if defined(__GNUC__)
#define TN_KEEP(v) __asm__("" : "+r"(v))
#else
#define TN_KEEP(v) ((void)0)
#endif
#define ACC(x, y) do { uint32_t p_ = (x) * (y); lo += p_; hi += p_ >> 16; \
    TN_KEEP(lo); TN_KEEP(hi); } while (0)
// Finish a column: emit 16 bits, return the carry S >> 16.
#define COLUMN_OUT(tk) ((tk) = lo & 0xffff, hi + (((lo >> 16) - hi) & 0xffff))

// Product scanning: column k sums a_i*b_(k-i).
static void fe_mul(fe r, const fe a, const fe b) {
    uint32_t t[32];
    uint32_t carry = 0;
    TN_UNROLL
    for (int k = 0; k < 31; k++) {
        uint32_t lo = carry, hi = carry >> 16;
        int i0 = k < 16 ? 0 : k - 15;
        int i1 = k < 16 ? k : 15;
        TN_UNROLL
        for (int i = i0; i <= i1; i++) ACC(a[i], b[k - i]);
        carry = COLUMN_OUT(t[k]);
    }
    t[31] = carry;
    fe_reduce512(r, t);
}

// Squaring: cross products once, doubled, plus the diagonal.
static void fe_sq(fe r, const fe a) {
    uint32_t t[32];
    uint32_t carry = 0;
    TN_UNROLL
    for (int k = 0; k < 31; k++) {
        uint32_t lo = 0, hi = 0;
        int i0 = k < 16 ? 0 : k - 15;
        TN_UNROLL
        for (int i = i0; 2 * i < k; i++) ACC(a[i], a[k - i]);
        // Exact cross sum X = lo + 2^16 * (hi') with the same recovery, then
        // column = 2X + diagonal + carry, re-split into (lo, hi).
        uint32_t xh = hi + (((lo >> 16) - hi) & 0xffff); // X >> 16
        lo = 2 * (lo & 0xffff) + (carry & 0xffff);
        hi = 2 * xh + (carry >> 16) + (lo >> 16);
        lo &= 0xffff;
        lo |= hi << 16; // keep lo consistent with hi (mod 2^16)
        if ((k & 1) == 0) { // k is the public column index
            ACC(a[k >> 1], a[k >> 1]);
        }
        carry = COLUMN_OUT(t[k]);
    }
    t[31] = carry;
    fe_reduce512(r, t);
}

// 121665 = 0x10000 + 0xdb41: two 32-bit products per limb.
static void fe_mul121665(fe r, const fe a) {
    uint64_t acc = 0;
    for (int i = 0; i < 16; i++) {
        acc += (uint64_t)(uint32_t)(a[i] * 0xdb41u) + ((uint64_t)a[i] << 16);
        r[i] = (uint32_t)acc & 0xffff;
        acc >>= 16;
    }
    fe_fold(r, (uint32_t)acc);
}

// Constant time: mask-based exchange.
static void fe_cswap(fe a, fe b, uint32_t swap) {
    uint32_t mask = 0u - swap;
    for (int i = 0; i < 16; i++) {
        uint32_t x = mask & (a[i] ^ b[i]);
        a[i] ^= x;
        b[i] ^= x;
    }
}

static void fe_tobytes(uint8_t s[32], const fe h) {
    uint32_t t[16], g[16], c;
    fe_copy(t, h);
    // Two passes folding bit 255 (2^255 = 19): value < 2^255.
    for (int pass = 0; pass < 2; pass++) {
        c = 19 * (t[15] >> 15);
        t[15] &= 0x7fff;
        for (int i = 0; i < 16; i++) {
            c += t[i];
            t[i] = c & 0xffff;
            c >>= 16;
        }
    }
    // g = t + 19; bit 255 of g set means t >= p: take g - 2^255.
    c = 19;
    for (int i = 0; i < 16; i++) {
        c += t[i];
        g[i] = c & 0xffff;
        c >>= 16;
    }
    uint32_t mask = 0u - (g[15] >> 15); // constant time select
    g[15] &= 0x7fff;
    for (int i = 0; i < 16; i++) {
        t[i] = (g[i] & mask) | (t[i] & ~mask);
        s[2 * i] = (uint8_t)t[i];
        s[2 * i + 1] = (uint8_t)(t[i] >> 8);
    }
    tn_wipe(t, sizeof(t)); // wipe: secret field element
    tn_wipe(g, sizeof(g));
}
#endif

// ============================== shared part ==================================
static void fe_sqn(fe r, const fe a, int n) {
    fe_sq(r, a);
    for (int i = 1; i < n; i++) fe_sq(r, r);
}

// z^(p-2) by the fixed addition chain of ref10 (254 squarings, 11 multiplies).
static void fe_invert(fe out, const fe z) {
    fe t0, t1, t2, t3;
    fe_sq(t0, z);            // 2
    fe_sqn(t1, t0, 2);       // 8
    fe_mul(t1, z, t1);       // 9
    fe_mul(t0, t0, t1);      // 11
    fe_sq(t2, t0);           // 22
    fe_mul(t1, t1, t2);      // 2^5 - 1
    fe_sqn(t2, t1, 5);
    fe_mul(t1, t2, t1);      // 2^10 - 1
    fe_sqn(t2, t1, 10);
    fe_mul(t2, t2, t1);      // 2^20 - 1
    fe_sqn(t3, t2, 20);
    fe_mul(t2, t3, t2);      // 2^40 - 1
    fe_sqn(t2, t2, 10);
    fe_mul(t1, t2, t1);      // 2^50 - 1
    fe_sqn(t2, t1, 50);
    fe_mul(t2, t2, t1);      // 2^100 - 1
    fe_sqn(t3, t2, 100);
    fe_mul(t2, t3, t2);      // 2^200 - 1
    fe_sqn(t2, t2, 50);
    fe_mul(t1, t2, t1);      // 2^250 - 1
    fe_sqn(t1, t1, 5);       // 2^255 - 32
    fe_mul(out, t1, t0);     // 2^255 - 21 = p - 2
    // wipe: powers of a secret-derived value.
    tn_wipe(t0, sizeof(fe));
    tn_wipe(t1, sizeof(fe));
    tn_wipe(t2, sizeof(fe));
    tn_wipe(t3, sizeof(fe));
}

typedef struct {
    fe x1, x2, z2, x3, z3, a, b, c, d, e, aa, bb, da, cb;
    uint8_t k[32];
} ladder_state;

static void x25519_ladder(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]) {
    ladder_state s;
    for (int i = 0; i < 32; i++) s.k[i] = scalar[i];
    s.k[0] &= 248; // clamp (RFC 7748 §5)
    s.k[31] &= 127;
    s.k[31] |= 64;
    fe_frombytes(s.x1, point);
    fe_1(s.x2);
    fe_0(s.z2);
    fe_copy(s.x3, s.x1);
    fe_1(s.z3);
    uint32_t swap = 0;
    for (int t = 254; t >= 0; t--) {
        // t is public; the bit value is only used arithmetically.
        uint32_t bit = (s.k[t >> 3] >> (t & 7)) & 1;
        swap ^= bit;
        fe_cswap(s.x2, s.x3, swap);
        fe_cswap(s.z2, s.z3, swap);
        swap = bit;
        fe_add(s.a, s.x2, s.z2);
        fe_sub(s.b, s.x2, s.z2);
        fe_add(s.c, s.x3, s.z3);
        fe_sub(s.d, s.x3, s.z3);
        fe_mul(s.da, s.d, s.a);
        fe_mul(s.cb, s.c, s.b);
        fe_sq(s.aa, s.a);
        fe_sq(s.bb, s.b);
        fe_sub(s.e, s.aa, s.bb);
        fe_add(s.x3, s.da, s.cb);
        fe_sq(s.x3, s.x3);
        fe_sub(s.z3, s.da, s.cb);
        fe_sq(s.z3, s.z3);
        fe_mul(s.z3, s.z3, s.x1);
        fe_mul(s.x2, s.aa, s.bb);
        fe_mul121665(s.a, s.e);
        fe_add(s.a, s.a, s.aa);
        fe_mul(s.z2, s.e, s.a);
    }
    fe_cswap(s.x2, s.x3, swap);
    fe_cswap(s.z2, s.z3, swap);
    fe_invert(s.z2, s.z2);
    fe_mul(s.x2, s.x2, s.z2);
    fe_tobytes(out, s.x2);
    tn_wipe(&s, sizeof(s)); // wipe: scalar and every ladder intermediate
}

int tn_x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]) {
    x25519_ladder(out, scalar, point);
    // Constant-time zero test; whether the result is zero is public (the
    // protocol aborts), so it is declassified for the ctgrind test.
    int z = tn_ct_is_zero(out, 32);
    TN_DECLASSIFY(&z, sizeof(z));
    return z ? -1 : 0;
}

void tn_x25519_base(uint8_t out[32], const uint8_t scalar[32]) {
    static const uint8_t nine[32] = {9};
    x25519_ladder(out, scalar, nine);
}
