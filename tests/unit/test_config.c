/*
 * test_config.c: aoipd's configuration reader (daemon/config.h).
 *
 * Every test parses a string with cfg_parse, as the daemon would read the
 * file, and checks either the fields that come out or the exact one-line
 * message, line number included, that a user would see. SDP files and
 * files for cfg_load are written to /tmp with mkstemp. The last test feeds
 * seeded mutations of the full example through the parser: it must answer
 * every one with 0 or a message, never crash or leak (the sanitizer build
 * checks the leaks).
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "aoip/common.h"
#include "aoip/control.h"
#include "aoip/opus.h"
#include "aoip/sdp.h"
#include "config.h"
#include "netmodel.h"

/* The example of the issue that introduced the file: its comments shortened, its lines kept. */
static const char example[] =
    "[node]\n"                                                                   /* 1 */
    "name = stage                      ; default: hostname\n"                    /* 2 */
    "state_dir = /var/lib/aoip         ; routes, keys; created 0700\n"           /* 3 */
    "control = /run/aoip/control.sock  ; local control socket (created 0660)\n"  /* 4 */
    "port = 7400                       ; peer TCP port; 0 = any free port\n"     /* 5 */
    "rtp_port = 0                      ; UDP port for incoming media; 0 = any\n" /* 6 */
    "sample_rate = 48000\n"                                                      /* 7 */
    "period_us = 1000\n"                                                         /* 8 */
    "latency_us = 3000                 ; receive latency target\n"               /* 9 */
    "encoding = L24                    ; default flow encoding: L24 or L16\n"    /* 10 */
    "packet_us = 1000                  ; 125, 250, 333, 1000, 4000\n"            /* 11 */
    "clock_skew_ppm = 0                ; the system media clock runs off\n"      /* 12 */
    "\n"                                                                         /* 13 */
    "[peer.truck]                      ; a statically known peer; repeatable\n"  /* 14 */
    "address = 127.0.0.1:7401\n"                                                 /* 15 */
    "\n"                                                                         /* 16 */
    "[input.mics]                      ; local input\n"                          /* 17 */
    "type = tone                       ; tone or wav here\n"                     /* 18 */
    "channels = 4\n"                                                             /* 19 */
    "names = mic1,mic2,mic3,mic4       ; default ch1..chN\n"                     /* 20 */
    "frequency = 440,554,659,880       ; tone: Hz per channel\n"                 /* 21 */
    "level_dbfs = -20\n"                                                         /* 22 */
    "; type = wav: path = FILE, loop = yes|no\n"                                 /* 23 */
    "\n"                                                                         /* 24 */
    "[output.rec]                      ; local output\n"                         /* 25 */
    "type = wav                        ; wav or null here\n"                     /* 26 */
    "path = /tmp/truck.wav\n"                                                    /* 27 */
    "channels = 2\n"                                                             /* 28 */
    "names = in1,in2\n"                                                          /* 29 */
    "\n"                                                                         /* 30 */
    "[bus.mix]                         ; a mix channel\n"                        /* 31 */
    "channels = 2\n"                                                             /* 32 */
    "names = mixL,mixR\n"                                                        /* 33 */
    "\n"                                                                         /* 34 */
    "[input.desk]                      ; plain RTP from equipment\n"             /* 35 */
    "type = rtp\n"                                                               /* 36 */
    "listen = 0.0.0.0:5004             ; or a multicast group\n"                 /* 37 */
    "encoding = L24                    ; L24 or L16\n"                           /* 38 */
    "channels = 2\n"                                                             /* 39 */
    "payload_type = 96\n"                                                        /* 40 */
    "; or instead of the four keys above: sdp = FILE\n"                          /* 41 */
    "\n"                                                                         /* 42 */
    "[output.desk]                     ; plain RTP to such equipment\n"          /* 43 */
    "type = rtp\n"                                                               /* 44 */
    "destination = 127.0.0.1:5006\n"                                             /* 45 */
    "encoding = L24\n"                                                           /* 46 */
    "channels = 2\n"                                                             /* 47 */
    "payload_type = 96\n"                                                        /* 48 */
    "packet_us = 1000\n";                                                        /* 49 */

/* A description as ffmpeg -sdp_file writes it. */
static const char ffmpeg_sdp[] = "v=0\n"
                                 "o=- 0 0 IN IP4 127.0.0.1\n"
                                 "s=No Name\n"
                                 "c=IN IP4 239.69.1.1\n"
                                 "t=0 0\n"
                                 "a=tool:libavformat 58.76.100\n"
                                 "m=audio 5004 RTP/AVP 97\n"
                                 "a=rtpmap:97 L24/48000/2\n";

static void expect_error(const char *text, const char *message)
{
    struct cfg cfg;
    char err[1024];
    assert_int_equal(cfg_parse(&cfg, text, "node.conf", err, sizeof(err)), -1);
    assert_string_equal(err, message);
    cfg_free(&cfg);
}

static void parse_ok(struct cfg *cfg, const char *text)
{
    char err[1024] = "";
    int r = cfg_parse(cfg, text, "node.conf", err, sizeof(err));
    if (r != 0)
        print_error("unexpected: %s\n", err);
    assert_int_equal(r, 0);
}

/* A file in /tmp holding text; its path goes into path. */
static void write_temp(char path[64], const char *text, size_t len)
{
    strcpy(path, "/tmp/aoip-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static const struct sockaddr_in *v4(const struct cfg_io *io)
{
    assert_int_equal(io->addr_len, sizeof(struct sockaddr_in));
    assert_int_equal(io->addr.ss_family, AF_INET);
    return (const struct sockaddr_in *)&io->addr;
}

static void assert_v4(const struct cfg_io *io, const char *ip, uint16_t port)
{
    const struct sockaddr_in *sa = v4(io);
    char buf[INET_ADDRSTRLEN];
    assert_non_null(inet_ntop(AF_INET, &sa->sin_addr, buf, sizeof(buf)));
    assert_string_equal(buf, ip);
    assert_int_equal(ntohs(sa->sin_port), port);
}

static void full_example_parses_every_field(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, example);

    assert_string_equal(cfg.path, "node.conf");
    assert_string_equal(cfg.name, "stage");
    assert_string_equal(cfg.state_dir, "/var/lib/aoip");
    assert_string_equal(cfg.control, "/run/aoip/control.sock");
    assert_int_equal(cfg.port, 7400);
    assert_int_equal(cfg.rtp_port, 0);
    assert_int_equal(cfg.sample_rate, 48000);
    assert_int_equal(cfg.period_us, 1000);
    assert_int_equal(cfg.latency_us, 3000);
    assert_int_equal(cfg.encoding, AOIP_PCM_L24);
    assert_int_equal(cfg.packet_us, 1000);
    assert_float_equal(cfg.clock_skew_ppm, 0, 0);

    assert_int_equal(cfg.n_peers, 1);
    assert_string_equal(cfg.peers[0].name, "truck");
    assert_int_equal(cfg.peers[0].line, 14);
    assert_string_equal(cfg.peers[0].host, "127.0.0.1");
    assert_int_equal(cfg.peers[0].port, 7401);

    assert_int_equal(cfg.n_ios, 5);
    const struct cfg_io *mics = &cfg.ios[0];
    assert_int_equal(mics->kind, CFG_INPUT);
    assert_int_equal(mics->type, CFG_TYPE_TONE);
    assert_string_equal(mics->name, "mics");
    assert_int_equal(mics->line, 17);
    assert_int_equal(mics->channels, 4);
    static const char *const mic_names[] = { "mic1", "mic2", "mic3", "mic4" };
    static const double mic_hz[] = { 440, 554, 659, 880 };
    for (unsigned i = 0; i < 4; i++) {
        assert_string_equal(mics->names[i], mic_names[i]);
        assert_float_equal(mics->frequency[i], mic_hz[i], 0);
    }
    assert_float_equal(mics->level_dbfs, -20, 0);
    assert_int_equal(mics->wave, CFG_WAVE_SINE);

    const struct cfg_io *rec = &cfg.ios[1];
    assert_int_equal(rec->kind, CFG_OUTPUT);
    assert_int_equal(rec->type, CFG_TYPE_WAV);
    assert_string_equal(rec->name, "rec");
    assert_int_equal(rec->line, 25);
    assert_string_equal(rec->path, "/tmp/truck.wav");
    assert_int_equal(rec->channels, 2);
    assert_string_equal(rec->names[0], "in1");
    assert_string_equal(rec->names[1], "in2");

    const struct cfg_io *mix = &cfg.ios[2];
    assert_int_equal(mix->kind, CFG_BUS);
    assert_int_equal(mix->type, CFG_TYPE_NONE);
    assert_string_equal(mix->name, "mix");
    assert_int_equal(mix->line, 31);
    assert_int_equal(mix->channels, 2);
    assert_string_equal(mix->names[0], "mixL");
    assert_string_equal(mix->names[1], "mixR");

    const struct cfg_io *in_desk = &cfg.ios[3];
    assert_int_equal(in_desk->kind, CFG_INPUT);
    assert_int_equal(in_desk->type, CFG_TYPE_RTP);
    assert_string_equal(in_desk->name, "desk");
    assert_int_equal(in_desk->line, 35);
    assert_v4(in_desk, "0.0.0.0", 5004);
    assert_int_equal(in_desk->encoding, AOIP_PCM_L24);
    assert_int_equal(in_desk->channels, 2);
    assert_int_equal(in_desk->payload_type, 96);
    assert_string_equal(in_desk->sdp, "");
    /* Default names count on after the four channels of [input.mics]. */
    assert_string_equal(in_desk->names[0], "ch5");
    assert_string_equal(in_desk->names[1], "ch6");

    const struct cfg_io *out_desk = &cfg.ios[4];
    assert_int_equal(out_desk->kind, CFG_OUTPUT);
    assert_int_equal(out_desk->type, CFG_TYPE_RTP);
    assert_string_equal(out_desk->name, "desk");
    assert_int_equal(out_desk->line, 43);
    assert_v4(out_desk, "127.0.0.1", 5006);
    assert_int_equal(out_desk->encoding, AOIP_PCM_L24);
    assert_int_equal(out_desk->channels, 2);
    assert_int_equal(out_desk->payload_type, 96);
    assert_int_equal(out_desk->packet_us, 1000);
    assert_string_equal(out_desk->names[0], "ch3");
    assert_string_equal(out_desk->names[1], "ch4");
    cfg_free(&cfg);
}

static void empty_file_gives_defaults(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "");
    assert_true(aoip_name_valid(cfg.name, strlen(cfg.name)));
    assert_string_equal(cfg.state_dir, "/var/lib/aoip");
    assert_string_equal(cfg.control, "/run/aoip/control.sock");
    assert_int_equal(cfg.port, 7400);
    assert_int_equal(cfg.rtp_port, 0);
    assert_int_equal(cfg.sample_rate, 48000);
    assert_int_equal(cfg.period_us, 1000);
    assert_int_equal(cfg.latency_us, 3000);
    assert_int_equal(cfg.encoding, AOIP_PCM_L24);
    assert_int_equal(cfg.packet_us, 1000);
    assert_float_equal(cfg.clock_skew_ppm, 0, 0);
    assert_true(cfg.discovery);
    assert_int_equal(cfg.multicast, CFG_MULTICAST_AUTO);
    assert_int_equal(cfg.multicast_ttl, 16);
    assert_int_equal(cfg.n_ios, 0);
    assert_null(cfg.ios);
    assert_int_equal(cfg.n_peers, 0);
    assert_null(cfg.peers);
    cfg_free(&cfg);
}

