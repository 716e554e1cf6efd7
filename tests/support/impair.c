/*
 * impair.c: aoip-impair, a seeded network path in user space: the delay,
 * jitter, loss and duplication of netmodel.h applied to the real packets a
 * lab host sends (tests/lab/lab impair).
 *
 *   aoip-impair --queue N [--seed S] [--delay-ms D] [--jitter-ms J]
 *               [--dist uniform|exp|gauss|pareto] [--pareto-shape A]
 *               [--jitter-max-ms M] [--loss P] [--dup P] [--ge-good-to-bad P]
 *               [--ge-bad-to-good P] [--ge-loss-good P] [--ge-loss-bad P]
 *               [--reorder P --reorder-ms D] [--stall-every-ms T --stall-ms D]
 *               [--fifo] [--mark M] [--queue-len L] [--rt-priority R]
 *               [--stats-file F] [--stats-interval-ms T]
 *
 * Why it is built this way:
 *
 * - This kernel has no netem and loads no modules, so delay cannot come from
 *   a qdisc, and nftables' own queue statement is missing too. What it has
 *   is iptables' NFQUEUE target (iptables-nft runs it through nft_compat):
 *   a rule in the host's namespace (-j NFQUEUE --queue-bypass) hands each
 *   packet to this program, which holds it and gives the kernel its verdict
 *   later. NF_ACCEPT sends the packet on exactly as it was, so only the
 *   metadata is copied to user space, unless duplicates are asked for.
 *
 * - Every packet gets its fate from netmodel_send, the same seeded model the
 *   simulations use: the same seed and the same packets give the same fates.
 *   Every field of its config is an option. The model's clock starts when
 *   the program does, so a periodic stall comes --stall-every-ms after start.
 *   The packet is held until its drawn arrival time; verdicts may be given
 *   for any held packet id in any order, so independent jitter reorders the
 *   packets as a real network does. --fifo keeps them in order instead, as a
 *   single queue would: a packet leaves at the later of its drawn time and
 *   the previous packet's.
 *
 * - The audio is one packet per millisecond, so the release time matters to
 *   well under a millisecond: held packets sit in a min-heap on their due
 *   time, and one absolute CLOCK_MONOTONIC timerfd is armed for the earliest
 *   (an hrtimer: no timer slack, no rounding to a tick). The stats report
 *   how late each release was. On this machine a release is some 30-50 us
 *   late, but an ordinary process is now and then not run for a millisecond
 *   or two; --rt-priority (SCHED_FIFO) takes those away, as a network's
 *   delay does not depend on what its hosts' CPUs are doing.
 *
 * - What no priority takes away: this machine is a VM, and its host now and
 *   then does not run one or both of its CPUs for 2 to 15 ms (ftrace shows
 *   no guest event at all on them meanwhile, not even a due timer's
 *   interrupt; a SCHED_FIFO timer loop in another process is late by the
 *   same amount at the same moment, whether or not this program runs). A
 *   release due then is that late, as is whatever else wanted a stalled
 *   CPU, the sender and the receiver too: late_max_ms is the machine's worst
 *   stall, late_p99_ms this program's own timing. Keeping the CPUs out of
 *   halt (a /dev/cpu_dma_latency of 0) makes the stalls longer and more
 *   frequent: the host then preempts the spinning CPUs.
 *
 * - NFQUEUE cannot turn one packet into two. The second copy is written,
 *   when its own drawn time comes, to a raw IPv4 socket (IPPROTO_RAW, so the
 *   header given is the header sent) out of the interface the original left
 *   by. The copy passes the host's OUTPUT chain again; it carries a
 *   firewall mark (SO_MARK, --mark) and the lab's rule skips packets with
 *   that mark, so a copy is never queued again. NF_REPEAT with a mark was
 *   the other candidate, but it repeats the one packet rather than making a
 *   second. The whole packet is copied to user space only for this, and the
 *   kernel completes an offloaded checksum before it copies (no
 *   NFQA_CFG_F_GSO), so the copy's checksum is valid on the wire.
 *
 * - The program must never break the host's network: the queue is
 *   fail-open (a full queue or socket buffer lets packets through
 *   undelayed rather than dropping them), the rule's --queue-bypass lets
 *   everything through when no program is bound, and on SIGTERM or SIGINT
 *   the queue length is set to 0 (new packets fail open), every held
 *   packet is released at once, and only then is the queue unbound: the
 *   kernel drops what is still held when its queue goes away.
 *
 * - The stats file (key=value lines, replaced atomically) is written once
 *   the queue is bound, which is how the lab knows the program is ready,
 *   then every --stats-interval-ms, on SIGUSR1 and at exit. Writing a file
 *   can block for milliseconds (7 ms was seen here), so the packet loop only
 *   formats the text and a thread of ordinary priority writes it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "netmodel.h"
#include "tool.h"

#define NS_PER_MS INT64_C(1000000)
/* Four seconds of held packets at the audio's 1000 packets/s: room for long
 * jitter tails and stalls; beyond it the queue fails open. */
