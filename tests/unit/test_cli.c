/*
 * test_cli.c: aoipctl, from its tables to its exit codes.
 *
 * Two halves. The renderers are called directly with canned answers of
 * proto/control.md and a memory stream, and their output is compared with
 * the exact text a user sees. Then the real aoipctl binary runs against a
 * fake daemon: the test listens on a Unix socket in a temporary directory,
 * starts aoipctl with -s pointing at it, reads each request line, answers
 * from a script (a canned line, silence, a hang-up, a signal to the
 * client), and checks the request JSON, stdout, stderr and the exit code.
 * Usage errors must not even connect: the listening socket is checked for
 * a pending connection after the client has exited.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "aoip/control.h"
#include "matrix.h"
#include "render.h"

#ifndef AOIPCTL_PATH
#error "AOIPCTL_PATH must name the aoipctl binary"
#endif

/* ---- rendering into a string ---- */

static const struct aoipctl_term plain = { .width = 80 };

/* JSON written with ' for ", so canned answers stay readable. */
static json_t *J(const char *text)
{
    char *s = strdup(text);
    json_error_t e;

    assert_non_null(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("bad canned JSON: %s: %s", e.text, s);
    free(s);
    return v;
}

typedef void (*render_fn)(FILE *out, const json_t *v, const struct aoipctl_term *t);

/* What render prints for the canned JSON; the caller frees it. */
static char *render(render_fn fn, const char *canned, const struct aoipctl_term *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    json_t *v = J(canned);

    assert_non_null(f);
    fn(f, v, t);
    fclose(f);
    json_decref(v);
    return buf;
}

static void assert_rendered(render_fn fn, const char *canned, const struct aoipctl_term *t,
                            const char *want)
{
    char *got = render(fn, canned, t);

    assert_string_equal(got, want);
    free(got);
}

/* Display columns of the longest line. */
static size_t widest_line(const char *s)
{
    size_t widest = 0, w = 0;

    for (; *s; s++) {
        if (*s == '\n') {
            widest = w > widest ? w : widest;
            w = 0;
        } else {
            w += ((unsigned char)*s & 0xC0) != 0x80;
        }
    }
    return w > widest ? w : widest;
}

static void assert_starts_with(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("'%s' does not start with '%s'", s, prefix);
}

/* ---- status, nodes, channels, routes ---- */

static const char status_answer[] =
    "{'name': 'stage', 'id': '3f9a1c0e5b7d2a64', 'version': '0.1.0', 'uptime_s': 12.5,"
    " 'sample_rate': 48000, 'period_us': 1000, 'latency_us': 3000, 'encoding': 'L24',"
    " 'packet_us': 1000, 'sources': 6, 'destinations': 4, 'routes': 3, 'flows': 2, 'peers': 1}";

static void status_lists_the_node_with_units(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_status, status_answer, &plain,
                    "node       stage\n"
                    "id         3f9a1c0e5b7d2a64\n"
                    "version    0.1.0\n"
                    "uptime     12.5 s\n"
                    "clock      48 kHz, period 1 ms\n"
                    "latency    3 ms\n"
                    "encoding   L24, 1 ms packets\n"
                    "channels   6 sources, 4 destinations\n"
                    "routes     3\n"
                    "flows      2\n"
                    "peers      1\n");
}

static void status_shows_fractions_and_long_uptimes(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_status,
                    "{'name': 'truck', 'uptime_s': 93784, 'sample_rate': 44100,"
                    " 'period_us': 125, 'latency_us': 2500, 'packet_us': 250}",
                    &plain,
                    "node       truck\n"
                    "id         -\n"
                    "version    -\n"
                    "uptime     1 d 02 h\n"
                    "clock      44.1 kHz, period 0.125 ms\n"
                    "latency    2.5 ms\n"
                    "encoding   -, 0.25 ms packets\n"
                    "channels   - sources, - destinations\n"
                    "routes     -\n"
                    "flows      -\n"
                    "peers      -\n");
}

static const char nodes_answer[] =
    "[{'name': 'stage', 'id': '3f9a1c0e5b7d2a64', 'address': '127.0.0.1:7400',"
    "  'state': 'online', 'sources': 6, 'destinations': 4},"
    " {'name': 'truck', 'id': '77c0d1e2f3a4b5c6', 'address': '10.0.0.12:7401',"
    "  'state': 'lost', 'sources': 2, 'destinations': 2}]";

static void nodes_table_aligns_columns(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_nodes, nodes_answer, &plain,
                    "NAME   STATE   ADDRESS         SOURCES  DESTINATIONS  ID\n"
                    "stage  online  127.0.0.1:7400        6             4  3f9a1c0e5b7d2a64\n"
                    "truck  lost    10.0.0.12:7401        2             2  77c0d1e2f3a4b5c6\n");
}

static void nodes_table_shows_lost_nodes_in_red_on_a_colour_terminal(void **state)
{
    struct aoipctl_term t = { .width = 80, .tty = true, .color = true };
    (void)state;

    assert_rendered(aoipctl_render_nodes, nodes_answer, &t,
                    "NAME   STATE   ADDRESS         SOURCES  DESTINATIONS  ID\n"
                    "stage  online  127.0.0.1:7400        6             4  3f9a1c0e5b7d2a64\n"
                    "\033[31mtruck  lost    10.0.0.12:7401        2             2  "
                    "77c0d1e2f3a4b5c6\033[0m\n");
}

static void channels_lists_each_channel_by_name_and_number(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_channels,
                    "{'sources': [{'node': 'stage', 'name': 'mic1', 'index': 1},"
                    "             {'node': 'stage', 'name': 'mic2', 'index': 2}],"
                    " 'destinations': [{'node': 'truck', 'name': 'in1', 'index': 1},"
                    "                  {'node': 'truck', 'name': 'bus1', 'index': 3}]}",
                    &plain,
                    "KIND         CHANNEL     NUMBER\n"
                    "source       stage/mic1  stage/1\n"
                    "source       stage/mic2  stage/2\n"
                    "destination  truck/in1   truck/1\n"
                    "destination  truck/bus1  truck/3\n");
}

static void channels_of_a_node_without_any_says_so(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_channels, "{'sources': [], 'destinations': []}", &plain,
                    "no channels\n");
}

static const char routes_answer[] =
    "[{'source': 'stage/mic1', 'destination': 'truck/in1', 'gain_db': -6, 'muted': false},"
    " {'source': 'stage/mic2', 'destination': 'truck/in1', 'gain_db': 3.0, 'muted': true},"
    " {'source': 'truck/bus1', 'destination': 'stage/mon', 'gain_db': -0.01, 'muted': false}]";

static void routes_table_shows_gain_in_db_and_mute(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_routes, routes_answer, &plain,
                    "SOURCE      DESTINATION     GAIN\n"
                    "stage/mic1  truck/in1    -6.0 dB\n"
                    "stage/mic2  truck/in1    +3.0 dB  muted\n"
                    "truck/bus1  stage/mon     0.0 dB\n");
}

static void routes_table_dims_muted_routes_on_a_colour_terminal(void **state)
{
    struct aoipctl_term t = { .width = 80, .tty = true, .color = true };
    char *got = render(aoipctl_render_routes, routes_answer, &t);
    (void)state;

    assert_non_null(strstr(got, "\n\033[2mstage/mic2  truck/in1    +3.0 dB  muted\033[0m\n"));
    assert_non_null(strstr(got, "\nstage/mic1  truck/in1    -6.0 dB\n"));
    free(got);
}

static void routes_table_has_a_latency_column_when_a_route_asks_for_one(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_routes,
                    "[{'source': 'stage/mic1', 'destination': 'truck/in1', 'gain_db': -6,"
                    "  'muted': false, 'latency_us': 20000},"
                    " {'source': 'stage/mic2', 'destination': 'truck/in1', 'gain_db': 3.0,"
                    "  'muted': true, 'latency_us': null},"
                    " {'source': 'stage/mic3', 'destination': 'truck/in2', 'gain_db': 0,"
                    "  'muted': true, 'latency_us': 2500}]",
                    &plain,
                    "SOURCE      DESTINATION     GAIN  LATENCY\n"
                    "stage/mic1  truck/in1    -6.0 dB    20 ms\n"
                    "stage/mic2  truck/in1    +3.0 dB        -  muted\n"
                    "stage/mic3  truck/in2     0.0 dB   2.5 ms  muted\n");
}

static void routes_table_without_latencies_has_no_latency_column(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_routes,
                    "[{'source': 'stage/mic1', 'destination': 'truck/in1', 'gain_db': -6,"
                    "  'muted': false, 'latency_us': null}]",
                    &plain,
                    "SOURCE      DESTINATION     GAIN\n"
                    "stage/mic1  truck/in1    -6.0 dB\n");
}

static void routes_empty_says_so(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_routes, "[]", &plain, "no routes\n");
}

static void render_added(FILE *out, const json_t *route, const struct aoipctl_term *t)
{
    aoipctl_render_route(out, "", route, t);
}

static void render_removed(FILE *out, const json_t *route, const struct aoipctl_term *t)
{
    aoipctl_render_route(out, "removed ", route, t);
}

