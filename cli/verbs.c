/*
 * verbs.c: what each aoipctl verb does: check its arguments, ask the node,
 * print the answer.
 *
 * Arguments are checked completely before the first byte is sent, so a
 * typo never reaches the node and always exits 2 without touching the
 * socket. Channel addresses and node names are checked with the same code
 * the daemon uses (lib/control.c), so what passes here is what the node
 * can parse. Each answer is printed either as a human table or, with
 * --json, as the bare "result" so scripts can pipe it to jq.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "aoip/peerchan.h"
#include "aoip/seal.h"
#include "aoipctl.h"
#include "matrix.h"

/* How often meter --watch asks for levels. */
#define METER_INTERVAL_MS 250

void aoipctl_print_synopsis(FILE *to, const struct aoipctl_verb *verb)
{
    fprintf(to, "usage: aoipctl %s%s%s\n", verb->name, verb->synopsis[0] ? " " : "",
            verb->synopsis);
}

int aoipctl_usage_error(const struct aoipctl *ctl, const char *fmt, ...)
{
    va_list ap;

    fputs("aoipctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (ctl->verb)
        aoipctl_print_synopsis(stderr, ctl->verb);
    return AOIPCTL_EXIT_USAGE;
}

void aoipctl_finish(struct aoipctl *ctl)
{
    if (ctl->connected)
        aoipctl_client_close(&ctl->client);
    ctl->connected = false;
}

/*
 * Sends request (stolen) and returns an exit code; on success *result is a
 * new reference to the answer's result. A request a stop signal cut short
 * returns AOIPCTL_EXIT_OK with *result NULL and prints nothing.
 */
static int call(struct aoipctl *ctl, json_t *request, json_t **result)
{
    json_t *answer;
    int rc;

    *result = NULL;
    if (!request) {
        fputs("aoipctl: out of memory\n", stderr);
        return AOIPCTL_EXIT_REFUSED;
    }
    if (!ctl->connected) {
        rc = aoipctl_client_connect(&ctl->client, ctl->socket_path, ctl->timeout_ms);
        ctl->connected = true;
        ctl->client.stop = ctl->stop;
        ctl->client.wait_mask = ctl->wait_mask;
        if (rc < 0) {
            json_decref(request);
            fprintf(stderr, "aoipctl: %s\n", ctl->client.why);
            return AOIPCTL_EXIT_UNREACHABLE;
        }
    }
    rc = aoipctl_client_call(&ctl->client, request, &answer);
    json_decref(request);
    if (rc == -EINTR)
        return AOIPCTL_EXIT_OK;
    if (rc < 0) {
        fprintf(stderr, "aoipctl: %s\n", ctl->client.why);
        return AOIPCTL_EXIT_UNREACHABLE;
    }
    if (json_is_false(json_object_get(answer, "ok"))) {
        const char *error = json_string_value(json_object_get(answer, "error"));
        const char *code = json_string_value(json_object_get(answer, "code"));
        fprintf(stderr, "aoipctl: %s\n", error ? error : code ? code : "refused");
        json_decref(answer);
        return AOIPCTL_EXIT_REFUSED;
    }
    *result = json_object_get(answer, "result");
    *result = *result ? json_incref(*result) : json_object();
    json_decref(answer);
    return AOIPCTL_EXIT_OK;
}

/*
 * 15 significant digits: -23.01 prints as -23.01, not as the 17 digits of
 * the double nearest to it, and no figure the node reports is that precise.
 */
static void print_json(const json_t *result, size_t flags)
{
    json_dumpf(result, stdout, flags | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    fputc('\n', stdout);
}

typedef void (*render_fn)(FILE *out, const json_t *result, const struct aoipctl_term *t);

/* One request, its result printed as JSON or by render. */
static int ask(struct aoipctl *ctl, json_t *request, render_fn render)
{
    json_t *result;
    int rc = call(ctl, request, &result);

    if (rc != AOIPCTL_EXIT_OK || !result)
        return rc;
    if (ctl->json)
        print_json(result, JSON_INDENT(2));
    else
        render(stdout, result, &ctl->term);
    json_decref(result);
    return AOIPCTL_EXIT_OK;
}

static int no_arguments(struct aoipctl *ctl, int argc, char **argv)
{
    if (argc > 0)
        return aoipctl_usage_error(ctl, "unexpected argument '%s'", argv[0]);
    return AOIPCTL_EXIT_OK;
}

/* [NODE]: *node is the name, or NULL for every node. */
static int optional_node(struct aoipctl *ctl, int argc, char **argv, const char **node)
{
    *node = NULL;
    if (argc > 1)
        return aoipctl_usage_error(ctl, "unexpected argument '%s'", argv[1]);
    if (argc == 1 && !aoip_name_valid(argv[0], strlen(argv[0])))
        return aoipctl_usage_error(ctl, "'%s' is not a node name", argv[0]);
    if (argc == 1)
        *node = argv[0];
    return AOIPCTL_EXIT_OK;
}

/* {"cmd": cmd} or {"cmd": cmd, "node": node}. */
static json_t *node_request(const char *cmd, const char *node)
{
    return node ? json_pack("{s:s, s:s}", "cmd", cmd, "node", node)
                : json_pack("{s:s}", "cmd", cmd);
}

/* SRC DST, both channel addresses. */
static int source_destination(struct aoipctl *ctl, int argc, char **argv)
{
    struct aoip_channel_addr addr;

    if (argc < 1)
        return aoipctl_usage_error(ctl, "missing SRC");
    if (argc < 2)
        return aoipctl_usage_error(ctl, "missing DST");
    if (argc > 2)
        return aoipctl_usage_error(ctl, "unexpected argument '%s'", argv[2]);
    for (int i = 0; i < 2; i++)
        if (aoip_channel_addr_parse(&addr, argv[i]) < 0)
            return aoipctl_usage_error(ctl, "'%s' is not a channel address (NODE/NAME or NODE/N)",
                                       argv[i]);
    return AOIPCTL_EXIT_OK;
}

int aoipctl_verb_status(struct aoipctl *ctl, int argc, char **argv)
{
    int rc = no_arguments(ctl, argc, argv);

    if (rc != AOIPCTL_EXIT_OK)
        return rc;
    return ask(ctl, json_pack("{s:s}", "cmd", "status"), aoipctl_render_status);
}

int aoipctl_verb_nodes(struct aoipctl *ctl, int argc, char **argv)
{
    int rc = no_arguments(ctl, argc, argv);

    if (rc != AOIPCTL_EXIT_OK)
        return rc;
    return ask(ctl, json_pack("{s:s}", "cmd", "nodes"), aoipctl_render_nodes);
}

int aoipctl_verb_channels(struct aoipctl *ctl, int argc, char **argv)
{
    const char *node;
    int rc = optional_node(ctl, argc, argv, &node);

    if (rc != AOIPCTL_EXIT_OK)
        return rc;
    return ask(ctl, node_request("channels", node), aoipctl_render_channels);
}

/* A gain in dB: a finite number and nothing else. */
static int parse_gain(const char *s, double *db)
{
    char *end;

    errno = 0;
    *db = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(*db))
        return -EINVAL;
    return 0;
}

/*
 * A latency in whole microseconds, or "default" (*us = -1). Its range is
 * the node's to judge, as a gain's is; this only keeps out what is not a
 * number, or one too long to be a latency at all.
 */
static int parse_latency(const char *s, long *us)
{
    char *end;

    if (strcmp(s, "default") == 0) {
        *us = -1;
        return 0;
    }
    if (s[0] < '0' || s[0] > '9' || strlen(s) > 9)
        return -EINVAL;
    *us = strtol(s, &end, 10);
    return *end == '\0' ? 0 : -EINVAL;
}

/* --bitrate KBPS (6..256) into b/s. */
static int parse_bitrate(const char *s, long *bps)
{
    char *end;
    errno = 0;
    long k = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || k < 6 || k > 256)
        return -EINVAL;
    *bps = k * 1000;
    return 0;
}