#define IMPAIR_QUEUE_LEN     4096
#define IMPAIR_QUEUE_LEN_MAX 65536
#define IMPAIR_MAX_DELAY_MS  60000.0
#define IMPAIR_DEFAULT_MARK  0x10000u
/* Thousands of queued packets' messages (whole packets when duplicating)
 * while the program is busy releasing others. */
#define IMPAIR_RCVBUF         (8 * 1024 * 1024)
#define IMPAIR_PACKET_MAX     65535
#define IMPAIR_STATS_INTERVAL 1000
/* The stats file is some 900 bytes. */
#define IMPAIR_STATS_MAX 4096

/* Log-linear histogram of nanoseconds: exact below 2^(SUB+1), then 2^SUB
 * bins per octave (under 0.1% apart), from 0 to 2^63. */
#define HIST_SUB  10
#define HIST_BINS ((2u << HIST_SUB) + (62u - HIST_SUB) * (1u << HIST_SUB))

static const char usage_text[] =
    "usage: aoip-impair --queue N [--seed S] [--delay-ms D] [--jitter-ms J]\n"
    "                   [--dist uniform|exp|gauss|pareto] [--pareto-shape A]\n"
    "                   [--jitter-max-ms M] [--loss P] [--dup P]\n"
    "                   [--ge-good-to-bad P] [--ge-bad-to-good P] [--ge-loss-good P]\n"
    "                   [--ge-loss-bad P] [--reorder P --reorder-ms D]\n"
    "                   [--stall-every-ms T --stall-ms D] [--fifo] [--mark M]\n"
    "                   [--queue-len L] [--rt-priority R] [--stats-file F]\n"
    "                   [--stats-interval-ms T]\n"
    "Holds the packets an iptables NFQUEUE rule gives it (queue N, in this network\n"
    "namespace) for the delay and jitter of tests/support/netmodel.h, then lets them\n"
    "go: D ms plus a jitter of scale J ms, uniform 0..J, exponential or Pareto (tail\n"
    "index A, default 1.5) with mean J, or Gaussian with standard deviation J; no\n"
    "jitter above M ms. It drops a fraction P (--loss), and more in bursts with the\n"
    "--ge-* options (Gilbert-Elliott: transition probabilities per packet, and the\n"
    "loss in each state; in the bad state 1 unless given); holds a fraction P back by\n"
    "D ms more (--reorder); stalls the path for D ms every T ms (--stall-*). It sends\n"
    "a second copy of a fraction P (--dup) through a raw socket with firewall mark M\n"
    "(default 0x10000; the rule must skip packets with that mark). --fifo keeps the\n"
    "order. The seed (default 1) makes the fates repeatable. --rt-priority R runs it\n"
    "SCHED_FIFO at R (1..99; 0, the default: not real-time). Stops on SIGTERM or\n"
    "SIGINT, releasing every held packet; SIGUSR1 writes the stats file now.\n"
    "example:\n"
    "  iptables -A OUTPUT -o eth0 -m mark ! --mark 0x10000/0x10000 \\\n"
    "           -j NFQUEUE --queue-num 0 --queue-bypass\n"
    "  aoip-impair --queue 0 --delay-ms 2 --jitter-ms 0.5 --stats-file /tmp/impair.stats\n";

#define usage_error(...) tool_usage_error("aoip-impair", usage_text, __VA_ARGS__)

struct options {
    unsigned queue;
    bool have_queue;
    unsigned queue_len;
    uint32_t mark;
    bool fifo;
    int rt_priority;
    const char *stats_file;
    long stats_interval_ms;
    struct netmodel_config model;
};

struct hist {
    uint64_t count;
    int64_t min, max;
    uint64_t bins[HIST_BINS];
};

/* A packet held until due_ns: an original waiting for its verdict (copy ==
 * NULL), or the bytes of a duplicate waiting to be sent. */
struct held {
    int64_t due_ns;
    int64_t recv_ns;
    uint64_t seq;
    uint32_t id;
    uint32_t ifindex;
    unsigned char *copy;
    size_t len;
};

struct counters {
    uint64_t packets;     /* handed to us by the queue */
    uint64_t accepted;    /* originals released */
    uint64_t dropped;     /* lost on purpose */
    uint64_t duplicated;  /* second copies sent */
    uint64_t dup_failed;  /* second copies drawn but not sent */
    uint64_t reordered;   /* released after a packet that came later */
    uint64_t overflow;    /* accepted at once: no room to hold them */
    uint64_t nl_overruns; /* times the queue's socket overflowed (its packets failed open) */
    uint64_t held_max;
};

/* The stats as text, made on the packet loop (no I/O, no allocation). */
struct text {
    char buf[IMPAIR_STATS_MAX];
    size_t len;
};

