/*
 * test_sdp.c: session descriptions: what ffmpeg, GStreamer and AES67 gear
 * write is read into the right fields, every AOIP_ESDP_* code is reached by
 * the kind of mistake it names, and what aoip writes reads back to the
 * stream it described.
 *
 * Every text the parser is given sits in a heap block of exactly its length
 * and without a NUL, so under the sanitizer build a read one byte past the
 * end is a failure, not a silent pass. The descriptions are the shapes real
 * senders produce (ffmpeg 5.1's -sdp_file output verbatim), not minimal
 * strings made to pass.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/sdp.h"
#include "netmodel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What ffmpeg 5.1 writes for `-c:a pcm_s24be -payload_type 96 -f rtp -sdp_file`. */
static const char ffmpeg_l24_stereo[] = "v=0\r\n"
                                        "o=- 0 0 IN IP4 127.0.0.1\r\n"
                                        "s=No Name\r\n"
                                        "c=IN IP4 127.0.0.1\r\n"
                                        "t=0 0\r\n"
                                        "a=tool:libavformat 59.27.100\r\n"
                                        "m=audio 5010 RTP/AVP 96\r\n"
                                        "b=AS:2304\r\n"
                                        "a=rtpmap:96 L24/48000/2\r\n";

/* An AES67 sender as Dante and RAVENNA devices announce one over SAP. */
static const char aes67_multicast[] =
    "v=0\r\n"
    "o=- 1311738121 1311738121 IN IP4 192.168.1.10\r\n"
    "s=Stage Box 1 : 32\r\n"
    "i=8 channels: Input 1, Input 2, Input 3, Input 4, Input 5, Input 6, Input 7, Input 8\r\n"
    "c=IN IP4 239.69.1.1/32\r\n"
    "t=0 0\r\n"
    "a=keywds:Dante\r\n"
    "m=audio 5004 RTP/AVP 97\r\n"
    "i=Channels 1-8\r\n"
    "a=recvonly\r\n"
    "a=rtpmap:97 L24/48000/8\r\n"
    "a=ptime:1\r\n"
    "a=ts-refclk:ptp=IEEE1588-2008:00-1D-C1-FF-FE-0E-10-C4:0\r\n"
    "a=mediaclk:direct=0\r\n";

/* gst-rtsp-server's shape: attributes first, c= in the media section only. */
static const char gstreamer_opus[] = "v=0\r\n"
                                     "o=- 1188340656180883 1 IN IP4 192.168.0.20\r\n"
                                     "s=Session streamed with GStreamer\r\n"
                                     "i=rtsp-server\r\n"
                                     "t=0 0\r\n"
                                     "a=tool:GStreamer\r\n"
                                     "a=type:broadcast\r\n"
                                     "a=control:*\r\n"
                                     "a=range:npt=now-\r\n"
                                     "m=audio 5006 RTP/AVP 97\r\n"
                                     "c=IN IP4 192.168.0.20\r\n"
                                     "a=rtpmap:97 OPUS/48000/2\r\n"
                                     "a=fmtp:97 sprop-stereo=1\r\n"
                                     "a=control:stream=0\r\n";

/*
 * A description with its media section cut off, to which a test appends
 * the lines it is about. The session part is complete and well-formed.
 */
#define SESSION_HEAD                                                                               \
    "v=0\r\n"                                                                                      \
    "o=- 1 1 IN IP4 10.0.0.1\r\n"                                                                  \
    "s=test\r\n"                                                                                   \
    "t=0 0\r\n"

#define L24_STREAM                                                                                 \
    "m=audio 5004 RTP/AVP 96\r\n"                                                                  \
    "c=IN IP4 10.0.0.2\r\n"                                                                        \
    "a=rtpmap:96 L24/48000/2\r\n"

/* A copy of text without its NUL, in a block of exactly its length. */
static char *exact_copy(const char *text, size_t len)
{
    char *p = malloc(len ? len : 1);

    assert_non_null(p);
    if (len > 0)
        memcpy(p, text, len);
    return p;
}

static int parse_bytes(struct aoip_sdp_stream *s, const char *text, size_t len)
{
    char *p = exact_copy(text, len);
    int ret = aoip_sdp_parse(s, p, len);

    free(p);
    return ret;
}

static int parse(struct aoip_sdp_stream *s, const char *text)
{
    return parse_bytes(s, text, strlen(text));
}

/* SESSION_HEAD followed by media lines; the result of parsing it. */
static int parse_media(struct aoip_sdp_stream *s, const char *media)
{
    char text[4096];
    int n = snprintf(text, sizeof text, "%s%s", SESSION_HEAD, media);

    assert_in_range(n, 0, sizeof text - 1);
    return parse(s, text);
}

static bool is_sdp_error(int ret)
{
    return ret <= AOIP_ESDP_TOO_LONG && ret >= AOIP_ESDP_FIELD_TOO_LONG;
}

static void sdp_parses_ffmpeg_l24_stereo(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, ffmpeg_l24_stereo), 0);
    assert_string_equal(s.session, "No Name");
    assert_string_equal(s.address, "127.0.0.1");
    assert_false(s.multicast);
    assert_int_equal(s.ttl, 0);
    assert_int_equal(s.port, 5010);
    assert_int_equal(s.payload_type, 96);
    assert_string_equal(s.encoding, "L24");
    assert_int_equal(s.clock_rate, 48000);
    assert_int_equal(s.channels, 2);
    assert_int_equal(s.ptime_us, 0);
}

static void sdp_parses_aes67_multicast_with_ttl(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, aes67_multicast), 0);
    assert_string_equal(s.session, "Stage Box 1 : 32");
    assert_string_equal(s.address, "239.69.1.1");
    assert_true(s.multicast);
    assert_int_equal(s.ttl, 32);
    assert_int_equal(s.port, 5004);
    assert_int_equal(s.payload_type, 97);
    assert_string_equal(s.encoding, "L24");
    assert_int_equal(s.clock_rate, 48000);
    assert_int_equal(s.channels, 8);
    assert_int_equal(s.ptime_us, 1000);
}

static void sdp_parses_gstreamer_opus_with_media_level_connection(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, gstreamer_opus), 0);
    assert_string_equal(s.session, "Session streamed with GStreamer");
    assert_string_equal(s.address, "192.168.0.20");
    assert_false(s.multicast);
    assert_int_equal(s.port, 5006);
    assert_int_equal(s.payload_type, 97);
    assert_string_equal(s.encoding, "OPUS");
    assert_int_equal(s.clock_rate, 48000);
    assert_int_equal(s.channels, 2);
    assert_int_equal(s.ptime_us, 0);
}

static void sdp_parses_ipv6_connections(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 96\r\n"
                                     "c=IN IP6 ff3e::8000:1234\r\n"
                                     "a=rtpmap:96 L16/48000/1\r\n"),
                     0);
    assert_string_equal(s.address, "ff3e::8000:1234");
    assert_true(s.multicast);
    assert_int_equal(s.ttl, 0);
    assert_int_equal(s.channels, 1);

    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 96\r\n"
                                     "c=IN IP6 2001:db8::5\r\n"
                                     "a=rtpmap:96 L16/48000\r\n"),
                     0);
    assert_string_equal(s.address, "2001:db8::5");
    assert_false(s.multicast);
    assert_int_equal(s.channels, 1);
}

