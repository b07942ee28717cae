// Unit tests for the WireGuard engine with a driven clock and a
// deterministic rng. Build and run: make -f cmodules/core/tests/wg.mk test
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wg.h"
#include "wg_replay.h"
#include "tn_crypto.h"

static int failures, checks;
#define CHECK(c) do { checks++; if (!(c)) { failures++; \
    printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECK_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); checks++; \
    if (_a != _b) { failures++; printf("FAIL %s:%d: %s == %s (%lld != %lld)\n", \
    __FILE__, __LINE__, #a, #b, _a, _b); } } while (0)

// ---- deterministic rng -------------------------------------------------------
typedef struct { uint64_t s; int fail; } rng_t;
static int test_rng(void *ctx, uint8_t *out, size_t n) {
    rng_t *r = ctx;
    if (r->fail) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        out[i] = (uint8_t)(z ^ (z >> 31));
    }
    return 0;
}

// ---- a node: device + peers + rng -----------------------------------------------
#define CAP 4
typedef struct {
    wg_device d;
    wg_peer peers[CAP];
    rng_t rng;
    uint8_t priv[32], pub[32];
} node;

static void node_init(node *n, uint8_t seed, uint32_t now) {
    memset(n, 0, sizeof(*n));
    n->rng.s = seed * 1000003ULL;
    memset(n->priv, seed, 32);
    n->priv[0] &= 248;
    n->priv[31] = (n->priv[31] & 127) | 64;
    tn_x25519_base(n->pub, n->priv);
    CHECK_EQ(wg_device_init(&n->d, n->priv, n->peers, CAP, test_rng, &n->rng, now), 0);
}

static int connect(node *a, node *b) {
    int s = wg_peer_add(&a->d, b->pub);
    CHECK(s >= 0);
    return s;
}

// An IPv4/UDP packet with `plen` payload bytes at buf+off.
static size_t make_ip(uint8_t *p, size_t plen, uint8_t fill) {
    size_t total = 28 + plen;
    memset(p, 0, 28);
    p[0] = 0x45;
    p[2] = (uint8_t)(total >> 8);
    p[3] = (uint8_t)total;
    p[8] = 64;
    p[9] = 17;
    memcpy(p + 12, "\x0a\x63\x00\x01\x0a\x63\x00\x02", 8);
    p[24] = (uint8_t)((8 + plen) >> 8);
    p[25] = (uint8_t)(8 + plen);
    memset(p + 28, fill, plen);
    return total;
}

#define BUFCAP 2048
typedef struct { uint8_t b[BUFCAP]; size_t len; } pkt;

static const uint8_t SRC_A[6] = {127, 0, 0, 1, 0x10, 0x01};
static const uint8_t SRC_B[6] = {127, 0, 0, 1, 0x10, 0x02};

// Feed one datagram into a node; returns the result code, out filled.
static int feed(node *n, uint32_t now, const uint8_t *src, pkt *p, wg_out *o) {
    return wg_input(&n->d, now, src, 6, p->b, p->len, BUFCAP, o);
}

static int tick(node *n, uint32_t now, pkt *p, wg_out *o) {
    int r = wg_tick(&n->d, now, p->b, BUFCAP, o);
    p->len = r == WG_DATAGRAM ? o->len : 0;
    return r;
}

static int drain_events(node *n, int want) {
    int slot, ev, seen = 0;
    while ((ev = wg_event(&n->d, &slot)) != 0) {
        seen |= ev;
    }
    return want ? (seen & want) : seen;
}

// Encrypt an IP packet of plen payload from a to peer slot s into p.
static int send_data(node *a, int s, uint32_t now, size_t plen, uint8_t fill, pkt *p) {
    wg_out o;
    size_t l = make_ip(p->b + WG_DATA_OFFSET, plen, fill);
    int r = wg_output(&a->d, s, now, p->b, l, BUFCAP, &o);
    p->len = r == WG_DATAGRAM ? o.len : 0;
    return r;
}

// Full handshake: `ini` initiates to `res`. Returns 1 on success.
static int handshake(node *ini, int s_ini, node *res, uint32_t now) {
    pkt p;
    wg_out o;
    wg_initiate(&ini->d, s_ini, now);
    if (tick(ini, now, &p, &o) != WG_DATAGRAM || p.len != WG_INITIATION_SIZE) {
        return 0;
    }
    if (feed(res, now, SRC_A, &p, &o) != WG_DATAGRAM || o.len != WG_RESPONSE_SIZE) {
        return 0;
    }
    p.len = o.len;
    if (feed(ini, now, SRC_B, &p, &o) != WG_DATAGRAM || o.len != WG_KEEPALIVE_SIZE) {
        return 0;
    }
    p.len = o.len;
    return feed(res, now, SRC_A, &p, &o) == WG_NONE;
}

// ---- tests ---------------------------------------------------------------------
static void test_sizes(void) {
    printf("sizeof: wg_keypair=%zu wg_replay=%zu wg_peer=%zu wg_device=%zu (window %u)\n",
        sizeof(wg_keypair), sizeof(wg_replay), sizeof(wg_peer), sizeof(wg_device),
        (unsigned)WG_COUNTER_WINDOW_SIZE);
    CHECK(sizeof(wg_peer) <= 1024);
}

// The Linux kernel's counter selftest (drivers/net/wireguard/selftest/counter.c).
static void test_replay_kernel_cases(void) {
    wg_replay r;
    uint64_t i;
    int n = 0;
#define T_INIT wg_replay_init(&r)
#define T_LIM (WG_COUNTER_WINDOW_SIZE + 1)
#define T(c, v) do { n++; int _ok = wg_replay_check(&r, (c)) == (v) && wg_replay_validate(&r, (c)) == (v); \
    if (!_ok) { printf("replay case %d\n", n); } CHECK(_ok); } while (0)
#define REJ WG_REJECT_AFTER_MESSAGES
    T_INIT;
    T(0, 1); T(1, 1); T(1, 0); T(9, 1); T(8, 1); T(7, 1); T(7, 0);
    T(T_LIM, 1); T(T_LIM - 1, 1); T(T_LIM - 1, 0); T(T_LIM - 2, 1);
    T(2, 1); T(2, 0); T(T_LIM + 16, 1); T(3, 0); T(T_LIM + 16, 0);
    T(T_LIM * 4, 1); T(T_LIM * 4 - (T_LIM - 1), 1); T(10, 0);
    T(T_LIM * 4 - T_LIM, 0); T(T_LIM * 4 - (T_LIM + 1), 0);
    T(T_LIM * 4 - (T_LIM - 2), 1); T(T_LIM * 4 + 1 - T_LIM, 0); T(0, 0);
    T(REJ, 0); T(REJ - 1, 1); T(REJ, 0); T(REJ - 1, 0); T(REJ - 2, 1);
    T(REJ + 1, 0); T(REJ + 2, 0); T(REJ - 2, 0); T(REJ - 3, 1); T(0, 0);

    T_INIT;
    for (i = 1; i <= WG_COUNTER_WINDOW_SIZE; ++i) T(i, 1);
    T(0, 1); T(0, 0);
    T_INIT;
    for (i = 2; i <= WG_COUNTER_WINDOW_SIZE + 1; ++i) T(i, 1);
    T(1, 1); T(0, 0);
    T_INIT;
    for (i = WG_COUNTER_WINDOW_SIZE + 1; i-- > 0;) T(i, 1);
    T_INIT;
    for (i = WG_COUNTER_WINDOW_SIZE + 2; i-- > 1;) T(i, 1);
    T(0, 0);
    T_INIT;
    for (i = WG_COUNTER_WINDOW_SIZE + 1; i-- > 1;) T(i, 1);
    T(WG_COUNTER_WINDOW_SIZE + 1, 1); T(0, 0);
    T_INIT;
    for (i = WG_COUNTER_WINDOW_SIZE + 1; i-- > 1;) T(i, 1);
    T(0, 1); T(WG_COUNTER_WINDOW_SIZE + 1, 1);
#undef T
#undef T_INIT
#undef T_LIM
#undef REJ
}