/* The thread that writes the stats file; next and the flags are under lock. */
struct stats_writer {
    const char *path;
    bool running;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct text next, out;
    bool pending, quit;
};

struct impair {
    struct options opt;
    struct netmodel model;
    struct nfq_handle *h;
    struct nfq_q_handle *qh;
    int nfq_fd, raw_fd, timer_fd, stats_fd, sig_fd;
    struct held *heap;
    size_t held, cap;
    size_t copies, copies_cap;
    uint64_t seq;
    uint64_t next_in_order; /* 1 + the latest seq released so far */
    int64_t last_due_ns;    /* for --fifo */
    int64_t armed_ns;       /* what timer_fd is armed for; 0: disarmed */
    bool stopping;
    struct counters n;
    struct hist delay, late;
    struct stats_writer writer;
    struct text scratch;
    uint64_t stats_written;
    int64_t start_ns;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- histogram ----------------------------------------------------------- */

static unsigned hist_index(uint64_t v)
{
    if (v < (2u << HIST_SUB))
        return (unsigned)v;
    unsigned msb = 0;
    while ((v >> msb) > 1)
        msb++;
    unsigned shift = msb - HIST_SUB;
    return (2u << HIST_SUB) + (shift - 1) * (1u << HIST_SUB) +
           (unsigned)((v >> shift) - (1u << HIST_SUB));
}

/* The middle of bin i. */
static uint64_t hist_value(unsigned i)
{
    if (i < (2u << HIST_SUB))
        return i;
    unsigned k = i - (2u << HIST_SUB);
    unsigned shift = k / (1u << HIST_SUB) + 1;
    uint64_t mant = (k % (1u << HIST_SUB)) + (1u << HIST_SUB);
    return (mant << shift) + ((1ull << shift) >> 1);
}

static void hist_add(struct hist *h, int64_t v)
{
    if (v < 0)
        v = 0;
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (h->count == 0 || v > h->max)
        h->max = v;
    h->count++;
    h->bins[hist_index((uint64_t)v)]++;
}

/* The q-quantile (0 < q <= 1), to the bin's resolution, within [min, max]. */
static int64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count), seen = 0;
    unsigned end = hist_index((uint64_t)h->max) + 1; /* no bin above max is used */
    if (rank < 1)
        rank = 1;
    for (unsigned i = 0; i < end; i++) {
        seen += h->bins[i];
        if (seen >= rank) {
            int64_t v = (int64_t)hist_value(i);
            return v < h->min ? h->min : (v > h->max ? h->max : v);
        }
    }
    return h->max;
}

/* ---- the held packets: a min-heap on (due_ns, seq, original first) ------- */

static bool held_before(const struct held *a, const struct held *b)
{
    if (a->due_ns != b->due_ns)
        return a->due_ns < b->due_ns;
    if (a->seq != b->seq)
        return a->seq < b->seq;
    return a->copy == NULL && b->copy != NULL;
}

static void heap_push(struct impair *im, const struct held *e)
{
    size_t i = im->held++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!held_before(e, &im->heap[parent]))
            break;
        im->heap[i] = im->heap[parent];
        i = parent;
    }
    im->heap[i] = *e;
    if (im->held > im->n.held_max)
        im->n.held_max = im->held;
}

static struct held heap_pop(struct impair *im)
{
    struct held top = im->heap[0];
    struct held last = im->heap[--im->held];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= im->held)
            break;
        if (c + 1 < im->held && held_before(&im->heap[c + 1], &im->heap[c]))
            c++;
        if (!held_before(&im->heap[c], &last))
            break;
        im->heap[i] = im->heap[c];
        i = c;
    }
    if (im->held > 0)
        im->heap[i] = last;
    return top;
}

/* ---- releasing ----------------------------------------------------------- */

