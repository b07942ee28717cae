// Raw engine cost without MicroPython: 1420-byte packets and handshakes.
//   wg_bench seal|pair|hs <count>   (for callgrind: fixed work, no output)
//   wg_bench speed <count>          (prints JSON timings)
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "wg.h"

static int rng(void *ctx, uint8_t *out, size_t n) {
    uint32_t *s = ctx;
    for (size_t i = 0; i < n; i++) {
        *s = *s * 1103515245u + 12345u;
        out[i] = (uint8_t)(*s >> 16);
    }
    return 0;
}

static wg_device A, B;
static wg_peer PA[2], PB[2];
static uint32_t ra = 1, rb = 2;
static uint8_t buf[1600];
static int sa;

static void handshake(uint32_t now) {
    wg_out o;
    wg_initiate(&A, sa, now);
    wg_tick(&A, now, buf, sizeof(buf), &o);
    wg_input(&B, now, NULL, 0, buf, o.len, sizeof(buf), &o);
    wg_input(&A, now, NULL, 0, buf, o.len, sizeof(buf), &o);
    wg_input(&B, now, NULL, 0, buf, o.len, sizeof(buf), &o);
}

static void packet(void) {
    memset(buf + WG_DATA_OFFSET, 0, 1420);
    buf[WG_DATA_OFFSET] = 0x45;
    buf[WG_DATA_OFFSET + 2] = 1420 >> 8;
    buf[WG_DATA_OFFSET + 3] = 1420 & 255;
}

static void run_seal(int n) {
    wg_out o;
    for (int i = 0; i < n; i++) {
        wg_output(&A, sa, 1000, buf, 1420, sizeof(buf), &o);
    }
}

static void run_pair(int n) {
    wg_out o;
    for (int i = 0; i < n; i++) {
        wg_output(&A, sa, 1000, buf, 1420, sizeof(buf), &o);
        wg_input(&B, 1000, NULL, 0, buf, o.len, sizeof(buf), &o);
    }
}

static uint32_t run_hs(int n, uint32_t t) {
    for (int i = 0; i < n; i++) {
        t += 6000;
        handshake(t);
    }
    return t;
}

static double secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: wg_bench seal|pair|hs|speed count\n");
        return 2;
    }
    int n = atoi(argv[2]);
    uint8_t ka[32], kb[32];
    for (int i = 0; i < 32; i++) {
        ka[i] = (uint8_t)(i + 1);
        kb[i] = (uint8_t)(i + 33);
    }
    wg_device_init(&A, ka, PA, 2, rng, &ra, 0);
    wg_device_init(&B, kb, PB, 2, rng, &rb, 0);
    sa = wg_peer_add(&A, B.static_pub);
    wg_peer_add(&B, A.static_pub);
    handshake(0);
    packet();
    if (!strcmp(argv[1], "seal")) {
        run_seal(n);
    } else if (!strcmp(argv[1], "pair")) {
        run_pair(n);
    } else if (!strcmp(argv[1], "hs")) {
        run_hs(n, 0);
    } else {
        double t = secs();
        run_seal(n);
        double seal = secs() - t;
        packet();
        t = secs();
        run_pair(n);
        double pair = secs() - t;
        int nh = n / 500 > 5 ? n / 500 : 5;
        t = secs();
        run_hs(nh, 10000);
        double hs = secs() - t;
        printf("{\"seal_us\": %.3f, \"open_us\": %.3f, \"seal_pps\": %.0f, \"open_pps\": %.0f, "
            "\"handshake_us\": %.1f}\n", seal * 1e6 / n, (pair - seal) * 1e6 / n, n / seal,
            n / (pair - seal), hs * 1e6 / nh);
    }
    return 0;
}
