// _tnwg as a MicroPython dynamic native module, for stock firmware: the same Python API as the
// built-in cmodules/tnwg/mod_tnwg.c (Device, its methods, sizes(), the constants), over the same
// engine (cmodules/core/wg*.c). Differences forced by the native-module runtime:
//  - no nlr_push here, so the engine never calls Python: randomness comes from a 128-byte pool,
//    topped up through the rng callable around the only engine calls that draw from it (tick:
//    initiations; input of handshake/cookie messages). A handshake takes 36 bytes, so the rng is
//    called about once per handshake, never on the data path (input of data, output). A pool
//    that runs dry makes the engine drop the handshake (stats()['drop_rng']), as a failing rng
//    does in the built-in module;
//  - the Device type and all tables are built at import time; messages carry no numbers.
#include "py/dynruntime.h"
#include "wg.h"

#ifdef TN_NATMOD_LIBC
#include <string.h>
#else
void *memcpy(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}
void *memset(void *s, int c, size_t n) {
    return mp_fun_table.memset_(s, c, n);
}
void *memmove(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}
// Only for public values (peer lookup by public key, index tables): not constant time.
int memcmp(const void *a, const void *b, size_t n) {
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}
#endif

#define POOL_SIZE (128)
#define POOL_LOW (96)

typedef struct _tnwg_device_obj_t {
    mp_obj_base_t base;
    mp_obj_t rng;
    mp_uint_t last_ticks;
    uint32_t now32;
    uint16_t pool_len;
    uint8_t pool[POOL_SIZE];
    wg_device dev;
    wg_peer peers[];
} tnwg_device_obj_t;

mp_obj_full_type_t tnwg_device_type; // not static: natmod bss symbols must be global
mp_map_elem_t tnwg_device_locals_table[17];
static MP_DEFINE_CONST_DICT(tnwg_device_locals, tnwg_device_locals_table);

static int pool_rng(void *ctx, uint8_t *out, size_t n) {
    tnwg_device_obj_t *self = ctx;
    if (n > self->pool_len) {
        return -1;
    }
    self->pool_len -= (uint16_t)n;
    memcpy(out, self->pool + self->pool_len, n);
    memset(self->pool + self->pool_len, 0, n);
    return 0;
}

// Top the pool up from the Python rng (exceptions propagate normally: the engine is not running).
static void pool_fill(tnwg_device_obj_t *self) {
    if (self->pool_len >= POOL_LOW) {
        return;
    }
    size_t want = POOL_SIZE - self->pool_len;
    mp_obj_t arg = MP_OBJ_NEW_SMALL_INT(want);
    mp_obj_t b = mp_call_function_n_kw(self->rng, 1, 0, &arg);
    mp_buffer_info_t bi;
    mp_get_buffer_raise(b, &bi, MP_BUFFER_READ);
    if (bi.len >= want) {
        memcpy(self->pool + self->pool_len, bi.buf, want);
        self->pool_len = POOL_SIZE;
    }
}

#define TNWG_TICKS_MASK ((mp_uint_t)0x3fffffff)
static uint32_t get_now_dev(tnwg_device_obj_t *self, mp_obj_t o) {
    mp_uint_t t = (mp_uint_t)mp_obj_get_int_truncated(o) & TNWG_TICKS_MASK;
    mp_uint_t d = (t - self->last_ticks) & TNWG_TICKS_MASK;
    if (d <= (TNWG_TICKS_MASK >> 1)) {
        self->now32 += (uint32_t)d;
        self->last_ticks = t;
    }
    return self->now32;
}

static const uint8_t *get_key32(mp_obj_t o) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, MP_BUFFER_READ);
    if (bi.len != 32) {
        mp_raise_ValueError("key must be 32 bytes");
    }
    return bi.buf;
}

static void put_res(mp_obj_t res, const wg_out *o) {
    if (res == mp_const_none) {
        return;
    }
    mp_buffer_info_t bi;
    mp_get_buffer_raise(res, &bi, MP_BUFFER_WRITE);
    if (bi.len < 3 * sizeof(int32_t) || bi.typecode != 'i') {
        mp_raise_ValueError("res must be array('i') of 3");
    }
    int32_t v[3] = {o->peer, (int32_t)o->off, (int32_t)o->len};
    memcpy(bi.buf, v, sizeof(v));
}

