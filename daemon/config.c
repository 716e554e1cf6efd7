/*
 * config.c: reads aoipd's INI file into struct cfg (config.h).
 *
 * inih splits "key = value" lines; everything else is here. inih as Debian
 * builds it (55) passes no line numbers to the handler and says nothing
 * about section headers (and keeps only their first 49 bytes), so the text
 * reaches inih through a line reader of our own. The reader counts lines
 * (its counter is the line the handler is looking at), takes section
 * headers itself (so an empty section is seen, and a section's own
 * problems are reported at its header), refuses lines inih would refuse,
 * and strips leading blanks so that an indented key is never taken for
 * inih's multi-line continuation of the key before it.
 *
 * Each value is checked when it is read. What depends on other keys of the
 * same section (required keys, keys of another type, list lengths) is
 * checked when the section ends; what depends on [node], which may stand
 * anywhere in the file (the flow settings a [peer.X] or rtp section leaves
 * to the node, the sample rate Opus needs), and what spans sections
 * (channel numbering, unique channel names) is settled after the last
 * section. The first problem ends
 * the parse and becomes the one-line message "FILE:LINE: what is wrong".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "aoip/common.h"
#include "aoip/control.h"
#include "aoip/opus.h"
#include "aoip/sdp.h"
#include "config.h"

/*
 * The longest line: a key, a path of CFG_PATH_MAX and an inline comment.
 * inih allocates its line buffer on the stack at this size.
 */
#define LINE_MAX_BYTES (CFG_PATH_MAX + 256)
/* A configuration file is written by hand; anything larger is a mistake. */
#define TEXT_MAX_BYTES (1024 * 1024)
/* Values quoted back in messages are cut here so a message stays one readable line. */
#define QUOTE_MAX 200

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

enum section_kind {
    SEC_NONE, /* before the first header */
    SEC_NODE,
    SEC_PEER,
    SEC_IO,
    SEC_TRUST,
};

/*
 * The Opus settings of flows: the same four keys, in this order, in
 * [node], [peer.X] and rtp outputs. Each of those key tables lists them
 * together in this order, so that the lines of a section's Opus keys are
 * one run of its lines array (opus_inherit) and a key's place in the run
 * is its enum opus_key.
 */
enum opus_key { OPUS_BITRATE, OPUS_FRAME_MS, OPUS_FEC, OPUS_EXPECTED_LOSS, OPUS_KEY_COUNT };

static const char *const opus_keys[OPUS_KEY_COUNT] = {
    [OPUS_BITRATE] = "opus_bitrate",
    [OPUS_FRAME_MS] = "opus_frame_ms",
    [OPUS_FEC] = "opus_fec",
    [OPUS_EXPECTED_LOSS] = "opus_expected_loss",
};

enum node_key {
    NK_NAME,
    NK_STATE_DIR,
    NK_CONTROL,
    NK_PORT,
    NK_RTP_PORT,
    NK_SAMPLE_RATE,
    NK_PERIOD_US,
    NK_LATENCY_US,
    NK_LATENCY,
    NK_ENCODING,
    NK_PACKET_US,
    NK_OPUS_BITRATE, /* .. NK_OPUS_EXPECTED_LOSS: in enum opus_key's order */
    NK_OPUS_FRAME_MS,
    NK_OPUS_FEC,
    NK_OPUS_EXPECTED_LOSS,
    NK_CLOCK_SKEW_PPM,
    NK_DISCOVERY,
    NK_MULTICAST,
    NK_MULTICAST_TTL,
    NK_SECURITY,
    NK_SECRET_FILE,
    NK_REKEY_S,
    NK_CONTROL_GROUP,
    NK_CLOCK,
    NK_COUNT
};

static const char *const node_keys[NK_COUNT] = {
    [NK_NAME] = "name",
    [NK_STATE_DIR] = "state_dir",
    [NK_CONTROL] = "control",
    [NK_PORT] = "port",
    [NK_RTP_PORT] = "rtp_port",
    [NK_SAMPLE_RATE] = "sample_rate",
    [NK_PERIOD_US] = "period_us",
    [NK_LATENCY_US] = "latency_us",
    [NK_LATENCY] = "latency",
    [NK_ENCODING] = "encoding",
    [NK_PACKET_US] = "packet_us",
    [NK_OPUS_BITRATE] = "opus_bitrate",
    [NK_OPUS_FRAME_MS] = "opus_frame_ms",
    [NK_OPUS_FEC] = "opus_fec",
    [NK_OPUS_EXPECTED_LOSS] = "opus_expected_loss",
    [NK_CLOCK_SKEW_PPM] = "clock_skew_ppm",
    [NK_DISCOVERY] = "discovery",
    [NK_MULTICAST] = "multicast",
    [NK_MULTICAST_TTL] = "multicast_ttl",
    [NK_SECURITY] = "security",
    [NK_SECRET_FILE] = "secret_file",
    [NK_REKEY_S] = "rekey_s",
    [NK_CONTROL_GROUP] = "control_group",
    [NK_CLOCK] = "clock",
};

enum io_key {
    IK_TYPE,
    IK_CHANNELS,
    IK_NAMES,
    IK_FREQUENCY,
    IK_LEVEL_DBFS,
    IK_WAVE,
    IK_PATH,
    IK_LOOP,
    IK_LISTEN,
    IK_DESTINATION,
    IK_ENCODING,
    IK_PAYLOAD_TYPE,
    IK_PACKET_US,
    IK_OPUS_BITRATE, /* .. IK_OPUS_EXPECTED_LOSS: in enum opus_key's order */
    IK_OPUS_FRAME_MS,
    IK_OPUS_FEC,
    IK_OPUS_EXPECTED_LOSS,
    IK_SDP,
    IK_CLIENT_NAME,
    IK_CONNECT,
    IK_SERVER,
    IK_DEVICE,
    IK_PERIOD_US,
    IK_PERIODS,
    IK_FORMAT,
    IK_ACCESS,
    IK_COUNT
};

/* Where a key of an io section belongs: one bit per kind and type. */
enum {
    W_IN_TONE = 1 << 0,
    W_IN_WAV = 1 << 1,
    W_IN_RTP = 1 << 2,
    W_OUT_WAV = 1 << 3,
    W_OUT_NULL = 1 << 4,
    W_OUT_RTP = 1 << 5,
    W_BUS = 1 << 6,
    W_IN_JACK = 1 << 7,
    W_OUT_JACK = 1 << 8,
    W_IN_ALSA = 1 << 9,
    W_OUT_ALSA = 1 << 10,
    W_INPUT = W_IN_TONE | W_IN_WAV | W_IN_RTP | W_IN_JACK | W_IN_ALSA,
    W_OUTPUT = W_OUT_WAV | W_OUT_NULL | W_OUT_RTP | W_OUT_JACK | W_OUT_ALSA,
    W_ALSA = W_IN_ALSA | W_OUT_ALSA,
};

static const struct {
    const char *name;
    unsigned where;
} io_keys[IK_COUNT] = {
    [IK_TYPE] = { "type", W_INPUT | W_OUTPUT },
    [IK_CHANNELS] = { "channels", W_INPUT | W_OUTPUT | W_BUS },
    [IK_NAMES] = { "names", W_INPUT | W_OUTPUT | W_BUS },
    [IK_FREQUENCY] = { "frequency", W_IN_TONE },
    [IK_LEVEL_DBFS] = { "level_dbfs", W_IN_TONE },
    [IK_WAVE] = { "wave", W_IN_TONE },
    [IK_PATH] = { "path", W_IN_WAV | W_OUT_WAV },
    [IK_LOOP] = { "loop", W_IN_WAV },
    [IK_LISTEN] = { "listen", W_IN_RTP },
    [IK_DESTINATION] = { "destination", W_OUT_RTP },
    [IK_ENCODING] = { "encoding", W_IN_RTP | W_OUT_RTP },
    [IK_PAYLOAD_TYPE] = { "payload_type", W_IN_RTP | W_OUT_RTP },
    [IK_PACKET_US] = { "packet_us", W_OUT_RTP },
    /* An input's decoder needs none of them: the packets say how they are coded. */
    [IK_OPUS_BITRATE] = { "opus_bitrate", W_OUT_RTP },
    [IK_OPUS_FRAME_MS] = { "opus_frame_ms", W_OUT_RTP },
    [IK_OPUS_FEC] = { "opus_fec", W_IN_RTP | W_OUT_RTP },
    [IK_OPUS_EXPECTED_LOSS] = { "opus_expected_loss", W_OUT_RTP },
    [IK_SDP] = { "sdp", W_IN_RTP },
    [IK_CLIENT_NAME] = { "client_name", W_IN_JACK | W_OUT_JACK },
    [IK_CONNECT] = { "connect", W_IN_JACK | W_OUT_JACK },
    [IK_SERVER] = { "server", W_IN_JACK | W_OUT_JACK },
    [IK_DEVICE] = { "device", W_ALSA },
    [IK_PERIOD_US] = { "period_us", W_ALSA },
    [IK_PERIODS] = { "periods", W_ALSA },
    [IK_FORMAT] = { "format", W_ALSA },
    [IK_ACCESS] = { "access", W_ALSA },
};

/* What the checks need to know about an io section beyond struct cfg_io. */
struct io_draft {
    int lines[IK_COUNT]; /* where each key was given; 0: not given */
    unsigned n_names;    /* entries in io->names as given */
    unsigned n_frequency;
    struct aoip_sdp_stream sdp; /* when lines[IK_SDP] */
    enum cfg_encoding sdp_encoding;
};

/* The keys of a [peer.X] section. */
enum peer_key {
    PK_ADDRESS,
    PK_LATENCY_US,
    PK_LATENCY,
    PK_ENCODING,
    PK_PACKET_US,
    PK_OPUS_BITRATE, /* .. PK_OPUS_EXPECTED_LOSS: in enum opus_key's order */
    PK_OPUS_FRAME_MS,
    PK_OPUS_FEC,
    PK_OPUS_EXPECTED_LOSS,
    PK_COUNT
};

static const char *const peer_keys[PK_COUNT] = {
    [PK_ADDRESS] = "address",
    [PK_LATENCY_US] = "latency_us",
    [PK_LATENCY] = "latency",
    [PK_ENCODING] = "encoding",
    [PK_PACKET_US] = "packet_us",
    [PK_OPUS_BITRATE] = "opus_bitrate",
    [PK_OPUS_FRAME_MS] = "opus_frame_ms",
    [PK_OPUS_FEC] = "opus_fec",
    [PK_OPUS_EXPECTED_LOSS] = "opus_expected_loss",
};