static void sdp_detects_multicast_at_range_edges(void **state)
{
    (void)state;
    static const struct {
        const char *c;
        bool multicast;
    } cases[] = {
        { "c=IN IP4 223.255.255.255\r\n", false },  { "c=IN IP4 224.0.0.0/1\r\n", true },
        { "c=IN IP4 239.255.255.255/1\r\n", true }, { "c=IN IP4 240.0.0.0\r\n", false },
        { "c=IN IP6 feff::1\r\n", false },          { "c=IN IP6 ff00::\r\n", true },
        { "c=IN IP6 ff02::1:2/2\r\n", true },
    };
    struct aoip_sdp_stream s;
    char media[256];

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        snprintf(media, sizeof media, "m=audio 5004 RTP/AVP 96\r\n%sa=rtpmap:96 L24/48000/2\r\n",
                 cases[i].c);
        assert_int_equal(parse_media(&s, media), 0);
        assert_int_equal(s.multicast, cases[i].multicast);
    }
}

static void sdp_reads_ttl_and_skips_address_count(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 97\r\n"
                                     "c=IN IP4 238.0.139.122/64/1\r\n"
                                     "a=rtpmap:97 L24/48000/4\r\n"),
                     0);
    assert_string_equal(s.address, "238.0.139.122");
    assert_int_equal(s.ttl, 64);

    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 97\r\n"
                                     "c=IN IP4 239.1.2.3/255/3\r\n"
                                     "a=rtpmap:97 L24/48000/4\r\n"),
                     0);
    assert_string_equal(s.address, "239.1.2.3");
    assert_int_equal(s.ttl, 255);
}

static void sdp_media_level_connection_overrides_session(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, "v=0\r\n"
                               "s=two levels\r\n"
                               "c=IN IP4 239.1.1.1/16\r\n"
                               "t=0 0\r\n"
                               "m=audio 5004 RTP/AVP 96\r\n"
                               "c=IN IP4 10.0.0.2\r\n"
                               "a=rtpmap:96 L24/48000/2\r\n"),
                     0);
    assert_string_equal(s.address, "10.0.0.2");
    assert_false(s.multicast);
    assert_int_equal(s.ttl, 0);

    /* Without a media-level c=, the session's applies. */
    assert_int_equal(parse(&s, "v=0\r\n"
                               "s=two levels\r\n"
                               "c=IN IP4 239.1.1.1/16\r\n"
                               "t=0 0\r\n"
                               "m=audio 5004 RTP/AVP 96\r\n"
                               "a=rtpmap:96 L24/48000/2\r\n"),
                     0);
    assert_string_equal(s.address, "239.1.1.1");
    assert_true(s.multicast);
    assert_int_equal(s.ttl, 16);
}

/* Parses L24_STREAM at the given rate with an attribute line added; returns ptime_us. */
static uint32_t ptime_of(const char *rate, const char *attrs)
{
    struct aoip_sdp_stream s;
    char media[512];

    snprintf(media, sizeof media,
             "m=audio 5004 RTP/AVP 96\r\nc=IN IP4 10.0.0.2\r\na=rtpmap:96 L24/%s/2\r\n%s", rate,
             attrs);
    assert_int_equal(parse_media(&s, media), 0);
    return s.ptime_us;
}

static void sdp_fractional_ptime_in_microseconds(void **state)
{
    (void)state;
    assert_int_equal(ptime_of("48000", "a=ptime:0.125\r\n"), 125);
    assert_int_equal(ptime_of("48000", "a=ptime:0.250\r\n"), 250);
    assert_int_equal(ptime_of("48000", "a=ptime:0.333\r\n"), 333);
    assert_int_equal(ptime_of("48000", "a=ptime:1\r\n"), 1000);
    assert_int_equal(ptime_of("48000", "a=ptime:1.000\r\n"), 1000);
    assert_int_equal(ptime_of("48000", "a=ptime:4\r\n"), 4000);
    assert_int_equal(ptime_of("48000", "a=ptime:20\r\n"), 20000);
    /* Rounded half up at the fourth decimal. */
    assert_int_equal(ptime_of("48000", "a=ptime:0.3334\r\n"), 333);
    assert_int_equal(ptime_of("48000", "a=ptime:0.3335\r\n"), 334);
    assert_int_equal(ptime_of("48000", "a=ptime:0.0005\r\n"), 1);
    /* AES67's 1/3 ms written with two decimals: 16 frames at 48 kHz. */
    assert_int_equal(ptime_of("48000", "a=ptime:0.33\r\n"), 333);
    /* Trailing blanks are tolerated. */
    assert_int_equal(ptime_of("48000", "a=ptime:2.5 \r\n"), 2500);
}

static void sdp_ptime_of_two_decimals_snaps_to_whole_frames(void **state)
{
    (void)state;
    /* Rounded ("0.33", "0.67") or cut ("0.12") from 16, 32 and 6 frames. */
    assert_int_equal(ptime_of("48000", "a=ptime:0.33\r\n"), 333);
    assert_int_equal(ptime_of("48000", "a=ptime:0.67\r\n"), 667);
    assert_int_equal(ptime_of("48000", "a=ptime:0.12\r\n"), 125);
    assert_int_equal(ptime_of("96000", "a=ptime:0.33\r\n"), 333);
    /* At 44.1 kHz no whole number of frames lies in [0.325, 0.34) ms. */
    assert_int_equal(ptime_of("44100", "a=ptime:0.33\r\n"), 330);
    /* At 8 kHz both 2 and 3 frames could be written "0.3": taken as written. */
    assert_int_equal(ptime_of("8000", "a=ptime:0.3\r\n"), 300);
    /* Three decimals are taken as written even when no frame count fits. */
    assert_int_equal(ptime_of("48000", "a=ptime:0.120\r\n"), 120);
}

static void sdp_derives_ptime_from_framecount(void **state)
{
    (void)state;
    assert_int_equal(ptime_of("48000", "a=framecount:6\r\n"), 125);
    assert_int_equal(ptime_of("48000", "a=framecount:16\r\n"), 333);
    assert_int_equal(ptime_of("48000", "a=framecount:48\r\n"), 1000);
    assert_int_equal(ptime_of("44100", "a=framecount:48\r\n"), 1088);
    /* What a Lawo device writes: the exact count settles the cut ptime. */
    assert_int_equal(ptime_of("48000", "a=framecount:6\r\na=ptime:0.12\r\n"), 125);
    assert_int_equal(ptime_of("48000", "a=ptime:1\r\na=framecount:48\r\n"), 1000);
}

static void sdp_session_level_ptime_applies_when_media_has_none(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, "v=0\r\n"
                               "s=x\r\n"
                               "a=ptime:4\r\n"
                               "m=audio 5004 RTP/AVP 96\r\n"
                               "c=IN IP4 10.0.0.2\r\n"
                               "a=rtpmap:96 L24/48000/2\r\n"),
                     0);
    assert_int_equal(s.ptime_us, 4000);
    assert_int_equal(parse(&s, "v=0\r\n"
                               "s=x\r\n"
                               "a=ptime:4\r\n"
                               "m=audio 5004 RTP/AVP 96\r\n"
                               "c=IN IP4 10.0.0.2\r\n"
                               "a=rtpmap:96 L24/48000/2\r\n"
                               "a=ptime:0.125\r\n"),
                     0);
    assert_int_equal(s.ptime_us, 125);
}

