/*
 * noise.c: aoip-noise, bad input on purpose. Robustness tests point it at a
 * running aoipd and then check that the daemon still serves, counted what
 * it dropped, and leaked nothing (DESIGN.md, "Bad input").
 *
 *   aoip-noise udp HOST:PORT [--count N] [--seed S] [--interval-us U]
 *       random datagrams of random lengths 0..1500
 *   aoip-noise rtp HOST:PORT [--count N] [--seed S] [--ssrc X] [--pt P]
 *                  [--channels C] [--only KIND[,KIND...]] [--interval-us U]
 *       RTP-shaped lies, a seeded mix of the kinds: version (V is not 2), csrc
 *       (CSRC count past the end), extension (its length lies), padding (count
 *       0 or past the payload), truncated (under 12 bytes), jump (valid, with
 *       absurd sequence numbers and timestamps), huge (valid, up to 64 KB),
 *       odd-length (payload not a multiple of the frame: C channels of L24,
 *       default 2), wrong-pt (valid, payload type other than P, default 96).
 *       Valid parts are built with aoip_rtp_write_header; --ssrc aims them at
 *       a flow that exists.
 *   aoip-noise lines UNIX_SOCKET_PATH [--seed S]
 *       garbage on the control socket (proto/control.md): binary junk, lines
 *       that are not JSON, JSON that is not an object, objects without cmd or
 *       with an unknown one, fields of the wrong type, lines of 65536 and 65537
 *       bytes and of 100 KB, a thousand short lines; then {"id":1,"cmd":
 *       "status"} on the same connection must be answered "ok":true. Then a
 *       client that sends half a line and hangs up, one that sends 100 KB
 *       without a newline and hangs up, and a fresh connection whose status
 *       must be answered too. Prints the responses by code.
 *   aoip-noise tcp HOST:PORT [--seed S]
 *       nonsense on a peer port (proto/peer.md): binary junk, JSON of unknown
 *       types, hello and other messages with fields of the wrong type, a 100
 *       KB line. Reports whether the server closed the connection (it may,
 *       after 16 protocol errors), then checks a fresh connection is accepted.
 *
 * Exit: 0 when everything was sent and (lines, tcp) the server still serves,
 * 1 when not, 2 on a usage error. Every connect, read and write gives up
 * after 3 s without progress, so the tool never hangs.
 *
 * Noise goes only where it is told: HOST must be a numeric IPv4 or IPv6
 * address ([::1]:PORT), never a name, so a typo cannot resolve to someone
 * else's machine; and nothing sent carries an address the daemon might act
 * on (no well-formed peer list, no valid hello), so the daemon is not
 * steered to send anywhere either.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <aoip/rtp.h>

#include "tool.h"
#include "netmodel.h"

#define NOISE_TIMEOUT_MS 3000
/* A whole lines run must end within this, however chatty the server. */
#define NOISE_TOTAL_MS  30000
#define NOISE_LINE_MAX  65536 /* proto/control.md and peer.md */
#define NOISE_BIG_LINE  (100 * 1024)
#define NOISE_MAX_DGRAM 1500
#define NOISE_MAX_HUGE  65000 /* under the 65507 bytes a UDP datagram can carry */
#define NOISE_MAX_CODES 16

static const char usage_text[] =
    "usage: aoip-noise udp HOST:PORT [--count N] [--seed S] [--interval-us U]\n"
    "       aoip-noise rtp HOST:PORT [--count N] [--seed S] [--ssrc X] [--pt P]\n"
    "                      [--channels C] [--only KIND[,KIND...]] [--interval-us U]\n"
    "       aoip-noise lines UNIX_SOCKET_PATH [--seed S]\n"
    "       aoip-noise tcp HOST:PORT [--seed S]\n"
    "Sends bad input for robustness tests. HOST is a numeric address (127.0.0.1,\n"
    "[::1]); names are refused. RTP kinds: version csrc extension padding truncated\n"
    "jump huge odd-length wrong-pt. Exit 0 when sent and (lines, tcp) the server\n"
    "still answers, 1 when not, 2 on a usage error.\n"
    "examples:\n"
    "  aoip-noise rtp 127.0.0.1:40112 --count 500 --seed 7 --ssrc 0x6d1e0f2a\n"
    "  aoip-noise lines /tmp/aoip-test/control.sock\n";