_Static_assert(NK_OPUS_EXPECTED_LOSS - NK_OPUS_BITRATE == OPUS_KEY_COUNT - 1,
               "[node]'s Opus keys are one run");
_Static_assert(IK_OPUS_EXPECTED_LOSS - IK_OPUS_BITRATE == OPUS_KEY_COUNT - 1,
               "an io section's Opus keys are one run");
_Static_assert(PK_OPUS_EXPECTED_LOSS - PK_OPUS_BITRATE == OPUS_KEY_COUNT - 1,
               "[peer.X]'s Opus keys are one run");

/*
 * What a [peer.X] section gave: the keys it did not give are the node's,
 * filled in after the last section (resolve_peers), since [node] may come
 * after it.
 */
struct peer_draft {
    int lines[PK_COUNT]; /* where each key was given; 0: not given */
};

struct parser {
    struct cfg *cfg;
    const char *name; /* the file, for messages */
    char dir[CFG_PATH_MAX];
    char *err;
    size_t errlen;
    bool failed;

    const char *text; /* NUL-terminated */
    size_t pos;
    int line; /* of the line last handed to inih */

    enum section_kind sec;
    int node_line;  /* of [node]; 0: none yet */
    int trust_line; /* of [trust]; 0: none */
    int node_lines[NK_COUNT];

    struct io_draft *drafts;        /* parallel to cfg->ios */
    struct peer_draft *peer_drafts; /* parallel to cfg->peers */
    size_t ios_cap;
    size_t peers_cap;
    unsigned next_input_channel; /* for the default names "chN" */
    unsigned next_output_channel;
};

static const unsigned packet_times[] = { 125, 250, 333, 1000, 4000 };

PRINTF_LIKE(3, 4)
static int fail(struct parser *p, int line, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = true;
    if (!p->err || p->errlen == 0)
        return -1;
    int n = line > 0 ? snprintf(p->err, p->errlen, "%s:%d: ", p->name, line)
                     : snprintf(p->err, p->errlen, "%s: ", p->name);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const char *kind_word(enum cfg_io_kind kind)
{
    switch (kind) {
    case CFG_INPUT:
        return "input";
    case CFG_OUTPUT:
        return "output";
    default:
        return "bus";
    }
}

static const char *type_word(enum cfg_io_type type)
{
    switch (type) {
    case CFG_TYPE_TONE:
        return "tone";
    case CFG_TYPE_WAV:
        return "wav";
    case CFG_TYPE_NULL:
        return "null";
    case CFG_TYPE_RTP:
        return "rtp";
    case CFG_TYPE_JACK:
        return "jack";
    case CFG_TYPE_ALSA:
        return "alsa";
    default:
        return "none";
    }
}

static unsigned io_where(const struct cfg_io *io)
{
    static const unsigned in[] = {
        [CFG_TYPE_NONE] = W_INPUT,  [CFG_TYPE_TONE] = W_IN_TONE, [CFG_TYPE_WAV] = W_IN_WAV,
        [CFG_TYPE_NULL] = 0,        [CFG_TYPE_RTP] = W_IN_RTP,   [CFG_TYPE_JACK] = W_IN_JACK,
        [CFG_TYPE_ALSA] = W_IN_ALSA
    };
    static const unsigned out[] = {
        [CFG_TYPE_NONE] = W_OUTPUT,   [CFG_TYPE_TONE] = 0,        [CFG_TYPE_WAV] = W_OUT_WAV,
        [CFG_TYPE_NULL] = W_OUT_NULL, [CFG_TYPE_RTP] = W_OUT_RTP, [CFG_TYPE_JACK] = W_OUT_JACK,
        [CFG_TYPE_ALSA] = W_OUT_ALSA
    };
    switch (io->kind) {
    case CFG_INPUT:
        return in[io->type];
    case CFG_OUTPUT:
        return out[io->type];
    default:
        return W_BUS;
    }
}

/* Where a key of an io section belongs, in words: "rtp outputs", "inputs and outputs". */
static void where_words(unsigned where, char *buf, size_t cap)
{
    /* A whole kind before its types, so that all of them read as the kind. */
    static const struct {
        unsigned bits;
        const char *word;
    } groups[] = {
        { W_INPUT, "inputs" },
        { W_IN_TONE, "tone inputs" },
        { W_IN_WAV, "wav inputs" },
        { W_IN_RTP, "rtp inputs" },
        { W_OUTPUT, "outputs" },
        { W_OUT_WAV, "wav outputs" },
        { W_OUT_NULL, "null outputs" },
        { W_OUT_RTP, "rtp outputs" },
        { W_BUS, "buses" },
        { W_IN_JACK, "jack inputs" },
        { W_OUT_JACK, "jack outputs" },
        { W_IN_ALSA, "alsa inputs" },
        { W_OUT_ALSA, "alsa outputs" },
    };
    const char *words[sizeof(groups) / sizeof(groups[0])];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if ((where & groups[i].bits) == groups[i].bits) {
            words[n++] = groups[i].word;
            where &= ~groups[i].bits;
        }
    }
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%s", i == 0 ? "" : i + 1 == n ? " and " : ", ", words[i]);
    }
}

static struct cfg_io *current_io(struct parser *p)
{
    return &p->cfg->ios[p->cfg->n_ios - 1];
}

static struct io_draft *current_draft(struct parser *p)
{
    return &p->drafts[p->cfg->n_ios - 1];
}

/* ---- values ---- */

static int parse_integer(struct parser *p, const char *key, const char *v, long lo, long hi,
                         long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end != '\0')
        return fail(p, p->line, "%s must be a whole number, not '%.*s'", key, QUOTE_MAX, v);
    if (errno == ERANGE || x < lo || x > hi)
        return fail(p, p->line, "%s must be %ld..%ld, not '%.*s'", key, lo, hi, QUOTE_MAX, v);
    *out = x;
    return 0;
}

/*
 * A decimal number: strtod's hexadecimal floats, infinities and NaN are
 * refused as not numbers; an overflow is out of range (strtod gives HUGE_VAL).
 */
static int parse_real(struct parser *p, const char *key, const char *v, double lo, double hi,
                      double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || strpbrk(v, "xXnN"))
        return fail(p, p->line, "%s must be a number, not '%.*s'", key, QUOTE_MAX, v);
    if ((errno == ERANGE && isinf(x)) || !(x >= lo && x <= hi))
        return fail(p, p->line, "%s must be %g..%g, not '%.*s'", key, lo, hi, QUOTE_MAX, v);
    *out = x;
    return 0;
}

static int parse_port(struct parser *p, const char *key, const char *v, uint16_t *out)
{
    long x;
    if (parse_integer(p, key, v, 0, 65535, &x) < 0)
        return -1;
    *out = (uint16_t)x;
    return 0;
}

static int parse_latency_us(struct parser *p, const char *key, const char *v, uint32_t *out)
{
    long x;
    if (parse_integer(p, key, v, 0, 2000000, &x) < 0)
        return -1;
    *out = (uint32_t)x;
    return 0;
}

/* One word of a list (any case): *out is its value, given in vals. The
 * message names the words: "KEY must be a, b or c, not 'v'". */
static int parse_choice(struct parser *p, const char *key, const char *v, const char *const *words,
                        const int *vals, size_t n, int *out)
{
    char list[160] = "";
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(v, words[i]) == 0) {
            *out = vals[i];
            return 0;
        }
        size_t len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s%s",
                 i == 0       ? ""
                 : i + 1 == n ? " or "
                              : ", ",
                 words[i]);
    }
    return fail(p, p->line, "%s must be %s, not '%.*s'", key, list, QUOTE_MAX, v);
}

static int parse_latency(struct parser *p, const char *v, enum cfg_latency *out)
{
    static const char *const words[] = { "auto", "fixed" };
    static const int vals[] = { CFG_LATENCY_AUTO, CFG_LATENCY_FIXED };
    int x;
    if (parse_choice(p, "latency", v, words, vals, 2, &x) < 0)
        return -1;
    *out = (enum cfg_latency)x;
    return 0;
}

static int parse_packet_us(struct parser *p, const char *v, uint32_t *out)
{
    long x;
    if (parse_integer(p, "packet_us", v, 0, 1000000, &x) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(packet_times) / sizeof(packet_times[0]); i++) {
        if ((unsigned long)x == packet_times[i]) {
            *out = packet_times[i];
            return 0;
        }
    }
    return fail(p, p->line, "packet_us must be one of 125, 250, 333, 1000, 4000, not '%s'", v);
}

/* The encodings by name, as the key and an SDP rtpmap write them (in any case: RFC 4855 3). */
static const char *const encoding_words[] = { "L24", "L16", "opus" };
static const int encoding_vals[] = { CFG_ENC_L24, CFG_ENC_L16, CFG_ENC_OPUS };
#define N_ENCODINGS (sizeof(encoding_words) / sizeof(encoding_words[0]))

const char *cfg_encoding_name(enum cfg_encoding e)
{
    for (size_t i = 0; i < N_ENCODINGS; i++)
        if (encoding_vals[i] == (int)e)
            return encoding_words[i];
    return "?";
}

int cfg_encoding_parse(const char *s, enum cfg_encoding *out)
{
    for (size_t i = 0; s && i < N_ENCODINGS; i++) {
        if (strcasecmp(s, encoding_words[i]) == 0) {
            *out = (enum cfg_encoding)encoding_vals[i];
            return 0;
        }
    }
    return -1;
}

const struct cfg_peer *cfg_peer_named(const struct cfg *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_peers; i++)
        if (strcmp(cfg->peers[i].name, name) == 0)
            return &cfg->peers[i];
    return NULL;
}

static int parse_encoding(struct parser *p, const char *v, enum cfg_encoding *out)
{
    int x;
    if (parse_choice(p, "encoding", v, encoding_words, encoding_vals, N_ENCODINGS, &x) < 0)
        return -1;
    *out = (enum cfg_encoding)x;
    return 0;
}

/* Dynamic payload types, and the two static ones that are L16 (RFC 3551). */
static bool payload_type_valid(long pt)
{
    return (pt >= 96 && pt <= 127) || pt == 10 || pt == 11;
}

