/*
 * sdp.c: session descriptions (RFC 8866) of one audio RTP stream: parse
 * what AES67 devices, ffmpeg and GStreamer write, and write aoip's own.
 *
 * The parser walks the text once, line by line, and never copies more than
 * one field at a time: each line is checked for the "x=value" shape, then
 * the few lines a receiver needs (v=, s=, c=, m=, a=rtpmap, a=ptime,
 * a=framecount) are read into a private copy of the result, which reaches
 * the caller only when the whole description is good. So a caller never
 * sees half a stream, and the first wrong line names the error.
 *
 * Liberal where real senders differ and nothing is at stake: LF or CRLF,
 * no final newline, blank lines at the end, runs of spaces between fields,
 * o=, s= and t= optional, c= at either level. Strict where a guess could
 * play the wrong thing: one v=0 first, numeric addresses, every number in
 * range, no field cut to fit, and a line that may appear once per level
 * appearing twice is refused rather than resolved by order.
 *
 * Packet time needs care. a=ptime is in milliseconds with as many decimals
 * as the writer chose, and AES67 gear writes 1/3 ms as "0.33" and 125 us as
 * "0.12" next to an exact a=framecount. So a ptime of two decimals or fewer
 * is read as the whole number of frames it was rounded or cut from, when
 * exactly one number of frames fits; a=framecount, when present, gives the
 * packet time exactly and must agree with a=ptime.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "aoip/sdp.h"

/*
 * Channels of one stream: a MADI stream is 64, a large console 128 (the
 * daemon's own limit per input is the same). A cap keeps a hostile
 * description from sizing a receiver's buffers.
 */
#define SDP_MAX_CHANNELS 256

/*
 * No audio packet lasts a minute (Opus' longest is 120 ms). The cap keeps
 * the frame arithmetic of resolve_ptime() inside 64 bits for any 32-bit
 * clock rate.
 */
#define SDP_MAX_PTIME_US 60000000u

#define SDP_MAX_PTIME_DECIMALS 9 /* a picosecond; nobody writes more */
#define SDP_MAX_PAYLOAD_TYPE   127
#define US_PER_S               1000000u

/* RFC 3551 table 4: the two static L16 types, usable without an rtpmap. */
#define PT_L16_STEREO 10
#define PT_L16_MONO   11
#define L16_RATE      44100

/* A piece of the text: never NUL-terminated, never read past n. */
struct span {
    const char *p;
    size_t n;
};

struct connection {
    bool seen;
    bool multicast;
    uint8_t ttl;
    char address[sizeof(((struct aoip_sdp_stream *)0)->address)];
};

/* a=ptime as written: its value rounded to microseconds, and how exact it is. */
struct ptime {
    bool seen;
    uint32_t us;
    uint32_t unit_us; /* one unit of the last decimal written, at least 1 us */
};

/* What may be said once at session level and once more in the stream's section. */
struct level {
    struct connection conn;
    struct ptime ptime;
    bool has_framecount;
    uint32_t framecount;
};

enum section {
    SECTION_SESSION, /* before any m= */
    SECTION_OTHER,   /* inside a media section that is not audio */
    SECTION_STREAM,  /* inside the first m=audio section */
    SECTION_AFTER    /* past it: lines are only checked for their shape */
};

enum { LEVEL_SESSION, LEVEL_MEDIA };

struct parser {
    struct aoip_sdp_stream s;
    enum section section;
    bool has_version;
    bool has_session_name;
    bool has_rtpmap;
    struct level level[2];
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The next run of non-blanks in *rest, or an empty span at its end. */
static struct span next_token(struct span *rest)
{
    struct span t;
    size_t i = 0;

    while (i < rest->n && is_space(rest->p[i]))
        i++;
    t.p = rest->p + i;
    while (i < rest->n && !is_space(rest->p[i]))
        i++;
    t.n = (size_t)(rest->p + i - t.p);
    rest->p += i;
    rest->n -= i;
    return t;
}

static bool only_blanks(struct span s)
{
    for (size_t i = 0; i < s.n; i++)
        if (!is_space(s.p[i]))
            return false;
    return true;
}

static bool span_is(struct span s, const char *word)
{
    size_t n = strlen(word);

    return s.n == n && memcmp(s.p, word, n) == 0;
}

/* Splits *rest at the first c: returns what was before it; *rest is what follows. */
static struct span split_at(struct span *rest, char c, bool *found)
{
    const char *at = rest->n ? memchr(rest->p, c, rest->n) : NULL;
    struct span head = { rest->p, at ? (size_t)(at - rest->p) : rest->n };