struct options {
    const char *mode, *target;
    unsigned long count;
    uint64_t seed;
    bool ssrc_set;
    uint32_t ssrc;
    uint8_t pt;
    unsigned channels;
    unsigned long interval_us;
    unsigned kinds; /* bit mask of enum rtp_kind; 0 for all */
};

#define usage_error(...) tool_usage_error("aoip-noise", usage_text, __VA_ARGS__)

static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    if (*s == '-')
        return false;
    unsigned long v = strtoul(s, &end, 0);
    if (end == s || *end != '\0' || errno != 0 || v > max)
        return false;
    *out = v;
    return true;
}

/* HOST:PORT with HOST a numeric IPv4 address, or [IPv6]:PORT. */
static bool parse_target(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon;
    bool v6 = s[0] == '[';
    if (v6) {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        colon = close + 1;
        if ((size_t)(close - s - 1) >= sizeof(host))
            return false;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host))
            return false;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    unsigned long port = 0;
    if (colon[1] == '\0' || strlen(colon + 1) > 5)
        return false;
    for (const char *d = colon + 1; *d; d++) {
        if (*d < '0' || *d > '9')
            return false;
        port = port * 10 + (unsigned long)(*d - '0');
    }
    if (port == 0 || port > 65535)
        return false;
    memset(ss, 0, sizeof(*ss));
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a);
        return inet_pton(AF_INET6, host, &a->sin6_addr) == 1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *len = sizeof(*a);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

/* ---- time and a growable byte buffer ------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_us(unsigned long us)
{
    if (us == 0)
        return;
    struct timespec ts = { .tv_sec = (time_t)(us / 1000000),
                           .tv_nsec = (long)(us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "aoip-noise: out of memory\n");
        exit(1);
    }
    b->p = p;
    b->cap = cap;
}

static void buf_add(struct buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_line(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
    buf_add(b, "\n", 1);
}

static void buf_fill(struct buf *b, char c, size_t n)
{
    buf_reserve(b, n);
    memset(b->p + b->len, c, n);
    b->len += n;
}

static uint32_t rng_below(struct netmodel_rng *r, uint32_t n)
{
    return (uint32_t)(netmodel_rng_next(r) % n);
}

static void rng_bytes(struct netmodel_rng *r, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(netmodel_rng_next(r) >> 56);
}

/* ---- udp and rtp -------------------------------------------------------- */

static int udp_socket(const struct sockaddr_storage *ss)
{
    int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fprintf(stderr, "aoip-noise: socket: %s\n", strerror(errno));
    return fd;
}

/* An unconnected socket reports no ICMP errors, but a refusal that does
 * come back means only that nobody listens: the datagram went out. */
static bool send_dgram(int fd, const struct sockaddr_storage *ss, socklen_t len, const void *p,
                       size_t n)
{
    ssize_t r = sendto(fd, p, n, 0, (const struct sockaddr *)ss, len);
    if (r == (ssize_t)n || (r < 0 && errno == ECONNREFUSED))
        return true;
    fprintf(stderr, "aoip-noise: sendto: %s\n", r < 0 ? strerror(errno) : "short send");
    return false;
}

static int run_udp(const struct options *o, const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = udp_socket(ss);
    if (fd < 0)
        return 1;
    struct netmodel_rng r;
    netmodel_rng_seed(&r, o->seed);
    static uint8_t d[NOISE_MAX_DGRAM];
    unsigned long failed = 0, bytes = 0;
    for (unsigned long i = 0; i < o->count; i++) {
        size_t n = rng_below(&r, NOISE_MAX_DGRAM + 1);
        rng_bytes(&r, d, n);
        failed += !send_dgram(fd, ss, len, d, n);
        bytes += n;
        pause_us(o->interval_us);
    }
    close(fd);
    printf("udp: %lu datagrams (%lu bytes) to %s, %lu failed\n", o->count, bytes, o->target,
           failed);
    return failed ? 1 : 0;
}

enum rtp_kind {
    RTP_VERSION,
    RTP_CSRC,
    RTP_EXTENSION,
    RTP_PADDING,
    RTP_TRUNCATED,
    RTP_JUMP,
    RTP_HUGE,
    RTP_ODD_LENGTH,
    RTP_WRONG_PT,
    RTP_KINDS
};

static const char *const rtp_kind_names[RTP_KINDS] = {
    "version", "csrc", "extension",  "padding",  "truncated",
    "jump",    "huge", "odd-length", "wrong-pt",
};