static void sdp_static_payload_type_needs_no_rtpmap(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 10\r\nc=IN IP4 10.0.0.2\r\n"), 0);
    assert_int_equal(s.payload_type, 10);
    assert_string_equal(s.encoding, "L16");
    assert_int_equal(s.clock_rate, 44100);
    assert_int_equal(s.channels, 2);

    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 11\r\nc=IN IP4 10.0.0.2\r\n"), 0);
    assert_int_equal(s.payload_type, 11);
    assert_string_equal(s.encoding, "L16");
    assert_int_equal(s.clock_rate, 44100);
    assert_int_equal(s.channels, 1);

    /* An rtpmap given for a static type is what the sender says it sends. */
    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 10\r\nc=IN IP4 10.0.0.2\r\n"
                                     "a=rtpmap:10 L16/48000/2\r\n"),
                     0);
    assert_int_equal(s.clock_rate, 48000);
}

static void sdp_uses_first_payload_type_of_media_line(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 97 96 11\r\n"
                                     "c=IN IP4 10.0.0.2\r\n"
                                     "a=rtpmap:96 L16/48000/2\r\n"
                                     "a=rtpmap:97 L24/96000/4\r\n"),
                     0);
    assert_int_equal(s.payload_type, 97);
    assert_string_equal(s.encoding, "L24");
    assert_int_equal(s.clock_rate, 96000);
    assert_int_equal(s.channels, 4);
}

static void sdp_ignores_rtpmap_of_other_payload_types(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    /* The value of another type's rtpmap is not the stream's business. */
    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 96 97\r\n"
                                     "c=IN IP4 10.0.0.2\r\n"
                                     "a=rtpmap:97 telephone-event\r\n"
                                     "a=rtpmap:96 L24/48000/2\r\n"),
                     0);
    assert_string_equal(s.encoding, "L24");
}

static void sdp_accepts_lf_line_ends_and_missing_final_newline(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, "v=0\n"
                               "o=- 0 0 IN IP4 127.0.0.1\n"
                               "s=No Name\n"
                               "c=IN IP4 127.0.0.1\n"
                               "t=0 0\n"
                               "m=audio 5010 RTP/AVP 96\n"
                               "a=rtpmap:96 L24/48000/2"),
                     0);
    assert_string_equal(s.encoding, "L24");
    assert_int_equal(s.channels, 2);

    assert_int_equal(parse(&s, "v=0\r\n"
                               "c=IN IP4 127.0.0.1\n"
                               "m=audio 5010 RTP/AVP 96\r\n"
                               "a=rtpmap:96 L16/44100/1\r"),
                     0);
    assert_string_equal(s.encoding, "L16");
    assert_int_equal(s.channels, 1);

    /* Blank lines closing a file are not lines of the description. */
    assert_int_equal(parse(&s, "v=0\r\n"
                               "c=IN IP4 127.0.0.1\r\n"
                               "m=audio 5010 RTP/AVP 10\r\n"
                               "\r\n\n\r\n"),
                     0);
    assert_int_equal(s.payload_type, 10);
}

static void sdp_tolerates_runs_of_blanks_between_fields(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse_media(&s, "m=audio  5004 RTP/AVP 96 \r\n"
                                     "c=IN  IP4\t10.0.0.2 \r\n"
                                     "a=rtpmap:96  L24/48000/2 \r\n"),
                     0);
    assert_int_equal(s.port, 5004);
    assert_string_equal(s.address, "10.0.0.2");
    assert_int_equal(s.channels, 2);
}

static void sdp_ignores_media_after_the_first_audio_stream(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    /* AES67 redundancy (a=group:DUP): the secondary stream's lines are skipped. */
    assert_int_equal(parse(&s, "v=0\r\n"
                               "o=- 1 1 IN IP4 10.198.32.165\r\n"
                               "s=redundant\r\n"
                               "t=0 0\r\n"
                               "a=group:DUP 1P 1S\r\n"
                               "m=audio 1234 RTP/AVP 97\r\n"
                               "c=IN IP4 238.0.139.122/64/1\r\n"
                               "a=rtpmap:97 L24/48000/4\r\n"
                               "a=ptime:0.125\r\n"
                               "a=mid:1P\r\n"
                               "m=audio 1236 RTP/SAVP 98\r\n"
                               "c=IN IP4 nowhere\r\n"
                               "a=rtpmap:98 broken\r\n"
                               "a=ptime:zero\r\n"
                               "s=second name\r\n"
                               "v=1\r\n"),
                     0);
    assert_string_equal(s.address, "238.0.139.122");
    assert_int_equal(s.port, 1234);
    assert_int_equal(s.payload_type, 97);
    assert_int_equal(s.ptime_us, 125);
    assert_string_equal(s.session, "redundant");

    /* ...but they must still be lines. */
    assert_int_equal(parse(&s, "v=0\r\n"
                               "m=audio 1234 RTP/AVP 97\r\n"
                               "c=IN IP4 10.0.0.2\r\n"
                               "a=rtpmap:97 L24/48000/4\r\n"
                               "m=audio 1236 RTP/AVP 98\r\n"
                               "not a line\r\n"),
                     AOIP_ESDP_LINE);
}

static void sdp_skips_media_before_the_audio_stream(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, "v=0\r\n"
                               "s=av\r\n"
                               "t=0 0\r\n"
                               "m=video 5000 RTP/AVP 96\r\n"
                               "c=IN IP4 10.0.0.9\r\n"
                               "a=rtpmap:96 H264/90000\r\n"
                               "a=ptime:40\r\n"
                               "m=audio 5002 RTP/AVP 96\r\n"
                               "c=IN IP4 10.0.0.2\r\n"
                               "a=rtpmap:96 opus/48000/2\r\n"),
                     0);
    assert_string_equal(s.address, "10.0.0.2");
    assert_int_equal(s.port, 5002);
    assert_string_equal(s.encoding, "opus");
    assert_int_equal(s.ptime_us, 0);
}

static void sdp_keeps_encoding_as_written(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 96\r\n"
                                     "c=IN IP4 10.0.0.2\r\n"
                                     "a=rtpmap:96 l24/48000/2\r\n"),
                     0);
    assert_string_equal(s.encoding, "l24");
    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 96\r\n"
                                     "c=IN IP4 10.0.0.2\r\n"
                                     "a=rtpmap:96 MULTIOPUS/48000/6\r\n"),
                     0);
    assert_string_equal(s.encoding, "MULTIOPUS");
    assert_int_equal(s.channels, 6);
}

static void sdp_does_not_require_origin_session_or_timing(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, "v=0\r\n" L24_STREAM), 0);
    assert_string_equal(s.session, "");
    assert_string_equal(s.address, "10.0.0.2");
    assert_string_equal(s.encoding, "L24");
}

static void sdp_reads_single_space_session_name_as_none(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, "v=0\r\ns= \r\n" L24_STREAM), 0);
    assert_string_equal(s.session, "");
    assert_int_equal(parse(&s, "v=0\r\ns=  two\r\n" L24_STREAM), 0);
    assert_string_equal(s.session, "  two");
    assert_int_equal(parse(&s, "v=0\r\ns=-\r\n" L24_STREAM), 0);
    assert_string_equal(s.session, "-");
}

static void sdp_parse_leaves_output_untouched_on_error(void **state)
{
    (void)state;
    struct aoip_sdp_stream s, before;

    memset(&s, 0x5A, sizeof s);
    before = s;
    /* Everything but the ptime is good, and ptime comes last. */
    assert_int_equal(parse_media(&s, L24_STREAM "a=ptime:fast\r\n"), AOIP_ESDP_PTIME);
    assert_memory_equal(&s, &before, sizeof s);
}