static void route_is_one_line_with_gain_and_mute(void **state)
{
    (void)state;
    assert_rendered(render_added,
                    "{'source': 'stage/mic1', 'destination': 'truck/in1', 'gain_db': -6,"
                    " 'muted': true}",
                    &plain, "stage/mic1 -> truck/in1  -6.0 dB  muted\n");
    assert_rendered(render_removed,
                    "{'source': 'stage/3', 'destination': 'truck/in1', 'gain_db': 0,"
                    " 'muted': false}",
                    &plain, "removed stage/3 -> truck/in1  0.0 dB\n");
}

static void route_line_shows_the_latency_where_set(void **state)
{
    (void)state;
    assert_rendered(render_added,
                    "{'source': 'stage/mic1', 'destination': 'truck/in1', 'gain_db': -6,"
                    " 'muted': false, 'latency_us': 20000}",
                    &plain, "stage/mic1 -> truck/in1  -6.0 dB  latency 20 ms\n");
    assert_rendered(render_added,
                    "{'source': 'stage/mic1', 'destination': 'truck/in1', 'gain_db': 0,"
                    " 'muted': true, 'latency_us': 125}",
                    &plain, "stage/mic1 -> truck/in1  0.0 dB  muted  latency 0.125 ms\n");
    assert_rendered(render_removed,
                    "{'source': 'stage/mic1', 'destination': 'truck/in1', 'gain_db': 0,"
                    " 'muted': false, 'latency_us': null}",
                    &plain, "removed stage/mic1 -> truck/in1  0.0 dB\n");
}

static void gain_and_level_read_null_as_minus_infinity(void **state)
{
    char buf[32];
    json_t *v;
    (void)state;

    v = json_null();
    aoipctl_format_gain(buf, sizeof(buf), v);
    assert_string_equal(buf, "-inf dB");
    aoipctl_format_level(buf, sizeof(buf), v);
    assert_string_equal(buf, "-inf");
    json_decref(v);
    v = json_real(-23.01);
    aoipctl_format_level(buf, sizeof(buf), v);
    assert_string_equal(buf, "-23.0");
    aoipctl_format_gain(buf, sizeof(buf), v);
    assert_string_equal(buf, "-23.0 dB");
    json_decref(v);
    v = json_integer(24);
    aoipctl_format_gain(buf, sizeof(buf), v);
    assert_string_equal(buf, "+24.0 dB");
    json_decref(v);
}

/* ---- stats ---- */

static const char stats_answer[] =
    "{'flows': [{'direction': 'rx', 'peer': 'stage', 'channels': ['stage/mic1', 'stage/mic2'],"
    "  'encoding': 'L24', 'packet_us': 1000, 'ssrc': '6d1e0f2a', 'packets': 5120,"
    "  'bytes': 1646080, 'lost': 3, 'late': 1, 'duplicates': 0, 'reordered': 2,"
    "  'concealed': 3, 'jitter_ms': 0.02, 'buffer_ms': 3.0, 'target_ms': 3.0,"
    "  'drift_ppm': -12.34, 'latency_ms': 4.1},"
    " {'direction': 'tx', 'peer': 'rtp:239.69.1.2:5004',"
    "  'channels': ['stage/mic1', 'stage/mic2', 'stage/mic3', 'stage/mic4', 'stage/mic5',"
    "               'stage/mic6', 'stage/mic7', 'stage/mic8'],"
    "  'encoding': 'L16', 'packet_us': 125, 'ssrc': '0a0b0c0d', 'packets': 123456789,"
    "  'bytes': 1, 'lost': 0, 'late': 0, 'duplicates': 0, 'reordered': 0, 'concealed': 0,"
    "  'jitter_ms': 0.5, 'buffer_ms': 0, 'target_ms': 0, 'drift_ppm': 0.0,"
    "  'latency_ms': null}],"
    " 'dropped': {'malformed': 2, 'unknown_ssrc': 0, 'wrong_payload': 5}}";

static void stats_shows_two_lines_per_flow_then_the_drops(void **state)
{
    (void)state;
    assert_rendered(
        aoipctl_render_stats, stats_answer, &plain,
        "DIR  PEER                 ENCODING  PACKET    CHANNELS\n"
        "    PACKETS  LOST  LATE  DUP  REORD  CONCEAL  JITTER  BUF/TARGET  DRIFT  LATENCY\n"
        "rx   stage                L24       1 ms      stage/mic1 stage/mic2\n"
        "       5120     3     1    0      2        3    0.02     3.0/3.0  -12.3      4.1\n"
        "tx   rtp:239.69.1.2:5004  L16       0.125 ms  8 channels\n"
        "  123456789     0     0    0      0        0    0.50     0.0/0.0   +0.0        -\n"
        "jitter, buffer, target and latency in ms; drift in ppm\n"
        "dropped: malformed 2, wrong_payload 5\n");
}

static void stats_fit_80_columns(void **state)
{
    char *got = render(aoipctl_render_stats, stats_answer, &plain);
    (void)state;

    assert_in_range(widest_line(got), 60, 80);
    free(got);
}

static void stats_multicast_flow_says_how_many_joined(void **state)
{
    (void)state;
    assert_rendered(
        aoipctl_render_stats,
        "{'flows': [{'direction': 'tx', 'peer': 'multicast:239.69.7.1:5004', 'mode': "
        "'multicast', 'receivers': 3, 'channels': ['stage/mic1'], 'encoding': 'L24', "
        "'packet_us': 1000, 'packets': 10, 'lost': 0, 'late': 0, 'duplicates': 0, "
        "'reordered': 0, 'concealed': 0, 'jitter_ms': 0, 'buffer_ms': 0, 'target_ms': 0, "
        "'drift_ppm': 0, 'latency_ms': null}], 'dropped': {}}",
        &plain,
        "DIR  PEER                                    ENCODING  PACKET  CHANNELS\n"
        "  PACKETS  LOST  LATE  DUP  REORD  CONCEAL  JITTER  BUF/TARGET  DRIFT  LATENCY\n"
        "tx   multicast:239.69.7.1:5004, 3 receivers  L24       1 ms    stage/mic1\n"
        "       10     0     0    0      0        0    0.00     0.0/0.0   +0.0        -\n"
        "jitter, buffer, target and latency in ms; drift in ppm\n");
}

static void stats_say_what_is_sealed_and_what_was_refused(void **state)
{
    (void)state;
    assert_rendered(
        aoipctl_render_stats,
        "{'flows': [{'direction': 'rx', 'peer': 'stage', 'channels': ['stage/mic1'], "
        "'encoding': 'L24', 'sealed': true, 'cipher': 'aes-256-gcm', 'key_id': 2, "
        "'auth_failures': 40, 'replays': 7, 'packet_us': 1000, 'packets': 10, 'lost': 0, "
        "'late': 0, 'duplicates': 0, 'reordered': 0, 'concealed': 0, 'jitter_ms': 0, "
        "'buffer_ms': 3, 'target_ms': 3, 'drift_ppm': 0, 'latency_ms': null}], 'dropped': {}, "
        "'security': {'mode': 'sealed', 'peer_auth_failures': 2, 'plain_flows_refused': 0}}",
        &plain,
        "DIR  PEER   ENCODING    PACKET  CHANNELS\n"
        "  PACKETS  LOST  LATE  DUP  REORD  CONCEAL  JITTER  BUF/TARGET  DRIFT  LATENCY\n"
        "rx   stage  L24 sealed  1 ms    stage/mic1\n"
        "       10     0     0    0      0        0    0.00     3.0/3.0   +0.0        -\n"
        "jitter, buffer, target and latency in ms; drift in ppm\n"
        "security: sealed; packets that failed to open 40; replayed packets 7; peer "
        "connections refused 2\n");
    assert_rendered(aoipctl_render_stats,
                    "{'flows': [], 'dropped': {}, 'security': {'mode': 'open', "
                    "'peer_auth_failures': 0, 'plain_flows_refused': 0}}",
                    &plain, "no flows\nsecurity: open\n");
}

static void stats_show_the_jack_client(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_stats,
                    "{'flows': [], 'dropped': {}, 'jack': {'client': 'aoip-stage', "
                    "'buffer_frames': 64, 'xruns': 3, 'misfit_periods': 0}}",
                    &plain, "no flows\njack: client aoip-stage, 64-frame periods, 3 xruns\n");
    assert_rendered(aoipctl_render_stats,
                    "{'flows': [], 'dropped': {}, 'jack': {'client': 'desk', "
                    "'buffer_frames': 256, 'xruns': 0, 'misfit_periods': 12, 'online': false}}",
                    &plain,
                    "no flows\njack: client desk, 256-frame periods, 0 xruns, the server is gone "
                    "(looked for every second), 12 cycles played silent (no converter ready for "
                    "them)\n");
    assert_rendered(aoipctl_render_stats,
                    "{'flows': [], 'dropped': {}, 'jack': {'client': 'desk', "
                    "'buffer_frames': 1024, 'rate': 44100, 'converting': true, "
                    "'conversion_ms': 6.25, 'xruns': 1, 'misfit_periods': 0, 'online': true}}",
                    &plain,
                    "no flows\njack: client desk, 1024-frame periods at 44100 Hz (converted to the "
                    "node's, 6.25 ms), 1 xruns\n");
}

