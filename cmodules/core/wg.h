// tailnet WireGuard engine: sans-I/O, plain C99, no heap, no global state.
//
// The caller owns every byte: the device struct, the peer table (an array of
// wg_peer whose length is the capacity) and all packet buffers. Time is a
// millisecond counter passed into every call (wrap-safe 32-bit arithmetic;
// intervals must stay below 24 days). Randomness comes from a callback.
//
// Inputs:  wg_input   - a datagram received from the network
//          wg_output  - an IP packet to encrypt for a peer
//          wg_tick    - time passes (timers: retries, keepalives, rekeys)
// Outputs: written into the caller's buffer, described by a wg_out:
//          WG_DATAGRAM - send buf[off..off+len) to peer `peer` (peer -1:
//                        answer the source of the input, a cookie reply)
//          WG_PACKET   - decrypted IP packet buf[off..off+len) from `peer`
//          events      - wg_event(): handshake complete, keypair expired,
//                        needs handshake, handshake failed
// Everything malformed, truncated, replayed, forged or for an unknown key is
// dropped silently and counted in wg_stats.
#ifndef WG_H
#define WG_H

#include <stddef.h>
#include <stdint.h>
#include "wg_const.h"
#include "wg_replay.h"

// Return codes.
#define WG_NONE 0
#define WG_DATAGRAM 1
#define WG_PACKET 2
#define WG_ERR_NO_SESSION (-1) // no usable keypair: handshake requested
#define WG_ERR_BUFFER (-2)     // buffer capacity too small
#define WG_ERR_PEER (-3)       // bad peer slot / table full / bad key
#define WG_ERR_RNG (-4)        // randomness callback failed
#define WG_ERR_SIZE (-5)       // packet too big

// Events (bit flags per peer, fetched one at a time with wg_event).
#define WG_EV_HANDSHAKE_COMPLETE 1
#define WG_EV_KEYPAIR_EXPIRED 2 // current keypair reached REJECT_AFTER_TIME
#define WG_EV_NEEDS_HANDSHAKE 4 // an initiation is due (wg_tick sends it)
#define WG_EV_HANDSHAKE_FAILED 8 // gave up after REKEY_ATTEMPT_TIME
#define WG_EV_KEYS_ZEROED 16 // all key material wiped (3 x REJECT_AFTER_TIME)

// Transport data: plaintext starts at this offset in the caller's buffer.
#define WG_DATA_OFFSET WG_TRANSPORT_HEADER_SIZE
// Capacity a buffer needs to encrypt `len` plaintext bytes in place.
#define WG_OUTPUT_CAPACITY(len) \
    (WG_TRANSPORT_HEADER_SIZE + (((len) + 15u) & ~15u) + WG_TAG_SIZE)

// Fill out[0..n) with cryptographically secure random bytes; return 0, or
// nonzero on failure (the operation needing it is then abandoned).
typedef int (*wg_rng_fn)(void *ctx, uint8_t *out, size_t n);

typedef struct {
    int peer;   // peer slot, or -1
    size_t off; // output offset in the caller's buffer
    size_t len; // output length
} wg_out;

typedef struct {
    uint8_t send_key[32];
    uint8_t recv_key[32];
    uint64_t send_counter;
    wg_replay replay;
    uint32_t local_index;
    uint32_t remote_index;
    uint32_t birth_ms;
    uint8_t valid;
    uint8_t is_initiator;
} wg_keypair;

// Timer slots; each is named for the event that arms it (wireguard-go's
// timers.go): see wg_timers.c.
enum {
    WG_TIMER_RETRANSMIT_HANDSHAKE, // armed when an initiation is sent
    WG_TIMER_SEND_KEEPALIVE,       // armed when data is received
    WG_TIMER_NEW_HANDSHAKE,        // armed when data is sent
    WG_TIMER_ZERO_KEY_MATERIAL,    // armed when a session is derived
    WG_TIMER_COUNT
};

