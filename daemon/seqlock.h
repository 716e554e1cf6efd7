/*
 * seqlock.h: a snapshot one thread writes and another reads, never waiting.
 *
 * The media thread publishes each flow's counters and each channel's meter
 * blocks this way once per period: it bumps the sequence to odd, stores
 * the words, bumps it to even. The control thread copies the words and
 * retries if the sequence was odd or changed meanwhile. The words are
 * relaxed atomics, so the copy is a data race on nothing (C11 5.1.2.4),
 * and the fences order them against the sequence.
 */
#ifndef AOIPD_SEQLOCK_H
#define AOIPD_SEQLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aoip/common.h"

#define SEQLOCK_WORDS(type) ((sizeof(type) + 7) / 8)

/* words is the number of 64-bit words the snapshot holds. */
#define SEQLOCK_DECLARE(name, nwords)                                                              \
    struct name {                                                                                  \
        atomic_uint seq;                                                                           \
        _Atomic uint64_t w[nwords];                                                                \
    }

static inline AOIP_RT void seqlock_write(atomic_uint *seq, _Atomic uint64_t *w, const void *src,
                                         size_t nwords)
{
    uint64_t tmp[64];
    unsigned s = atomic_load_explicit(seq, memory_order_relaxed);

    /* Callers keep snapshots to at most 64 words (512 bytes). */
    memcpy(tmp, src, nwords * 8);
    atomic_store_explicit(seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (size_t i = 0; i < nwords; i++)
        atomic_store_explicit(&w[i], tmp[i], memory_order_relaxed);
    atomic_store_explicit(seq, s + 2, memory_order_release);
}

static inline void seqlock_read(atomic_uint *seq, _Atomic uint64_t *w, void *dst, size_t nwords)
{
    uint64_t tmp[64];
    unsigned s0, s1;

    do {
        s0 = atomic_load_explicit(seq, memory_order_acquire);
        for (size_t i = 0; i < nwords; i++)
            tmp[i] = atomic_load_explicit(&w[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        s1 = atomic_load_explicit(seq, memory_order_relaxed);
    } while ((s0 & 1) || s0 != s1);
    memcpy(dst, tmp, nwords * 8);
}

#endif
