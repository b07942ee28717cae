// Sliding-window replay filter for WireGuard transport counters
// (the Linux kernel's counter_validate, RFC 6479 style ring of words).
#ifndef WG_REPLAY_H
#define WG_REPLAY_H

#include <stdint.h>
#include "wg_const.h"

typedef struct {
    uint64_t counter; // highest accepted counter + 1 (0: nothing yet)
    uint32_t backtrack[WG_REPLAY_WORDS];
} wg_replay;

void wg_replay_init(wg_replay *r);
// Read-only: 1 when `counter` could still be accepted (cheap pre-check made
// before spending an AEAD open on the packet), 0 when it is a replay, too old,
// or at/after REJECT_AFTER_MESSAGES.
int wg_replay_check(const wg_replay *r, uint64_t counter);
// Check and record (call only after the packet authenticated): 1 accepted,
// 0 rejected. Identical results to the kernel's counter_validate.
int wg_replay_validate(wg_replay *r, uint64_t counter);

#endif
