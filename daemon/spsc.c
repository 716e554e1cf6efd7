/*
 * spsc.c: the ring of spsc.h.
 *
 * Indices grow without bound and are masked on use, so "full" and "empty"
 * need no spare slot. The producer publishes data with a release store of
 * head after copying it; the consumer's acquire load of head makes the
 * data visible before it reads it, and the mirror image holds for tail.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spsc.h"

int spsc_init(struct spsc *q, size_t item, size_t capacity)
{
    size_t cap = 1;

    while (cap < capacity)
        cap *= 2;
    memset(q, 0, sizeof(*q));
    q->data = calloc(cap, item);
    if (!q->data)
        return -ENOMEM;
    q->item = item;
    q->mask = cap - 1;
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    return 0;
}

void spsc_close(struct spsc *q)
{
    free(q->data);
    q->data = NULL;
}

AOIP_RT size_t spsc_space(struct spsc *q)
{
    size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    return q->mask + 1 - (head - tail);
}

AOIP_RT size_t spsc_count(struct spsc *q)
{
    size_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    return head - tail;
}

/* Copy n items between the ring at index pos and a flat buffer, wrapping once. */
static AOIP_RT void ring_copy(struct spsc *q, size_t pos, void *flat, size_t n, bool into_ring)
{
    size_t cap = q->mask + 1, at = pos & q->mask;
    size_t first = n < cap - at ? n : cap - at;
    uint8_t *ring = q->data, *buf = flat;

    if (into_ring) {
        memcpy(ring + at * q->item, buf, first * q->item);
        memcpy(ring, buf + first * q->item, (n - first) * q->item);
    } else {
        memcpy(buf, ring + at * q->item, first * q->item);
        memcpy(buf + first * q->item, ring, (n - first) * q->item);
    }
}

AOIP_RT size_t spsc_write(struct spsc *q, const void *items, size_t n)
{
    size_t space = spsc_space(q);
    size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);

    if (n > space)
        n = space;
    ring_copy(q, head, (void *)items, n, true);
    atomic_store_explicit(&q->head, head + n, memory_order_release);
    return n;
}

AOIP_RT size_t spsc_read(struct spsc *q, void *items, size_t n)
{
    size_t count = spsc_count(q);
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

    if (n > count)
        n = count;
    ring_copy(q, tail, items, n, false);
    atomic_store_explicit(&q->tail, tail + n, memory_order_release);
    return n;
}

AOIP_RT bool spsc_push(struct spsc *q, const void *item)
{
    return spsc_write(q, item, 1) == 1;
}

AOIP_RT bool spsc_pop(struct spsc *q, void *item)
{
    return spsc_read(q, item, 1) == 1;
}
