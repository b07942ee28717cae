// _tnwg: MicroPython binding of the WireGuard engine (cmodules/core/wg.h).
//
//   dev = _tnwg.Device(priv32, max_peers, rng, now_ms)   rng(n) -> n random bytes
//   slot = dev.add_peer(pub32); dev.find_peer(pub32); dev.remove_peer(slot)
//   kind = dev.input(buf, n, now, src, res)     res: array('i', [0]*3) <- peer, off, len
//   kind = dev.output(slot, buf, n, now, res)   plaintext at buf[DATA_OFFSET:DATA_OFFSET+n]
//   kind = dev.tick(buf, now, res)              call until NONE
//   dev.initiate(slot, now); ev = dev.event(res)   res[0] <- slot
//   dev.stats(), dev.peer_info(slot), dev.set_under_load(b), dev.set_wallclock(now, unix_s),
//   dev.tai64n(), dev.set_tai64n_floor(b12), dev.pubkey(), dev.can_send(slot, now)
//
// input/output/tick work in place in the caller's buffer and allocate
// nothing (results go to `res`), so the data path runs under heap_lock().
// The rng callable is called only for handshakes and cookies; if it raises,
// that handshake is abandoned (counted in stats()["drop_rng"]).
// `now` is time.ticks_ms() or any millisecond counter (see get_now_dev).
#include <string.h>
#include "py/runtime.h"
#include "py/objarray.h"
#include "wg.h"

typedef struct _tnwg_device_obj_t {
    mp_obj_base_t base;
    mp_obj_t rng;
    mp_uint_t last_ticks; // last `now` argument seen
    uint32_t now32;       // engine clock: ms, wraps at 2^32 only
    wg_device dev;
    wg_peer peers[];
} tnwg_device_obj_t;

static int tnwg_rng(void *ctx, uint8_t *out, size_t n) {
    tnwg_device_obj_t *self = ctx;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t b = mp_call_function_1(self->rng, MP_OBJ_NEW_SMALL_INT(n));
        mp_buffer_info_t bi;
        mp_get_buffer_raise(b, &bi, MP_BUFFER_READ);
        int ok = bi.len >= n;
        if (ok) {
            memcpy(out, bi.buf, n);
        }
        nlr_pop();
        return ok ? 0 : -1;
    }
    return -1; // exception from the callable: the handshake is abandoned
}

// `now` may be time.ticks_ms() (wraps at 2^30 on MicroPython) or any plain
// millisecond counter: the engine clock advances by the difference modulo
// 2^30 since the previous call (calls must be < 2^29 ms = 6 days apart; a
// step backwards counts as no time passing).
#define TNWG_TICKS_MASK ((mp_uint_t)0x3fffffff)
static uint32_t get_now_dev(struct _tnwg_device_obj_t *self, mp_obj_t o) {
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
        mp_raise_ValueError(MP_ERROR_TEXT("key must be 32 bytes"));
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
        mp_raise_ValueError(MP_ERROR_TEXT("res must be array('i') of 3"));
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
        mp_raise_ValueError(MP_ERROR_TEXT("max_peers must be 1..4096"));
    }
    if (!mp_obj_is_callable(args[2])) {
        mp_raise_TypeError(MP_ERROR_TEXT("rng must be callable"));
    }
    tnwg_device_obj_t *self = mp_obj_malloc_var(tnwg_device_obj_t, peers, wg_peer, cap, type);
    self->rng = args[2];
    self->last_ticks = (mp_uint_t)mp_obj_get_int_truncated(args[3]) & TNWG_TICKS_MASK;
    self->now32 = 0;
    if (wg_device_init(&self->dev, priv, self->peers, (uint16_t)cap, tnwg_rng, self, 0) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("device init"));
    }
    return MP_OBJ_FROM_PTR(self);
}

static mp_obj_t tnwg_add_peer(mp_obj_t self_in, mp_obj_t pub) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    int r = wg_peer_add(&self->dev, get_key32(pub));
    if (r < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("peer table full or bad key"));
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

