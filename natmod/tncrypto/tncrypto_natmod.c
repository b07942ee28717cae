// _tncrypto as a MicroPython dynamic native module (py/dynruntime.mk), for boards that run
// stock MicroPython: `import _tncrypto` then behaves like the built-in C module of
// cmodules/tncrypto/mod_tncrypto.c (same names, arguments, results and errors), over the same
// crypto core (cmodules/core). Differences forced by the native-module runtime: the functions
// are registered at import (no ROM tables of qstrs), result buffers are allocated with m_malloc
// then copied into the bytes object (no vstr API), error messages carry no formatted numbers.
#include "py/dynruntime.h"
#include "tn_crypto.h"
#include "tn_internal.h"

// The core calls memcpy/memset; route them to the firmware's (natmods have no libc). On rv32imc
// the runtime link brings picolibc's libc.a, which has them already (TN_NATMOD_LIBC).
#ifndef TN_NATMOD_LIBC
void *memcpy(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}
void *memset(void *s, int c, size_t n) {
    return mp_fun_table.memset_(s, c, n);
}
void *memmove(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}
#endif

// ---- helpers -------------------------------------------------------------------
static const uint8_t *get_buf(mp_obj_t o, size_t *len) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, MP_BUFFER_READ);
    *len = bi.len;
    return bi.buf;
}

static const uint8_t *get_fixed(mp_obj_t o, size_t want, const char *msg) {
    size_t len;
    const uint8_t *p = get_buf(o, &len);
    if (len != want) {
        mp_raise_ValueError(msg);
    }
    return p;
}

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
        mp_raise_ValueError("out buffer too small");
    }
    return bi.buf;
}

static void check_alias(const uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen) {
    if (inlen && out != in && out < in + inlen && in < out + outlen) {
        mp_raise_ValueError("out overlaps input at a different offset");
    }
}

// A heap buffer for a result of n bytes (at least 1 so m_malloc never sees 0).
static uint8_t *tmp_alloc(size_t n) {
    return m_malloc(n ? n : 1);
}

static mp_obj_t tmp_to_bytes(uint8_t *p, size_t n) {
    mp_obj_t o = mp_obj_new_bytes(p, n);
    tn_wipe(p, n);
    m_free(p);
    return o;
}

