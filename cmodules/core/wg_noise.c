// Noise_IKpsk2 handshake (WireGuard whitepaper 5.4.2-5.4.3) with the
// all-zero PSK that Tailscale uses. Secrets on the stack are wiped.
#include "wg_internal.h"

static const char CONSTRUCTION[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char IDENTIFIER[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
static const uint8_t ZERO_NONCE[12] = {0};
static const uint8_t ZERO_PSK[32] = {0};

void wg_noise_hash(uint8_t out[32], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    tn_blake2s_ctx c;
    tn_blake2s_init(&c, 32, NULL, 0);
    tn_blake2s_update(&c, a, alen);
    if (blen) {
        tn_blake2s_update(&c, b, blen);
    }
    tn_blake2s_final(&c, out);
}

void wg_noise_mac(uint8_t out[16], const uint8_t *key, size_t keylen, const uint8_t *in, size_t len) {
    tn_blake2s(out, 16, key, keylen, in, len);
}

// C0 = HASH(CONSTRUCTION); H0 = HASH(C0 || IDENTIFIER).
static void initial_ck_h(uint8_t ck[32], uint8_t h[32]) {
    wg_noise_hash(ck, (const uint8_t *)CONSTRUCTION, sizeof(CONSTRUCTION) - 1, NULL, 0);
    wg_noise_hash(h, ck, 32, (const uint8_t *)IDENTIFIER, sizeof(IDENTIFIER) - 1);
}

void wg_noise_responder_h(uint8_t h[32], const uint8_t responder_pub[32]) {
    uint8_t ck[32];
    initial_ck_h(ck, h);
    wg_noise_hash(h, h, 32, responder_pub, 32);
}

// ck = KDF1(ck, x)
static void mix_key(uint8_t ck[32], const uint8_t *x, size_t n) {
    uint8_t t[32];
    tn_hkdf(t, NULL, NULL, ck, x, n);
    memcpy(ck, t, 32);
    tn_wipe(t, sizeof(t));
}

// (ck, k) = KDF2(ck, x)
static void mix_key2(uint8_t ck[32], uint8_t k[32], const uint8_t *x, size_t n) {
    uint8_t t[32];
    tn_hkdf(t, k, NULL, ck, x, n);
    memcpy(ck, t, 32);
    tn_wipe(t, sizeof(t));
}

// ck = KDF1(ck, DH(priv, pub)); -1 on an all-zero shared point.
static int mix_dh(uint8_t ck[32], uint8_t k[32], const uint8_t priv[32], const uint8_t pub[32]) {
    uint8_t s[32];
    int bad = tn_x25519(s, priv, pub);
    if (k) {
        mix_key2(ck, k, s, 32);
    } else {
        mix_key(ck, s, 32);
    }
    tn_wipe(s, sizeof(s));
    return bad ? -1 : 0;
}

static void mix_hash(uint8_t h[32], const uint8_t *x, size_t n) {
    wg_noise_hash(h, h, 32, x, n);
}

void wg_keypair_wipe(wg_keypair *kp) {
    tn_wipe(kp, sizeof(*kp));
}

// A local index encodes the peer slot in its low bits (so lookups need no
// table) above random high bits; it must differ from the peer's live indices.
int wg_new_index(wg_device *d, int slot, uint32_t *out) {
    wg_peer *p = &d->peers[slot];
    for (int tries = 0; tries < 8; tries++) {
        uint8_t r[4];
        if (d->rng(d->rng_ctx, r, 4) != 0) {
            return -1;
        }
        uint32_t idx = (wg_load32(r) << d->slot_bits) | (uint32_t)slot;
        if ((p->hs_active && idx == p->hs_local_index)
            || (p->kp_current.valid && idx == p->kp_current.local_index)
            || (p->kp_previous.valid && idx == p->kp_previous.local_index)
            || (p->kp_next.valid && idx == p->kp_next.local_index)) {
            continue;
        }
        *out = idx;
        return 0;
    }
    return -1;
}

static void tai64n_from_unix_ms(uint8_t out[12], uint64_t unix_ms) {
    uint64_t sec = UINT64_C(0x400000000000000a) + unix_ms / 1000u;
    // Nanoseconds with the low 24 bits cleared (wireguard-go whitening).
    uint32_t ns = (uint32_t)(unix_ms % 1000u) * 1000000u;
    ns &= ~UINT32_C(0xffffff);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(sec >> (56 - 8 * i));
    }
    for (int i = 0; i < 4; i++) {
        out[8 + i] = (uint8_t)(ns >> (24 - 8 * i));
    }
}

// The smallest whitened TAI64N greater than ts.
static void tai64n_step(uint8_t ts[12]) {
    uint64_t sec = 0;
    uint32_t ns = 0;
    for (int i = 0; i < 8; i++) {
        sec = (sec << 8) | ts[i];
    }
    for (int i = 0; i < 4; i++) {
        ns = (ns << 8) | ts[8 + i];
    }
    ns = (ns & ~UINT32_C(0xffffff)) + UINT32_C(0x1000000);
    if (ns >= 1000000000u) {
        ns = 0;
        sec++;
    }
    for (int i = 0; i < 8; i++) {
        ts[i] = (uint8_t)(sec >> (56 - 8 * i));
    }
    for (int i = 0; i < 4; i++) {
        ts[8 + i] = (uint8_t)(ns >> (24 - 8 * i));
    }
}

static void tai64n_next(wg_device *d, uint32_t now, uint8_t out[12]) {
    uint8_t cand[12] = {0};
    if (d->has_wall) {
        d->wall_unix_ms += wg_elapsed(now, d->wall_sync_ms);
        d->wall_sync_ms = now;
        tai64n_from_unix_ms(cand, d->wall_unix_ms);
    }
    if (memcmp(cand, d->tai_last, 12) <= 0) {
        memcpy(cand, d->tai_last, 12);
        tai64n_step(cand);
    }
    memcpy(d->tai_last, cand, 12);
    memcpy(out, cand, 12);
}

int wg_noise_create_initiation(wg_device *d, wg_peer *p, int slot, uint32_t now, uint8_t *msg) {
    uint8_t ck[32], h[32], k[32], epub[32], ts[12];
    uint32_t idx;
    if (wg_new_index(d, slot, &idx) != 0 || d->rng(d->rng_ctx, p->hs_eph, 32) != 0) {
        d->stats.drop_rng++;
        return -1;
    }
    d->jitter_state ^= wg_load32(p->hs_eph + 28) | 1u;
    tn_x25519_base(epub, p->hs_eph);
    memset(msg, 0, WG_INITIATION_SIZE);
    msg[0] = WG_MSG_INITIATION;
    wg_store32(msg + WG_INIT_OFF_SENDER, idx);
    memcpy(msg + WG_INIT_OFF_EPHEMERAL, epub, 32);

    initial_ck_h(ck, h);
    mix_hash(h, p->remote_static, 32);
    mix_key(ck, epub, 32);
    mix_hash(h, epub, 32);
    int bad = mix_dh(ck, k, p->hs_eph, p->remote_static);
    tn_aead_seal(msg + WG_INIT_OFF_STATIC, k, ZERO_NONCE, h, 32, d->static_pub, 32);
    mix_hash(h, msg + WG_INIT_OFF_STATIC, 48);
    mix_key2(ck, k, p->ss, 32);
    tai64n_next(d, now, ts);
    tn_aead_seal(msg + WG_INIT_OFF_TIMESTAMP, k, ZERO_NONCE, h, 32, ts, 12);
    mix_hash(h, msg + WG_INIT_OFF_TIMESTAMP, 28);

    memcpy(p->hs_ck, ck, 32);
    memcpy(p->hs_hash, h, 32);
    p->hs_local_index = idx;
    p->hs_active = 1;
    wg_cookie_add_macs(p, now, msg, WG_INIT_OFF_MAC1);
    tn_wipe(ck, 32);
    tn_wipe(k, 32);
    return bad ? -1 : 0;
}

static int find_peer_by_static(const wg_device *d, const uint8_t pub[32]) {
    for (int i = 0; i < d->capacity; i++) {
        if (d->peers[i].in_use && tn_ct_equal(d->peers[i].remote_static, pub, 32)) {
            return i;
        }
    }
    return -1;
}

// Install a fresh keypair (wireguard-go BeginSymmetricSession).
static void begin_session(wg_peer *p, const uint8_t ck[32], int initiator,
    uint32_t local, uint32_t remote, uint32_t now) {
    uint8_t t1[32], t2[32];
    tn_hkdf(t1, t2, NULL, ck, NULL, 0);
    wg_keypair kp;
    memset(&kp, 0, sizeof(kp));
    memcpy(kp.send_key, initiator ? t1 : t2, 32);
    memcpy(kp.recv_key, initiator ? t2 : t1, 32);
    kp.local_index = local;
    kp.remote_index = remote;
    kp.birth_ms = now;
    kp.is_initiator = (uint8_t)initiator;
    kp.valid = 1;
    if (initiator) {
        if (p->kp_next.valid) {
            wg_keypair_wipe(&p->kp_previous);
            p->kp_previous = p->kp_next;
            wg_keypair_wipe(&p->kp_next);
            wg_keypair_wipe(&p->kp_current);
        } else {
            wg_keypair_wipe(&p->kp_previous);
            p->kp_previous = p->kp_current;
        }
        p->kp_current = kp;
        p->expiry_reported = 0;
    } else {
        wg_keypair_wipe(&p->kp_next);
        p->kp_next = kp;
        wg_keypair_wipe(&p->kp_previous);
    }
    tn_wipe(&kp, sizeof(kp));
    tn_wipe(t1, 32);
    tn_wipe(t2, 32);
}

// Consume an initiation (MACs already checked) and write the response into
// msg. Returns the peer slot or -1.
int wg_noise_consume_initiation(wg_device *d, uint32_t now, uint8_t *msg) {
    uint8_t ck[32], h[32], k[32], spub[32], ts[12], eph[32], epub[32], tau[32];
    const uint8_t *ei = msg + WG_INIT_OFF_EPHEMERAL;
    int slot = -1;
    int ok = 0;

    initial_ck_h(ck, h);
    memcpy(h, d->hs_resp_h, 32);
    mix_key(ck, ei, 32);
    mix_hash(h, ei, 32);
    if (mix_dh(ck, k, d->static_priv, ei) != 0
        || tn_aead_open(spub, k, ZERO_NONCE, h, 32, msg + WG_INIT_OFF_STATIC, 48) != 0) {
        d->stats.drop_handshake++;
        goto out;
    }
    mix_hash(h, msg + WG_INIT_OFF_STATIC, 48);
    slot = find_peer_by_static(d, spub);
    if (slot < 0) {
        d->stats.drop_peer++;
        goto out;
    }
    wg_peer *p = &d->peers[slot];
    mix_key2(ck, k, p->ss, 32);
    if (tn_aead_open(ts, k, ZERO_NONCE, h, 32, msg + WG_INIT_OFF_TIMESTAMP, 28) != 0) {
        d->stats.drop_handshake++;
        goto out;
    }
    mix_hash(h, msg + WG_INIT_OFF_TIMESTAMP, 28);
    if (memcmp(ts, p->last_timestamp, 12) <= 0) {
        d->stats.drop_timestamp++;
        goto out;
    }
    if (p->has_last_initiation_consumed
        && wg_elapsed(now, p->last_initiation_consumed_ms) <= WG_HANDSHAKE_INITIATION_RATE_MS) {
        d->stats.drop_rate++;
        goto out;
    }
    // Build the response before committing anything, so a failure (rng)
    // leaves the peer's state untouched.
    uint32_t idx;
    if (wg_new_index(d, slot, &idx) != 0 || d->rng(d->rng_ctx, eph, 32) != 0) {
        d->stats.drop_rng++;
        goto out;
    }
    d->jitter_state ^= wg_load32(eph + 28) | 1u;
    uint32_t sender = wg_load32(msg + WG_INIT_OFF_SENDER);
    uint8_t ei_copy[32];
    memcpy(ei_copy, ei, 32);
    tn_x25519_base(epub, eph);
    memset(msg, 0, WG_RESPONSE_SIZE);
    msg[0] = WG_MSG_RESPONSE;
    wg_store32(msg + WG_RESP_OFF_SENDER, idx);
    wg_store32(msg + WG_RESP_OFF_RECEIVER, sender);
    memcpy(msg + WG_RESP_OFF_EPHEMERAL, epub, 32);
    mix_key(ck, epub, 32);
    mix_hash(h, epub, 32);
    int bad = mix_dh(ck, NULL, eph, ei_copy);
    bad |= mix_dh(ck, NULL, eph, spub);
    uint8_t t0[32];
    tn_hkdf(t0, tau, k, ck, ZERO_PSK, 32);
    memcpy(ck, t0, 32);
    tn_wipe(t0, 32);
    mix_hash(h, tau, 32);
    tn_aead_seal(msg + WG_RESP_OFF_EMPTY, k, ZERO_NONCE, h, 32, tau, 0);
    if (bad) {
        d->stats.drop_handshake++;
        goto out;
    }
    memcpy(p->last_timestamp, ts, 12);
    p->last_initiation_consumed_ms = now;
    p->has_last_initiation_consumed = 1;
    wg_cookie_add_macs(p, now, msg, WG_RESP_OFF_MAC1);
    begin_session(p, ck, 0, idx, sender, now);
    ok = 1;
out:
    tn_wipe(ck, 32);
    tn_wipe(h, 32);
    tn_wipe(k, 32);
    tn_wipe(eph, 32);
    tn_wipe(tau, 32);
    return ok ? slot : -1;
}

// Consume a response (MACs checked). Returns the peer slot or -1.
int wg_noise_consume_response(wg_device *d, uint32_t now, uint8_t *msg) {
    uint32_t receiver = wg_load32(msg + WG_RESP_OFF_RECEIVER);
    uint32_t slot = receiver & ((1u << d->slot_bits) - 1u);
    if (slot >= d->capacity || !d->peers[slot].in_use || !d->peers[slot].hs_active
        || d->peers[slot].hs_local_index != receiver) {
        d->stats.drop_index++;
        return -1;
    }
    wg_peer *p = &d->peers[slot];
    uint8_t ck[32], h[32], k[32], tau[32], t0[32];
    const uint8_t *er = msg + WG_RESP_OFF_EPHEMERAL;
    memcpy(ck, p->hs_ck, 32);
    memcpy(h, p->hs_hash, 32);
    mix_key(ck, er, 32);
    mix_hash(h, er, 32);
    int bad = mix_dh(ck, NULL, p->hs_eph, er);
    bad |= mix_dh(ck, NULL, d->static_priv, er);
    tn_hkdf(t0, tau, k, ck, ZERO_PSK, 32);
    memcpy(ck, t0, 32);
    mix_hash(h, tau, 32);
    int r = -1;
    if (bad || tn_aead_open(t0, k, ZERO_NONCE, h, 32, msg + WG_RESP_OFF_EMPTY, 16) != 0) {
        d->stats.drop_handshake++;
    } else {
        begin_session(p, ck, 1, p->hs_local_index, wg_load32(msg + WG_RESP_OFF_SENDER), now);
        tn_wipe(p->hs_eph, 32);
        tn_wipe(p->hs_ck, 32);
        tn_wipe(p->hs_hash, 32);
        p->hs_active = 0;
        r = (int)slot;
    }
    tn_wipe(ck, 32);
    tn_wipe(h, 32);
    tn_wipe(k, 32);
    tn_wipe(tau, 32);
    tn_wipe(t0, 32);
    return r;
}