// input(buf, n, now, src, res) -> kind
static mp_obj_t tnwg_input(size_t n_args, const mp_obj_t *args) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t bi, si = {0};
    mp_get_buffer_raise(args[1], &bi, MP_BUFFER_RW);
    mp_int_t n = mp_obj_get_int(args[2]);
    if (n < 0 || (size_t)n > bi.len) {
        mp_raise_ValueError(MP_ERROR_TEXT("n out of range"));
    }
    if (args[4] != mp_const_none) {
        mp_get_buffer_raise(args[4], &si, MP_BUFFER_READ);
    }
    wg_out o;
    int r = wg_input(&self->dev, get_now_dev(self, args[3]), si.buf, si.len, bi.buf, (size_t)n, bi.len, &o);
    put_res(args[5], &o);
    return MP_OBJ_NEW_SMALL_INT(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnwg_input_obj, 6, 6, tnwg_input);

// output(slot, buf, n, now, res) -> kind
static mp_obj_t tnwg_output(size_t n_args, const mp_obj_t *args) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[2], &bi, MP_BUFFER_RW);
    mp_int_t n = mp_obj_get_int(args[3]);
    if (n < 0 || (size_t)n + WG_DATA_OFFSET > bi.len) {
        mp_raise_ValueError(MP_ERROR_TEXT("n out of range"));
    }
    wg_out o;
    int r = wg_output(&self->dev, mp_obj_get_int(args[1]), get_now_dev(self, args[4]), bi.buf, (size_t)n,
        bi.len, &o);
    put_res(args[5], &o);
    return MP_OBJ_NEW_SMALL_INT(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnwg_output_obj, 6, 6, tnwg_output);

// tick(buf, now, res) -> kind
static mp_obj_t tnwg_tick(size_t n_args, const mp_obj_t *args) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[1], &bi, MP_BUFFER_RW);
    wg_out o;
    int r = wg_tick(&self->dev, get_now_dev(self, args[2]), bi.buf, bi.len, &o);
    put_res(args[3], &o);
    return MP_OBJ_NEW_SMALL_INT(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnwg_tick_obj, 4, 4, tnwg_tick);

static mp_obj_t tnwg_initiate(mp_obj_t self_in, mp_obj_t slot, mp_obj_t now) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    wg_initiate(&self->dev, mp_obj_get_int(slot), get_now_dev(self, now));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(tnwg_initiate_obj, tnwg_initiate);

// event(res) -> ev (0 when none); res[0] <- slot
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

#define STAT(name) { MP_QSTR_##name, offsetof(wg_stats, name) }
static const struct { qstr q; uint16_t off; } stat_fields[] = {
    STAT(rx_datagrams), STAT(rx_data), STAT(rx_keepalive), STAT(tx_data), STAT(tx_keepalive),
    STAT(rx_initiation), STAT(rx_response), STAT(rx_cookie), STAT(tx_initiation),
    STAT(tx_response), STAT(tx_cookie), STAT(handshakes), STAT(drop_short), STAT(drop_type),
    STAT(drop_mac1), STAT(drop_mac2), STAT(drop_rate), STAT(drop_handshake), STAT(drop_peer),
    STAT(drop_timestamp), STAT(drop_index), STAT(drop_replay), STAT(drop_auth),
    STAT(drop_expired), STAT(drop_inner), STAT(drop_cookie), STAT(drop_rng),
};

static mp_obj_t tnwg_stats(mp_obj_t self_in) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    size_t n = sizeof(stat_fields) / sizeof(stat_fields[0]);
    mp_obj_t d = mp_obj_new_dict(n);
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, (const uint8_t *)&self->dev.stats + stat_fields[i].off, 4);
        mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(stat_fields[i].q), mp_obj_new_int_from_uint(v));
    }
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_1(tnwg_stats_obj, tnwg_stats);