static void node_name_defaults_to_host_name_cut_at_dot(void **state)
{
    (void)state;
    char host[256] = "";
    assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
    host[strcspn(host, ".")] = '\0';
    host[CFG_NAME_MAX - 1] = '\0';
    for (char *s = host; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", *s))
            *s = '-';
    if (!aoip_name_valid(host, strlen(host)))
        skip(); /* an all-digit or empty host name: the fallback has its own rule */

    struct cfg cfg;
    parse_ok(&cfg, "[node]\nport = 7401\n");
    assert_string_equal(cfg.name, host);
    cfg_free(&cfg);
}

static void discovery_and_multicast_keys_parse(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node]\ndiscovery = no\nmulticast = Always\nmulticast_ttl = 1\n");
    assert_false(cfg.discovery);
    assert_int_equal(cfg.multicast, CFG_MULTICAST_ALWAYS);
    assert_int_equal(cfg.multicast_ttl, 1);
    cfg_free(&cfg);
    parse_ok(&cfg, "[node]\nmulticast = never\n");
    assert_int_equal(cfg.multicast, CFG_MULTICAST_NEVER);
    cfg_free(&cfg);
}

static void bad_multicast_keys_are_refused(void **state)
{
    (void)state;
    expect_error("[node]\nmulticast = sometimes\n",
                 "node.conf:2: multicast must be auto, never or always, not 'sometimes'");
    expect_error("[node]\nmulticast_ttl = 0\n",
                 "node.conf:2: multicast_ttl must be 1..255, not '0'");
    expect_error("[node]\ndiscovery = maybe\n",
                 "node.conf:2: discovery must be yes or no, not 'maybe'");
}

static void security_keys_parse(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node]\n");
    assert_int_equal(cfg.security, CFG_SECURITY_SEALED);
    assert_int_equal(cfg.rekey_s, 3600);
    assert_string_equal(cfg.secret_file, "");
    assert_false(cfg.has_trust);
    cfg_free(&cfg);
    parse_ok(&cfg, "[node]\nsecurity = open\nsecret_file = /etc/aoip/net.secret\n"
                   "rekey_s = 30\ncontrol_group = aoip\n"
                   "[trust]\nstage = 3f9a1c0e5b7d2a64\ntruck = 77c0aa1200ff3e01\n");
    assert_int_equal(cfg.security, CFG_SECURITY_OPEN);
    assert_string_equal(cfg.secret_file, "/etc/aoip/net.secret");
    assert_int_equal(cfg.rekey_s, 30);
    assert_string_equal(cfg.control_group, "aoip");
    assert_true(cfg.has_trust);
    assert_int_equal(cfg.n_trust, 2);
    assert_string_equal(cfg.trust[1].label, "truck");
    assert_string_equal(cfg.trust[1].id, "77c0aa1200ff3e01");
    cfg_free(&cfg);
    /* An empty [trust] lets no other node in. */
    parse_ok(&cfg, "[trust]\n");
    assert_true(cfg.has_trust);
    assert_int_equal(cfg.n_trust, 0);
    cfg_free(&cfg);
}

static void bad_security_keys_are_refused(void **state)
{
    (void)state;
    expect_error("[node]\nsecurity = maybe\n",
                 "node.conf:2: security must be sealed or open, not 'maybe'");
    expect_error("[node]\nrekey_s = 1\n", "node.conf:2: rekey_s must be 2..604800, not '1'");
    expect_error("[node]\ncontrol_group = a b\n",
                 "node.conf:2: control_group 'a b' is not a group name");
    expect_error("[trust]\nstage = 3F9A\n",
                 "node.conf:2: [trust] stage: '3F9A' is not a node id (16 lowercase hex "
                 "digits, as aoipctl nodes shows)");
    expect_error("[trust]\na = 3f9a1c0e5b7d2a64\nb = 3f9a1c0e5b7d2a64\n",
                 "node.conf:3: [trust] lists 3f9a1c0e5b7d2a64 twice");
    expect_error("[trust]\n[trust]\n", "node.conf:2: duplicate section [trust] (first at line 1)");
}

static void unknown_key_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\n"
                 "\n"
                 "[input.mics]\n"
                 "type = tone\n"
                 "channels = 4\n"
                 "frequncy = 440\n",
                 "node.conf:6: unknown key 'frequncy' in [input.mics]");
}

static void unknown_section_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nport = 1\n[mixer.x]\nchannels = 2\n",
                 "node.conf:3: unknown section [mixer.x] (there are [node], [trust], [peer.X], "
                 "[input.X], [output.X] and [bus.X])");
}

static void section_without_name_is_refused(void **state)
{
    (void)state;
    expect_error("[input]\ntype = tone\n", "node.conf:1: section [input] needs a name: "
                                           "[input.NAME]");
}

static void all_digit_section_name_is_refused(void **state)
{
    (void)state;
    expect_error("\n[bus.42]\nchannels = 2\n",
                 "node.conf:2: section name in [bus.42] must be 1..63 letters, digits, "
                 "'_', '.', '-' and not all digits");
}

static void long_section_name_is_kept_whole(void **state)
{
    (void)state;
    /* inih keeps only 49 bytes of a section name; the reader keeps all 63. */
    char name[64];
    memset(name, 'b', 63);
    name[63] = '\0';
    char text[256];
    snprintf(text, sizeof(text), "[bus.%s]\nchannels = 1\nnames = x\n", name);
    struct cfg cfg;
    parse_ok(&cfg, text);
    assert_string_equal(cfg.ios[0].name, name);
    cfg_free(&cfg);
}

static void duplicate_key_is_refused(void **state)
{
    (void)state;
    expect_error("[bus.mix]\nchannels = 2\nnames = a,b\nchannels = 3\n",
                 "node.conf:4: duplicate key 'channels' in [bus.mix] (first at line 2)");
}

static void duplicate_section_is_refused(void **state)
{
    (void)state;
    expect_error("[output.rec]\ntype = null\nchannels = 2\n\n[output.rec]\ntype = null\n",
                 "node.conf:5: duplicate section [output.rec] (first at line 1)");
}

static void same_name_for_input_and_output_section_is_allowed(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[input.desk]\ntype = tone\nchannels = 1\n"
                   "[output.desk]\ntype = null\nchannels = 1\n");
    assert_int_equal(cfg.n_ios, 2);
    cfg_free(&cfg);
}

static void empty_value_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nname = ; nothing\n", "node.conf:2: empty value for 'name' in [node]");
}

static void bad_number_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nsample_rate = fast\n",
                 "node.conf:2: sample_rate must be a whole number, not 'fast'");
}

static void trailing_junk_after_number_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nlatency_us = 3000us\n",
                 "node.conf:2: latency_us must be a whole number, not '3000us'");
}

static void port_out_of_range_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nname = stage\nport = 70000\n",
                 "node.conf:3: port must be 0..65535, not '70000'");
}

static void overflowing_number_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nrtp_port = 99999999999999999999999\n",
                 "node.conf:2: rtp_port must be 0..65535, not '99999999999999999999999'");
}

static void clock_skew_is_a_real_number(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node]\nclock_skew_ppm = -12.5\n");
    assert_float_equal(cfg.clock_skew_ppm, -12.5, 0);
    cfg_free(&cfg);
}

static void real_number_with_junk_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nclock_skew_ppm = 12ppm\n",
                 "node.conf:2: clock_skew_ppm must be a number, not '12ppm'");
}

static void real_number_out_of_range_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nclock_skew_ppm = 1e5\n",
                 "node.conf:2: clock_skew_ppm must be -10000..10000, not '1e5'");
}

static void overflowing_real_number_is_out_of_range(void **state)
{
    (void)state;
    expect_error("[node]\nclock_skew_ppm = -1e999\n",
                 "node.conf:2: clock_skew_ppm must be -10000..10000, not '-1e999'");
}

static void not_a_number_is_refused(void **state)
{
    (void)state;
    expect_error("[input.t]\ntype = tone\nchannels = 1\nlevel_dbfs = nan\n",
                 "node.conf:4: level_dbfs must be a number, not 'nan'");
}

static void period_not_whole_frames_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nperiod_us = 1001\n",
                 "node.conf:2: period_us 1001 is not a whole number of frames at 48000 Hz");
}

static void default_period_at_44100_is_refused_at_sample_rate(void **state)
{
    (void)state;
    expect_error("[node]\n\nsample_rate = 44100\n",
                 "node.conf:3: period_us 1000 is not a whole number of frames at 44100 Hz");
}

static void packet_time_must_be_an_aes67_one(void **state)
{
    (void)state;
    expect_error("[node]\npacket_us = 500\n",
                 "node.conf:2: packet_us must be one of 125, 250, 333, 1000, 4000, not '500'");
}

static void encoding_is_case_insensitive(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node]\nencoding = l16\n");
    assert_int_equal(cfg.encoding, AOIP_PCM_L16);
    cfg_free(&cfg);
}