static void test_handshake_and_data(int a_initiates) {
    node A, B;
    pkt p, q;
    wg_out o;
    uint32_t now = 1000;
    node_init(&A, 1, now);
    node_init(&B, 2, now);
    int sa = connect(&A, &B), sb = connect(&B, &A);
    node *ini = a_initiates ? &A : &B, *res = a_initiates ? &B : &A;
    int s_ini = a_initiates ? sa : sb, s_res = a_initiates ? sb : sa;
    const uint8_t *src_ini = a_initiates ? SRC_A : SRC_B;
    const uint8_t *src_res = a_initiates ? SRC_B : SRC_A;

    // No session: the packet is refused and a handshake is requested.
    CHECK_EQ(send_data(ini, s_ini, now, 10, 0x11, &p), WG_ERR_NO_SESSION);
    CHECK(drain_events(ini, WG_EV_NEEDS_HANDSHAKE));
    CHECK_EQ(tick(ini, now, &p, &o), WG_DATAGRAM);
    CHECK_EQ(o.len, WG_INITIATION_SIZE);
    CHECK_EQ(o.peer, s_ini);
    CHECK_EQ(p.b[0], 1);
    CHECK_EQ(tick(ini, now, &q, &o), WG_NONE); // only one initiation
    now += 3;
    CHECK_EQ(feed(res, now, src_ini, &p, &o), WG_DATAGRAM);
    CHECK_EQ(o.len, WG_RESPONSE_SIZE);
    CHECK_EQ(o.peer, s_res);
    // The responder must not send before the initiator confirms.
    CHECK_EQ(send_data(res, s_res, now, 5, 0x22, &q), WG_ERR_NO_SESSION);
    CHECK(!wg_peer_can_send(&res->d, s_res, now));
    p.len = o.len;
    now += 3;
    CHECK_EQ(feed(ini, now, src_res, &p, &o), WG_DATAGRAM); // keepalive
    CHECK_EQ(o.len, WG_KEEPALIVE_SIZE);
    CHECK(drain_events(ini, WG_EV_HANDSHAKE_COMPLETE));
    p.len = o.len;
    CHECK_EQ(feed(res, now, src_ini, &p, &o), WG_NONE);
    CHECK_EQ(res->d.stats.rx_keepalive, 1);
    CHECK(drain_events(res, WG_EV_HANDSHAKE_COMPLETE));
    CHECK(wg_peer_can_send(&res->d, s_res, now));
    // Let the retry window of the responder's refused packet pass without
    // a second handshake being needed.
    // Data both ways, padding to 16, plaintext length from the IP header.
    for (size_t plen = 0; plen < 40; plen += 7) {
        CHECK_EQ(send_data(ini, s_ini, now, plen, (uint8_t)plen, &p), WG_DATAGRAM);
        size_t iplen = 28 + plen;
        CHECK_EQ(p.len, 32 + ((iplen + 15) & ~(size_t)15));
        CHECK_EQ((p.len - 32) % 16, 0);
        CHECK_EQ(feed(res, now, src_ini, &p, &o), WG_PACKET);
        CHECK_EQ(o.peer, s_res);
        CHECK_EQ(o.off, WG_DATA_OFFSET);
        CHECK_EQ(o.len, iplen);
        CHECK(p.b[o.off + 28 + (plen ? plen - 1 : 0)] == (plen ? (uint8_t)plen : 0));
        CHECK_EQ(send_data(res, s_res, now, plen, 0x5a, &q), WG_DATAGRAM);
        CHECK_EQ(feed(ini, now, src_res, &q, &o), WG_PACKET);
        CHECK_EQ(o.len, iplen);
    }
    // The 1420-byte case.
    CHECK_EQ(send_data(ini, s_ini, now, 1420 - 28, 0x77, &p), WG_DATAGRAM);
    CHECK_EQ(p.len, 32 + 1424);
    CHECK_EQ(feed(res, now, src_ini, &p, &o), WG_PACKET);
    CHECK_EQ(o.len, 1420);
    // Capacity too small for the padded packet.
    {
        wg_out oo;
        size_t l = make_ip(q.b + WG_DATA_OFFSET, 1, 1);
        CHECK_EQ(wg_output(&ini->d, s_ini, now, q.b, l, WG_OUTPUT_CAPACITY(l) - 1, &oo), WG_ERR_BUFFER);
        CHECK_EQ(wg_output(&ini->d, s_ini, now, q.b, l, WG_OUTPUT_CAPACITY(l), &oo), WG_DATAGRAM);
    }
    CHECK_EQ(A.d.stats.handshakes, 1);
    CHECK_EQ(B.d.stats.handshakes, 1);
}