/* The stream the lies pretend to belong to. */
struct rtp_stream {
    struct netmodel_rng rng;
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
    uint8_t pt;
    size_t frame; /* bytes: channels of L24 */
};

/* The fields of the stream's next packet, as a sender of 1 ms packets would set them. */
static void rtp_next(struct rtp_stream *s, struct aoip_rtp_packet *p)
{
    p->payload_type = s->pt;
    p->ssrc = s->ssrc;
    p->seq = s->seq++;
    p->timestamp = s->ts;
    s->ts += 48; /* 1 ms at 48 kHz */
}

/* Write p's header to buf; returns its size. */
static size_t rtp_header(const struct aoip_rtp_packet *p, uint8_t *buf, size_t cap)
{
    int n = aoip_rtp_write_header(p, buf, cap);
    if (n < 0) {
        fprintf(stderr, "aoip-noise: aoip_rtp_write_header: %s\n", aoip_strerror(n));
        exit(1);
    }
    return (size_t)n;
}

/* Build one packet of the given kind in buf; returns its length. */
static size_t rtp_lie(struct rtp_stream *s, enum rtp_kind kind, uint8_t *buf, size_t cap)
{
    struct netmodel_rng *r = &s->rng;
    struct aoip_rtp_packet p = { 0 };
    size_t n, payload = 48 * s->frame;
    uint8_t ext[8];
    rtp_next(s, &p);

    switch (kind) {
    case RTP_VERSION:
        n = rtp_header(&p, buf, cap);
        /* V is the top two bits; 0, 1 or 3, never 2. */
        buf[0] = (uint8_t)((buf[0] & 0x3f) | (uint8_t)("\0\1\3"[rng_below(r, 3)] << 6));
        break;
    case RTP_CSRC: {
        n = rtp_header(&p, buf, cap);
        uint32_t cc = 1 + rng_below(r, 15);
        buf[0] = (uint8_t)((buf[0] & 0xf0) | cc);
        /* End the packet somewhere inside the CSRC list it promises. */
        return n + rng_below(r, 4 * cc);
    }
    case RTP_EXTENSION: {
        p.has_extension = true;
        p.ext_profile = (uint16_t)rng_below(r, 65536);
        rng_bytes(r, ext, sizeof(ext));
        p.ext = ext;
        p.ext_len = sizeof(ext);
        n = rtp_header(&p, buf, cap);
        size_t body = rng_below(r, 64);
        rng_bytes(r, buf + n, body);
        /* The length (in words) sits after the profile, 4 bytes before the
         * extension's data; make it reach past the end of the packet. */
        uint32_t words = (uint32_t)((body + sizeof(ext)) / 4 + 1 + rng_below(r, 65000));
        buf[n - sizeof(ext) - 2] = (uint8_t)(words >> 8);
        buf[n - sizeof(ext) - 1] = (uint8_t)words;
        return n + body;
    }
    case RTP_PADDING: {
        p.padding_len = 1; /* sets P; the count byte below is the lie */
        n = rtp_header(&p, buf, cap);
        size_t body = rng_below(r, 32);
        rng_bytes(r, buf + n, body);
        n += body;
        /* 0, or more than the payload holds (count byte included). */
        buf[n] = rng_below(r, 2) ? 0 : (uint8_t)(body + 2 + rng_below(r, (uint32_t)(254 - body)));
        return n + 1;
    }
    case RTP_TRUNCATED:
        rtp_header(&p, buf, cap);
        return rng_below(r, AOIP_RTP_HEADER_SIZE);
    case RTP_JUMP:
        p.marker = rng_below(r, 2);
        p.seq = (uint16_t)rng_below(r, 65536);
        p.timestamp = (uint32_t)netmodel_rng_next(r);
        n = rtp_header(&p, buf, cap);
        break;
    case RTP_HUGE:
        n = rtp_header(&p, buf, cap);
        payload = (1500 + rng_below(r, NOISE_MAX_HUGE - 1500)) / s->frame * s->frame;
        break;
    case RTP_ODD_LENGTH:
        n = rtp_header(&p, buf, cap);
        payload = rng_below(r, 200) * s->frame + 1 + rng_below(r, (uint32_t)s->frame - 1);
        break;
    case RTP_WRONG_PT:
    default:
        n = rtp_header(&p, buf, cap);
        uint8_t pt = (uint8_t)rng_below(r, 127);
        buf[1] = (uint8_t)((buf[1] & 0x80) | (pt >= s->pt ? pt + 1 : pt));
        break;
    }
    if (n + payload > cap)
        payload = cap - n;
    rng_bytes(r, buf + n, payload);
    return n + payload;
}