static void unknown_encoding_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nencoding = L32\n",
                 "node.conf:2: encoding must be L24, L16 or opus, not 'L32'");
    expect_error("[peer.far]\nencoding = opus/48000\n",
                 "node.conf:2: encoding must be L24, L16 or opus, not 'opus/48000'");
}

static void invalid_node_name_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nname = my stage\n",
                 "node.conf:2: name must be 1..63 letters, digits, '_', '.', '-' and not all "
                 "digits, not 'my stage'");
}

static void names_count_mismatch_is_refused(void **state)
{
    (void)state;
    expect_error("[input.mics]\ntype = tone\nchannels = 4\nnames = a, b ,c\n",
                 "node.conf:4: names lists 3 names for 4 channels");
}

static void names_allow_blanks_around_commas(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[output.o]\ntype = null\nchannels = 3\nnames = a , b,c \n");
    assert_string_equal(cfg.ios[0].names[0], "a");
    assert_string_equal(cfg.ios[0].names[1], "b");
    assert_string_equal(cfg.ios[0].names[2], "c");
    cfg_free(&cfg);
}

static void name_listed_twice_is_refused(void **state)
{
    (void)state;
    expect_error("[output.o]\ntype = null\nchannels = 2\nnames = a,a\n",
                 "node.conf:4: names lists 'a' twice");
}

static void invalid_channel_name_is_refused(void **state)
{
    (void)state;
    expect_error("[output.o]\ntype = null\nchannels = 2\nnames = a,b/c\n",
                 "node.conf:4: channel name 'b/c' must be 1..63 letters, digits, '_', '.', "
                 "'-' and not all digits");
}

static void duplicate_source_name_across_input_and_bus_is_refused(void **state)
{
    (void)state;
    expect_error("[input.mics]\n"
                 "type = tone\n"
                 "channels = 2\n"
                 "names = vox,gtr\n"
                 "\n"
                 "[bus.mix]\n"
                 "channels = 2\n"
                 "names = mixL,vox\n",
                 "node.conf:8: source name 'vox' of [bus.mix] is taken by [input.mics] at "
                 "line 4");
}

static void duplicate_destination_name_with_default_names_is_refused(void **state)
{
    (void)state;
    /* [bus.ch] names its channels ch1, ch2, as the output does by default. */
    expect_error("[output.rec]\ntype = null\nchannels = 2\n\n[bus.ch]\nchannels = 1\n",
                 "node.conf:5: destination name 'ch1' of [bus.ch] is taken by [output.rec] at "
                 "line 1");
}

static void same_name_for_source_and_destination_is_allowed(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[input.i]\ntype = tone\nchannels = 1\nnames = x\n"
                   "[output.o]\ntype = null\nchannels = 1\nnames = x\n");
    cfg_free(&cfg);
}

static void default_names_number_across_inputs_and_outputs(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[input.a]\ntype = tone\nchannels = 2\n"
                   "[output.x]\ntype = null\nchannels = 1\n"
                   "[input.b]\ntype = tone\nchannels = 3\n"
                   "[output.y]\ntype = null\nchannels = 2\n");
    assert_string_equal(cfg.ios[0].names[1], "ch2");
    assert_string_equal(cfg.ios[1].names[0], "ch1");
    assert_string_equal(cfg.ios[2].names[0], "ch3");
    assert_string_equal(cfg.ios[2].names[2], "ch5");
    assert_string_equal(cfg.ios[3].names[0], "ch2");
    assert_string_equal(cfg.ios[3].names[1], "ch3");
    cfg_free(&cfg);
}

static void bus_default_names_use_the_bus_name(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[bus.mix]\nchannels = 2\n");
    assert_int_equal(cfg.ios[0].type, CFG_TYPE_NONE);
    assert_string_equal(cfg.ios[0].names[0], "mix1");
    assert_string_equal(cfg.ios[0].names[1], "mix2");
    cfg_free(&cfg);
}

static void missing_type_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\n\n[input.mics]\nchannels = 2\n\n[bus.b]\nchannels = 1\n",
                 "node.conf:3: [input.mics] has no 'type' (tone, wav, rtp, jack or alsa)");
}

static void missing_type_in_last_section_is_refused(void **state)
{
    (void)state;
    expect_error("[output.rec]\n",
                 "node.conf:1: [output.rec] has no 'type' (wav, null, rtp, jack or alsa)");
}

static void type_of_other_kind_is_refused(void **state)
{
    (void)state;
    expect_error("[input.x]\ntype = null\n",
                 "node.conf:2: type of [input.x] must be tone, wav, rtp, jack or alsa, not 'null'");
}

static void missing_channels_is_refused(void **state)
{
    (void)state;
    expect_error("[output.o]\ntype = null\n", "node.conf:1: [output.o] has no 'channels'");
}

static void channels_out_of_range_is_refused(void **state)
{
    (void)state;
    expect_error("[bus.b]\nchannels = 0\n", "node.conf:2: channels must be 1..256, not '0'");
}

static void key_for_another_type_is_refused(void **state)
{
    (void)state;
    expect_error("[input.mics]\ntype = tone\nchannels = 1\npath = /tmp/a.wav\n",
                 "node.conf:4: key 'path' does not apply to type tone in [input.mics]");
}

static void key_for_another_type_before_type_is_refused(void **state)
{
    (void)state;
    expect_error("[input.mics]\nchannels = 1\nloop = yes\nfrequency = 440\ntype = wav\n"
                 "path = a.wav\n",
                 "node.conf:4: key 'frequency' does not apply to type wav in [input.mics]");
}

static void type_in_a_bus_is_refused(void **state)
{
    (void)state;
    expect_error("[bus.mix]\ntype = tone\n",
                 "node.conf:2: key 'type' is only for inputs and outputs, not [bus.mix]");
}

static void single_frequency_applies_to_all_channels(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[input.t]\nfrequency = 997\ntype = tone\nchannels = 3\n");
    for (unsigned i = 0; i < 3; i++)
        assert_float_equal(cfg.ios[0].frequency[i], 997, 0);
    cfg_free(&cfg);
}

static void tone_frequency_defaults_to_1000(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[input.t]\ntype = tone\nchannels = 2\n");
    assert_float_equal(cfg.ios[0].frequency[0], 1000, 0);
    assert_float_equal(cfg.ios[0].frequency[1], 1000, 0);
    assert_float_equal(cfg.ios[0].level_dbfs, -20, 0);
    cfg_free(&cfg);
}

static void frequency_count_mismatch_is_refused(void **state)
{
    (void)state;
    expect_error("[input.t]\ntype = tone\nchannels = 3\nfrequency = 440, 880\n",
                 "node.conf:4: frequency lists 2 values for 3 channels (give 1 or 3)");
}

static void frequency_above_half_the_rate_is_refused(void **state)
{
    (void)state;
    /* [node] comes last: the check waits for it. */
    expect_error("[input.t]\ntype = tone\nchannels = 1\nfrequency = 5000\n"
                 "[node]\nsample_rate = 8000\n",
                 "node.conf:4: frequency 5000 Hz is above half the sample rate (8000 Hz)");
}

static void pulse_wave_is_read(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[input.t]\ntype = tone\nchannels = 1\nwave = pulse\nlevel_dbfs = -6\n");
    assert_int_equal(cfg.ios[0].wave, CFG_WAVE_PULSE);
    assert_float_equal(cfg.ios[0].level_dbfs, -6, 0);
    cfg_free(&cfg);
}

static void wav_input_loop_takes_yes_and_no_words(void **state)
{
    (void)state;
    static const char *const words[] = { "yes", "no", "true", "false", "on", "off", "1", "0" };
    for (unsigned i = 0; i < 8; i++) {
        char text[128];
        snprintf(text, sizeof(text),
                 "[input.w]\ntype = wav\npath = /a.wav\nchannels = 1\n"
                 "loop = %s\n",
                 words[i]);
        struct cfg cfg;
        parse_ok(&cfg, text);
        assert_int_equal(cfg.ios[0].loop, i % 2 == 0);
        cfg_free(&cfg);
    }
}

static void wav_input_loops_by_default(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[input.w]\ntype = wav\npath = /a.wav\nchannels = 1\n");
    assert_true(cfg.ios[0].loop);
    cfg_free(&cfg);
}

static void wav_without_path_is_refused(void **state)
{
    (void)state;
    expect_error("[output.rec]\ntype = wav\nchannels = 2\n", "node.conf:1: [output.rec] has no "
                                                             "'path'");
}

static void bad_address_is_refused(void **state)
{
    (void)state;
    expect_error("[input.desk]\ntype = rtp\nlisten = desk.local:5004\n",
                 "node.conf:3: listen must be IPV4:PORT or [IPV6]:PORT, numeric, port "
                 "1..65535, not 'desk.local:5004'");
}

static void unbracketed_ipv6_address_is_refused(void **state)
{
    (void)state;
    expect_error("[output.desk]\ntype = rtp\ndestination = ::1:5004\n",
                 "node.conf:3: destination must be IPV4:PORT or [IPV6]:PORT, numeric, port "
                 "1..65535, not '::1:5004'");
}

static void rtp_port_zero_is_refused(void **state)
{
    (void)state;
    expect_error("[output.desk]\ntype = rtp\ndestination = 127.0.0.1:0\n",
                 "node.conf:3: destination must be IPV4:PORT or [IPV6]:PORT, numeric, port "
                 "1..65535, not '127.0.0.1:0'");
}

static void unspecified_destination_is_refused(void **state)
{
    (void)state;
    expect_error("[output.desk]\ntype = rtp\ndestination = 0.0.0.0:5004\n",
                 "node.conf:3: destination may not be the unspecified address, as in "
                 "'0.0.0.0:5004'");
}

static void ipv6_addresses_are_read(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[input.desk]\ntype = rtp\nlisten = [ff02::1:5]:5004\nencoding = L16\n"
                   "channels = 2\npayload_type = 97\n"
                   "[peer.far]\naddress = [2001:db8::7]:7401\n");
    const struct cfg_io *io = &cfg.ios[0];
    assert_int_equal(io->addr.ss_family, AF_INET6);
    assert_int_equal(io->addr_len, sizeof(struct sockaddr_in6));
    const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)&io->addr;
    char buf[INET6_ADDRSTRLEN];
    assert_non_null(inet_ntop(AF_INET6, &sa->sin6_addr, buf, sizeof(buf)));
    assert_string_equal(buf, "ff02::1:5");
    assert_int_equal(ntohs(sa->sin6_port), 5004);
    assert_int_equal(io->encoding, AOIP_PCM_L16);
    assert_int_equal(io->payload_type, 97);
    assert_string_equal(cfg.peers[0].host, "2001:db8::7");
    assert_int_equal(cfg.peers[0].port, 7401);
    cfg_free(&cfg);
}