typedef struct {
    uint8_t remote_static[32];
    uint8_t ss[32]; // DH(our static, their static), computed once
    // Initiator handshake in flight.
    uint8_t hs_hash[32];
    uint8_t hs_ck[32];
    uint8_t hs_eph[32];
    uint32_t hs_local_index;
    uint8_t hs_active;
    // Greatest TAI64N accepted from this peer's static key.
    uint8_t last_timestamp[WG_TAI64N_SIZE];
    // Cookie generator (mac2 on what we send to this peer).
    uint8_t cookie[WG_COOKIE_SIZE];
    uint8_t last_mac1[WG_MAC_SIZE];
    uint32_t cookie_birth_ms;
    uint8_t has_cookie;
    uint8_t has_last_mac1;
    uint8_t in_use;
    uint8_t events;
    wg_keypair kp_current, kp_previous, kp_next;
    uint32_t timer_at[WG_TIMER_COUNT];
    uint8_t timer_on; // bit per timer
    uint8_t handshake_attempts;
    uint8_t need_another_keepalive;
    uint8_t sent_last_minute_handshake;
    uint8_t want_initiation;
    uint8_t want_keepalive;
    uint8_t expiry_reported;
    uint8_t has_last_sent_handshake;
    uint8_t has_last_initiation_consumed;
    uint8_t has_last_handshake;
    uint32_t last_sent_handshake_ms;
    uint32_t last_initiation_consumed_ms;
    uint32_t last_handshake_ms;
    uint32_t rx_bytes, tx_bytes; // transport bytes (wrap at 4 GiB)
} wg_peer;

typedef struct {
    uint32_t rx_datagrams;
    uint32_t rx_data, rx_keepalive, tx_data, tx_keepalive;
    uint32_t rx_initiation, rx_response, rx_cookie;
    uint32_t tx_initiation, tx_response, tx_cookie;
    uint32_t handshakes;
    // Drops, one counter per class.
    uint32_t drop_short;      // truncated / wrong size for its type
    uint32_t drop_type;       // unknown message type / nonzero reserved bytes
    uint32_t drop_mac1;       // bad mac1
    uint32_t drop_mac2;       // under load without a valid mac2 (cookie sent)
    uint32_t drop_rate;       // handshake budget exhausted / per-peer flood
    uint32_t drop_handshake;  // handshake failed to authenticate / bad DH
    uint32_t drop_peer;       // initiation from a static key not in the table
    uint32_t drop_timestamp;  // replayed (not newer) initiation timestamp
    uint32_t drop_index;      // unknown receiver index
    uint32_t drop_replay;     // counter replayed / too old / past the limit
    uint32_t drop_auth;       // transport AEAD tag mismatch (forged, wrong key)
    uint32_t drop_expired;    // keypair older than REJECT_AFTER_TIME
    uint32_t drop_inner;      // decrypted payload is not a valid IP packet
    uint32_t drop_cookie;     // cookie reply not authentic / unexpected
    uint32_t drop_rng;        // randomness failure
} wg_stats;

typedef struct {
    uint8_t static_priv[32];
    uint8_t static_pub[32];
    uint8_t mac1_key[32];    // HASH(LABEL_MAC1 || our pub)
    uint8_t cookie_key[32];  // HASH(LABEL_COOKIE || our pub)
    uint8_t hs_resp_h[32];   // HASH(H0 || our pub): responder's initial h
    uint8_t cookie_secret[32];
    uint32_t cookie_secret_birth_ms;
    uint8_t has_cookie_secret;
    uint8_t force_under_load;
    uint8_t auto_under_load;
    uint8_t slot_bits;
    uint32_t under_load_until_ms;
    uint32_t bucket_tokens;
    uint32_t bucket_last_ms;
    uint32_t jitter_state; // xorshift32, reseeded from the rng per handshake
    // TAI64N: last timestamp generated (the persistable floor) and the
    // optional wall clock (unix ms at a given `now`).
    uint8_t tai_last[WG_TAI64N_SIZE];
    uint8_t has_wall;
    uint32_t wall_sync_ms;
    uint64_t wall_unix_ms;
    wg_peer *peers;
    uint16_t capacity;
    uint16_t event_cursor;
    uint16_t tick_cursor;
    wg_rng_fn rng;
    void *rng_ctx;
    wg_stats stats;
} wg_device;