static void sdp_refuses_missing_version(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, "o=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\n" L24_STREAM),
                     AOIP_ESDP_VERSION);
    assert_int_equal(parse(&s, ""), AOIP_ESDP_VERSION);
    assert_int_equal(parse_bytes(&s, "", 0), AOIP_ESDP_VERSION);
}

static void sdp_refuses_version_not_first(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, "s=x\r\nv=0\r\n" L24_STREAM), AOIP_ESDP_VERSION);
}

static void sdp_refuses_version_other_than_zero(void **state)
{
    (void)state;
    static const char *const versions[] = { "v=1\r\n", "v=00\r\n", "v= 0\r\n", "v=0 \r\n",
                                            "v=\r\n" };
    struct aoip_sdp_stream s;
    char text[512];

    for (size_t i = 0; i < ARRAY_SIZE(versions); i++) {
        snprintf(text, sizeof text, "%s%s", versions[i], L24_STREAM);
        assert_int_equal(parse(&s, text), AOIP_ESDP_VERSION);
    }
}

static void sdp_refuses_second_version_line(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    /* A second v= starts a second description; that is not one stream. */
    assert_int_equal(parse(&s, "v=0\r\ns=one\r\nv=0\r\n" L24_STREAM), AOIP_ESDP_VERSION);
}

static void sdp_refuses_malformed_lines(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len;
    } cases[] = {
#define CASE(s) { s, sizeof(s) - 1 }
        CASE("V=0\r\n" L24_STREAM),
        CASE("v=0\r\nm=audio 5004 RTP/AVP 96\r\nC=IN IP4 10.0.0.2\r\n"),
        CASE("v=0\r\ns\r\n" L24_STREAM),
        CASE("v=0\r\ns =x\r\n" L24_STREAM),
        CASE("v=0\r\n=x\r\n" L24_STREAM),
        CASE("v=0\r\n1=x\r\n" L24_STREAM),
        CASE("v=0\r\n a=x\r\n" L24_STREAM),
        CASE("v=0\r\n\r\ns=blank line above\r\n" L24_STREAM),
        CASE("\r\nv=0\r\n" L24_STREAM),
        CASE("v=0\r\ns=bare\rcarriage return\r\n" L24_STREAM),
        CASE("v=0\r\ns=two carriage returns\r\r\n" L24_STREAM),
        CASE("v=0\r\ns=nul\0byte\r\n" L24_STREAM),
        CASE("v=0\r\n" L24_STREAM "x"),
#undef CASE
    };
    struct aoip_sdp_stream s;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        assert_int_equal(parse_bytes(&s, cases[i].text, cases[i].len), AOIP_ESDP_LINE);
}

static void sdp_refuses_malformed_connection(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "c=IN IP4\r\n",
        "c=IN\r\n",
        "c=\r\n",
        "c=ATM NSAP 47.0005.80.ffe100.0000.f115.1001.0001.0000.0000.0000.0000\r\n",
        "c=in ip4 10.0.0.2\r\n",
        "c=IN IPX 10.0.0.2\r\n",
        "c=IN IP4 10.0.0.2 10.0.0.3\r\n",
        "c=IN IP4 10.0.0.2/32\r\n",
        "c=IN IP4 239.1.1.1/256\r\n",
        "c=IN IP4 239.1.1.1/\r\n",
        "c=IN IP4 239.1.1.1/-1\r\n",
        "c=IN IP4 239.1.1.1/32/0\r\n",
        "c=IN IP4 239.1.1.1/32/2/2\r\n",
        "c=IN IP6 ff3e::1/2/2\r\n",
        "c=IN IP6 2001:db8::1/2\r\n",
    };
    struct aoip_sdp_stream s;
    char media[512];

    for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
        snprintf(media, sizeof media, "m=audio 5004 RTP/AVP 96\r\n%sa=rtpmap:96 L24/48000/2\r\n",
                 lines[i]);
        assert_int_equal(parse_media(&s, media), AOIP_ESDP_CONNECTION);
    }
}

static void sdp_refuses_missing_connection(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 96\r\na=rtpmap:96 L24/48000/2\r\n"),
                     AOIP_ESDP_CONNECTION);
    /* Another medium's address is not the stream's. */
    assert_int_equal(parse_media(&s, "m=video 5000 RTP/AVP 96\r\n"
                                     "c=IN IP4 10.0.0.9\r\n"
                                     "m=audio 5004 RTP/AVP 96\r\n"
                                     "a=rtpmap:96 L24/48000/2\r\n"),
                     AOIP_ESDP_CONNECTION);
}

static void sdp_refuses_non_numeric_address(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "c=IN IP4 host.example.com\r\n", "c=IN IP4 ::1\r\n",          "c=IN IP6 10.0.0.2\r\n",
        "c=IN IP4 256.0.0.1\r\n",        "c=IN IP4 10.0.0\r\n",       "c=IN IP4 /32\r\n",
        "c=IN IP6 fe80::1%eth0\r\n",     "c=IN IP6 ff3e::1::2/1\r\n",
    };
    struct aoip_sdp_stream s;
    char media[512];

    for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
        snprintf(media, sizeof media, "m=audio 5004 RTP/AVP 96\r\n%sa=rtpmap:96 L24/48000/2\r\n",
                 lines[i]);
        assert_int_equal(parse_media(&s, media), AOIP_ESDP_ADDRESS);
    }
}

static void sdp_refuses_malformed_media_line(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "m=audio 0 RTP/AVP 96\r\n",        "m=audio 65536 RTP/AVP 96\r\n",
        "m=audio 5004/2 RTP/AVP 96\r\n",   "m=audio -5004 RTP/AVP 96\r\n",
        "m=audio port RTP/AVP 96\r\n",     "m=audio 5004 RTP/AVP\r\n",
        "m=audio 5004 RTP/AVP 128\r\n",    "m=audio 5004 RTP/AVP 96 x\r\n",
        "m=audio 5004 RTP/AVP 96 300\r\n", "m=audio 5004 udp 96\r\n",
        "m=audio 5004 rtp/avp 96\r\n",     "m=audio\r\n",
    };
    struct aoip_sdp_stream s;
    char media[512];

    for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
        snprintf(media, sizeof media, "%sc=IN IP4 10.0.0.2\r\na=rtpmap:96 L24/48000/2\r\n",
                 lines[i]);
        assert_int_equal(parse_media(&s, media), AOIP_ESDP_MEDIA);
    }
}

static void sdp_refuses_profiles_other_than_rtp_avp(void **state)
{
    (void)state;
    static const char *const protos[] = { "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF",
                                          "UDP/TLS/RTP/SAVPF" };
    struct aoip_sdp_stream s;
    char media[512];

    for (size_t i = 0; i < ARRAY_SIZE(protos); i++) {
        snprintf(media, sizeof media,
                 "m=audio 5004 %s 96\r\nc=IN IP4 10.0.0.2\r\na=rtpmap:96 L24/48000/2\r\n",
                 protos[i]);
        assert_int_equal(parse_media(&s, media), AOIP_ESDP_MEDIA);
    }
}

static void sdp_refuses_description_without_audio(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, "v=0\r\ns=x\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"), AOIP_ESDP_MEDIA);
    assert_int_equal(parse(&s, "v=0\r\ns=x\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
                               "m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"),
                     AOIP_ESDP_MEDIA);
    /* The media type is a word of its own. */
    assert_int_equal(parse(&s, "v=0\r\nc=IN IP4 10.0.0.2\r\nm=audio5004 RTP/AVP 10\r\n"),
                     AOIP_ESDP_MEDIA);
}

