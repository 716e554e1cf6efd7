/*
 * stallmon.c: aoip-stallmon, how long this machine's CPUs stopped.
 *
 *   aoip-stallmon SECONDS [THRESHOLD_MS]
 *
 * SECONDS = 0 watches until SIGTERM or SIGINT (a test's whole life).
 *
 * One real-time thread per CPU, pinned to it, wakes every millisecond on
 * an absolute timer and notes how late it woke. A virtual machine's host
 * sometimes stops a guest's CPUs for several milliseconds (seen here: 2 to
 * 15 ms, a few times a minute, with no event at all inside the guest
 * meanwhile); everything on a stopped CPU is late together, a network
 * impairment's releases and an audio sender's packets alike. A test that
 * asserts "no late packet" runs this beside it to tell a fault of ours from
 * the machine's. Prints at the end, one line:
 *     worst_ms=W stalls=N cpus=C
 * (W the longest lateness seen on any CPU, N the wake-ups later than
 * THRESHOLD_MS, default 2). Exit 0, or 2 on a usage error.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STALLMON_MAX_CPUS 64
#define STALLMON_TICK_NS  1000000L

static atomic_bool stopping;

struct watcher {
    pthread_t thread;
    int cpu;
    int64_t end_ns;
    int64_t threshold_ns;
    int64_t worst_ns;
    unsigned long stalls;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *watch(void *arg)
{
    struct watcher *w = arg;
    cpu_set_t set;
    struct sched_param sp = { .sched_priority = 70 };

    CPU_ZERO(&set);
    CPU_SET(w->cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    /* Above aoipd's media thread (60) and the lab's impairment (65): what
     * makes this one late is not another task of the test. */
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    int64_t due = now_ns() + STALLMON_TICK_NS;
    while (due < w->end_ns && !atomic_load_explicit(&stopping, memory_order_relaxed)) {
        struct timespec ts = { .tv_sec = due / 1000000000, .tv_nsec = due % 1000000000 };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        int64_t late = now_ns() - due;
        if (late > w->worst_ns)
            w->worst_ns = late;
        if (late > w->threshold_ns)
            w->stalls++;
        /* After a stall, the next tick from now: one stall counts once. */
        due += STALLMON_TICK_NS;
        if (due < now_ns())
            due = now_ns() + STALLMON_TICK_NS;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    char *end;
    double seconds, threshold_ms = 2.0;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: aoip-stallmon SECONDS [THRESHOLD_MS]\n");
        return 2;
    }
    seconds = strtod(argv[1], &end);
    if (*end || !(seconds >= 0 && seconds <= 86400)) {
        fprintf(stderr, "aoip-stallmon: SECONDS must be a number in [0, 86400]\n");
        return 2;
    }
    if (argc == 3) {
        threshold_ms = strtod(argv[2], &end);
        if (*end || !(threshold_ms > 0 && threshold_ms < 10000)) {
            fprintf(stderr, "aoip-stallmon: THRESHOLD_MS must be a number in (0, 10000)\n");
            return 2;
        }
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    if (ncpu > STALLMON_MAX_CPUS)
        ncpu = STALLMON_MAX_CPUS;

    /* Until a signal: the watchers never see it (blocked in every thread);
     * main takes it with sigwait and tells them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    static struct watcher w[STALLMON_MAX_CPUS];
    int64_t stop = seconds > 0 ? now_ns() + (int64_t)(seconds * 1e9) : INT64_MAX;
    for (long i = 0; i < ncpu; i++) {
        w[i] = (struct watcher){ .cpu = (int)i,
                                 .end_ns = stop,
                                 .threshold_ns = (int64_t)(threshold_ms * 1e6) };
        int rc = pthread_create(&w[i].thread, NULL, watch, &w[i]);
        if (rc != 0) {
            fprintf(stderr, "aoip-stallmon: thread: %s\n", strerror(rc));
            return 1;
        }
    }
    if (seconds == 0) {
        int sig;
        sigwait(&sigs, &sig);
        atomic_store(&stopping, true);
    }
    int64_t worst = 0;
    unsigned long stalls = 0;
    for (long i = 0; i < ncpu; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].worst_ns > worst)
            worst = w[i].worst_ns;
        stalls += w[i].stalls;
    }
    printf("worst_ms=%.3f stalls=%lu cpus=%ld\n", (double)worst / 1e6, stalls, ncpu);
    return 0;
}
