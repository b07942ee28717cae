// _tncrypto: thin MicroPython binding of the tailnet crypto core
// (cmodules/core/tn_crypto.h). Argument checking lives here; the core
// trusts its callers. seal/open accept an optional `out` buffer: then nothing
// is allocated and the number of bytes written (or -1 on a bad tag) is
// returned. `out` may be the very same memory as the input (in place), but
// not a shifted overlap.
#include <string.h>
#include "py/runtime.h"
#include "py/obj.h"
#include "py/objstr.h"
#include "tn_crypto.h"
#include "tn_internal.h"

// ---- helpers -------------------------------------------------------------------
static const uint8_t *get_buf(mp_obj_t o, size_t *len) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, MP_BUFFER_READ);
    *len = bi.len;
    return bi.buf;
}

static const uint8_t *get_fixed(mp_obj_t o, size_t want, const char *what) {
    size_t len;
    const uint8_t *p = get_buf(o, &len);
    if (len != want) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s must be %d bytes, got %d"),
            what, (int)want, (int)len);
    }
    return p;
}

// Optional bytes-like (None -> empty).
static const uint8_t *get_opt(mp_obj_t o, size_t *len) {
    if (o == MP_OBJ_NULL || o == mp_const_none) {
        *len = 0;
        return NULL;
    }
    return get_buf(o, len);
}

static uint8_t *get_out(mp_obj_t o, size_t need) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, MP_BUFFER_WRITE);
    if (bi.len < need) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("out must hold %d bytes, has %d"),
            (int)need, (int)bi.len);
    }
    return bi.buf;
}

// In-place use must be exact: the stream ciphers walk input and output in step.
static void check_alias(const uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen) {
    if (inlen && out != in && out < in + inlen && in < out + outlen) {
        mp_raise_ValueError(MP_ERROR_TEXT("out overlaps input at a different offset"));
    }
}

static mp_obj_t new_bytes_buf(size_t len, vstr_t *vstr) {
    vstr_init_len(vstr, len);
    return MP_OBJ_NULL;
}

static mp_obj_t bytes_from(const uint8_t *p, size_t n) {
    return mp_obj_new_bytes(p, n);
}

// ---- utilities -----------------------------------------------------------------
static mp_obj_t tnc_ct_equal(mp_obj_t a, mp_obj_t b) {
    size_t la, lb;
    const uint8_t *pa = get_buf(a, &la), *pb = get_buf(b, &lb);
    if (la != lb) {
        return mp_const_false; // lengths are public
    }
    return mp_obj_new_bool(tn_ct_equal(pa, pb, la));
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_ct_equal_obj, tnc_ct_equal);

// ---- X25519 --------------------------------------------------------------------
static mp_obj_t tnc_x25519(mp_obj_t scalar, mp_obj_t point) {
    const uint8_t *k = get_fixed(scalar, 32, "scalar");
    const uint8_t *u = get_fixed(point, 32, "point");
    uint8_t out[32];
    int r = tn_x25519(out, k, u);
    if (r != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("X25519 result is all zero (low-order point)"));
    }
    mp_obj_t o = bytes_from(out, 32);
    tn_wipe(out, sizeof(out)); // wipe: shared secret copy on the C stack
    return o;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_x25519_obj, tnc_x25519);

static mp_obj_t tnc_x25519_base(mp_obj_t scalar) {
    uint8_t out[32];
    tn_x25519_base(out, get_fixed(scalar, 32, "scalar"));
    return bytes_from(out, 32);
}
static MP_DEFINE_CONST_FUN_OBJ_1(tnc_x25519_base_obj, tnc_x25519_base);