static void test_rekey_after_time(void) {
    node A, B;
    pkt p, old;
    wg_out o;
    uint32_t now = 5000;
    node_init(&A, 3, now);
    node_init(&B, 4, now);
    int sa = connect(&A, &B), sb = connect(&B, &A);
    CHECK(handshake(&A, sa, &B, now));
    uint32_t first_idx = A.peers[sa].kp_current.local_index;
    // Keep traffic flowing both ways until REKEY_AFTER_TIME.
    for (uint32_t t = 1000; t < WG_REKEY_AFTER_TIME_MS; t += 1000) {
        CHECK_EQ(send_data(&A, sa, now + t, 10, 1, &p), WG_DATAGRAM);
        CHECK_EQ(feed(&B, now + t, SRC_A, &p, &o), WG_PACKET);
        CHECK_EQ(send_data(&B, sb, now + t, 10, 2, &p), WG_DATAGRAM);
        CHECK_EQ(feed(&A, now + t, SRC_B, &p, &o), WG_PACKET);
        while (tick(&A, now + t, &p, &o) == WG_DATAGRAM) { CHECK(p.b[0] != 1); }
        while (tick(&B, now + t, &p, &o) == WG_DATAGRAM) { CHECK(p.b[0] != 1); }
    }
    CHECK_EQ(A.d.stats.tx_initiation, 1);
    now += WG_REKEY_AFTER_TIME_MS;
    // A packet encrypted with the old keypair, delivered after the rekey.
    CHECK_EQ(send_data(&A, sa, now, 10, 3, &old), WG_DATAGRAM);
    CHECK(drain_events(&A, WG_EV_NEEDS_HANDSHAKE));
    CHECK_EQ(tick(&A, now, &p, &o), WG_DATAGRAM);
    CHECK_EQ(p.b[0], WG_MSG_INITIATION);
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_DATAGRAM);
    p.len = o.len;
    CHECK_EQ(feed(&A, now, SRC_B, &p, &o), WG_DATAGRAM);
    p.len = o.len;
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_NONE);
    CHECK(A.peers[sa].kp_current.local_index != first_idx);
    CHECK_EQ(A.peers[sa].kp_previous.local_index, first_idx);
    CHECK_EQ(feed(&B, now, SRC_A, &old, &o), WG_PACKET); // previous keypair still accepted
    CHECK_EQ(send_data(&A, sa, now, 10, 4, &p), WG_DATAGRAM);
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_PACKET);
    CHECK_EQ(A.d.stats.handshakes, 2);
    // The responder does not rekey on time (only the initiator does).
    CHECK_EQ(B.d.stats.tx_initiation, 0);
}

// The initiator refreshes when it receives on a keypair older than
// REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT (165 s), once.
static void test_rekey_on_receive(void) {
    node A, B;
    pkt p;
    wg_out o;
    uint32_t now = 500;
    node_init(&A, 24, now);
    node_init(&B, 25, now);
    int sa = connect(&A, &B), sb = connect(&B, &A);
    CHECK(handshake(&A, sa, &B, now));
    drain_events(&A, 0);
    uint32_t t = now + WG_REKEY_ON_RECEIVE_AGE_MS - 1;
    CHECK_EQ(send_data(&B, sb, t, 10, 1, &p), WG_DATAGRAM);
    CHECK_EQ(feed(&A, t, SRC_B, &p, &o), WG_PACKET);
    CHECK(!(drain_events(&A, 0) & WG_EV_NEEDS_HANDSHAKE));
    t++;
    CHECK_EQ(send_data(&B, sb, t, 10, 1, &p), WG_DATAGRAM);
    CHECK_EQ(feed(&A, t, SRC_B, &p, &o), WG_PACKET);
    CHECK(drain_events(&A, WG_EV_NEEDS_HANDSHAKE));
    CHECK_EQ(tick(&A, t, &p, &o), WG_DATAGRAM);
    CHECK_EQ(p.b[0], WG_MSG_INITIATION);
    // Only once ("sent last minute handshake").
    A.peers[sa].has_last_sent_handshake = 0;
    CHECK_EQ(send_data(&B, sb, t + 1, 10, 1, &p), WG_DATAGRAM);
    CHECK_EQ(feed(&A, t + 1, SRC_B, &p, &o), WG_PACKET);
    CHECK(!(drain_events(&A, 0) & WG_EV_NEEDS_HANDSHAKE));
    // The responder never rekeys on receive.
    CHECK_EQ(send_data(&A, sa, t + 2, 10, 1, &p), WG_DATAGRAM);
    CHECK_EQ(feed(&B, t + 2, SRC_A, &p, &o), WG_PACKET);
    CHECK(!(drain_events(&B, 0) & WG_EV_NEEDS_HANDSHAKE));
}

// A responder that receives a new initiation while an unconfirmed "next"
// keypair exists replaces it; the old current keeps working until confirmed.
static void test_next_keypair_replaced(void) {
    node A, B;
    pkt p, r1;
    wg_out o;
    uint32_t now = 900;
    node_init(&A, 26, now);
    node_init(&B, 27, now);
    int sa = connect(&A, &B), sb = connect(&B, &A);
    CHECK(handshake(&A, sa, &B, now));
    uint32_t cur = B.peers[sb].kp_current.local_index;
    now += 6000;
    wg_initiate(&A.d, sa, now);
    CHECK_EQ(tick(&A, now, &p, &o), WG_DATAGRAM);
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_DATAGRAM); // response 1 (lost)
    r1 = p;
    uint32_t next1 = B.peers[sb].kp_next.local_index;
    CHECK(B.peers[sb].kp_next.valid);
    CHECK_EQ(B.peers[sb].kp_current.local_index, cur);
    CHECK(!B.peers[sb].kp_previous.valid); // wireguard-go drops previous here
    now += 6000;
    wg_initiate(&A.d, sa, now);
    CHECK_EQ(tick(&A, now, &p, &o), WG_DATAGRAM);
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_DATAGRAM);
    CHECK(B.peers[sb].kp_next.local_index != next1);
    p.len = o.len;
    CHECK_EQ(feed(&A, now, SRC_B, &p, &o), WG_DATAGRAM); // keepalive on the new session
    p.len = o.len;
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_NONE);
    CHECK(!B.peers[sb].kp_next.valid);
    CHECK_EQ(B.peers[sb].kp_previous.local_index, cur);
    // The stale first response is refused by A (its handshake is over).
    r1.len = WG_RESPONSE_SIZE;
    uint32_t before = A.d.stats.drop_index;
    CHECK_EQ(feed(&A, now, SRC_B, &r1, &o), WG_NONE);
    CHECK_EQ(A.d.stats.drop_index, before + 1);
}

