/*
 * main.c: aoipctl's entry point: options, the table of verbs, dispatch.
 *
 * aoipctl follows wireguard-tools: noun-verb commands, human output by
 * default, --json for scripts, one line of error naming the problem and a
 * distinct exit code for each kind of failure. Everything a user can type
 * is described once, in the verb table below; the list of commands, each
 * command's help and the synopsis printed after a usage error all come
 * from it, so they cannot drift apart.
 *
 * Options are read from anywhere on the line (`aoipctl status --json`
 * works as well as `aoipctl --json status`), in order, whatever
 * POSIXLY_CORRECT says; `--` ends them, for a channel whose name starts
 * with a dash.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aoip/common.h"
#include "aoipctl.h"

static int run_help(struct aoipctl *ctl, int argc, char **argv);

static const struct aoipctl_verb verbs[] = {
    { "status", "", aoipctl_verb_status, "this node: name, clock, latency, counts", NULL,
      "aoipctl status", 0 },
    { "nodes", "", aoipctl_verb_nodes, "every node this one knows, online or lost", NULL,
      "aoipctl nodes", 0 },
    { "channels", "[NODE]", aoipctl_verb_channels,
      "the sources and destinations of one node, or of all",
      "Each channel is listed by name and by number; either address works in a route.",
      "aoipctl channels stage", 0 },
    { "route add",
      "SRC DST [--gain DB] [--mute|--unmute] [--latency-us N|default]\n"
      "          [--encoding L24|L16|opus] [--bitrate KBPS] [--frame-ms 2.5|5|10|20|auto]",
      aoipctl_verb_route_add, "add a route, or change the gain, mute, latency or encoding of one",
      "Routes source SRC to destination DST, or changes the route between them.\n"
      "The gain is in dB (0 for a new route, unchanged for one that exists);\n"
      "--mute and --unmute set the mute, which is otherwise left as it is.\n"
      "--latency-us N has DST's node hold SRC N microseconds (up to 100000) in\n"
      "its receive buffer, instead of the latency configured for the node or\n"
      "the peer; the other channels of the flow that carries SRC wait as long,\n"
      "and where several routes ask, the longest wins. --latency-us default\n"
      "returns to the configured latency; without the option the route's\n"
      "latency is left as it is.\n"
      "--encoding has SRC sent to DST's node as L24, L16 or Opus (for a WAN:\n"
      "--bitrate in kb/s a channel, 6 to 256, default 64; --frame-ms, default\n"
      "the shortest that keeps the packet headers below the audio's bitrate).\n"
      "A source reaches a node once: every route of SRC into that node takes\n"
      "the encoding. Without these options the route keeps its encoding, or\n"
      "the one configured for SRC's node ([peer.NODE] or [node] encoding).",
      "aoipctl route add stage/mic1 truck/in1 --gain -6 --latency-us 20000\n"
      "aoipctl route add stage/mic1 studio/in1 --encoding opus --bitrate 96 --frame-ms 5",
      AOIPCTL_OPT_GAIN | AOIPCTL_OPT_MUTE | AOIPCTL_OPT_UNMUTE | AOIPCTL_OPT_LATENCY |
          AOIPCTL_OPT_FORMAT },
    { "route del", "SRC DST", aoipctl_verb_route_del, "remove a route",
      "The route fades out over a few milliseconds.", "aoipctl route del stage/mic1 truck/in1", 0 },
    { "route list", "[NODE]", aoipctl_verb_route_list,
      "the routes into one node's destinations, or all", NULL, "aoipctl route list truck", 0 },
    { "matrix", "[NODE]", aoipctl_verb_matrix, "the routes as a grid of sources and destinations",
      "Sources run across, numbered within their node as NODE/N numbers them;\n"
      "destinations run down. A cell shows the route's gain in dB, M when it is\n"
      "muted, and a dot where there is no route. With NODE, only the\n"
      "destinations of that node. Routes that ask for a latency of their own\n"
      "are listed below the grid.",
      "aoipctl matrix truck", 0 },
    { "stats", "", aoipctl_verb_stats, "this node's flows: loss, jitter, buffer, drift, latency",
      "One entry per RTP flow, received (rx) or sent (tx), then the datagrams\n"
      "dropped because they belonged to no flow.",
      "aoipctl stats", 0 },
    { "meter", "[--watch]", aoipctl_verb_meter, "peak and RMS levels of this node's channels",
      "Levels are in dBFS, since the last meter request. --watch asks again\n"
      "every 250 ms until interrupted.",
      "aoipctl meter --watch", AOIPCTL_OPT_WATCH },
    { "keygen", "", aoipctl_verb_keygen, "print a new network secret",
      "Nodes that hold the same secret are members of one network: they let\n"
      "each other in and nobody else. Put the secret in a file of mode 0600 on\n"
      "every node (secret_file in [node], by default STATE_DIR/network.secret).\n"
      "It talks to no node.",
      "(umask 077; aoipctl keygen > /etc/aoip/network.secret)", 0 },
    { "help", "[COMMAND]", run_help, "list the commands, or show one with an example", NULL,
      "aoipctl help route add", 0 },
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static const char general_usage[] = "usage: aoipctl [-s PATH] [-j] COMMAND [ARGS...]\n";

/* Verb options, as getopt reports them. */
enum {
    OPT_VERSION = 256,
    OPT_GAIN,
    OPT_MUTE,
    OPT_UNMUTE,
    OPT_LATENCY,
    OPT_ENCODING,
    OPT_BITRATE,
    OPT_FRAME_MS,
};