// f(key, nonce, data, ad=None, out=None), parsed like the built-in module does. The table is a
// local: in a native module qstr values are only known at load time.
enum { ARG_key, ARG_nonce, ARG_data, ARG_ad, ARG_out };
static void parse_aead(size_t n_args, const mp_obj_t *pos, mp_map_t *kw, mp_arg_val_t *a) {
    mp_arg_t allowed[] = {
        { MP_QSTR_key, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_nonce, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_data, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_ad, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_out, MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_parse_all(n_args, pos, kw, MP_ARRAY_SIZE(allowed), allowed, a);
}

// ---- utilities -----------------------------------------------------------------
static mp_obj_t tnc_ct_equal(mp_obj_t a, mp_obj_t b) {
    size_t la, lb;
    const uint8_t *pa = get_buf(a, &la), *pb = get_buf(b, &lb);
    if (la != lb) {
        return mp_const_false;
    }
    return mp_obj_new_bool(tn_ct_equal(pa, pb, la));
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_ct_equal_obj, tnc_ct_equal);

// ---- X25519 --------------------------------------------------------------------
static mp_obj_t tnc_x25519(mp_obj_t scalar, mp_obj_t point) {
    const uint8_t *k = get_fixed(scalar, 32, "scalar must be 32 bytes");
    const uint8_t *u = get_fixed(point, 32, "point must be 32 bytes");
    uint8_t out[32];
    if (tn_x25519(out, k, u) != 0) {
        tn_wipe(out, sizeof(out));
        mp_raise_ValueError("X25519 result is all zero (low-order point)");
    }
    mp_obj_t o = mp_obj_new_bytes(out, 32);
    tn_wipe(out, sizeof(out));
    return o;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_x25519_obj, tnc_x25519);

static mp_obj_t tnc_x25519_base(mp_obj_t scalar) {
    uint8_t out[32];
    tn_x25519_base(out, get_fixed(scalar, 32, "scalar must be 32 bytes"));
    return mp_obj_new_bytes(out, 32);
}
static MP_DEFINE_CONST_FUN_OBJ_1(tnc_x25519_base_obj, tnc_x25519_base);

// ---- AEADs: f(key, nonce, data, ad=None, out=None) ---------------------------------
typedef void (*seal_fn)(uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, size_t, const uint8_t *, size_t);
typedef int (*open_fn)(uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, size_t, const uint8_t *, size_t);

static mp_obj_t do_seal(size_t n_args, const mp_obj_t *pos, mp_map_t *kw, size_t nlen, seal_fn fn) {
    mp_arg_val_t a[5];
    parse_aead(n_args, pos, kw, a);
    const uint8_t *key = get_fixed(a[ARG_key].u_obj, 32, "key must be 32 bytes");
    const uint8_t *nonce = get_fixed(a[ARG_nonce].u_obj, nlen, nlen == 12 ? "nonce must be 12 bytes" : "nonce must be 24 bytes");
    size_t len, adlen;
    const uint8_t *pt = get_buf(a[ARG_data].u_obj, &len);
    const uint8_t *ad = get_opt(a[ARG_ad].u_obj, &adlen);
    mp_obj_t out_o = a[ARG_out].u_obj;
    if (out_o != mp_const_none) {
        uint8_t *out = get_out(out_o, len + 16);
        check_alias(out, len + 16, pt, len);
        fn(out, key, nonce, ad, adlen, pt, len);
        return MP_OBJ_NEW_SMALL_INT(len + 16);
    }
    uint8_t *buf = tmp_alloc(len + 16);
    fn(buf, key, nonce, ad, adlen, pt, len);
    return tmp_to_bytes(buf, len + 16);
}

static mp_obj_t do_open(size_t n_args, const mp_obj_t *pos, mp_map_t *kw, size_t nlen, open_fn fn) {
    mp_arg_val_t a[5];
    parse_aead(n_args, pos, kw, a);
    const uint8_t *key = get_fixed(a[ARG_key].u_obj, 32, "key must be 32 bytes");
    const uint8_t *nonce = get_fixed(a[ARG_nonce].u_obj, nlen, nlen == 12 ? "nonce must be 12 bytes" : "nonce must be 24 bytes");
    size_t len, adlen;
    const uint8_t *ct = get_buf(a[ARG_data].u_obj, &len);
    const uint8_t *ad = get_opt(a[ARG_ad].u_obj, &adlen);
    mp_obj_t out_o = a[ARG_out].u_obj;
    bool has_out = out_o != mp_const_none;
    if (len < 16) {
        return has_out ? MP_OBJ_NEW_SMALL_INT(-1) : mp_const_none;
    }
    if (has_out) {
        uint8_t *out = get_out(out_o, len - 16);
        check_alias(out, len - 16, ct, len);
        int r = fn(out, key, nonce, ad, adlen, ct, len);
        return MP_OBJ_NEW_SMALL_INT(r == 0 ? (mp_int_t)(len - 16) : -1);
    }
    uint8_t *buf = tmp_alloc(len - 16);
    if (fn(buf, key, nonce, ad, adlen, ct, len) != 0) {
        m_free(buf);
        return mp_const_none;
    }
    return tmp_to_bytes(buf, len - 16);
}

static mp_obj_t tnc_aead_seal(size_t n, const mp_obj_t *p, mp_map_t *kw) {
    return do_seal(n, p, kw, 12, tn_aead_seal);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(tnc_aead_seal_obj, 3, tnc_aead_seal);
static mp_obj_t tnc_aead_open(size_t n, const mp_obj_t *p, mp_map_t *kw) {
    return do_open(n, p, kw, 12, tn_aead_open);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(tnc_aead_open_obj, 3, tnc_aead_open);
static mp_obj_t tnc_xaead_seal(size_t n, const mp_obj_t *p, mp_map_t *kw) {
    return do_seal(n, p, kw, 24, tn_xaead_seal);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(tnc_xaead_seal_obj, 3, tnc_xaead_seal);
static mp_obj_t tnc_xaead_open(size_t n, const mp_obj_t *p, mp_map_t *kw) {
    return do_open(n, p, kw, 24, tn_xaead_open);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(tnc_xaead_open_obj, 3, tnc_xaead_open);

// ---- secretbox / box -----------------------------------------------------------
static mp_obj_t tnc_secretbox_seal(size_t n_args, const mp_obj_t *args) {
    const uint8_t *key = get_fixed(args[0], 32, "key must be 32 bytes");
    const uint8_t *nonce = get_fixed(args[1], 24, "nonce must be 24 bytes");
    size_t len;
    const uint8_t *m = get_buf(args[2], &len);
    if (n_args > 3 && args[3] != mp_const_none) {
        uint8_t *out = get_out(args[3], len + 16);
        check_alias(out + 16, len, m, len);
        tn_secretbox_seal(out, m, len, nonce, key);
        return MP_OBJ_NEW_SMALL_INT(len + 16);
    }
    uint8_t *buf = tmp_alloc(len + 16);
    tn_secretbox_seal(buf, m, len, nonce, key);
    return tmp_to_bytes(buf, len + 16);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnc_secretbox_seal_obj, 3, 4, tnc_secretbox_seal);

static mp_obj_t tnc_secretbox_open(size_t n_args, const mp_obj_t *args) {
    const uint8_t *key = get_fixed(args[0], 32, "key must be 32 bytes");
    const uint8_t *nonce = get_fixed(args[1], 24, "nonce must be 24 bytes");
    size_t len;
    const uint8_t *c = get_buf(args[2], &len);
    bool has_out = n_args > 3 && args[3] != mp_const_none;
    if (len < 16) {
        return has_out ? MP_OBJ_NEW_SMALL_INT(-1) : mp_const_none;
    }
    if (has_out) {
        uint8_t *out = get_out(args[3], len - 16);
        check_alias(out, len - 16, c + 16, len - 16);
        int r = tn_secretbox_open(out, c, len, nonce, key);
        return MP_OBJ_NEW_SMALL_INT(r == 0 ? (mp_int_t)(len - 16) : -1);
    }
    uint8_t *buf = tmp_alloc(len - 16);
    if (tn_secretbox_open(buf, c, len, nonce, key) != 0) {
        m_free(buf);
        return mp_const_none;
    }
    return tmp_to_bytes(buf, len - 16);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnc_secretbox_open_obj, 3, 4, tnc_secretbox_open);

static mp_obj_t tnc_box_beforenm(mp_obj_t pk, mp_obj_t sk) {
    uint8_t k[32];
    int r = tn_box_beforenm(k, get_fixed(pk, 32, "public key must be 32 bytes"),
        get_fixed(sk, 32, "private key must be 32 bytes"));
    if (r != 0) {
        tn_wipe(k, sizeof(k));
        mp_raise_ValueError("box: shared point is all zero (low-order key)");
    }
    mp_obj_t o = mp_obj_new_bytes(k, 32);
    tn_wipe(k, sizeof(k));
    return o;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_box_beforenm_obj, tnc_box_beforenm);

static mp_obj_t tnc_hsalsa20(mp_obj_t in, mp_obj_t key) {
    uint8_t out[32];
    tn_hsalsa20(out, get_fixed(in, 16, "input must be 16 bytes"), get_fixed(key, 32, "key must be 32 bytes"));
    return mp_obj_new_bytes(out, 32);
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_hsalsa20_obj, tnc_hsalsa20);

// ---- BLAKE2s / HMAC / HKDF -------------------------------------------------------
static mp_obj_t tnc_blake2s(size_t n_args, const mp_obj_t *args) {
    size_t len = 0, klen = 0;
    const uint8_t *in = n_args > 0 ? get_opt(args[0], &len) : NULL;
    const uint8_t *key = n_args > 1 ? get_opt(args[1], &klen) : NULL;
    mp_int_t outlen = n_args > 2 ? mp_obj_get_int(args[2]) : 32;
    if (outlen < 1 || outlen > 32 || klen > 32) {
        mp_raise_ValueError("blake2s: outlen must be 1..32 and key at most 32 bytes");
    }
    uint8_t out[32];
    tn_blake2s(out, (size_t)outlen, key, klen, in, len);
    return mp_obj_new_bytes(out, (size_t)outlen);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnc_blake2s_obj, 0, 3, tnc_blake2s);

static uint8_t *ctx_buf(mp_obj_t st) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(st, &bi, MP_BUFFER_RW);
    if (bi.len != sizeof(tn_blake2s_ctx)) {
        mp_raise_ValueError("bad blake2s state buffer");
    }
    return bi.buf;
}

static mp_obj_t tnc_b2s_init(mp_obj_t st, mp_obj_t outlen, mp_obj_t key) {
    tn_blake2s_ctx c;
    size_t klen;
    const uint8_t *k = get_opt(key, &klen);
    mp_int_t ol = mp_obj_get_int(outlen);
    if (ol < 1 || ol > 32 || klen > 32) {
        mp_raise_ValueError("blake2s: outlen must be 1..32 and key at most 32 bytes");
    }
    uint8_t *b = ctx_buf(st);
    tn_blake2s_init(&c, (size_t)ol, k, klen);
    memcpy(b, &c, sizeof(c));
    tn_wipe(&c, sizeof(c));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(tnc_b2s_init_obj, tnc_b2s_init);

static mp_obj_t tnc_b2s_update(mp_obj_t st, mp_obj_t data) {
    tn_blake2s_ctx c;
    size_t len;
    const uint8_t *p = get_buf(data, &len);
    uint8_t *b = ctx_buf(st);
    memcpy(&c, b, sizeof(c));
    tn_blake2s_update(&c, p, len);
    memcpy(b, &c, sizeof(c));
    tn_wipe(&c, sizeof(c));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_b2s_update_obj, tnc_b2s_update);

static mp_obj_t tnc_b2s_digest(mp_obj_t st) {
    tn_blake2s_ctx c;
    uint8_t out[32];
    memcpy(&c, ctx_buf(st), sizeof(c));
    size_t n = c.outlen;
    tn_blake2s_final(&c, out);
    return mp_obj_new_bytes(out, n);
}
static MP_DEFINE_CONST_FUN_OBJ_1(tnc_b2s_digest_obj, tnc_b2s_digest);

static mp_obj_t tnc_hmac_blake2s(mp_obj_t key, mp_obj_t data) {
    size_t kl, dl;
    const uint8_t *k = get_buf(key, &kl), *d = get_buf(data, &dl);
    uint8_t out[32];
    tn_hmac_blake2s(out, k, kl, d, dl);
    return mp_obj_new_bytes(out, 32);
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_hmac_blake2s_obj, tnc_hmac_blake2s);

static mp_obj_t tnc_hkdf(mp_obj_t ck, mp_obj_t ikm, mp_obj_t n_in) {
    const uint8_t *c = get_fixed(ck, 32, "chaining key must be 32 bytes");
    size_t il;
    const uint8_t *i = get_buf(ikm, &il);
    mp_int_t n = mp_obj_get_int(n_in);
    if (n < 1 || n > 3) {
        mp_raise_ValueError("hkdf: n must be 1, 2 or 3");
    }
    uint8_t o[3][32];
    tn_hkdf(o[0], n > 1 ? o[1] : NULL, n > 2 ? o[2] : NULL, c, i, il);
    mp_obj_t items[3];
    for (mp_int_t j = 0; j < n; j++) {
        items[j] = mp_obj_new_bytes(o[j], 32);
    }
    tn_wipe(o, sizeof(o));
    return mp_obj_new_tuple((size_t)n, items);
}
static MP_DEFINE_CONST_FUN_OBJ_3(tnc_hkdf_obj, tnc_hkdf);

// ---- raw primitives for vector tests ----------------------------------------------
static mp_obj_t tnc_chacha20(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    const uint8_t *key = get_fixed(args[0], 32, "key must be 32 bytes");
    const uint8_t *nonce = get_fixed(args[1], 12, "nonce must be 12 bytes");
    mp_int_t ctr = mp_obj_get_int(args[2]);
    size_t len;
    const uint8_t *in = get_buf(args[3], &len);
    uint8_t *buf = tmp_alloc(len);
    tn_chacha20_xor(buf, in, len, key, nonce, (uint32_t)ctr);
    return tmp_to_bytes(buf, len);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnc_chacha20_obj, 4, 4, tnc_chacha20);

static mp_obj_t tnc_poly1305(mp_obj_t key, mp_obj_t data) {
    const uint8_t *k = get_fixed(key, 32, "key must be 32 bytes");
    size_t len;
    const uint8_t *m = get_buf(data, &len);
    uint8_t tag[16];
    tn_poly1305(tag, m, len, k);
    return mp_obj_new_bytes(tag, 16);
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnc_poly1305_obj, tnc_poly1305);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY

    mp_store_global(MP_QSTR___name__, MP_OBJ_NEW_QSTR(MP_QSTR__tncrypto));
    mp_store_global(MP_QSTR_x25519, MP_OBJ_FROM_PTR(&tnc_x25519_obj));
    mp_store_global(MP_QSTR_x25519_base, MP_OBJ_FROM_PTR(&tnc_x25519_base_obj));
    mp_store_global(MP_QSTR_aead_seal, MP_OBJ_FROM_PTR(&tnc_aead_seal_obj));
    mp_store_global(MP_QSTR_aead_open, MP_OBJ_FROM_PTR(&tnc_aead_open_obj));
    mp_store_global(MP_QSTR_xaead_seal, MP_OBJ_FROM_PTR(&tnc_xaead_seal_obj));
    mp_store_global(MP_QSTR_xaead_open, MP_OBJ_FROM_PTR(&tnc_xaead_open_obj));
    mp_store_global(MP_QSTR_secretbox_seal, MP_OBJ_FROM_PTR(&tnc_secretbox_seal_obj));
    mp_store_global(MP_QSTR_secretbox_open, MP_OBJ_FROM_PTR(&tnc_secretbox_open_obj));
    mp_store_global(MP_QSTR_box_beforenm, MP_OBJ_FROM_PTR(&tnc_box_beforenm_obj));
    mp_store_global(MP_QSTR_hsalsa20, MP_OBJ_FROM_PTR(&tnc_hsalsa20_obj));
    mp_store_global(MP_QSTR_blake2s, MP_OBJ_FROM_PTR(&tnc_blake2s_obj));
    mp_store_global(MP_QSTR_blake2s_init, MP_OBJ_FROM_PTR(&tnc_b2s_init_obj));
    mp_store_global(MP_QSTR_blake2s_update, MP_OBJ_FROM_PTR(&tnc_b2s_update_obj));
    mp_store_global(MP_QSTR_blake2s_digest, MP_OBJ_FROM_PTR(&tnc_b2s_digest_obj));
    mp_store_global(MP_QSTR_BLAKE2S_CTX_SIZE, MP_OBJ_NEW_SMALL_INT(sizeof(tn_blake2s_ctx)));
    mp_store_global(MP_QSTR_hmac_blake2s, MP_OBJ_FROM_PTR(&tnc_hmac_blake2s_obj));
    mp_store_global(MP_QSTR_hkdf, MP_OBJ_FROM_PTR(&tnc_hkdf_obj));
    mp_store_global(MP_QSTR_ct_equal, MP_OBJ_FROM_PTR(&tnc_ct_equal_obj));
    mp_store_global(MP_QSTR_chacha20, MP_OBJ_FROM_PTR(&tnc_chacha20_obj));
    mp_store_global(MP_QSTR_poly1305, MP_OBJ_FROM_PTR(&tnc_poly1305_obj));

    MP_DYNRUNTIME_INIT_EXIT
}