// ---- AEADs ---------------------------------------------------------------------
enum { ARG_key, ARG_nonce, ARG_data, ARG_ad, ARG_out };
static const mp_arg_t aead_args[] = {
    { MP_QSTR_key, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    { MP_QSTR_nonce, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    { MP_QSTR_data, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    { MP_QSTR_ad, MP_ARG_OBJ, {.u_obj = mp_const_none} },
    { MP_QSTR_out, MP_ARG_OBJ, {.u_obj = mp_const_none} },
};

typedef void (*seal_fn)(uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, size_t, const uint8_t *, size_t);
typedef int (*open_fn)(uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, size_t, const uint8_t *, size_t);

static mp_obj_t do_seal(size_t n_args, const mp_obj_t *pos, mp_map_t *kw, size_t nlen, seal_fn fn) {
    mp_arg_val_t a[MP_ARRAY_SIZE(aead_args)];
    mp_arg_parse_all(n_args, pos, kw, MP_ARRAY_SIZE(aead_args), aead_args, a);
    const uint8_t *key = get_fixed(a[ARG_key].u_obj, 32, "key");
    const uint8_t *nonce = get_fixed(a[ARG_nonce].u_obj, nlen, "nonce");
    size_t len, adlen;
    const uint8_t *pt = get_buf(a[ARG_data].u_obj, &len);
    const uint8_t *ad = get_opt(a[ARG_ad].u_obj, &adlen);
    if (a[ARG_out].u_obj != mp_const_none) {
        uint8_t *out = get_out(a[ARG_out].u_obj, len + 16);
        check_alias(out, len + 16, pt, len);
        fn(out, key, nonce, ad, adlen, pt, len);
        return MP_OBJ_NEW_SMALL_INT(len + 16);
    }
    vstr_t v;
    new_bytes_buf(len + 16, &v);
    fn((uint8_t *)v.buf, key, nonce, ad, adlen, pt, len);
    return mp_obj_new_bytes_from_vstr(&v);
}

static mp_obj_t do_open(size_t n_args, const mp_obj_t *pos, mp_map_t *kw, size_t nlen, open_fn fn) {
    mp_arg_val_t a[MP_ARRAY_SIZE(aead_args)];
    mp_arg_parse_all(n_args, pos, kw, MP_ARRAY_SIZE(aead_args), aead_args, a);
    const uint8_t *key = get_fixed(a[ARG_key].u_obj, 32, "key");
    const uint8_t *nonce = get_fixed(a[ARG_nonce].u_obj, nlen, "nonce");
    size_t len, adlen;
    const uint8_t *ct = get_buf(a[ARG_data].u_obj, &len);
    const uint8_t *ad = get_opt(a[ARG_ad].u_obj, &adlen);
    bool has_out = a[ARG_out].u_obj != mp_const_none;
    if (len < 16) {
        if (has_out) {
            return MP_OBJ_NEW_SMALL_INT(-1); // too short to hold a tag: not authentic
        }
        return mp_const_none;
    }
    if (has_out) {
        uint8_t *out = get_out(a[ARG_out].u_obj, len - 16);
        check_alias(out, len - 16, ct, len);
        int r = fn(out, key, nonce, ad, adlen, ct, len);
        return MP_OBJ_NEW_SMALL_INT(r == 0 ? (mp_int_t)(len - 16) : -1);
    }
    vstr_t v;
    new_bytes_buf(len - 16, &v);
    if (fn((uint8_t *)v.buf, key, nonce, ad, adlen, ct, len) != 0) {
        vstr_clear(&v);
        return mp_const_none;
    }
    return mp_obj_new_bytes_from_vstr(&v);
}

static mp_obj_t tnc_aead_seal(size_t n, const mp_obj_t *p, mp_map_t *kw) { return do_seal(n, p, kw, 12, tn_aead_seal); }
static MP_DEFINE_CONST_FUN_OBJ_KW(tnc_aead_seal_obj, 3, tnc_aead_seal);
static mp_obj_t tnc_aead_open(size_t n, const mp_obj_t *p, mp_map_t *kw) { return do_open(n, p, kw, 12, tn_aead_open); }
static MP_DEFINE_CONST_FUN_OBJ_KW(tnc_aead_open_obj, 3, tnc_aead_open);
static mp_obj_t tnc_xaead_seal(size_t n, const mp_obj_t *p, mp_map_t *kw) { return do_seal(n, p, kw, 24, tn_xaead_seal); }
static MP_DEFINE_CONST_FUN_OBJ_KW(tnc_xaead_seal_obj, 3, tnc_xaead_seal);
static mp_obj_t tnc_xaead_open(size_t n, const mp_obj_t *p, mp_map_t *kw) { return do_open(n, p, kw, 24, tn_xaead_open); }
static MP_DEFINE_CONST_FUN_OBJ_KW(tnc_xaead_open_obj, 3, tnc_xaead_open);

// ---- secretbox / box -----------------------------------------------------------
// secretbox_seal(key, nonce, msg, out=None) -> tag||ct bytes, or int with out.
static mp_obj_t tnc_secretbox_seal(size_t n_args, const mp_obj_t *args) {
    const uint8_t *key = get_fixed(args[0], 32, "key");
    const uint8_t *nonce = get_fixed(args[1], 24, "nonce");
    size_t len;
    const uint8_t *m = get_buf(args[2], &len);
    if (n_args > 3 && args[3] != mp_const_none) {
        uint8_t *out = get_out(args[3], len + 16);
        check_alias(out + 16, len, m, len); // in place means m == out+16
        tn_secretbox_seal(out, m, len, nonce, key);
        return MP_OBJ_NEW_SMALL_INT(len + 16);
    }
    vstr_t v;
    new_bytes_buf(len + 16, &v);
    tn_secretbox_seal((uint8_t *)v.buf, m, len, nonce, key);
    return mp_obj_new_bytes_from_vstr(&v);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnc_secretbox_seal_obj, 3, 4, tnc_secretbox_seal);

static mp_obj_t tnc_secretbox_open(size_t n_args, const mp_obj_t *args) {
    const uint8_t *key = get_fixed(args[0], 32, "key");
    const uint8_t *nonce = get_fixed(args[1], 24, "nonce");
    size_t len;
    const uint8_t *c = get_buf(args[2], &len);
    bool has_out = n_args > 3 && args[3] != mp_const_none;
    if (len < 16) {
        return has_out ? MP_OBJ_NEW_SMALL_INT(-1) : mp_const_none;
    }
    if (has_out) {
        uint8_t *out = get_out(args[3], len - 16);
        check_alias(out, len - 16, c + 16, len - 16); // in place means out == c+16
        int r = tn_secretbox_open(out, c, len, nonce, key);
        return MP_OBJ_NEW_SMALL_INT(r == 0 ? (mp_int_t)(len - 16) : -1);
    }
    vstr_t v;
    new_bytes_buf(len - 16, &v);
    if (tn_secretbox_open((uint8_t *)v.buf, c, len, nonce, key) != 0) {
        vstr_clear(&v);
        return mp_const_none;
    }
    return mp_obj_new_bytes_from_vstr(&v);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnc_secretbox_open_obj, 3, 4, tnc_secretbox_open);

static mp_obj_t tnc_box_beforenm(mp_obj_t pk, mp_obj_t sk) {
    uint8_t k[32];
    int r = tn_box_beforenm(k, get_fixed(pk, 32, "public key"), get_fixed(sk, 32, "private key"));
    if (r != 0) {
        tn_wipe(k, sizeof(k));
        mp_raise_ValueError(MP_ERROR_TEXT("box: shared point is all zero (low-order key)"));
    }
    mp_obj_t o = bytes_from(k, 32);
    tn_wipe(k, sizeof(k)); // wipe: box key copy on the C stack
    return o;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_box_beforenm_obj, tnc_box_beforenm);

static mp_obj_t tnc_hsalsa20(mp_obj_t in, mp_obj_t key) {
    uint8_t out[32];
    tn_hsalsa20(out, get_fixed(in, 16, "input"), get_fixed(key, 32, "key"));
    return bytes_from(out, 32);
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_hsalsa20_obj, tnc_hsalsa20);

// ---- BLAKE2s / HMAC / HKDF -------------------------------------------------------
static mp_obj_t tnc_blake2s(size_t n_args, const mp_obj_t *args) {
    size_t len = 0, klen = 0;
    const uint8_t *in = n_args > 0 ? get_opt(args[0], &len) : NULL;
    const uint8_t *key = n_args > 1 ? get_opt(args[1], &klen) : NULL;
    mp_int_t outlen = n_args > 2 ? mp_obj_get_int(args[2]) : 32;
    if (outlen < 1 || outlen > 32 || klen > 32) {
        mp_raise_ValueError(MP_ERROR_TEXT("blake2s: outlen must be 1..32 and key at most 32 bytes"));
    }
    uint8_t out[32];
    tn_blake2s(out, (size_t)outlen, key, klen, in, len);
    return bytes_from(out, (size_t)outlen);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnc_blake2s_obj, 0, 3, tnc_blake2s);

// Incremental hashing keeps the context in a caller-owned bytearray of
// BLAKE2S_CTX_SIZE bytes (copied through an aligned local).
static void ctx_load(tn_blake2s_ctx *c, mp_obj_t st) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(st, &bi, MP_BUFFER_RW);
    if (bi.len != sizeof(*c)) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad blake2s state buffer"));
    }
    memcpy(c, bi.buf, sizeof(*c));
    // The buffer is caller-writable: refuse a state that would index out of
    // bounds instead of trusting it.
    if (c->buflen > TN_BLAKE2S_BLOCK || c->outlen < 1 || c->outlen > 32) {
        tn_wipe(c, sizeof(*c));
        mp_raise_ValueError(MP_ERROR_TEXT("bad blake2s state buffer"));
    }
}
static void ctx_store(mp_obj_t st, tn_blake2s_ctx *c) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(st, &bi, MP_BUFFER_RW);
    memcpy(bi.buf, c, sizeof(*c));
    tn_wipe(c, sizeof(*c)); // wipe: local copy of a (possibly keyed) state
}