    *found = at != NULL;
    rest->p += head.n + *found;
    rest->n -= head.n + *found;
    return head;
}

/* Plain decimal digits (no sign, no blanks), at most max. */
static bool parse_uint(struct span s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (!is_digit(s.p[i]))
            return false;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

static bool copy_field(char *dst, size_t cap, struct span s)
{
    if (s.n >= cap)
        return false;
    memcpy(dst, s.p, s.n);
    dst[s.n] = '\0';
    return true;
}

/* RFC 8866's token characters, less '/', which separates rtpmap's parts. */
static bool is_token_char(char c)
{
    return c > ' ' && c < 0x7F && c != '/';
}

static bool ipv4_multicast(const unsigned char a[4])
{
    return (a[0] & 0xF0) == 0xE0; /* 224.0.0.0/4 */
}

/*
 * The address family of a numeric address and whether it is multicast, or
 * 0 when text is not one. text is NUL-terminated.
 */
static int classify_address(const char *text, int family, bool *multicast)
{
    unsigned char a[16];

    if (inet_pton(family, text, a) != 1)
        return 0;
    *multicast = family == AF_INET ? ipv4_multicast(a) : a[0] == 0xFF; /* ff00::/8 */
    return family;
}

/*
 * c=IN IP4 ADDR[/TTL[/N]] or c=IN IP6 ADDR[/N] (RFC 8866 section 5.7). A
 * TTL belongs to IPv4 multicast only and N (a count of consecutive groups
 * for layered media) to multicast only; the stream is the first address.
 */
static int parse_connection(struct connection *c, struct span v)
{
    struct span nettype = next_token(&v), addrtype = next_token(&v);
    struct span addr = next_token(&v), ttl, count;
    int family;
    bool slash;
    uint64_t n;

    if (!span_is(nettype, "IN") || !only_blanks(v))
        return AOIP_ESDP_CONNECTION;
    if (span_is(addrtype, "IP4"))
        family = AF_INET;
    else if (span_is(addrtype, "IP6"))
        family = AF_INET6;
    else
        return AOIP_ESDP_CONNECTION;
    if (addr.n == 0)
        return AOIP_ESDP_CONNECTION;

    struct span host = split_at(&addr, '/', &slash);
    /* No numeric address is as long as the buffer. */
    if (!copy_field(c->address, sizeof c->address, host) ||
        classify_address(c->address, family, &c->multicast) == 0)
        return AOIP_ESDP_ADDRESS;

    c->ttl = 0;
    if (!slash)
        return 0;
    if (!c->multicast)
        return AOIP_ESDP_CONNECTION;
    if (family == AF_INET) {
        ttl = split_at(&addr, '/', &slash);
        if (!parse_uint(ttl, 255, &n))
            return AOIP_ESDP_CONNECTION;
        c->ttl = (uint8_t)n;
        if (!slash)
            return 0;
    }
    count = addr;
    if (!parse_uint(count, 65535, &n) || n == 0)
        return AOIP_ESDP_CONNECTION;
    return 0;
}

/*
 * m=audio PORT RTP/AVP PT [PT...]. Only the RTP/AVP profile: it is what
 * AES67, ffmpeg and GStreamer use for plain audio. RTP/SAVP (SRTP) packets
 * are encrypted with keys negotiated in a=crypto or DTLS, which aoip does
 * not do, so a receiver would play ciphertext as noise; RTP/AVPF and the
 * rest describe sessions with machinery (feedback, DTLS) aoip does not run.
 * A port of 0 disables the stream, and "PORT/N" (several port pairs for
 * layered media) describes something aoip cannot play as one stream.
 */
static int parse_media(struct aoip_sdp_stream *s, struct span v)
{
    struct span port = next_token(&v), proto = next_token(&v);
    struct span fmt = next_token(&v);
    uint64_t n;

    if (!parse_uint(port, 65535, &n) || n == 0)
        return AOIP_ESDP_MEDIA;
    s->port = (uint16_t)n;
    if (!span_is(proto, "RTP/AVP"))
        return AOIP_ESDP_MEDIA;
    if (!parse_uint(fmt, SDP_MAX_PAYLOAD_TYPE, &n))
        return AOIP_ESDP_MEDIA;
    s->payload_type = (uint8_t)n;
    for (fmt = next_token(&v); fmt.n > 0; fmt = next_token(&v))
        if (!parse_uint(fmt, SDP_MAX_PAYLOAD_TYPE, &n))
            return AOIP_ESDP_MEDIA;
    return 0;
}

/* a=rtpmap:PT ENC/RATE[/CHANNELS] (RFC 8866 section 6.6), for the stream's PT. */
static int parse_rtpmap(struct parser *p, struct span v)
{
    struct span pt = next_token(&v), spec = next_token(&v);
    struct span enc, rate, channels;
    uint64_t n;
    bool slash;

    if (!parse_uint(pt, SDP_MAX_PAYLOAD_TYPE, &n))
        return AOIP_ESDP_RTPMAP;
    if (n != p->s.payload_type)
        return 0;
    if (p->has_rtpmap)
        return AOIP_ESDP_DUPLICATE;
    p->has_rtpmap = true;
    if (!only_blanks(v))
        return AOIP_ESDP_RTPMAP;

    enc = split_at(&spec, '/', &slash);
    if (enc.n == 0 || !slash)
        return AOIP_ESDP_RTPMAP;
    for (size_t i = 0; i < enc.n; i++)
        if (!is_token_char(enc.p[i]))
            return AOIP_ESDP_RTPMAP;
    if (!copy_field(p->s.encoding, sizeof p->s.encoding, enc))
        return AOIP_ESDP_FIELD_TOO_LONG;

    rate = split_at(&spec, '/', &slash);
    if (!parse_uint(rate, UINT32_MAX, &n) || n == 0)
        return AOIP_ESDP_RTPMAP;
    p->s.clock_rate = (uint32_t)n;

    p->s.channels = 1;
    if (slash) {
        channels = spec;
        if (!parse_uint(channels, SDP_MAX_CHANNELS, &n) || n == 0)
            return AOIP_ESDP_RTPMAP;
        p->s.channels = (unsigned)n;
    }
    return 0;
}

/*
 * a=ptime:MS with an optional fraction, e.g. "1", "0.125", "0.33". Rounded
 * half up to microseconds, which only the fourth decimal decides.
 */
static int parse_ptime(struct ptime *pt, struct span v)
{
    struct span rest = v, num = next_token(&rest), whole, frac;
    uint64_t ms;
    uint32_t us = 0, scale = 100;
    bool dot;

    if (num.n == 0 || !only_blanks(rest))
        return AOIP_ESDP_PTIME;
    whole = split_at(&num, '.', &dot);
    frac = num;
    if (!parse_uint(whole, SDP_MAX_PTIME_US / 1000, &ms))
        return AOIP_ESDP_PTIME;
    if (dot && (frac.n == 0 || frac.n > SDP_MAX_PTIME_DECIMALS))
        return AOIP_ESDP_PTIME;
    for (size_t i = 0; i < frac.n; i++) {
        if (!is_digit(frac.p[i]))
            return AOIP_ESDP_PTIME;
        if (i < 3)
            us += (uint32_t)(frac.p[i] - '0') * scale;
        else if (i == 3 && frac.p[i] >= '5')
            us += 1;
        scale /= 10;
    }
    us += (uint32_t)ms * 1000;
    if (us == 0 || us > SDP_MAX_PTIME_US)
        return AOIP_ESDP_PTIME;
    pt->us = us;
    pt->unit_us = frac.n >= 3 ? 1 : frac.n == 2 ? 10 : frac.n == 1 ? 100 : 1000;
    pt->seen = true;
    return 0;
}

/*
 * Whether n frames at rate last what the ptime as written says: a duration
 * rounds to it when within half a unit of its last digit, and is cut to it
 * when up to one unit above, so [us - unit/2, us + unit). Counted in half
 * microseconds so the bounds are whole; every product stays below 2^63
 * because us <= SDP_MAX_PTIME_US.
 */
static bool frames_fit(const struct ptime *pt, uint64_t n, uint32_t rate)
{
    uint64_t lo2 = 2 * (uint64_t)pt->us - pt->unit_us;
    uint64_t hi2 = 2 * (uint64_t)pt->us + 2 * (uint64_t)pt->unit_us;
    uint64_t t2 = n * 2 * US_PER_S;

    return lo2 * rate <= t2 && t2 < hi2 * rate;
}

static uint64_t frames_to_us(uint64_t n, uint32_t rate)
{
    return (n * 2 * US_PER_S + rate) / (2 * (uint64_t)rate);
}

/* The packet time from a=ptime and a=framecount, either of which may be absent. */
static int resolve_ptime(const struct ptime *pt, bool has_framecount, uint32_t framecount,
                         uint32_t rate, uint32_t *us)
{
    uint64_t n, t;

    if (has_framecount) {
        if (pt->seen && !frames_fit(pt, framecount, rate))
            return AOIP_ESDP_PTIME;
        t = frames_to_us(framecount, rate);
        if (t == 0 || t > SDP_MAX_PTIME_US)
            return AOIP_ESDP_PTIME;
        *us = (uint32_t)t;
        return 0;
    }
    *us = pt->seen ? pt->us : 0;
    if (!pt->seen || pt->unit_us == 1)
        return 0;
    /*
     * The fewest frames that could fit, then whether the next one fits too.
     * The result stays within SDP_MAX_PTIME_US: a window that reaches past
     * it holds the cap itself, a whole number of frames at any rate, so the
     * one frame count that fits is that one.
     */
    n = ((2 * (uint64_t)pt->us - pt->unit_us) * rate + 2 * US_PER_S - 1) / (2 * US_PER_S);
    if (n > 0 && frames_fit(pt, n, rate) && !frames_fit(pt, n + 1, rate))
        *us = (uint32_t)frames_to_us(n, rate);
    return 0;
}

static int parse_framecount(struct level *l, struct span v)
{
    struct span rest = v, num = next_token(&rest);
    uint64_t n;

    if (!only_blanks(rest) || !parse_uint(num, UINT32_MAX, &n) || n == 0)
        return AOIP_ESDP_PTIME;
    l->framecount = (uint32_t)n;
    l->has_framecount = true;
    return 0;
}

/* a=NAME[:VALUE] at session level or in the stream's section. */
static int parse_attribute(struct parser *p, struct level *l, struct span v)
{
    bool colon;
    struct span name = split_at(&v, ':', &colon);

    if (span_is(name, "rtpmap")) {
        /* A media-level attribute: at session level it describes nothing. */
        return l == &p->level[LEVEL_MEDIA] ? parse_rtpmap(p, v) : 0;
    }
    if (span_is(name, "ptime")) {
        if (l->ptime.seen)
            return AOIP_ESDP_DUPLICATE;
        return parse_ptime(&l->ptime, v);
    }
    if (span_is(name, "framecount")) {
        if (l->has_framecount)
            return AOIP_ESDP_DUPLICATE;
        return parse_framecount(l, v);
    }
    return 0;
}

static int parse_line(struct parser *p, char type, struct span v)
{
    struct level *l;
    struct span rest, media;

    /* Past the stream, nothing more is read, not even a second description. */
    if (p->section == SECTION_AFTER)
        return 0;
    if (type == 'v') {
        /* Only the first line; another v= starts a second description. */
        if (p->has_version || !span_is(v, "0"))
            return AOIP_ESDP_VERSION;
        p->has_version = true;
        return 0;
    }
    if (p->section == SECTION_OTHER && type != 'm')
        return 0;
    l = &p->level[p->section == SECTION_SESSION ? LEVEL_SESSION : LEVEL_MEDIA];

    switch (type) {
    case 's':
        if (p->section != SECTION_SESSION)
            return 0;
        if (p->has_session_name)
            return AOIP_ESDP_DUPLICATE;
        p->has_session_name = true;
        /* RFC 8866 5.3: a single space is how a session says it has no name. */
        if (span_is(v, " "))
            v.n = 0;
        return copy_field(p->s.session, sizeof p->s.session, v) ? 0 : AOIP_ESDP_FIELD_TOO_LONG;
    case 'c':
        if (l->conn.seen)
            return AOIP_ESDP_DUPLICATE;
        l->conn.seen = true;
        return parse_connection(&l->conn, v);
    case 'a':
        return parse_attribute(p, l, v);
    case 'm':
        if (p->section == SECTION_STREAM) {
            p->section = SECTION_AFTER;
            return 0;
        }
        rest = v;
        media = next_token(&rest);
        if (!span_is(media, "audio")) {
            p->section = SECTION_OTHER;
            return 0;
        }
        p->section = SECTION_STREAM;
        return parse_media(&p->s, rest);
    default:
        return 0;
    }
}

/* What the lines said, put together; the stream's own section wins. */
static int finish(struct parser *p)
{
    const struct level *sl = &p->level[LEVEL_SESSION], *ml = &p->level[LEVEL_MEDIA];
    const struct connection *c = ml->conn.seen ? &ml->conn : &sl->conn;
    const struct ptime *pt = ml->ptime.seen ? &ml->ptime : &sl->ptime;
    const struct level *fc = ml->has_framecount ? ml : sl;

    if (!p->has_version)
        return AOIP_ESDP_VERSION;
    if (p->section == SECTION_SESSION || p->section == SECTION_OTHER)
        return AOIP_ESDP_MEDIA;
    if (!c->seen)
        return AOIP_ESDP_CONNECTION;
    memcpy(p->s.address, c->address, sizeof p->s.address);
    p->s.multicast = c->multicast;
    p->s.ttl = c->ttl;

    if (!p->has_rtpmap) {
        if (p->s.payload_type != PT_L16_STEREO && p->s.payload_type != PT_L16_MONO)
            return AOIP_ESDP_RTPMAP;
        memcpy(p->s.encoding, "L16", sizeof "L16");
        p->s.clock_rate = L16_RATE;
        p->s.channels = p->s.payload_type == PT_L16_STEREO ? 2 : 1;
    }
    return resolve_ptime(pt, fc->has_framecount, fc->framecount, p->s.clock_rate, &p->s.ptime_us);
}

/* Whether everything from here on is line ends: blank lines closing a file. */
static bool only_line_ends(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\r' && p[i] != '\n')
            return false;
    return true;
}

int aoip_sdp_parse(struct aoip_sdp_stream *out, const char *text, size_t len)
{
    struct parser p;
    size_t off = 0;
    int ret;

    if (len > AOIP_SDP_MAX_TEXT)
        return AOIP_ESDP_TOO_LONG;
    memset(&p, 0, sizeof p);
    p.section = SECTION_SESSION;

    while (off < len) {
        const char *line = text + off;
        const char *lf = memchr(line, '\n', len - off);
        size_t n = lf ? (size_t)(lf - line) : len - off;

        off += n + (lf != NULL);
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (n == 0) {
            if (p.has_version && only_line_ends(text + off, len - off))
                break;
            return AOIP_ESDP_LINE;
        }
        if (n < 2 || line[0] < 'a' || line[0] > 'z' || line[1] != '=')
            return AOIP_ESDP_LINE;
        /* RFC 8866 9: a value is any bytes but NUL, CR and LF. */
        if (memchr(line, '\0', n) || memchr(line, '\r', n))
            return AOIP_ESDP_LINE;
        if (!p.has_version && line[0] != 'v')
            return AOIP_ESDP_VERSION;
        ret = parse_line(&p, line[0], (struct span){ line + 2, n - 2 });
        if (ret != 0)
            return ret;
    }
    ret = finish(&p);
    if (ret != 0)
        return ret;
    *out = p.s;
    return 0;
}

static bool terminated(const char *field, size_t cap)
{
    return memchr(field, '\0', cap) != NULL;
}

static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!is_token_char(*s) && *s != '/')
            return false;
    return true;
}

