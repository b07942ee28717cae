// Internal declarations shared by the wg_*.c files (not a public API).
#ifndef WG_INTERNAL_H
#define WG_INTERNAL_H

#include <string.h>
#include "wg.h"
#include "tn_crypto.h"

static inline uint32_t wg_load32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void wg_store32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline uint64_t wg_load64(const uint8_t *p) {
    return (uint64_t)wg_load32(p) | ((uint64_t)wg_load32(p + 4) << 32);
}
static inline void wg_store64(uint8_t *p, uint64_t v) {
    wg_store32(p, (uint32_t)v);
    wg_store32(p + 4, (uint32_t)(v >> 32));
}
// Milliseconds from `then` to `now` (wrap-safe).
static inline uint32_t wg_elapsed(uint32_t now, uint32_t then) {
    return now - then;
}
// 1 when `now` is at or past `deadline` (wrap-safe within 24 days).
static inline int wg_due(uint32_t now, uint32_t deadline) {
    return (int32_t)(now - deadline) >= 0;
}

// wg_noise.c: handshake messages.
int wg_noise_create_initiation(wg_device *d, wg_peer *p, int slot, uint32_t now, uint8_t *msg);
// Returns the peer slot (>= 0) with the response written to msg, or -1
// (counted in stats).
int wg_noise_consume_initiation(wg_device *d, uint32_t now, uint8_t *msg);
int wg_noise_consume_response(wg_device *d, uint32_t now, uint8_t *msg);
void wg_noise_hash(uint8_t out[32], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
void wg_noise_mac(uint8_t out[16], const uint8_t *key, size_t keylen, const uint8_t *in, size_t len);
// h = HASH(HASH(C0 || IDENTIFIER) || responder_pub): a responder's initial h.
void wg_noise_responder_h(uint8_t h[32], const uint8_t responder_pub[32]);
int wg_new_index(wg_device *d, int slot, uint32_t *out);
void wg_keypair_wipe(wg_keypair *kp);

// wg_cookie.c: mac1/mac2, cookie replies, rate limiting.
// HASH(LABEL_MAC1 || pub) and HASH(LABEL_COOKIE || pub); NULL outputs skipped.
void wg_cookie_keys(uint8_t mac1_key[32], uint8_t cookie_key[32], const uint8_t pub[32]);
int wg_cookie_check_mac1(const wg_device *d, const uint8_t *msg, size_t mac1_off);
int wg_cookie_check_mac2(wg_device *d, uint32_t now, const uint8_t *src, size_t srclen,
    const uint8_t *msg, size_t mac2_off);
int wg_cookie_make_reply(wg_device *d, uint32_t now, const uint8_t *src, size_t srclen,
    uint8_t *msg, size_t mac1_off);
int wg_cookie_consume_reply(wg_device *d, uint32_t now, const uint8_t *msg);
void wg_cookie_add_macs(wg_peer *p, uint32_t now, uint8_t *msg, size_t mac1_off);
int wg_rate_allow(wg_device *d, uint32_t now);

// wg_timers.c: named for the event that drives each.
void wg_timers_data_sent(wg_device *d, wg_peer *p, uint32_t now);
void wg_timers_data_received(wg_peer *p, uint32_t now);
void wg_timers_any_authenticated_packet_sent(wg_peer *p);
void wg_timers_any_authenticated_packet_received(wg_peer *p);
void wg_timers_handshake_initiated(wg_device *d, wg_peer *p, uint32_t now);
void wg_timers_handshake_complete(wg_peer *p, uint32_t now);
void wg_timers_session_derived(wg_peer *p, uint32_t now);
void wg_want_handshake(wg_peer *p, uint32_t now, int is_retry);
void wg_timers_run(wg_device *d, int slot, uint32_t now);
uint32_t wg_jitter(wg_device *d);

// wg_transport.c
int wg_transport_seal(wg_device *d, wg_peer *p, uint32_t now, uint8_t *buf, size_t len, size_t cap, wg_out *out);
int wg_transport_open(wg_device *d, uint32_t now, uint8_t *buf, size_t len, wg_out *out);

#endif