static void send_copy(struct impair *im, const struct held *e)
{
    struct sockaddr_in to = { .sin_family = AF_INET };
    memcpy(&to.sin_addr, e->copy + 16, 4);
    struct iovec iov = { .iov_base = e->copy, .iov_len = e->len };
    union {
        char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {
        .msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov, .msg_iovlen = 1
    };
    if (e->ifindex != 0) {
        /* Out of the interface the original took, whatever the routes say. */
        memset(&ctl, 0, sizeof ctl);
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        struct in_pktinfo pi = { .ipi_ifindex = (int)e->ifindex };
        memcpy(CMSG_DATA(c), &pi, sizeof pi);
    }
    if (sendmsg(im->raw_fd, &msg, MSG_DONTWAIT) == (ssize_t)e->len)
        im->n.duplicated++;
    else
        im->n.dup_failed++;
}

static void release(struct impair *im, struct held *e, int64_t now)
{
    hist_add(&im->late, now - e->due_ns);
    if (e->copy) {
        send_copy(im, e);
        free(e->copy);
        im->copies--;
        return;
    }
    nfq_set_verdict(im->qh, e->id, NF_ACCEPT, 0, NULL);
    im->n.accepted++;
    hist_add(&im->delay, now - e->recv_ns);
    if (e->seq < im->next_in_order)
        im->n.reordered++;
    else
        im->next_in_order = e->seq + 1;
}

static void release_due(struct impair *im, int64_t now)
{
    while (im->held > 0 && im->heap[0].due_ns <= now) {
        struct held e = heap_pop(im);
        release(im, &e, now);
    }
}

static void release_all(struct impair *im)
{
    while (im->held > 0) {
        struct held e = heap_pop(im);
        release(im, &e, now_ns());
    }
}

/* Arm the timer for the earliest held packet (absolute, so no drift). */
static void arm_timer(struct impair *im)
{
    int64_t due = im->held > 0 ? im->heap[0].due_ns : 0;
    if (due == im->armed_ns)
        return;
    struct itimerspec its = { 0 };
    if (due > 0) {
        its.it_value.tv_sec = due / 1000000000LL;
        its.it_value.tv_nsec = due % 1000000000LL;
    }
    timerfd_settime(im->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
    im->armed_ns = due;
}

/* ---- the queue ----------------------------------------------------------- */

static int64_t schedule(struct impair *im, int64_t drawn)
{
    if (im->opt.fifo && drawn < im->last_due_ns)
        drawn = im->last_due_ns;
    if (drawn > im->last_due_ns)
        im->last_due_ns = drawn;
    return drawn;
}

static void hold_copy(struct impair *im, struct nfq_data *nfa, int64_t now, int64_t drawn,
                      uint64_t seq)
{
    unsigned char *payload;
    int len = nfq_get_payload(nfa, &payload);
    /* Only IPv4 with a whole header can go out of the raw socket. */
    if (len < 20 || (payload[0] >> 4) != 4 || im->copies >= im->copies_cap) {
        im->n.dup_failed++;
        return;
    }
    struct held e = {
        .recv_ns = now, .seq = seq, .ifindex = nfq_get_outdev(nfa), .len = (size_t)len
    };
    e.copy = malloc(e.len);
    if (!e.copy) {
        im->n.dup_failed++;
        return;
    }
    memcpy(e.copy, payload, e.len);
    e.due_ns = schedule(im, drawn);
    im->copies++;
    heap_push(im, &e);
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *data)
{
    struct impair *im = data;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    (void)msg;
    if (!ph)
        return 0;
    uint32_t id = ntohl(ph->packet_id);
    int64_t now = now_ns();
    im->n.packets++;
    if (im->stopping) {
        nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
        im->n.accepted++;
        return 0;
    }

    struct netmodel_fate fate;
    netmodel_send(&im->model, now - im->start_ns, &fate);
    fate.arrival_ns[0] += im->start_ns;
    fate.arrival_ns[1] += im->start_ns;
    if (fate.copies == 0) {
        nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
        im->n.dropped++;
        return 0;
    }
    /* The kernel holds at most queue_len packets for us, so this is room
     * enough; the check keeps a misbehaving kernel from overrunning it. */
    if (im->held - im->copies >= im->opt.queue_len) {
        nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
        im->n.overflow++;
        return 0;
    }
    uint64_t seq = im->seq++;
    struct held e = { .recv_ns = now, .seq = seq, .id = id };
    e.due_ns = schedule(im, fate.arrival_ns[0]);
    heap_push(im, &e);
    if (fate.copies == 2)
        hold_copy(im, nfa, now, fate.arrival_ns[1], seq);
    return 0;
}

/* Read every message waiting on the queue's socket; false on a real error. */
static bool drain_queue(struct impair *im)
{
    static _Alignas(8) char buf[IMPAIR_PACKET_MAX + 4096];
    for (;;) {
        ssize_t got = recv(im->nfq_fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got > 0) {
            nfq_handle_packet(im->h, buf, (int)got);
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && errno == ENOBUFS) {
            im->n.nl_overruns++;
            continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        fprintf(stderr, "aoip-impair: queue socket: %s\n", got == 0 ? "closed" : strerror(errno));
        return false;
    }
}

/* ---- stats --------------------------------------------------------------- */

static const char *const dist_names[] = {
    [NETMODEL_JITTER_UNIFORM] = "uniform",
    [NETMODEL_JITTER_EXPONENTIAL] = "exp",
    [NETMODEL_JITTER_GAUSSIAN] = "gauss",
    [NETMODEL_JITTER_PARETO] = "pareto",
};

static const char *dist_name(const struct netmodel_config *c)
{
    if (c->jitter_dist != NETMODEL_JITTER_DEFAULT)
        return dist_names[c->jitter_dist];
    return c->jitter_exponential ? "exp" : "uniform";
}

static void appendf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void appendf(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < sizeof t->buf ? t->len + (size_t)n : sizeof t->buf - 1;
}

static void append_ms(struct text *t, const char *key, int64_t ns)
{
    appendf(t, "%s=%" PRId64 ".%06" PRId64 "\n", key, ns / NS_PER_MS, ns % NS_PER_MS);
}

static void format_stats(struct impair *im, struct text *t)
{
    const struct netmodel_config *c = &im->opt.model;
    const struct counters *n = &im->n;
    t->len = 0;
    t->buf[0] = '\0';
    appendf(t, "queue=%u\nseed=%" PRIu64 "\n", im->opt.queue, c->seed);
    append_ms(t, "delay_ms", c->delay_ns);
    append_ms(t, "jitter_ms", c->jitter_ns);
    appendf(t, "dist=%s\n", dist_name(c));
    if (c->jitter_dist == NETMODEL_JITTER_PARETO)
        appendf(t, "pareto_shape=%g\n", c->pareto_shape > 1 ? c->pareto_shape : 1.5);
    append_ms(t, "jitter_max_ms", c->jitter_max_ns);
    appendf(t, "loss=%g\ndup=%g\n", c->loss, c->duplicate);
    appendf(t, "ge_good_to_bad=%g\nge_bad_to_good=%g\nge_loss_good=%g\nge_loss_bad=%g\n",
            c->ge_good_to_bad, c->ge_bad_to_good, c->ge_loss_good, c->ge_loss_bad);
    appendf(t, "reorder=%g\n", c->reorder);
    append_ms(t, "reorder_ms", c->reorder_ns);
    append_ms(t, "stall_every_ms", c->stall_every_ns);
    append_ms(t, "stall_ms", c->stall_ns);
    appendf(t, "fifo=%d\nrt_priority=%d\n", im->opt.fifo, im->opt.rt_priority);
    appendf(t, "uptime_ms=%" PRId64 "\n", (now_ns() - im->start_ns) / NS_PER_MS);
    appendf(t,
            "packets=%" PRIu64 "\naccepted=%" PRIu64 "\ndropped=%" PRIu64 "\nduplicated=%" PRIu64
            "\ndup_failed=%" PRIu64 "\nreordered=%" PRIu64 "\noverflow=%" PRIu64
            "\nnl_overruns=%" PRIu64 "\nheld=%zu\nheld_max=%" PRIu64 "\n",
            n->packets, n->accepted, n->dropped, n->duplicated, n->dup_failed, n->reordered,
            n->overflow, n->nl_overruns, im->held, n->held_max);
    /* The delay applied to the originals, from the queue to the verdict. */
    appendf(t, "delay_samples=%" PRIu64 "\n", im->delay.count);
    append_ms(t, "delay_min_ms", im->delay.min);
    append_ms(t, "delay_median_ms", hist_quantile(&im->delay, 0.5));
    append_ms(t, "delay_p99_ms", hist_quantile(&im->delay, 0.99));
    append_ms(t, "delay_max_ms", im->delay.max);
    /* How long after its due time each release happened: the timer's error. */
    append_ms(t, "late_median_ms", hist_quantile(&im->late, 0.5));
    append_ms(t, "late_p99_ms", hist_quantile(&im->late, 0.99));
    append_ms(t, "late_max_ms", im->late.max);
    appendf(t, "written=%" PRIu64 "\n", ++im->stats_written);
}

/* Replace the file with the text, atomically (readers never see half of it). */
static void write_file(const char *path, const struct text *t)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        fprintf(stderr, "aoip-impair: %s: path too long\n", path);
        return;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "aoip-impair: %s: %s\n", tmp, strerror(errno));
        return;
    }
    bool ok = fwrite(t->buf, 1, t->len, f) == t->len;
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
        fprintf(stderr, "aoip-impair: %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
}

/*
 * A file write can block for milliseconds, far longer than a packet may be
 * late, so the packet loop only formats the stats and hands the text to this
 * thread (not real-time), which writes the latest text it was given.
 */
static void *writer_main(void *arg)
{
    struct stats_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->pending && !w->quit)
            pthread_cond_wait(&w->wake, &w->lock);
        if (!w->pending)
            break;
        w->out = w->next;
        w->pending = false;
        pthread_mutex_unlock(&w->lock);
        write_file(w->path, &w->out);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int writer_start(struct stats_writer *w, const char *path)
{
    pthread_mutexattr_t attr;
    w->path = path;
    /* The packet loop takes the lock at real-time priority: priority
     * inheritance keeps a preempted writer from holding it up. */
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
    int rc = pthread_mutex_init(&w->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc == 0)
        rc = pthread_cond_init(&w->wake, NULL);
    if (rc == 0)
        rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    w->running = true;
    return 0;
}

static void write_stats(struct impair *im)
{
    struct stats_writer *w = &im->writer;
    if (!w->running)
        return;
    format_stats(im, &im->scratch);
    pthread_mutex_lock(&w->lock);
    w->next = im->scratch;
    w->pending = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

/* Write what is pending, then end the thread. */
static void writer_stop(struct stats_writer *w)
{
    if (!w->running)
        return;
    pthread_mutex_lock(&w->lock);
    w->quit = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    w->running = false;
}

/* ---- options ------------------------------------------------------------- */

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '\0')
        return false;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end != '\0' || errno != 0 || v > max)
        return false;
    *out = v;
    return true;
}

