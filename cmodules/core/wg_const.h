// WireGuard specification constants, named as in wireguard-go
// device/constants.go (times in milliseconds, suffix _MS) plus the message
// layout of the whitepaper section 5.4. Plain C99, no MicroPython headers.
#ifndef WG_CONST_H
#define WG_CONST_H

#include <stdint.h>

#define WG_REKEY_AFTER_MESSAGES (UINT64_C(1) << 60)
// 2^64 - 2^13 - 1
#define WG_REJECT_AFTER_MESSAGES (UINT64_MAX - (UINT64_C(1) << 13))
#define WG_REKEY_AFTER_TIME_MS 120000u
#define WG_REKEY_ATTEMPT_TIME_MS 90000u
#define WG_REKEY_TIMEOUT_MS 5000u
#define WG_MAX_TIMER_HANDSHAKES (90 / 5) // REKEY_ATTEMPT_TIME / REKEY_TIMEOUT
#define WG_REKEY_TIMEOUT_JITTER_MAX_MS 334u
#define WG_REJECT_AFTER_TIME_MS 180000u
#define WG_KEEPALIVE_TIMEOUT_MS 10000u
#define WG_COOKIE_REFRESH_TIME_MS 120000u
#define WG_HANDSHAKE_INITIATION_RATE_MS 20u // per peer: closer is a flood
#define WG_PADDING_MULTIPLE 16u
#define WG_UNDER_LOAD_AFTER_TIME_MS 1000u
// Initiator refreshes on receive when the keypair is this old (165 s).
#define WG_REKEY_ON_RECEIVE_AGE_MS \
    (WG_REJECT_AFTER_TIME_MS - WG_KEEPALIVE_TIMEOUT_MS - WG_REKEY_TIMEOUT_MS)
#define WG_ZERO_KEY_MATERIAL_AFTER_MS (3u * WG_REJECT_AFTER_TIME_MS)

// Device-wide initiation budget (token bucket): each initiation costs
// several X25519 operations, so a flood of initiations with a valid mac1
// (our public key is public in a tailnet) must not monopolise the CPU.
// Exhausting the bucket switches the device to "under load" (cookie
// replies) for WG_UNDER_LOAD_AFTER_TIME_MS, like wireguard-go.
#define WG_HANDSHAKE_BUCKET_BURST 5u
#define WG_HANDSHAKE_BUCKET_REFILL_MS 50u // 20 handshakes/s sustained

// Message types and sizes.
#define WG_MSG_INITIATION 1
#define WG_MSG_RESPONSE 2
#define WG_MSG_COOKIE_REPLY 3
#define WG_MSG_TRANSPORT 4
#define WG_INITIATION_SIZE 148
#define WG_RESPONSE_SIZE 92
#define WG_COOKIE_REPLY_SIZE 64
#define WG_TRANSPORT_HEADER_SIZE 16
#define WG_TAG_SIZE 16
#define WG_KEEPALIVE_SIZE (WG_TRANSPORT_HEADER_SIZE + WG_TAG_SIZE)
// Offsets inside messages.
#define WG_INIT_OFF_SENDER 4
#define WG_INIT_OFF_EPHEMERAL 8
#define WG_INIT_OFF_STATIC 40
#define WG_INIT_OFF_TIMESTAMP 88
#define WG_INIT_OFF_MAC1 116
#define WG_INIT_OFF_MAC2 132
#define WG_RESP_OFF_SENDER 4
#define WG_RESP_OFF_RECEIVER 8
#define WG_RESP_OFF_EPHEMERAL 12
#define WG_RESP_OFF_EMPTY 44
#define WG_RESP_OFF_MAC1 60
#define WG_RESP_OFF_MAC2 76
#define WG_COOKIE_OFF_RECEIVER 4
#define WG_COOKIE_OFF_NONCE 8
#define WG_COOKIE_OFF_COOKIE 32
#define WG_DATA_OFF_RECEIVER 4
#define WG_DATA_OFF_COUNTER 8

#define WG_TAI64N_SIZE 12
#define WG_COOKIE_SIZE 16
#define WG_MAC_SIZE 16

// Replay window: a ring of 32-bit words (the kernel's algorithm with
// BITS_PER_LONG = 32, natural on the 32-bit MCUs this targets).
// 1024 bits total -> usable window 1024 - 32 = 992 packets, 128 bytes per
// keypair. See wg_replay.c for the size rationale.
#define WG_REPLAY_WORD_BITS 32u
#define WG_COUNTER_BITS_TOTAL 1024u
#define WG_COUNTER_WINDOW_SIZE (WG_COUNTER_BITS_TOTAL - WG_REPLAY_WORD_BITS)
#define WG_REPLAY_WORDS (WG_COUNTER_BITS_TOTAL / WG_REPLAY_WORD_BITS)

#endif