static mp_obj_t tnc_b2s_init(mp_obj_t st, mp_obj_t outlen, mp_obj_t key) {
    tn_blake2s_ctx c;
    size_t klen;
    const uint8_t *k = get_opt(key, &klen);
    mp_int_t ol = mp_obj_get_int(outlen);
    if (ol < 1 || ol > 32 || klen > 32) {
        mp_raise_ValueError(MP_ERROR_TEXT("blake2s: outlen must be 1..32 and key at most 32 bytes"));
    }
    mp_buffer_info_t bi;
    mp_get_buffer_raise(st, &bi, MP_BUFFER_RW);
    if (bi.len != sizeof(c)) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad blake2s state buffer"));
    }
    tn_blake2s_init(&c, (size_t)ol, k, klen);
    ctx_store(st, &c);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(tnc_b2s_init_obj, tnc_b2s_init);

static mp_obj_t tnc_b2s_update(mp_obj_t st, mp_obj_t data) {
    tn_blake2s_ctx c;
    size_t len;
    const uint8_t *p = get_buf(data, &len);
    ctx_load(&c, st);
    tn_blake2s_update(&c, p, len);
    ctx_store(st, &c);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_b2s_update_obj, tnc_b2s_update);

// Returns the digest; the state buffer is left untouched (digest() may be
// called again, or update() continued, as with hashlib).
static mp_obj_t tnc_b2s_digest(mp_obj_t st) {
    tn_blake2s_ctx c;
    uint8_t out[32];
    ctx_load(&c, st);
    size_t n = c.outlen;
    tn_blake2s_final(&c, out); // wipes c
    return bytes_from(out, n);
}
static MP_DEFINE_CONST_FUN_OBJ_1(tnc_b2s_digest_obj, tnc_b2s_digest);