static int parse_payload_type(struct parser *p, const char *v, uint8_t *out)
{
    long x;
    if (parse_integer(p, "payload_type", v, 0, 127, &x) < 0)
        return -1;
    if (!payload_type_valid(x))
        return fail(p, p->line, "payload_type must be 96..127, or 10 or 11 (L16), not '%s'", v);
    *out = (uint8_t)x;
    return 0;
}

static int parse_bool(struct parser *p, const char *key, const char *v, bool *out)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return fail(p, p->line, "%s must be yes or no, not '%.*s'", key, QUOTE_MAX, v);
}

/* The settings of a section that gives no Opus key: aoip/opus.h's defaults. */
static const struct cfg_opus opus_defaults = {
    .bitrate = AOIP_OPUS_DEFAULT_MONO, /* a mono stream's rate is the rate of one channel */
    .frame_us = 0,                     /* auto: aoip_opus_default_frame_us for the flow */
    .fec = true,
    .expected_loss = AOIP_OPUS_DEFAULT_EXPECTED_LOSS,
};

/* One Opus key of any section into o. */
static int parse_opus(struct parser *p, enum opus_key k, const char *v, struct cfg_opus *o)
{
    const char *key = opus_keys[k];
    long x;
    switch (k) {
    case OPUS_BITRATE:
        /* kb/s per channel, within aoip/opus.h's limits of a stream and a channel. */
        if (parse_integer(p, key, v, AOIP_OPUS_BITRATE_MIN_STREAM / 1000,
                          AOIP_OPUS_BITRATE_MAX_CHANNEL / 1000, &x) < 0)
            return -1;
        o->bitrate = (uint32_t)x * 1000;
        return 0;
    case OPUS_FRAME_MS: {
        /* The frame lengths libopus makes that aoip uses (aoip/opus.h). */
        static const char *const words[] = { "2.5", "5", "10", "20", "auto" };
        static const int vals[] = { 2500, 5000, 10000, 20000, 0 };
        int c;
        if (parse_choice(p, key, v, words, vals, 5, &c) < 0)
            return -1;
        o->frame_us = (uint32_t)c;
        return 0;
    }
    case OPUS_FEC:
        return parse_bool(p, key, v, &o->fec);
    case OPUS_EXPECTED_LOSS:
        if (parse_integer(p, key, v, 0, 100, &x) < 0)
            return -1;
        o->expected_loss = (unsigned)x;
        return 0;
    default:
        return -1;
    }
}

/* The fields of o whose keys a section did not give (given: its lines of
 * the four Opus keys, 0 for one not given) are from's. */
static void opus_inherit(struct cfg_opus *o, const struct cfg_opus *from, const int *given)
{
    if (!given[OPUS_BITRATE])
        o->bitrate = from->bitrate;
    if (!given[OPUS_FRAME_MS])
        o->frame_us = from->frame_us;
    if (!given[OPUS_FEC])
        o->fec = from->fec;
    if (!given[OPUS_EXPECTED_LOSS])
        o->expected_loss = from->expected_loss;
}

static int parse_name(struct parser *p, const char *key, const char *v, char out[CFG_NAME_MAX])
{
    size_t len = strlen(v);
    if (!aoip_name_valid(v, len))
        return fail(p, p->line,
                    "%s must be 1..63 letters, digits, '_', '.', '-' and not all digits, "
                    "not '%.*s'",
                    key, QUOTE_MAX, v);
    memcpy(out, v, len + 1);
    return 0;
}

/* A relative path is taken from the directory of the configuration file. */
static int parse_path(struct parser *p, const char *key, const char *v, char out[CFG_PATH_MAX])
{
    size_t len = strlen(v);
    size_t dlen = v[0] == '/' ? 0 : strlen(p->dir);
    size_t total = dlen ? dlen + 1 + len : len;
    if (total >= CFG_PATH_MAX)
        return fail(p, p->line, "%s is longer than %d bytes", key, CFG_PATH_MAX - 1);
    if (dlen) {
        memcpy(out, p->dir, dlen);
        out[dlen] = '/';
        memcpy(out + dlen + 1, v, len + 1);
    } else {
        memcpy(out, v, len + 1);
    }
    return 0;
}

/* Host names as DNS has them: letters, digits, '-', '.'. */
static bool host_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > 253 || s[0] == '-' || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

/*
 * "HOST:PORT" or "[HOST]:PORT" into host (without the brackets) and port
 * (1..65535). Says whether the host was bracketed. Returns -1 without a
 * message; the caller knows what the value was for.
 */
static int split_host_port(const char *v, char *host, size_t host_cap, uint16_t *port,
                           bool *bracketed)
{
    const char *h, *colon;
    size_t hlen;
    if (v[0] == '[') {
        const char *rb = strchr(v, ']');
        if (!rb || rb[1] != ':')
            return -1;
        h = v + 1;
        hlen = (size_t)(rb - h);
        colon = rb + 1;
        *bracketed = true;
    } else {
        colon = strrchr(v, ':');
        if (!colon)
            return -1;
        h = v;
        hlen = (size_t)(colon - v);
        if (memchr(h, ':', hlen))
            return -1; /* an IPv6 address must be bracketed to tell it from the port */
        *bracketed = false;
    }
    if (hlen == 0 || hlen >= host_cap)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';

    const char *ps = colon + 1;
    char *end;
    if (!isdigit((unsigned char)ps[0]))
        return -1;
    errno = 0;
    long x = strtol(ps, &end, 10);
    if (*end != '\0' || errno == ERANGE || x < 1 || x > 65535)
        return -1;
    *port = (uint16_t)x;
    return 0;
}

static int numeric_sockaddr(const char *host, bool bracketed, uint16_t port,
                            struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (bracketed) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return -1;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        *len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return -1;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        *len = sizeof(*s4);
    }
    return 0;
}

static bool sockaddr_unspecified(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    return IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
}

static int parse_rtp_address(struct parser *p, const char *key, const char *v, struct cfg_io *io)
{
    char host[INET6_ADDRSTRLEN];
    uint16_t port;
    bool bracketed;
    if (split_host_port(v, host, sizeof(host), &port, &bracketed) < 0 ||
        numeric_sockaddr(host, bracketed, port, &io->addr, &io->addr_len) < 0)
        return fail(p, p->line,
                    "%s must be IPV4:PORT or [IPV6]:PORT, numeric, port 1..65535, not '%.*s'", key,
                    QUOTE_MAX, v);
    if (io->kind == CFG_OUTPUT && sockaddr_unspecified(&io->addr))
        return fail(p, p->line, "%s may not be the unspecified address, as in '%s'", key, v);
    return 0;
}

static int parse_peer_address(struct parser *p, const char *v, struct cfg_peer *peer)
{
    bool bracketed;
    struct in6_addr a6;
    if (split_host_port(v, peer->host, sizeof(peer->host), &peer->port, &bracketed) < 0 ||
        (bracketed && inet_pton(AF_INET6, peer->host, &a6) != 1) ||
        (!bracketed && !host_name_valid(peer->host, strlen(peer->host)))) {
        peer->host[0] = '\0';
        return fail(p, p->line,
                    "address must be HOST:PORT or [IPV6]:PORT, port 1..65535, not '%.*s'",
                    QUOTE_MAX, v);
    }
    return 0;
}

/* Items in a comma-separated list: one more than its commas. */
static unsigned list_count(const char *v)
{
    unsigned n = 1;
    for (const char *s = v; *s; s++)
        n += *s == ',';
    return n;
}

/*
 * The item of a comma-separated list that starts at *s, without the blanks
 * around it: sets *item and *len and moves *s past the item's comma.
 */
static void list_next(const char **s, const char **item, size_t *len)
{
    const char *end = strchr(*s, ',');
    if (!end)
        end = *s + strlen(*s);
    const char *a = *s, *b = end;
    while (a < b && isspace((unsigned char)*a))
        a++;
    while (b > a && isspace((unsigned char)b[-1]))
        b--;
    *item = a;
    *len = (size_t)(b - a);
    *s = end + 1;
}

/* Comma-separated channel names, blanks around the commas allowed. */
static int parse_names(struct parser *p, struct cfg_io *io, struct io_draft *d, const char *v)
{
    unsigned n = list_count(v);
    if (n > CFG_IO_MAX_CHANNELS)
        return fail(p, p->line, "names lists more than %d names", CFG_IO_MAX_CHANNELS);
    io->names = calloc(n, sizeof(*io->names));
    if (!io->names)
        return fail(p, p->line, "out of memory");

    const char *s = v;
    for (unsigned i = 0; i < n; i++) {
        const char *a;
        size_t len;
        list_next(&s, &a, &len);
        if (!aoip_name_valid(a, len))
            return fail(p, p->line,
                        "channel name '%.*s' must be 1..63 letters, digits, '_', '.', '-' "
                        "and not all digits",
                        (int)(len < QUOTE_MAX ? len : QUOTE_MAX), a);
        memcpy(io->names[i], a, len);
        io->names[i][len] = '\0';
        for (unsigned j = 0; j < i; j++)
            if (strcmp(io->names[j], io->names[i]) == 0)
                return fail(p, p->line, "names lists '%s' twice", io->names[i]);
        d->n_names = i + 1;
    }
    return 0;
}

/* Comma-separated frequencies in Hz; checked against the sample rate at the end. */
static int parse_frequency(struct parser *p, struct cfg_io *io, struct io_draft *d, const char *v)
{
    unsigned n = list_count(v);
    if (n > CFG_IO_MAX_CHANNELS)
        return fail(p, p->line, "frequency lists more than %d values", CFG_IO_MAX_CHANNELS);
    io->frequency = calloc(n, sizeof(*io->frequency));
    if (!io->frequency)
        return fail(p, p->line, "out of memory");

    const char *s = v;
    for (unsigned i = 0; i < n; i++) {
        const char *a;
        size_t len;
        char num[64];
        list_next(&s, &a, &len);
        if (len >= sizeof(num))
            len = sizeof(num) - 1; /* too long to be a frequency: parse_real refuses it */
        memcpy(num, a, len);
        num[len] = '\0';
        if (parse_real(p, "frequency", num, 1, 96000, &io->frequency[i]) < 0)
            return -1;
        d->n_frequency = i + 1;
    }
    return 0;
}

