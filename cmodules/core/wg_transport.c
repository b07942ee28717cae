// Transport data messages (type 4): in-place ChaCha20-Poly1305 with the
// 64-bit counter nonce, padding to 16, replay window, key freshness.
#include "wg_internal.h"

static void counter_nonce(uint8_t nonce[12], uint64_t counter) {
    memset(nonce, 0, 4);
    wg_store64(nonce + 4, counter);
}

static int keypair_usable_for_send(const wg_keypair *kp, uint32_t now) {
    return kp->valid && kp->send_counter < WG_REJECT_AFTER_MESSAGES
        && wg_elapsed(now, kp->birth_ms) < WG_REJECT_AFTER_TIME_MS;
}

int wg_transport_seal(wg_device *d, wg_peer *p, uint32_t now, uint8_t *buf, size_t len,
    size_t cap, wg_out *out) {
    wg_keypair *kp = &p->kp_current;
    if (len > 65535u - 32u) {
        return WG_ERR_SIZE;
    }
    size_t padded = (len + (WG_PADDING_MULTIPLE - 1)) & ~(size_t)(WG_PADDING_MULTIPLE - 1);
    if (cap < WG_TRANSPORT_HEADER_SIZE + padded + WG_TAG_SIZE) {
        return WG_ERR_BUFFER;
    }
    if (!keypair_usable_for_send(kp, now)) {
        wg_want_handshake(p, now, 0);
        return WG_ERR_NO_SESSION;
    }
    uint64_t counter = kp->send_counter++;
    uint8_t nonce[12];
    counter_nonce(nonce, counter);
    memset(buf + WG_DATA_OFFSET + len, 0, padded - len);
    buf[0] = WG_MSG_TRANSPORT;
    buf[1] = buf[2] = buf[3] = 0;
    wg_store32(buf + WG_DATA_OFF_RECEIVER, kp->remote_index);
    wg_store64(buf + WG_DATA_OFF_COUNTER, counter);
    tn_aead_seal(buf + WG_DATA_OFFSET, kp->send_key, nonce, NULL, 0, buf + WG_DATA_OFFSET, padded);
    // keepKeyFreshSending
    if (counter + 1 > WG_REKEY_AFTER_MESSAGES
        || (kp->is_initiator && wg_elapsed(now, kp->birth_ms) >= WG_REKEY_AFTER_TIME_MS)) {
        wg_want_handshake(p, now, 0);
    }
    wg_timers_any_authenticated_packet_sent(p);
    if (len) {
        wg_timers_data_sent(d, p, now);
        d->stats.tx_data++;
    } else {
        d->stats.tx_keepalive++;
    }
    out->off = 0;
    out->len = WG_TRANSPORT_HEADER_SIZE + padded + WG_TAG_SIZE;
    p->tx_bytes += (uint32_t)out->len;
    return WG_DATAGRAM;
}

// Length of the IP packet at the start of pt (IPv4 total length / IPv6
// payload length + 40), or 0 when the header is invalid or longer than n.
static size_t ip_packet_len(const uint8_t *pt, size_t n) {
    size_t l;
    if (n >= 20 && (pt[0] >> 4) == 4) {
        l = ((size_t)pt[2] << 8) | pt[3];
        if (l < 20u || l < (size_t)(pt[0] & 15u) * 4u) {
            return 0;
        }
    } else if (n >= 40 && (pt[0] >> 4) == 6) {
        l = 40u + (((size_t)pt[4] << 8) | pt[5]);
    } else {
        return 0;
    }
    return l <= n ? l : 0;
}

// Rotate next -> current on its first authenticated packet
// (wireguard-go ReceivedWithKeypair).
static void confirm_next(wg_peer *p, uint32_t now) {
    wg_keypair_wipe(&p->kp_previous);
    p->kp_previous = p->kp_current;
    p->kp_current = p->kp_next;
    wg_keypair_wipe(&p->kp_next);
    p->expiry_reported = 0;
    wg_timers_handshake_complete(p, now);
}

int wg_transport_open(wg_device *d, uint32_t now, uint8_t *buf, size_t len, wg_out *out) {
    uint32_t receiver = wg_load32(buf + WG_DATA_OFF_RECEIVER);
    uint32_t slot = receiver & ((1u << d->slot_bits) - 1u);
    if (slot >= d->capacity || !d->peers[slot].in_use) {
        d->stats.drop_index++;
        return WG_NONE;
    }
    wg_peer *p = &d->peers[slot];
    wg_keypair *kp;
    if (p->kp_current.valid && p->kp_current.local_index == receiver) {
        kp = &p->kp_current;
    } else if (p->kp_next.valid && p->kp_next.local_index == receiver) {
        kp = &p->kp_next;
    } else if (p->kp_previous.valid && p->kp_previous.local_index == receiver) {
        kp = &p->kp_previous;
    } else {
        d->stats.drop_index++;
        return WG_NONE;
    }
    if (wg_elapsed(now, kp->birth_ms) >= WG_REJECT_AFTER_TIME_MS) {
        d->stats.drop_expired++;
        return WG_NONE;
    }
    uint64_t counter = wg_load64(buf + WG_DATA_OFF_COUNTER);
    if (!wg_replay_check(&kp->replay, counter)) {
        d->stats.drop_replay++;
        return WG_NONE;
    }
    uint8_t nonce[12];
    counter_nonce(nonce, counter);
    size_t ctlen = len - WG_TRANSPORT_HEADER_SIZE;
    if (tn_aead_open(buf + WG_DATA_OFFSET, kp->recv_key, nonce, NULL, 0,
        buf + WG_DATA_OFFSET, ctlen) != 0) {
        d->stats.drop_auth++;
        return WG_NONE;
    }
    if (!wg_replay_validate(&kp->replay, counter)) {
        d->stats.drop_replay++;
        return WG_NONE;
    }
    if (kp == &p->kp_next) {
        confirm_next(p, now);
        kp = &p->kp_current;
    }
    // keepKeyFreshReceiving
    if (kp == &p->kp_current && kp->is_initiator && !p->sent_last_minute_handshake
        && wg_elapsed(now, kp->birth_ms) >= WG_REKEY_ON_RECEIVE_AGE_MS) {
        p->sent_last_minute_handshake = 1;
        wg_want_handshake(p, now, 0);
    }
    wg_timers_any_authenticated_packet_received(p);
    p->rx_bytes += (uint32_t)len;
    size_t ptlen = ctlen - WG_TAG_SIZE;
    if (ptlen == 0) {
        d->stats.rx_keepalive++;
        return WG_NONE;
    }
    size_t iplen = ip_packet_len(buf + WG_DATA_OFFSET, ptlen);
    if (iplen == 0) {
        d->stats.drop_inner++;
        return WG_NONE;
    }
    wg_timers_data_received(p, now);
    d->stats.rx_data++;
    out->peer = (int)slot;
    out->off = WG_DATA_OFFSET;
    out->len = iplen;
    return WG_PACKET;
}