static void stats_show_the_sound_devices(void **state)
{
    (void)state;
    assert_rendered(
        aoipctl_render_stats,
        "{'flows': [], 'dropped': {}, 'devices': ["
        "{'name': 'desk', 'kind': 'input', 'type': 'alsa', 'device': 'hw:1,0', 'clock': true,"
        " 'online': true, 'period_frames': 48, 'xruns': 1, 'format': 'S32_LE', 'access': 'mmap',"
        " 'periods': 2, 'ratio': 1.0},"
        "{'name': 'phones', 'kind': 'output', 'type': 'jack', 'device': 'aoip-truck',"
        " 'clock': false, 'online': false, 'period_frames': 256, 'xruns': 0, 'ratio': 1.000125,"
        " 'ppm': 125.04, 'level_ms': 7.31, 'target_ms': 7.33, 'underruns': 2, 'overruns': 0,"
        " 'restarts': 2, 'clock_state': 'locked'}]}",
        &plain,
        "no flows\n"
        "device input desk (alsa hw:1,0): 48-frame periods x2, S32_LE mmap, the node's clock, 1 "
        "xruns\n"
        "device output phones (jack aoip-truck): 256-frame periods, ratio 1.000125 (+125.0 ppm, "
        "locked), buffer 7.31 ms of 7.33, 2 underruns, 0 overruns, 0 xruns, offline (looked for "
        "every second)\n");
}

static void status_names_a_device_clock(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_status,
                    "{'name': 'deck', 'sample_rate': 48000, 'period_us': 5333, "
                    "'period_frames': 256, 'media_clock': 'desk', 'latency_us': 3000, "
                    "'packet_us': 1000}",
                    &plain,
                    "node       deck\n"
                    "id         -\n"
                    "version    -\n"
                    "uptime     -\n"
                    "clock      48 kHz, period 5.333 ms (256 frames), the clock of desk\n"
                    "latency    3 ms\n"
                    "encoding   -, 1 ms packets\n"
                    "channels   - sources, - destinations\n"
                    "routes     -\n"
                    "flows      -\n"
                    "peers      -\n");
}

static void stats_without_flows_or_drops_says_so(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_stats,
                    "{'flows': [], 'dropped': {'malformed': 0, 'unknown_ssrc': 0}}", &plain,
                    "no flows\n");
    assert_rendered(aoipctl_render_stats, "{'flows': [], 'dropped': {'unknown_ssrc': 9}}", &plain,
                    "no flows\ndropped: unknown_ssrc 9\n");
}

/* ---- meter ---- */

static const char meter_answer[] =
    "[{'channel': 'stage/mic1', 'kind': 'source', 'peak_dbfs': -20.0, 'rms_dbfs': -23.01},"
    " {'channel': 'stage/mic2', 'kind': 'source', 'peak_dbfs': null, 'rms_dbfs': null},"
    " {'channel': 'stage/bus1', 'kind': 'destination', 'peak_dbfs': 0.0, 'rms_dbfs': -30}]";

static void meter_table_reads_null_as_minus_infinity(void **state)
{
    (void)state;
    assert_rendered(aoipctl_render_meter, meter_answer, &plain,
                    "CHANNEL     KIND          PEAK    RMS\n"
                    "stage/mic1  source       -20.0  -23.0\n"
                    "stage/mic2  source        -inf   -inf\n"
                    "stage/bus1  destination    0.0  -30.0\n");
}

static void meter_on_a_terminal_draws_rms_bar_and_peak_mark(void **state)
{
    struct aoipctl_term t = { .width = 80, .tty = true };
    (void)state;

    /* 24 cells for -60..0 dBFS: -23 dBFS fills 15, a -20 dBFS peak marks cell 16. */
    assert_rendered(aoipctl_render_meter, meter_answer, &t,
                    "CHANNEL     KIND          PEAK    RMS\n"
                    "stage/mic1  source       -20.0  -23.0  ###############|\n"
                    "stage/mic2  source        -inf   -inf\n"
                    "stage/bus1  destination    0.0  -30.0  ############           |\n");
}

/* ---- matrix ---- */

static const char few_channels[] =
    "{'sources': [{'node': 'stage', 'name': 'mic1', 'index': 1},"
    "             {'node': 'truck', 'name': 'bus1', 'index': 1},"
    "             {'node': 'stage', 'name': 'mic2', 'index': 2},"
    "             {'node': 'stage', 'name': 'mic3', 'index': 3}],"
    " 'destinations': [{'node': 'truck', 'name': 'in1', 'index': 1},"
    "                  {'node': 'truck', 'name': 'in2', 'index': 2},"
    "                  {'node': 'truck', 'name': 'bus1', 'index': 3},"
    "                  {'node': 'stage', 'name': 'mon', 'index': 1}]}";

static const char few_routes[] =
    "[{'source': 'stage/mic1', 'destination': 'truck/in1', 'gain_db': 0, 'muted': false},"
    " {'source': 'stage/mic2', 'destination': 'truck/in1', 'gain_db': -6, 'muted': false},"
    " {'source': 'stage/mic3', 'destination': 'truck/in2', 'gain_db': 3, 'muted': false},"
    " {'source': 'truck/bus1', 'destination': 'truck/in2', 'gain_db': -4.5, 'muted': true},"
    " {'source': 'truck/bus1', 'destination': 'stage/mon', 'gain_db': -10.25, 'muted': false}]";

static char *render_matrix(const char *channels, const char *routes, const char *node,
                           const struct aoipctl_term *t)
{
    json_t *c = J(channels), *r = J(routes);
    json_t *m = aoipctl_matrix_build(c, r, node);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(m);
    assert_non_null(f);
    aoipctl_render_matrix(f, m, t);
    fclose(f);
    json_decref(m);
    json_decref(c);
    json_decref(r);
    return buf;
}

static void matrix_of_few_channels_is_one_grid_with_a_legend(void **state)
{
    char *got = render_matrix(few_channels, few_routes, NULL, &plain);
    (void)state;

    /* Sources grouped by node, numbered as NODE/N numbers them. */
    assert_string_equal(got, "           stage               truck\n"
                             "               1     2     3       1\n"
                             "truck/in1      0    -6     .       .\n"
                             "truck/in2      .     .    +3       M\n"
                             "truck/bus1     .     .     .       .\n"
                             "stage/mon      .     .     .   -10.3\n"
                             "\n"
                             "stage: 1 mic1  2 mic2  3 mic3\n"
                             "truck: 1 bus1\n");
    free(got);
}

static void matrix_lists_routes_with_a_latency_below_the_legend(void **state)
{
    char *got = render_matrix(
        few_channels,
        "[{'source': 'stage/mic1', 'destination': 'truck/in1', 'gain_db': 0, 'muted': false,"
        "  'latency_us': 20000},"
        " {'source': 'stage/mic2', 'destination': 'truck/in1', 'gain_db': -6, 'muted': false,"
        "  'latency_us': null},"
        " {'source': 'truck/bus1', 'destination': 'stage/mon', 'gain_db': 0, 'muted': true,"
        "  'latency_us': 5000}]",
        NULL, &plain);
    (void)state;

    assert_string_equal(got, "           stage         truck\n"
                             "             1   2   3     1\n"
                             "truck/in1    0  -6   .     .\n"
                             "truck/in2    .   .   .     .\n"
                             "truck/bus1   .   .   .     .\n"
                             "stage/mon    .   .   .     M\n"
                             "\n"
                             "stage: 1 mic1  2 mic2  3 mic3\n"
                             "truck: 1 bus1\n"
                             "\n"
                             "stage/mic1 -> truck/in1  latency 20 ms\n"
                             "truck/bus1 -> stage/mon  latency 5 ms\n");
    free(got);
}

static void matrix_marks_empty_crosspoints_with_a_middle_dot_in_utf8(void **state)
{
    struct aoipctl_term t = { .width = 80, .utf8 = true };
    char *got = render_matrix(few_channels, few_routes, "truck", &t);
    (void)state;

    assert_string_equal(got, "           stage         truck\n"
                             "             1   2   3     1\n"
                             "truck/in1    0  -6   \u00b7     \u00b7\n"
                             "truck/in2    \u00b7   \u00b7  +3     M\n"
                             "truck/bus1   \u00b7   \u00b7   \u00b7     \u00b7\n"
                             "\n"
                             "stage: 1 mic1  2 mic2  3 mic3\n"
                             "truck: 1 bus1\n");
    free(got);
}

static void matrix_dims_empty_and_muted_cells_on_a_colour_terminal(void **state)
{
    struct aoipctl_term t = { .width = 80, .tty = true, .color = true };
    char *got = render_matrix(few_channels, few_routes, "truck", &t);
    (void)state;

    assert_non_null(strstr(got, "\ntruck/in2    \033[2m.\033[0m   \033[2m.\033[0m  +3     "
                                "\033[2mM\033[0m\n"));
    free(got);
}

static void matrix_build_keeps_one_nodes_destinations_and_every_source(void **state)
{
    json_t *c = J(few_channels), *r = J(few_routes);
    json_t *m = aoipctl_matrix_build(c, r, "truck");
    (void)state;

    assert_non_null(m);
    assert_int_equal(json_array_size(json_object_get(m, "sources")), 4);
    assert_int_equal(json_array_size(json_object_get(m, "destinations")), 3);
    assert_int_equal(json_array_size(json_object_get(m, "routes")), 4);
    json_t *want = J("{'node': 'truck', 'name': 'bus1', 'index': 3}");
    assert_true(json_equal(json_array_get(json_object_get(m, "destinations"), 2), want));
    json_decref(want);
    json_decref(m);
    json_decref(c);
    json_decref(r);
}