/*
 * Reads the SDP file now (bounded, a regular file only, never blocking on
 * a FIFO) so that its problems are reported at the line that names it.
 * The sample rate is compared with the node's after the last section.
 */
static int read_sdp(struct parser *p, struct cfg_io *io, struct io_draft *d, const char *v)
{
    if (parse_path(p, "sdp", v, io->sdp) < 0)
        return -1;
    const char *path = io->sdp;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return fail(p, p->line, "sdp %s: %s", path, aoip_strerror(-errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(p, p->line, "sdp %s: not a regular file", path);
    }
    char *buf = malloc(AOIP_SDP_MAX_TEXT + 1);
    if (!buf) {
        close(fd);
        return fail(p, p->line, "out of memory");
    }
    size_t len = 0;
    int rerr = 0;
    while (len < AOIP_SDP_MAX_TEXT + 1) {
        ssize_t n = read(fd, buf + len, AOIP_SDP_MAX_TEXT + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rerr = -errno;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    int r = rerr ? rerr : len > AOIP_SDP_MAX_TEXT ? 1 : aoip_sdp_parse(&d->sdp, buf, len);
    free(buf);
    if (r == 1)
        return fail(p, p->line, "sdp %s: larger than %d bytes", path, AOIP_SDP_MAX_TEXT);
    if (r < 0)
        return fail(p, p->line, "sdp %s: %s", path, aoip_strerror(r));

    const struct aoip_sdp_stream *s = &d->sdp;
    if (cfg_encoding_parse(s->encoding, &d->sdp_encoding) < 0)
        return fail(p, p->line, "sdp %s: encoding '%s' is not L24, L16 or opus", path, s->encoding);
    if (s->channels < 1 || s->channels > CFG_IO_MAX_CHANNELS)
        return fail(p, p->line, "sdp %s: %u channels, not 1..%d", path, s->channels,
                    CFG_IO_MAX_CHANNELS);
    if (!payload_type_valid(s->payload_type))
        return fail(p, p->line, "sdp %s: payload type %u is not 96..127, or 10 or 11 (L16)", path,
                    s->payload_type);
    bool v6 = strchr(s->address, ':') != NULL;
    if (s->port == 0 || numeric_sockaddr(s->address, v6, s->port, &io->addr, &io->addr_len) < 0)
        return fail(p, p->line, "sdp %s: '%s' port %u is not a numeric address and port", path,
                    s->address, s->port);
    return 0;
}

/* ---- keys ---- */

/* Looks key up in names[0..n); -1 when it is none of them. */
static int key_index(const char *const *names, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], key) == 0)
            return (int)i;
    return -1;
}

static int node_key(struct parser *p, const char *key, const char *v)
{
    struct cfg *cfg = p->cfg;
    int k = key_index(node_keys, NK_COUNT, key);
    if (k < 0)
        return fail(p, p->line, "unknown key '%s' in [node]", key);
    if (p->node_lines[k])
        return fail(p, p->line, "duplicate key '%s' in [node] (first at line %d)", key,
                    p->node_lines[k]);
    if (!*v)
        return fail(p, p->line, "empty value for '%s' in [node]", key);
    p->node_lines[k] = p->line;

    long x;
    switch ((enum node_key)k) {
    case NK_NAME:
        return parse_name(p, key, v, cfg->name);
    case NK_STATE_DIR:
        return parse_path(p, key, v, cfg->state_dir);
    case NK_CONTROL:
        if (parse_path(p, key, v, cfg->control) < 0)
            return -1;
        /* A Unix socket's path must fit struct sockaddr_un (108 bytes with its NUL). */
        if (strlen(cfg->control) >= CFG_SOCKET_PATH_MAX)
            return fail(p, p->line,
                        "control path %s is longer than %d bytes, the most a socket takes",
                        cfg->control, CFG_SOCKET_PATH_MAX - 1);
        return 0;
    case NK_PORT:
        return parse_port(p, key, v, &cfg->port);
    case NK_RTP_PORT:
        return parse_port(p, key, v, &cfg->rtp_port);
    case NK_SAMPLE_RATE:
        if (parse_integer(p, key, v, 8000, 192000, &x) < 0)
            return -1;
        cfg->sample_rate = (uint32_t)x;
        return 0;
    case NK_PERIOD_US:
        if (parse_integer(p, key, v, 125, 20000, &x) < 0)
            return -1;
        cfg->period_us = (uint32_t)x;
        return 0;
    case NK_LATENCY_US:
        return parse_latency_us(p, key, v, &cfg->latency_us);
    case NK_LATENCY:
        return parse_latency(p, v, &cfg->latency);
    case NK_ENCODING:
        return parse_encoding(p, v, &cfg->encoding);
    case NK_PACKET_US:
        return parse_packet_us(p, v, &cfg->packet_us);
    case NK_OPUS_BITRATE:
    case NK_OPUS_FRAME_MS:
    case NK_OPUS_FEC:
    case NK_OPUS_EXPECTED_LOSS:
        return parse_opus(p, (enum opus_key)(k - NK_OPUS_BITRATE), v, &cfg->opus);
    case NK_CLOCK_SKEW_PPM:
        return parse_real(p, key, v, -10000, 10000, &cfg->clock_skew_ppm);
    case NK_DISCOVERY:
        return parse_bool(p, key, v, &cfg->discovery);
    case NK_MULTICAST: {
        static const char *const words[] = { "auto", "never", "always" };
        static const int vals[] = { CFG_MULTICAST_AUTO, CFG_MULTICAST_NEVER, CFG_MULTICAST_ALWAYS };
        int c;
        if (parse_choice(p, key, v, words, vals, 3, &c) < 0)
            return -1;
        cfg->multicast = (enum cfg_multicast)c;
        return 0;
    }
    case NK_MULTICAST_TTL:
        /* 1 keeps media on the local segment; up to 255 for routed networks (RFC 1112). */
        if (parse_integer(p, key, v, 1, 255, &x) < 0)
            return -1;
        cfg->multicast_ttl = (uint8_t)x;
        return 0;
    case NK_SECURITY: {
        static const char *const words[] = { "sealed", "open" };
        static const int vals[] = { CFG_SECURITY_SEALED, CFG_SECURITY_OPEN };
        int c;
        if (parse_choice(p, key, v, words, vals, 2, &c) < 0)
            return -1;
        cfg->security = (enum cfg_security)c;
        return 0;
    }
    case NK_SECRET_FILE:
        return parse_path(p, key, v, cfg->secret_file);
    case NK_REKEY_S:
        /* Two seconds at least: a new key is announced a second before it is used. */
        if (parse_integer(p, key, v, 2, 86400 * 7, &x) < 0)
            return -1;
        cfg->rekey_s = (uint32_t)x;
        return 0;
    case NK_CONTROL_GROUP:
        if (strlen(v) >= CFG_NAME_MAX ||
            strspn(v, "abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(v))
            return fail(p, p->line, "control_group '%.*s' is not a group name", QUOTE_MAX, v);
        strcpy(cfg->control_group, v);
        return 0;
    case NK_CLOCK:
        if (strlen(v) >= CFG_NAME_MAX)
            return fail(p, p->line, "clock '%.*s' is no input or output name", QUOTE_MAX, v);
        strcpy(cfg->clock, v);
        return 0;
    default:
        return -1;
    }
}

/* [trust]: LABEL = ID, a node id of 16 hex digits, each id once. */
static int trust_key(struct parser *p, const char *key, const char *v)
{
    struct cfg *cfg = p->cfg;
    if (!aoip_name_valid(key, strlen(key)))
        return fail(p, p->line, "'%.*s' in [trust] is not a valid label", QUOTE_MAX, key);
    if (strlen(v) != CFG_ID_LEN || strspn(v, "0123456789abcdef") != CFG_ID_LEN)
        return fail(p, p->line,
                    "[trust] %s: '%.*s' is not a node id (16 lowercase hex digits, as "
                    "aoipctl nodes shows)",
                    key, QUOTE_MAX, v);
    for (size_t i = 0; i < cfg->n_trust; i++)
        if (strcmp(cfg->trust[i].id, v) == 0 || strcmp(cfg->trust[i].label, key) == 0)
            return fail(p, p->line, "[trust] lists %s twice",
                        strcmp(cfg->trust[i].id, v) == 0 ? v : key);
    if (cfg->n_trust == CFG_MAX_TRUST)
        return fail(p, p->line, "[trust] lists more than %d nodes", CFG_MAX_TRUST);
    struct cfg_trust *t = realloc(cfg->trust, (cfg->n_trust + 1) * sizeof(*t));
    if (!t)
        return fail(p, p->line, "out of memory");
    cfg->trust = t;
    snprintf(t[cfg->n_trust].label, sizeof(t[0].label), "%s", key);
    snprintf(t[cfg->n_trust].id, sizeof(t[0].id), "%s", v);
    cfg->n_trust++;
    return 0;
}

static int peer_key(struct parser *p, const char *key, const char *v)
{
    struct cfg_peer *peer = &p->cfg->peers[p->cfg->n_peers - 1];
    struct peer_draft *d = &p->peer_drafts[p->cfg->n_peers - 1];
    int k = key_index(peer_keys, PK_COUNT, key);
    if (k < 0)
        return fail(p, p->line, "unknown key '%s' in [peer.%s]", key, peer->name);
    if (d->lines[k])
        return fail(p, p->line, "duplicate key '%s' in [peer.%s] (first at line %d)", key,
                    peer->name, d->lines[k]);
    if (!*v)
        return fail(p, p->line, "empty value for '%s' in [peer.%s]", key, peer->name);
    d->lines[k] = p->line;

    switch ((enum peer_key)k) {
    case PK_ADDRESS:
        return parse_peer_address(p, v, peer);
    case PK_LATENCY_US:
        peer->latency_us_line = p->line;
        peer->has_latency_us = true;
        return parse_latency_us(p, key, v, &peer->latency_us);
    case PK_LATENCY:
        peer->latency_line = p->line;
        peer->has_latency = true;
        return parse_latency(p, v, &peer->latency);
    case PK_ENCODING:
        return parse_encoding(p, v, &peer->encoding);
    case PK_PACKET_US:
        return parse_packet_us(p, v, &peer->packet_us);
    case PK_OPUS_BITRATE:
    case PK_OPUS_FRAME_MS:
    case PK_OPUS_FEC:
    case PK_OPUS_EXPECTED_LOSS:
        return parse_opus(p, (enum opus_key)(k - PK_OPUS_BITRATE), v, &peer->opus);
    default:
        return -1;
    }
}

/* The types of each kind, in words, for messages. */
#define INPUT_TYPES  "tone, wav, rtp, jack or alsa"
#define OUTPUT_TYPES "wav, null, rtp, jack or alsa"

static int parse_type(struct parser *p, struct cfg_io *io, const char *v)
{
    static const struct {
        const char *word;
        enum cfg_io_type type;
        unsigned where;
    } types[] = {
        { "tone", CFG_TYPE_TONE, W_IN_TONE },
        { "wav", CFG_TYPE_WAV, W_IN_WAV | W_OUT_WAV },
        { "null", CFG_TYPE_NULL, W_OUT_NULL },
        { "rtp", CFG_TYPE_RTP, W_IN_RTP | W_OUT_RTP },
        { "jack", CFG_TYPE_JACK, W_IN_JACK | W_OUT_JACK },
        { "alsa", CFG_TYPE_ALSA, W_ALSA },
    };
    unsigned kind = io->kind == CFG_INPUT ? W_INPUT : W_OUTPUT;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcasecmp(v, types[i].word) == 0 && (types[i].where & kind)) {
            io->type = types[i].type;
            return 0;
        }
    }
    return fail(p, p->line, "type of [%s.%s] must be %s, not '%.*s'", kind_word(io->kind), io->name,
                io->kind == CFG_INPUT ? INPUT_TYPES : OUTPUT_TYPES, QUOTE_MAX, v);
}