static void multicast_listen_is_allowed(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[input.desk]\ntype = rtp\nlisten = 239.69.1.1:5004\nencoding = L24\n"
                   "channels = 8\npayload_type = 98\n");
    assert_v4(&cfg.ios[0], "239.69.1.1", 5004);
    cfg_free(&cfg);
}

static void peer_host_name_is_kept_unresolved(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[peer.truck]\naddress = truck.example.org:7401\n");
    assert_string_equal(cfg.peers[0].name, "truck");
    assert_string_equal(cfg.peers[0].host, "truck.example.org");
    assert_int_equal(cfg.peers[0].port, 7401);
    cfg_free(&cfg);
}

static void latency_mode_and_target_parse_for_node_and_peer(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node]\nlatency = auto\nlatency_us = 5000\n\n"
                   "[peer.truck]\naddress = 192.0.2.1:7400\nlatency = fixed\nlatency_us = 2000\n\n"
                   "[peer.far]\nlatency_us = 40000\n");
    assert_int_equal(cfg.latency, CFG_LATENCY_AUTO);
    assert_int_equal(cfg.latency_us, 5000);
    assert_int_equal(cfg.n_peers, 2);
    assert_true(cfg.peers[0].has_latency);
    assert_int_equal(cfg.peers[0].latency, CFG_LATENCY_FIXED);
    assert_true(cfg.peers[0].has_latency_us);
    assert_int_equal(cfg.peers[0].latency_us, 2000);
    /* A section that only sets latency: for a peer discovery finds. */
    assert_string_equal(cfg.peers[1].host, "");
    assert_false(cfg.peers[1].has_latency);
    assert_true(cfg.peers[1].has_latency_us);
    assert_int_equal(cfg.peers[1].latency_us, 40000);
    cfg_free(&cfg);
    parse_ok(&cfg, "");
    assert_int_equal(cfg.latency, CFG_LATENCY_FIXED);
    cfg_free(&cfg);
}

static void bad_latency_keys_are_refused(void **state)
{
    (void)state;
    expect_error("[node]\nlatency = low\n",
                 "node.conf:2: latency must be auto or fixed, not 'low'");
    expect_error("[peer.x]\nlatency_us = -1\n",
                 "node.conf:2: latency_us must be 0..2000000, not '-1'");
    expect_error("[peer.x]\nlatency = auto\nlatency = fixed\n",
                 "node.conf:3: duplicate key 'latency' in [peer.x] (first at line 2)");
    expect_error("[peer.x]\nlatency_us = 1000\naddress = h:1\nlatency_us = 1000\n",
                 "node.conf:4: duplicate key 'latency_us' in [peer.x] (first at line 2)");
}

static void peer_without_address_is_refused(void **state)
{
    (void)state;
    expect_error("[peer.truck]\n\n[node]\n", "node.conf:1: [peer.truck] has no 'address'");
}

static void rtp_input_without_payload_type_is_refused(void **state)
{
    (void)state;
    expect_error("[input.desk]\ntype = rtp\nlisten = 0.0.0.0:5004\nencoding = L24\n"
                 "channels = 2\n",
                 "node.conf:1: [input.desk] has no 'payload_type' (or 'sdp')");
}

static void payload_type_outside_dynamic_range_is_refused(void **state)
{
    (void)state;
    expect_error("[output.desk]\ntype = rtp\npayload_type = 8\n",
                 "node.conf:3: payload_type must be 96..127, or 10 or 11 (L16), not '8'");
}

static void static_payload_type_needs_l16(void **state)
{
    (void)state;
    expect_error("[output.desk]\ntype = rtp\ndestination = 127.0.0.1:5006\nchannels = 2\n"
                 "payload_type = 10\n",
                 "node.conf:5: payload_type 10 is L16 (RFC 3551), not L24");
}

static void rtp_output_defaults_follow_the_node(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[output.desk]\ntype = rtp\ndestination = 127.0.0.1:5006\nchannels = 2\n"
                   "[node]\nencoding = L16\npacket_us = 333\n");
    assert_int_equal(cfg.ios[0].encoding, AOIP_PCM_L16);
    assert_int_equal(cfg.ios[0].packet_us, 333);
    assert_int_equal(cfg.ios[0].payload_type, 96);
    cfg_free(&cfg);
}

static void sdp_with_listen_is_refused(void **state)
{
    (void)state;
    char sdp[64];
    write_temp(sdp, ffmpeg_sdp, strlen(ffmpeg_sdp));
    char text[256], want[256];
    snprintf(text, sizeof(text), "[input.desk]\ntype = rtp\nsdp = %s\nlisten = 0.0.0.0:5004\n",
             sdp);
    snprintf(want, sizeof(want),
             "node.conf:4: 'listen' and 'sdp' may not both be given in [input.desk]: the SDP "
             "has the address");
    expect_error(text, want);
    unlink(sdp);
}

static void sdp_file_missing_is_refused(void **state)
{
    (void)state;
    expect_error("[input.desk]\ntype = rtp\nsdp = /nonexistent/desk.sdp\n",
                 "node.conf:3: sdp /nonexistent/desk.sdp: No such file or directory");
}

static void sdp_file_supplies_the_stream(void **state)
{
    (void)state;
    char sdp[64];
    write_temp(sdp, ffmpeg_sdp, strlen(ffmpeg_sdp));
    char text[256];
    snprintf(text, sizeof(text), "[input.desk]\ntype = rtp\nsdp = %s\nnames = left, right\n", sdp);
    struct cfg cfg;
    parse_ok(&cfg, text);
    const struct cfg_io *io = &cfg.ios[0];
    assert_string_equal(io->sdp, sdp);
    assert_v4(io, "239.69.1.1", 5004);
    assert_int_equal(io->encoding, AOIP_PCM_L24);
    assert_int_equal(io->channels, 2);
    assert_int_equal(io->payload_type, 97);
    assert_string_equal(io->names[0], "left");
    assert_string_equal(io->names[1], "right");
    cfg_free(&cfg);
    unlink(sdp);
}

static void sdp_file_relative_to_config_dir(void **state)
{
    (void)state;
    char sdp[64];
    write_temp(sdp, ffmpeg_sdp, strlen(ffmpeg_sdp));
    char text[256];
    /* The name stands for a file in /tmp; the SDP file is named by its base name. */
    snprintf(text, sizeof(text), "[input.desk]\ntype = rtp\nsdp = %s\n", sdp + strlen("/tmp/"));
    struct cfg cfg;
    char err[256];
    assert_int_equal(cfg_parse(&cfg, text, "/tmp/node.conf", err, sizeof(err)), 0);
    assert_string_equal(cfg.ios[0].sdp, sdp);
    assert_int_equal(cfg.ios[0].channels, 2);
    cfg_free(&cfg);
    unlink(sdp);
}

static void sdp_channels_must_match(void **state)
{
    (void)state;
    char sdp[64];
    write_temp(sdp, ffmpeg_sdp, strlen(ffmpeg_sdp));
    char text[256], want[256];
    snprintf(text, sizeof(text), "[input.desk]\ntype = rtp\nchannels = 4\nsdp = %s\n", sdp);
    snprintf(want, sizeof(want), "node.conf:3: channels 4 does not match sdp %s (2)", sdp);
    expect_error(text, want);
    unlink(sdp);
}

static void sdp_rate_must_match_the_node(void **state)
{
    (void)state;
    char sdp[64];
    write_temp(sdp, ffmpeg_sdp, strlen(ffmpeg_sdp));
    char text[256], want[256];
    snprintf(text, sizeof(text),
             "[node]\nsample_rate = 96000\n[input.desk]\ntype = rtp\nsdp = %s\n", sdp);
    snprintf(want, sizeof(want), "node.conf:5: sdp %s: 48000 Hz, but the node runs at 96000 Hz",
             sdp);
    expect_error(text, want);
    unlink(sdp);
}

static void sdp_parse_error_is_reported(void **state)
{
    (void)state;
    static const char bad[] = "v=1\ns=x\nc=IN IP4 239.69.1.1\nm=audio 5004 RTP/AVP 97\n"
                              "a=rtpmap:97 L24/48000/2\n";
    char sdp[64];
    write_temp(sdp, bad, strlen(bad));
    char text[256], want[512];
    snprintf(text, sizeof(text), "[input.desk]\n\ntype = rtp\nsdp = %s\n", sdp);
    snprintf(want, sizeof(want), "node.conf:4: sdp %s: %s", sdp, aoip_strerror(AOIP_ESDP_VERSION));
    expect_error(text, want);
    unlink(sdp);
}

static void sdp_of_another_encoding_is_refused(void **state)
{
    (void)state;
    static const char pcmu[] = "v=0\ns=x\nc=IN IP4 239.69.1.1\nt=0 0\nm=audio 5004 RTP/AVP 0\n"
                               "a=rtpmap:0 PCMU/8000\n";
    char sdp[64];
    write_temp(sdp, pcmu, strlen(pcmu));
    char text[256], want[512];
    snprintf(text, sizeof(text), "[input.desk]\ntype = rtp\nsdp = %s\n", sdp);
    snprintf(want, sizeof(want), "node.conf:3: sdp %s: encoding 'PCMU' is not L24, L16 or opus",
             sdp);
    expect_error(text, want);
    unlink(sdp);
}

static void sdp_file_larger_than_the_limit_is_refused(void **state)
{
    (void)state;
    size_t len = AOIP_SDP_MAX_TEXT + 1;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, '\n', len);
    memcpy(big, ffmpeg_sdp, strlen(ffmpeg_sdp));
    char sdp[64];
    write_temp(sdp, big, len);
    free(big);
    char text[256], want[512];
    snprintf(text, sizeof(text), "[input.desk]\ntype = rtp\nsdp = %s\n", sdp);
    snprintf(want, sizeof(want), "node.conf:3: sdp %s: larger than %d bytes", sdp,
             AOIP_SDP_MAX_TEXT);
    expect_error(text, want);
    unlink(sdp);
}