static mp_obj_t tnwg_device_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw,
    const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 4, 4, false);
    const uint8_t *priv = get_key32(args[0]);
    mp_int_t cap = mp_obj_get_int(args[1]);
    if (cap < 1 || cap > 4096) {
        mp_raise_ValueError("max_peers must be 1..4096");
    }
    tnwg_device_obj_t *self = m_malloc(sizeof(tnwg_device_obj_t) + (size_t)cap * sizeof(wg_peer));
    memset(self, 0, sizeof(tnwg_device_obj_t) + (size_t)cap * sizeof(wg_peer));
    self->base.type = type;
    self->rng = args[2];
    self->last_ticks = (mp_uint_t)mp_obj_get_int_truncated(args[3]) & TNWG_TICKS_MASK;
    pool_fill(self); // also checks that rng is callable and returns bytes
    if (wg_device_init(&self->dev, priv, self->peers, (uint16_t)cap, pool_rng, self, 0) != 0) {
        mp_raise_ValueError("device init");
    }
    return MP_OBJ_FROM_PTR(self);
}

static mp_obj_t tnwg_add_peer(mp_obj_t self_in, mp_obj_t pub) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    int r = wg_peer_add(&self->dev, get_key32(pub));
    if (r < 0) {
        mp_raise_ValueError("peer table full or bad key");
    }
    return MP_OBJ_NEW_SMALL_INT(r);
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnwg_add_peer_obj, tnwg_add_peer);

static mp_obj_t tnwg_find_peer(mp_obj_t self_in, mp_obj_t pub) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return MP_OBJ_NEW_SMALL_INT(wg_peer_find(&self->dev, get_key32(pub)));
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnwg_find_peer_obj, tnwg_find_peer);

static mp_obj_t tnwg_remove_peer(mp_obj_t self_in, mp_obj_t slot) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    wg_peer_remove(&self->dev, mp_obj_get_int(slot));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnwg_remove_peer_obj, tnwg_remove_peer);

static mp_obj_t tnwg_input(size_t n_args, const mp_obj_t *args) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t bi, si = {0};
    mp_get_buffer_raise(args[1], &bi, MP_BUFFER_RW);
    mp_int_t n = mp_obj_get_int(args[2]);
    if (n < 0 || (size_t)n > bi.len) {
        mp_raise_ValueError("n out of range");
    }
    if (args[4] != mp_const_none) {
        mp_get_buffer_raise(args[4], &si, MP_BUFFER_READ);
    }
    // Only handshake messages (types 1..3, not data = 4) can consume randomness.
    if (n > 0 && ((uint8_t *)bi.buf)[0] != 4) {
        pool_fill(self);
    }
    wg_out o;
    int r = wg_input(&self->dev, get_now_dev(self, args[3]), si.buf, si.len, bi.buf, (size_t)n, bi.len, &o);
    put_res(args[5], &o);
    pool_fill(self); // top up after a handshake, so the data path that follows never calls rng
    return MP_OBJ_NEW_SMALL_INT(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnwg_input_obj, 6, 6, tnwg_input);

static mp_obj_t tnwg_output(size_t n_args, const mp_obj_t *args) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[2], &bi, MP_BUFFER_RW);
    mp_int_t n = mp_obj_get_int(args[3]);
    if (n < 0 || (size_t)n + WG_DATA_OFFSET > bi.len) {
        mp_raise_ValueError("n out of range");
    }
    wg_out o; // no randomness here: initiations are built by tick()
    int r = wg_output(&self->dev, mp_obj_get_int(args[1]), get_now_dev(self, args[4]), bi.buf, (size_t)n,
        bi.len, &o);
    put_res(args[5], &o);
    return MP_OBJ_NEW_SMALL_INT(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnwg_output_obj, 6, 6, tnwg_output);

static mp_obj_t tnwg_tick(size_t n_args, const mp_obj_t *args) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[1], &bi, MP_BUFFER_RW);
    pool_fill(self);
    wg_out o;
    int r = wg_tick(&self->dev, get_now_dev(self, args[2]), bi.buf, bi.len, &o);
    put_res(args[3], &o);
    pool_fill(self);
    return MP_OBJ_NEW_SMALL_INT(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnwg_tick_obj, 4, 4, tnwg_tick);