static void matrix_adds_the_channels_of_a_route_to_a_lost_node(void **state)
{
    struct aoipctl_term t = { .width = 80 };
    char *got = render_matrix("{'sources': [{'node': 'stage', 'name': 'mic1', 'index': 1}],"
                              " 'destinations': [{'node': 'truck', 'name': 'in1', 'index': 1}]}",
                              "[{'source': 'remote/talkback', 'destination': 'truck/in1', "
                              "'gain_db': -3, 'muted': false}]",
                              NULL, &t);
    (void)state;

    assert_string_equal(got, "          stage remote\n"
                             "            1     ?\n"
                             "truck/in1   .    -3\n"
                             "\n"
                             "stage: 1 mic1\n"
                             "remote: ? talkback\n");
    free(got);
}

static void matrix_without_destinations_says_so(void **state)
{
    char *got = render_matrix(few_channels, "[]", "nowhere", &plain);
    (void)state;

    assert_string_equal(got, "no destinations\n");
    free(got);
}

/* 24 stage sources, 16 of a node with a long name, 12 truck destinations. */
static char *many_channels_json(void)
{
    json_t *src = json_array(), *dst = json_array();

    for (int i = 1; i <= 24; i++) {
        char name[8];
        snprintf(name, sizeof(name), "mic%d", i);
        json_array_append_new(
            src, json_pack("{s:s, s:s, s:i}", "node", "stage", "name", name, "index", i));
    }
    for (int i = 1; i <= 16; i++) {
        char name[8];
        snprintf(name, sizeof(name), "ch%d", i);
        json_array_append_new(src, json_pack("{s:s, s:s, s:i}", "node", "outside-broadcast", "name",
                                             name, "index", i));
    }
    for (int i = 1; i <= 12; i++) {
        char name[8];
        snprintf(name, sizeof(name), "in%d", i);
        json_array_append_new(
            dst, json_pack("{s:s, s:s, s:i}", "node", "truck", "name", name, "index", i));
    }
    json_t *all = json_pack("{s:o, s:o}", "sources", src, "destinations", dst);
    char *s = json_dumps(all, 0);
    json_decref(all);
    for (char *p = s; *p; p++)
        if (*p == '"')
            *p = '\'';
    return s;
}

/* stage/micN -> truck/in((N-1)%12+1) at -N dB, every fifth muted; one route at -120 dB. */
static char *many_routes_json(void)
{
    json_t *routes = json_array();

    for (int i = 1; i <= 24; i++) {
        char src[16], dst[16];
        snprintf(src, sizeof(src), "stage/mic%d", i);
        snprintf(dst, sizeof(dst), "truck/in%d", (i - 1) % 12 + 1);
        json_array_append_new(routes,
                              json_pack("{s:s, s:s, s:f, s:b}", "source", src, "destination", dst,
                                        "gain_db", (double)-i, "muted", i % 5 == 0));
    }
    json_array_append_new(routes,
                          json_pack("{s:s, s:s, s:f, s:b}", "source", "outside-broadcast/ch16",
                                    "destination", "truck/in12", "gain_db", -120.0, "muted", 0));
    char *s = json_dumps(routes, 0);
    json_decref(routes);
    for (char *p = s; *p; p++)
        if (*p == '"')
            *p = '\'';
    return s;
}

/* The lines of text, split in place. */
struct lines {
    char *line[256];
    size_t n;
};

static void split_lines(char *text, struct lines *l)
{
    l->n = 0;
    for (char *p = text; *p && l->n < 256;) {
        char *nl = strchr(p, '\n');
        l->line[l->n++] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
}

/* The token of line that covers column col, copied to out; "" when none. */
static void token_at(const char *line, size_t col, char *out, size_t len)
{
    size_t n = strlen(line), a = col, b = col;

    out[0] = '\0';
    if (col >= n || line[col] == ' ')
        return;
    while (a > 0 && line[a - 1] != ' ')
        a--;
    while (b < n && line[b] != ' ')
        b++;
    snprintf(out, len, "%.*s", (int)(b - a), line + a);
}

/*
 * Reads the grid like a user: finds the block whose header names node over
 * a column numbered number, then the cell under that number in the row
 * labelled destination. Returns how many such columns were found.
 */
static int cell_at(char *text, const char *node, const char *number, const char *destination,
                   char *out, size_t len)
{
    struct lines l;
    int found = 0;

    split_lines(text, &l);
    for (size_t b = 0; b + 2 < l.n && l.line[b][0] == ' '; b++) {
        const char *heads = l.line[b], *numbers = l.line[b + 1];
        /* The group of node: from where its name starts to where the next name starts. */
        const char *at = strstr(heads, node);
        if (at && at > heads && at[-1] == ' ' &&
            (at[strlen(node)] == ' ' || at[strlen(node)] == '\0')) {
            size_t from = (size_t)(at - heads), to = from + strlen(node);
            while (heads[to] == ' ')
                to++;
            if (heads[to] == '\0')
                to = SIZE_MAX;
            for (size_t c = from; c < strlen(numbers) && c < to; c++) {
                char tok[16];
                token_at(numbers, c, tok, sizeof(tok));
                if (strcmp(tok, number) != 0 || (numbers[c + 1] != ' ' && numbers[c + 1] != '\0'))
                    continue;
                for (size_t r = b + 2; r < l.n && l.line[r][0] != '\0'; r++)
                    if (strncmp(l.line[r], destination, strlen(destination)) == 0 &&
                        l.line[r][strlen(destination)] == ' ') {
                        token_at(l.line[r], c, out, len);
                        found++;
                    }
            }
        }
        /* Skip to the next block. */
        while (b < l.n && l.line[b][0] != '\0')
            b++;
    }
    return found;
}

static void matrix_of_many_channels_splits_into_blocks_that_fit_80_columns(void **state)
{
    char *channels = many_channels_json(), *routes = many_routes_json();
    char *got = render_matrix(channels, routes, NULL, &plain);
    char cell[32];
    (void)state;

    assert_in_range(widest_line(got), 70, 80);
    /* Three blocks of the 12 destinations each, separated by blank lines. */
    size_t blocks = 0;
    for (const char *p = got; (p = strstr(p, "\ntruck/in12 ")); p++)
        blocks++;
    assert_int_equal(blocks, 3);

    char *copy = strdup(got);
    struct {
        const char *node, *number, *destination, *want;
    } cells[] = {
        { "stage", "1", "truck/in1", "-1" },
        { "stage", "13", "truck/in1", "-13" },
        { "stage", "5", "truck/in5", "M" },
        { "stage", "24", "truck/in12", "-24" },
        { "stage", "24", "truck/in11", "." },
        { "outside-broadcast", "16", "truck/in12", "-120" },
        { "outside-broadcast", "1", "truck/in1", "." },
    };
    for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
        strcpy(copy, got);
        assert_int_equal(
            cell_at(copy, cells[i].node, cells[i].number, cells[i].destination, cell, sizeof(cell)),
            1);
        assert_string_equal(cell, cells[i].want);
    }
    /* Every source is in the legend, by number and name. */
    assert_non_null(strstr(got, "\nstage: 1 mic1  2 mic2"));
    assert_non_null(strstr(got, " 24 mic24\n"));
    assert_non_null(strstr(got, "\noutside-broadcast: 1 ch1  2 ch2"));
    assert_non_null(strstr(got, " 16 ch16\n"));
    free(copy);
    free(got);
    free(channels);
    free(routes);
}

static void matrix_fits_a_narrow_terminal_too(void **state)
{
    struct aoipctl_term t = { .width = 40 };
    char *channels = many_channels_json(), *routes = many_routes_json();
    char *got = render_matrix(channels, routes, NULL, &t);
    char cell[32];
    (void)state;

    assert_in_range(widest_line(got), 30, 40);
    assert_int_equal(cell_at(got, "stage", "13", "truck/in1", cell, sizeof(cell)), 1);
    assert_string_equal(cell, "-13");
    free(got);
    free(channels);
    free(routes);
}

/* ---- the binary against a fake daemon ---- */

enum step_kind {
    REPLY,     /* answer with the line */
    SILENCE,   /* answer nothing; wait for the client to give up */
    HANG_UP,   /* close the connection without answering */
    INTERRUPT, /* send the client SIGINT instead of an answer */
    TERMINATE, /* send the client SIGTERM instead of an answer */
};

struct step {
    enum step_kind kind;
    const char *answer;
};

struct run {
    int exit_code; /* -1 when the client died of a signal */
    char out[16384];
    char err[4096];
    json_t *request[8];
    size_t nrequests;
    bool connected;
};

struct fake {
    char dir[32];
    char path[64];
    int fd;
};

/* A test's safety net for a client that hangs: generous, never a measurement. */
#define PATIENCE_MS 10000

static void fake_listen(struct fake *f)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    strcpy(f->dir, "/tmp/aoipctl-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
    memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
    f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->fd >= 0);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->fd, 4), 0);
}

static void fake_close(struct fake *f)
{
    if (f->fd >= 0)
        close(f->fd);
    unlink(f->path);
    rmdir(f->dir);
}

static int on_request(void *arg, char *line, size_t len)
{
    struct run *r = arg;
    char err[128];

    assert_non_null(line);
    json_t *msg = aoip_control_parse(line, len, err, sizeof(err));
    if (!msg)
        fail_msg("aoipctl sent a line that is not a JSON object: %s: %s", err, line);
    assert_true(r->nrequests < 8);
    r->request[r->nrequests++] = msg;
    return 1;
}

