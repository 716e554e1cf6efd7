/*
 * attack.c: aoip-attack, what an eavesdropper and a forger on the media
 * network can do to a sealed flow. Tests point it at a running flow and
 * then check that what it captured says nothing (no tone in the clear)
 * and that what it sent back was refused (counted, never played).
 *
 *   aoip-attack capture --port P --seconds S --out FILE [--max N]
 *       copies of the IPv4 UDP datagrams to port P on the loopback
 *       interface, their UDP payloads written to FILE. Needs a packet
 *       socket (CAP_NET_RAW): without one it says why and exits 77.
 *   aoip-attack replay --in FILE --to 127.0.0.1:P [--times N] [--gap-us U]
 *       every datagram of FILE sent again, N rounds (default 1).
 *   aoip-attack forge --to 127.0.0.1:P --like FILE --count N [--seed S]
 *                     [--only KIND[,KIND...]] [--gap-us U]
 *       forgeries modelled on the captured flow (kinds below).
 *   aoip-attack plaintext --in FILE --freq F [--rate R] [--channels C]
 *       whether the payloads carry a sine of F Hz as plain PCM.
 *   aoip-attack dump --in FILE
 *       one line per datagram: length and RTP and envelope fields.
 *   aoip-attack synth --out FILE --freq F [options]
 *       a file of RTP packets of a tone, plain or sealed: the self-test's
 *       known input (tests/support/test_attack.sh); options in usage_text.
 *
 * The capture file: the 8 bytes "AOIPCAP1", then one record per datagram:
 * its length as a 32-bit big-endian integer, then its bytes (the UDP
 * payload, without IP or UDP header). Records are in the order the packets
 * crossed the interface.
 *
 * capture uses an AF_PACKET socket of type SOCK_DGRAM bound to "lo" for
 * every protocol (ETH_P_ALL, as tcpdump does), so that what it reads starts
 * at the network header whatever link header the interface has, and keeps
 * IPv4. Loopback shows such a socket every packet twice, once as it leaves
 * (PACKET_OUTGOING) and once as it arrives (PACKET_HOST); only the second
 * is kept. IP fragments are skipped and counted: a 1 ms packet of 9
 * channels is far under the loopback MTU, so a fragment is not media.
 *
 * The forgeries take the newest captured packet of the flow (the SSRC of
 * the last packet in the file that is long enough to be sealed), keep its
 * RTP header (CSRCs and extension too), and change, by kind:
 *   ahead      seq 1..32 past the newest, timestamp to match; key id and
 *              ROC kept; the rest random (so the tag is wrong)
 *   behind     seq 1..512 before the newest (inside the receiver's replay
 *              window, so only the tag can refuse it); the rest random
 *   key-id     as ahead, with a key id other than the captured one
 *   roc        as ahead, with a ROC 1..3 or 65536 + 1..3 past the captured
 *              one: accepted, it would jump the replay window
 *   plain      no envelope: a bare RTP packet (P bit cleared) with the
 *              flow's plaintext payload length of loud L24, a 1 kHz sine
 *              at -1 dBFS written sample after sample (so each of C
 *              channels carries a C kHz tone), seq ahead
 *   ssrc       as ahead, from a random SSRC other than the flow's
 *   truncated  an ahead forgery cut to fewer than header + 21 bytes
 * The first seven forgeries are one of each kind, the rest drawn by the
 * seeded dice. Forgeries go out as fast as --gap-us allows (default 100)
 * so that "ahead" is still ahead of a flow that runs on meanwhile.
 *
 * plaintext looks at every datagram at two offsets, right after the RTP
 * header (as parsed: CSRCs and extension counted; padding cut off when the
 * P bit and the count make sense) and after the key id and ROC (the
 * 16-byte tag cut off), reads the bytes as L24 and as L16, de-interleaves
 * C channels (each of 1..9, or the --channels C given) and tests every
 * channel against the recurrence of a sine, x[n+1] = 2 cos(w) x[n] -
 * x[n-1] with w = 2 pi F / R. A channel carries the tone when the
 * residual's energy is 40 dB under the signal's, the signal is not near
 * silence (mean power over -60 dB of full scale), and a sine of F fitted
 * to it (amplitude and phase; least squares) leaves a residual 40 dB
 * under it too: when F is low, a constant or a ramp nearly satisfies the
 * recurrence, never the fit. A channel is judged only over at least half a
 * cycle of F (and 16 samples), so F must be at least R / 96: a 1 ms packet
 * holds half a cycle of it. Ciphertext reads as white noise, whose
 * residual is some 8 dB over its energy: nearly 50 dB from the bound. The
 * header is parsed here rather than by aoip_rtp_parse: a sealed packet's P
 * bit speaks of the plaintext, and the parser would read the tag's last
 * byte as a padding count.
 *
 * Exit: 0 on success (plaintext: no tone found); plaintext 1 when a tone
 * was found in any packet, 3 when the file holds no datagram (nothing was
 * judged, which must not pass for "sealed"); 1 on a failure to send, read
 * or write; 2 on a usage error; 77 when capture cannot have its socket.
 *
 * Packets go only to 127.0.0.0/8: the tool is for tests on this machine.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <aoip/pcm.h>
#include <aoip/rtp.h>
#include <aoip/seal.h>

#include "netmodel.h"
#include "sig.h"
#include "tool.h"

#define PI             3.14159265358979323846
#define CAP_MAGIC      "AOIPCAP1"
#define CAP_MAGIC_LEN  8
#define MAX_DGRAM      65535 /* a UDP payload is shorter than this */
#define RCVBUF_BYTES   (8 * 1024 * 1024)
#define MAX_CHANNELS   9    /* the most a flow's packet carries (1296 bytes of L24 per ms) */
#define MIN_FRAMES     16   /* fewer samples per channel prove nothing */
#define RESIDUAL_RATIO 1e-4 /* -40 dB */
#define SILENT_POWER   1e-6 /* -60 dB of full scale */
#define FORGE_AHEAD    32
#define LOUD_FREQ      1000.0
#define LOUD_AMP       0.89125093813374556 /* -1 dBFS */
#define FORGE_BEHIND   512                 /* half the receiver's window (AOIP_SEAL_WINDOW) */
#define EXIT_SKIP      77
#define EXIT_NOTHING   3