static void sdp_refuses_dynamic_pt_without_rtpmap(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 96\r\nc=IN IP4 10.0.0.2\r\n"),
                     AOIP_ESDP_RTPMAP);
    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 96 97\r\nc=IN IP4 10.0.0.2\r\n"
                                     "a=rtpmap:97 L24/48000/2\r\n"),
                     AOIP_ESDP_RTPMAP);
    /* A static type other than the two L16 ones: aoip knows no table for it. */
    assert_int_equal(parse_media(&s, "m=audio 5004 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\n"),
                     AOIP_ESDP_RTPMAP);
    /* A session-level rtpmap describes no stream. */
    assert_int_equal(parse(&s, "v=0\r\na=rtpmap:96 L24/48000/2\r\nc=IN IP4 10.0.0.2\r\n"
                               "m=audio 5004 RTP/AVP 96\r\n"),
                     AOIP_ESDP_RTPMAP);
}

static void sdp_refuses_malformed_rtpmap(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "a=rtpmap:96 L24\r\n",
        "a=rtpmap:96 L24/\r\n",
        "a=rtpmap:96 /48000/2\r\n",
        "a=rtpmap:96 L24/0/2\r\n",
        "a=rtpmap:96 L24/4294967296/2\r\n",
        "a=rtpmap:96 L24/48k/2\r\n",
        "a=rtpmap:96 L24/48000/0\r\n",
        "a=rtpmap:96 L24/48000/257\r\n",
        "a=rtpmap:96 L24/48000/\r\n",
        "a=rtpmap:96 L24/48000/2/1\r\n",
        "a=rtpmap:96 L24/48000/2 extra\r\n",
        "a=rtpmap:96 L\xC3\xBC/48000/2\r\n",
        "a=rtpmap:96\r\n",
        "a=rtpmap\r\n",
        "a=rtpmap:x L24/48000/2\r\n",
        "a=rtpmap:128 L24/48000/2\r\n",
    };
    struct aoip_sdp_stream s;
    char media[512];

    for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
        snprintf(media, sizeof media, "m=audio 5004 RTP/AVP 96\r\nc=IN IP4 10.0.0.2\r\n%s",
                 lines[i]);
        assert_int_equal(parse_media(&s, media), AOIP_ESDP_RTPMAP);
    }
}

static void sdp_refuses_malformed_ptime(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "a=ptime:\r\n",
        "a=ptime\r\n",
        "a=ptime:0\r\n",
        "a=ptime:0.000\r\n",
        "a=ptime:abc\r\n",
        "a=ptime:1.\r\n",
        "a=ptime:.5\r\n",
        "a=ptime:-1\r\n",
        "a=ptime:1,5\r\n",
        "a=ptime:0.1x\r\n",
        "a=ptime:1 ms\r\n",
        "a=ptime:60000.001\r\n",
        "a=ptime:99999999999\r\n",
        "a=ptime:0.0004\r\n",
        "a=ptime:0.1234567891\r\n",
        "a=framecount:0\r\n",
        "a=framecount:x\r\n",
        "a=framecount:\r\n",
        "a=framecount:4294967296\r\n",
    };
    struct aoip_sdp_stream s;
    char media[512];

    for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
        snprintf(media, sizeof media, "%s%s", L24_STREAM, lines[i]);
        assert_int_equal(parse_media(&s, media), AOIP_ESDP_PTIME);
    }
    /* The longest packet time aoip takes, and nine decimals, are fine. */
    assert_int_equal(ptime_of("48000", "a=ptime:60000\r\n"), 60000000);
    assert_int_equal(ptime_of("48000", "a=ptime:0.125000000\r\n"), 125);
}

static void sdp_refuses_ptime_that_contradicts_framecount(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse_media(&s, L24_STREAM "a=ptime:1\r\na=framecount:6\r\n"),
                     AOIP_ESDP_PTIME);
    assert_int_equal(parse_media(&s, L24_STREAM "a=ptime:0.125\r\na=framecount:7\r\n"),
                     AOIP_ESDP_PTIME);
    /* A frame count too long to be a packet time. */
    assert_int_equal(parse_media(&s, L24_STREAM "a=framecount:4294967295\r\n"), AOIP_ESDP_PTIME);
}

static void sdp_refuses_repeated_lines(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;

    assert_int_equal(parse(&s, "v=0\r\ns=a\r\ns=b\r\n" L24_STREAM), AOIP_ESDP_DUPLICATE);
    assert_int_equal(parse(&s, "v=0\r\nc=IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.3\r\n" L24_STREAM),
                     AOIP_ESDP_DUPLICATE);
    assert_int_equal(parse_media(&s, L24_STREAM "c=IN IP4 10.0.0.3\r\n"), AOIP_ESDP_DUPLICATE);
    assert_int_equal(parse_media(&s, L24_STREAM "a=rtpmap:96 L16/48000/2\r\n"),
                     AOIP_ESDP_DUPLICATE);
    assert_int_equal(parse_media(&s, L24_STREAM "a=ptime:1\r\na=ptime:1\r\n"), AOIP_ESDP_DUPLICATE);
    assert_int_equal(parse_media(&s, L24_STREAM "a=framecount:48\r\na=framecount:48\r\n"),
                     AOIP_ESDP_DUPLICATE);
    assert_int_equal(parse(&s, "v=0\r\na=ptime:1\r\na=ptime:4\r\n" L24_STREAM),
                     AOIP_ESDP_DUPLICATE);
}

static void sdp_refuses_too_long(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;
    char *text = malloc(AOIP_SDP_MAX_TEXT + 1);
    size_t head = strlen(ffmpeg_l24_stereo), len = head;

    assert_non_null(text);
    /* The ffmpeg description padded with attribute lines to exactly the limit. */
    memcpy(text, ffmpeg_l24_stereo, head);
    while (len < AOIP_SDP_MAX_TEXT) {
        /* 100-byte lines, the last one 101 to 200 bytes long to land on the limit. */
        size_t line = AOIP_SDP_MAX_TEXT - len > 200 ? 100 : AOIP_SDP_MAX_TEXT - len;

        memcpy(text + len, "a=x-pad:", 8);
        memset(text + len + 8, 'p', line - 10);
        memcpy(text + len + line - 2, "\r\n", 2);
        len += line;
    }
    assert_int_equal(len, AOIP_SDP_MAX_TEXT);
    assert_int_equal(parse_bytes(&s, text, len), 0);
    assert_int_equal(s.port, 5010);

    /* One byte more and it is refused, whatever that byte is. */
    text[len] = '\n';
    assert_int_equal(parse_bytes(&s, text, len + 1), AOIP_ESDP_TOO_LONG);
    memset(text, 0, AOIP_SDP_MAX_TEXT + 1);
    assert_int_equal(parse_bytes(&s, text, AOIP_SDP_MAX_TEXT + 1), AOIP_ESDP_TOO_LONG);
    free(text);
}