/* Reads one request line into r; false when the client closed or went quiet. */
static bool read_request(int fd, struct aoip_linebuf *lb, struct run *r)
{
    char buf[4096];
    size_t before = r->nrequests;

    while (r->nrequests == before) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, PATIENCE_MS) <= 0)
            return false;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return false;
        aoip_linebuf_feed(lb, buf, (size_t)n, on_request, r);
    }
    return true;
}

/* Waits for the client to close its end. */
static void wait_for_close(int fd)
{
    char buf[256];
    struct pollfd p = { .fd = fd, .events = POLLIN };

    while (poll(&p, 1, PATIENCE_MS) > 0 && read(fd, buf, sizeof(buf)) > 0)
        ;
}

static void serve(struct fake *f, pid_t child, const struct step *steps, size_t nsteps,
                  struct run *r)
{
    struct pollfd p = { .fd = f->fd, .events = POLLIN };
    struct aoip_linebuf lb;
    int conn;

    if (poll(&p, 1, PATIENCE_MS) <= 0)
        return;
    conn = accept(f->fd, NULL, NULL);
    assert_true(conn >= 0);
    r->connected = true;
    assert_int_equal(aoip_linebuf_init(&lb, AOIP_CONTROL_MAX_LINE), 0);
    for (size_t i = 0; i < nsteps; i++) {
        if (!read_request(conn, &lb, r))
            break;
        if (steps[i].kind == REPLY) {
            size_t n = strlen(steps[i].answer);
            assert_int_equal(write(conn, steps[i].answer, n), (ssize_t)n);
            assert_int_equal(write(conn, "\n", 1), 1);
        } else if (steps[i].kind == HANG_UP) {
            break;
        } else if (steps[i].kind == INTERRUPT || steps[i].kind == TERMINATE) {
            kill(child, steps[i].kind == INTERRUPT ? SIGINT : SIGTERM);
        }
    }
    if (nsteps == 0 || steps[nsteps - 1].kind != HANG_UP)
        wait_for_close(conn);
    close(conn);
    aoip_linebuf_close(&lb);
}

static void read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;

    while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
}

static int wait_child(pid_t pid)
{
    int status;

    for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited += 10) {
        if (waited > PATIENCE_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("aoipctl did not exit");
        }
        struct timespec ten_ms = { .tv_nsec = 10000000 };
        nanosleep(&ten_ms, NULL);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Runs aoipctl ARGS... (args ends with NULL) with stdout and stderr
 * captured. With f, the fake daemon plays steps; with nsteps 0 it only
 * notes whether the client connected at all.
 */
static void run_aoipctl(struct fake *f, const struct step *steps, size_t nsteps,
                        const char *const *args, struct run *r)
{
    const char *argv[32] = { AOIPCTL_PATH };
    int out[2], err[2];
    size_t n = 1;

    memset(r, 0, sizeof(*r));
    while (*args && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    /* Plain ASCII and no colour: the output the assertions spell out. */
    setenv("LC_ALL", "C", 1);
    fflush(NULL);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(out[0]);
        close(err[0]);
        execv(AOIPCTL_PATH, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    if (f && nsteps > 0)
        serve(f, pid, steps, nsteps, r);
    r->exit_code = wait_child(pid);
    read_all(out[0], r->out, sizeof(r->out));
    read_all(err[0], r->err, sizeof(r->err));
    if (f && nsteps == 0) {
        struct pollfd p = { .fd = f->fd, .events = POLLIN };
        r->connected = poll(&p, 1, 0) > 0;
    }
}

static void run_free(struct run *r)
{
    for (size_t i = 0; i < r->nrequests; i++)
        json_decref(r->request[i]);
}

static void assert_request(const struct run *r, size_t i, const char *want)
{
    json_t *w = J(want);

    assert_true(i < r->nrequests);
    if (!json_equal(r->request[i], w)) {
        char *got = json_dumps(r->request[i], JSON_COMPACT);
        fail_msg("request %zu: got %s, want %s", i, got, want);
    }
    json_decref(w);
}

/* Runs aoipctl -s FAKE ARGS against one answer per step. */
#define RUN(f, r, steps, ...)                                                                      \
    run_aoipctl((f), (steps), sizeof(steps) / sizeof((steps)[0]),                                  \
                (const char *[]){ "-s", (f)->path, __VA_ARGS__, NULL }, (r))

static void cli_status_asks_the_node_and_prints_it(void **state)
{
    struct fake f;
    struct run r;
    char answer[1024];
    (void)state;

    snprintf(answer, sizeof(answer), "{\"id\": 1, \"ok\": true, \"result\": %s}", status_answer);
    for (char *p = answer; *p; p++)
        if (*p == '\'')
            *p = '"';
    const struct step steps[] = { { REPLY, answer } };
    fake_listen(&f);
    RUN(&f, &r, steps, "status");
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(r.err, "");
    assert_int_equal(r.nrequests, 1);
    assert_request(&r, 0, "{'id': 1, 'cmd': 'status'}");
    assert_starts_with(r.out, "node       stage\nid         3f9a1c0e5b7d2a64\n");
    run_free(&r);
    fake_close(&f);
}

static void cli_json_prints_the_result_alone_wherever_the_option_stands(void **state)
{
    const struct step steps[] = {
        { REPLY, "{\"id\":1,\"ok\":true,\"result\":[{\"name\":\"stage\",\"state\":\"online\"}]}" },
    };
    const char *const orders[][3] = { { "-j", "nodes", NULL }, { "nodes", "--json", NULL } };
    (void)state;

    for (size_t i = 0; i < 2; i++) {
        struct fake f;
        struct run r;
        fake_listen(&f);
        RUN(&f, &r, steps, orders[i][0], orders[i][1]);
        assert_int_equal(r.exit_code, 0);
        assert_request(&r, 0, "{'id': 1, 'cmd': 'nodes'}");
        json_error_t e;
        json_t *got = json_loads(r.out, JSON_DECODE_ANY, &e);
        assert_non_null(got);
        json_t *want = J("[{'name': 'stage', 'state': 'online'}]");
        assert_true(json_equal(got, want));
        json_decref(got);
        json_decref(want);
        run_free(&r);
        fake_close(&f);
    }
}

static void cli_channels_names_the_node(void **state)
{
    const struct step steps[] = {
        { REPLY, "{\"id\":1,\"ok\":true,\"result\":{\"sources\":[],\"destinations\":[]}}" },
    };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "channels", "truck");
    assert_int_equal(r.exit_code, 0);
    assert_request(&r, 0, "{'id': 1, 'cmd': 'channels', 'node': 'truck'}");
    assert_string_equal(r.out, "no channels\n");
    run_free(&r);
    fake_close(&f);
}

static const char added_answer[] =
    "{\"id\":1,\"ok\":true,\"result\":{\"source\":\"stage/mic1\",\"destination\":\"truck/in1\","
    "\"gain_db\":-6,\"muted\":true}}";

static void cli_route_add_sends_gain_and_mute(void **state)
{
    const struct step steps[] = { { REPLY, added_answer } };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "route", "add", "stage/mic1", "truck/in1", "--gain", "-6", "--mute");
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(r.err, "");
    assert_request(&r, 0,
                   "{'id': 1, 'cmd': 'route.add', 'source': 'stage/mic1',"
                   " 'destination': 'truck/in1', 'gain_db': -6.0, 'muted': true}");
    assert_string_equal(r.out, "stage/mic1 -> truck/in1  -6.0 dB  muted\n");
    run_free(&r);
    fake_close(&f);
}

static void cli_route_add_leaves_out_gain_and_mute_not_given(void **state)
{
    const struct step steps[] = { { REPLY, added_answer } };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "route", "add", "stage/3", "truck/in1");
    assert_int_equal(r.exit_code, 0);
    assert_request(&r, 0,
                   "{'id': 1, 'cmd': 'route.add', 'source': 'stage/3',"
                   " 'destination': 'truck/in1'}");
    run_free(&r);
    fake_close(&f);
}

static void cli_route_add_unmute_sends_muted_false(void **state)
{
    const struct step steps[] = { { REPLY, added_answer } };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "route", "add", "--unmute", "stage/mic1", "truck/in1", "--gain=+3.5");
    assert_int_equal(r.exit_code, 0);
    assert_request(&r, 0,
                   "{'id': 1, 'cmd': 'route.add', 'source': 'stage/mic1',"
                   " 'destination': 'truck/in1', 'gain_db': 3.5, 'muted': false}");
    run_free(&r);
    fake_close(&f);
}

static void cli_route_add_sends_latency_in_microseconds(void **state)
{
    const struct step steps[] = {
        { REPLY, "{\"id\":1,\"ok\":true,\"result\":{\"source\":\"stage/mic1\","
                 "\"destination\":\"truck/in1\",\"gain_db\":-6,\"muted\":false,"
                 "\"latency_us\":20000}}" },
    };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "route", "add", "stage/mic1", "truck/in1", "--latency-us", "20000");
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(r.err, "");
    /* Gain and mute stay out: only the latency changes. */
    assert_request(&r, 0,
                   "{'id': 1, 'cmd': 'route.add', 'source': 'stage/mic1',"
                   " 'destination': 'truck/in1', 'latency_us': 20000}");
    assert_string_equal(r.out, "stage/mic1 -> truck/in1  -6.0 dB  latency 20 ms\n");
    run_free(&r);
    fake_close(&f);
}