static mp_obj_t tnwg_initiate(mp_obj_t self_in, mp_obj_t slot, mp_obj_t now) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    wg_initiate(&self->dev, mp_obj_get_int(slot), get_now_dev(self, now));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(tnwg_initiate_obj, tnwg_initiate);

static mp_obj_t tnwg_event(mp_obj_t self_in, mp_obj_t res) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    wg_out o = {-1, 0, 0};
    int ev = wg_event(&self->dev, &o.peer);
    put_res(res, &o);
    return MP_OBJ_NEW_SMALL_INT(ev);
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnwg_event_obj, tnwg_event);

static mp_obj_t tnwg_can_send(mp_obj_t self_in, mp_obj_t slot, mp_obj_t now) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return mp_obj_new_bool(wg_peer_can_send(&self->dev, mp_obj_get_int(slot), get_now_dev(self, now)));
}
static MP_DEFINE_CONST_FUN_OBJ_3(tnwg_can_send_obj, tnwg_can_send);

static mp_obj_t new_u64(uint64_t v) {
    if (v <= 0xffffffffu) {
        return mp_obj_new_int_from_uint((mp_uint_t)v);
    }
    mp_obj_t hi = mp_obj_new_int_from_uint((mp_uint_t)(v >> 32));
    mp_obj_t sh = mp_binary_op(MP_BINARY_OP_LSHIFT, hi, MP_OBJ_NEW_SMALL_INT(32));
    return mp_binary_op(MP_BINARY_OP_OR, sh, mp_obj_new_int_from_uint((mp_uint_t)(v & 0xffffffffu)));
}

static mp_obj_t tnwg_stats(mp_obj_t self_in) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    const struct { qstr q; uint16_t off; } f[] = {
        { MP_QSTR_rx_datagrams, offsetof(wg_stats, rx_datagrams) }, { MP_QSTR_rx_data, offsetof(wg_stats, rx_data) }, { MP_QSTR_rx_keepalive, offsetof(wg_stats, rx_keepalive) }, { MP_QSTR_tx_data, offsetof(wg_stats, tx_data) }, { MP_QSTR_tx_keepalive, offsetof(wg_stats, tx_keepalive) },
        { MP_QSTR_rx_initiation, offsetof(wg_stats, rx_initiation) }, { MP_QSTR_rx_response, offsetof(wg_stats, rx_response) }, { MP_QSTR_rx_cookie, offsetof(wg_stats, rx_cookie) }, { MP_QSTR_tx_initiation, offsetof(wg_stats, tx_initiation) },
        { MP_QSTR_tx_response, offsetof(wg_stats, tx_response) }, { MP_QSTR_tx_cookie, offsetof(wg_stats, tx_cookie) }, { MP_QSTR_handshakes, offsetof(wg_stats, handshakes) }, { MP_QSTR_drop_short, offsetof(wg_stats, drop_short) }, { MP_QSTR_drop_type, offsetof(wg_stats, drop_type) },
        { MP_QSTR_drop_mac1, offsetof(wg_stats, drop_mac1) }, { MP_QSTR_drop_mac2, offsetof(wg_stats, drop_mac2) }, { MP_QSTR_drop_rate, offsetof(wg_stats, drop_rate) }, { MP_QSTR_drop_handshake, offsetof(wg_stats, drop_handshake) }, { MP_QSTR_drop_peer, offsetof(wg_stats, drop_peer) },
        { MP_QSTR_drop_timestamp, offsetof(wg_stats, drop_timestamp) }, { MP_QSTR_drop_index, offsetof(wg_stats, drop_index) }, { MP_QSTR_drop_replay, offsetof(wg_stats, drop_replay) }, { MP_QSTR_drop_auth, offsetof(wg_stats, drop_auth) },
        { MP_QSTR_drop_expired, offsetof(wg_stats, drop_expired) }, { MP_QSTR_drop_inner, offsetof(wg_stats, drop_inner) }, { MP_QSTR_drop_cookie, offsetof(wg_stats, drop_cookie) }, { MP_QSTR_drop_rng, offsetof(wg_stats, drop_rng) },
    };
    size_t n = sizeof(f) / sizeof(f[0]);
    mp_obj_t d = mp_obj_new_dict(n);
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, (const uint8_t *)&self->dev.stats + f[i].off, 4);
        mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(f[i].q), mp_obj_new_int_from_uint(v));
    }
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_1(tnwg_stats_obj, tnwg_stats);