static const struct option long_options[] = {
    { "socket", required_argument, NULL, 's' },
    { "json", no_argument, NULL, 'j' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, OPT_VERSION },
    { "gain", required_argument, NULL, OPT_GAIN },
    { "mute", no_argument, NULL, OPT_MUTE },
    { "unmute", no_argument, NULL, OPT_UNMUTE },
    { "latency-us", required_argument, NULL, OPT_LATENCY },
    { "encoding", required_argument, NULL, OPT_ENCODING },
    { "bitrate", required_argument, NULL, OPT_BITRATE },
    { "frame-ms", required_argument, NULL, OPT_FRAME_MS },
    { "watch", no_argument, NULL, 'w' },
    { NULL, 0, NULL, 0 },
};

static const struct {
    unsigned bit;
    const char *name;
} verb_option_names[] = {
    { AOIPCTL_OPT_GAIN, "--gain" },
    { AOIPCTL_OPT_MUTE, "--mute" },
    { AOIPCTL_OPT_UNMUTE, "--unmute" },
    { AOIPCTL_OPT_WATCH, "--watch" },
    { AOIPCTL_OPT_LATENCY, "--latency-us" },
    { AOIPCTL_OPT_FORMAT, "--encoding, --bitrate, --frame-ms" },
};

static void print_commands(FILE *to)
{
    fputs(general_usage, to);
    fputs("\n"
          "aoipctl edits the routing matrix of an aoip network from any of its\n"
          "nodes, through the control socket of the aoipd on this machine.\n"
          "\n"
          "commands:\n",
          to);
    for (size_t i = 0; i < N_VERBS; i++)
        fprintf(to, "  %-12s%s\n", verbs[i].name, verbs[i].help);
    fputs("\n"
          "options:\n"
          "  -s, --socket PATH  the control socket (default: $AOIP_SOCKET, else\n"
          "                     " AOIPCTL_DEFAULT_SOCKET ")\n"
          "  -j, --json         print the node's answer as JSON\n"
          "  -h, --help         show this text; after a command, that command's help\n"
          "      --version      show the versions of aoipctl and libaoip\n"
          "\n"
          "A channel is NODE/NAME or NODE/N, N counting from 1. 'aoipctl help COMMAND'\n"
          "shows a command's arguments and an example.\n"
          "\n"
          "exit status: 0 done, 1 refused by the node, 2 bad usage, 3 the node cannot\n"
          "be reached (no socket, no answer within 10 s, or the connection dropped).\n"
          "NO_COLOR turns colour off.\n",
          to);
}

static void print_verb_help(FILE *to, const struct aoipctl_verb *v)
{
    aoipctl_print_synopsis(to, v);
    fprintf(to, "%s\n", v->help);
    if (v->details)
        fprintf(to, "\n%s\n", v->details);
    fprintf(to, "\nexample:\n  %s\n", v->example);
}