static int io_key(struct parser *p, const char *key, const char *v)
{
    struct cfg_io *io = current_io(p);
    struct io_draft *d = current_draft(p);
    const char *kw = kind_word(io->kind);
    unsigned kind_mask = io->kind == CFG_INPUT    ? W_INPUT
                         : io->kind == CFG_OUTPUT ? W_OUTPUT
                                                  : W_BUS;

    int k = -1;
    for (int i = 0; i < IK_COUNT; i++)
        if (strcmp(io_keys[i].name, key) == 0)
            k = i;
    if (k < 0)
        return fail(p, p->line, "unknown key '%s' in [%s.%s]", key, kw, io->name);
    if (!(io_keys[k].where & kind_mask)) {
        char where[160];
        where_words(io_keys[k].where, where, sizeof(where));
        return fail(p, p->line, "key '%s' is only for %s, not [%s.%s]", key, where, kw, io->name);
    }
    if (d->lines[IK_TYPE] && !(io_keys[k].where & io_where(io)))
        return fail(p, p->line, "key '%s' does not apply to type %s in [%s.%s]", key,
                    type_word(io->type), kw, io->name);
    if (d->lines[k])
        return fail(p, p->line, "duplicate key '%s' in [%s.%s] (first at line %d)", key, kw,
                    io->name, d->lines[k]);
    if (!*v)
        return fail(p, p->line, "empty value for '%s' in [%s.%s]", key, kw, io->name);
    d->lines[k] = p->line;

    long x;
    switch ((enum io_key)k) {
    case IK_TYPE:
        return parse_type(p, io, v);
    case IK_CHANNELS:
        if (parse_integer(p, key, v, 1, CFG_IO_MAX_CHANNELS, &x) < 0)
            return -1;
        io->channels = (unsigned)x;
        return 0;
    case IK_NAMES:
        return parse_names(p, io, d, v);
    case IK_FREQUENCY:
        return parse_frequency(p, io, d, v);
    case IK_LEVEL_DBFS:
        return parse_real(p, key, v, -120, 0, &io->level_dbfs);
    case IK_WAVE: {
        static const char *const words[] = { "sine", "pulse" };
        static const int vals[] = { CFG_WAVE_SINE, CFG_WAVE_PULSE };
        int c;
        if (parse_choice(p, key, v, words, vals, 2, &c) < 0)
            return -1;
        io->wave = (enum cfg_wave)c;
        return 0;
    }
    case IK_PATH:
        return parse_path(p, key, v, io->path);
    case IK_LOOP:
        return parse_bool(p, key, v, &io->loop);
    case IK_LISTEN:
    case IK_DESTINATION:
        return parse_rtp_address(p, key, v, io);
    case IK_ENCODING:
        return parse_encoding(p, v, &io->encoding);
    case IK_PAYLOAD_TYPE:
        return parse_payload_type(p, v, &io->payload_type);
    case IK_PACKET_US:
        return parse_packet_us(p, v, &io->packet_us);
    case IK_OPUS_BITRATE:
    case IK_OPUS_FRAME_MS:
    case IK_OPUS_FEC:
    case IK_OPUS_EXPECTED_LOSS:
        return parse_opus(p, (enum opus_key)(k - IK_OPUS_BITRATE), v, &io->opus);
    case IK_SDP:
        return read_sdp(p, io, d, v);
    case IK_CLIENT_NAME:
        if (strlen(v) > CFG_JACK_CLIENT_MAX || strchr(v, ':'))
            return fail(p, p->line, "client_name '%.*s' must be at most %d characters, no ':'",
                        QUOTE_MAX, v, CFG_JACK_CLIENT_MAX);
        snprintf(io->client_name, sizeof(io->client_name), "%s", v);
        return 0;
    case IK_CONNECT:
        if (strlen(v) >= sizeof(io->connect))
            return fail(p, p->line, "connect is longer than %zu characters",
                        sizeof(io->connect) - 1);
        snprintf(io->connect, sizeof(io->connect), "%s", v);
        return 0;
    case IK_SERVER:
        if (strlen(v) > CFG_JACK_CLIENT_MAX)
            return fail(p, p->line, "server '%.*s' is longer than %d characters", QUOTE_MAX, v,
                        CFG_JACK_CLIENT_MAX);
        snprintf(io->server, sizeof(io->server), "%s", v);
        return 0;
    case IK_DEVICE:
        if (strlen(v) >= sizeof(io->device))
            return fail(p, p->line, "device is longer than %zu characters", sizeof(io->device) - 1);
        snprintf(io->device, sizeof(io->device), "%s", v);
        return 0;
    case IK_PERIOD_US:
        if (parse_integer(p, key, v, 125, 100000, &x) < 0)
            return -1;
        io->period_us = (uint32_t)x;
        return 0;
    case IK_PERIODS:
        if (parse_integer(p, key, v, 2, 32, &x) < 0)
            return -1;
        io->periods = (unsigned)x;
        return 0;
    case IK_FORMAT:
        if (aoip_dev_format_parse(v, &io->format) < 0)
            return fail(p, p->line, "format must be s32, s24_3le, s24, s16 or float, not '%.*s'",
                        QUOTE_MAX, v);
        io->has_format = true;
        return 0;
    case IK_ACCESS: {
        static const char *const words[] = { "auto", "mmap", "rw" };
        static const int vals[] = { CFG_ACCESS_AUTO, CFG_ACCESS_MMAP, CFG_ACCESS_RW };
        int c;
        if (parse_choice(p, key, v, words, vals, 3, &c) < 0)
            return -1;
        io->access = (enum cfg_access)c;
        return 0;
    }
    default:
        return -1;
    }
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct parser *p = user;
    (void)section; /* inih's copy is cut at 49 bytes; the reader keeps the real one */
    if (p->failed)
        return 0;
    int r;
    switch (p->sec) {
    case SEC_NODE:
        r = node_key(p, key, value);
        break;
    case SEC_PEER:
        r = peer_key(p, key, value);
        break;
    case SEC_IO:
        r = io_key(p, key, value);
        break;
    case SEC_TRUST:
        r = trust_key(p, key, value);
        break;
    default:
        r = fail(p, p->line, "key '%s' comes before any [section]", key);
        break;
    }
    return r == 0;
}

/* ---- sections ---- */

static int default_names(struct parser *p, struct cfg_io *io)
{
    io->names = calloc(io->channels, sizeof(*io->names));
    if (!io->names)
        return fail(p, io->line, "out of memory");
    for (unsigned i = 0; i < io->channels; i++) {
        char num[16];
        unsigned n = io->kind == CFG_INPUT    ? p->next_input_channel + i + 1
                     : io->kind == CFG_OUTPUT ? p->next_output_channel + i + 1
                                              : i + 1;
        int nlen = snprintf(num, sizeof(num), "%u", n);
        /* A bus's channels are its name and a number; a long name gives way to the number. */
        const char *prefix = io->kind == CFG_BUS ? io->name : "ch";
        size_t plen = strlen(prefix);
        if (plen + (size_t)nlen > CFG_NAME_MAX - 1)
            plen = CFG_NAME_MAX - 1 - (size_t)nlen;
        memcpy(io->names[i], prefix, plen);
        memcpy(io->names[i] + plen, num, (size_t)nlen + 1);
    }
    return 0;
}

/* An rtp input described by an SDP file: the file supplies what the keys did not. */
static int close_rtp_input_sdp(struct parser *p, struct cfg_io *io, struct io_draft *d)
{
    const struct aoip_sdp_stream *s = &d->sdp;
    if (d->lines[IK_LISTEN])
        return fail(p,
                    d->lines[IK_LISTEN] > d->lines[IK_SDP] ? d->lines[IK_LISTEN] : d->lines[IK_SDP],
                    "'listen' and 'sdp' may not both be given in [input.%s]: the SDP has the "
                    "address",
                    io->name);
    /* An Opus rtpmap says 2 channels whatever the stream carries (RFC 7587
     * section 7), and a decoder makes 1 or 2 of either: channels may differ. */
    bool opus = d->sdp_encoding == CFG_ENC_OPUS;
    if (d->lines[IK_CHANNELS] && io->channels != s->channels && !opus)
        return fail(p, d->lines[IK_CHANNELS], "channels %u does not match sdp %s (%u)",
                    io->channels, io->sdp, s->channels);
    if (d->lines[IK_ENCODING] && io->encoding != d->sdp_encoding)
        return fail(p, d->lines[IK_ENCODING], "encoding %s does not match sdp %s (%s)",
                    cfg_encoding_name(io->encoding), io->sdp, s->encoding);
    if (d->lines[IK_PAYLOAD_TYPE] && io->payload_type != s->payload_type)
        return fail(p, d->lines[IK_PAYLOAD_TYPE], "payload_type %u does not match sdp %s (%u)",
                    io->payload_type, io->sdp, s->payload_type);
    if (!d->lines[IK_CHANNELS])
        io->channels = s->channels;
    io->encoding = d->sdp_encoding;
    io->payload_type = s->payload_type;
    if (!d->lines[IK_CHANNELS])
        d->lines[IK_CHANNELS] = d->lines[IK_SDP];
    return 0;
}