static mp_obj_t tnc_hmac_blake2s(mp_obj_t key, mp_obj_t data) {
    size_t kl, dl;
    const uint8_t *k = get_buf(key, &kl), *d = get_buf(data, &dl);
    uint8_t out[32];
    tn_hmac_blake2s(out, k, kl, d, dl);
    return bytes_from(out, 32);
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_hmac_blake2s_obj, tnc_hmac_blake2s);

static mp_obj_t tnc_hkdf(mp_obj_t ck, mp_obj_t ikm, mp_obj_t n_in) {
    const uint8_t *c = get_fixed(ck, 32, "chaining key");
    size_t il;
    const uint8_t *i = get_buf(ikm, &il);
    mp_int_t n = mp_obj_get_int(n_in);
    if (n < 1 || n > 3) {
        mp_raise_ValueError(MP_ERROR_TEXT("hkdf: n must be 1, 2 or 3"));
    }
    uint8_t o[3][32];
    tn_hkdf(o[0], n > 1 ? o[1] : NULL, n > 2 ? o[2] : NULL, c, i, il);
    mp_obj_t items[3];
    for (mp_int_t j = 0; j < n; j++) {
        items[j] = bytes_from(o[j], 32);
    }
    tn_wipe(o, sizeof(o)); // wipe: derived keys on the C stack
    return mp_obj_new_tuple((size_t)n, items);
}
static MP_DEFINE_CONST_FUN_OBJ_3(tnc_hkdf_obj, tnc_hkdf);