static void sdp_refuses_overlong_fields(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;
    char name[200], text[1024];

    /* The session name: 127 bytes fit with the NUL, 128 do not. */
    memset(name, 'n', sizeof name);
    snprintf(text, sizeof text, "v=0\r\ns=%.127s\r\n" L24_STREAM, name);
    assert_int_equal(parse(&s, text), 0);
    assert_int_equal(strlen(s.session), 127);
    snprintf(text, sizeof text, "v=0\r\ns=%.128s\r\n" L24_STREAM, name);
    assert_int_equal(parse(&s, text), AOIP_ESDP_FIELD_TOO_LONG);

    /* The encoding name: 15 fit, 16 do not. */
    snprintf(text, sizeof text,
             "v=0\r\nm=audio 5004 RTP/AVP 96\r\nc=IN IP4 10.0.0.2\r\na=rtpmap:96 %.15s/48000\r\n",
             "ABCDEFGHIJKLMNOPQ");
    assert_int_equal(parse(&s, text), 0);
    assert_string_equal(s.encoding, "ABCDEFGHIJKLMNO");
    snprintf(text, sizeof text,
             "v=0\r\nm=audio 5004 RTP/AVP 96\r\nc=IN IP4 10.0.0.2\r\na=rtpmap:96 %.16s/48000\r\n",
             "ABCDEFGHIJKLMNOPQ");
    assert_int_equal(parse(&s, text), AOIP_ESDP_FIELD_TOO_LONG);

    /* No numeric address is as long as the address buffer: not cut, refused. */
    snprintf(text, sizeof text,
             "v=0\r\nm=audio 5004 RTP/AVP 96\r\nc=IN IP6 %.70s\r\na=rtpmap:96 L24/48000\r\n",
             "2001:0db8:0000:0000:0000:0000:0000:0001:2001:0db8:0000:0000:0000:0000:0001");
    assert_int_equal(parse(&s, text), AOIP_ESDP_ADDRESS);
    /* The longest IPv6 text form still fits. */
    assert_int_equal(parse(&s, "v=0\r\nm=audio 5004 RTP/AVP 96\r\n"
                               "c=IN IP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255\r\n"
                               "a=rtpmap:96 L24/48000\r\n"),
                     0);
    assert_string_equal(s.address, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
}

static void sdp_strerror_names_every_code(void **state)
{
    (void)state;
    for (int a = AOIP_ESDP_TOO_LONG; a >= AOIP_ESDP_FIELD_TOO_LONG; a--) {
        const char *ta = aoip_strerror(a);

        assert_non_null(ta);
        assert_string_not_equal(ta, "unknown error");
        assert_memory_equal(ta, "SDP ", 4);
        for (int b = a - 1; b >= AOIP_ESDP_FIELD_TOO_LONG; b--)
            assert_string_not_equal(ta, aoip_strerror(b));
    }
}

static struct aoip_sdp_stream flow(void)
{
    struct aoip_sdp_stream s;

    memset(&s, 0, sizeof s);
    strcpy(s.session, "Stage A");
    strcpy(s.address, "239.69.1.1");
    s.multicast = true;
    s.ttl = 32;
    s.port = 5004;
    s.payload_type = 97;
    strcpy(s.encoding, "L24");
    s.clock_rate = 48000;
    s.channels = 8;
    s.ptime_us = 1000;
    return s;
}

static void sdp_write_describes_multicast_l24_flow(void **state)
{
    (void)state;
    struct aoip_sdp_stream s = flow();
    char buf[1024];
    static const char want[] = "v=0\r\n"
                               "o=- 42 42 IN IP4 192.168.1.10\r\n"
                               "s=Stage A\r\n"
                               "c=IN IP4 239.69.1.1/32\r\n"
                               "t=0 0\r\n"
                               "m=audio 5004 RTP/AVP 97\r\n"
                               "a=rtpmap:97 L24/48000/8\r\n"
                               "a=ptime:1\r\n"
                               "a=sendonly\r\n";

    assert_int_equal(aoip_sdp_write(buf, sizeof buf, &s, "192.168.1.10", 42), strlen(want));
    assert_string_equal(buf, want);
}

static void sdp_write_describes_ipv6_unicast_without_ptime(void **state)
{
    (void)state;
    struct aoip_sdp_stream s = flow();
    char buf[1024];
    static const char want[] = "v=0\r\n"
                               "o=- 18446744073709551615 18446744073709551615 IN IP6 fe80::1\r\n"
                               "s= \r\n"
                               "c=IN IP6 2001:db8::5\r\n"
                               "t=0 0\r\n"
                               "m=audio 5006 RTP/AVP 96\r\n"
                               "a=rtpmap:96 opus/48000/2\r\n"
                               "a=sendonly\r\n";

    s.session[0] = '\0';
    strcpy(s.address, "2001:db8::5");
    s.multicast = false;
    s.ttl = 0;
    s.port = 5006;
    s.payload_type = 96;
    strcpy(s.encoding, "opus");
    s.channels = 2;
    s.ptime_us = 0;
    assert_int_equal(aoip_sdp_write(buf, sizeof buf, &s, "fe80::1", UINT64_MAX), strlen(want));
    assert_string_equal(buf, want);
}

/* The a=ptime line aoip_sdp_write gives us at rate, e.g. "a=ptime:0.125". */
static void written_ptime(char *out, size_t cap, uint32_t us, uint32_t rate)
{
    struct aoip_sdp_stream s = flow();
    char buf[1024];
    const char *line, *end;

    s.ptime_us = us;
    s.clock_rate = rate;
    assert_true(aoip_sdp_write(buf, sizeof buf, &s, "10.0.0.1", 1) > 0);
    line = strstr(buf, "a=ptime:");
    assert_non_null(line);
    end = strstr(line, "\r\n");
    assert_non_null(end);
    assert_in_range(end - line, 0, cap - 1);
    memcpy(out, line, (size_t)(end - line));
    out[end - line] = '\0';
}

static void sdp_write_gives_shortest_ptime_that_reads_back(void **state)
{
    (void)state;
    static const struct {
        uint32_t us, rate;
        const char *line;
    } cases[] = {
        { 1000, 48000, "a=ptime:1" },
        { 125, 48000, "a=ptime:0.125" },
        { 250, 48000, "a=ptime:0.25" },
        { 333, 48000, "a=ptime:0.333" },
        { 1500, 48000, "a=ptime:1.5" },
        { 4000, 48000, "a=ptime:4" },
        { 20000, 48000, "a=ptime:20" },
        { 1, 48000, "a=ptime:0.001" },
        { 60000000, 48000, "a=ptime:60000" },
        /* "0.12" would read back as 6 frames (125 us), so all three decimals. */
        { 120, 48000, "a=ptime:0.120" },
        { 670, 48000, "a=ptime:0.670" },
        { 330, 44100, "a=ptime:0.33" },
    };
    char line[64];

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        written_ptime(line, sizeof line, cases[i].us, cases[i].rate);
        assert_string_equal(line, cases[i].line);
    }
}

static void assert_same_stream(const struct aoip_sdp_stream *a, const struct aoip_sdp_stream *b)
{
    assert_string_equal(a->session, b->session);
    assert_string_equal(a->address, b->address);
    assert_int_equal(a->multicast, b->multicast);
    assert_int_equal(a->ttl, b->ttl);
    assert_int_equal(a->port, b->port);
    assert_int_equal(a->payload_type, b->payload_type);
    assert_string_equal(a->encoding, b->encoding);
    assert_int_equal(a->clock_rate, b->clock_rate);
    assert_int_equal(a->channels, b->channels);
    assert_int_equal(a->ptime_us, b->ptime_us);
}