static mp_obj_t tnwg_peer_info(mp_obj_t self_in, mp_obj_t slot_in) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_int_t slot = mp_obj_get_int(slot_in);
    if (slot < 0 || slot >= self->dev.capacity || !self->peers[slot].in_use) {
        mp_raise_ValueError(MP_ERROR_TEXT("no such peer"));
    }
    const wg_peer *p = &self->peers[slot];
    mp_obj_t d = mp_obj_new_dict(6);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_rx_bytes), mp_obj_new_int_from_uint(p->rx_bytes));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_tx_bytes), mp_obj_new_int_from_uint(p->tx_bytes));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_last_handshake_ms),
        p->has_last_handshake ? mp_obj_new_int_from_uint(p->last_handshake_ms) : mp_const_none);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_current_index),
        p->kp_current.valid ? mp_obj_new_int_from_uint(p->kp_current.local_index) : mp_const_none);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_send_counter),
        mp_obj_new_int_from_ull(p->kp_current.send_counter));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_public_key),
        mp_obj_new_bytes(p->remote_static, 32));
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnwg_peer_info_obj, tnwg_peer_info);

static mp_obj_t tnwg_set_under_load(mp_obj_t self_in, mp_obj_t on) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    wg_set_under_load(&self->dev, mp_obj_is_true(on));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnwg_set_under_load_obj, tnwg_set_under_load);

// set_wallclock(now, unix_seconds): seconds fit a 32-bit small/big int on
// every port (until 2106); sub-second precision does not matter here.
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
        mp_raise_ValueError(MP_ERROR_TEXT("floor must be 12 bytes"));
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

// set_key(priv) -> peers dropped: node-key rotation (sessions wiped, peers kept)
static mp_obj_t tnwg_set_key(mp_obj_t self_in, mp_obj_t priv) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return MP_OBJ_NEW_SMALL_INT(wg_device_set_key(&self->dev, get_key32(priv)));
}
static MP_DEFINE_CONST_FUN_OBJ_2(tnwg_set_key_obj, tnwg_set_key);

static mp_obj_t tnwg_wipe(mp_obj_t self_in) {
    tnwg_device_obj_t *self = MP_OBJ_TO_PTR(self_in);
    wg_device_wipe(&self->dev); // capacity 0 afterwards: every later call finds no peer
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(tnwg_wipe_obj, tnwg_wipe);

static const mp_rom_map_elem_t tnwg_device_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_add_peer), MP_ROM_PTR(&tnwg_add_peer_obj) },
    { MP_ROM_QSTR(MP_QSTR_find_peer), MP_ROM_PTR(&tnwg_find_peer_obj) },
    { MP_ROM_QSTR(MP_QSTR_remove_peer), MP_ROM_PTR(&tnwg_remove_peer_obj) },
    { MP_ROM_QSTR(MP_QSTR_input), MP_ROM_PTR(&tnwg_input_obj) },
    { MP_ROM_QSTR(MP_QSTR_output), MP_ROM_PTR(&tnwg_output_obj) },
    { MP_ROM_QSTR(MP_QSTR_tick), MP_ROM_PTR(&tnwg_tick_obj) },
    { MP_ROM_QSTR(MP_QSTR_initiate), MP_ROM_PTR(&tnwg_initiate_obj) },
    { MP_ROM_QSTR(MP_QSTR_event), MP_ROM_PTR(&tnwg_event_obj) },
    { MP_ROM_QSTR(MP_QSTR_can_send), MP_ROM_PTR(&tnwg_can_send_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&tnwg_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_peer_info), MP_ROM_PTR(&tnwg_peer_info_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_under_load), MP_ROM_PTR(&tnwg_set_under_load_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_wallclock), MP_ROM_PTR(&tnwg_set_wallclock_obj) },
    { MP_ROM_QSTR(MP_QSTR_tai64n), MP_ROM_PTR(&tnwg_tai64n_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_tai64n_floor), MP_ROM_PTR(&tnwg_set_tai64n_floor_obj) },
    { MP_ROM_QSTR(MP_QSTR_pubkey), MP_ROM_PTR(&tnwg_pubkey_obj) },
    { MP_ROM_QSTR(MP_QSTR_wipe), MP_ROM_PTR(&tnwg_wipe_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_key), MP_ROM_PTR(&tnwg_set_key_obj) },
};
static MP_DEFINE_CONST_DICT(tnwg_device_locals, tnwg_device_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    tnwg_device_type,
    MP_QSTR_Device,
    MP_TYPE_FLAG_NONE,
    make_new, tnwg_device_make_new,
    locals_dict, &tnwg_device_locals
    );

