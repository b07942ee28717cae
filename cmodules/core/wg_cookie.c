// MAC1/MAC2 and the cookie mechanism (whitepaper 5.4.4, 5.4.7), plus the
// device-wide handshake budget that turns "under load" on by itself.
#include "wg_internal.h"

static const uint8_t LABEL_MAC1[8] = {'m', 'a', 'c', '1', '-', '-', '-', '-'};
static const uint8_t LABEL_COOKIE[8] = {'c', 'o', 'o', 'k', 'i', 'e', '-', '-'};

void wg_cookie_keys(uint8_t mac1_key[32], uint8_t cookie_key[32], const uint8_t pub[32]) {
    if (mac1_key) {
        wg_noise_hash(mac1_key, LABEL_MAC1, 8, pub, 32);
    }
    if (cookie_key) {
        wg_noise_hash(cookie_key, LABEL_COOKIE, 8, pub, 32);
    }
}

int wg_cookie_check_mac1(const wg_device *d, const uint8_t *msg, size_t mac1_off) {
    uint8_t mac[16];
    wg_noise_mac(mac, d->mac1_key, 32, msg, mac1_off);
    return tn_ct_equal(mac, msg + mac1_off, 16);
}

// cookie = MAC(secret, source address); the secret rotates every
// COOKIE_REFRESH_TIME.
static int current_cookie(wg_device *d, uint32_t now, const uint8_t *src, size_t srclen,
    uint8_t cookie[16]) {
    if (!d->has_cookie_secret
        || wg_elapsed(now, d->cookie_secret_birth_ms) >= WG_COOKIE_REFRESH_TIME_MS) {
        if (d->rng(d->rng_ctx, d->cookie_secret, 32) != 0) {
            d->has_cookie_secret = 0;
            return -1;
        }
        d->cookie_secret_birth_ms = now;
        d->has_cookie_secret = 1;
    }
    static const uint8_t none[1] = {0};
    wg_noise_mac(cookie, d->cookie_secret, 32, srclen ? src : none, srclen);
    return 0;
}

int wg_cookie_check_mac2(wg_device *d, uint32_t now, const uint8_t *src, size_t srclen,
    const uint8_t *msg, size_t mac2_off) {
    uint8_t cookie[16], mac[16];
    if (current_cookie(d, now, src, srclen, cookie) != 0) {
        return 0;
    }
    wg_noise_mac(mac, cookie, 16, msg, mac2_off);
    tn_wipe(cookie, 16);
    return tn_ct_equal(mac, msg + mac2_off, 16);
}

// Overwrite msg (an initiation or response whose mac1 was valid) with a
// cookie reply to its sender. Returns 0 or -1 (rng failure).
int wg_cookie_make_reply(wg_device *d, uint32_t now, const uint8_t *src, size_t srclen,
    uint8_t *msg, size_t mac1_off) {
    uint8_t cookie[16], mac1[16], nonce[24];
    uint32_t sender = wg_load32(msg + 4);
    memcpy(mac1, msg + mac1_off, 16);
    if (current_cookie(d, now, src, srclen, cookie) != 0 || d->rng(d->rng_ctx, nonce, 24) != 0) {
        return -1;
    }
    memset(msg, 0, WG_COOKIE_REPLY_SIZE);
    msg[0] = WG_MSG_COOKIE_REPLY;
    wg_store32(msg + WG_COOKIE_OFF_RECEIVER, sender);
    memcpy(msg + WG_COOKIE_OFF_NONCE, nonce, 24);
    tn_xaead_seal(msg + WG_COOKIE_OFF_COOKIE, d->cookie_key, nonce, mac1, 16, cookie, 16);
    tn_wipe(cookie, 16);
    return 0;
}

// A cookie reply answers our latest initiation or response to that peer.
int wg_cookie_consume_reply(wg_device *d, uint32_t now, const uint8_t *msg) {
    uint32_t receiver = wg_load32(msg + WG_COOKIE_OFF_RECEIVER);
    uint32_t slot = receiver & ((1u << d->slot_bits) - 1u);
    if (slot >= d->capacity || !d->peers[slot].in_use) {
        return -1;
    }
    wg_peer *p = &d->peers[slot];
    int known = (p->hs_active && p->hs_local_index == receiver)
        || (p->kp_next.valid && p->kp_next.local_index == receiver)
        || (p->kp_current.valid && p->kp_current.local_index == receiver);
    if (!known || !p->has_last_mac1) {
        return -1;
    }
    uint8_t key[32], cookie[16];
    wg_cookie_keys(NULL, key, p->remote_static);
    int r = tn_xaead_open(cookie, key, msg + WG_COOKIE_OFF_NONCE, p->last_mac1, 16,
        msg + WG_COOKIE_OFF_COOKIE, 32);
    if (r == 0) {
        memcpy(p->cookie, cookie, 16);
        p->cookie_birth_ms = now;
        p->has_cookie = 1;
        p->has_last_mac1 = 0;
    }
    tn_wipe(cookie, 16);
    return r == 0 ? (int)slot : -1;
}

// Write mac1 (and mac2 when we hold a fresh cookie from this peer).
void wg_cookie_add_macs(wg_peer *p, uint32_t now, uint8_t *msg, size_t mac1_off) {
    uint8_t key[32];
    wg_cookie_keys(key, NULL, p->remote_static);
    wg_noise_mac(msg + mac1_off, key, 32, msg, mac1_off);
    memcpy(p->last_mac1, msg + mac1_off, 16);
    p->has_last_mac1 = 1;
    if (p->has_cookie && wg_elapsed(now, p->cookie_birth_ms) < WG_COOKIE_REFRESH_TIME_MS) {
        wg_noise_mac(msg + mac1_off + 16, p->cookie, 16, msg, mac1_off + 16);
    } else {
        p->has_cookie = 0;
        memset(msg + mac1_off + 16, 0, 16);
    }
}

// Token bucket over all handshake messages that passed the MAC checks.
int wg_rate_allow(wg_device *d, uint32_t now) {
    uint32_t refill = wg_elapsed(now, d->bucket_last_ms) / WG_HANDSHAKE_BUCKET_REFILL_MS;
    if (refill) {
        d->bucket_tokens += refill;
        d->bucket_last_ms += refill * WG_HANDSHAKE_BUCKET_REFILL_MS;
        if (d->bucket_tokens >= WG_HANDSHAKE_BUCKET_BURST) {
            d->bucket_tokens = WG_HANDSHAKE_BUCKET_BURST;
            d->bucket_last_ms = now;
        }
    }
    if (d->bucket_tokens == 0) {
        d->auto_under_load = 1;
        d->under_load_until_ms = now + WG_UNDER_LOAD_AFTER_TIME_MS;
        return 0;
    }
    d->bucket_tokens--;
    return 1;
}