/*
 * Whether the writer can say s so that the parser reads back exactly s:
 * every field in the range the parser accepts, strings that end inside
 * their buffers and hold nothing that would break a line, and the
 * multicast flag and TTL as the address implies them.
 */
static bool describable(const struct aoip_sdp_stream *s, int *family)
{
    bool multicast;

    if (!terminated(s->session, sizeof s->session) || strpbrk(s->session, "\r\n"))
        return false;
    /* "s= " is how a description says it has no name: it reads back as "". */
    if (strcmp(s->session, " ") == 0)
        return false;
    if (!terminated(s->address, sizeof s->address))
        return false;
    *family = strchr(s->address, ':') ? AF_INET6 : AF_INET;
    if (classify_address(s->address, *family, &multicast) == 0 || multicast != s->multicast)
        return false;
    if (s->ttl != 0 && (*family != AF_INET || !multicast))
        return false;
    if (!terminated(s->encoding, sizeof s->encoding) || s->encoding[0] == '\0')
        return false;
    for (const char *c = s->encoding; *c; c++)
        if (!is_token_char(*c))
            return false;
    return s->port != 0 && s->payload_type <= SDP_MAX_PAYLOAD_TYPE && s->clock_rate != 0 &&
           s->channels >= 1 && s->channels <= SDP_MAX_CHANNELS && s->ptime_us <= SDP_MAX_PTIME_US;
}