/* --frame-ms 2.5|5|10|20|auto into us (0: auto). */
static int parse_frame_ms(const char *s, long *us)
{
    static const char *const names[] = { "auto", "2.5", "5", "10", "20" };
    static const long values[] = { 0, 2500, 5000, 10000, 20000 };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i]) == 0) {
            *us = values[i];
            return 0;
        }
    return -EINVAL;
}

static void render_added(FILE *out, const json_t *route, const struct aoipctl_term *t)
{
    aoipctl_render_route(out, "", route, t);
}

static void render_removed(FILE *out, const json_t *route, const struct aoipctl_term *t)
{
    aoipctl_render_route(out, "removed ", route, t);
}

int aoipctl_verb_route_add(struct aoipctl *ctl, int argc, char **argv)
{
    double gain = 0;
    long latency = -1;
    int rc = source_destination(ctl, argc, argv);

    if (rc != AOIPCTL_EXIT_OK)
        return rc;
    if (ctl->gain && parse_gain(ctl->gain, &gain) < 0)
        return aoipctl_usage_error(ctl, "'%s' is not a gain in dB", ctl->gain);
    if (ctl->latency && parse_latency(ctl->latency, &latency) < 0)
        return aoipctl_usage_error(ctl, "'%s' is not a latency in microseconds, nor 'default'",
                                   ctl->latency);
    if (ctl->mute && ctl->unmute)
        return aoipctl_usage_error(ctl, "--mute and --unmute contradict each other");
    long bitrate = 0, frame_us = 0;
    if (ctl->encoding && strcasecmp(ctl->encoding, "L24") != 0 &&
        strcasecmp(ctl->encoding, "L16") != 0 && strcasecmp(ctl->encoding, "opus") != 0)
        return aoipctl_usage_error(ctl, "'%s' is not an encoding: L24, L16 or opus", ctl->encoding);
    if (ctl->bitrate && parse_bitrate(ctl->bitrate, &bitrate) < 0)
        return aoipctl_usage_error(ctl, "'%s' is not a bitrate: 6 to 256 kb/s a channel",
                                   ctl->bitrate);
    if (ctl->frame_ms && parse_frame_ms(ctl->frame_ms, &frame_us) < 0)
        return aoipctl_usage_error(ctl, "'%s' is not an Opus frame: 2.5, 5, 10, 20 or auto",
                                   ctl->frame_ms);

    json_t *req =
        json_pack("{s:s, s:s, s:s}", "cmd", "route.add", "source", argv[0], "destination", argv[1]);
    /* Only what was asked for: the node keeps the current gain and mute otherwise. */
    if (req && ctl->gain)
        json_object_set_new(req, "gain_db", json_real(gain));
    if (req && (ctl->mute || ctl->unmute))
        json_object_set_new(req, "muted", json_boolean(ctl->mute));
    if (req && ctl->latency)
        json_object_set_new(req, "latency_us", latency < 0 ? json_null() : json_integer(latency));
    if (req && ctl->encoding)
        json_object_set_new(req, "encoding", json_string(ctl->encoding));
    if (req && ctl->bitrate)
        json_object_set_new(req, "bitrate", json_integer(bitrate));
    if (req && ctl->frame_ms)
        json_object_set_new(req, "frame_us", json_integer(frame_us));
    return ask(ctl, req, render_added);
}