static int run_rtp(const struct options *o, const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = udp_socket(ss);
    if (fd < 0)
        return 1;
    struct rtp_stream s = { .pt = o->pt, .frame = 3 * (size_t)o->channels };
    netmodel_rng_seed(&s.rng, o->seed);
    s.ssrc = o->ssrc_set ? o->ssrc : (uint32_t)netmodel_rng_next(&s.rng);
    s.seq = (uint16_t)netmodel_rng_next(&s.rng);
    s.ts = (uint32_t)netmodel_rng_next(&s.rng);

    unsigned kinds[RTP_KINDS], nkinds = 0;
    unsigned long sent[RTP_KINDS] = { 0 }, failed = 0;
    for (unsigned k = 0; k < RTP_KINDS; k++)
        if (o->kinds == 0 || (o->kinds & (1u << k)))
            kinds[nkinds++] = k;
    static uint8_t buf[NOISE_MAX_HUGE + 64];
    for (unsigned long i = 0; i < o->count; i++) {
        enum rtp_kind k = (enum rtp_kind)kinds[rng_below(&s.rng, nkinds)];
        size_t n = rtp_lie(&s, k, buf, sizeof(buf));
        failed += !send_dgram(fd, ss, len, buf, n);
        sent[k]++;
        pause_us(o->interval_us);
    }
    close(fd);
    printf("rtp: %lu packets to %s (ssrc %08x), %lu failed:", o->count, o->target, s.ssrc, failed);
    for (unsigned k = 0; k < RTP_KINDS; k++)
        if (sent[k])
            printf(" %s %lu", rtp_kind_names[k], sent[k]);
    printf("\n");
    return failed ? 1 : 0;
}

/* ---- stream connections ---------------------------------------------------- */

/* Connect without blocking longer than the timeout. */
static int stream_connect(const struct sockaddr *sa, socklen_t len, const char *what)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        fprintf(stderr, "aoip-noise: socket: %s\n", strerror(errno));
        return -1;
    }
    if (connect(fd, sa, len) < 0) {
        int err = errno;
        if (err == EINPROGRESS) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            socklen_t elen = sizeof(err);
            int pr = poll(&pfd, 1, NOISE_TIMEOUT_MS);
            if (pr == 0)
                err = ETIMEDOUT;
            else if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
                err = errno;
        }
        if (err != 0) {
            fprintf(stderr, "aoip-noise: connect to %s: %s\n", what, strerror(err));
            close(fd);
            return -1;
        }
    }
    return fd;
}

/*
 * Send out and read what comes back, line by line, until on_line says it
 * has what it waited for, the peer closes, nothing moves for the timeout,
 * or the total time runs out. Returns 1 when on_line finished it, 0 on a
 * close or timeout (*closed says which).
 */
struct pump {
    int fd;
    const char *out;
    size_t out_len, out_off;
    struct buf in;
    size_t bytes_in;
    bool closed;
};

static int pump_run(struct pump *p, bool (*on_line)(void *ctx, char *line), void *ctx,
                    int64_t total_ms)
{
    int64_t start = now_ms(), last = start;
    char chunk[65536];
    for (;;) {
        int64_t t = now_ms();
        int64_t wait = NOISE_TIMEOUT_MS - (t - last);
        if (start + total_ms - t < wait)
            wait = start + total_ms - t;
        if (wait <= 0)
            return 0;
        struct pollfd pfd = { .fd = p->fd,
                              .events = POLLIN | (p->out_off < p->out_len ? POLLOUT : 0) };
        int pr = poll(&pfd, 1, (int)wait);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return 0;
        if (pfd.revents & POLLOUT) {
            ssize_t w = send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);
            if (w > 0) {
                p->out_off += (size_t)w;
                last = now_ms();
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                /* Reset or closed: what is still readable is read below. */
                p->out_off = p->out_len;
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t rd = recv(p->fd, chunk, sizeof(chunk), 0);
            if (rd == 0 || (rd < 0 && errno != EAGAIN && errno != EINTR)) {
                p->closed = true;
                return 0;
            }
            if (rd > 0) {
                last = now_ms();
                p->bytes_in += (size_t)rd;
                buf_add(&p->in, chunk, (size_t)rd);
                size_t from = 0;
                for (size_t i = 0; i < p->in.len; i++) {
                    if (p->in.p[i] != '\n')
                        continue;
                    p->in.p[i] = '\0';
                    bool done = on_line(ctx, p->in.p + from);
                    from = i + 1;
                    if (done)
                        return 1;
                }
                memmove(p->in.p, p->in.p + from, p->in.len - from);
                p->in.len -= from;
            }
        }
    }
}