// Initialise a device. `peers` is caller storage for `capacity` peers
// (1..4096). Returns 0, or WG_ERR_PEER for a bad capacity.
int wg_device_init(wg_device *d, const uint8_t static_priv[32], wg_peer *peers,
    uint16_t capacity, wg_rng_fn rng, void *rng_ctx, uint32_t now_ms);
// Wipe every secret in the device and its peers.
void wg_device_wipe(wg_device *d);

// Replace our static private key (node-key rotation): peers are kept (same
// slots), their sessions wiped and ss re-derived; traffic needs new handshakes.
// Returns the number of peers dropped (low-order keys; normally 0).
int wg_device_set_key(wg_device *d, const uint8_t static_priv[32]);

// Add a peer by public key: returns its slot, or WG_ERR_PEER (table full, or
// a key whose DH with ours is all-zero). Adding a present key returns its slot.
int wg_peer_add(wg_device *d, const uint8_t pub[32]);
int wg_peer_find(const wg_device *d, const uint8_t pub[32]);
void wg_peer_remove(wg_device *d, int slot);
// 1 when the peer has a keypair usable for sending now.
int wg_peer_can_send(const wg_device *d, int slot, uint32_t now_ms);

// A received datagram, in place in buf (len bytes, capacity cap >= len).
// src/srclen identify the sender's address (used for cookies only).
int wg_input(wg_device *d, uint32_t now_ms, const uint8_t *src, size_t srclen,
    uint8_t *buf, size_t len, size_t cap, wg_out *out);
// Encrypt an IP packet of len bytes found at buf + WG_DATA_OFFSET, in place.
// cap must be >= WG_OUTPUT_CAPACITY(len). Returns WG_DATAGRAM, or
// WG_ERR_NO_SESSION (buffer untouched; the caller keeps the packet and calls
// wg_tick, which sends the initiation).
int wg_output(wg_device *d, int slot, uint32_t now_ms, uint8_t *buf, size_t len,
    size_t cap, wg_out *out);
// Run timers; returns WG_DATAGRAM when something must be sent (call again
// until WG_NONE). cap >= WG_INITIATION_SIZE.
int wg_tick(wg_device *d, uint32_t now_ms, uint8_t *buf, size_t cap, wg_out *out);
// Ask for a handshake with a peer now (an explicit rekey); the initiation is
// produced by the next wg_tick unless one was sent in the last REKEY_TIMEOUT.
void wg_initiate(wg_device *d, int slot, uint32_t now_ms);
// Next pending event: returns its WG_EV_* value (0 when none), *slot = peer.
int wg_event(wg_device *d, int *slot);

// Under-load mode (answer handshakes without a valid mac2 with a cookie).
void wg_set_under_load(wg_device *d, int on);
int wg_under_load(const wg_device *d, uint32_t now_ms);

// TAI64N. Initiation timestamps strictly increase per device (= static key).
// With a wall clock they follow it; without one (boards without RTC) they
// continue from the floor, which the caller persists (wg_tai64n_get) and
// restores at boot (wg_tai64n_set_floor; only raises it).
void wg_set_wallclock(wg_device *d, uint32_t now_ms, uint64_t unix_ms);
void wg_tai64n_get(const wg_device *d, uint8_t out[WG_TAI64N_SIZE]);
void wg_tai64n_set_floor(wg_device *d, const uint8_t floor[WG_TAI64N_SIZE]);

#endif