static void sdp_must_be_a_regular_file(void **state)
{
    (void)state;
    expect_error("[input.desk]\ntype = rtp\nsdp = /tmp\n",
                 "node.conf:3: sdp /tmp: not a regular file");
}

static void assert_opus(const struct cfg_opus *o, uint32_t bitrate, uint32_t frame_us, bool fec,
                        unsigned expected_loss)
{
    assert_int_equal(o->bitrate, bitrate);
    assert_int_equal(o->frame_us, frame_us);
    assert_int_equal(o->fec, fec);
    assert_int_equal(o->expected_loss, expected_loss);
}

static void opus_settings_default_to_aoip_opus_defaults(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[peer.truck]\naddress = 192.0.2.1:7400\n");
    assert_int_equal(cfg.encoding, CFG_ENC_L24);
    assert_opus(&cfg.opus, 64000, 0, true, AOIP_OPUS_DEFAULT_EXPECTED_LOSS);
    assert_int_equal(AOIP_OPUS_DEFAULT_EXPECTED_LOSS, 10);
    assert_int_equal(cfg.peers[0].encoding, CFG_ENC_L24);
    assert_int_equal(cfg.peers[0].packet_us, 1000);
    assert_opus(&cfg.peers[0].opus, 64000, 0, true, 10);
    cfg_free(&cfg);
}

static void opus_keys_parse_in_node(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node]\nencoding = opus\nopus_bitrate = 96\nopus_frame_ms = 2.5\n"
                   "opus_fec = no\nopus_expected_loss = 0\n");
    assert_int_equal(cfg.encoding, CFG_ENC_OPUS);
    assert_opus(&cfg.opus, 96000, 2500, false, 0);
    cfg_free(&cfg);

    static const struct {
        const char *text;
        uint32_t us;
    } frames[] = { { "5", 5000 }, { "10", 10000 }, { "20", 20000 }, { "auto", 0 } };
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text),
                 "[node]\nopus_frame_ms = %s\nopus_bitrate = 6\nopus_expected_loss = 100\n",
                 frames[i].text);
        parse_ok(&cfg, text);
        assert_opus(&cfg.opus, 6000, frames[i].us, true, 100);
        cfg_free(&cfg);
    }
    parse_ok(&cfg, "[node]\nopus_bitrate = 256\n");
    assert_int_equal(cfg.opus.bitrate, 256000);
    cfg_free(&cfg);
}

static void opus_encoding_takes_any_case(void **state)
{
    (void)state;
    static const char *const words[] = { "opus", "Opus", "OPUS" };
    for (size_t i = 0; i < 3; i++) {
        char text[128];
        snprintf(text, sizeof(text), "[node]\nencoding = %s\n[peer.far]\nencoding = %s\n", words[i],
                 words[i]);
        struct cfg cfg;
        parse_ok(&cfg, text);
        assert_int_equal(cfg.encoding, CFG_ENC_OPUS);
        assert_int_equal(cfg.peers[0].encoding, CFG_ENC_OPUS);
        cfg_free(&cfg);
    }
}

static void bad_opus_keys_are_refused(void **state)
{
    (void)state;
    expect_error("[node]\nopus_bitrate = 5\n", "node.conf:2: opus_bitrate must be 6..256, not '5'");
    expect_error("[node]\nopus_bitrate = 257\n",
                 "node.conf:2: opus_bitrate must be 6..256, not '257'");
    expect_error("[node]\nopus_bitrate = 64k\n",
                 "node.conf:2: opus_bitrate must be a whole number, not '64k'");
    expect_error("[peer.x]\nopus_frame_ms = 40\n",
                 "node.conf:2: opus_frame_ms must be 2.5, 5, 10, 20 or auto, not '40'");
    expect_error("[peer.x]\nopus_frame_ms = 2.50\n",
                 "node.conf:2: opus_frame_ms must be 2.5, 5, 10, 20 or auto, not '2.50'");
    expect_error("[node]\nopus_fec = maybe\n",
                 "node.conf:2: opus_fec must be yes or no, not 'maybe'");
    expect_error("[node]\nopus_expected_loss = 101\n",
                 "node.conf:2: opus_expected_loss must be 0..100, not '101'");
    expect_error("[output.desk]\ntype = rtp\nopus_expected_loss = -1\n",
                 "node.conf:3: opus_expected_loss must be 0..100, not '-1'");
    expect_error("[peer.x]\nopus_fec = no\nopus_fec = yes\n",
                 "node.conf:3: duplicate key 'opus_fec' in [peer.x] (first at line 2)");
    expect_error("[node]\nopus_bitrate = 64\nopus_bitrate = 64\n",
                 "node.conf:3: duplicate key 'opus_bitrate' in [node] (first at line 2)");
    expect_error("[peer.x]\nencoding =\n", "node.conf:2: empty value for 'encoding' in [peer.x]");
    expect_error("[peer.x]\npacket_us = 500\n",
                 "node.conf:2: packet_us must be one of 125, 250, 333, 1000, 4000, not '500'");
    expect_error("[peer.x]\nopus_bitrat = 64\n",
                 "node.conf:2: unknown key 'opus_bitrat' in [peer.x]");
}

static void peer_takes_what_it_does_not_set_from_a_later_node(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[peer.far]\n"
                   "address = 192.0.2.7:7400\n"
                   "encoding = opus\n"
                   "opus_bitrate = 32\n"
                   "opus_fec = yes\n"
                   "[peer.near]\n"
                   "address = 192.0.2.8:7400\n"
                   "packet_us = 250\n"
                   "[peer.found]\n" /* no address: only how a discovered peer is asked */
                   "opus_frame_ms = 20\n"
                   "[node]\n"
                   "encoding = L16\n"
                   "packet_us = 333\n"
                   "opus_bitrate = 128\n"
                   "opus_frame_ms = 10\n"
                   "opus_fec = no\n"
                   "opus_expected_loss = 25\n");
    assert_int_equal(cfg.n_peers, 3);
    const struct cfg_peer *far = &cfg.peers[0], *near = &cfg.peers[1], *found = &cfg.peers[2];
    assert_int_equal(far->encoding, CFG_ENC_OPUS);
    assert_int_equal(far->packet_us, 333);
    assert_opus(&far->opus, 32000, 10000, true, 25);
    assert_int_equal(near->encoding, CFG_ENC_L16);
    assert_int_equal(near->packet_us, 250);
    assert_opus(&near->opus, 128000, 10000, false, 25);
    assert_string_equal(found->host, "");
    assert_int_equal(found->encoding, CFG_ENC_L16);
    assert_int_equal(found->packet_us, 333);
    assert_opus(&found->opus, 128000, 20000, false, 25);
    cfg_free(&cfg);
}

static void rtp_output_opus_keys_follow_the_node_key_by_key(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[output.wan]\ntype = rtp\ndestination = 192.0.2.9:5004\nchannels = 2\n"
                   "encoding = opus\nopus_frame_ms = 5\n"
                   "[node]\nopus_bitrate = 48\nopus_expected_loss = 30\n");
    const struct cfg_io *io = &cfg.ios[0];
    assert_int_equal(io->encoding, CFG_ENC_OPUS);
    assert_int_equal(io->payload_type, 96);
    assert_opus(&io->opus, 48000, 5000, true, 30);
    cfg_free(&cfg);

    /* Opus keys beside a PCM encoding are kept, not refused. */
    parse_ok(&cfg, "[output.desk]\ntype = rtp\ndestination = 192.0.2.9:5004\nchannels = 8\n"
                   "opus_bitrate = 96\n");
    assert_int_equal(cfg.ios[0].encoding, CFG_ENC_L24);
    assert_opus(&cfg.ios[0].opus, 96000, 0, true, 10);
    cfg_free(&cfg);
}

static void rtp_opus_carries_one_or_two_channels(void **state)
{
    (void)state;
    expect_error("[output.wan]\ntype = rtp\ndestination = 192.0.2.9:5004\nchannels = 3\n"
                 "encoding = opus\n",
                 "node.conf:4: channels must be 1 or 2 with encoding opus (RFC 7587), not 3");
    expect_error("[input.wan]\ntype = rtp\nlisten = 0.0.0.0:5004\nencoding = opus\n"
                 "channels = 6\npayload_type = 111\n",
                 "node.conf:5: channels must be 1 or 2 with encoding opus (RFC 7587), not 6");
    /* A node that asks its peers for Opus leaves its plain RTP at L24. */
    struct cfg cfg;
    parse_ok(&cfg, "[node]\nencoding = opus\n\n"
                   "[output.desk]\ntype = rtp\ndestination = 127.0.0.1:5006\nchannels = 8\n");
    assert_int_equal(cfg.encoding, CFG_ENC_OPUS);
    assert_int_equal(cfg.ios[0].encoding, CFG_ENC_L24);
    cfg_free(&cfg);

    parse_ok(&cfg, "[input.wan]\ntype = rtp\nlisten = 0.0.0.0:5004\nencoding = opus\n"
                   "channels = 1\npayload_type = 111\n"
                   "[output.wan]\ntype = rtp\ndestination = 192.0.2.9:5004\nchannels = 2\n"
                   "encoding = Opus\n");
    assert_int_equal(cfg.ios[0].encoding, CFG_ENC_OPUS);
    assert_int_equal(cfg.ios[0].channels, 1);
    assert_int_equal(cfg.ios[0].payload_type, 111);
    assert_int_equal(cfg.ios[1].encoding, CFG_ENC_OPUS);
    assert_int_equal(cfg.ios[1].channels, 2);
    cfg_free(&cfg);
}

static void keys_of_another_kind_say_where_they_belong(void **state)
{
    (void)state;
    expect_error("[input.wan]\ntype = rtp\nopus_bitrate = 64\n",
                 "node.conf:3: key 'opus_bitrate' is only for rtp outputs, not [input.wan]");
    expect_error(
        "[bus.mix]\nopus_fec = no\n",
        "node.conf:2: key 'opus_fec' is only for rtp inputs and rtp outputs, not [bus.mix]");
    expect_error("[input.t]\npacket_us = 1000\n",
                 "node.conf:2: key 'packet_us' is only for rtp outputs, not [input.t]");
    expect_error("[output.x]\nlisten = 0.0.0.0:5004\n",
                 "node.conf:2: key 'listen' is only for rtp inputs, not [output.x]");
    expect_error("[bus.mix]\nencoding = opus\n",
                 "node.conf:2: key 'encoding' is only for rtp inputs and rtp outputs, not "
                 "[bus.mix]");
    expect_error("[output.x]\nloop = no\n",
                 "node.conf:2: key 'loop' is only for wav inputs, not [output.x]");
    /* An output key on an output of another type keeps the message of its type. */
    expect_error("[output.rec]\ntype = wav\nopus_fec = no\n",
                 "node.conf:3: key 'opus_fec' does not apply to type wav in [output.rec]");
}