/* ---- lines: the control socket ------------------------------------------------ */

struct tally {
    unsigned long lines, ok, unparsed;
    char codes[NOISE_MAX_CODES][32];
    unsigned long counts[NOISE_MAX_CODES];
    bool status_ok, status_seen; /* the answer to id 1 */
};

static bool tally_line(void *ctx, char *line)
{
    struct tally *t = ctx;
    t->lines++;
    json_t *j = json_loads(line, 0, NULL);
    if (!json_is_object(j)) {
        t->unparsed++;
        json_decref(j);
        return false;
    }
    json_t *id = json_object_get(j, "id");
    bool ok = json_is_true(json_object_get(j, "ok"));
    const char *code = json_string_value(json_object_get(j, "code"));
    if (ok)
        t->ok++;
    else {
        if (!code)
            code = "(no code)";
        size_t i = 0;
        while (i < NOISE_MAX_CODES && t->codes[i][0] && strcmp(t->codes[i], code) != 0)
            i++;
        if (i == NOISE_MAX_CODES)
            i--; /* the last slot takes whatever does not fit */
        if (!t->codes[i][0])
            snprintf(t->codes[i], sizeof(t->codes[i]), "%s", code);
        t->counts[i]++;
    }
    bool final = json_is_integer(id) && json_integer_value(id) == 1;
    if (final) {
        t->status_seen = true;
        t->status_ok = ok;
    }
    json_decref(j);
    return final;
}

static void tally_print(const struct tally *t)
{
    printf("%lu responses: ok %lu", t->lines, t->ok);
    for (size_t i = 0; i < NOISE_MAX_CODES && t->codes[i][0]; i++)
        printf(", %s %lu", t->codes[i], t->counts[i]);
    if (t->unparsed)
        printf(", not JSON objects %lu", t->unparsed);
    printf("\n");
}

/* Every kind of wrong the control protocol names, and some it does not.
 * No id here is 1: that one is the status request that must come back ok. */