// ---- raw primitives for vector tests ----------------------------------------------
// chacha20(key, nonce12, counter, data) -> data XOR keystream
static mp_obj_t tnc_chacha20(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    const uint8_t *key = get_fixed(args[0], 32, "key");
    const uint8_t *nonce = get_fixed(args[1], 12, "nonce");
    mp_int_t ctr = mp_obj_get_int(args[2]);
    size_t len;
    const uint8_t *in = get_buf(args[3], &len);
    vstr_t v;
    new_bytes_buf(len, &v);
    tn_chacha20_xor((uint8_t *)v.buf, in, len, key, nonce, (uint32_t)ctr);
    return mp_obj_new_bytes_from_vstr(&v);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnc_chacha20_obj, 4, 4, tnc_chacha20);

static mp_obj_t tnc_poly1305(mp_obj_t key, mp_obj_t data) {
    const uint8_t *k = get_fixed(key, 32, "key");
    size_t len;
    const uint8_t *m = get_buf(data, &len);
    uint8_t tag[16];
    tn_poly1305(tag, m, len, k);
    return bytes_from(tag, 16);
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_poly1305_obj, tnc_poly1305);

static const mp_rom_map_elem_t tncrypto_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__tncrypto) },
    { MP_ROM_QSTR(MP_QSTR_x25519), MP_ROM_PTR(&tnc_x25519_obj) },
    { MP_ROM_QSTR(MP_QSTR_x25519_base), MP_ROM_PTR(&tnc_x25519_base_obj) },
    { MP_ROM_QSTR(MP_QSTR_aead_seal), MP_ROM_PTR(&tnc_aead_seal_obj) },
    { MP_ROM_QSTR(MP_QSTR_aead_open), MP_ROM_PTR(&tnc_aead_open_obj) },
    { MP_ROM_QSTR(MP_QSTR_xaead_seal), MP_ROM_PTR(&tnc_xaead_seal_obj) },
    { MP_ROM_QSTR(MP_QSTR_xaead_open), MP_ROM_PTR(&tnc_xaead_open_obj) },
    { MP_ROM_QSTR(MP_QSTR_secretbox_seal), MP_ROM_PTR(&tnc_secretbox_seal_obj) },
    { MP_ROM_QSTR(MP_QSTR_secretbox_open), MP_ROM_PTR(&tnc_secretbox_open_obj) },
    { MP_ROM_QSTR(MP_QSTR_box_beforenm), MP_ROM_PTR(&tnc_box_beforenm_obj) },
    { MP_ROM_QSTR(MP_QSTR_hsalsa20), MP_ROM_PTR(&tnc_hsalsa20_obj) },
    { MP_ROM_QSTR(MP_QSTR_blake2s), MP_ROM_PTR(&tnc_blake2s_obj) },
    { MP_ROM_QSTR(MP_QSTR_blake2s_init), MP_ROM_PTR(&tnc_b2s_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_blake2s_update), MP_ROM_PTR(&tnc_b2s_update_obj) },
    { MP_ROM_QSTR(MP_QSTR_blake2s_digest), MP_ROM_PTR(&tnc_b2s_digest_obj) },
    { MP_ROM_QSTR(MP_QSTR_BLAKE2S_CTX_SIZE), MP_ROM_INT(sizeof(tn_blake2s_ctx)) },
    { MP_ROM_QSTR(MP_QSTR_hmac_blake2s), MP_ROM_PTR(&tnc_hmac_blake2s_obj) },
    { MP_ROM_QSTR(MP_QSTR_hkdf), MP_ROM_PTR(&tnc_hkdf_obj) },
    { MP_ROM_QSTR(MP_QSTR_ct_equal), MP_ROM_PTR(&tnc_ct_equal_obj) },
    { MP_ROM_QSTR(MP_QSTR_chacha20), MP_ROM_PTR(&tnc_chacha20_obj) },
    { MP_ROM_QSTR(MP_QSTR_poly1305), MP_ROM_PTR(&tnc_poly1305_obj) },
};
static MP_DEFINE_CONST_DICT(tncrypto_globals, tncrypto_globals_table);

const mp_obj_module_t tncrypto_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&tncrypto_globals,
};

MP_REGISTER_MODULE(MP_QSTR__tncrypto, tncrypto_user_cmodule);