static void cli_route_add_latency_default_sends_null(void **state)
{
    const struct step steps[] = {
        { REPLY, "{\"id\":1,\"ok\":true,\"result\":{\"source\":\"stage/mic1\","
                 "\"destination\":\"truck/in1\",\"gain_db\":0,\"muted\":false,"
                 "\"latency_us\":null}}" },
    };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "route", "add", "--latency-us=default", "stage/mic1", "truck/in1", "--gain",
        "0");
    assert_int_equal(r.exit_code, 0);
    assert_request(&r, 0,
                   "{'id': 1, 'cmd': 'route.add', 'source': 'stage/mic1',"
                   " 'destination': 'truck/in1', 'gain_db': 0.0, 'latency_us': null}");
    assert_string_equal(r.out, "stage/mic1 -> truck/in1  0.0 dB\n");
    run_free(&r);
    fake_close(&f);
}

static void cli_route_del_names_both_channels(void **state)
{
    const struct step steps[] = {
        { REPLY, "{\"id\":1,\"ok\":true,\"result\":{\"source\":\"stage/mic1\","
                 "\"destination\":\"truck/in1\",\"gain_db\":0,\"muted\":false}}" },
    };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "route", "del", "stage/mic1", "truck/in1");
    assert_int_equal(r.exit_code, 0);
    assert_request(&r, 0,
                   "{'id': 1, 'cmd': 'route.del', 'source': 'stage/mic1',"
                   " 'destination': 'truck/in1'}");
    assert_string_equal(r.out, "removed stage/mic1 -> truck/in1  0.0 dB\n");
    run_free(&r);
    fake_close(&f);
}

static void cli_route_list_of_all_nodes_names_none(void **state)
{
    const struct step steps[] = { { REPLY, "{\"id\":1,\"ok\":true,\"result\":[]}" } };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "route", "list");
    assert_int_equal(r.exit_code, 0);
    assert_request(&r, 0, "{'id': 1, 'cmd': 'route.list'}");
    assert_string_equal(r.out, "no routes\n");
    run_free(&r);
    fake_close(&f);
}

static void cli_matrix_asks_twice_on_one_connection(void **state)
{
    const struct step steps[] = {
        { REPLY, "{\"id\":1,\"ok\":true,\"result\":{\"sources\":[{\"node\":\"stage\",\"name\":"
                 "\"mic1\",\"index\":1}],\"destinations\":[{\"node\":\"truck\",\"name\":\"in1\","
                 "\"index\":1},{\"node\":\"stage\",\"name\":\"mon\",\"index\":1}]}}" },
        { REPLY, "{\"id\":2,\"ok\":true,\"result\":[{\"source\":\"stage/mic1\",\"destination\":"
                 "\"truck/in1\",\"gain_db\":-6,\"muted\":false}]}" },
    };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "matrix", "truck");
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(r.err, "");
    assert_int_equal(r.nrequests, 2);
    assert_request(&r, 0, "{'id': 1, 'cmd': 'channels'}");
    assert_request(&r, 1, "{'id': 2, 'cmd': 'route.list', 'node': 'truck'}");
    assert_string_equal(r.out, "          stage\n"
                               "            1\n"
                               "truck/in1  -6\n"
                               "\n"
                               "stage: 1 mic1\n");
    run_free(&r);
    fake_close(&f);
}

static void cli_matrix_json_has_sources_destinations_and_routes(void **state)
{
    const struct step steps[] = {
        { REPLY, "{\"id\":1,\"ok\":true,\"result\":{\"sources\":[{\"node\":\"stage\",\"name\":"
                 "\"mic1\",\"index\":1}],\"destinations\":[{\"node\":\"truck\",\"name\":\"in1\","
                 "\"index\":1}]}}" },
        { REPLY, "{\"id\":2,\"ok\":true,\"result\":[]}" },
    };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "matrix", "--json");
    assert_int_equal(r.exit_code, 0);
    assert_request(&r, 1, "{'id': 2, 'cmd': 'route.list'}");
    json_error_t e;
    json_t *got = json_loads(r.out, 0, &e);
    json_t *want = J("{'sources': [{'node': 'stage', 'name': 'mic1', 'index': 1}],"
                     " 'destinations': [{'node': 'truck', 'name': 'in1', 'index': 1}],"
                     " 'routes': []}");
    assert_non_null(got);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    run_free(&r);
    fake_close(&f);
}

static void cli_stats_and_meter_ask_for_them(void **state)
{
    const struct step stats[] = {
        { REPLY, "{\"id\":1,\"ok\":true,\"result\":{\"flows\":[],\"dropped\":{}}}" },
    };
    const struct step meter[] = {
        { REPLY, "{\"id\":1,\"ok\":true,\"result\":[{\"channel\":\"stage/mic1\",\"kind\":"
                 "\"source\",\"peak_dbfs\":null,\"rms_dbfs\":null}]}" },
    };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, stats, "stats");
    assert_int_equal(r.exit_code, 0);
    assert_request(&r, 0, "{'id': 1, 'cmd': 'stats'}");
    assert_string_equal(r.out, "no flows\n");
    run_free(&r);
    RUN(&f, &r, meter, "meter");
    assert_int_equal(r.exit_code, 0);
    assert_request(&r, 0, "{'id': 1, 'cmd': 'meter'}");
    assert_string_equal(r.out, "CHANNEL     KIND    PEAK   RMS\n"
                               "stage/mic1  source  -inf  -inf\n");
    run_free(&r);
    fake_close(&f);
}

static void cli_refused_request_exits_1_with_the_nodes_words(void **state)
{
    const struct step steps[] = {
        { REPLY, "{\"id\":1,\"ok\":false,\"code\":\"not_found\",\"error\":\"no source "
                 "'stage/mic9'\"}" },
    };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "route", "add", "stage/mic9", "truck/in1");
    assert_int_equal(r.exit_code, 1);
    assert_string_equal(r.err, "aoipctl: no source 'stage/mic9'\n");
    assert_string_equal(r.out, "");
    run_free(&r);
    fake_close(&f);
}

static void cli_matrix_stops_at_the_first_refusal(void **state)
{
    const struct step steps[] = {
        { REPLY, "{\"id\":1,\"ok\":false,\"code\":\"refused\",\"error\":\"busy\"}" },
        { REPLY, "{\"id\":2,\"ok\":true,\"result\":[]}" },
    };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "matrix");
    assert_int_equal(r.exit_code, 1);
    assert_string_equal(r.err, "aoipctl: busy\n");
    assert_int_equal(r.nrequests, 1);
    run_free(&r);
    fake_close(&f);
}

/* A usage error: exit 2, the reason, the verb's synopsis, and no connection. */
static void assert_usage_error(const char *const *args, const char *reason, const char *synopsis)
{
    struct fake f;
    struct run r;
    const char *argv[16] = { "-s" };
    size_t n = 2;
    char want[512];

    fake_listen(&f);
    argv[1] = f.path;
    while (*args && n < 15)
        argv[n++] = *args++;
    argv[n] = NULL;
    run_aoipctl(&f, NULL, 0, argv, &r);
    snprintf(want, sizeof(want), "aoipctl: %s\n%s\n", reason, synopsis);
    assert_int_equal(r.exit_code, 2);
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    assert_false(r.connected);
    run_free(&r);
    fake_close(&f);
}

#define ROUTE_ADD_USAGE                                                                            \
    "usage: aoipctl route add SRC DST [--gain DB] [--mute|--unmute] [--latency-us N|default]\n"    \
    "          [--encoding L24|L16|opus] [--bitrate KBPS] [--frame-ms 2.5|5|10|20|auto]"
#define GENERAL_USAGE "usage: aoipctl [-s PATH] [-j] COMMAND [ARGS...]"

static void cli_unknown_command_is_usage_error(void **state)
{
    (void)state;
    assert_usage_error((const char *[]){ "frobnicate", NULL }, "unknown command 'frobnicate'",
                       GENERAL_USAGE);
    assert_usage_error((const char *[]){ NULL }, "no command given", GENERAL_USAGE);
}

static void cli_noun_without_its_verb_is_usage_error(void **state)
{
    (void)state;
    assert_usage_error((const char *[]){ "route", NULL }, "route needs a verb",
                       ROUTE_ADD_USAGE "\n"
                                       "usage: aoipctl route del SRC DST\n"
                                       "usage: aoipctl route list [NODE]");
    assert_usage_error((const char *[]){ "route", "move", NULL }, "unknown command 'route move'",
                       ROUTE_ADD_USAGE "\n"
                                       "usage: aoipctl route del SRC DST\n"
                                       "usage: aoipctl route list [NODE]");
}

static void cli_missing_argument_is_usage_error(void **state)
{
    (void)state;
    assert_usage_error((const char *[]){ "route", "add", "stage/mic1", NULL }, "missing DST",
                       ROUTE_ADD_USAGE);
    assert_usage_error((const char *[]){ "route", "del", NULL }, "missing SRC",
                       "usage: aoipctl route del SRC DST");
    assert_usage_error((const char *[]){ "route", "add", "a/1", "b/1", "--gain", NULL },
                       "option '--gain' needs an argument", ROUTE_ADD_USAGE);
}

static void cli_bad_channel_address_is_usage_error(void **state)
{
    (void)state;
    assert_usage_error((const char *[]){ "route", "add", "stage", "truck/in1", NULL },
                       "'stage' is not a channel address (NODE/NAME or NODE/N)", ROUTE_ADD_USAGE);
    assert_usage_error((const char *[]){ "route", "add", "stage/mic1", "truck/0", NULL },
                       "'truck/0' is not a channel address (NODE/NAME or NODE/N)", ROUTE_ADD_USAGE);
    assert_usage_error((const char *[]){ "route", "del", "stage/mic 1", "truck/in1", NULL },
                       "'stage/mic 1' is not a channel address (NODE/NAME or NODE/N)",
                       "usage: aoipctl route del SRC DST");
}