static void control_garbage(struct buf *b, struct netmodel_rng *r)
{
    static const char *const lines[] = {
        /* not JSON */
        "hello",
        "{",
        "}",
        "{\"id\":2,",
        "[1,2",
        "NaN",
        "{'id':3}",
        "\"unterminated",
        "{\"id\":4 \"cmd\":\"status\"}",
        "{\"id\":5,\"cmd\":\"status\"} trailing",
        "{\"id\":6,\"cmd\":\"st\\u0000tus\"}",
        "{\"id\":7,\"cmd\":\"\xff\xfe\"}",
        "{\"id\":8,\"cmd\":\"route.add\",\"gain_db\":1e999}",
        /* JSON, not an object */
        "[]",
        "[1,2,3]",
        "\"status\"",
        "42",
        "null",
        "true",
        "-0.5e10",
        /* objects without cmd */
        "{}",
        "{\"id\":9}",
        "{\"id\":10,\"command\":\"status\"}",
        /* unknown commands */
        "{\"id\":11,\"cmd\":\"no.such.command\"}",
        "{\"id\":12,\"cmd\":\"\"}",
        "{\"id\":13,\"cmd\":\"STATUS\"}",
        "{\"id\":14,\"cmd\":\"route.add.extra\"}",
        /* fields of the wrong type */
        "{\"id\":\"fifteen\",\"cmd\":\"status\"}",
        "{\"id\":16,\"cmd\":42}",
        "{\"id\":17,\"cmd\":null}",
        "{\"id\":18,\"cmd\":[\"status\"]}",
        "{\"id\":19,\"cmd\":{\"name\":\"status\"}}",
        "{\"id\":20,\"cmd\":\"route.add\",\"source\":7,\"destination\":[]}",
        "{\"id\":21,\"cmd\":\"route.add\",\"source\":\"a/1\",\"destination\":\"b/1\","
        "\"gain_db\":\"loud\"}",
        "{\"id\":22,\"cmd\":\"route.add\",\"source\":\"a/1\",\"destination\":\"b/1\","
        "\"muted\":\"yes\"}",
        "{\"id\":23,\"cmd\":\"route.add\",\"source\":\"\",\"destination\":\"/\"}",
        "{\"id\":24,\"cmd\":\"route.add\",\"source\":\"a/1\",\"destination\":\"b/1\","
        "\"gain_db\":1e308}",
        "{\"id\":25,\"cmd\":\"route.del\",\"source\":{},\"destination\":true}",
        "{\"id\":26,\"cmd\":\"route.list\",\"node\":5}",
        "{\"id\":27,\"cmd\":\"channels\","
        "\"node\":[]}",
        "{\"id\":2.5,\"cmd\":\"status\"}",
        "{\"id\":1e300,\"cmd\":\"status\"}",
        "{\"id\":-9223372036854775809,\"cmd\":\"status\"}",
        "{\"id\":28,\"cmd\":\"status\",\"cmd\":\"nodes\"}",
        "{\"id\":29,\"cmd\":\"status\"}\r",
        "{\"id\":30,\"cmd\":\"meter\",\"extra\":{\"a\":[1,"
        "{\"b\":null}]}}",
    };
    /* Binary junk: any byte but the newline, NUL and invalid UTF-8 included. */
    for (int i = 0; i < 8; i++) {
        uint8_t junk[200];
        size_t n = 1 + rng_below(r, sizeof(junk));
        rng_bytes(r, junk, n);
        for (size_t k = 0; k < n; k++)
            if (junk[k] == '\n')
                junk[k] = 0;
        buf_add(b, junk, n);
        buf_add(b, "\n", 1);
    }
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        buf_line(b, lines[i]);
    /* Nesting deeper than any parser should follow, within the line limit. */
    buf_fill(b, '[', 30000);
    buf_fill(b, ']', 30000);
    buf_add(b, "\n", 1);
    /* At the limit (65536 with the newline), one past it, and 100 KB. */
    static const size_t sizes[] = { NOISE_LINE_MAX, NOISE_LINE_MAX + 1, NOISE_BIG_LINE };
    for (size_t i = 0; i < 3; i++) {
        static const char head[] = "{\"id\":31,\"cmd\":\"status\",\"pad\":\"";
        buf_add(b, head, sizeof(head) - 1);
        buf_fill(b, 'x', sizes[i] - (sizeof(head) - 1) - 3);
        buf_add(b, "\"}\n", 3);
    }
    /* Many short lines, and empty ones. */
    for (int i = 0; i < 1000; i++)
        buf_line(b, i % 10 ? "x" : "");
}

static struct sockaddr_un unix_address(const char *path, socklen_t *len)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, path, strlen(path));
    *len = (socklen_t)sizeof(sa);
    return sa;
}

/* Send out (which ends with the status request of id 1) and wait for its answer. */
static bool control_exchange(const char *path, const char *what, const char *out, size_t len,
                             bool *reached)
{
    socklen_t alen;
    struct sockaddr_un sa = unix_address(path, &alen);
    int fd = stream_connect((const struct sockaddr *)&sa, alen, path);
    *reached = fd >= 0;
    if (fd < 0)
        return false;
    struct pump p = { .fd = fd, .out = out, .out_len = len };
    struct tally t = { 0 };
    pump_run(&p, tally_line, &t, NOISE_TOTAL_MS);
    printf("lines: %s: sent %zu of %zu bytes, ", what, p.out_off, len);
    tally_print(&t);
    if (!t.status_seen)
        printf("lines: %s: no answer to the status request (%s)\n", what,
               p.closed ? "the server closed the connection" : "timed out");
    else if (!t.status_ok)
        printf("lines: %s: the status request was answered with an error\n", what);
    close(fd);
    free(p.in.p);
    return t.status_seen && t.status_ok;
}

/* Connect, send out, hang up: a client that goes away mid-line. */
static bool control_hang_up(const char *path, const char *out, size_t len)
{
    socklen_t alen;
    struct sockaddr_un sa = unix_address(path, &alen);
    int fd = stream_connect((const struct sockaddr *)&sa, alen, path);
    if (fd < 0)
        return false;
    for (size_t off = 0; off < len;) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        if (poll(&pfd, 1, NOISE_TIMEOUT_MS) <= 0)
            break;
        ssize_t w = send(fd, out + off, len - off, MSG_NOSIGNAL);
        if (w <= 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (w > 0)
            off += (size_t)w;
    }
    close(fd);
    return true;
}