static int close_io(struct parser *p)
{
    struct cfg_io *io = current_io(p);
    struct io_draft *d = current_draft(p);
    const char *kw = kind_word(io->kind);

    if (io->kind != CFG_BUS && !d->lines[IK_TYPE])
        return fail(p, io->line, "[%s.%s] has no 'type' (%s)", kw, io->name,
                    io->kind == CFG_INPUT ? INPUT_TYPES : OUTPUT_TYPES);
    /* Keys given before 'type' said what they may be. */
    int bad = 0, bad_key = 0;
    for (int k = 0; k < IK_COUNT; k++) {
        if (d->lines[k] && !(io_keys[k].where & io_where(io)) && (!bad || d->lines[k] < bad)) {
            bad = d->lines[k];
            bad_key = k;
        }
    }
    if (bad)
        return fail(p, bad, "key '%s' does not apply to type %s in [%s.%s]", io_keys[bad_key].name,
                    type_word(io->type), kw, io->name);

    bool rtp_in = io->kind == CFG_INPUT && io->type == CFG_TYPE_RTP;
    if (rtp_in && d->lines[IK_SDP]) {
        if (close_rtp_input_sdp(p, io, d) < 0)
            return -1;
    } else if (rtp_in) {
        static const enum io_key need[] = { IK_LISTEN, IK_ENCODING, IK_CHANNELS, IK_PAYLOAD_TYPE };
        for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
            if (!d->lines[need[i]])
                return fail(p, io->line, "[input.%s] has no '%s' (or 'sdp')", io->name,
                            io_keys[need[i]].name);
    }
    if (!d->lines[IK_CHANNELS])
        return fail(p, io->line, "[%s.%s] has no 'channels'", kw, io->name);
    if (io->type == CFG_TYPE_WAV && !d->lines[IK_PATH])
        return fail(p, io->line, "[%s.%s] has no 'path'", kw, io->name);
    if (io->kind == CFG_OUTPUT && io->type == CFG_TYPE_RTP && !d->lines[IK_DESTINATION])
        return fail(p, io->line, "[output.%s] has no 'destination'", io->name);

    if (d->lines[IK_NAMES] && d->n_names != io->channels)
        return fail(p, d->lines[IK_NAMES], "names lists %u name%s for %u channels", d->n_names,
                    d->n_names == 1 ? "" : "s", io->channels);
    if (d->lines[IK_FREQUENCY] && d->n_frequency != 1 && d->n_frequency != io->channels)
        return fail(p, d->lines[IK_FREQUENCY],
                    "frequency lists %u values for %u channels (give 1 or %u)", d->n_frequency,
                    io->channels, io->channels);
    if (io->type == CFG_TYPE_TONE && d->n_frequency != io->channels) {
        double f = d->lines[IK_FREQUENCY] ? io->frequency[0] : 1000.0;
        double *all = realloc(io->frequency, io->channels * sizeof(*all));
        if (!all)
            return fail(p, io->line, "out of memory");
        io->frequency = all;
        for (unsigned i = 0; i < io->channels; i++)
            all[i] = f;
        d->n_frequency = io->channels;
    }
    if (!d->lines[IK_NAMES] && default_names(p, io) < 0)
        return -1;

    if (io->kind == CFG_INPUT)
        p->next_input_channel += io->channels;
    else if (io->kind == CFG_OUTPUT)
        p->next_output_channel += io->channels;
    return 0;
}

static int close_section(struct parser *p)
{
    enum section_kind sec = p->sec;
    p->sec = SEC_NONE;
    /* A section with no address only sets how a peer found otherwise is
     * heard and asked for; one with no key at all lacks its address. */
    if (sec == SEC_PEER) {
        const struct cfg_peer *peer = &p->cfg->peers[p->cfg->n_peers - 1];
        const struct peer_draft *d = &p->peer_drafts[p->cfg->n_peers - 1];
        bool any = false;
        for (int k = 0; k < PK_COUNT; k++)
            any = any || d->lines[k];
        if (!any)
            return fail(p, peer->line, "[peer.%s] has no 'address'", peer->name);
    }
    if (sec == SEC_IO)
        return close_io(p);
    return 0;
}

static int open_peer(struct parser *p, const char *name)
{
    struct cfg *cfg = p->cfg;
    for (size_t i = 0; i < cfg->n_peers; i++)
        if (strcmp(cfg->peers[i].name, name) == 0)
            return fail(p, p->line, "duplicate section [peer.%s] (first at line %d)", name,
                        cfg->peers[i].line);
    if (cfg->n_peers == CFG_MAX_PEERS)
        return fail(p, p->line, "too many [peer.X] sections: the limit is %d", CFG_MAX_PEERS);
    if (cfg->n_peers == p->peers_cap) {
        size_t cap = p->peers_cap ? p->peers_cap * 2 : 4;
        struct cfg_peer *peers = realloc(cfg->peers, cap * sizeof(*peers));
        if (!peers)
            return fail(p, p->line, "out of memory");
        cfg->peers = peers;
        struct peer_draft *drafts = realloc(p->peer_drafts, cap * sizeof(*drafts));
        if (!drafts)
            return fail(p, p->line, "out of memory");
        p->peer_drafts = drafts;
        p->peers_cap = cap;
    }
    memset(&p->peer_drafts[cfg->n_peers], 0, sizeof(p->peer_drafts[0]));
    struct cfg_peer *peer = &cfg->peers[cfg->n_peers++];
    memset(peer, 0, sizeof(*peer));
    strcpy(peer->name, name);
    peer->line = p->line;
    p->sec = SEC_PEER;
    return 0;
}

static int open_io(struct parser *p, enum cfg_io_kind kind, const char *name)
{
    struct cfg *cfg = p->cfg;
    for (size_t i = 0; i < cfg->n_ios; i++)
        if (cfg->ios[i].kind == kind && strcmp(cfg->ios[i].name, name) == 0)
            return fail(p, p->line, "duplicate section [%s.%s] (first at line %d)", kind_word(kind),
                        name, cfg->ios[i].line);
    if (cfg->n_ios == CFG_MAX_IOS)
        return fail(p, p->line,
                    "too many [input.X], [output.X] and [bus.X] sections: the limit is %d",
                    CFG_MAX_IOS);
    if (cfg->n_ios == p->ios_cap) {
        size_t cap = p->ios_cap ? p->ios_cap * 2 : 4;
        struct cfg_io *ios = realloc(cfg->ios, cap * sizeof(*ios));
        if (!ios)
            return fail(p, p->line, "out of memory");
        cfg->ios = ios;
        struct io_draft *drafts = realloc(p->drafts, cap * sizeof(*drafts));
        if (!drafts)
            return fail(p, p->line, "out of memory");
        p->drafts = drafts;
        p->ios_cap = cap;
    }
    struct cfg_io *io = &cfg->ios[cfg->n_ios];
    memset(io, 0, sizeof(*io));
    memset(&p->drafts[cfg->n_ios], 0, sizeof(p->drafts[0]));
    cfg->n_ios++;
    io->kind = kind;
    io->type = CFG_TYPE_NONE;
    strcpy(io->name, name);
    io->line = p->line;
    io->level_dbfs = -20;
    io->wave = CFG_WAVE_SINE;
    io->loop = true;
    io->payload_type = 96;
    p->sec = SEC_IO;
    return 0;
}

/* line is a header: '[' at its start, leading blanks gone. */
static int open_section(struct parser *p, const char *line)
{
    if (close_section(p) < 0)
        return -1;
    const char *rb = strchr(line, ']');
    if (!rb)
        return fail(p, p->line, "section header '%.*s' has no closing ']'", QUOTE_MAX, line);
    const char *rest = rb + 1;
    while (isspace((unsigned char)*rest))
        rest++;
    if (*rest && *rest != ';')
        return fail(p, p->line, "unexpected '%.*s' after the section header", QUOTE_MAX, rest);

    const char *title = line + 1;
    size_t tlen = (size_t)(rb - title);
    int show = tlen < QUOTE_MAX ? (int)tlen : QUOTE_MAX;
    if (tlen == 4 && memcmp(title, "node", 4) == 0) {
        if (p->node_line)
            return fail(p, p->line, "duplicate section [node] (first at line %d)", p->node_line);
        p->node_line = p->line;
        p->sec = SEC_NODE;
        return 0;
    }
    if (tlen == 5 && memcmp(title, "trust", 5) == 0) {
        if (p->trust_line)
            return fail(p, p->line, "duplicate section [trust] (first at line %d)", p->trust_line);
        p->trust_line = p->line;
        p->cfg->has_trust = true;
        p->sec = SEC_TRUST;
        return 0;
    }
    static const struct {
        const char *word;
        int kind; /* -1: peer */
    } kinds[] = {
        { "peer", -1 },
        { "input", CFG_INPUT },
        { "output", CFG_OUTPUT },
        { "bus", CFG_BUS },
    };
    const char *dot = memchr(title, '.', tlen);
    size_t wlen = dot ? (size_t)(dot - title) : tlen;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (wlen != strlen(kinds[i].word) || memcmp(title, kinds[i].word, wlen) != 0)
            continue;
        if (!dot)
            return fail(p, p->line, "section [%s] needs a name: [%s.NAME]", kinds[i].word,
                        kinds[i].word);
        const char *name = dot + 1;
        size_t nlen = tlen - wlen - 1;
        if (!aoip_name_valid(name, nlen))
            return fail(p, p->line,
                        "section name in [%.*s] must be 1..63 letters, digits, '_', '.', '-' "
                        "and not all digits",
                        show, title);
        char buf[CFG_NAME_MAX];
        memcpy(buf, name, nlen);
        buf[nlen] = '\0';
        if (kinds[i].kind < 0)
            return open_peer(p, buf);
        return open_io(p, (enum cfg_io_kind)kinds[i].kind, buf);
    }
    return fail(p, p->line,
                "unknown section [%.*s] (there are [node], [trust], [peer.X], [input.X], "
                "[output.X] and [bus.X])",
                show, title);
}