enum {
    O_QUEUE = 256,
    O_SEED,
    O_DELAY,
    O_JITTER,
    O_JITTER_MAX,
    O_DIST,
    O_PARETO,
    O_LOSS,
    O_DUP,
    O_GE_GB,
    O_GE_BG,
    O_GE_LOSS_GOOD,
    O_GE_LOSS_BAD,
    O_REORDER,
    O_REORDER_MS,
    O_STALL_EVERY,
    O_STALL,
    O_FIFO,
    O_MARK,
    O_QLEN,
    O_RT,
    O_STATS,
    O_STATS_IV,
    O_HELP
};

static const struct option long_options[] = {
    { "queue", required_argument, NULL, O_QUEUE },
    { "seed", required_argument, NULL, O_SEED },
    { "delay-ms", required_argument, NULL, O_DELAY },
    { "jitter-ms", required_argument, NULL, O_JITTER },
    { "jitter-max-ms", required_argument, NULL, O_JITTER_MAX },
    { "dist", required_argument, NULL, O_DIST },
    { "pareto-shape", required_argument, NULL, O_PARETO },
    { "loss", required_argument, NULL, O_LOSS },
    { "dup", required_argument, NULL, O_DUP },
    { "ge-good-to-bad", required_argument, NULL, O_GE_GB },
    { "ge-bad-to-good", required_argument, NULL, O_GE_BG },
    { "ge-loss-good", required_argument, NULL, O_GE_LOSS_GOOD },
    { "ge-loss-bad", required_argument, NULL, O_GE_LOSS_BAD },
    { "reorder", required_argument, NULL, O_REORDER },
    { "reorder-ms", required_argument, NULL, O_REORDER_MS },
    { "stall-every-ms", required_argument, NULL, O_STALL_EVERY },
    { "stall-ms", required_argument, NULL, O_STALL },
    { "fifo", no_argument, NULL, O_FIFO },
    { "mark", required_argument, NULL, O_MARK },
    { "queue-len", required_argument, NULL, O_QLEN },
    { "rt-priority", required_argument, NULL, O_RT },
    { "stats-file", required_argument, NULL, O_STATS },
    { "stats-interval-ms", required_argument, NULL, O_STATS_IV },
    { "help", no_argument, NULL, O_HELP },
    { NULL, 0, NULL, 0 },
};

