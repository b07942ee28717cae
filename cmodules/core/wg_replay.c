// Replay window. The kernel's algorithm with 32-bit words and 1024 bits:
// the window accepts any counter within 992 of the highest seen.
//
// Why 1024 bits and not the kernel's/wireguard-go's 8192 (window 8128):
// - RAM: a peer holds three keypairs (previous, current, next), each with its
//   own window. 3 x 1 KiB for 8192-bit windows alone would triple the
//   1 KiB-per-peer budget; 3 x 128 B fits it with the keys and timers.
// - Need: the window only has to cover reordering between sender and us.
//   wireguard-go and the kernel encrypt in parallel but transmit each peer's
//   packets in order, so reordering comes from the network (e.g. a switch
//   between the DERP relay and the direct path). An MCU receives at most a
//   few thousand packets per second (performance-anchors: ~0.4-6 ms of
//   crypto per 1420-byte packet), so 992 packets cover between a third of a
//   second and several seconds of skew; the 8128 window is sized for
//   multi-gigabit links.
#include <string.h>
#include "wg_replay.h"

void wg_replay_init(wg_replay *r) {
    memset(r, 0, sizeof(*r));
}

int wg_replay_check(const wg_replay *r, uint64_t counter) {
    if (r->counter >= WG_REJECT_AFTER_MESSAGES + 1 || counter >= WG_REJECT_AFTER_MESSAGES) {
        return 0;
    }
    uint64_t c = counter + 1;
    if (WG_COUNTER_WINDOW_SIZE + c < r->counter) {
        return 0;
    }
    if (c > r->counter) {
        return 1;
    }
    uint32_t index = (uint32_t)(c / WG_REPLAY_WORD_BITS) & (WG_REPLAY_WORDS - 1);
    return !((r->backtrack[index] >> (c & (WG_REPLAY_WORD_BITS - 1))) & 1u);
}

int wg_replay_validate(wg_replay *r, uint64_t counter) {
    if (r->counter >= WG_REJECT_AFTER_MESSAGES + 1 || counter >= WG_REJECT_AFTER_MESSAGES) {
        return 0;
    }
    uint64_t c = counter + 1;
    if (WG_COUNTER_WINDOW_SIZE + c < r->counter) {
        return 0;
    }
    uint64_t index = c / WG_REPLAY_WORD_BITS;
    if (c > r->counter) {
        uint64_t index_current = r->counter / WG_REPLAY_WORD_BITS;
        uint64_t top = index - index_current;
        if (top > WG_REPLAY_WORDS) {
            top = WG_REPLAY_WORDS;
        }
        for (uint64_t i = 1; i <= top; i++) {
            r->backtrack[(i + index_current) & (WG_REPLAY_WORDS - 1)] = 0;
        }
        r->counter = c;
    }
    uint32_t w = (uint32_t)index & (WG_REPLAY_WORDS - 1);
    uint32_t bit = 1u << (c & (WG_REPLAY_WORD_BITS - 1));
    if (r->backtrack[w] & bit) {
        return 0;
    }
    r->backtrack[w] |= bit;
    return 1;
}