static int run_lines(const struct options *o)
{
    static const char status[] = "{\"id\":1,\"cmd\":\"status\"}\n";
    if (strlen(o->target) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return usage_error("socket path too long: '%s'", o->target);
    struct netmodel_rng r;
    netmodel_rng_seed(&r, o->seed);

    struct buf g = { 0 };
    control_garbage(&g, &r);
    size_t lines = 0;
    for (size_t i = 0; i < g.len; i++)
        lines += g.p[i] == '\n';
    printf("lines: %zu garbage lines (%zu bytes) to %s\n", lines, g.len, o->target);
    buf_add(&g, status, sizeof(status) - 1);
    bool reached = true;
    bool usable = control_exchange(o->target, "garbage", g.p, g.len, &reached);
    if (!reached) {
        free(g.p);
        return 1;
    }

    /* Clients that leave halfway: half a line, then 100 KB with no newline. */
    static const char half[] = "{\"id\":32,\"cmd\":\"sta";
    bool hung = control_hang_up(o->target, half, sizeof(half) - 1);
    struct buf big = { 0 };
    buf_fill(&big, 'y', NOISE_BIG_LINE);
    hung &= control_hang_up(o->target, big.p, big.len);
    free(big.p);

    bool after =
        control_exchange(o->target, "after hang-ups", status, sizeof(status) - 1, &reached);
    free(g.p);
    printf("lines: connection %s after garbage; %s after clients hung up mid-line\n",
           usable ? "usable" : "NOT usable", after && hung ? "serving" : "NOT serving");
    return usable && hung && after ? 0 : 1;
}

/* ---- tcp: a peer port ---------------------------------------------------------- */

static bool count_line(void *ctx, char *line)
{
    unsigned long *n = ctx;
    (*n)++;
    (void)line;
    return false;
}

/* Nonsense for the peer protocol. Nothing here is a well-formed hello or
 * carries a usable address, so the daemon has nowhere to connect or send. */
static void peer_garbage(struct buf *b, struct netmodel_rng *r)
{
    static const char *const lines[] = {
        "{\"type\":\"frobnicate\"}",
        "{\"type\":\"hello2\",\"v\":99}",
        "{\"type\":\"\"}",
        "{\"type\":7}",
        "{\"type\":null}",
        "{\"notype\":true}",
        "[\"hello\"]",
        "not json at all",
        "{\"type\":\"hello\",\"v\":\"1\",\"id\":42,\"name\":[\"x\"],\"port\":\"7400\","
        "\"rtp_port\":-1,\"rtcp_port\":1e9,\"sample_rate\":\"48000\",\"sources\":\"mic1\","
        "\"destinations\":{},\"peers\":\"none\"}",
        "{\"type\":\"hello\",\"v\":1,\"id\":\"\",\"name\":null,\"port\":70000,\"rtp_port\":0,"
        "\"rtcp_port\":0,\"sample_rate\":-48000,\"sources\":[1,2],\"destinations\":[null],"
        "\"peers\":[{\"id\":5,\"name\":6,\"address\":7,\"port\":\"x\"}]}",
        "{\"type\":\"hello\"}",
        "{\"type\":\"peers\",\"peers\":{\"address\":1}}",
        "{\"type\":\"ping\",\"t\":{}}",
        "{\"type\":\"pong\",\"t\":[]}",
        "{\"type\":\"request\",\"rid\":\"x\",\"cmd\":7}",
        "{\"type\":\"reply\",\"rid\":-1,\"ok\":\"maybe\"}",
        "{\"type\":\"flows.want\",\"channels\":\"all\",\"encoding\":5,\"packet_us\":\"1ms\"}",
        "{\"type\":\"flows.set\",\"flows\":[{\"ssrc\":12,\"payload_type\":\"x\"}]}",
    };
    /* More junk lines than the 16 protocol errors a peer tolerates. */
    for (int i = 0; i < 20; i++) {
        uint8_t junk[300];
        size_t n = 1 + rng_below(r, sizeof(junk));
        rng_bytes(r, junk, n);
        for (size_t k = 0; k < n; k++)
            if (junk[k] == '\n')
                junk[k] = 0;
        buf_add(b, junk, n);
        buf_add(b, "\n", 1);
    }
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        buf_line(b, lines[i]);
    buf_fill(b, 'z', NOISE_BIG_LINE);
    buf_add(b, "\n", 1);
}

static int run_tcp(const struct options *o, const struct sockaddr_storage *ss, socklen_t len)
{
    struct netmodel_rng r;
    netmodel_rng_seed(&r, o->seed);
    int fd = stream_connect((const struct sockaddr *)ss, len, o->target);
    if (fd < 0)
        return 1;
    struct buf g = { 0 };
    peer_garbage(&g, &r);
    struct pump p = { .fd = fd, .out = g.p, .out_len = g.len };
    unsigned long lines = 0;
    /* The server talks on its own (hello, pings), so only a close or the
     * total time ends this. */
    pump_run(&p, count_line, &lines, NOISE_TIMEOUT_MS);
    printf("tcp: sent %zu of %zu bytes to %s, received %zu bytes (%lu lines); the server %s\n",
           p.out_off, g.len, o->target, p.bytes_in, lines,
           p.closed ? "closed the connection" : "kept the connection open");
    close(fd);
    free(g.p);
    free(p.in.p);

    int again = stream_connect((const struct sockaddr *)ss, len, o->target);
    printf("tcp: a fresh connection is %s\n", again >= 0 ? "accepted" : "NOT accepted");
    if (again < 0)
        return 1;
    close(again);
    return 0;
}

/* ---- main ---------------------------------------------------------------------- */

static int parse_options(int argc, char **argv, struct options *o)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        exit(0);
    }
    if (argc < 3)
        return usage_error("a mode and a target are needed");
    o->mode = argv[1];
    o->target = argv[2];
    o->count = 1000;
    o->seed = 1;
    o->pt = 96;
    o->channels = 2;
    if (strcmp(o->mode, "udp") != 0 && strcmp(o->mode, "rtp") != 0 &&
        strcmp(o->mode, "lines") != 0 && strcmp(o->mode, "tcp") != 0)
        return usage_error("unknown mode '%s' (udp, rtp, lines, tcp)", o->mode);
    bool datagrams = strcmp(o->mode, "udp") == 0 || strcmp(o->mode, "rtp") == 0;
    bool rtp = strcmp(o->mode, "rtp") == 0;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            return usage_error("%s needs a value", a);
        const char *v = argv[++i];
        unsigned long n;
        if (strcmp(a, "--seed") == 0) {
            if (!parse_ulong(v, ULONG_MAX, &n))
                return usage_error("--seed wants a number, not '%s'", v);
            o->seed = n;
        } else if (strcmp(a, "--count") == 0 && datagrams) {
            if (!parse_ulong(v, 100000000, &n))
                return usage_error("--count wants a number, not '%s'", v);
            o->count = n;
        } else if (strcmp(a, "--interval-us") == 0 && datagrams) {
            if (!parse_ulong(v, 10000000, &o->interval_us))
                return usage_error("--interval-us wants microseconds, not '%s'", v);
        } else if (strcmp(a, "--ssrc") == 0 && rtp) {
            if (!parse_ulong(v, UINT32_MAX, &n))
                return usage_error("--ssrc wants a 32-bit number (0x... for hex), not '%s'", v);
            o->ssrc = (uint32_t)n;
            o->ssrc_set = true;
        } else if (strcmp(a, "--pt") == 0 && rtp) {
            if (!parse_ulong(v, 127, &n))
                return usage_error("--pt wants a payload type 0..127, not '%s'", v);
            o->pt = (uint8_t)n;
        } else if (strcmp(a, "--channels") == 0 && rtp) {
            if (!parse_ulong(v, 64, &n) || n == 0)
                return usage_error("--channels wants 1..64, not '%s'", v);
            o->channels = (unsigned)n;
        } else if (strcmp(a, "--only") == 0 && rtp) {
            if (tool_parse_names(v, rtp_kind_names, RTP_KINDS, &o->kinds) != 0)
                return usage_error("--only wants kinds from: version csrc extension padding "
                                   "truncated jump huge odd-length wrong-pt; not '%s'",
                                   v);
        } else {
            return usage_error("'%s' is not an option of %s", a, o->mode);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = { 0 };
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    if (strcmp(o.mode, "lines") == 0)
        return run_lines(&o);

    struct sockaddr_storage ss;
    socklen_t len;
    if (!parse_target(o.target, &ss, &len))
        return usage_error("'%s' is not HOST:PORT with a numeric address (127.0.0.1:PORT, "
                           "[::1]:PORT); names are refused",
                           o.target);
    if (strcmp(o.mode, "udp") == 0)
        return run_udp(&o, &ss, len);
    if (strcmp(o.mode, "rtp") == 0)
        return run_rtp(&o, &ss, len);
    return run_tcp(&o, &ss, len);
}