int aoipctl_verb_route_del(struct aoipctl *ctl, int argc, char **argv)
{
    int rc = source_destination(ctl, argc, argv);

    if (rc != AOIPCTL_EXIT_OK)
        return rc;
    return ask(
        ctl,
        json_pack("{s:s, s:s, s:s}", "cmd", "route.del", "source", argv[0], "destination", argv[1]),
        render_removed);
}

int aoipctl_verb_route_list(struct aoipctl *ctl, int argc, char **argv)
{
    const char *node;
    int rc = optional_node(ctl, argc, argv, &node);

    if (rc != AOIPCTL_EXIT_OK)
        return rc;
    return ask(ctl, node_request("route.list", node), aoipctl_render_routes);
}

int aoipctl_verb_matrix(struct aoipctl *ctl, int argc, char **argv)
{
    const char *node;
    json_t *channels, *routes, *matrix;
    int rc = optional_node(ctl, argc, argv, &node);

    if (rc != AOIPCTL_EXIT_OK)
        return rc;
    /* Every node's channels: any source may feed node's destinations. */
    rc = call(ctl, node_request("channels", NULL), &channels);
    if (rc != AOIPCTL_EXIT_OK)
        return rc;
    rc = call(ctl, node_request("route.list", node), &routes);
    if (rc != AOIPCTL_EXIT_OK) {
        json_decref(channels);
        return rc;
    }
    matrix = aoipctl_matrix_build(channels, routes, node);
    json_decref(channels);
    json_decref(routes);
    if (!matrix) {
        fputs("aoipctl: out of memory\n", stderr);
        return AOIPCTL_EXIT_REFUSED;
    }
    if (ctl->json)
        print_json(matrix, JSON_INDENT(2));
    else
        aoipctl_render_matrix(stdout, matrix, &ctl->term);
    json_decref(matrix);
    return AOIPCTL_EXIT_OK;
}