/* ---- the line reader ---- */

/* What inih takes for a key line: '=' or ':' before any inline comment (';' after a blank). */
static bool has_separator(const char *s)
{
    bool was_space = false;
    for (; *s; s++) {
        if (*s == '=' || *s == ':')
            return true;
        if (was_space && *s == ';')
            return false;
        was_space = isspace((unsigned char)*s);
    }
    return false;
}

static char *read_line(char *str, int num, void *stream)
{
    struct parser *p = stream;
    if (p->failed || p->text[p->pos] == '\0')
        return NULL;
    const char *s = p->text + p->pos;
    size_t len = strcspn(s, "\n");
    p->pos += len + (s[len] == '\n');
    p->line++;

    if (p->line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        len -= 3;
    }
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (num < 1 || len >= (size_t)num) {
        fail(p, p->line, "line longer than %d bytes", num - 1);
        return NULL;
    }
    memcpy(str, s, len);
    str[len] = '\0';

    if (str[0] == '[') {
        if (open_section(p, str) < 0)
            return NULL;
    } else if (str[0] && str[0] != ';' && str[0] != '#' && !has_separator(str)) {
        fail(p, p->line, "expected 'key = value', a [section] or a comment, not '%.*s'", QUOTE_MAX,
             str);
        return NULL;
    }
    return str;
}

/* ---- after the last section ---- */

struct channel_ref {
    const char *name;
    size_t io;
    size_t seq; /* position in the file */
};

static int by_name_then_seq(const void *a, const void *b)
{
    const struct channel_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int io_names_line(const struct parser *p, size_t i)
{
    return p->drafts[i].lines[IK_NAMES] ? p->drafts[i].lines[IK_NAMES] : p->cfg->ios[i].line;
}

/*
 * Channel names are unique among sources (inputs and buses) and among
 * destinations (outputs and buses). Sorting finds clashes in n log n; of
 * all clashes the one that comes first in the file is reported.
 */
static int check_unique_names(struct parser *p, enum cfg_io_kind kind, const char *what)
{
    const struct cfg *cfg = p->cfg;
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_ios; i++)
        if (cfg->ios[i].kind == kind || cfg->ios[i].kind == CFG_BUS)
            n += cfg->ios[i].channels;
    if (n < 2)
        return 0;
    struct channel_ref *refs = malloc(n * sizeof(*refs));
    if (!refs)
        return fail(p, 0, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < cfg->n_ios; i++) {
        if (cfg->ios[i].kind != kind && cfg->ios[i].kind != CFG_BUS)
            continue;
        for (unsigned c = 0; c < cfg->ios[i].channels; c++) {
            refs[k] = (struct channel_ref){ cfg->ios[i].names[c], i, k };
            k++;
        }
    }
    qsort(refs, n, sizeof(*refs), by_name_then_seq);
    const struct channel_ref *first = NULL, *second = NULL;
    for (size_t i = 1; i < n; i++) {
        bool second_of_its_name = strcmp(refs[i - 1].name, refs[i].name) == 0 &&
                                  (i < 2 || strcmp(refs[i - 2].name, refs[i].name) != 0);
        if (second_of_its_name && (!second || refs[i].seq < second->seq)) {
            first = &refs[i - 1];
            second = &refs[i];
        }
    }
    int r = 0;
    if (second) {
        const struct cfg_io *a = &cfg->ios[first->io], *b = &cfg->ios[second->io];
        r = fail(p, io_names_line(p, second->io),
                 "%s name '%s' of [%s.%s] is taken by [%s.%s] at line %d", what, second->name,
                 kind_word(b->kind), b->name, kind_word(a->kind), a->name,
                 io_names_line(p, first->io));
    }
    free(refs);
    return r;
}

/*
 * Opus is coded at 48 kHz (RFC 7587 section 4.1); a node at another rate
 * converts its audio frame by frame, which wants frames of a whole number
 * of its own (aoip_opus_frame_fits). A section's opus_frame_ms (at line)
 * that is not is refused; the default frame is made to fit (flows.c).
 */
static int check_opus_frame(struct parser *p, const struct cfg_opus *o, int line)
{
    if (!line || o->frame_us == 0 || aoip_opus_frame_fits(o->frame_us, p->cfg->sample_rate))
        return 0;
    char fit[64] = "";
    static const uint32_t frames_us[] = { 2500, 5000, 10000, 20000 };
    for (size_t i = 0; i < sizeof frames_us / sizeof frames_us[0]; i++)
        if (aoip_opus_frame_fits(frames_us[i], p->cfg->sample_rate))
            snprintf(fit + strlen(fit), sizeof(fit) - strlen(fit), "%s%g", fit[0] ? ", " : "",
                     frames_us[i] / 1000.0);
    return fail(p, line,
                "opus_frame_ms %g is no whole number of frames at %u Hz (Opus is coded at "
                "48 kHz and converted frame by frame); at this rate: %s",
                o->frame_us / 1000.0, p->cfg->sample_rate, fit);
}

/* Each [peer.X]'s flow settings: its own keys, the node's for the rest. */
static int resolve_peers(struct parser *p)
{
    struct cfg *cfg = p->cfg;
    for (size_t i = 0; i < cfg->n_peers; i++) {
        struct cfg_peer *peer = &cfg->peers[i];
        const int *lines = p->peer_drafts[i].lines;
        if (!lines[PK_ENCODING])
            peer->encoding = cfg->encoding;
        if (check_opus_frame(p, &peer->opus, lines[PK_OPUS_FRAME_MS]) < 0)
            return -1;
        if (!lines[PK_PACKET_US])
            peer->packet_us = cfg->packet_us;
        opus_inherit(&peer->opus, &cfg->opus, &lines[PK_OPUS_BITRATE]);
    }
    return 0;
}

/* An rtp stream of Opus is one plain Opus stream of 1 or 2 channels, as
 * RFC 7587 has it and other equipment sends and plays it. */
static int check_rtp_opus_channels(struct parser *p, const struct cfg_io *io,
                                   const struct io_draft *d)
{
    if (io->encoding != CFG_ENC_OPUS || io->channels <= 2)
        return 0;
    return fail(p, d->lines[IK_CHANNELS],
                "channels must be 1 or 2 with encoding opus (RFC 7587), not %u", io->channels);
}

/*
 * A node is one JACK client, whatever the number of its jack sections:
 * they name the same client_name or none (default "aoip-NODE"), and each
 * connects at most as many ports as it has channels.
 */
static int check_jack(struct parser *p)
{
    struct cfg *cfg = p->cfg;
    const char *client = NULL;
    int client_line = 0;
    for (size_t i = 0; i < cfg->n_ios; i++) {
        struct cfg_io *io = &cfg->ios[i];
        const struct io_draft *d = &p->drafts[i];
        if (io->type != CFG_TYPE_JACK)
            continue;
        if (d->lines[IK_CLIENT_NAME]) {
            if (client && strcmp(client, io->client_name) != 0)
                return fail(p, d->lines[IK_CLIENT_NAME],
                            "client_name '%s' is not the node's JACK client '%s' (line %d): a "
                            "node is one JACK client",
                            io->client_name, client, client_line);
            client = io->client_name;
            client_line = d->lines[IK_CLIENT_NAME];
        }
        unsigned ports = io->connect[0] ? 1 : 0;
        for (const char *c = io->connect; *c; c++)
            ports += *c == ',';
        if (ports > io->channels)
            return fail(p, d->lines[IK_CONNECT], "connect names %u ports for %u channels", ports,
                        io->channels);
    }
    /* The name given, or "aoip-" and the node's name cut to JACK's limit. */
    char name[CFG_JACK_CLIENT_MAX + 1];
    if (client)
        snprintf(name, sizeof(name), "%s", client);
    else
        snprintf(name, sizeof(name), "aoip-%.*s", CFG_JACK_CLIENT_MAX - 5, cfg->name);
    for (size_t i = 0; i < cfg->n_ios; i++)
        if (cfg->ios[i].type == CFG_TYPE_JACK)
            memcpy(cfg->ios[i].client_name, name, sizeof(name));
    return 0;
}

/*
 * Sound devices: an alsa section names its PCM and gets its period and
 * buffer; jack sections name one server; and the node's media clock is
 * resolved to the section whose device it is ([node] clock), or none.
 */
static int check_devices(struct parser *p)
{
    struct cfg *cfg = p->cfg;
    const char *server = NULL;
    int server_line = 0;
    struct cfg_io *first = NULL, *named = NULL;

    for (size_t i = 0; i < cfg->n_ios; i++) {
        struct cfg_io *io = &cfg->ios[i];
        const struct io_draft *d = &p->drafts[i];
        if (io->type == CFG_TYPE_JACK && d->lines[IK_SERVER]) {
            if (server && strcmp(server, io->server) != 0)
                return fail(p, d->lines[IK_SERVER],
                            "server '%s' is not the node's JACK server '%s' (line %d): a node is "
                            "one JACK client",
                            io->server, server, server_line);
            server = io->server;
            server_line = d->lines[IK_SERVER];
        }
        if (io->type == CFG_TYPE_ALSA) {
            if (!io->device[0])
                return fail(p, io->line,
                            "[%s.%s] of type alsa needs a device (hw:CARD,DEV or a PCM name)",
                            kind_word(io->kind), io->name);
            if (!io->period_us)
                io->period_us = cfg->period_us;
            if ((uint64_t)cfg->sample_rate * io->period_us % 1000000 != 0)
                return fail(p, d->lines[IK_PERIOD_US] ? d->lines[IK_PERIOD_US] : io->line,
                            "period_us %u is not a whole number of frames at %u Hz", io->period_us,
                            cfg->sample_rate);
            if (!io->periods)
                io->periods = io->kind == CFG_INPUT ? 2 : 3;
        }
        if (io->type != CFG_TYPE_JACK && io->type != CFG_TYPE_ALSA)
            continue;
        if (!first)
            first = io;
        if (cfg->clock[0] && strcmp(cfg->clock, io->name) == 0) {
            if (named)
                return fail(p, p->node_lines[NK_CLOCK],
                            "clock '%s' names both [%s.%s] and [%s.%s]: rename one", cfg->clock,
                            kind_word(named->kind), named->name, kind_word(io->kind), io->name);
            named = io;
        }
    }
    for (size_t i = 0; server && i < cfg->n_ios; i++)
        if (cfg->ios[i].type == CFG_TYPE_JACK && cfg->ios[i].server != server)
            memcpy(cfg->ios[i].server, server, sizeof(cfg->ios[i].server));
    if (!cfg->clock[0]) {
        named = first;
        snprintf(cfg->clock, sizeof(cfg->clock), "%s", first ? first->name : "system");
    } else if (!named && strcmp(cfg->clock, "system") != 0) {
        return fail(p, p->node_lines[NK_CLOCK],
                    "clock '%.*s' is not a jack or alsa input or output of this node, nor 'system'",
                    QUOTE_MAX, cfg->clock);
    }
    /* A node is one JACK client: its jack sections keep one clock. */
    for (size_t i = 0; named && i < cfg->n_ios; i++)
        cfg->ios[i].clock = &cfg->ios[i] == named ||
                            (named->type == CFG_TYPE_JACK && cfg->ios[i].type == CFG_TYPE_JACK);
    return 0;
}

