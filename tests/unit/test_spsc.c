/*
 * test_spsc.c: the two lock-free meeting points of the control and media
 * threads: the SPSC ring and the seqlocked snapshot.
 *
 * Beside the single-threaded behaviour, each gets a two-thread run in which
 * a writer streams a known sequence and the reader checks it arrives whole
 * and in order (the ring) or is never seen torn (the snapshot). Run under
 * the sanitized build these also give ASan a look at every index.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "seqlock.h"
#include "spsc.h"

static void spsc_keeps_order_and_reports_full_and_empty(void **state)
{
    (void)state;
    struct spsc q;
    assert_int_equal(spsc_init(&q, sizeof(int), 5), 0); /* rounded up to 8 */
    int v;
    assert_false(spsc_pop(&q, &v));
    for (int i = 0; i < 8; i++)
        assert_true(spsc_push(&q, &i));
    assert_false(spsc_push(&q, &v));
    assert_int_equal(spsc_count(&q), 8);
    assert_int_equal(spsc_space(&q), 0);
    for (int i = 0; i < 8; i++) {
        assert_true(spsc_pop(&q, &v));
        assert_int_equal(v, i);
    }
    assert_false(spsc_pop(&q, &v));
    spsc_close(&q);
}

static void spsc_bulk_transfer_wraps_the_ring(void **state)
{
    (void)state;
    struct spsc q;
    float in[12], out[12];
    assert_int_equal(spsc_init(&q, sizeof(float) * 2, 16), 0); /* stereo frames */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 12; i++)
            in[i] = (float)(round * 100 + i);
        assert_int_equal(spsc_write(&q, in, 6), 6);
        assert_int_equal(spsc_read(&q, out, 6), 6);
        for (int i = 0; i < 12; i++)
            assert_true(out[i] == in[i]);
    }
    /* Only what fits goes in; only what is there comes out. */
    float big[40] = { 0 };
    assert_int_equal(spsc_write(&q, big, 20), 16);
    assert_int_equal(spsc_read(&q, big, 20), 16);
    spsc_close(&q);
}

#define STREAM 2000000

static void *producer(void *arg)
{
    struct spsc *q = arg;
    for (uint64_t i = 0; i < STREAM;) {
        uint64_t batch[7];
        size_t n = 0;
        for (; n < 7 && i + n < STREAM; n++)
            batch[n] = i + n;
        i += spsc_write(q, batch, n);
    }
    return NULL;
}

static void spsc_two_threads_see_every_item_in_order(void **state)
{
    (void)state;
    struct spsc q;
    pthread_t t;
    assert_int_equal(spsc_init(&q, sizeof(uint64_t), 64), 0);
    assert_int_equal(pthread_create(&t, NULL, producer, &q), 0);
    uint64_t expect = 0, buf[5];
    while (expect < STREAM) {
        size_t n = spsc_read(&q, buf, 5);
        for (size_t i = 0; i < n; i++)
            assert_true(buf[i] == expect++);
    }
    pthread_join(t, NULL);
    spsc_close(&q);
}

SEQLOCK_DECLARE(pair_snapshot, 4);
static struct pair_snapshot snap;
static atomic_bool done;

static void *writer(void *arg)
{
    (void)arg;
    for (uint64_t i = 1; i <= STREAM; i++) {
        /* Every word of one snapshot holds the same value: a torn read mixes them. */
        uint64_t w[4] = { i, i, i, i };
        seqlock_write(&snap.seq, snap.w, w, 4);
    }
    atomic_store(&done, true);
    return NULL;
}

static void seqlock_reader_never_sees_a_torn_snapshot(void **state)
{
    (void)state;
    pthread_t t;
    uint64_t last = 0;
    atomic_init(&done, false);
    assert_int_equal(pthread_create(&t, NULL, writer, NULL), 0);
    while (!atomic_load(&done)) {
        uint64_t w[4];
        seqlock_read(&snap.seq, snap.w, w, 4);
        assert_true(w[0] == w[1] && w[1] == w[2] && w[2] == w[3]);
        assert_true(w[0] >= last); /* and never goes back in time */
        last = w[0];
    }
    pthread_join(t, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spsc_keeps_order_and_reports_full_and_empty),
        cmocka_unit_test(spsc_bulk_transfer_wraps_the_ring),
        cmocka_unit_test(spsc_two_threads_see_every_item_in_order),
        cmocka_unit_test(seqlock_reader_never_sees_a_torn_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