static const char usage_text[] =
    "usage: aoip-attack capture --port P --seconds S --out FILE [--max N]\n"
    "       aoip-attack replay --in FILE --to 127.0.0.1:P [--times N] [--gap-us U]\n"
    "       aoip-attack forge --to 127.0.0.1:P --like FILE --count N [--seed S]\n"
    "                         [--only KIND[,KIND...]] [--gap-us U]\n"
    "       aoip-attack plaintext --in FILE --freq F [--rate R] [--channels C]\n"
    "                         (R / 96 <= F < R / 2; R defaults to 48000)\n"
    "       aoip-attack dump --in FILE\n"
    "       aoip-attack synth --out FILE --freq F [--format l24|l16] [--channels C]\n"
    "                         [--count N] [--frames N] [--level DBFS] [--ssrc X]\n"
    "                         [--noise DBFS] [--csrc N] [--ext] [--pad] [--seal chacha|aes]\n"
    "Attacks a media flow on loopback: listen, replay, forge, look for plaintext.\n"
    "Forgery kinds: ahead behind key-id roc plain ssrc truncated. Exit 0 on\n"
    "success (plaintext: none found), 1 tone found or failure, 2 usage, 3 empty\n"
    "file, 77 capture lacks CAP_NET_RAW.\n"
    "examples:\n"
    "  aoip-attack capture --port 40112 --seconds 2 --out /tmp/cap.bin\n"
    "  aoip-attack plaintext --in /tmp/cap.bin --freq 997\n"
    "  aoip-attack replay --in /tmp/cap.bin --to 127.0.0.1:40112 --times 2\n"
    "  aoip-attack forge --to 127.0.0.1:40112 --like /tmp/cap.bin --count 700 --seed 1\n";

#define usage_error(...) tool_usage_error("aoip-attack", usage_text, __VA_ARGS__)

/* ---- options ------------------------------------------------------------- */

enum verb { CAPTURE, REPLAY, FORGE, PLAINTEXT, DUMP, SYNTH, VERBS };

static const char *const verb_names[VERBS] = { "capture",   "replay", "forge",
                                               "plaintext", "dump",   "synth" };

enum forge_kind { AHEAD, BEHIND, KEY_ID, ROC, PLAIN, SSRC, TRUNCATED, KINDS };

static const char *const kind_names[KINDS] = { "ahead", "behind", "key-id",   "roc",
                                               "plain", "ssrc",   "truncated" };

struct options {
    enum verb verb;
    unsigned long port, max, times, gap_us, count, channels, frames, csrc;
    double seconds, freq, rate, level_dbfs, noise_dbfs;
    const char *in, *out, *like, *to, *format, *seal;
    uint64_t seed;
    uint32_t ssrc;
    bool ext, pad;
    unsigned kinds; /* forge: bit mask of enum forge_kind; 0 for all */
    struct sockaddr_in dest;
};

/* An option, the verbs that take it (bit mask of enum verb) and whether it has a value. */
struct option_spec {
    const char *name;
    unsigned verbs;
    bool value;
};

#define V(x) (1u << (x))

static const struct option_spec option_specs[] = {
    { "--port", V(CAPTURE), true },
    { "--seconds", V(CAPTURE), true },
    { "--out", V(CAPTURE) | V(SYNTH), true },
    { "--max", V(CAPTURE), true },
    { "--in", V(REPLAY) | V(PLAINTEXT) | V(DUMP), true },
    { "--to", V(REPLAY) | V(FORGE), true },
    { "--times", V(REPLAY), true },
    { "--gap-us", V(REPLAY) | V(FORGE), true },
    { "--like", V(FORGE), true },
    { "--count", V(FORGE) | V(SYNTH), true },
    { "--seed", V(FORGE), true },
    { "--only", V(FORGE), true },
    { "--freq", V(PLAINTEXT) | V(SYNTH), true },
    { "--rate", V(PLAINTEXT), true },
    { "--channels", V(PLAINTEXT) | V(SYNTH), true },
    { "--format", V(SYNTH), true },
    { "--frames", V(SYNTH), true },
    { "--level", V(SYNTH), true },
    { "--noise", V(SYNTH), true },
    { "--ssrc", V(SYNTH), true },
    { "--csrc", V(SYNTH), true },
    { "--ext", V(SYNTH), false },
    { "--pad", V(SYNTH), false },
    { "--seal", V(SYNTH), true },
};

static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '\0')
        return false;
    unsigned long v = strtoul(s, &end, 0);
    if (*end != '\0' || errno != 0 || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* 127.x.y.z:PORT: numeric, and on this machine only. */
static bool parse_loopback(const char *s, struct sockaddr_in *a)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(s, ':');
    unsigned long port;
    if (!colon || (size_t)(colon - s) >= sizeof(host))
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (!parse_ulong(colon + 1, 65535, &port) || port == 0)
        return false;
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 && (ntohl(a->sin_addr.s_addr) >> 24) == 127;
}

