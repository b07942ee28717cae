// WireGuard device: peer table, datagram dispatch, tick, events.
#include "wg_internal.h"

int wg_device_init(wg_device *d, const uint8_t static_priv[32], wg_peer *peers,
    uint16_t capacity, wg_rng_fn rng, void *rng_ctx, uint32_t now_ms) {
    if (capacity == 0 || capacity > 4096 || !rng) {
        return WG_ERR_PEER;
    }
    memset(d, 0, sizeof(*d));
    memset(peers, 0, sizeof(wg_peer) * capacity);
    memcpy(d->static_priv, static_priv, 32);
    tn_x25519_base(d->static_pub, static_priv);
    wg_cookie_keys(d->mac1_key, d->cookie_key, d->static_pub);
    wg_noise_responder_h(d->hs_resp_h, d->static_pub);
    d->peers = peers;
    d->capacity = capacity;
    while ((1u << d->slot_bits) < capacity) {
        d->slot_bits++;
    }
    d->rng = rng;
    d->rng_ctx = rng_ctx;
    d->bucket_tokens = WG_HANDSHAKE_BUCKET_BURST;
    d->bucket_last_ms = now_ms;
    uint8_t seed[4];
    if (rng(rng_ctx, seed, 4) == 0) {
        d->jitter_state = wg_load32(seed) | 1u;
    }
    return 0;
}

void wg_device_wipe(wg_device *d) {
    if (d->peers) {
        tn_wipe(d->peers, sizeof(wg_peer) * d->capacity);
    }
    tn_wipe(d, sizeof(*d));
}

// A new static key (node-key rotation): everything derived from the old one
// is recomputed or wiped. Peers stay in their slots; their sessions, handshake
// in flight, cookies and timers are wiped (the keys were bound to our old
// static key), ss is re-derived, and the last TAI64N accepted from each peer
// is kept (it belongs to the peer's key, which did not change). The next
// wg_output to a peer returns WG_ERR_NO_SESSION and starts a new handshake.
int wg_device_set_key(wg_device *d, const uint8_t static_priv[32]) {
    int dropped = 0;
    memcpy(d->static_priv, static_priv, 32);
    tn_x25519_base(d->static_pub, static_priv);
    wg_cookie_keys(d->mac1_key, d->cookie_key, d->static_pub);
    wg_noise_responder_h(d->hs_resp_h, d->static_pub);
    tn_wipe(d->cookie_secret, 32);
    d->has_cookie_secret = 0;
    d->event_cursor = 0;
    for (int i = 0; i < d->capacity; i++) {
        wg_peer *p = &d->peers[i];
        if (!p->in_use) {
            continue;
        }
        uint8_t pub[32], ts[WG_TAI64N_SIZE]; // public values: no wipe needed
        memcpy(pub, p->remote_static, 32);
        memcpy(ts, p->last_timestamp, WG_TAI64N_SIZE);
        tn_wipe(p, sizeof(*p)); // keypairs, ss, handshake state, cookie
        memcpy(p->remote_static, pub, 32);
        memcpy(p->last_timestamp, ts, WG_TAI64N_SIZE);
        if (tn_x25519(p->ss, d->static_priv, pub) != 0) {
            tn_wipe(p, sizeof(*p)); // low-order peer key: slot freed
            dropped++;
            continue;
        }
        p->in_use = 1;
    }
    return dropped;
}

int wg_peer_find(const wg_device *d, const uint8_t pub[32]) {
    for (int i = 0; i < d->capacity; i++) {
        if (d->peers[i].in_use && memcmp(d->peers[i].remote_static, pub, 32) == 0) {
            return i;
        }
    }
    return -1;
}

int wg_peer_add(wg_device *d, const uint8_t pub[32]) {
    int slot = wg_peer_find(d, pub);
    if (slot >= 0) {
        return slot;
    }
    for (int i = 0; i < d->capacity; i++) {
        wg_peer *p = &d->peers[i];
        if (p->in_use) {
            continue;
        }
        memset(p, 0, sizeof(*p));
        memcpy(p->remote_static, pub, 32);
        if (tn_x25519(p->ss, d->static_priv, pub) != 0) {
            tn_wipe(p, sizeof(*p));
            return WG_ERR_PEER;
        }
        p->in_use = 1;
        return i;
    }
    return WG_ERR_PEER;
}

void wg_peer_remove(wg_device *d, int slot) {
    if (slot >= 0 && slot < d->capacity) {
        tn_wipe(&d->peers[slot], sizeof(wg_peer));
    }
}

static wg_peer *peer_at(wg_device *d, int slot) {
    if (slot < 0 || slot >= d->capacity || !d->peers[slot].in_use) {
        return NULL;
    }
    return &d->peers[slot];
}