static mp_obj_t tnwg_peer_info(mp_obj_t self_in, mp_obj_t slot_in) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_int_t slot = mp_obj_get_int(slot_in);
    if (slot < 0 || slot >= self->dev.capacity || !self->peers[slot].in_use) {
        mp_raise_ValueError("no such peer");
    }
    const wg_peer *p = &self->peers[slot];
    mp_obj_t d = mp_obj_new_dict(6);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_rx_bytes), new_u64(p->rx_bytes));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_tx_bytes), new_u64(p->tx_bytes));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_last_handshake_ms),
        p->has_last_handshake ? mp_obj_new_int_from_uint(p->last_handshake_ms) : mp_const_none);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_current_index),
        p->kp_current.valid ? mp_obj_new_int_from_uint(p->kp_current.local_index) : mp_const_none);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_send_counter), new_u64(p->kp_current.send_counter));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_public_key), mp_obj_new_bytes(p->remote_static, 32));
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnwg_peer_info_obj, tnwg_peer_info);

static mp_obj_t tnwg_set_under_load(mp_obj_t self_in, mp_obj_t on) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    wg_set_under_load(&self->dev, mp_obj_is_true(on));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnwg_set_under_load_obj, tnwg_set_under_load);

static mp_obj_t tnwg_set_wallclock(mp_obj_t self_in, mp_obj_t now, mp_obj_t unix_s) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    uint32_t s = (uint32_t)mp_obj_get_int_truncated(unix_s);
    wg_set_wallclock(&self->dev, get_now_dev(self, now), (uint64_t)s * 1000u);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(tnwg_set_wallclock_obj, tnwg_set_wallclock);

static mp_obj_t tnwg_tai64n(mp_obj_t self_in) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    uint8_t t[WG_TAI64N_SIZE];
    wg_tai64n_get(&self->dev, t);
    return mp_obj_new_bytes(t, sizeof(t));
}
static MP_DEFINE_CONST_FUN_OBJ_1(tnwg_tai64n_obj, tnwg_tai64n);

static mp_obj_t tnwg_set_tai64n_floor(mp_obj_t self_in, mp_obj_t f) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_buffer_info_t bi;
    mp_get_buffer_raise(f, &bi, MP_BUFFER_READ);
    if (bi.len != WG_TAI64N_SIZE) {
        mp_raise_ValueError("floor must be 12 bytes");
    }
    wg_tai64n_set_floor(&self->dev, bi.buf);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnwg_set_tai64n_floor_obj, tnwg_set_tai64n_floor);

static mp_obj_t tnwg_pubkey(mp_obj_t self_in) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return mp_obj_new_bytes(self->dev.static_pub, 32);
}
static MP_DEFINE_CONST_FUN_OBJ_1(tnwg_pubkey_obj, tnwg_pubkey);

static mp_obj_t tnwg_wipe(mp_obj_t self_in) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    wg_device_wipe(&self->dev);
    memset(self->pool, 0, sizeof(self->pool));
    self->pool_len = 0;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(tnwg_wipe_obj, tnwg_wipe);

static mp_obj_t tnwg_sizes(void) {
    mp_obj_t d = mp_obj_new_dict(5);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_peer), MP_OBJ_NEW_SMALL_INT(sizeof(wg_peer)));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_keypair), MP_OBJ_NEW_SMALL_INT(sizeof(wg_keypair)));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_replay), MP_OBJ_NEW_SMALL_INT(sizeof(wg_replay)));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_device), MP_OBJ_NEW_SMALL_INT(sizeof(tnwg_device_obj_t)));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_window), MP_OBJ_NEW_SMALL_INT(WG_COUNTER_WINDOW_SIZE));
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_0(tnwg_sizes_obj, tnwg_sizes);

// (qstrs are spelled out: mpy_ld.py finds them by scanning the source for MP_QSTR_ tokens)
#define METHOD(i, q, obj) \
    tnwg_device_locals_table[i] = (mp_map_elem_t){ MP_OBJ_NEW_QSTR(q), MP_OBJ_FROM_PTR(&obj) }