/*
 * a=ptime for us at rate: the shortest decimal that the parser reads back
 * as us. Dropping trailing zeros is exact, but the parser reads two
 * decimals or fewer as a whole number of frames, so when that would move
 * the value, all three decimals are written.
 */
static void format_ptime(char *out, size_t cap, uint32_t us, uint32_t rate)
{
    unsigned decimals = 3, frac = us % 1000;
    uint32_t unit = 1, back;
    struct ptime pt;

    while (decimals > 0 && frac % 10 == 0) {
        frac /= 10;
        decimals--;
        unit *= 10;
    }
    pt.seen = true;
    pt.us = us;
    pt.unit_us = unit;
    if (resolve_ptime(&pt, false, 0, rate, &back) != 0 || back != us) {
        frac = us % 1000;
        decimals = 3;
    }
    if (decimals == 0)
        snprintf(out, cap, "a=ptime:%" PRIu32 "\r\n", us / 1000);
    else
        snprintf(out, cap, "a=ptime:%" PRIu32 ".%0*u\r\n", us / 1000, (int)decimals, frac);
}

int aoip_sdp_write(char *buf, size_t cap, const struct aoip_sdp_stream *s,
                   const char *origin_address, uint64_t session_id)
{
    char ttl[8] = "", ptime[48] = "";
    int family, n;

    if (!s || !origin_address || (!buf && cap > 0))
        return -EINVAL;
    if (!describable(s, &family) || !is_token(origin_address))
        return -EINVAL;
    if (s->ttl != 0)
        snprintf(ttl, sizeof ttl, "/%u", (unsigned)s->ttl);
    if (s->ptime_us != 0)
        format_ptime(ptime, sizeof ptime, s->ptime_us, s->clock_rate);

    /* RFC 8866 5: CRLF line ends, and "s= " for a session without a name. */
    n = snprintf(buf, cap,
                 "v=0\r\n"
                 "o=- %" PRIu64 " %" PRIu64 " IN %s %s\r\n"
                 "s=%s\r\n"
                 "c=IN %s %s%s\r\n"
                 "t=0 0\r\n"
                 "m=audio %u RTP/AVP %u\r\n"
                 "a=rtpmap:%u %s/%" PRIu32 "/%u\r\n"
                 "%s"
                 "a=sendonly\r\n",
                 session_id, session_id, strchr(origin_address, ':') ? "IP6" : "IP4",
                 origin_address, s->session[0] ? s->session : " ",
                 family == AF_INET6 ? "IP6" : "IP4", s->address, ttl, (unsigned)s->port,
                 (unsigned)s->payload_type, (unsigned)s->payload_type, s->encoding, s->clock_rate,
                 s->channels, ptime);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= cap) {
        /* Half a description must not pass for a whole one. */
        if (cap > 0)
            buf[0] = '\0';
        return -ENOSPC;
    }
    return n;
}