/* The model's durations, given in milliseconds. */
static int64_t *ms_field(struct netmodel_config *m, int opt)
{
    switch (opt) {
    case O_DELAY:
        return &m->delay_ns;
    case O_JITTER:
        return &m->jitter_ns;
    case O_JITTER_MAX:
        return &m->jitter_max_ns;
    case O_REORDER_MS:
        return &m->reorder_ns;
    case O_STALL_EVERY:
        return &m->stall_every_ns;
    case O_STALL:
        return &m->stall_ns;
    default:
        return NULL;
    }
}

/* The model's probabilities, 0..1. */
static double *prob_field(struct netmodel_config *m, int opt)
{
    switch (opt) {
    case O_LOSS:
        return &m->loss;
    case O_DUP:
        return &m->duplicate;
    case O_GE_GB:
        return &m->ge_good_to_bad;
    case O_GE_BG:
        return &m->ge_bad_to_good;
    case O_GE_LOSS_GOOD:
        return &m->ge_loss_good;
    case O_GE_LOSS_BAD:
        return &m->ge_loss_bad;
    case O_REORDER:
        return &m->reorder;
    default:
        return NULL;
    }
}

static int parse_other(int opt, const char *a, struct options *o)
{
    uint64_t u;
    switch (opt) {
    case O_QUEUE:
        if (!parse_u64(a, 65535, &u))
            return usage_error("--queue: a queue number 0..65535, not '%s'", a);
        o->queue = (unsigned)u;
        o->have_queue = true;
        return 0;
    case O_SEED:
        if (!parse_u64(a, UINT64_MAX, &o->model.seed))
            return usage_error("--seed: an unsigned integer, not '%s'", a);
        return 0;
    case O_DIST:
        for (unsigned i = 0; i < sizeof dist_names / sizeof dist_names[0]; i++) {
            if (dist_names[i] && strcmp(a, dist_names[i]) == 0) {
                o->model.jitter_dist = (enum netmodel_jitter)i;
                return 0;
            }
        }
        return usage_error("--dist: uniform, exp, gauss or pareto, not '%s'", a);
    case O_PARETO:
        if (!parse_double(a, 1, 100, &o->model.pareto_shape) || o->model.pareto_shape == 1)
            return usage_error("--pareto-shape: a tail index above 1 (up to 100), not '%s'", a);
        return 0;
    case O_FIFO:
        o->fifo = true;
        return 0;
    case O_MARK:
        if (!parse_u64(a, UINT32_MAX, &u) || u == 0)
            return usage_error("--mark: a firewall mark 1..0xffffffff, not '%s'", a);
        o->mark = (uint32_t)u;
        return 0;
    case O_QLEN:
        if (!parse_u64(a, IMPAIR_QUEUE_LEN_MAX, &u) || u == 0)
            return usage_error("--queue-len: 1..%d packets, not '%s'", IMPAIR_QUEUE_LEN_MAX, a);
        o->queue_len = (unsigned)u;
        return 0;
    case O_RT:
        if (!parse_u64(a, 99, &u))
            return usage_error("--rt-priority: 0..99, not '%s'", a);
        o->rt_priority = (int)u;
        return 0;
    case O_STATS:
        if (*a == '\0')
            return usage_error("--stats-file: a path");
        o->stats_file = a;
        return 0;
    case O_STATS_IV:
        if (!parse_u64(a, 3600000, &u) || u == 0)
            return usage_error("--stats-interval-ms: 1..3600000, not '%s'", a);
        o->stats_interval_ms = (long)u;
        return 0;
    default:
        fputs(usage_text, stdout);
        exit(0);
    }
}