int wg_peer_can_send(const wg_device *d, int slot, uint32_t now_ms) {
    if (slot < 0 || slot >= d->capacity || !d->peers[slot].in_use) {
        return 0;
    }
    const wg_keypair *kp = &d->peers[slot].kp_current;
    return kp->valid && kp->send_counter < WG_REJECT_AFTER_MESSAGES
        && wg_elapsed(now_ms, kp->birth_ms) < WG_REJECT_AFTER_TIME_MS;
}

void wg_set_under_load(wg_device *d, int on) {
    d->force_under_load = (uint8_t)(on != 0);
}

int wg_under_load(const wg_device *d, uint32_t now_ms) {
    return d->force_under_load || (d->auto_under_load && !wg_due(now_ms, d->under_load_until_ms));
}

void wg_set_wallclock(wg_device *d, uint32_t now_ms, uint64_t unix_ms) {
    d->has_wall = 1;
    d->wall_sync_ms = now_ms;
    d->wall_unix_ms = unix_ms;
}

void wg_tai64n_get(const wg_device *d, uint8_t out[WG_TAI64N_SIZE]) {
    memcpy(out, d->tai_last, WG_TAI64N_SIZE);
}

void wg_tai64n_set_floor(wg_device *d, const uint8_t floor[WG_TAI64N_SIZE]) {
    if (memcmp(floor, d->tai_last, WG_TAI64N_SIZE) > 0) {
        memcpy(d->tai_last, floor, WG_TAI64N_SIZE);
    }
}

// Handshake message admission: mac1, then (under load) mac2 or a cookie
// reply, then the device-wide budget.
#define ADMIT_DROP 0
#define ADMIT_OK 1
#define ADMIT_COOKIE 2
static int admit_handshake(wg_device *d, uint32_t now, const uint8_t *src, size_t srclen,
    uint8_t *msg, size_t mac1_off) {
    if (!wg_cookie_check_mac1(d, msg, mac1_off)) {
        d->stats.drop_mac1++;
        return 0;
    }
    if (wg_under_load(d, now)) {
        if (!wg_cookie_check_mac2(d, now, src, srclen, msg, mac1_off + 16)) {
            d->stats.drop_mac2++;
            if (wg_cookie_make_reply(d, now, src, srclen, msg, mac1_off) != 0) {
                d->stats.drop_rng++;
                return 0;
            }
            d->stats.tx_cookie++;
            return ADMIT_COOKIE;
        }
    }
    if (!wg_rate_allow(d, now)) {
        d->stats.drop_rate++;
        return 0;
    }
    return 1;
}

static int send_keepalive(wg_device *d, wg_peer *p, uint32_t now, uint8_t *buf, size_t cap,
    wg_out *out) {
    return wg_transport_seal(d, p, now, buf, 0, cap, out);
}

static int input_initiation(wg_device *d, uint32_t now, const uint8_t *src, size_t srclen,
    uint8_t *buf, wg_out *out) {
    int a = admit_handshake(d, now, src, srclen, buf, WG_INIT_OFF_MAC1);
    if (a == ADMIT_COOKIE) {
        out->peer = -1;
        out->off = 0;
        out->len = WG_COOKIE_REPLY_SIZE;
        return WG_DATAGRAM;
    }
    if (a != ADMIT_OK) {
        return WG_NONE;
    }
    d->stats.rx_initiation++;
    int slot = wg_noise_consume_initiation(d, now, buf);
    if (slot < 0) {
        return WG_NONE;
    }
    wg_peer *p = &d->peers[slot];
    wg_timers_session_derived(p, now);
    wg_timers_any_authenticated_packet_received(p);
    wg_timers_any_authenticated_packet_sent(p);
    d->stats.tx_response++;
    d->stats.handshakes++;
    out->peer = slot;
    out->off = 0;
    out->len = WG_RESPONSE_SIZE;
    return WG_DATAGRAM;
}

static int input_response(wg_device *d, uint32_t now, const uint8_t *src, size_t srclen,
    uint8_t *buf, size_t cap, wg_out *out) {
    int a = admit_handshake(d, now, src, srclen, buf, WG_RESP_OFF_MAC1);
    if (a == ADMIT_COOKIE) {
        out->peer = -1;
        out->off = 0;
        out->len = WG_COOKIE_REPLY_SIZE;
        return WG_DATAGRAM;
    }
    if (a != ADMIT_OK) {
        return WG_NONE;
    }
    d->stats.rx_response++;
    int slot = wg_noise_consume_response(d, now, buf);
    if (slot < 0) {
        return WG_NONE;
    }
    wg_peer *p = &d->peers[slot];
    wg_timers_session_derived(p, now);
    wg_timers_handshake_complete(p, now);
    wg_timers_any_authenticated_packet_received(p);
    d->stats.handshakes++;
    // The responder cannot send on the new session until it hears from us:
    // confirm it at once with a keepalive.
    out->peer = slot;
    return send_keepalive(d, p, now, buf, cap, out) == WG_DATAGRAM ? WG_DATAGRAM : WG_NONE;
}