#define CONST(q, v) mp_store_global(q, MP_OBJ_NEW_SMALL_INT(v))

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY

    tnwg_device_type.base.type = (void *)&mp_type_type;
    tnwg_device_type.flags = MP_TYPE_FLAG_NONE;
    tnwg_device_type.name = MP_QSTR_Device;
    MP_OBJ_TYPE_SET_SLOT(&tnwg_device_type, make_new, tnwg_device_make_new, 0);
    METHOD(0, MP_QSTR_add_peer, tnwg_add_peer_obj);
    METHOD(1, MP_QSTR_find_peer, tnwg_find_peer_obj);
    METHOD(2, MP_QSTR_remove_peer, tnwg_remove_peer_obj);
    METHOD(3, MP_QSTR_input, tnwg_input_obj);
    METHOD(4, MP_QSTR_output, tnwg_output_obj);
    METHOD(5, MP_QSTR_tick, tnwg_tick_obj);
    METHOD(6, MP_QSTR_initiate, tnwg_initiate_obj);
    METHOD(7, MP_QSTR_event, tnwg_event_obj);
    METHOD(8, MP_QSTR_can_send, tnwg_can_send_obj);
    METHOD(9, MP_QSTR_stats, tnwg_stats_obj);
    METHOD(10, MP_QSTR_peer_info, tnwg_peer_info_obj);
    METHOD(11, MP_QSTR_set_under_load, tnwg_set_under_load_obj);
    METHOD(12, MP_QSTR_set_wallclock, tnwg_set_wallclock_obj);
    METHOD(13, MP_QSTR_tai64n, tnwg_tai64n_obj);
    METHOD(14, MP_QSTR_set_tai64n_floor, tnwg_set_tai64n_floor_obj);
    METHOD(15, MP_QSTR_pubkey, tnwg_pubkey_obj);
    METHOD(16, MP_QSTR_wipe, tnwg_wipe_obj);
    MP_OBJ_TYPE_SET_SLOT(&tnwg_device_type, locals_dict, (void *)&tnwg_device_locals, 1);

    mp_store_global(MP_QSTR___name__, MP_OBJ_NEW_QSTR(MP_QSTR__tnwg));
    mp_store_global(MP_QSTR_Device, MP_OBJ_FROM_PTR(&tnwg_device_type));
    mp_store_global(MP_QSTR_sizes, MP_OBJ_FROM_PTR(&tnwg_sizes_obj));
    CONST(MP_QSTR_DATA_OFFSET, WG_DATA_OFFSET);
    CONST(MP_QSTR_NONE, WG_NONE);
    CONST(MP_QSTR_DATAGRAM, WG_DATAGRAM);
    CONST(MP_QSTR_PACKET, WG_PACKET);
    CONST(MP_QSTR_ERR_NO_SESSION, WG_ERR_NO_SESSION);
    CONST(MP_QSTR_ERR_BUFFER, WG_ERR_BUFFER);
    CONST(MP_QSTR_ERR_PEER, WG_ERR_PEER);
    CONST(MP_QSTR_ERR_SIZE, WG_ERR_SIZE);
    CONST(MP_QSTR_EV_HANDSHAKE_COMPLETE, WG_EV_HANDSHAKE_COMPLETE);
    CONST(MP_QSTR_EV_KEYPAIR_EXPIRED, WG_EV_KEYPAIR_EXPIRED);
    CONST(MP_QSTR_EV_NEEDS_HANDSHAKE, WG_EV_NEEDS_HANDSHAKE);
    CONST(MP_QSTR_EV_HANDSHAKE_FAILED, WG_EV_HANDSHAKE_FAILED);
    CONST(MP_QSTR_EV_KEYS_ZEROED, WG_EV_KEYS_ZEROED);
    CONST(MP_QSTR_REKEY_AFTER_TIME_MS, WG_REKEY_AFTER_TIME_MS);
    CONST(MP_QSTR_REJECT_AFTER_TIME_MS, WG_REJECT_AFTER_TIME_MS);
    CONST(MP_QSTR_KEEPALIVE_TIMEOUT_MS, WG_KEEPALIVE_TIMEOUT_MS);
    CONST(MP_QSTR_REKEY_TIMEOUT_MS, WG_REKEY_TIMEOUT_MS);

    MP_DYNRUNTIME_INIT_EXIT
}