/* type = jack: one client per node, named aoip-NODE unless every jack
 * section that names it says the same; connect lists a port a channel. */
static void jack_sections(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node]\nname = stage\n[input.box]\ntype = jack\nchannels = 2\n"
                   "names = mic1,mic2\nconnect = system:capture_1,\n[output.mon]\ntype = jack\n"
                   "channels = 1\n");
    assert_int_equal(cfg.ios[0].type, CFG_TYPE_JACK);
    assert_string_equal(cfg.ios[0].client_name, "aoip-stage");
    assert_string_equal(cfg.ios[1].client_name, "aoip-stage");
    assert_string_equal(cfg.ios[0].connect, "system:capture_1,");
    cfg_free(&cfg);
    parse_ok(&cfg, "[input.a]\ntype = jack\nchannels = 1\nclient_name = desk\n[output.b]\n"
                   "type = jack\nchannels = 1\n");
    assert_string_equal(cfg.ios[1].client_name, "desk");
    cfg_free(&cfg);
    expect_error("[input.a]\ntype = jack\nchannels = 1\nclient_name = desk\n[output.b]\n"
                 "type = jack\nchannels = 1\nclient_name = other\n",
                 "node.conf:8: client_name 'other' is not the node's JACK client 'desk' (line 4): "
                 "a node is one JACK client");
    expect_error("[input.a]\ntype = jack\nchannels = 1\nconnect = x:1,x:2\n",
                 "node.conf:4: connect names 2 ports for 1 channels");
    expect_error("[input.a]\ntype = jack\nclient_name = a:b\n",
                 "node.conf:3: client_name 'a:b' must be at most 64 characters, no ':'");
    expect_error("[input.a]\ntype = tone\nconnect = x:1\n",
                 "node.conf:3: key 'connect' does not apply to type tone in [input.a]");
}

/* type = alsa: a device, its period (the node's unless given) and periods,
 * a format; [node] clock names the device that is the media clock. */
static void alsa_sections_and_clock(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node]\nperiod_us = 2000\n[input.line]\ntype = alsa\ndevice = hw:1,0\n"
                   "channels = 2\n[output.mon]\ntype = alsa\ndevice = plug:x\nperiod_us = 500\n"
                   "periods = 4\nformat = S24_3LE\naccess = rw\nchannels = 2\n[input.t]\ntype = "
                   "tone\nchannels = 1\n");
    assert_int_equal(cfg.ios[0].type, CFG_TYPE_ALSA);
    assert_string_equal(cfg.ios[0].device, "hw:1,0");
    assert_int_equal(cfg.ios[0].period_us, 2000);
    assert_int_equal(cfg.ios[0].periods, 2);
    assert_false(cfg.ios[0].has_format);
    assert_int_equal(cfg.ios[1].period_us, 500);
    assert_int_equal(cfg.ios[1].periods, 4);
    assert_true(cfg.ios[1].has_format);
    assert_int_equal(cfg.ios[1].format, AOIP_DEV_S24_3LE);
    assert_int_equal(cfg.ios[0].access, CFG_ACCESS_AUTO);
    assert_int_equal(cfg.ios[1].access, CFG_ACCESS_RW);
    /* The first device is the clock unless [node] says otherwise. */
    assert_string_equal(cfg.clock, "line");
    assert_true(cfg.ios[0].clock);
    assert_false(cfg.ios[1].clock);
    assert_false(cfg.ios[2].clock);
    cfg_free(&cfg);
    parse_ok(&cfg, "[node]\nclock = mon\n[input.line]\ntype = alsa\ndevice = a\nchannels = 1\n"
                   "[output.mon]\ntype = alsa\ndevice = b\nchannels = 1\n");
    assert_int_equal(cfg.ios[1].periods, 3);
    assert_false(cfg.ios[0].clock);
    assert_true(cfg.ios[1].clock);
    cfg_free(&cfg);
    /* A JACK clock is every jack section's; the system clock is nobody's. */
    parse_ok(&cfg,
             "[node]\nclock = b\n[input.a]\ntype = alsa\ndevice = a\nchannels = 1\n[input.b]\n"
             "type = jack\nchannels = 1\nserver = studio\n[output.c]\ntype = jack\nchannels = 1\n");
    assert_false(cfg.ios[0].clock);
    assert_true(cfg.ios[1].clock);
    assert_true(cfg.ios[2].clock);
    assert_string_equal(cfg.ios[2].server, "studio");
    cfg_free(&cfg);
    parse_ok(&cfg, "[node]\nclock = system\n[input.a]\ntype = alsa\ndevice = a\nchannels = 1\n");
    assert_false(cfg.ios[0].clock);
    cfg_free(&cfg);
    parse_ok(&cfg, "[input.t]\ntype = tone\nchannels = 1\n");
    assert_string_equal(cfg.clock, "system");
    cfg_free(&cfg);

    expect_error("[input.a]\ntype = alsa\nchannels = 1\n",
                 "node.conf:1: [input.a] of type alsa needs a device (hw:CARD,DEV or a PCM name)");
    expect_error("[node]\nclock = t\n[input.t]\ntype = tone\nchannels = 1\n",
                 "node.conf:2: clock 't' is not a jack or alsa input or output of this node, nor "
                 "'system'");
    expect_error("[node]\nclock = x\n[input.x]\ntype = alsa\ndevice = a\nchannels = 1\n[output.x]\n"
                 "type = alsa\ndevice = b\nchannels = 1\n",
                 "node.conf:2: clock 'x' names both [input.x] and [output.x]: rename one");
    expect_error("[input.a]\ntype = alsa\ndevice = a\nchannels = 1\nformat = s20\n",
                 "node.conf:5: format must be s32, s24_3le, s24, s16 or float, not 's20'");
    expect_error("[input.a]\ntype = alsa\ndevice = a\nchannels = 1\nperiods = 1\n",
                 "node.conf:5: periods must be 2..32, not '1'");
    expect_error("[node]\nsample_rate = 44100\nperiod_us = 10000\n[input.a]\ntype = alsa\ndevice = "
                 "a\nchannels = 1\n"
                 "period_us = 1000\n",
                 "node.conf:8: period_us 1000 is not a whole number of frames at 44100 Hz");
    expect_error("[input.a]\ntype = jack\nserver = x\nchannels = 1\n[input.b]\ntype = "
                 "jack\nchannels = 1\nserver = y\n",
                 "node.conf:8: server 'y' is not the node's JACK server 'x' (line 3): a node is "
                 "one JACK client");
    expect_error("[input.a]\ntype = jack\ndevice = x\nchannels = 1\n",
                 "node.conf:3: key 'device' does not apply to type jack in [input.a]");
}

static void opus_frames_fit_the_rate(void **state)
{
    (void)state;
    /* Opus at other rates: frames of a whole number of the node's frames. */
    struct cfg cfg;
    parse_ok(&cfg, "[node]\nsample_rate = 96000\nencoding = opus\nopus_frame_ms = 2.5\n");
    assert_int_equal(cfg.encoding, CFG_ENC_OPUS);
    assert_int_equal(cfg.opus.frame_us, 2500);
    cfg_free(&cfg);
    parse_ok(&cfg, "[node]\nsample_rate = 44100\nperiod_us = 10000\nencoding = opus\n"
                   "opus_frame_ms = 10\n[output.wan]\ntype = rtp\ndestination = 192.0.2.9:5004\n"
                   "channels = 2\nopus_frame_ms = 20\n");
    assert_int_equal(cfg.opus.frame_us, 10000);
    assert_int_equal(cfg.ios[0].opus.frame_us, 20000);
    cfg_free(&cfg);
    expect_error("[node]\nsample_rate = 44100\nperiod_us = 10000\nopus_frame_ms = 5\n",
                 "node.conf:4: opus_frame_ms 5 is no whole number of frames at 44100 Hz (Opus is "
                 "coded at 48 kHz and converted frame by frame); at this rate: 10, 20");
    expect_error("[peer.far]\naddress = h:1\nencoding = opus\nopus_frame_ms = 2.5\n[node]\n"
                 "sample_rate = 88200\nperiod_us = 10000\n",
                 "node.conf:4: opus_frame_ms 2.5 is no whole number of frames at 88200 Hz (Opus "
                 "is coded at 48 kHz and converted frame by frame); at this rate: 5, 10, 20");
    expect_error("[output.wan]\ntype = rtp\ndestination = 192.0.2.9:5004\nchannels = 2\n"
                 "encoding = opus\nopus_frame_ms = 5\n[node]\nsample_rate = 44100\n"
                 "period_us = 10000\n",
                 "node.conf:6: opus_frame_ms 5 is no whole number of frames at 44100 Hz (Opus is "
                 "coded at 48 kHz and converted frame by frame); at this rate: 10, 20");
}

static void static_payload_type_is_not_opus(void **state)
{
    (void)state;
    expect_error("[output.wan]\ntype = rtp\ndestination = 192.0.2.9:5004\nchannels = 2\n"
                 "encoding = opus\npayload_type = 11\n",
                 "node.conf:6: payload_type 11 is L16 (RFC 3551), not opus");
}

/* As GStreamer's rtpopuspay describes its stream: OPUS in capitals, always /2 (RFC 7587 7). */
static const char opus_sdp[] = "v=0\n"
                               "o=- 0 0 IN IP4 127.0.0.1\n"
                               "s=opus\n"
                               "c=IN IP4 239.69.1.2\n"
                               "t=0 0\n"
                               "m=audio 5006 RTP/AVP 111\n"
                               "a=rtpmap:111 OPUS/48000/2\n"
                               "a=fmtp:111 sprop-stereo=0\n";

