/*
 * aoipctl.h: what aoipctl's files share: the exit codes, one invocation's
 * state, and the shape of a verb.
 *
 * aoipctl is a table of verbs (main.c) whose handlers (verbs.c) check
 * their arguments, talk to the node through one connection (client.c) and
 * print what comes back (render.c, matrix.c). The exit codes are part of
 * the interface scripts rely on, so they are named here once.
 */
#ifndef AOIPCTL_H
#define AOIPCTL_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "client.h"
#include "render.h"

enum aoipctl_exit {
    AOIPCTL_EXIT_OK = 0,
    AOIPCTL_EXIT_REFUSED = 1,     /* the node answered ok:false */
    AOIPCTL_EXIT_USAGE = 2,       /* bad arguments: nothing was sent */
    AOIPCTL_EXIT_UNREACHABLE = 3, /* no socket, no answer, or the connection dropped */
};

#define AOIPCTL_DEFAULT_SOCKET "/run/aoip/control.sock"
/* How long a request may wait for its answer before the node counts as unreachable. */
#define AOIPCTL_DEFAULT_TIMEOUT_MS 10000

/* Options that only some verbs take; a verb lists the ones it accepts. */
enum aoipctl_opt {
    AOIPCTL_OPT_GAIN = 1u << 0,
    AOIPCTL_OPT_MUTE = 1u << 1,
    AOIPCTL_OPT_UNMUTE = 1u << 2,
    AOIPCTL_OPT_WATCH = 1u << 3,
    AOIPCTL_OPT_LATENCY = 1u << 4,
    AOIPCTL_OPT_FORMAT = 1u << 5, /* --encoding, --bitrate, --frame-ms */
};

struct aoipctl;

struct aoipctl_verb {
    const char *name;     /* one or two words: "status", "route add" */
    const char *synopsis; /* the arguments after the name */
    int (*run)(struct aoipctl *ctl, int argc, char **argv);
    const char *help;    /* one line, for the list of verbs */
    const char *details; /* a paragraph for 'aoipctl help VERB', or NULL */
    const char *example;
    unsigned options; /* enum aoipctl_opt bits */
};

/* One invocation: the options, the verb being run and its connection. */
struct aoipctl {
    const char *socket_path;
    int timeout_ms;
    bool json;
    struct aoipctl_term term;
    const struct aoipctl_verb *verb;

    /* Verb options, as given; each verb checks the ones it takes. */
    const char *gain;
    const char *latency;                       /* --latency-us: microseconds, or "default" */
    const char *encoding, *bitrate, *frame_ms; /* route add's format */
    bool mute, unmute, watch;

    struct aoipctl_client client; /* connected by the first request */
    bool connected;
    /*
     * A verb that repeats until SIGINT or SIGTERM (meter --watch) blocks
     * them, waits with wait_mask, and finds *stop set when one came.
     */
    volatile sig_atomic_t *stop;
    const sigset_t *wait_mask;
};

/* Prints "aoipctl: <what>" and the verb's synopsis on stderr; returns AOIPCTL_EXIT_USAGE. */
int aoipctl_usage_error(const struct aoipctl *ctl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints "usage: aoipctl NAME SYNOPSIS" for one verb. */
void aoipctl_print_synopsis(FILE *to, const struct aoipctl_verb *verb);

/* The verb handlers (verbs.c); argv holds the arguments after the verb's name. */
int aoipctl_verb_status(struct aoipctl *ctl, int argc, char **argv);
int aoipctl_verb_nodes(struct aoipctl *ctl, int argc, char **argv);
int aoipctl_verb_channels(struct aoipctl *ctl, int argc, char **argv);
int aoipctl_verb_route_add(struct aoipctl *ctl, int argc, char **argv);
int aoipctl_verb_route_del(struct aoipctl *ctl, int argc, char **argv);
int aoipctl_verb_route_list(struct aoipctl *ctl, int argc, char **argv);
int aoipctl_verb_matrix(struct aoipctl *ctl, int argc, char **argv);
int aoipctl_verb_stats(struct aoipctl *ctl, int argc, char **argv);
int aoipctl_verb_meter(struct aoipctl *ctl, int argc, char **argv);
/* Needs no node: prints a new network secret. */
int aoipctl_verb_keygen(struct aoipctl *ctl, int argc, char **argv);

/* Closes the connection if a verb opened one. */
void aoipctl_finish(struct aoipctl *ctl);

#endif