/* One option's value into o; returns 0 or the exit code of a usage error. */
static int set_option(struct options *o, const char *name, const char *v)
{
    unsigned long u;
    bool ok = true;
    if (strcmp(name, "--port") == 0)
        ok = parse_ulong(v, 65535, &o->port) && o->port > 0;
    else if (strcmp(name, "--seconds") == 0)
        ok = parse_double(v, 0.001, 86400, &o->seconds);
    else if (strcmp(name, "--out") == 0)
        o->out = v;
    else if (strcmp(name, "--max") == 0)
        ok = parse_ulong(v, 100000000, &o->max) && o->max > 0;
    else if (strcmp(name, "--in") == 0)
        o->in = v;
    else if (strcmp(name, "--like") == 0)
        o->like = v;
    else if (strcmp(name, "--to") == 0) {
        o->to = v;
        if (!parse_loopback(v, &o->dest))
            return usage_error("--to: want 127.x.y.z:PORT (loopback only), not '%s'", v);
    } else if (strcmp(name, "--times") == 0)
        ok = parse_ulong(v, 1000000, &o->times) && o->times > 0;
    else if (strcmp(name, "--gap-us") == 0)
        ok = parse_ulong(v, 10000000, &o->gap_us);
    else if (strcmp(name, "--count") == 0)
        ok = parse_ulong(v, 10000000, &o->count) && o->count > 0;
    else if (strcmp(name, "--seed") == 0) {
        ok = parse_ulong(v, ULONG_MAX, &u);
        o->seed = u;
    } else if (strcmp(name, "--only") == 0)
        ok = tool_parse_names(v, kind_names, KINDS, &o->kinds) == 0;
    else if (strcmp(name, "--freq") == 0)
        ok = parse_double(v, 1, 1e6, &o->freq);
    else if (strcmp(name, "--rate") == 0)
        ok = parse_double(v, 1000, 1e6, &o->rate);
    else if (strcmp(name, "--channels") == 0)
        ok = parse_ulong(v, 64, &o->channels) && o->channels > 0;
    else if (strcmp(name, "--format") == 0) {
        o->format = v;
        ok = strcmp(v, "l24") == 0 || strcmp(v, "l16") == 0;
    } else if (strcmp(name, "--frames") == 0)
        ok = parse_ulong(v, 4096, &o->frames) && o->frames > 0;
    else if (strcmp(name, "--level") == 0)
        ok = parse_double(v, -200, 0, &o->level_dbfs);
    else if (strcmp(name, "--noise") == 0)
        ok = parse_double(v, -200, 0, &o->noise_dbfs);
    else if (strcmp(name, "--ssrc") == 0) {
        ok = parse_ulong(v, UINT32_MAX, &u);
        o->ssrc = (uint32_t)u;
    } else if (strcmp(name, "--csrc") == 0)
        ok = parse_ulong(v, AOIP_RTP_MAX_CSRC, &o->csrc);
    else if (strcmp(name, "--ext") == 0)
        o->ext = true;
    else if (strcmp(name, "--pad") == 0)
        o->pad = true;
    else if (strcmp(name, "--seal") == 0) {
        o->seal = v;
        ok = strcmp(v, "chacha") == 0 || strcmp(v, "aes") == 0;
    }
    return ok ? 0 : usage_error("%s: bad value '%s'", name, v);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){ .times = 1,
                           .gap_us = 100,
                           .rate = 48000,
                           .frames = 48,
                           .count = 0,
                           .level_dbfs = -6,
                           .noise_dbfs = -200,
                           .ssrc = 0x5eed0a77u,
                           .format = "l24",
                           .verb = VERBS };
    if (argc < 2)
        return usage_error("missing verb");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        exit(0);
    }
    for (int v = 0; v < VERBS; v++)
        if (strcmp(argv[1], verb_names[v]) == 0)
            o->verb = (enum verb)v;
    if (o->verb == VERBS)
        return usage_error("unknown verb '%s'", argv[1]);
    for (int i = 2; i < argc; i++) {
        const struct option_spec *spec = NULL;
        for (size_t k = 0; k < sizeof(option_specs) / sizeof(option_specs[0]); k++)
            if (strcmp(argv[i], option_specs[k].name) == 0)
                spec = &option_specs[k];
        if (!spec || !(spec->verbs & V(o->verb)))
            return usage_error("%s does not take '%s'", verb_names[o->verb], argv[i]);
        if (spec->value && i + 1 >= argc)
            return usage_error("%s needs a value", argv[i]);
        int rc = set_option(o, argv[i], spec->value ? argv[i + 1] : NULL);
        if (rc)
            return rc;
        i += spec->value;
    }
    return 0;
}

/* ---- the capture file ----------------------------------------------------- */

struct dgram {
    uint8_t *p;
    size_t len;
};

struct capfile {
    struct dgram *d;
    size_t n, cap;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "aoip-attack: out of memory\n");
        exit(1);
    }
    return p;
}

static void capfile_add(struct capfile *c, const uint8_t *p, size_t len)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        struct dgram *d = realloc(c->d, c->cap * sizeof(*d));
        if (!d) {
            fprintf(stderr, "aoip-attack: out of memory\n");
            exit(1);
        }
        c->d = d;
    }
    c->d[c->n].p = xmalloc(len);
    memcpy(c->d[c->n].p, p, len);
    c->d[c->n].len = len;
    c->n++;
}

static void capfile_free(struct capfile *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->d[i].p);
    free(c->d);
}