static int parse_options(int argc, char **argv, struct options *o)
{
    int c, idx;

    /* A bad state that loses everything, as netem's Gilbert-Elliott default. */
    *o = (struct options){ .queue_len = IMPAIR_QUEUE_LEN,
                           .mark = IMPAIR_DEFAULT_MARK,
                           .stats_interval_ms = IMPAIR_STATS_INTERVAL,
                           .model = { .seed = 1, .ge_loss_bad = 1.0 } };
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", long_options, &idx)) != -1) {
        const char *a = optarg;
        int64_t *ms = ms_field(&o->model, c);
        double *p = prob_field(&o->model, c);
        double d;
        if (c == '?' || c == ':')
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        if (ms) {
            if (!parse_double(a, 0, IMPAIR_MAX_DELAY_MS, &d))
                return usage_error("--%s: milliseconds 0..%g, not '%s'", long_options[idx].name,
                                   IMPAIR_MAX_DELAY_MS, a);
            *ms = (int64_t)llround(d * (double)NS_PER_MS);
        } else if (p) {
            if (!parse_double(a, 0, 1, p))
                return usage_error("--%s: a probability 0..1, not '%s'", long_options[idx].name, a);
        } else {
            int rc = parse_other(c, a, o);
            if (rc != 0)
                return rc;
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->have_queue)
        return usage_error("--queue N is required");
    return 0;
}

/* ---- setup --------------------------------------------------------------- */

static int fail(const char *what)
{
    fprintf(stderr, "aoip-impair: %s: %s\n", what, strerror(errno));
    return -1;
}

static int open_queue(struct impair *im)
{
    const struct options *o = &im->opt;
    im->h = nfq_open();
    if (!im->h)
        return fail("nfq_open");
    /* Only IPv4: the lab has IPv6 off, and the raw socket for copies is IPv4. */
    if (nfq_bind_pf(im->h, AF_INET) < 0)
        return fail("nfq_bind_pf");
    im->qh = nfq_create_queue(im->h, (uint16_t)o->queue, on_packet, im);
    if (!im->qh) {
        fprintf(stderr, "aoip-impair: cannot bind queue %u: %s (is another program bound?)\n",
                o->queue, strerror(errno));
        return -1;
    }
    bool copy_packet = o->model.duplicate > 0;
    if (nfq_set_mode(im->qh, copy_packet ? NFQNL_COPY_PACKET : NFQNL_COPY_META,
                     copy_packet ? IMPAIR_PACKET_MAX : 0) < 0)
        return fail("nfq_set_mode");
    if (nfq_set_queue_maxlen(im->qh, o->queue_len) < 0)
        return fail("nfq_set_queue_maxlen");
    if (nfq_set_queue_flags(im->qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0)
        fprintf(stderr, "aoip-impair: this kernel has no fail-open queues: a full queue drops\n");
    im->nfq_fd = nfq_fd(im->h);
    /* An overrun is reported once as ENOBUFS, counted, and the reads go on. */
    nfnl_rcvbufsiz(nfq_nfnlh(im->h), IMPAIR_RCVBUF);
    return 0;
}

static int open_raw(struct impair *im)
{
    int one = 1, zero = 0;
    im->raw_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (im->raw_fd < 0)
        return fail("raw socket");
    if (setsockopt(im->raw_fd, SOL_SOCKET, SO_MARK, &im->opt.mark, sizeof im->opt.mark) < 0)
        return fail("SO_MARK");
    /* The copy is for the wire: the original already went to any local listener. */
    setsockopt(im->raw_fd, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof zero);
    setsockopt(im->raw_fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
    return 0;
}

static int open_fds(struct impair *im)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &sigs, NULL) < 0)
        return fail("sigprocmask");
    im->sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (im->sig_fd < 0)
        return fail("signalfd");
    im->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    im->stats_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (im->timer_fd < 0 || im->stats_fd < 0)
        return fail("timerfd");
    long ms = im->opt.stats_interval_ms;
    struct itimerspec its = { .it_interval = { ms / 1000, (ms % 1000) * NS_PER_MS },
                              .it_value = { ms / 1000, (ms % 1000) * NS_PER_MS } };
    if (timerfd_settime(im->stats_fd, 0, &its, NULL) < 0)
        return fail("timerfd_settime");
    return 0;
}