static void cli_bad_gain_is_usage_error(void **state)
{
    (void)state;
    assert_usage_error(
        (const char *[]){ "route", "add", "stage/mic1", "truck/in1", "--gain", "-inf", NULL },
        "'-inf' is not a gain in dB", ROUTE_ADD_USAGE);
    assert_usage_error(
        (const char *[]){ "route", "add", "stage/mic1", "truck/in1", "--gain", "-6dB", NULL },
        "'-6dB' is not a gain in dB", ROUTE_ADD_USAGE);
    assert_usage_error(
        (const char *[]){ "route", "add", "stage/mic1", "truck/in1", "--mute", "--unmute", NULL },
        "--mute and --unmute contradict each other", ROUTE_ADD_USAGE);
}

static void cli_bad_format_is_usage_error(void **state)
{
    (void)state;
    const char *route[] = { "route", "add", "stage/mic1", "truck/in1", NULL, NULL, NULL };
    static const char *const cases[][3] = {
        { "--encoding", "mp3", "'mp3' is not an encoding: L24, L16 or opus" },
        { "--bitrate", "5", "'5' is not a bitrate: 6 to 256 kb/s a channel" },
        { "--bitrate", "257", "'257' is not a bitrate: 6 to 256 kb/s a channel" },
        { "--bitrate", "64k", "'64k' is not a bitrate: 6 to 256 kb/s a channel" },
        { "--frame-ms", "40", "'40' is not an Opus frame: 2.5, 5, 10, 20 or auto" },
        { "--frame-ms", "2.50", "'2.50' is not an Opus frame: 2.5, 5, 10, 20 or auto" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        route[4] = cases[i][0];
        route[5] = cases[i][1];
        assert_usage_error(route, cases[i][2], ROUTE_ADD_USAGE);
    }
    assert_usage_error(
        (const char *[]){ "route", "del", "stage/mic1", "truck/in1", "--encoding", "opus", NULL },
        "route del does not take --encoding, --bitrate, --frame-ms",
        "usage: aoipctl route del SRC DST");
}

static void cli_bad_latency_is_usage_error(void **state)
{
    (void)state;
    static const char *const bad[] = { "20ms", "-5", "1e3", "", "Default", "12345678901" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char reason[128];
        snprintf(reason, sizeof(reason), "'%s' is not a latency in microseconds, nor 'default'",
                 bad[i]);
        assert_usage_error((const char *[]){ "route", "add", "stage/mic1", "truck/in1",
                                             "--latency-us", bad[i], NULL },
                           reason, ROUTE_ADD_USAGE);
    }
    assert_usage_error((const char *[]){ "route", "add", "a/1", "b/1", "--latency-us", NULL },
                       "option '--latency-us' needs an argument", ROUTE_ADD_USAGE);
    assert_usage_error(
        (const char *[]){ "route", "del", "stage/mic1", "truck/in1", "--latency-us", "5", NULL },
        "route del does not take --latency-us", "usage: aoipctl route del SRC DST");
}

static void cli_option_or_argument_a_verb_does_not_take_is_usage_error(void **state)
{
    (void)state;
    assert_usage_error((const char *[]){ "status", "now", NULL }, "unexpected argument 'now'",
                       "usage: aoipctl status");
    assert_usage_error((const char *[]){ "status", "--gain", "3", NULL },
                       "status does not take --gain", "usage: aoipctl status");
    assert_usage_error((const char *[]){ "stats", "--frobnicate", NULL },
                       "unknown option '--frobnicate'", "usage: aoipctl stats");
    assert_usage_error((const char *[]){ "channels", "stage/1", NULL },
                       "'stage/1' is not a node name", "usage: aoipctl channels [NODE]");
}

static void cli_without_a_socket_exits_3(void **state)
{
    struct run r;
    char want[256];
    (void)state;

    run_aoipctl(
        NULL, NULL, 0,
        (const char *[]){ "-s", "/tmp/aoipctl-test-no-such-dir/control.sock", "status", NULL }, &r);
    assert_int_equal(r.exit_code, 3);
    snprintf(want, sizeof(want), "aoipctl: cannot connect to %s: %s\n",
             "/tmp/aoipctl-test-no-such-dir/control.sock", strerror(ENOENT));
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    run_free(&r);
}

static void cli_socket_nobody_listens_on_exits_3(void **state)
{
    struct fake f;
    struct run r;
    char want[256];
    (void)state;

    /* The socket file of a daemon that died: bound, then closed. */
    fake_listen(&f);
    close(f.fd);
    f.fd = -1;
    run_aoipctl(NULL, NULL, 0, (const char *[]){ "-s", f.path, "nodes", NULL }, &r);
    assert_int_equal(r.exit_code, 3);
    snprintf(want, sizeof(want), "aoipctl: cannot connect to %s: %s\n", f.path,
             strerror(ECONNREFUSED));
    assert_string_equal(r.err, want);
    run_free(&r);
    fake_close(&f);
}

static void cli_socket_comes_from_aoip_socket_unless_given(void **state)
{
    const struct step steps[] = { { REPLY, "{\"id\":1,\"ok\":true,\"result\":[]}" } };
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    setenv("AOIP_SOCKET", f.path, 1);
    run_aoipctl(&f, steps, 1, (const char *[]){ "route", "list", NULL }, &r);
    assert_int_equal(r.exit_code, 0);
    assert_request(&r, 0, "{'id': 1, 'cmd': 'route.list'}");
    run_free(&r);

    setenv("AOIP_SOCKET", "/tmp/aoipctl-test-no-such-dir/control.sock", 1);
    RUN(&f, &r, steps, "route", "list");
    unsetenv("AOIP_SOCKET");
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.nrequests, 1);
    run_free(&r);
    fake_close(&f);
}

static void cli_silent_node_exits_3_after_the_timeout(void **state)
{
    const struct step steps[] = { { SILENCE, NULL } };
    struct fake f;
    struct run r;
    char want[256];
    (void)state;

    fake_listen(&f);
    setenv("AOIPCTL_TIMEOUT_MS", "300", 1);
    RUN(&f, &r, steps, "status");
    unsetenv("AOIPCTL_TIMEOUT_MS");
    assert_int_equal(r.exit_code, 3);
    snprintf(want, sizeof(want), "aoipctl: no answer from %s within 300 ms\n", f.path);
    assert_string_equal(r.err, want);
    assert_request(&r, 0, "{'id': 1, 'cmd': 'status'}");
    run_free(&r);
    fake_close(&f);
}

static void cli_bad_timeout_setting_is_usage_error(void **state)
{
    struct fake f;
    struct run r;
    (void)state;

    fake_listen(&f);
    setenv("AOIPCTL_TIMEOUT_MS", "soon", 1);
    run_aoipctl(&f, NULL, 0, (const char *[]){ "-s", f.path, "status", NULL }, &r);
    unsetenv("AOIPCTL_TIMEOUT_MS");
    assert_int_equal(r.exit_code, 2);
    assert_string_equal(r.err,
                        "aoipctl: AOIPCTL_TIMEOUT_MS is not a number of milliseconds: 'soon'\n");
    assert_false(r.connected);
    run_free(&r);
    fake_close(&f);
}

static void cli_dropped_connection_exits_3(void **state)
{
    const struct step steps[] = { { HANG_UP, NULL } };
    struct fake f;
    struct run r;
    char want[256];
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, steps, "nodes");
    assert_int_equal(r.exit_code, 3);
    snprintf(want, sizeof(want), "aoipctl: %s closed the connection before answering\n", f.path);
    assert_string_equal(r.err, want);
    run_free(&r);
    fake_close(&f);
}

static void cli_answer_that_is_no_response_exits_3(void **state)
{
    const struct step not_json[] = { { REPLY, "hello" } };
    const struct step wrong_id[] = { { REPLY, "{\"id\":2,\"ok\":true,\"result\":{}}" } };
    const struct step no_ok[] = { { REPLY, "{\"id\":1,\"result\":{}}" } };
    struct fake f;
    struct run r;
    char want[256];
    (void)state;

    fake_listen(&f);
    RUN(&f, &r, not_json, "status");
    assert_int_equal(r.exit_code, 3);
    snprintf(want, sizeof(want), "aoipctl: bad answer from %s: not JSON: ", f.path);
    assert_starts_with(r.err, want);
    run_free(&r);

    RUN(&f, &r, wrong_id, "status");
    assert_int_equal(r.exit_code, 3);
    snprintf(want, sizeof(want), "aoipctl: bad answer from %s: not the answer to request 1\n",
             f.path);
    assert_string_equal(r.err, want);
    run_free(&r);

    RUN(&f, &r, no_ok, "status");
    assert_int_equal(r.exit_code, 3);
    snprintf(want, sizeof(want), "aoipctl: bad answer from %s: no \"ok\"\n", f.path);
    assert_string_equal(r.err, want);
    run_free(&r);
    fake_close(&f);
}

static const char meter_once[] =
    "{\"id\":%d,\"ok\":true,\"result\":[{\"channel\":\"stage/mic1\",\"kind\":\"source\","
    "\"peak_dbfs\":-20.0,\"rms_dbfs\":-23.0}]}";