static void test_rekey_after_messages(void) {
    node A, B;
    pkt p;
    wg_out o;
    uint32_t now = 77;
    node_init(&A, 5, now);
    node_init(&B, 6, now);
    int sa = connect(&A, &B);
    connect(&B, &A);
    CHECK(handshake(&A, sa, &B, now));
    drain_events(&A, 0);
    A.peers[sa].kp_current.send_counter = WG_REKEY_AFTER_MESSAGES;
    CHECK_EQ(send_data(&A, sa, now + 6000, 10, 1, &p), WG_DATAGRAM);
    CHECK(drain_events(&A, WG_EV_NEEDS_HANDSHAKE));
    CHECK_EQ(tick(&A, now + 6000, &p, &o), WG_DATAGRAM);
    CHECK_EQ(p.b[0], WG_MSG_INITIATION);
    // REJECT_AFTER_MESSAGES: the keypair can no longer send.
    A.peers[sa].kp_current.send_counter = WG_REJECT_AFTER_MESSAGES;
    CHECK_EQ(send_data(&A, sa, now + 6000, 10, 1, &p), WG_ERR_NO_SESSION);
    // The last usable counter is REJECT_AFTER_MESSAGES - 1 (accepted), then
    // the sender stops; the receiver refuses counters at or past the limit.
    CHECK(handshake(&A, sa, &B, now + 12000));
    A.peers[sa].kp_current.send_counter = WG_REJECT_AFTER_MESSAGES - 1;
    CHECK_EQ(send_data(&A, sa, now + 12000, 10, 1, &p), WG_DATAGRAM);
    pkt late = p;
    CHECK_EQ(feed(&B, now + 12000, SRC_A, &p, &o), WG_PACKET);
    CHECK_EQ(send_data(&A, sa, now + 12000, 10, 1, &p), WG_ERR_NO_SESSION);
    uint32_t before = B.d.stats.drop_replay;
    late.b[8] = 0xff; // counter field = REJECT_AFTER_MESSAGES (2^64 - 2^13 - 1)
    late.b[9] = 0xdf;
    for (int i = 10; i < 16; i++) late.b[i] = 0xff;
    CHECK_EQ(feed(&B, now + 12000, SRC_A, &late, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_replay, before + 1);
}

static void test_retry_and_give_up(void) {
    node A, B;
    pkt p;
    wg_out o;
    uint32_t start = 100000, t, last = 0;
    int sent = 0, failed_at = -1;
    node_init(&A, 7, start);
    node_init(&B, 8, start);
    int sa = connect(&A, &B);
    CHECK_EQ(send_data(&A, sa, start, 10, 1, &p), WG_ERR_NO_SESSION);
    for (t = start; t < start + 200000; t += 10) {
        while (tick(&A, t, &p, &o) == WG_DATAGRAM) {
            CHECK_EQ(p.b[0], WG_MSG_INITIATION);
            if (sent) {
                uint32_t gap = t - last;
                CHECK(gap >= WG_REKEY_TIMEOUT_MS && gap <= WG_REKEY_TIMEOUT_MS + WG_REKEY_TIMEOUT_JITTER_MAX_MS + 10);
            }
            last = t;
            sent++;
        }
        if (failed_at < 0 && (drain_events(&A, 0) & WG_EV_HANDSHAKE_FAILED)) {
            failed_at = (int)(t - start);
        }
    }
    // wireguard-go: 1 + MaxTimerHandshakes + 1 initiations, then give up.
    CHECK_EQ(sent, WG_MAX_TIMER_HANDSHAKES + 2);
    CHECK(failed_at >= (int)WG_REKEY_ATTEMPT_TIME_MS);
    CHECK(failed_at < (int)(WG_REKEY_ATTEMPT_TIME_MS + 20000));
    // Key material (the pending handshake) is zeroed 3 x REJECT_AFTER_TIME later.
    CHECK(A.peers[sa].hs_active);
    int zeroed = 0;
    for (t = start + 200000; t < start + failed_at + WG_ZERO_KEY_MATERIAL_AFTER_MS + 1000; t += 500) {
        tick(&A, t, &p, &o);
        if (drain_events(&A, WG_EV_KEYS_ZEROED)) { zeroed = 1; break; }
    }
    CHECK(zeroed);
    CHECK(!A.peers[sa].hs_active);
    CHECK(tn_ct_is_zero(A.peers[sa].hs_eph, 32));
}

static void test_session_expiry(void) {
    node A, B;
    pkt p;
    wg_out o;
    uint32_t now = 0xfffff000u; // crosses the 32-bit wrap on purpose
    node_init(&A, 9, now);
    node_init(&B, 10, now);
    int sa = connect(&A, &B), sb = connect(&B, &A);
    CHECK(handshake(&A, sa, &B, now));
    drain_events(&A, 0);
    drain_events(&B, 0);
    CHECK_EQ(send_data(&B, sb, now + WG_REJECT_AFTER_TIME_MS - 1, 10, 1, &p), WG_DATAGRAM);
    CHECK_EQ(feed(&A, now + WG_REJECT_AFTER_TIME_MS - 1, SRC_B, &p, &o), WG_PACKET);
    CHECK_EQ(send_data(&B, sb, now + WG_REJECT_AFTER_TIME_MS - 1, 10, 1, &p), WG_DATAGRAM);
    CHECK_EQ(feed(&A, now + WG_REJECT_AFTER_TIME_MS, SRC_B, &p, &o), WG_NONE);
    CHECK_EQ(A.d.stats.drop_expired, 1);
    CHECK_EQ(send_data(&B, sb, now + WG_REJECT_AFTER_TIME_MS, 10, 1, &p), WG_ERR_NO_SESSION);
    tick(&A, now + WG_REJECT_AFTER_TIME_MS, &p, &o);
    CHECK(drain_events(&A, WG_EV_KEYPAIR_EXPIRED));
    // Keys wiped 3 x REJECT_AFTER_TIME after the session was derived.
    for (uint32_t t = 0; t <= WG_ZERO_KEY_MATERIAL_AFTER_MS; t += 1000) {
        while (tick(&A, now + t, &p, &o) == WG_DATAGRAM) {}
    }
    CHECK(drain_events(&A, WG_EV_KEYS_ZEROED));
    CHECK(!A.peers[sa].kp_current.valid);
    CHECK(tn_ct_is_zero(A.peers[sa].kp_current.send_key, 32));
    CHECK(tn_ct_is_zero(A.peers[sa].kp_previous.recv_key, 32));
}

static void test_keepalive_and_new_handshake(void) {
    node A, B;
    pkt p;
    wg_out o;
    uint32_t now = 42;
    node_init(&A, 11, now);
    node_init(&B, 12, now);
    int sa = connect(&A, &B), sb = connect(&B, &A);
    CHECK(handshake(&A, sa, &B, now));
    // A sends data; B receives and sends nothing: B's keepalive after 10 s.
    CHECK_EQ(send_data(&A, sa, now, 10, 1, &p), WG_DATAGRAM);
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_PACKET);
    CHECK_EQ(tick(&B, now + WG_KEEPALIVE_TIMEOUT_MS - 1, &p, &o), WG_NONE);
    CHECK_EQ(tick(&B, now + WG_KEEPALIVE_TIMEOUT_MS, &p, &o), WG_DATAGRAM);
    CHECK_EQ(p.len, WG_KEEPALIVE_SIZE);
    CHECK_EQ(o.peer, sb);
    CHECK_EQ(tick(&B, now + WG_KEEPALIVE_TIMEOUT_MS, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.tx_keepalive, 1);
    // A sending data itself suppresses the keepalive.
    CHECK_EQ(send_data(&A, sa, now + 20000, 10, 1, &p), WG_DATAGRAM);
    CHECK_EQ(feed(&B, now + 20000, SRC_A, &p, &o), WG_PACKET);
    CHECK_EQ(send_data(&B, sb, now + 21000, 10, 1, &p), WG_DATAGRAM);
    CHECK_EQ(feed(&A, now + 21000, SRC_B, &p, &o), WG_PACKET);
    CHECK_EQ(tick(&B, now + 31000, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.tx_keepalive, 1);
    // Data sent by A with no answer for KEEPALIVE + REKEY_TIMEOUT: new handshake.
    uint32_t t0 = now + 40000;
    CHECK_EQ(send_data(&A, sa, t0, 10, 1, &p), WG_DATAGRAM);
    int initiated = 0;
    for (uint32_t t = t0; t < t0 + 16000; t += 50) {
        if (tick(&A, t, &p, &o) == WG_DATAGRAM && p.b[0] == WG_MSG_INITIATION) {
            CHECK(t - t0 >= WG_KEEPALIVE_TIMEOUT_MS + WG_REKEY_TIMEOUT_MS);
            initiated = 1;
            break;
        }
    }
    CHECK(initiated);
    // A keepalive received counts as an answer: no handshake then.
    node_init(&A, 13, now);
    node_init(&B, 14, now);
    sa = connect(&A, &B);
    sb = connect(&B, &A);
    CHECK(handshake(&A, sa, &B, now));
    CHECK_EQ(send_data(&A, sa, now + 100, 10, 1, &p), WG_DATAGRAM);
    CHECK_EQ(feed(&B, now + 100, SRC_A, &p, &o), WG_PACKET);
    CHECK_EQ(tick(&B, now + 100 + WG_KEEPALIVE_TIMEOUT_MS, &p, &o), WG_DATAGRAM);
    CHECK_EQ(feed(&A, now + 100 + WG_KEEPALIVE_TIMEOUT_MS, SRC_B, &p, &o), WG_NONE);
    for (uint32_t t = now + 100; t < now + 30000; t += 100) {
        CHECK(tick(&A, t, &p, &o) == WG_NONE);
    }
}

static void test_cookie_path(void) {
    node A, B;
    pkt p, keep;
    wg_out o;
    uint32_t now = 1000;
    node_init(&A, 15, now);
    node_init(&B, 16, now);
    int sa = connect(&A, &B);
    connect(&B, &A);
    wg_set_under_load(&B.d, 1);
    wg_initiate(&A.d, sa, now);
    CHECK_EQ(tick(&A, now, &p, &o), WG_DATAGRAM);
    keep = p;
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_DATAGRAM);
    CHECK_EQ(o.peer, -1);
    CHECK_EQ(o.len, WG_COOKIE_REPLY_SIZE);
    CHECK_EQ(p.b[0], WG_MSG_COOKIE_REPLY);
    CHECK_EQ(B.d.stats.drop_mac2, 1);
    CHECK_EQ(B.d.stats.tx_cookie, 1);
    p.len = o.len;
    pkt forged = p;
    forged.b[40] ^= 1;
    CHECK_EQ(feed(&A, now, SRC_B, &forged, &o), WG_NONE);
    CHECK_EQ(A.d.stats.drop_cookie, 1);
    CHECK_EQ(feed(&A, now, SRC_B, &p, &o), WG_NONE);
    CHECK(A.peers[sa].has_cookie);
    // Replaying the reply is refused (the mac1 it answers is consumed).
    CHECK_EQ(feed(&A, now, SRC_B, &p, &o), WG_NONE);
    CHECK_EQ(A.d.stats.drop_cookie, 2);
    // Retry after REKEY_TIMEOUT carries mac2: accepted under load.
    uint32_t t;
    for (t = now + 1; t < now + 6000; t += 10) {
        if (tick(&A, t, &p, &o) == WG_DATAGRAM) break;
    }
    CHECK(!tn_ct_is_zero(p.b + WG_INIT_OFF_MAC2, 16));
    // The same mac2 from a different source address is not valid.
    pkt other = p;
    CHECK_EQ(feed(&B, t, SRC_B, &other, &o), WG_DATAGRAM);
    CHECK_EQ(o.len, WG_COOKIE_REPLY_SIZE);
    CHECK_EQ(feed(&B, t, SRC_A, &p, &o), WG_DATAGRAM);
    CHECK_EQ(o.len, WG_RESPONSE_SIZE);
    p.len = o.len;
    CHECK_EQ(feed(&A, t, SRC_B, &p, &o), WG_DATAGRAM);
    CHECK(drain_events(&A, WG_EV_HANDSHAKE_COMPLETE));
    // The first (mac2-less) initiation replayed: cookie again, never a session.
    CHECK_EQ(feed(&B, t, SRC_A, &keep, &o), WG_DATAGRAM);
    CHECK_EQ(o.len, WG_COOKIE_REPLY_SIZE);
}

static void test_flood_and_rate_limit(void) {
    node A, B, C[3];
    pkt p, saved;
    wg_out o;
    uint32_t now = 1000;
    node_init(&A, 17, now);
    node_init(&B, 18, now);
    int sa = connect(&A, &B);
    connect(&B, &A);
    // Two fresh initiations closer than HandshakeInitationRate: the second is a flood.
    wg_initiate(&A.d, sa, now);
    CHECK_EQ(tick(&A, now, &p, &o), WG_DATAGRAM);
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_DATAGRAM);
    A.peers[sa].has_last_sent_handshake = 0;
    wg_initiate(&A.d, sa, now + 5);
    CHECK_EQ(tick(&A, now + 5, &p, &o), WG_DATAGRAM);
    saved = p;
    CHECK_EQ(feed(&B, now + 10, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_rate, 1);
    // Replayed initiation (timestamp not newer): dropped.
    p = saved; // (wg_input works in place: feed copies)
    CHECK_EQ(feed(&B, now + 100, SRC_A, &p, &o), WG_DATAGRAM); // now it passes the rate check
    p = saved;
    CHECK_EQ(feed(&B, now + 200, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_timestamp, 1);
    // Device budget: a burst of initiations at one instant from several
    // peers exhausts the bucket and switches on under-load (cookies).
    node V;
    node_init(&V, 19, now);
    for (int i = 0; i < 3; i++) {
        node_init(&C[i], (uint8_t)(20 + i), now);
        connect(&V, &C[i]);
    }
    int responses = 0, cookies = 0, dropped = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 3; i++) {
            int s = connect(&C[i], &V);
            C[i].peers[s].has_last_sent_handshake = 0;
            C[i].peers[s].has_cookie = 0;
            wg_initiate(&C[i].d, s, now + (uint32_t)round * 30);
            CHECK_EQ(tick(&C[i], now + (uint32_t)round * 30, &p, &o), WG_DATAGRAM);
            int r = feed(&V, now + (uint32_t)round * 30, SRC_A, &p, &o);
            if (r == WG_DATAGRAM && o.len == WG_RESPONSE_SIZE) responses++;
            else if (r == WG_DATAGRAM && o.len == WG_COOKIE_REPLY_SIZE) cookies++;
            else dropped++;
        }
    }
    // The burst is answered; the first refused one switches on under-load,
    // after which initiations without mac2 get cookies instead of tokens.
    CHECK_EQ(responses, WG_HANDSHAKE_BUCKET_BURST);
    CHECK(dropped >= 1);
    CHECK(cookies >= 1);
    CHECK(wg_under_load(&V.d, now + 90));
    CHECK(!wg_under_load(&V.d, now + 90 + WG_UNDER_LOAD_AFTER_TIME_MS + 100));
}

