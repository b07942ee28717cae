// Internal helpers shared by the crypto core .c files (not a public API).
#ifndef TN_INTERNAL_H
#define TN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#if defined(TN_FREESTANDING)
// No C library headers (e.g. the bare xtensa-lx106 compiler): the two
// functions the core uses, as the compiler's builtins know them.
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
#else
#include <string.h>
#endif

// Tiny helpers are always inlined: at -Os (MicroPython's default) GCC would
// otherwise emit calls for them in the hot loops.
#if defined(__GNUC__)
#define TN_INLINE static inline __attribute__((always_inline))
#else
#define TN_INLINE static inline
#endif

// Explicit little-endian load/store: independent of host byte order and of
// pointer alignment (packet buffers are often unaligned).
TN_INLINE uint32_t tn_load32_le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
TN_INLINE void tn_store32_le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
TN_INLINE void tn_store64_le(uint8_t *p, uint64_t v) {
    tn_store32_le(p, (uint32_t)v);
    tn_store32_le(p + 4, (uint32_t)(v >> 32));
}
TN_INLINE uint32_t tn_rotl32(uint32_t x, int n) {
    return (x << n) | (x >> (32 - n));
}
TN_INLINE uint32_t tn_rotr32(uint32_t x, int n) {
    return (x >> n) | (x << (32 - n));
}

// Declassification hook for the ctgrind (valgrind) constant-time test: a
// value that is public by design (the accept/reject verdict of a tag check,
// "was the shared secret all zero") is marked defined so that branching on it
// is not reported. Compiles to nothing in every normal build.
#ifdef TN_CTGRIND
#include <valgrind/memcheck.h>
#define TN_DECLASSIFY(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define TN_DECLASSIFY(p, n) ((void)0)
#endif

// ---- ChaCha20 (RFC 8439), shared by the AEAD and XChaCha -------------------
// Encrypts/decrypts len bytes of in to out (out may equal in) starting at
// block counter `counter`.
void tn_chacha20_xor(uint8_t *out, const uint8_t *in, size_t len,
    const uint8_t key[32], const uint8_t nonce[12], uint32_t counter);
// One keystream block (64 bytes).
void tn_chacha20_block(uint8_t out[64], const uint8_t key[32], const uint8_t nonce[12], uint32_t counter);
// HChaCha20 (draft-irtf-cfrg-xchacha): 32-byte subkey from key and 16-byte nonce.
void tn_hchacha20(uint8_t out[32], const uint8_t key[32], const uint8_t in[16]);

// ---- Poly1305 (RFC 8439 §2.5), 26-bit limbs --------------------------------
typedef struct {
    uint32_t r[5];
    uint32_t h[5];
    uint32_t pad[4];
    uint8_t buf[16];
    size_t buflen;
} tn_poly1305_ctx;

void tn_poly1305_init(tn_poly1305_ctx *st, const uint8_t key[32]);
void tn_poly1305_update(tn_poly1305_ctx *st, const uint8_t *m, size_t len);
// Writes the tag and wipes the state.
void tn_poly1305_final(tn_poly1305_ctx *st, uint8_t tag[16]);
void tn_poly1305(uint8_t tag[16], const uint8_t *m, size_t len, const uint8_t key[32]);
// Constant-time check of a Poly1305 tag: 1 when valid. The verdict is public.
int tn_poly1305_verify(const uint8_t tag[16], const uint8_t *m, size_t len, const uint8_t key[32]);

// ---- Salsa20 family ----------------------------------------------------------
// XSalsa20 stream XOR starting at keystream byte offset `skip` (0..63 in block 0).
void tn_xsalsa20_xor(uint8_t *out, const uint8_t *in, size_t len,
    const uint8_t nonce[24], const uint8_t key[32], size_t skip);

#endif