static void sdp_of_opus_describes_an_opus_input(void **state)
{
    (void)state;
    char sdp[64];
    write_temp(sdp, opus_sdp, strlen(opus_sdp));
    char text[256];
    snprintf(text, sizeof(text), "[input.wan]\ntype = rtp\nsdp = %s\n", sdp);
    struct cfg cfg;
    parse_ok(&cfg, text);
    assert_int_equal(cfg.ios[0].encoding, CFG_ENC_OPUS);
    assert_int_equal(cfg.ios[0].channels, 2);
    assert_int_equal(cfg.ios[0].payload_type, 111);
    assert_v4(&cfg.ios[0], "239.69.1.2", 5006);
    cfg_free(&cfg);

    /* The rtpmap's 2 says nothing of the stream: a mono one is asked for by channels. */
    snprintf(text, sizeof(text), "[input.wan]\ntype = rtp\nsdp = %s\nchannels = 1\n", sdp);
    parse_ok(&cfg, text);
    assert_int_equal(cfg.ios[0].channels, 1);
    cfg_free(&cfg);

    char want[512];
    snprintf(text, sizeof(text), "[input.wan]\ntype = rtp\nsdp = %s\nencoding = L24\n", sdp);
    snprintf(want, sizeof(want), "node.conf:4: encoding L24 does not match sdp %s (OPUS)", sdp);
    expect_error(text, want);
    snprintf(text, sizeof(text), "[input.wan]\ntype = rtp\nsdp = %s\nchannels = 4\n", sdp);
    expect_error(text, "node.conf:4: channels must be 1 or 2 with encoding opus (RFC 7587), not 4");
    unlink(sdp);
}

static void inline_comments_are_stripped(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node] ; the node\nname = stage ; the ; rest\nstate_dir = /srv/my aoip ;x\n");
    assert_string_equal(cfg.name, "stage");
    /* Blanks inside a value stay; only those before the comment go. */
    assert_string_equal(cfg.state_dir, "/srv/my aoip");
    cfg_free(&cfg);
}

static void semicolon_without_blank_is_part_of_the_value(void **state)
{
    (void)state;
    /* inih takes ';' as a comment only after a blank: here it is in the path. */
    struct cfg cfg;
    parse_ok(&cfg, "[node]\nstate_dir = /srv/a;b\n");
    assert_string_equal(cfg.state_dir, "/srv/a;b");
    cfg_free(&cfg);
}

static void hash_starts_a_comment_line(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "# aoipd\n[node]\n  # port = 1\nport = 2\n");
    assert_int_equal(cfg.port, 2);
    cfg_free(&cfg);
}

static void crlf_line_endings_are_accepted(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node]\r\nname = stage\r\n\r\n[bus.mix]\r\nchannels = 2\r\n");
    assert_string_equal(cfg.name, "stage");
    assert_string_equal(cfg.ios[0].names[1], "mix2");
    cfg_free(&cfg);
    expect_error("[node]\r\n\r\nport = x\r\n", "node.conf:3: port must be a whole number, not "
                                               "'x'");
}

static void indented_keys_are_keys(void **state)
{
    (void)state;
    /* Stock inih takes an indented line for a continuation of the key before it. */
    struct cfg cfg;
    parse_ok(&cfg, "[node]\n  name = stage\n\tport = 7402\n");
    assert_string_equal(cfg.name, "stage");
    assert_int_equal(cfg.port, 7402);
    cfg_free(&cfg);
}

static void byte_order_mark_is_skipped(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "\xEF\xBB\xBF[node]\nport = 7403\n");
    assert_int_equal(cfg.port, 7403);
    cfg_free(&cfg);
}

static void relative_paths_resolve_against_config_dir(void **state)
{
    (void)state;
    struct cfg cfg;
    char err[256];
    assert_int_equal(cfg_parse(&cfg,
                               "[node]\nstate_dir = state\ncontrol = /run/c.sock\n"
                               "[output.rec]\ntype = wav\npath = takes/rec.wav\nchannels = 1\n",
                               "/etc/aoip/node.conf", err, sizeof(err)),
                     0);
    assert_string_equal(cfg.state_dir, "/etc/aoip/state");
    assert_string_equal(cfg.control, "/run/c.sock");
    assert_string_equal(cfg.ios[0].path, "/etc/aoip/takes/rec.wav");
    cfg_free(&cfg);
}

static void relative_paths_without_dir_use_dot(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node]\nstate_dir = state\n");
    assert_string_equal(cfg.state_dir, "./state");
    cfg_free(&cfg);
}

static void long_path_fits(void **state)
{
    (void)state;
    char *text = malloc(CFG_PATH_MAX + 64);
    assert_non_null(text);
    int n = snprintf(text, 64, "[node]\nstate_dir = /");
    memset(text + n, 'd', CFG_PATH_MAX - 2);
    strcpy(text + n + CFG_PATH_MAX - 2, "\n");
    struct cfg cfg;
    parse_ok(&cfg, text);
    assert_int_equal(strlen(cfg.state_dir), CFG_PATH_MAX - 1);
    cfg_free(&cfg);
    free(text);
}

static void line_too_long_is_refused(void **state)
{
    (void)state;
    size_t len = 2 * CFG_PATH_MAX;
    char *text = malloc(len + 64);
    assert_non_null(text);
    int n = snprintf(text, 64, "[node]\n\nstate_dir = /");
    memset(text + n, 'd', len);
    strcpy(text + n + len, "\n");
    struct cfg cfg;
    char err[256];
    assert_int_equal(cfg_parse(&cfg, text, "node.conf", err, sizeof(err)), -1);
    assert_true(strncmp(err, "node.conf:3: line longer than ", 30) == 0);
    cfg_free(&cfg);
    free(text);
}

static void path_too_long_is_refused(void **state)
{
    (void)state;
    char *text = malloc(CFG_PATH_MAX + 64);
    assert_non_null(text);
    int n = snprintf(text, 64, "[node]\nstate_dir = ");
    memset(text + n, 'd', CFG_PATH_MAX - 2); /* with "./" in front it is too long */
    strcpy(text + n + CFG_PATH_MAX - 2, "\n");
    char want[64];
    snprintf(want, sizeof(want), "node.conf:2: state_dir is longer than %d bytes",
             CFG_PATH_MAX - 1);
    expect_error(text, want);
    free(text);
}

static void line_without_equals_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\nport 7400\n",
                 "node.conf:2: expected 'key = value', a [section] or a comment, not 'port "
                 "7400'");
}

static void key_before_any_section_is_refused(void **state)
{
    (void)state;
    expect_error("; aoipd\nport = 7400\n", "node.conf:2: key 'port' comes before any [section]");
}

static void section_header_without_bracket_is_refused(void **state)
{
    (void)state;
    expect_error("[node]\n[bus.mix\n", "node.conf:2: section header '[bus.mix' has no closing "
                                       "']'");
}

static void junk_after_section_header_is_refused(void **state)
{
    (void)state;
    expect_error("[node] port = 1\n",
                 "node.conf:1: unexpected 'port = 1' after the section header");
}

static void too_many_peers_is_refused(void **state)
{
    (void)state;
    size_t cap = (CFG_MAX_PEERS + 1) * 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = 0;
    for (int i = 0; i <= CFG_MAX_PEERS; i++)
        len += (size_t)snprintf(text + len, cap - len, "[peer.p%d]\naddress = 10.0.0.1:%d\n", i,
                                7400 + i);
    char want[128];
    snprintf(want, sizeof(want), "node.conf:%d: too many [peer.X] sections: the limit is %d",
             2 * CFG_MAX_PEERS + 1, CFG_MAX_PEERS);
    expect_error(text, want);
    free(text);
}

static void too_many_ios_is_refused(void **state)
{
    (void)state;
    size_t cap = (CFG_MAX_IOS + 1) * 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = 0;
    for (int i = 0; i <= CFG_MAX_IOS; i++)
        len += (size_t)snprintf(text + len, cap - len, "[bus.b%d]\nchannels = 1\n", i);
    char want[128];
    snprintf(want, sizeof(want),
             "node.conf:%d: too many [input.X], [output.X] and [bus.X] sections: the limit is "
             "%d",
             2 * CFG_MAX_IOS + 1, CFG_MAX_IOS);
    expect_error(text, want);
    free(text);
}

static void cfg_load_reads_a_file_and_resolves_paths(void **state)
{
    (void)state;
    static const char text[] = "[node]\nname = stage\nstate_dir = st\n";
    char path[64];
    write_temp(path, text, strlen(text));
    struct cfg cfg;
    char err[256] = "";
    assert_int_equal(cfg_load(&cfg, path, err, sizeof(err)), 0);
    assert_string_equal(cfg.path, path);
    assert_string_equal(cfg.name, "stage");
    assert_string_equal(cfg.state_dir, "/tmp/st");
    cfg_free(&cfg);
    unlink(path);
}

