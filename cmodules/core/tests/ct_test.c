// ctgrind-style constant-time test (run under valgrind memcheck).
// Secrets are marked undefined with VALGRIND_MAKE_MEM_UNDEFINED; memcheck then
// reports any conditional branch or memory index that depends on them. The
// core marks only public verdicts (tag valid?, result all-zero?) as defined
// again (TN_DECLASSIFY, compiled in with -DTN_CTGRIND). Zero errors expected.
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>
#include "tn_crypto.h"
#include "tn_internal.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

int main(void) {
    uint8_t sk[32], pk[32], out[32], key[32], nonce[12], msg[200], ct[216], pt[200], tag[16];
    for (int i = 0; i < 32; i++) { sk[i] = (uint8_t)(i * 13 + 1); pk[i] = (uint8_t)(i * 7 + 5); key[i] = (uint8_t)(i ^ 0x5a); }
    for (int i = 0; i < 12; i++) nonce[i] = (uint8_t)i;
    for (int i = 0; i < 200; i++) msg[i] = (uint8_t)(i * 3);

    // X25519: secret scalar (and secret peer point, to cover the ladder fully).
    SECRET(sk, 32);
    SECRET(pk, 32);
    int r = tn_x25519(out, sk, pk);
    tn_x25519_base(out, sk);
    PUBLIC(out, 32);

    // Poly1305 with a secret key and secret message; verify against a tag.
    SECRET(key, 32);
    SECRET(msg, 200);
    tn_poly1305(tag, msg, 200, key);
    int v = tn_poly1305_verify(tag, msg, 200, key);

    // AEAD seal/open with a secret key and plaintext; the open's tag check
    // must not branch on secret data (only on the declassified verdict).
    tn_aead_seal(ct, key, nonce, NULL, 0, msg, 200);
    int o = tn_aead_open(pt, key, nonce, NULL, 0, ct, 216);
    ct[5] ^= 1;
    int o2 = tn_aead_open(pt, key, nonce, NULL, 0, ct, 216);
    uint8_t sbox[216];
    tn_secretbox_seal(sbox, msg, 200, (const uint8_t *)"0123456789abcdef01234567", key);
    int s = tn_secretbox_open(pt, sbox, 216, (const uint8_t *)"0123456789abcdef01234567", key);

    // Constant-time compare of secret buffers.
    uint8_t a[32], b[32];
    memcpy(a, sk, 32);
    memcpy(b, sk, 32);
    b[31] ^= 1;
    int e = tn_ct_equal(a, b, 32);
    int z = tn_ct_is_zero(a, 32);
    PUBLIC(&e, sizeof(e));
    PUBLIC(&z, sizeof(z));

    // BLAKE2s / HKDF with secret keys.
    uint8_t h1[32], h2[32];
    tn_blake2s(h1, 32, key, 32, msg, 200);
    tn_hkdf(h1, h2, NULL, key, msg, 100);

    PUBLIC(&r, sizeof(r));
    PUBLIC(&v, sizeof(v));
    printf("ctgrind run done: x25519=%d verify=%d open=%d open_bad=%d secretbox=%d eq=%d zero=%d\n", r, v, o, o2, s, e, z);
    return (v == 1 && o == 0 && o2 == -1 && s == 0 && e == 0 && z == 0) ? 0 : 1;
}