int wg_input(wg_device *d, uint32_t now, const uint8_t *src, size_t srclen,
    uint8_t *buf, size_t len, size_t cap, wg_out *out) {
    out->peer = -1;
    out->off = 0;
    out->len = 0;
    d->stats.rx_datagrams++;
    if (len < 4 || cap < len) {
        d->stats.drop_short++;
        return WG_NONE;
    }
    if (buf[1] | buf[2] | buf[3]) {
        d->stats.drop_type++;
        return WG_NONE;
    }
    switch (buf[0]) {
        case WG_MSG_INITIATION:
            if (len != WG_INITIATION_SIZE) {
                break;
            }
            return input_initiation(d, now, src, srclen, buf, out);
        case WG_MSG_RESPONSE:
            if (len != WG_RESPONSE_SIZE) {
                break;
            }
            return input_response(d, now, src, srclen, buf, cap, out);
        case WG_MSG_COOKIE_REPLY:
            if (len != WG_COOKIE_REPLY_SIZE) {
                break;
            }
            d->stats.rx_cookie++;
            if (wg_cookie_consume_reply(d, now, buf) < 0) {
                d->stats.drop_cookie++;
            }
            return WG_NONE;
        case WG_MSG_TRANSPORT:
            if (len < WG_KEEPALIVE_SIZE) {
                break;
            }
            return wg_transport_open(d, now, buf, len, out);
        default:
            d->stats.drop_type++;
            return WG_NONE;
    }
    d->stats.drop_short++;
    return WG_NONE;
}

int wg_output(wg_device *d, int slot, uint32_t now, uint8_t *buf, size_t len, size_t cap,
    wg_out *out) {
    wg_peer *p = peer_at(d, slot);
    out->peer = slot;
    out->off = 0;
    out->len = 0;
    if (!p) {
        return WG_ERR_PEER;
    }
    return wg_transport_seal(d, p, now, buf, len, cap, out);
}

void wg_initiate(wg_device *d, int slot, uint32_t now) {
    wg_peer *p = peer_at(d, slot);
    if (p) {
        wg_want_handshake(p, now, 0);
    }
}

static int tick_peer(wg_device *d, int slot, uint32_t now, uint8_t *buf, size_t cap, wg_out *out) {
    wg_peer *p = &d->peers[slot];
    wg_timers_run(d, slot, now);
    out->peer = slot;
    out->off = 0;
    if (p->want_initiation) {
        p->want_initiation = 0;
        if (cap < WG_INITIATION_SIZE) {
            return WG_ERR_BUFFER;
        }
        p->last_sent_handshake_ms = now;
        p->has_last_sent_handshake = 1;
        if (wg_noise_create_initiation(d, p, slot, now, buf) != 0) {
            // Retry later through the retransmit timer.
            wg_timers_handshake_initiated(d, p, now);
            return WG_NONE;
        }
        wg_timers_any_authenticated_packet_sent(p);
        wg_timers_handshake_initiated(d, p, now);
        d->stats.tx_initiation++;
        out->len = WG_INITIATION_SIZE;
        return WG_DATAGRAM;
    }
    if (p->want_keepalive) {
        p->want_keepalive = 0;
        if (wg_peer_can_send(d, slot, now)) {
            return send_keepalive(d, p, now, buf, cap, out);
        }
    }
    return WG_NONE;
}

int wg_tick(wg_device *d, uint32_t now, uint8_t *buf, size_t cap, wg_out *out) {
    out->peer = -1;
    out->off = 0;
    out->len = 0;
    if (d->auto_under_load && wg_due(now, d->under_load_until_ms)) {
        d->auto_under_load = 0;
    }
    if (d->has_wall) {
        d->wall_unix_ms += wg_elapsed(now, d->wall_sync_ms);
        d->wall_sync_ms = now;
    }
    for (int n = 0; n < d->capacity; n++) {
        int slot = d->tick_cursor;
        d->tick_cursor = (uint16_t)((d->tick_cursor + 1) % d->capacity);
        if (!d->peers[slot].in_use) {
            continue;
        }
        int r = tick_peer(d, slot, now, buf, cap, out);
        if (r != WG_NONE) {
            // Revisit this peer first next time: it may have more to send.
            d->tick_cursor = (uint16_t)slot;
            return r;
        }
    }
    return WG_NONE;
}

int wg_event(wg_device *d, int *slot) {
    for (int n = 0; n < d->capacity; n++) {
        int i = (d->event_cursor + n) % d->capacity;
        wg_peer *p = &d->peers[i];
        if (p->in_use && p->events) {
            uint8_t ev = p->events & (uint8_t)(-(int)p->events); // lowest bit
            p->events &= (uint8_t)~ev;
            d->event_cursor = (uint16_t)i;
            *slot = i;
            return ev;
        }
    }
    return 0;
}