static mp_obj_t tnwg_sizes(void) {
    mp_obj_t d = mp_obj_new_dict(4);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_peer), MP_OBJ_NEW_SMALL_INT(sizeof(wg_peer)));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_keypair), MP_OBJ_NEW_SMALL_INT(sizeof(wg_keypair)));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_replay), MP_OBJ_NEW_SMALL_INT(sizeof(wg_replay)));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_device),
        MP_OBJ_NEW_SMALL_INT(sizeof(tnwg_device_obj_t)));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_window), MP_OBJ_NEW_SMALL_INT(WG_COUNTER_WINDOW_SIZE));
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_0(tnwg_sizes_obj, tnwg_sizes);

static const mp_rom_map_elem_t tnwg_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__tnwg) },
    { MP_ROM_QSTR(MP_QSTR_Device), MP_ROM_PTR(&tnwg_device_type) },
    { MP_ROM_QSTR(MP_QSTR_sizes), MP_ROM_PTR(&tnwg_sizes_obj) },
    { MP_ROM_QSTR(MP_QSTR_DATA_OFFSET), MP_ROM_INT(WG_DATA_OFFSET) },
    { MP_ROM_QSTR(MP_QSTR_NONE), MP_ROM_INT(WG_NONE) },
    { MP_ROM_QSTR(MP_QSTR_DATAGRAM), MP_ROM_INT(WG_DATAGRAM) },
    { MP_ROM_QSTR(MP_QSTR_PACKET), MP_ROM_INT(WG_PACKET) },
    { MP_ROM_QSTR(MP_QSTR_ERR_NO_SESSION), MP_ROM_INT(WG_ERR_NO_SESSION) },
    { MP_ROM_QSTR(MP_QSTR_ERR_BUFFER), MP_ROM_INT(WG_ERR_BUFFER) },
    { MP_ROM_QSTR(MP_QSTR_ERR_PEER), MP_ROM_INT(WG_ERR_PEER) },
    { MP_ROM_QSTR(MP_QSTR_ERR_SIZE), MP_ROM_INT(WG_ERR_SIZE) },
    { MP_ROM_QSTR(MP_QSTR_EV_HANDSHAKE_COMPLETE), MP_ROM_INT(WG_EV_HANDSHAKE_COMPLETE) },
    { MP_ROM_QSTR(MP_QSTR_EV_KEYPAIR_EXPIRED), MP_ROM_INT(WG_EV_KEYPAIR_EXPIRED) },
    { MP_ROM_QSTR(MP_QSTR_EV_NEEDS_HANDSHAKE), MP_ROM_INT(WG_EV_NEEDS_HANDSHAKE) },
    { MP_ROM_QSTR(MP_QSTR_EV_HANDSHAKE_FAILED), MP_ROM_INT(WG_EV_HANDSHAKE_FAILED) },
    { MP_ROM_QSTR(MP_QSTR_EV_KEYS_ZEROED), MP_ROM_INT(WG_EV_KEYS_ZEROED) },
    { MP_ROM_QSTR(MP_QSTR_REKEY_AFTER_TIME_MS), MP_ROM_INT(WG_REKEY_AFTER_TIME_MS) },
    { MP_ROM_QSTR(MP_QSTR_REJECT_AFTER_TIME_MS), MP_ROM_INT(WG_REJECT_AFTER_TIME_MS) },
    { MP_ROM_QSTR(MP_QSTR_KEEPALIVE_TIMEOUT_MS), MP_ROM_INT(WG_KEEPALIVE_TIMEOUT_MS) },
    { MP_ROM_QSTR(MP_QSTR_REKEY_TIMEOUT_MS), MP_ROM_INT(WG_REKEY_TIMEOUT_MS) },
};
static MP_DEFINE_CONST_DICT(tnwg_module_globals, tnwg_module_globals_table);

const mp_obj_module_t tnwg_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&tnwg_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__tnwg, tnwg_user_cmodule);