/* Read a whole capture file; returns 0, or 1 after saying what is wrong. */
static int capfile_read(const char *path, struct capfile *c)
{
    FILE *f = fopen(path, "rb");
    uint8_t magic[CAP_MAGIC_LEN], len[4];
    static uint8_t buf[MAX_DGRAM];
    memset(c, 0, sizeof(*c));
    if (!f) {
        fprintf(stderr, "aoip-attack: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (fread(magic, 1, sizeof(magic), f) != sizeof(magic) ||
        memcmp(magic, CAP_MAGIC, CAP_MAGIC_LEN) != 0) {
        fprintf(stderr, "aoip-attack: %s: not a capture file (no %s at the start)\n", path,
                CAP_MAGIC);
        fclose(f);
        return 1;
    }
    while (fread(len, 1, 4, f) == 4) {
        uint32_t n =
            (uint32_t)len[0] << 24 | (uint32_t)len[1] << 16 | (uint32_t)len[2] << 8 | len[3];
        if (n > MAX_DGRAM || fread(buf, 1, n, f) != n) {
            fprintf(stderr, "aoip-attack: %s: record %zu is cut short or longer than %d bytes\n",
                    path, c->n, MAX_DGRAM);
            fclose(f);
            capfile_free(c);
            return 1;
        }
        capfile_add(c, buf, n);
    }
    fclose(f);
    return 0;
}

static bool record_write(FILE *f, const uint8_t *p, size_t n)
{
    uint8_t len[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
    return fwrite(len, 1, 4, f) == 4 && fwrite(p, 1, n, f) == n;
}

static FILE *capfile_create(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(CAP_MAGIC, 1, CAP_MAGIC_LEN, f) != CAP_MAGIC_LEN) {
        fprintf(stderr, "aoip-attack: %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    return f;
}

static int capfile_close(FILE *f, const char *path)
{
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "aoip-attack: %s: write failed\n", path);
        return 1;
    }
    return 0;
}

/* ---- RTP and the envelope ------------------------------------------------- */

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/*
 * Bytes of the RTP header at p (fixed part, CSRCs, extension: RFC 3550
 * section 5.1 and 5.3.1), or 0 when p is not RTP version 2 or its header
 * runs past len.
 */
static size_t rtp_header_len(const uint8_t *p, size_t len)
{
    if (len < AOIP_RTP_HEADER_SIZE || (p[0] >> 6) != AOIP_RTP_VERSION)
        return 0;
    size_t n = AOIP_RTP_HEADER_SIZE + 4u * (p[0] & 0x0fu);
    if (p[0] & 0x10u) {
        if (len < n + 4)
            return 0;
        n += 4 + 4u * ((size_t)p[n + 2] << 8 | p[n + 3]);
    }
    return n <= len ? n : 0;
}

/* ---- time ----------------------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pause_us(unsigned long us)
{
    if (us == 0)
        return;
    struct timespec ts = { .tv_sec = (time_t)(us / 1000000),
                           .tv_nsec = (long)(us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- capture -------------------------------------------------------------- */

static volatile sig_atomic_t stop_capture;

static void on_stop(int sig)
{
    (void)sig;
    stop_capture = 1;
}

/*
 * The UDP payload of an IPv4 packet for port, or NULL (not IPv4 UDP, not
 * for port, malformed). *fragment says a fragment was skipped.
 */
static const uint8_t *udp_payload(const uint8_t *ip, size_t len, uint16_t port, size_t *out_len,
                                  bool *fragment)
{
    *fragment = false;
    if (len < 20 || (ip[0] >> 4) != 4)
        return NULL;
    size_t ihl = 4u * (ip[0] & 0x0fu);
    size_t total = (size_t)ip[2] << 8 | ip[3];
    if (ihl < 20 || total < ihl || total > len || ip[9] != IPPROTO_UDP)
        return NULL;
    /* More fragments, or an offset: not a whole datagram. */
    if (((ip[6] & 0x3fu) << 8 | ip[7]) != 0) {
        *fragment = true;
        return NULL;
    }
    const uint8_t *udp = ip + ihl;
    if (total - ihl < 8 || ((uint16_t)(udp[2] << 8 | udp[3])) != port)
        return NULL;
    size_t ulen = (size_t)udp[4] << 8 | udp[5];
    if (ulen < 8 || ulen > total - ihl)
        return NULL;
    *out_len = ulen - 8;
    return udp + 8;
}

static int run_capture(const struct options *o)
{
    static uint8_t buf[MAX_DGRAM + 128];
    unsigned long kept = 0, fragments = 0;
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) {
        int err = errno;
        fprintf(stderr,
                "aoip-attack: capture needs a packet socket, which takes CAP_NET_RAW "
                "(root): socket(AF_PACKET): %s\n",
                strerror(err));
        return err == EPERM || err == EACCES || err == EAFNOSUPPORT ? EXIT_SKIP : 1;
    }
    unsigned ifindex = if_nametoindex("lo");
    if (ifindex == 0) {
        fprintf(stderr, "aoip-attack: no loopback interface 'lo': %s\n", strerror(errno));
        close(fd);
        return EXIT_SKIP;
    }
    struct sockaddr_ll sll = { .sll_family = AF_PACKET,
                               .sll_protocol = htons(ETH_P_ALL),
                               .sll_ifindex = (int)ifindex };
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        fprintf(stderr, "aoip-attack: bind to lo: %s\n", strerror(errno));
        close(fd);
        return 1;
    }
    /* A burst of 1 ms packets must not overflow the socket while we write. */
    int rcvbuf = RCVBUF_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    /* Counters from here on: reading them resets them. */
    struct tpacket_stats st;
    socklen_t stlen = sizeof(st);
    getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &stlen);

    FILE *f = capfile_create(o->out);
    if (!f) {
        close(fd);
        return 1;
    }
    struct sigaction sa = { .sa_handler = on_stop };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* The line a test waits for before it starts sending. */
    fprintf(stderr, "aoip-attack: capturing udp port %lu on lo for %g s\n", o->port, o->seconds);
    int64_t end = now_ns() + (int64_t)(o->seconds * 1e9);
    while (!stop_capture && (o->max == 0 || kept < o->max)) {
        int64_t left = end - now_ns();
        if (left <= 0)
            break;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int pr = poll(&pfd, 1, (int)((left + 999999) / 1000000));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            fprintf(stderr, "aoip-attack: poll: %s\n", strerror(errno));
            break;
        }
        if (pr == 0)
            continue;
        struct sockaddr_ll from;
        socklen_t fromlen = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            fprintf(stderr, "aoip-attack: recvfrom: %s\n", strerror(errno));
            break;
        }
        /* Skip the copy on its way out: the same packet comes again as it
         * arrives. What came in before bind may be from another interface. */
        if (from.sll_pkttype == PACKET_OUTGOING || from.sll_ifindex != (int)ifindex ||
            from.sll_protocol != htons(ETH_P_IP) || (size_t)n > sizeof(buf))
            continue;
        size_t plen;
        bool fragment;
        const uint8_t *p = udp_payload(buf, (size_t)n, (uint16_t)o->port, &plen, &fragment);
        fragments += fragment;
        if (!p)
            continue;
        if (!record_write(f, p, plen))
            break;
        kept++;
    }
    stlen = sizeof(st);
    bool have_stats = getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &stlen) == 0;
    close(fd);
    int rc = capfile_close(f, o->out);
    printf("captured %lu packets\n", kept);
    if (have_stats && st.tp_drops)
        printf("the kernel dropped %u packets on the capture socket\n", st.tp_drops);
    if (fragments)
        printf("skipped %lu IP fragments\n", fragments);
    return rc;
}