static void sdp_write_round_trips(void **state)
{
    (void)state;
    char long_name[128];
    const char *const sessions[] = {
        "", "aoip flow", "tab\tand : colon", "-", "\xC3\xA9t\xC3\xA9", long_name,
    };
    static const struct {
        const char *address;
        bool multicast;
        bool ttl;
    } addresses[] = {
        { "127.0.0.1", false, false },        { "10.0.0.2", false, false },
        { "239.69.1.1", true, true },         { "224.0.0.0", true, true },
        { "ff3e::8000:1234", true, false },   { "2001:db8::5", false, false },
        { "::ffff:192.0.2.1", false, false },
    };
    static const char *const encodings[] = { "L24",  "L16",       "opus",
                                             "OPUS", "MULTIOPUS", "x-Very_Long.15c" };
    static const uint32_t rates[] = { 1, 8000, 44100, 48000, 96000, 192000, UINT32_MAX };
    static const unsigned channels[] = { 1, 2, 8, 64, 256 };
    static const uint32_t ptimes[] = { 0,   1,    21,   120,  125,  250,   300,    330,     333,
                                       667, 1000, 1088, 1500, 4000, 20000, 120000, 60000000 };
    static const uint16_t ports[] = { 1, 5004, 65535 };
    static const uint8_t pts[] = { 0, 10, 11, 96, 127 };
    static const char *const origins[] = { "192.168.1.10", "2001:db8::1", "node.example" };
    struct netmodel_rng rng;
    char buf[1024];

    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    netmodel_rng_seed(&rng, 0x5D9);
    for (int i = 0; i < 5000; i++) {
        struct aoip_sdp_stream s, back;
        size_t a = netmodel_rng_next(&rng) % ARRAY_SIZE(addresses);
        int n;

        memset(&s, 0, sizeof s);
        strcpy(s.session, sessions[netmodel_rng_next(&rng) % ARRAY_SIZE(sessions)]);
        strcpy(s.address, addresses[a].address);
        s.multicast = addresses[a].multicast;
        s.ttl = addresses[a].ttl ? (uint8_t)netmodel_rng_next(&rng) : 0;
        s.port = ports[netmodel_rng_next(&rng) % ARRAY_SIZE(ports)];
        s.payload_type = pts[netmodel_rng_next(&rng) % ARRAY_SIZE(pts)];
        strcpy(s.encoding, encodings[netmodel_rng_next(&rng) % ARRAY_SIZE(encodings)]);
        s.clock_rate = rates[netmodel_rng_next(&rng) % ARRAY_SIZE(rates)];
        s.channels = channels[netmodel_rng_next(&rng) % ARRAY_SIZE(channels)];
        s.ptime_us = ptimes[netmodel_rng_next(&rng) % ARRAY_SIZE(ptimes)];
        if (i % 4 == 3) /* and any microsecond at all */
            s.ptime_us = (uint32_t)(netmodel_rng_next(&rng) % 100000);

        n = aoip_sdp_write(buf, sizeof buf, &s,
                           origins[netmodel_rng_next(&rng) % ARRAY_SIZE(origins)],
                           netmodel_rng_next(&rng));
        assert_true(n > 0);
        assert_int_equal(strlen(buf), n);
        assert_int_equal(parse_bytes(&back, buf, (size_t)n), 0);
        assert_same_stream(&s, &back);
    }
}

static void sdp_write_round_trips_what_real_senders_wrote(void **state)
{
    (void)state;
    const char *const texts[] = { ffmpeg_l24_stereo, aes67_multicast, gstreamer_opus };
    struct aoip_sdp_stream a, b;
    char buf[1024];

    for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
        int n;

        assert_int_equal(parse(&a, texts[i]), 0);
        n = aoip_sdp_write(buf, sizeof buf, &a, "10.0.0.1", 7);
        assert_true(n > 0);
        assert_int_equal(parse_bytes(&b, buf, (size_t)n), 0);
        assert_same_stream(&a, &b);
    }
}

static void sdp_write_refuses_small_buffer(void **state)
{
    (void)state;
    struct aoip_sdp_stream s = flow();
    char full[1024];
    int n = aoip_sdp_write(full, sizeof full, &s, "192.168.1.10", 42);

    assert_true(n > 0);
    assert_int_equal(aoip_sdp_write(NULL, 0, &s, "192.168.1.10", 42), -ENOSPC);
    /* Every size short of the text and its NUL, each in a block of exactly that size. */
    for (size_t cap = 1; cap <= (size_t)n; cap++) {
        char *buf = malloc(cap);

        assert_non_null(buf);
        memset(buf, '#', cap);
        assert_int_equal(aoip_sdp_write(buf, cap, &s, "192.168.1.10", 42), -ENOSPC);
        /* Nothing that could pass for a description is left behind. */
        assert_int_equal(buf[0], '\0');
        free(buf);
    }
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(aoip_sdp_write(buf, (size_t)n + 1, &s, "192.168.1.10", 42), n);
    assert_string_equal(buf, full);
    free(buf);
}

static void sdp_write_refuses_undescribable_stream(void **state)
{
    (void)state;
    struct aoip_sdp_stream s;
    char buf[1024];

#define REFUSED(change)                                                                            \
    do {                                                                                           \
        s = flow();                                                                                \
        change;                                                                                    \
        assert_int_equal(aoip_sdp_write(buf, sizeof buf, &s, "10.0.0.1", 1), -EINVAL);             \
    } while (0)

    REFUSED(s.address[0] = '\0');
    REFUSED(s.encoding[0] = '\0');
    REFUSED(strcpy(s.address, "stage-a.local"));
    REFUSED(strcpy(s.address, "239.69.1.1/32"));
    REFUSED(s.multicast = false);
    REFUSED((strcpy(s.address, "10.0.0.2"), s.multicast = false, s.ttl = 32));
    REFUSED((strcpy(s.address, "ff3e::1"), s.ttl = 32));
    REFUSED((strcpy(s.address, "10.0.0.2"), s.ttl = 0)); /* but still flagged multicast */
    REFUSED(s.port = 0);
    REFUSED(s.payload_type = 128);
    REFUSED(s.clock_rate = 0);
    REFUSED(s.channels = 0);
    REFUSED(s.channels = 257);
    REFUSED(s.ptime_us = 60000001);
    REFUSED(strcpy(s.session, "two\r\nlines"));
    REFUSED(strcpy(s.session, " "));
    REFUSED(memset(s.session, 'x', sizeof s.session));
    REFUSED(memset(s.address, '1', sizeof s.address));
    REFUSED(memset(s.encoding, 'L', sizeof s.encoding));
    REFUSED(strcpy(s.encoding, "L24/2"));
    REFUSED(strcpy(s.encoding, "L 24"));
#undef REFUSED

    s = flow();
    assert_int_equal(aoip_sdp_write(buf, sizeof buf, &s, NULL, 1), -EINVAL);
    assert_int_equal(aoip_sdp_write(buf, sizeof buf, &s, "", 1), -EINVAL);
    assert_int_equal(aoip_sdp_write(buf, sizeof buf, &s, "10.0.0.1 x", 1), -EINVAL);
    assert_int_equal(aoip_sdp_write(buf, sizeof buf, NULL, "10.0.0.1", 1), -EINVAL);
    /* The same unicast address, flagged as such, is fine. */
    strcpy(s.address, "10.0.0.2");
    s.multicast = false;
    s.ttl = 0;
    assert_true(aoip_sdp_write(buf, sizeof buf, &s, "10.0.0.1", 1) > 0);
}

