/*
 * spsc.h: a single-producer, single-consumer ring of fixed-size items.
 *
 * The only way the control thread and the media thread hand things to each
 * other besides the plan pointer: mixer commands one way, retired plans the
 * other, audio to and from file writers and readers. Lock-free and
 * wait-free: a push to a full ring and a pop from an empty one fail at once
 * instead of waiting, so the media thread never blocks. Storage is
 * allocated at init and the capacity is a power of two.
 */
#ifndef AOIPD_SPSC_H
#define AOIPD_SPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aoip/common.h"

struct spsc {
    size_t item; /* bytes per item */
    size_t mask; /* capacity - 1 */
    uint8_t *data;
    /* Each index is written by one side only; they live on separate cache lines. */
    _Alignas(64) atomic_size_t head; /* next to write, the producer's */
    _Alignas(64) atomic_size_t tail; /* next to read, the consumer's */
};

/* capacity is rounded up to a power of two. Returns 0 or -ENOMEM. */
int spsc_init(struct spsc *q, size_t item, size_t capacity);
void spsc_close(struct spsc *q);

/* Push one item; false when full. */
AOIP_RT bool spsc_push(struct spsc *q, const void *item);
/* Pop one item; false when empty. */
AOIP_RT bool spsc_pop(struct spsc *q, void *item);

/* Items that can be pushed now / popped now. */
AOIP_RT size_t spsc_space(struct spsc *q);
AOIP_RT size_t spsc_count(struct spsc *q);

/*
 * Bulk transfer for audio: push or pop up to n items; returns how many.
 * They go in at most two memcpy calls (the ring may wrap once).
 */
AOIP_RT size_t spsc_write(struct spsc *q, const void *items, size_t n);
AOIP_RT size_t spsc_read(struct spsc *q, void *items, size_t n);

#endif