static void watch_until(enum step_kind signal_step)
{
    char a1[256], a2[256];
    struct fake f;
    struct run r;

    snprintf(a1, sizeof(a1), meter_once, 1);
    snprintf(a2, sizeof(a2), meter_once, 2);
    const struct step steps[] = { { REPLY, a1 }, { REPLY, a2 }, { signal_step, NULL } };
    fake_listen(&f);
    RUN(&f, &r, steps, "meter", "--watch");
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(r.err, "");
    assert_int_equal(r.nrequests, 3);
    assert_request(&r, 2, "{'id': 3, 'cmd': 'meter'}");
    /* Not a terminal: the tables follow one another. */
    assert_string_equal(r.out, "CHANNEL     KIND     PEAK    RMS\n"
                               "stage/mic1  source  -20.0  -23.0\n"
                               "\n"
                               "CHANNEL     KIND     PEAK    RMS\n"
                               "stage/mic1  source  -20.0  -23.0\n");
    run_free(&r);
    fake_close(&f);
}

static void cli_meter_watch_repeats_until_sigint_and_exits_0(void **state)
{
    (void)state;
    watch_until(INTERRUPT);
}

static void cli_meter_watch_repeats_until_sigterm_and_exits_0(void **state)
{
    (void)state;
    watch_until(TERMINATE);
}

static void cli_help_lists_every_command_on_one_line(void **state)
{
    struct run r;
    static const char *const names[] = { "status", "nodes", "channels", "route add",  "route del",
                                         "matrix", "stats", "meter",    "route list", "help" };
    (void)state;

    run_aoipctl(NULL, NULL, 0, (const char *[]){ "--help", NULL }, &r);
    assert_int_equal(r.exit_code, 0);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "\n  %-12s", names[i]);
        assert_non_null(strstr(r.out, line));
    }
    assert_starts_with(r.out, GENERAL_USAGE "\n");
    char again[sizeof(r.out)];
    strcpy(again, r.out);
    run_free(&r);
    run_aoipctl(NULL, NULL, 0, (const char *[]){ "help", NULL }, &r);
    assert_string_equal(r.out, again);
    run_free(&r);
}

static void cli_help_for_a_command_shows_its_synopsis_and_example(void **state)
{
    struct run r;
    (void)state;

    run_aoipctl(NULL, NULL, 0, (const char *[]){ "help", "route", "add", NULL }, &r);
    assert_int_equal(r.exit_code, 0);
    assert_starts_with(r.out, ROUTE_ADD_USAGE "\n");
    assert_non_null(
        strstr(r.out, "\nexample:\n  aoipctl route add stage/mic1 truck/in1 --gain -6 --latency-us "
                      "20000\n"));
    run_free(&r);

    run_aoipctl(NULL, NULL, 0, (const char *[]){ "meter", "--help", NULL }, &r);
    assert_int_equal(r.exit_code, 0);
    assert_starts_with(r.out, "usage: aoipctl meter [--watch]\n");
    assert_non_null(strstr(r.out, "\nexample:\n  aoipctl meter --watch\n"));
    run_free(&r);

    run_aoipctl(NULL, NULL, 0, (const char *[]){ "help", "frobnicate", NULL }, &r);
    assert_int_equal(r.exit_code, 2);
    assert_string_equal(r.err,
                        "aoipctl: unknown command 'frobnicate'\nusage: aoipctl help [COMMAND]\n");
    run_free(&r);
}

static void cli_version_names_both_versions(void **state)
{
    struct run r;
    char want[128];
    (void)state;

    run_aoipctl(NULL, NULL, 0, (const char *[]){ "--version", NULL }, &r);
    assert_int_equal(r.exit_code, 0);
    snprintf(want, sizeof(want), "aoipctl %s (libaoip %s)\n", aoip_version(), aoip_version());
    assert_string_equal(r.out, want);
    run_free(&r);
}

int main(void)
{
    /* Only the tests that mean to name a socket this way do. */
    unsetenv("AOIP_SOCKET");
    unsetenv("AOIPCTL_TIMEOUT_MS");

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_lists_the_node_with_units),
        cmocka_unit_test(status_shows_fractions_and_long_uptimes),
        cmocka_unit_test(nodes_table_aligns_columns),
        cmocka_unit_test(nodes_table_shows_lost_nodes_in_red_on_a_colour_terminal),
        cmocka_unit_test(channels_lists_each_channel_by_name_and_number),
        cmocka_unit_test(channels_of_a_node_without_any_says_so),
        cmocka_unit_test(routes_table_shows_gain_in_db_and_mute),
        cmocka_unit_test(routes_table_dims_muted_routes_on_a_colour_terminal),
        cmocka_unit_test(routes_table_has_a_latency_column_when_a_route_asks_for_one),
        cmocka_unit_test(routes_table_without_latencies_has_no_latency_column),
        cmocka_unit_test(routes_empty_says_so),
        cmocka_unit_test(route_is_one_line_with_gain_and_mute),
        cmocka_unit_test(route_line_shows_the_latency_where_set),
        cmocka_unit_test(gain_and_level_read_null_as_minus_infinity),
        cmocka_unit_test(stats_shows_two_lines_per_flow_then_the_drops),
        cmocka_unit_test(stats_fit_80_columns),
        cmocka_unit_test(stats_multicast_flow_says_how_many_joined),
        cmocka_unit_test(stats_without_flows_or_drops_says_so),
        cmocka_unit_test(stats_show_the_jack_client),
        cmocka_unit_test(stats_show_the_sound_devices),
        cmocka_unit_test(status_names_a_device_clock),
        cmocka_unit_test(stats_say_what_is_sealed_and_what_was_refused),
        cmocka_unit_test(meter_table_reads_null_as_minus_infinity),
        cmocka_unit_test(meter_on_a_terminal_draws_rms_bar_and_peak_mark),
        cmocka_unit_test(matrix_of_few_channels_is_one_grid_with_a_legend),
        cmocka_unit_test(matrix_lists_routes_with_a_latency_below_the_legend),
        cmocka_unit_test(matrix_marks_empty_crosspoints_with_a_middle_dot_in_utf8),
        cmocka_unit_test(matrix_dims_empty_and_muted_cells_on_a_colour_terminal),
        cmocka_unit_test(matrix_build_keeps_one_nodes_destinations_and_every_source),
        cmocka_unit_test(matrix_adds_the_channels_of_a_route_to_a_lost_node),
        cmocka_unit_test(matrix_without_destinations_says_so),
        cmocka_unit_test(matrix_of_many_channels_splits_into_blocks_that_fit_80_columns),
        cmocka_unit_test(matrix_fits_a_narrow_terminal_too),
        cmocka_unit_test(cli_status_asks_the_node_and_prints_it),
        cmocka_unit_test(cli_json_prints_the_result_alone_wherever_the_option_stands),
        cmocka_unit_test(cli_channels_names_the_node),
        cmocka_unit_test(cli_route_add_sends_gain_and_mute),
        cmocka_unit_test(cli_route_add_leaves_out_gain_and_mute_not_given),
        cmocka_unit_test(cli_route_add_unmute_sends_muted_false),
        cmocka_unit_test(cli_route_add_sends_latency_in_microseconds),
        cmocka_unit_test(cli_route_add_latency_default_sends_null),
        cmocka_unit_test(cli_route_del_names_both_channels),
        cmocka_unit_test(cli_route_list_of_all_nodes_names_none),
        cmocka_unit_test(cli_matrix_asks_twice_on_one_connection),
        cmocka_unit_test(cli_matrix_json_has_sources_destinations_and_routes),
        cmocka_unit_test(cli_stats_and_meter_ask_for_them),
        cmocka_unit_test(cli_refused_request_exits_1_with_the_nodes_words),
        cmocka_unit_test(cli_matrix_stops_at_the_first_refusal),
        cmocka_unit_test(cli_unknown_command_is_usage_error),
        cmocka_unit_test(cli_noun_without_its_verb_is_usage_error),
        cmocka_unit_test(cli_missing_argument_is_usage_error),
        cmocka_unit_test(cli_bad_channel_address_is_usage_error),
        cmocka_unit_test(cli_bad_gain_is_usage_error),
        cmocka_unit_test(cli_bad_latency_is_usage_error),
        cmocka_unit_test(cli_bad_format_is_usage_error),
        cmocka_unit_test(cli_option_or_argument_a_verb_does_not_take_is_usage_error),
        cmocka_unit_test(cli_without_a_socket_exits_3),
        cmocka_unit_test(cli_socket_nobody_listens_on_exits_3),
        cmocka_unit_test(cli_socket_comes_from_aoip_socket_unless_given),
        cmocka_unit_test(cli_silent_node_exits_3_after_the_timeout),
        cmocka_unit_test(cli_bad_timeout_setting_is_usage_error),
        cmocka_unit_test(cli_dropped_connection_exits_3),
        cmocka_unit_test(cli_answer_that_is_no_response_exits_3),
        cmocka_unit_test(cli_meter_watch_repeats_until_sigint_and_exits_0),
        cmocka_unit_test(cli_meter_watch_repeats_until_sigterm_and_exits_0),
        cmocka_unit_test(cli_help_lists_every_command_on_one_line),
        cmocka_unit_test(cli_help_for_a_command_shows_its_synopsis_and_example),
        cmocka_unit_test(cli_version_names_both_versions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