/* Seeded random bytes: nothing but 0 or a documented code comes back. */
static void sdp_parse_survives_random_bytes(void **state)
{
    (void)state;
    /* Half the inputs from an alphabet that makes SDP-looking lines. */
    static const char alphabet[] = "vosicmat=0123456789 ./:\r\n\r\nINIP4IP6RTP/AVPaudiortpmap";
    struct netmodel_rng rng;
    struct aoip_sdp_stream s;
    char text[600];
    int accepted = 0;

    netmodel_rng_seed(&rng, 0x5D9A);
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(netmodel_rng_next(&rng) % sizeof text);
        int ret;

        for (size_t k = 0; k < len; k++) {
            uint64_t x = netmodel_rng_next(&rng);
            text[k] = (i & 1) ? (char)x : alphabet[x % (sizeof alphabet - 1)];
        }
        if (i % 4 == 1 && len >= 4)
            memcpy(text, "v=0\n", 4);
        ret = parse_bytes(&s, text, len);
        assert_true(ret == 0 || is_sdp_error(ret));
        accepted += ret == 0;
    }
    /* Random bytes make no stream; if they do, the parser lets anything through. */
    assert_int_equal(accepted, 0);
}

/* Real descriptions, cut, flipped, spliced and repeated: 0 or a documented code. */
static void sdp_parse_survives_mutated_descriptions(void **state)
{
    (void)state;
    const char *const seeds[] = { ffmpeg_l24_stereo, aes67_multicast, gstreamer_opus };
    struct netmodel_rng rng;
    struct aoip_sdp_stream s;
    char text[4096];
    int accepted = 0, refused = 0;

    netmodel_rng_seed(&rng, 0x5D9B);
    for (int i = 0; i < 30000; i++) {
        const char *seed = seeds[netmodel_rng_next(&rng) % ARRAY_SIZE(seeds)];
        size_t len = strlen(seed);
        unsigned rounds = 1 + (unsigned)(netmodel_rng_next(&rng) % 3);
        int ret;

        memcpy(text, seed, len);
        for (unsigned r = 0; r < rounds; r++) {
            uint64_t x = netmodel_rng_next(&rng);
            size_t pos = len ? (size_t)(x >> 8) % len : 0;

            switch (x % 5) {
            case 0: /* cut */
                len = pos;
                break;
            case 1: /* one byte, any value */
                if (len)
                    text[pos] = (char)(x >> 40);
                break;
            case 2: /* one byte, a character that means something in SDP */
                if (len)
                    text[pos] = "=/:. \r\n0v9"[(x >> 40) % 10];
                break;
            case 3: /* delete a byte */
                if (len) {
                    memmove(text + pos, text + pos + 1, len - pos - 1);
                    len--;
                }
                break;
            default: /* repeat a stretch of the text after itself */
                if (len && len < sizeof text / 2) {
                    size_t n = (size_t)(x >> 40) % (len - pos + 1);

                    memmove(text + pos + n, text + pos, len - pos);
                    len += n;
                }
                break;
            }
        }
        ret = parse_bytes(&s, text, len);
        assert_true(ret == 0 || is_sdp_error(ret));
        if (ret == 0) {
            accepted++;
            assert_true(s.channels >= 1 && s.clock_rate >= 1 && s.port >= 1);
            assert_true(memchr(s.session, '\0', sizeof s.session) != NULL);
            assert_true(memchr(s.encoding, '\0', sizeof s.encoding) != NULL);
        } else {
            refused++;
        }
    }
    /* Both outcomes are common, so both paths were walked. */
    assert_true(accepted > 1000);
    assert_true(refused > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sdp_parses_ffmpeg_l24_stereo),
        cmocka_unit_test(sdp_parses_aes67_multicast_with_ttl),
        cmocka_unit_test(sdp_parses_gstreamer_opus_with_media_level_connection),
        cmocka_unit_test(sdp_parses_ipv6_connections),
        cmocka_unit_test(sdp_detects_multicast_at_range_edges),
        cmocka_unit_test(sdp_reads_ttl_and_skips_address_count),
        cmocka_unit_test(sdp_media_level_connection_overrides_session),
        cmocka_unit_test(sdp_fractional_ptime_in_microseconds),
        cmocka_unit_test(sdp_ptime_of_two_decimals_snaps_to_whole_frames),
        cmocka_unit_test(sdp_derives_ptime_from_framecount),
        cmocka_unit_test(sdp_session_level_ptime_applies_when_media_has_none),
        cmocka_unit_test(sdp_static_payload_type_needs_no_rtpmap),
        cmocka_unit_test(sdp_uses_first_payload_type_of_media_line),
        cmocka_unit_test(sdp_ignores_rtpmap_of_other_payload_types),
        cmocka_unit_test(sdp_accepts_lf_line_ends_and_missing_final_newline),
        cmocka_unit_test(sdp_tolerates_runs_of_blanks_between_fields),
        cmocka_unit_test(sdp_ignores_media_after_the_first_audio_stream),
        cmocka_unit_test(sdp_skips_media_before_the_audio_stream),
        cmocka_unit_test(sdp_keeps_encoding_as_written),
        cmocka_unit_test(sdp_does_not_require_origin_session_or_timing),
        cmocka_unit_test(sdp_reads_single_space_session_name_as_none),
        cmocka_unit_test(sdp_parse_leaves_output_untouched_on_error),
        cmocka_unit_test(sdp_refuses_missing_version),
        cmocka_unit_test(sdp_refuses_version_not_first),
        cmocka_unit_test(sdp_refuses_version_other_than_zero),
        cmocka_unit_test(sdp_refuses_second_version_line),
        cmocka_unit_test(sdp_refuses_malformed_lines),
        cmocka_unit_test(sdp_refuses_malformed_connection),
        cmocka_unit_test(sdp_refuses_missing_connection),
        cmocka_unit_test(sdp_refuses_non_numeric_address),
        cmocka_unit_test(sdp_refuses_malformed_media_line),
        cmocka_unit_test(sdp_refuses_profiles_other_than_rtp_avp),
        cmocka_unit_test(sdp_refuses_description_without_audio),
        cmocka_unit_test(sdp_refuses_dynamic_pt_without_rtpmap),
        cmocka_unit_test(sdp_refuses_malformed_rtpmap),
        cmocka_unit_test(sdp_refuses_malformed_ptime),
        cmocka_unit_test(sdp_refuses_ptime_that_contradicts_framecount),
        cmocka_unit_test(sdp_refuses_repeated_lines),
        cmocka_unit_test(sdp_refuses_too_long),
        cmocka_unit_test(sdp_refuses_overlong_fields),
        cmocka_unit_test(sdp_strerror_names_every_code),
        cmocka_unit_test(sdp_write_describes_multicast_l24_flow),
        cmocka_unit_test(sdp_write_describes_ipv6_unicast_without_ptime),
        cmocka_unit_test(sdp_write_gives_shortest_ptime_that_reads_back),
        cmocka_unit_test(sdp_write_round_trips),
        cmocka_unit_test(sdp_write_round_trips_what_real_senders_wrote),
        cmocka_unit_test(sdp_write_refuses_small_buffer),
        cmocka_unit_test(sdp_write_refuses_undescribable_stream),
        cmocka_unit_test(sdp_parse_survives_random_bytes),
        cmocka_unit_test(sdp_parse_survives_mutated_descriptions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