/* How many words of argv name v: all of its name's words, or 0. */
static int name_matches(const struct aoipctl_verb *v, int argc, char **argv)
{
    const char *p = v->name;
    int words = 0;

    while (*p) {
        size_t n = strcspn(p, " ");
        if (words >= argc || strlen(argv[words]) != n || strncmp(argv[words], p, n) != 0)
            return 0;
        words++;
        p += n;
        p += *p == ' ';
    }
    return words;
}

/* True when word is the first word of a verb of several words ("route"). */
static bool is_noun(const char *word)
{
    size_t n = strlen(word);

    for (size_t i = 0; i < N_VERBS; i++)
        if (strncmp(verbs[i].name, word, n) == 0 && verbs[i].name[n] == ' ')
            return true;
    return false;
}

static void print_noun_synopses(FILE *to, const char *noun, bool full)
{
    size_t n = strlen(noun);
    bool first = true;

    for (size_t i = 0; i < N_VERBS; i++) {
        if (strncmp(verbs[i].name, noun, n) != 0 || verbs[i].name[n] != ' ')
            continue;
        if (full) {
            if (!first)
                fputc('\n', to);
            print_verb_help(to, &verbs[i]);
        } else {
            aoipctl_print_synopsis(to, &verbs[i]);
        }
        first = false;
    }
}

/*
 * The verb that argv names, and in *words how many words its name took.
 * NULL after printing why, when there is none.
 */
static const struct aoipctl_verb *find_verb(int argc, char **argv, int *words)
{
    const struct aoipctl_verb *best = NULL;

    *words = 0;
    for (size_t i = 0; i < N_VERBS; i++) {
        int n = name_matches(&verbs[i], argc, argv);
        if (n > *words) {
            *words = n;
            best = &verbs[i];
        }
    }
    if (best)
        return best;
    if (argc == 0) {
        fprintf(stderr, "aoipctl: no command given\n%s", general_usage);
    } else if (is_noun(argv[0]) && argc == 1) {
        fprintf(stderr, "aoipctl: %s needs a verb\n", argv[0]);
        print_noun_synopses(stderr, argv[0], false);
    } else if (is_noun(argv[0])) {
        fprintf(stderr, "aoipctl: unknown command '%s %s'\n", argv[0], argv[1]);
        print_noun_synopses(stderr, argv[0], false);
    } else {
        fprintf(stderr, "aoipctl: unknown command '%s'\n%s", argv[0], general_usage);
    }
    return NULL;
}

static int run_help(struct aoipctl *ctl, int argc, char **argv)
{
    int words;

    if (argc == 0) {
        print_commands(stdout);
        return AOIPCTL_EXIT_OK;
    }
    if (is_noun(argv[0]) && argc == 1) {
        print_noun_synopses(stdout, argv[0], true);
        return AOIPCTL_EXIT_OK;
    }
    for (size_t i = 0; i < N_VERBS; i++) {
        words = name_matches(&verbs[i], argc, argv);
        if (words > 0 && words == argc) {
            print_verb_help(stdout, &verbs[i]);
            return AOIPCTL_EXIT_OK;
        }
    }
    return aoipctl_usage_error(ctl, "unknown command '%s%s%s'", argv[0], argc > 1 ? " " : "",
                               argc > 1 ? argv[1] : "");
}

/* AOIPCTL_TIMEOUT_MS, for tests that cannot wait 10 s for a silent node. */
static int read_timeout(int *ms)
{
    const char *s = getenv("AOIPCTL_TIMEOUT_MS");
    char *end;

    *ms = AOIPCTL_DEFAULT_TIMEOUT_MS;
    if (!s || !s[0])
        return 0;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 1 || v > 3600000) {
        fprintf(stderr, "aoipctl: AOIPCTL_TIMEOUT_MS is not a number of milliseconds: '%s'\n", s);
        return -1;
    }
    *ms = (int)v;
    return 0;
}

struct parsed {
    char **args; /* the words that are not options, in order */
    int nargs;
    unsigned given; /* enum aoipctl_opt bits */
    bool help, version;
    char bad[160]; /* the first option error, reported once the verb is known */
};