static void cfg_load_reports_errors_with_the_path(void **state)
{
    (void)state;
    static const char text[] = "[node]\nport = -1\n";
    char path[64];
    write_temp(path, text, strlen(text));
    struct cfg cfg;
    char err[256], want[256];
    assert_int_equal(cfg_load(&cfg, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:2: port must be 0..65535, not '-1'", path);
    assert_string_equal(err, want);
    cfg_free(&cfg);
    unlink(path);
}

static void cfg_load_reports_a_missing_file(void **state)
{
    (void)state;
    struct cfg cfg;
    char err[256];
    assert_int_equal(cfg_load(&cfg, "/nonexistent/node.conf", err, sizeof(err)), -1);
    assert_string_equal(err, "/nonexistent/node.conf: No such file or directory");
    cfg_free(&cfg);
}

static void cfg_load_refuses_a_nul_byte(void **state)
{
    (void)state;
    static const char text[] = "[node]\nport = 1\0\n";
    char path[64];
    write_temp(path, text, sizeof(text) - 1);
    struct cfg cfg;
    char err[256], want[256];
    assert_int_equal(cfg_load(&cfg, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:2: a NUL byte: this is not a text file", path);
    assert_string_equal(err, want);
    cfg_free(&cfg);
    unlink(path);
}

static void cfg_free_twice_is_safe(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, example);
    cfg_free(&cfg);
    assert_null(cfg.ios);
    assert_int_equal(cfg.n_ios, 0);
    cfg_free(&cfg);
}

static void frames_round_to_nearest(void **state)
{
    (void)state;
    struct cfg cfg;
    parse_ok(&cfg, "[node]\nperiod_us = 250\n");
    assert_int_equal(cfg_period_frames(&cfg), 12);
    assert_int_equal(cfg_frames_of_us(&cfg, 333), 16); /* 15.984 */
    assert_int_equal(cfg_frames_of_us(&cfg, 4000), 192);
    assert_int_equal(cfg_frames_of_us(&cfg, 10), 0); /* 0.48 */
    assert_int_equal(cfg_frames_of_us(&cfg, 11), 1); /* 0.528 */
    cfg_free(&cfg);
}

static void garbage_gets_an_answer_or_a_message(void **state)
{
    (void)state;
    struct netmodel_rng r;
    netmodel_rng_seed(&r, 20240501);
    static const char junk[] = "[]=;#,:. \n\r\t0179aZ\xff";
    size_t base = strlen(example);
    char *buf = malloc(base * 2 + 1);
    assert_non_null(buf);
    unsigned failed = 0;
    for (int it = 0; it < 3000; it++) {
        size_t len = base;
        memcpy(buf, example, len);
        unsigned edits = 1 + (unsigned)(netmodel_rng_next(&r) % 6);
        for (unsigned e = 0; e < edits; e++) {
            uint64_t x = netmodel_rng_next(&r);
            size_t pos = (size_t)(x >> 16) % len;
            switch (x % 4) {
            case 0: /* a byte from the alphabet that matters to INI */
                buf[pos] = junk[(x >> 40) % (sizeof(junk) - 1)];
                break;
            case 1: /* drop a run */
            {
                size_t n = (size_t)(x >> 48) % 16;
                if (pos + n > len)
                    n = len - pos;
                memmove(buf + pos, buf + pos + n, len - pos - n);
                len -= n;
                break;
            }
            case 2: /* repeat a run */
            {
                size_t n = (size_t)(x >> 48) % 40;
                if (pos + n > len)
                    n = len - pos;
                if (len + n <= base * 2) {
                    memmove(buf + pos + n, buf + pos, len - pos);
                    len += n;
                }
                break;
            }
            default: /* cut */
                len = pos + 1;
                break;
            }
            if (len == 0)
                len = 1;
        }
        buf[len] = '\0';
        struct cfg cfg;
        char err[512] = "";
        int ret = cfg_parse(&cfg, buf, "node.conf", err, sizeof(err));
        if (ret != 0) {
            assert_int_equal(ret, -1);
            assert_true(strncmp(err, "node.conf:", 10) == 0);
            assert_true(strlen(err) > 10);
            failed++;
        }
        cfg_free(&cfg);
    }
    /* The mutations must reach the checks, not just pass through them. */
    assert_in_range(failed, 300, 2990);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_example_parses_every_field),
        cmocka_unit_test(empty_file_gives_defaults),
        cmocka_unit_test(discovery_and_multicast_keys_parse),
        cmocka_unit_test(bad_multicast_keys_are_refused),
        cmocka_unit_test(node_name_defaults_to_host_name_cut_at_dot),
        cmocka_unit_test(unknown_key_is_refused),
        cmocka_unit_test(security_keys_parse),
        cmocka_unit_test(bad_security_keys_are_refused),
        cmocka_unit_test(unknown_section_is_refused),
        cmocka_unit_test(section_without_name_is_refused),
        cmocka_unit_test(all_digit_section_name_is_refused),
        cmocka_unit_test(long_section_name_is_kept_whole),
        cmocka_unit_test(duplicate_key_is_refused),
        cmocka_unit_test(duplicate_section_is_refused),
        cmocka_unit_test(same_name_for_input_and_output_section_is_allowed),
        cmocka_unit_test(empty_value_is_refused),
        cmocka_unit_test(bad_number_is_refused),
        cmocka_unit_test(trailing_junk_after_number_is_refused),
        cmocka_unit_test(port_out_of_range_is_refused),
        cmocka_unit_test(overflowing_number_is_refused),
        cmocka_unit_test(clock_skew_is_a_real_number),
        cmocka_unit_test(real_number_with_junk_is_refused),
        cmocka_unit_test(real_number_out_of_range_is_refused),
        cmocka_unit_test(overflowing_real_number_is_out_of_range),
        cmocka_unit_test(not_a_number_is_refused),
        cmocka_unit_test(period_not_whole_frames_is_refused),
        cmocka_unit_test(default_period_at_44100_is_refused_at_sample_rate),
        cmocka_unit_test(packet_time_must_be_an_aes67_one),
        cmocka_unit_test(encoding_is_case_insensitive),
        cmocka_unit_test(unknown_encoding_is_refused),
        cmocka_unit_test(invalid_node_name_is_refused),
        cmocka_unit_test(names_count_mismatch_is_refused),
        cmocka_unit_test(names_allow_blanks_around_commas),
        cmocka_unit_test(name_listed_twice_is_refused),
        cmocka_unit_test(invalid_channel_name_is_refused),
        cmocka_unit_test(duplicate_source_name_across_input_and_bus_is_refused),
        cmocka_unit_test(duplicate_destination_name_with_default_names_is_refused),
        cmocka_unit_test(same_name_for_source_and_destination_is_allowed),
        cmocka_unit_test(default_names_number_across_inputs_and_outputs),
        cmocka_unit_test(bus_default_names_use_the_bus_name),
        cmocka_unit_test(missing_type_is_refused),
        cmocka_unit_test(missing_type_in_last_section_is_refused),
        cmocka_unit_test(type_of_other_kind_is_refused),
        cmocka_unit_test(missing_channels_is_refused),
        cmocka_unit_test(channels_out_of_range_is_refused),
        cmocka_unit_test(key_for_another_type_is_refused),
        cmocka_unit_test(key_for_another_type_before_type_is_refused),
        cmocka_unit_test(type_in_a_bus_is_refused),
        cmocka_unit_test(single_frequency_applies_to_all_channels),
        cmocka_unit_test(tone_frequency_defaults_to_1000),
        cmocka_unit_test(frequency_count_mismatch_is_refused),
        cmocka_unit_test(frequency_above_half_the_rate_is_refused),
        cmocka_unit_test(pulse_wave_is_read),
        cmocka_unit_test(wav_input_loop_takes_yes_and_no_words),
        cmocka_unit_test(wav_input_loops_by_default),
        cmocka_unit_test(wav_without_path_is_refused),
        cmocka_unit_test(bad_address_is_refused),
        cmocka_unit_test(unbracketed_ipv6_address_is_refused),
        cmocka_unit_test(rtp_port_zero_is_refused),
        cmocka_unit_test(unspecified_destination_is_refused),
        cmocka_unit_test(ipv6_addresses_are_read),
        cmocka_unit_test(multicast_listen_is_allowed),
        cmocka_unit_test(peer_host_name_is_kept_unresolved),
        cmocka_unit_test(peer_without_address_is_refused),
        cmocka_unit_test(latency_mode_and_target_parse_for_node_and_peer),
        cmocka_unit_test(bad_latency_keys_are_refused),
        cmocka_unit_test(rtp_input_without_payload_type_is_refused),
        cmocka_unit_test(payload_type_outside_dynamic_range_is_refused),
        cmocka_unit_test(static_payload_type_needs_l16),
        cmocka_unit_test(rtp_output_defaults_follow_the_node),
        cmocka_unit_test(sdp_with_listen_is_refused),
        cmocka_unit_test(sdp_file_missing_is_refused),
        cmocka_unit_test(sdp_file_supplies_the_stream),
        cmocka_unit_test(sdp_file_relative_to_config_dir),
        cmocka_unit_test(sdp_channels_must_match),
        cmocka_unit_test(sdp_rate_must_match_the_node),
        cmocka_unit_test(sdp_parse_error_is_reported),
        cmocka_unit_test(sdp_of_another_encoding_is_refused),
        cmocka_unit_test(sdp_file_larger_than_the_limit_is_refused),
        cmocka_unit_test(sdp_must_be_a_regular_file),
        cmocka_unit_test(opus_settings_default_to_aoip_opus_defaults),
        cmocka_unit_test(opus_keys_parse_in_node),
        cmocka_unit_test(opus_encoding_takes_any_case),
        cmocka_unit_test(bad_opus_keys_are_refused),
        cmocka_unit_test(peer_takes_what_it_does_not_set_from_a_later_node),
        cmocka_unit_test(rtp_output_opus_keys_follow_the_node_key_by_key),
        cmocka_unit_test(rtp_opus_carries_one_or_two_channels),
        cmocka_unit_test(keys_of_another_kind_say_where_they_belong),
        cmocka_unit_test(opus_frames_fit_the_rate),
        cmocka_unit_test(jack_sections),
        cmocka_unit_test(alsa_sections_and_clock),
        cmocka_unit_test(static_payload_type_is_not_opus),
        cmocka_unit_test(sdp_of_opus_describes_an_opus_input),
        cmocka_unit_test(inline_comments_are_stripped),
        cmocka_unit_test(semicolon_without_blank_is_part_of_the_value),
        cmocka_unit_test(hash_starts_a_comment_line),
        cmocka_unit_test(crlf_line_endings_are_accepted),
        cmocka_unit_test(indented_keys_are_keys),
        cmocka_unit_test(byte_order_mark_is_skipped),
        cmocka_unit_test(relative_paths_resolve_against_config_dir),
        cmocka_unit_test(relative_paths_without_dir_use_dot),
        cmocka_unit_test(long_path_fits),
        cmocka_unit_test(line_too_long_is_refused),
        cmocka_unit_test(path_too_long_is_refused),
        cmocka_unit_test(line_without_equals_is_refused),
        cmocka_unit_test(key_before_any_section_is_refused),
        cmocka_unit_test(section_header_without_bracket_is_refused),
        cmocka_unit_test(junk_after_section_header_is_refused),
        cmocka_unit_test(too_many_peers_is_refused),
        cmocka_unit_test(too_many_ios_is_refused),
        cmocka_unit_test(cfg_load_reads_a_file_and_resolves_paths),
        cmocka_unit_test(cfg_load_reports_errors_with_the_path),
        cmocka_unit_test(cfg_load_reports_a_missing_file),
        cmocka_unit_test(cfg_load_refuses_a_nul_byte),
        cmocka_unit_test(cfg_free_twice_is_safe),
        cmocka_unit_test(frames_round_to_nearest),
        cmocka_unit_test(garbage_gets_an_answer_or_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