static int check_whole(struct parser *p)
{
    struct cfg *cfg = p->cfg;
    if ((uint64_t)cfg->sample_rate * cfg->period_us % 1000000 != 0) {
        int line = p->node_lines[NK_PERIOD_US] ? p->node_lines[NK_PERIOD_US]
                                               : p->node_lines[NK_SAMPLE_RATE];
        return fail(p, line, "period_us %u is not a whole number of frames at %u Hz",
                    cfg->period_us, cfg->sample_rate);
    }
    if (check_opus_frame(p, &cfg->opus, p->node_lines[NK_OPUS_FRAME_MS]) < 0 ||
        resolve_peers(p) < 0)
        return -1;
    for (size_t i = 0; i < cfg->n_ios; i++) {
        struct cfg_io *io = &cfg->ios[i];
        struct io_draft *d = &p->drafts[i];
        if (io->type == CFG_TYPE_TONE) {
            for (unsigned c = 0; c < io->channels; c++)
                if (io->frequency[c] > cfg->sample_rate / 2.0)
                    return fail(p, d->lines[IK_FREQUENCY],
                                "frequency %g Hz is above half the sample rate (%u Hz)",
                                io->frequency[c], cfg->sample_rate);
        }
        /* Plain RTP is for other equipment on the LAN: it takes the node's
         * PCM encoding, but a node that asks its peers for Opus (a WAN
         * link) leaves its rtp sections at L24 unless they say opus. */
        if (!d->lines[IK_ENCODING] && !d->lines[IK_SDP])
            io->encoding = cfg->encoding == CFG_ENC_OPUS ? CFG_ENC_L24 : cfg->encoding;
        opus_inherit(&io->opus, &cfg->opus, &d->lines[IK_OPUS_BITRATE]);
        if (io->type != CFG_TYPE_RTP)
            continue;
        if (io->kind == CFG_OUTPUT && !d->lines[IK_PACKET_US])
            io->packet_us = cfg->packet_us;
        if (d->lines[IK_SDP] && d->sdp.clock_rate != cfg->sample_rate)
            return fail(p, d->lines[IK_SDP], "sdp %s: %u Hz, but the node runs at %u Hz", io->sdp,
                        d->sdp.clock_rate, cfg->sample_rate);
        if (check_opus_frame(p, &io->opus, d->lines[IK_OPUS_FRAME_MS]) < 0 ||
            check_rtp_opus_channels(p, io, d) < 0)
            return -1;
        if (io->payload_type < 96 && io->encoding != CFG_ENC_L16)
            return fail(p, d->lines[IK_PAYLOAD_TYPE] ? d->lines[IK_PAYLOAD_TYPE] : d->lines[IK_SDP],
                        "payload_type %u is L16 (RFC 3551), not %s", io->payload_type,
                        cfg_encoding_name(io->encoding));
    }
    if (check_jack(p) < 0 || check_devices(p) < 0 || check_unique_names(p, CFG_INPUT, "source") < 0)
        return -1;
    return check_unique_names(p, CFG_OUTPUT, "destination");
}

/* ---- entry points ---- */

/* The host name cut to a node name: up to the first '.', other characters made '-'. */
static void default_node_name(char out[CFG_NAME_MAX])
{
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) < 0)
        host[0] = '\0';
    host[strcspn(host, ".")] = '\0';
    size_t len = strlen(host);
    if (len > CFG_NAME_MAX - 1)
        len = CFG_NAME_MAX - 1;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)host[i]) && host[i] != '_' && host[i] != '-')
            host[i] = '-';
    host[len] = '\0';
    if (aoip_name_valid(host, len))
        memcpy(out, host, len + 1);
    else if (len) /* all digits */
        snprintf(out, CFG_NAME_MAX, "aoip-%.50s", host);
    else
        strcpy(out, "aoip");
}

static void set_defaults(struct cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    default_node_name(cfg->name);
    strcpy(cfg->state_dir, "/var/lib/aoip");
    strcpy(cfg->control, "/run/aoip/control.sock");
    cfg->port = 7400;
    cfg->rtp_port = 0;
    cfg->sample_rate = 48000;
    cfg->period_us = 1000;
    cfg->latency_us = 3000;
    cfg->encoding = CFG_ENC_L24;
    cfg->packet_us = 1000;
    cfg->opus = opus_defaults;
    cfg->clock_skew_ppm = 0;
    cfg->discovery = true;
    cfg->multicast = CFG_MULTICAST_AUTO;
    cfg->multicast_ttl = 16;
    cfg->security = CFG_SECURITY_SEALED;
    cfg->rekey_s = 3600;
}

/* The directory part of path ("." when there is none) into dir. */
static void dir_of(const char *path, char dir[CFG_PATH_MAX])
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
        return;
    }
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    if (len >= CFG_PATH_MAX)
        len = CFG_PATH_MAX - 1;
    memcpy(dir, path, len);
    dir[len] = '\0';
}

static int parse_with_dir(struct cfg *cfg, const char *text, const char *name, const char *dir,
                          char *err, size_t errlen)
{
    set_defaults(cfg);
    struct parser p = {
        .cfg = cfg,
        .name = name,
        .err = err,
        .errlen = errlen,
        .text = text,
    };
    if (err && errlen)
        err[0] = '\0';
    size_t nlen = strlen(name);
    if (nlen >= CFG_PATH_MAX || strlen(dir) >= CFG_PATH_MAX)
        return fail(&p, 0, "file name longer than %d bytes", CFG_PATH_MAX - 1);
    memcpy(cfg->path, name, nlen + 1);
    strcpy(p.dir, dir);

    /* Debian's inih reads this at run time and sizes its line buffer by it. */
    ini_max_line = LINE_MAX_BYTES;
    int r = ini_parse_stream(read_line, &p, on_key, &p);
    if (!p.failed && r != 0)
        fail(&p, r > 0 ? r : 0, "cannot be parsed");
    if (!p.failed)
        close_section(&p);
    if (!p.failed)
        check_whole(&p);
    free(p.drafts);
    free(p.peer_drafts);
    return p.failed ? -1 : 0;
}

int cfg_parse(struct cfg *cfg, const char *text, const char *name, char *err, size_t errlen)
{
    if (!name)
        name = "config";
    char dir[CFG_PATH_MAX];
    dir_of(name, dir);
    return parse_with_dir(cfg, text, name, dir, err, errlen);
}

PRINTF_LIKE(4, 5)
static int load_fail(struct cfg *cfg, char *err, size_t errlen, const char *fmt, ...)
{
    set_defaults(cfg);
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int cfg_load(struct cfg *cfg, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return load_fail(cfg, err, errlen, "%s: %s", path, strerror(errno));
    char *text = malloc(TEXT_MAX_BYTES + 1);
    if (!text) {
        close(fd);
        return load_fail(cfg, err, errlen, "%s: out of memory", path);
    }
    size_t len = 0;
    int rerr = 0;
    while (len < TEXT_MAX_BYTES + 1) {
        ssize_t n = read(fd, text + len, TEXT_MAX_BYTES + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rerr = errno;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    int r = -1;
    if (rerr) {
        load_fail(cfg, err, errlen, "%s: %s", path, strerror(rerr));
    } else if (len > TEXT_MAX_BYTES) {
        load_fail(cfg, err, errlen, "%s: larger than %d bytes", path, TEXT_MAX_BYTES);
    } else if (memchr(text, '\0', len)) {
        const char *nul = memchr(text, '\0', len);
        int line = 1;
        for (const char *s = text; s < nul; s++)
            line += *s == '\n';
        load_fail(cfg, err, errlen, "%s:%d: a NUL byte: this is not a text file", path, line);
    } else {
        text[len] = '\0';
        /* Relative paths in the file outlive a later chdir: make the base absolute. */
        char dir[CFG_PATH_MAX], cwd[CFG_PATH_MAX];
        dir_of(path, dir);
        if (dir[0] != '/' && getcwd(cwd, sizeof(cwd))) {
            size_t clen = strlen(cwd), dlen = strlen(dir);
            if (strcmp(dir, ".") == 0) {
                memcpy(dir, cwd, clen + 1);
            } else if (clen + 1 + dlen < CFG_PATH_MAX) {
                memmove(dir + clen + 1, dir, dlen + 1);
                memcpy(dir, cwd, clen);
                dir[clen] = '/';
            }
        }
        r = parse_with_dir(cfg, text, path, dir, err, errlen);
    }
    free(text);
    return r;
}

void cfg_free(struct cfg *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_ios; i++) {
        free(cfg->ios[i].names);
        free(cfg->ios[i].frequency);
    }
    free(cfg->ios);
    free(cfg->peers);
    free(cfg->trust);
    cfg->trust = NULL;
    cfg->n_trust = 0;
    cfg->ios = NULL;
    cfg->n_ios = 0;
    cfg->peers = NULL;
    cfg->n_peers = 0;
}

uint32_t cfg_period_frames(const struct cfg *cfg)
{
    return cfg_frames_of_us(cfg, cfg->period_us);
}

uint32_t cfg_frames_of_us(const struct cfg *cfg, uint32_t us)
{
    return (uint32_t)(((uint64_t)cfg->sample_rate * us + 500000) / 1000000);
}