static void parse_options(int argc, char **argv, struct aoipctl *ctl, struct parsed *p)
{
    int c;

    opterr = 0;
    /* '-': words that are not options come back in order, as option 1. */
    while ((c = getopt_long(argc, argv, "-:s:jhw", long_options, NULL)) != -1) {
        switch (c) {
        case 1:
            p->args[p->nargs++] = optarg;
            break;
        case 's':
            ctl->socket_path = optarg;
            break;
        case 'j':
            ctl->json = true;
            break;
        case 'h':
            p->help = true;
            break;
        case 'w':
            ctl->watch = true;
            p->given |= AOIPCTL_OPT_WATCH;
            break;
        case OPT_VERSION:
            p->version = true;
            break;
        case OPT_GAIN:
            ctl->gain = optarg;
            p->given |= AOIPCTL_OPT_GAIN;
            break;
        case OPT_MUTE:
            ctl->mute = true;
            p->given |= AOIPCTL_OPT_MUTE;
            break;
        case OPT_UNMUTE:
            ctl->unmute = true;
            p->given |= AOIPCTL_OPT_UNMUTE;
            break;
        case OPT_LATENCY:
            ctl->latency = optarg;
            p->given |= AOIPCTL_OPT_LATENCY;
            break;
        case OPT_ENCODING:
        case OPT_BITRATE:
        case OPT_FRAME_MS:
            *(c == OPT_ENCODING  ? &ctl->encoding
              : c == OPT_BITRATE ? &ctl->bitrate
                                 : &ctl->frame_ms) = optarg;
            p->given |= AOIPCTL_OPT_FORMAT;
            break;
        case ':':
            if (!p->bad[0])
                snprintf(p->bad, sizeof(p->bad), "option '%s' needs an argument", argv[optind - 1]);
            break;
        default:
            if (!p->bad[0] && optopt && optopt < 256)
                snprintf(p->bad, sizeof(p->bad), "unknown option '-%c'", optopt);
            else if (!p->bad[0])
                snprintf(p->bad, sizeof(p->bad), "unknown option '%s'", argv[optind - 1]);
            break;
        }
    }
    while (optind < argc)
        p->args[p->nargs++] = argv[optind++];
}

static int dispatch(struct aoipctl *ctl, struct parsed *p)
{
    int words;

    if (p->version) {
        printf("aoipctl %s (libaoip %s)\n", AOIP_VERSION_STRING, aoip_version());
        return AOIPCTL_EXIT_OK;
    }
    if (p->nargs == 0 && p->help && !p->bad[0]) {
        print_commands(stdout);
        return AOIPCTL_EXIT_OK;
    }
    ctl->verb = find_verb(p->nargs, p->args, &words);
    if (!ctl->verb)
        return AOIPCTL_EXIT_USAGE;
    if (p->bad[0])
        return aoipctl_usage_error(ctl, "%s", p->bad);
    if (p->help) {
        print_verb_help(stdout, ctl->verb);
        return AOIPCTL_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(verb_option_names) / sizeof(verb_option_names[0]); i++)
        if (p->given & ~ctl->verb->options & verb_option_names[i].bit)
            return aoipctl_usage_error(ctl, "%s does not take %s", ctl->verb->name,
                                       verb_option_names[i].name);
    if (!ctl->socket_path) {
        const char *env = getenv("AOIP_SOCKET");
        ctl->socket_path = env && env[0] ? env : AOIPCTL_DEFAULT_SOCKET;
    }
    if (read_timeout(&ctl->timeout_ms) < 0)
        return AOIPCTL_EXIT_USAGE;
    aoipctl_term_detect(&ctl->term, STDOUT_FILENO);
    return ctl->verb->run(ctl, p->nargs - words, p->args + words);
}

int main(int argc, char **argv)
{
    struct aoipctl ctl = { 0 };
    struct parsed p = { 0 };
    int rc;

    p.args = calloc((size_t)argc + 1, sizeof(*p.args));
    if (!p.args) {
        fputs("aoipctl: out of memory\n", stderr);
        return AOIPCTL_EXIT_REFUSED;
    }
    parse_options(argc, argv, &ctl, &p);
    rc = dispatch(&ctl, &p);
    aoipctl_finish(&ctl);
    free(p.args);
    return rc;
}
