// WireGuard timers (wireguard-go device/timers.go), sans-I/O: each timer is
// a deadline checked by wg_tick. Functions are named for the event that
// drives them.
#include "wg_internal.h"

static void timer_set(wg_peer *p, int t, uint32_t at) {
    p->timer_at[t] = at;
    p->timer_on |= (uint8_t)(1u << t);
}
static void timer_stop(wg_peer *p, int t) {
    p->timer_on &= (uint8_t)~(1u << t);
}
static int timer_pending(const wg_peer *p, int t) {
    return (p->timer_on >> t) & 1u;
}
static int timer_fired(wg_peer *p, int t, uint32_t now) {
    if (timer_pending(p, t) && wg_due(now, p->timer_at[t])) {
        timer_stop(p, t);
        return 1;
    }
    return 0;
}

// Jitter is not a secret (wireguard-go uses fastrand): a xorshift32 seeded
// from the rng at init and stirred at every handshake, so the data path
// never calls the rng.
uint32_t wg_jitter(wg_device *d) {
    uint32_t x = d->jitter_state ? d->jitter_state : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    d->jitter_state = x;
    return x % WG_REKEY_TIMEOUT_JITTER_MAX_MS;
}

// SendHandshakeInitiation's admission: not more than one initiation per
// REKEY_TIMEOUT; the initiation itself is written by wg_tick.
void wg_want_handshake(wg_peer *p, uint32_t now, int is_retry) {
    if (!is_retry) {
        p->handshake_attempts = 0;
    }
    if (p->has_last_sent_handshake
        && wg_elapsed(now, p->last_sent_handshake_ms) < WG_REKEY_TIMEOUT_MS) {
        return;
    }
    p->want_initiation = 1;
    p->events |= WG_EV_NEEDS_HANDSHAKE;
}

// Data sent: expect an answer within KEEPALIVE + REKEY_TIMEOUT, or rekey.
void wg_timers_data_sent(wg_device *d, wg_peer *p, uint32_t now) {
    if (!timer_pending(p, WG_TIMER_NEW_HANDSHAKE)) {
        timer_set(p, WG_TIMER_NEW_HANDSHAKE,
            now + WG_KEEPALIVE_TIMEOUT_MS + WG_REKEY_TIMEOUT_MS + wg_jitter(d));
    }
}

// Data received: answer with a keepalive if we send nothing for KEEPALIVE.
void wg_timers_data_received(wg_peer *p, uint32_t now) {
    if (!timer_pending(p, WG_TIMER_SEND_KEEPALIVE)) {
        timer_set(p, WG_TIMER_SEND_KEEPALIVE, now + WG_KEEPALIVE_TIMEOUT_MS);
    } else {
        p->need_another_keepalive = 1;
    }
}

void wg_timers_any_authenticated_packet_sent(wg_peer *p) {
    timer_stop(p, WG_TIMER_SEND_KEEPALIVE);
}

void wg_timers_any_authenticated_packet_received(wg_peer *p) {
    timer_stop(p, WG_TIMER_NEW_HANDSHAKE);
}

void wg_timers_handshake_initiated(wg_device *d, wg_peer *p, uint32_t now) {
    timer_set(p, WG_TIMER_RETRANSMIT_HANDSHAKE, now + WG_REKEY_TIMEOUT_MS + wg_jitter(d));
}

void wg_timers_handshake_complete(wg_peer *p, uint32_t now) {
    timer_stop(p, WG_TIMER_RETRANSMIT_HANDSHAKE);
    p->handshake_attempts = 0;
    p->sent_last_minute_handshake = 0;
    p->last_handshake_ms = now;
    p->has_last_handshake = 1;
    p->events |= WG_EV_HANDSHAKE_COMPLETE;
}

void wg_timers_session_derived(wg_peer *p, uint32_t now) {
    timer_set(p, WG_TIMER_ZERO_KEY_MATERIAL, now + WG_ZERO_KEY_MATERIAL_AFTER_MS);
}

static void zero_key_material(wg_peer *p) {
    wg_keypair_wipe(&p->kp_previous);
    wg_keypair_wipe(&p->kp_current);
    wg_keypair_wipe(&p->kp_next);
    tn_wipe(p->hs_eph, 32);
    tn_wipe(p->hs_ck, 32);
    tn_wipe(p->hs_hash, 32);
    p->hs_active = 0;
    p->events |= WG_EV_KEYS_ZEROED;
}

// Expire timers for one peer; sets want_initiation / want_keepalive for
// wg_tick to act on.
void wg_timers_run(wg_device *d, int slot, uint32_t now) {
    wg_peer *p = &d->peers[slot];
    if (timer_fired(p, WG_TIMER_ZERO_KEY_MATERIAL, now)) {
        zero_key_material(p);
    }
    if (timer_fired(p, WG_TIMER_RETRANSMIT_HANDSHAKE, now)) {
        if (p->handshake_attempts > WG_MAX_TIMER_HANDSHAKES) {
            // Give up after REKEY_ATTEMPT_TIME.
            timer_stop(p, WG_TIMER_SEND_KEEPALIVE);
            p->want_initiation = 0;
            p->events |= WG_EV_HANDSHAKE_FAILED;
            if (!timer_pending(p, WG_TIMER_ZERO_KEY_MATERIAL)) {
                timer_set(p, WG_TIMER_ZERO_KEY_MATERIAL, now + WG_ZERO_KEY_MATERIAL_AFTER_MS);
            }
        } else {
            p->handshake_attempts++;
            wg_want_handshake(p, now, 1);
        }
    }
    if (timer_fired(p, WG_TIMER_SEND_KEEPALIVE, now)) {
        p->want_keepalive = 1;
        if (p->need_another_keepalive) {
            p->need_another_keepalive = 0;
            timer_set(p, WG_TIMER_SEND_KEEPALIVE, now + WG_KEEPALIVE_TIMEOUT_MS);
        }
    }
    if (timer_fired(p, WG_TIMER_NEW_HANDSHAKE, now)) {
        wg_want_handshake(p, now, 0);
    }
    if (p->kp_current.valid && !p->expiry_reported
        && wg_elapsed(now, p->kp_current.birth_ms) >= WG_REJECT_AFTER_TIME_MS) {
        p->expiry_reported = 1;
        p->events |= WG_EV_KEYPAIR_EXPIRED;
    }
}