int aoipctl_verb_stats(struct aoipctl *ctl, int argc, char **argv)
{
    int rc = no_arguments(ctl, argc, argv);

    if (rc != AOIPCTL_EXIT_OK)
        return rc;
    return ask(ctl, json_pack("{s:s}", "cmd", "stats"), aoipctl_render_stats);
}

static volatile sig_atomic_t stop_requested;
/* The signal mask to wait with: the caller's, SIGINT and SIGTERM not blocked. */
static sigset_t wait_mask;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Sleeps ms, or less when a stop signal arrives (or came while it was blocked). */
static void pause_ms(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

    ppoll(NULL, 0, &ts, &wait_mask);
}

/*
 * meter --watch: until SIGINT or SIGTERM, which end it with success. The
 * two signals stay blocked except inside the waits (ppoll with wait_mask),
 * so one that arrives while the answer is printed is taken at the next
 * wait instead of slipping in just before it and going unnoticed.
 */
static int watch_meter(struct aoipctl *ctl)
{
    struct sigaction sa = { .sa_handler = on_stop };
    sigset_t stops;

    sigemptyset(&sa.sa_mask);
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigprocmask(SIG_BLOCK, &stops, &wait_mask);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    ctl->stop = &stop_requested;
    ctl->wait_mask = &wait_mask;

    for (bool first = true; !stop_requested; first = false) {
        json_t *meters;
        int rc = call(ctl, json_pack("{s:s}", "cmd", "meter"), &meters);
        if (rc != AOIPCTL_EXIT_OK || !meters)
            return stop_requested ? AOIPCTL_EXIT_OK : rc;
        if (ctl->json) {
            /* One document per line, so a script can read them as they come. */
            print_json(meters, JSON_COMPACT);
        } else {
            if (ctl->term.tty)
                fputs("\033[H\033[2J", stdout);
            else if (!first)
                fputc('\n', stdout);
            aoipctl_render_meter(stdout, meters, &ctl->term);
        }
        json_decref(meters);
        fflush(stdout);
        pause_ms(METER_INTERVAL_MS);
    }
    return AOIPCTL_EXIT_OK;
}

int aoipctl_verb_meter(struct aoipctl *ctl, int argc, char **argv)
{
    int rc = no_arguments(ctl, argc, argv);

    if (rc != AOIPCTL_EXIT_OK)
        return rc;
    if (ctl->watch)
        return watch_meter(ctl);
    return ask(ctl, json_pack("{s:s}", "cmd", "meter"), aoipctl_render_meter);
}

int aoipctl_verb_keygen(struct aoipctl *ctl, int argc, char **argv)
{
    uint8_t secret[AOIP_SECRET_BYTES];
    char text[AOIP_SECRET_TEXT_LEN + 1];
    int rc = no_arguments(ctl, argc, argv);

    if (rc != AOIPCTL_EXIT_OK)
        return rc;
    if (aoip_seal_init() < 0) {
        fputs("aoipctl: libsodium cannot be initialised\n", stderr);
        return AOIPCTL_EXIT_REFUSED;
    }
    aoip_secret_generate(secret);
    aoip_secret_format(secret, text);
    if (ctl->json)
        printf("{\"secret\": \"%s\"}\n", text);
    else
        printf("%s\n", text);
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(text, sizeof(text));
    return fflush(stdout) == 0 ? AOIPCTL_EXIT_OK : AOIPCTL_EXIT_REFUSED;
}