/* ---- sending -------------------------------------------------------------- */

static int udp_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fprintf(stderr, "aoip-attack: socket: %s\n", strerror(errno));
    return fd;
}

/* A refusal that comes back means only that nobody listens: the datagram went out. */
static bool send_dgram(int fd, const struct sockaddr_in *to, const uint8_t *p, size_t n)
{
    ssize_t r = sendto(fd, p, n, 0, (const struct sockaddr *)to, sizeof(*to));
    if (r == (ssize_t)n || (r < 0 && errno == ECONNREFUSED))
        return true;
    fprintf(stderr, "aoip-attack: sendto: %s\n", r < 0 ? strerror(errno) : "short send");
    return false;
}

static int run_replay(const struct options *o)
{
    struct capfile c;
    if (capfile_read(o->in, &c))
        return 1;
    int fd = udp_socket();
    if (fd < 0) {
        capfile_free(&c);
        return 1;
    }
    unsigned long sent = 0, failed = 0;
    for (unsigned long r = 0; r < o->times; r++) {
        for (size_t i = 0; i < c.n; i++) {
            if (send_dgram(fd, &o->dest, c.d[i].p, c.d[i].len))
                sent++;
            else
                failed++;
            pause_us(o->gap_us);
        }
    }
    close(fd);
    printf("replayed %lu packets (%lu rounds of %zu) to %s, %lu failed\n", sent, o->times, c.n,
           o->to, failed);
    capfile_free(&c);
    return failed ? 1 : 0;
}

/* ---- forge ---------------------------------------------------------------- */

/* What the capture says about the flow the forgeries pretend to belong to. */
struct flow_model {
    uint32_t ssrc;
    const struct dgram **pkt; /* the flow's sealed-sized packets */
    size_t n;
    int64_t newest_index; /* ROC * 65536 + seq, from the envelope */
    uint32_t newest_ts;
    uint8_t key_id;
    uint32_t ts_step; /* timestamp units per packet */
};

static bool sealable(const struct dgram *d)
{
    size_t h = rtp_header_len(d->p, d->len);
    return h && d->len >= h + AOIP_SEAL_OVERHEAD;
}

static int64_t envelope_index(const struct dgram *d)
{
    size_t h = rtp_header_len(d->p, d->len);
    uint16_t seq = (uint16_t)(d->p[2] << 8 | d->p[3]);
    return (int64_t)get_be32(d->p + h + 1) << 16 | seq;
}