/* ---- main loop ----------------------------------------------------------- */

static void read_timer(int fd)
{
    uint64_t expirations;
    while (read(fd, &expirations, sizeof expirations) > 0)
        ;
}

/* Returns true once SIGTERM or SIGINT came. */
static bool read_signals(struct impair *im)
{
    struct signalfd_siginfo si;
    bool stop = false;
    while (read(im->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1)
            write_stats(im);
        else
            stop = true;
    }
    return stop;
}

static int run(struct impair *im)
{
    struct pollfd pfd[4] = {
        { .fd = im->nfq_fd, .events = POLLIN },
        { .fd = im->timer_fd, .events = POLLIN },
        { .fd = im->stats_fd, .events = POLLIN },
        { .fd = im->sig_fd, .events = POLLIN },
    };
    for (;;) {
        if (poll(pfd, 4, -1) < 0) {
            if (errno == EINTR)
                continue;
            return fail("poll");
        }
        if ((pfd[0].revents & (POLLIN | POLLERR)) && !drain_queue(im))
            return -1;
        if (pfd[1].revents & POLLIN) {
            read_timer(im->timer_fd);
            im->armed_ns = 0;
        }
        release_due(im, now_ns());
        arm_timer(im);
        if (pfd[2].revents & POLLIN) {
            read_timer(im->stats_fd);
            write_stats(im);
        }
        if ((pfd[3].revents & POLLIN) && read_signals(im))
            return 0;
    }
}

/* New packets fail open from here on; what is held goes now, in due order. */
static void stop(struct impair *im)
{
    im->stopping = true;
    nfq_set_queue_maxlen(im->qh, 0);
    release_all(im);
    drain_queue(im);
}

int main(int argc, char **argv)
{
    static struct impair im;
    int rc = parse_options(argc, argv, &im.opt);
    if (rc != 0)
        return rc;
    im.nfq_fd = im.raw_fd = im.timer_fd = im.stats_fd = im.sig_fd = -1;
    im.start_ns = now_ns();
    netmodel_init(&im.model, &im.opt.model);
    im.copies_cap = im.opt.model.duplicate > 0 ? im.opt.queue_len : 0;
    im.cap = im.opt.queue_len + im.copies_cap;
    im.heap = calloc(im.cap, sizeof *im.heap);
    if (!im.heap) {
        fprintf(stderr, "aoip-impair: out of memory\n");
        return 1;
    }
    rc = 1;
    if (open_fds(&im) < 0 || open_raw(&im) < 0 || open_queue(&im) < 0)
        goto out;
    /* Before the priority changes: the writer is not to run real-time. */
    if (im.opt.stats_file && writer_start(&im.writer, im.opt.stats_file) < 0) {
        fail("stats thread");
        goto out;
    }
    if (im.opt.rt_priority > 0) {
        struct sched_param sp = { .sched_priority = im.opt.rt_priority };
        if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
            fprintf(stderr, "aoip-impair: cannot run real-time (%s): releases may be late\n",
                    strerror(errno));
    }
    write_stats(&im);
    fprintf(stderr, "aoip-impair: queue %u, seed %" PRIu64 ", ready\n", im.opt.queue,
            im.opt.model.seed);
    if (run(&im) == 0)
        rc = 0;
    stop(&im);
    write_stats(&im);
out:
    writer_stop(&im.writer);
    if (im.qh)
        nfq_destroy_queue(im.qh);
    if (im.h)
        nfq_close(im.h);
    for (size_t i = 0; i < im.held; i++)
        free(im.heap[i].copy);
    free(im.heap);
    if (im.raw_fd >= 0)
        close(im.raw_fd);
    if (im.timer_fd >= 0)
        close(im.timer_fd);
    if (im.stats_fd >= 0)
        close(im.stats_fd);
    if (im.sig_fd >= 0)
        close(im.sig_fd);
    return rc;
}