static void test_malformed(void) {
    node A, B, E;
    pkt p, good, init;
    wg_out o;
    uint32_t now = 1000;
    node_init(&A, 30, now);
    node_init(&B, 31, now);
    node_init(&E, 32, now);
    int sa = connect(&A, &B), sb = connect(&B, &A);
    // Initiation captured before the handshake.
    wg_initiate(&A.d, sa, now);
    CHECK_EQ(tick(&A, now, &init, &o), WG_DATAGRAM);
    init.len = o.len;
    A.peers[sa].has_last_sent_handshake = 0;
    CHECK(handshake(&A, sa, &B, now + 100));
    CHECK_EQ(send_data(&A, sa, now + 100, 20, 9, &good), WG_DATAGRAM);
    wg_stats s0 = B.d.stats;
    // Truncated / wrong-size messages of every type.
    static const size_t sizes[][2] = {{1, 147}, {1, 149}, {2, 91}, {2, 93}, {3, 63}, {3, 65}, {4, 31}, {4, 0}, {1, 3}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(p.b, 0, BUFCAP);
        p.b[0] = (uint8_t)sizes[i][0];
        p.len = sizes[i][1];
        CHECK_EQ(feed(&B, now + 100, SRC_A, &p, &o), WG_NONE);
    }
    CHECK_EQ(B.d.stats.drop_short, s0.drop_short + 9);
    // Unknown type and nonzero reserved bytes.
    p = good; p.b[0] = 5; CHECK_EQ(feed(&B, now + 100, SRC_A, &p, &o), WG_NONE);
    p = good; p.b[2] = 1; CHECK_EQ(feed(&B, now + 100, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_type, s0.drop_type + 2);
    // Bad mac1 on an initiation and on a response.
    p = init; p.b[WG_INIT_OFF_MAC1] ^= 1; CHECK_EQ(feed(&B, now + 200, SRC_A, &p, &o), WG_NONE);
    p = init; p.b[10] ^= 1; CHECK_EQ(feed(&B, now + 200, SRC_A, &p, &o), WG_NONE);
    memset(p.b, 0, 92); p.b[0] = 2; p.len = 92; CHECK_EQ(feed(&B, now + 200, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_mac1, s0.drop_mac1 + 3);
    // Replayed initiation (old timestamp) with a valid mac1.
    p = init; CHECK_EQ(feed(&B, now + 300, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_timestamp, s0.drop_timestamp + 1);
    // Initiation from a key B does not know (E knows B; B not E).
    int se = connect(&E, &B);
    wg_initiate(&E.d, se, now);
    CHECK_EQ(tick(&E, now, &p, &o), WG_DATAGRAM);
    CHECK_EQ(feed(&B, now + 400, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_peer, s0.drop_peer + 1);
    // Initiation meant for another responder (wrong key): mac1 fails.
    node F; node_init(&F, 33, now);
    connect(&E, &F);
    int sf = wg_peer_find(&E.d, F.pub);
    wg_initiate(&E.d, sf, now);
    CHECK_EQ(tick(&E, now, &p, &o), WG_DATAGRAM);
    CHECK_EQ(feed(&B, now + 400, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_mac1, s0.drop_mac1 + 4);
    // A response nobody asked for (unknown receiver index), valid mac1.
    {
        pkt r = init;
        (void)r;
        wg_initiate(&B.d, sb, now + 500);
        CHECK_EQ(tick(&B, now + 500, &p, &o), WG_DATAGRAM);
        CHECK_EQ(feed(&A, now + 500, SRC_B, &p, &o), WG_DATAGRAM);
        p.len = o.len;
        pkt resp = p;
        resp.b[8] ^= 0x80; // receiver index -> unknown
        // mac1 must be recomputed so only the index is wrong.
        uint8_t key[32];
        tn_blake2s_ctx c;
        tn_blake2s_init(&c, 32, NULL, 0);
        tn_blake2s_update(&c, (const uint8_t *)"mac1----", 8);
        tn_blake2s_update(&c, B.pub, 32);
        tn_blake2s_final(&c, key);
        tn_blake2s(resp.b + WG_RESP_OFF_MAC1, 16, key, 32, resp.b, WG_RESP_OFF_MAC1);
        CHECK_EQ(feed(&B, now + 500, SRC_A, &resp, &o), WG_NONE);
        CHECK_EQ(B.d.stats.drop_index, s0.drop_index + 1);
        // Tampered ephemeral with a valid mac1: the handshake fails to authenticate.
        resp = p;
        resp.b[WG_RESP_OFF_EPHEMERAL] ^= 1;
        tn_blake2s(resp.b + WG_RESP_OFF_MAC1, 16, key, 32, resp.b, WG_RESP_OFF_MAC1);
        CHECK_EQ(feed(&B, now + 500, SRC_A, &resp, &o), WG_NONE);
        CHECK_EQ(B.d.stats.drop_handshake, s0.drop_handshake + 1);
        // The genuine response still completes.
        CHECK_EQ(feed(&B, now + 500, SRC_A, &p, &o), WG_DATAGRAM);
        p.len = o.len;
        CHECK_EQ(feed(&A, now + 500, SRC_B, &p, &o), WG_NONE);
        s0 = B.d.stats;
        CHECK_EQ(send_data(&A, sa, now + 600, 20, 9, &good), WG_DATAGRAM);
    }
    // Transport: unknown index, forged ciphertext, forged tag, replay, bad inner.
    p = good; p.b[4] ^= 0x40; CHECK_EQ(feed(&B, now + 600, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_index, s0.drop_index + 1);
    p = good; p.b[20] ^= 1; CHECK_EQ(feed(&B, now + 600, SRC_A, &p, &o), WG_NONE);
    p = good; p.b[p.len - 1] ^= 1; CHECK_EQ(feed(&B, now + 600, SRC_A, &p, &o), WG_NONE);
    p = good; p.b[8] ^= 1; CHECK_EQ(feed(&B, now + 600, SRC_A, &p, &o), WG_NONE); // counter changed
    p = good; p.len -= 1; CHECK_EQ(feed(&B, now + 600, SRC_A, &p, &o), WG_NONE); // truncated
    CHECK_EQ(B.d.stats.drop_auth, s0.drop_auth + 4);
    p = good; CHECK_EQ(feed(&B, now + 600, SRC_A, &p, &o), WG_PACKET);
    p = good; CHECK_EQ(feed(&B, now + 600, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_replay, s0.drop_replay + 1);
    // Authenticated but not an IP packet.
    {
        wg_out oo;
        memset(p.b + WG_DATA_OFFSET, 0xff, 20);
        CHECK_EQ(wg_output(&A.d, sa, now + 600, p.b, 20, BUFCAP, &oo), WG_DATAGRAM);
        p.len = oo.len;
        CHECK_EQ(feed(&B, now + 600, SRC_A, &p, &o), WG_NONE);
        make_ip(p.b + WG_DATA_OFFSET, 10, 1);
        p.b[WG_DATA_OFFSET + 3] = 200; // IP length beyond the payload
        CHECK_EQ(wg_output(&A.d, sa, now + 600, p.b, 38, BUFCAP, &oo), WG_DATAGRAM);
        p.len = oo.len;
        CHECK_EQ(feed(&B, now + 600, SRC_A, &p, &o), WG_NONE);
        CHECK_EQ(B.d.stats.drop_inner, s0.drop_inner + 2);
    }
    // Unsolicited / forged cookie replies.
    memset(p.b, 0, 64); p.b[0] = 3; p.len = 64;
    CHECK_EQ(feed(&B, now + 700, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_cookie, s0.drop_cookie + 1);
    // Random garbage: never crashes, never outputs a packet.
    rng_t g = {12345, 0};
    for (int i = 0; i < 20000; i++) {
        uint8_t l;
        test_rng(&g, &l, 1);
        p.len = (size_t)l + (i & 1 ? 0 : 100);
        test_rng(&g, p.b, p.len);
        if (i % 4 == 0) { p.b[0] = (uint8_t)(1 + i / 4 % 4); p.b[1] = p.b[2] = p.b[3] = 0; }
        if (i % 16 == 0 && p.len >= 8) { memcpy(p.b + 4, good.b + 4, 4); }
        int r = feed(&B, now + 800, SRC_A, &p, &o);
        CHECK(r == WG_NONE || (r == WG_DATAGRAM && o.len == WG_COOKIE_REPLY_SIZE));
    }
    wg_stats *st = &B.d.stats;
    uint32_t accounted = st->drop_short + st->drop_type + st->drop_mac1 + st->drop_mac2 + st->drop_rate
        + st->drop_handshake + st->drop_peer + st->drop_timestamp + st->drop_index + st->drop_replay
        + st->drop_auth + st->drop_expired + st->drop_inner + st->drop_cookie + st->drop_rng
        + st->rx_data + st->rx_keepalive + st->tx_response;
    CHECK(accounted >= st->rx_datagrams - st->rx_cookie); // every datagram classified
    // rng failure during a handshake is counted, not fatal.
    A.rng.fail = 1;
    A.peers[sa].has_last_sent_handshake = 0;
    wg_initiate(&A.d, sa, now + 900);
    CHECK_EQ(tick(&A, now + 900, &p, &o), WG_NONE);
    CHECK(A.d.stats.drop_rng >= 1);
}

// Mutations of genuine messages of every type (bit flips, truncation,
// extension, spliced fields): nothing is accepted that should not be, and
// nothing crashes (the ASan/UBSan build runs this too).
static void test_mutations(void) {
    node A, B;
    pkt msgs[4], p;
    wg_out o;
    uint32_t now = 3000;
    node_init(&A, 34, now);
    node_init(&B, 35, now);
    int sa = connect(&A, &B);
    connect(&B, &A);
    wg_set_under_load(&B.d, 1);
    wg_initiate(&A.d, sa, now);
    CHECK_EQ(tick(&A, now, &msgs[0], &o), WG_DATAGRAM); // initiation
    p = msgs[0];
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_DATAGRAM); // cookie reply
    p.len = o.len;
    msgs[2] = p;
    wg_set_under_load(&B.d, 0);
    p = msgs[0];
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_DATAGRAM); // response
    p.len = o.len;
    msgs[1] = p;
    CHECK_EQ(feed(&A, now, SRC_B, &p, &o), WG_DATAGRAM); // keepalive
    p.len = o.len;
    CHECK_EQ(feed(&B, now, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(send_data(&A, sa, now, 100, 7, &msgs[3]), WG_DATAGRAM);
    rng_t g = {777, 0};
    int accepted = 0;
    for (int i = 0; i < 4000; i++) {
        p = msgs[i % 4];
        uint8_t r[4];
        test_rng(&g, r, 4);
        switch (r[0] % 4) {
            case 0: p.b[r[1] % p.len] ^= (uint8_t)(1u << (r[2] % 8)); break;
            case 1: p.len = r[1] % p.len; break;
            case 2: p.len += 1 + r[1] % 64; break;
            default: memcpy(p.b + 4, msgs[(i + 1) % 4].b + 4, 4); p.b[r[1] % p.len] ^= 0x80; break;
        }
        int res = feed(&B, now + 1000, SRC_A, &p, &o);
        if (res == WG_PACKET || (res == WG_DATAGRAM && o.len != WG_COOKIE_REPLY_SIZE)) {
            accepted++;
        }
        res = feed(&A, now + 1000, SRC_B, &p, &o);
        if (res == WG_PACKET || (res == WG_DATAGRAM && o.len != WG_COOKIE_REPLY_SIZE)) {
            accepted++;
        }
    }
    CHECK_EQ(accepted, 0);
    // The genuine transport packet was never consumed: it is still accepted.
    p = msgs[3];
    CHECK_EQ(feed(&B, now + 1000, SRC_A, &p, &o), WG_PACKET);
}

static void test_tai64n_floor(void) {
    node A, B;
    pkt p;
    wg_out o;
    uint8_t ts1[12], ts2[12], floor[12];
    uint32_t now = 10;
    node_init(&A, 40, now);
    node_init(&B, 41, now);
    int sa = connect(&A, &B), sb = connect(&B, &A);
    (void)sb;
    CHECK(handshake(&A, sa, &B, now));
    wg_tai64n_get(&A.d, ts1);
    CHECK(handshake(&A, sa, &B, now + 6000));
    wg_tai64n_get(&A.d, ts2);
    CHECK(memcmp(ts2, ts1, 12) > 0);
    memcpy(floor, ts2, 12);
    // "Reboot" without a clock and without restoring the floor: B rejects.
    node_init(&A, 40, now);
    sa = connect(&A, &B);
    wg_initiate(&A.d, sa, now);
    CHECK_EQ(tick(&A, now, &p, &o), WG_DATAGRAM);
    uint32_t before = B.d.stats.drop_timestamp;
    CHECK_EQ(feed(&B, now + 12000, SRC_A, &p, &o), WG_NONE);
    CHECK_EQ(B.d.stats.drop_timestamp, before + 1);
    // Reboot and restore the persisted floor: accepted.
    node_init(&A, 40, now);
    sa = connect(&A, &B);
    wg_tai64n_set_floor(&A.d, floor);
    CHECK(handshake(&A, sa, &B, now + 18000));
    // A wall clock moves timestamps to real time; they never go back.
    wg_set_wallclock(&A.d, now, 1700000000000ULL);
    CHECK(handshake(&A, sa, &B, now + 24000));
    wg_tai64n_get(&A.d, ts1);
    CHECK_EQ(ts1[0], 0x40);
    uint64_t sec = 0;
    for (int i = 0; i < 8; i++) sec = (sec << 8) | ts1[i];
    CHECK_EQ(sec - 0x400000000000000aULL, 1700000000ULL + 24);
    CHECK_EQ(ts1[11], 0);
    CHECK_EQ(ts1[10], 0); // whitened: low 24 bits of ns clear
    CHECK_EQ(ts1[9], 0);
    wg_set_wallclock(&A.d, now + 30000, 1600000000000ULL); // clock stepped back
    CHECK(handshake(&A, sa, &B, now + 30000));
    wg_tai64n_get(&A.d, ts2);
    CHECK(memcmp(ts2, ts1, 12) > 0);
}

static void test_peer_table(void) {
    node A;
    node_init(&A, 50, 0);
    uint8_t k[32];
    int slots[CAP];
    for (int i = 0; i < CAP; i++) {
        memset(k, 60 + i, 32);
        tn_x25519_base(k, k);
        slots[i] = wg_peer_add(&A.d, k);
        CHECK(slots[i] >= 0);
        CHECK_EQ(wg_peer_add(&A.d, k), slots[i]);
    }
    memset(k, 99, 32);
    tn_x25519_base(k, k);
    CHECK_EQ(wg_peer_add(&A.d, k), WG_ERR_PEER); // full
    wg_peer_remove(&A.d, slots[1]);
    CHECK(wg_peer_add(&A.d, k) >= 0);
    // A low-order public key (all-zero DH) is refused.
    uint8_t zero[32] = {0};
    wg_peer_remove(&A.d, slots[2]);
    CHECK_EQ(wg_peer_add(&A.d, zero), WG_ERR_PEER);
    wg_out o;
    uint8_t buf[64];
    CHECK_EQ(wg_output(&A.d, slots[2], 0, buf, 0, sizeof(buf), &o), WG_ERR_PEER);
    CHECK_EQ(wg_output(&A.d, 99, 0, buf, 0, sizeof(buf), &o), WG_ERR_PEER);
}

int main(void) {
    test_sizes();
    test_replay_kernel_cases();
    test_handshake_and_data(1);
    test_handshake_and_data(0);
    test_rekey_after_time();
    test_rekey_after_messages();
    test_rekey_on_receive();
    test_next_keypair_replaced();
    test_retry_and_give_up();
    test_session_expiry();
    test_keepalive_and_new_handshake();
    test_cookie_path();
    test_flood_and_rate_limit();
    test_malformed();
    test_mutations();
    test_tai64n_floor();
    test_peer_table();
    printf("wg_test: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