static int model_flow(const struct capfile *c, struct flow_model *m)
{
    const struct dgram *last = NULL, *oldest = NULL;
    for (size_t i = c->n; i-- > 0 && !last;)
        if (sealable(&c->d[i]))
            last = &c->d[i];
    if (!last) {
        fprintf(stderr, "aoip-attack: no RTP packet long enough to be sealed to model\n");
        return 1;
    }
    memset(m, 0, sizeof(*m));
    m->ssrc = get_be32(last->p + 8);
    m->pkt = xmalloc(c->n * sizeof(*m->pkt));
    m->newest_index = -1;
    for (size_t i = 0; i < c->n; i++) {
        const struct dgram *d = &c->d[i];
        if (!sealable(d) || get_be32(d->p + 8) != m->ssrc)
            continue;
        m->pkt[m->n++] = d;
        int64_t index = envelope_index(d);
        if (index > m->newest_index) {
            m->newest_index = index;
            m->newest_ts = get_be32(d->p + 4);
            m->key_id = d->p[rtp_header_len(d->p, d->len)];
        }
        if (!oldest || index < envelope_index(oldest))
            oldest = d;
    }
    /* The timestamp's pace per packet from the oldest to the newest; 1 ms at 48 kHz if unsure. */
    int64_t span = m->newest_index - envelope_index(oldest);
    uint32_t dts = m->newest_ts - get_be32(oldest->p + 4);
    m->ts_step = span > 0 && dts % (uint64_t)span == 0 ? (uint32_t)(dts / (uint64_t)span) : 48;
    return 0;
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

/* Set seq and timestamp in the header at p for the packet index newest + delta. */
static void set_position(const struct flow_model *m, uint8_t *p, int64_t delta, uint32_t *roc)
{
    int64_t index = m->newest_index + delta;
    if (index < 0)
        index = 0;
    p[2] = (uint8_t)(index >> 8);
    p[3] = (uint8_t)index;
    put_be32(p + 4, m->newest_ts + (uint32_t)(index - m->newest_index) * m->ts_step);
    *roc = (uint32_t)(index >> 16);
}

/* Build one forgery of kind k in buf; returns its length. */
static size_t forge_one(const struct flow_model *m, struct netmodel_rng *r, enum forge_kind k,
                        uint8_t *buf)
{
    const struct dgram *d = m->pkt[rng_below(r, (uint32_t)m->n)];
    size_t h = rtp_header_len(d->p, d->len);
    int64_t delta = 1 + rng_below(r, FORGE_AHEAD);
    uint32_t roc;
    memcpy(buf, d->p, h);
    if (k == BEHIND)
        delta = -(int64_t)(1 + rng_below(r, FORGE_BEHIND));
    set_position(m, buf, delta, &roc);

    if (k == PLAIN) {
        size_t n = (d->len - h - AOIP_SEAL_OVERHEAD) / 3 * 3;
        buf[0] &= (uint8_t)~0x20u;
        for (size_t i = 0; i < n / 3; i++) {
            double x = LOUD_AMP * sin(2.0 * PI * LOUD_FREQ * (double)i / 48000.0);
            int32_t v = (int32_t)lrint(x * 8388607.0);
            buf[h + 3 * i] = (uint8_t)(v >> 16);
            buf[h + 3 * i + 1] = (uint8_t)(v >> 8);
            buf[h + 3 * i + 2] = (uint8_t)v;
        }
        return h + n;
    }
    if (k == SSRC) {
        uint32_t s;
        do
            s = (uint32_t)netmodel_rng_next(r);
        while (s == m->ssrc);
        put_be32(buf + 8, s);
    }
    buf[h] = m->key_id;
    if (k == KEY_ID)
        buf[h] = (uint8_t)(m->key_id + 1 + rng_below(r, 255));
    if (k == ROC)
        roc += (rng_below(r, 2) ? 65536u : 0u) + 1 + rng_below(r, 3);
    put_be32(buf + h + 1, roc);
    rng_bytes(r, buf + h + AOIP_SEAL_PREFIX, d->len - h - AOIP_SEAL_PREFIX);
    if (k == TRUNCATED)
        return rng_below(r, (uint32_t)(h + AOIP_SEAL_OVERHEAD));
    return d->len;
}

static int run_forge(const struct options *o)
{
    static uint8_t buf[MAX_DGRAM];
    struct capfile c;
    struct flow_model m;
    struct netmodel_rng r;
    unsigned long sent[KINDS] = { 0 }, failed = 0;
    unsigned kinds[KINDS], nkinds = 0;
    int fd, rc = 1;

    if (capfile_read(o->like, &c))
        return 1;
    if (model_flow(&c, &m))
        goto fail_model;
    fd = udp_socket();
    if (fd < 0)
        goto fail_socket;
    for (unsigned k = 0; k < KINDS; k++)
        if (o->kinds == 0 || (o->kinds & (1u << k)))
            kinds[nkinds++] = k;
    netmodel_rng_seed(&r, o->seed);
    for (unsigned long i = 0; i < o->count; i++) {
        /* One of each first, so that a short run still tries every kind. */
        enum forge_kind k = (enum forge_kind)kinds[i < nkinds ? i : rng_below(&r, nkinds)];
        size_t n = forge_one(&m, &r, k, buf);
        if (send_dgram(fd, &o->dest, buf, n))
            sent[k]++;
        else
            failed++;
        pause_us(o->gap_us);
    }
    close(fd);
    printf("forged %lu packets to %s as ssrc 0x%08x after index %lld (key id %u):", o->count, o->to,
           m.ssrc, (long long)m.newest_index, m.key_id);
    for (unsigned k = 0; k < KINDS; k++)
        printf(" %s=%lu", kind_names[k], sent[k]);
    printf(" failed=%lu\n", failed);
    rc = failed ? 1 : 0;
fail_socket:
    free(m.pkt);
fail_model:
    capfile_free(&c);
    return rc;
}

/* ---- plaintext ------------------------------------------------------------ */

static double sample_at(const uint8_t *s, enum aoip_pcm_format fmt)
{
    if (fmt == AOIP_PCM_L24) {
        int32_t v = (int32_t)((uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2]);
        if (v & 0x800000)
            v -= 0x1000000;
        return v / 8388608.0;
    }
    int32_t v = (int32_t)((uint32_t)s[0] << 8 | s[1]);
    if (v & 0x8000)
        v -= 0x10000;
    return v / 32768.0;
}

/*
 * Whether channel ch of chans, read from p[0..n) as fmt, is a sine of w
 * radians per sample: the recurrence holds, and a sine of w alone (a cos
 * + b sin, fitted by least squares) leaves as little, over a window of at
 * least half a cycle. The fit is what tells a tone from a constant or a
 * ramp, which satisfy the recurrence nearly as well when w is small.
 */
static bool channel_is_tone(const uint8_t *p, size_t n, enum aoip_pcm_format fmt, unsigned chans,
                            unsigned ch, double w)
{
    static double x[MAX_DGRAM / 2];
    size_t stride = (size_t)fmt * chans, frames = n / stride;
    double coef = 2.0 * cos(w), signal = 0, inner = 0, residual = 0;
    if (frames < MIN_FRAMES || (double)frames * w < PI)
        return false;
    for (size_t k = 0; k < frames; k++) {
        x[k] = sample_at(p + (size_t)fmt * ch + k * stride, fmt);
        signal += x[k] * x[k];
    }
    if (signal <= SILENT_POWER * (double)frames)
        return false;
    for (size_t k = 1; k + 1 < frames; k++) {
        double e = x[k + 1] - coef * x[k] + x[k - 1];
        inner += x[k] * x[k];
        residual += e * e;
    }
    if (!(residual < RESIDUAL_RATIO * inner))
        return false;

    double cc = 0, ss = 0, cs = 0, xc = 0, xs = 0;
    for (size_t k = 0; k < frames; k++) {
        double c = cos(w * (double)k), s = sin(w * (double)k);
        cc += c * c;
        ss += s * s;
        cs += c * s;
        xc += x[k] * c;
        xs += x[k] * s;
    }
    double det = cc * ss - cs * cs;
    if (det <= 0)
        return false;
    double a = (xc * ss - xs * cs) / det, b = (xs * cc - xc * cs) / det, fit = 0;
    for (size_t k = 0; k < frames; k++) {
        double e = x[k] - a * cos(w * (double)k) - b * sin(w * (double)k);
        fit += e * e;
    }
    return fit < RESIDUAL_RATIO * signal;
}

struct tone_hit {
    size_t offset;
    enum aoip_pcm_format fmt;
    unsigned chans, ch;
};

/* Whether p[0..n) carries the tone on any channel, in any layout tried. */
static bool region_has_tone(const uint8_t *p, size_t n, const struct options *o, double w,
                            struct tone_hit *hit)
{
    static const enum aoip_pcm_format fmts[] = { AOIP_PCM_L24, AOIP_PCM_L16 };
    unsigned lo = o->channels ? (unsigned)o->channels : 1;
    unsigned hi = o->channels ? (unsigned)o->channels : MAX_CHANNELS;
    for (size_t f = 0; f < 2; f++) {
        for (unsigned chans = lo; chans <= hi; chans++) {
            for (unsigned ch = 0; ch < chans; ch++) {
                if (channel_is_tone(p, n, fmts[f], chans, ch, w)) {
                    hit->fmt = fmts[f];
                    hit->chans = chans;
                    hit->ch = ch;
                    return true;
                }
            }
        }
    }
    return false;
}

/*
 * Whether datagram d carries the tone: its payload right after the RTP
 * header, or after the header and the envelope's prefix.
 */
static bool dgram_has_tone(const struct dgram *d, const struct options *o, double w,
                           struct tone_hit *hit)
{
    size_t h = rtp_header_len(d->p, d->len), end = d->len;
    if (h == 0)
        h = AOIP_RTP_HEADER_SIZE;
    if (d->len < h)
        return false;
    /* Bare RTP: cut padding off when the P bit and its count make sense. */
    if ((d->p[0] & 0x20u) && d->len > h && d->p[d->len - 1] != 0 && d->p[d->len - 1] <= d->len - h)
        end -= d->p[d->len - 1];
    hit->offset = h;
    if (region_has_tone(d->p + h, end - h, o, w, hit))
        return true;
    if (d->len < h + AOIP_SEAL_OVERHEAD)
        return false;
    hit->offset = h + AOIP_SEAL_PREFIX;
    return region_has_tone(d->p + h + AOIP_SEAL_PREFIX, d->len - h - AOIP_SEAL_OVERHEAD, o, w, hit);
}

static int run_plaintext(const struct options *o)
{
    struct capfile c;
    struct tone_hit hit, first = { 0 };
    size_t found = 0, first_at = 0;
    double w = 2.0 * PI * o->freq / o->rate;

    if (o->freq >= o->rate / 2 || o->freq < o->rate / 96)
        return usage_error("--freq %g is outside [%g, %g): a 1 ms packet must hold half a "
                           "cycle of it, and it must be under half the rate",
                           o->freq, o->rate / 96, o->rate / 2);
    if (capfile_read(o->in, &c))
        return 1;
    for (size_t i = 0; i < c.n; i++) {
        if (dgram_has_tone(&c.d[i], o, w, &hit)) {
            if (found++ == 0) {
                first = hit;
                first_at = i;
            }
        }
    }
    printf("plaintext tone in %zu of %zu packets\n", found, c.n);
    if (found)
        printf("first in packet %zu: payload at byte %zu, %s, %u channels, channel %u\n", first_at,
               first.offset, first.fmt == AOIP_PCM_L24 ? "L24" : "L16", first.chans, first.ch + 1);
    capfile_free(&c);
    if (c.n == 0) {
        fprintf(stderr, "aoip-attack: %s holds no packet: nothing to judge\n", o->in);
        return EXIT_NOTHING;
    }
    return found ? 1 : 0;
}

/* ---- dump ----------------------------------------------------------------- */

static int run_dump(const struct options *o)
{
    struct capfile c;
    if (capfile_read(o->in, &c))
        return 1;
    for (size_t i = 0; i < c.n; i++) {
        const struct dgram *d = &c.d[i];
        size_t h = rtp_header_len(d->p, d->len);
        printf("%zu len=%zu", i, d->len);
        if (h == 0) {
            printf(" not-rtp\n");
            continue;
        }
        printf(" hdr=%zu pt=%u seq=%u ts=%u ssrc=0x%08x", h, d->p[1] & 0x7fu,
               (unsigned)(d->p[2] << 8 | d->p[3]), get_be32(d->p + 4), get_be32(d->p + 8));
        if (d->len >= h + AOIP_SEAL_OVERHEAD)
            printf(" key=%u roc=%u", d->p[h], get_be32(d->p + h + 1));
        printf("\n");
    }
    printf("%zu packets\n", c.n);
    capfile_free(&c);
    return 0;
}

/* ---- synth: the self-test's known input ----------------------------------- */

/*
 * count packets of frames frames of a tone of freq on every channel (each
 * its own phase and a level 1 dB under the one before), as a sender makes
 * them: aoip_rtp_write_header, aoip_pcm_encode, and when asked
 * aoip_seal_tx_seal under a fresh random key.
 */
static int run_synth(const struct options *o)
{
    enum aoip_pcm_format fmt = strcmp(o->format, "l16") == 0 ? AOIP_PCM_L16 : AOIP_PCM_L24;
    unsigned chans = o->channels ? (unsigned)o->channels : 2;
    unsigned long count = o->count ? o->count : 50;
    size_t frames = o->frames, payload = aoip_pcm_bytes(fmt, chans, frames);
    static uint8_t pkt[MAX_DGRAM];
    uint8_t ext[8] = { 0xbe, 0xde, 1, 2, 3, 4, 5, 6 };
    struct aoip_seal_tx tx;
    float *planar = xmalloc(sizeof(float) * frames * chans);
    double noise = sqrt(3.0) * pow(10.0, o->noise_dbfs / 20.0);
    struct netmodel_rng r;
    const float *in[64];
    FILE *f;
    int rc = 1;

    if (o->seal) {
        enum aoip_seal_cipher cipher =
            strcmp(o->seal, "aes") == 0 ? AOIP_SEAL_AES256GCM : AOIP_SEAL_CHACHA20POLY1305;
        struct aoip_seal_key key;
        if (aoip_seal_init() < 0) {
            fprintf(stderr, "aoip-attack: libsodium does not start\n");
            goto fail;
        }
        if (!aoip_seal_cipher_available(cipher)) {
            fprintf(stderr, "aoip-attack: this CPU lacks %s\n", o->seal);
            rc = EXIT_SKIP;
            goto fail;
        }
        aoip_seal_key_generate(&key, 7);
        aoip_seal_tx_init(&tx, cipher, &key);
    }
    f = capfile_create(o->out);
    if (!f)
        goto fail;
    netmodel_rng_seed(&r, 1);
    for (unsigned c = 0; c < chans; c++)
        in[c] = planar + (size_t)c * frames;
    for (unsigned long i = 0; i < count; i++) {
        struct aoip_rtp_packet p = { .payload_type = 97,
                                     .seq = (uint16_t)(65500 + i), /* wraps: ROC goes to 1 */
                                     .timestamp = (uint32_t)(i * frames),
                                     .ssrc = o->ssrc,
                                     .csrc_count = (uint8_t)o->csrc,
                                     .has_extension = o->ext,
                                     .ext_profile = 0xbede,
                                     .ext = ext,
                                     .ext_len = sizeof(ext),
                                     .padding_len = o->pad ? 4 : 0 };
        for (unsigned k = 0; k < o->csrc; k++)
            p.csrc[k] = 0x1000u + k;
        int h = aoip_rtp_write_header(&p, pkt, sizeof(pkt));
        if (h < 0) {
            fprintf(stderr, "aoip-attack: aoip_rtp_write_header: %d\n", h);
            fclose(f);
            goto fail;
        }
        for (unsigned c = 0; c < chans; c++)
            sig_tone(planar + (size_t)c * frames, frames, o->freq, 48000.0,
                     pow(10.0, (o->level_dbfs - c) / 20.0), 0.7 * c, (int64_t)(i * frames));
        /* White noise of that RMS: uniform on +-a has RMS a / sqrt(3). */
        for (size_t k = 0; k < frames * chans; k++)
            planar[k] += (float)(noise * (2.0 * netmodel_rng_uniform(&r) - 1.0));
        aoip_pcm_encode(fmt, pkt + h, in, chans, frames);
        size_t len = (size_t)h + payload;
        if (o->pad) {
            memset(pkt + len, 0, 3);
            pkt[len + 3] = 4;
            len += 4;
        }
        if (o->seal) {
            int n = aoip_seal_tx_seal(&tx, pkt, (size_t)h, len - (size_t)h, sizeof(pkt));
            if (n < 0) {
                fprintf(stderr, "aoip-attack: aoip_seal_tx_seal: %d\n", n);
                fclose(f);
                goto fail;
            }
            len = (size_t)n;
        }
        record_write(f, pkt, len);
    }
    rc = capfile_close(f, o->out);
    if (rc == 0)
        printf("wrote %lu %s packets of %u channels%s\n", count,
               fmt == AOIP_PCM_L24 ? "L24" : "L16", chans, o->seal ? ", sealed" : "");
fail:
    if (o->seal)
        aoip_seal_tx_clear(&tx);
    free(planar);
    return rc;
}

/* ---- main ----------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    switch (o.verb) {
    case CAPTURE:
        if (!o.port || !o.seconds || !o.out)
            return usage_error("capture needs --port, --seconds and --out");
        return run_capture(&o);
    case REPLAY:
        if (!o.in || !o.to)
            return usage_error("replay needs --in and --to");
        return run_replay(&o);
    case FORGE:
        if (!o.to || !o.like || !o.count)
            return usage_error("forge needs --to, --like and --count");
        return run_forge(&o);
    case PLAINTEXT:
        if (!o.in || !o.freq)
            return usage_error("plaintext needs --in and --freq");
        return run_plaintext(&o);
    case DUMP:
        if (!o.in)
            return usage_error("dump needs --in");
        return run_dump(&o);
    case SYNTH:
        if (!o.out || !o.freq)
            return usage_error("synth needs --out and --freq");
        if (o.channels > 64)
            return usage_error("synth: at most 64 channels");
        return run_synth(&o);
    case VERBS:
        break;
    }
    return 2;
}
