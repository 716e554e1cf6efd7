/*
 * client.h: aoipctl's side of the control socket (proto/control.md).
 *
 * One connection per invocation; each call sends one request line and
 * waits, with a deadline, for the one line that answers it. Everything that
 * can go wrong on the way (no socket, no answer in time, a dropped
 * connection, an answer that is not a response) comes back as a negative
 * errno with a one-line reason ready for the user, so the verbs only decide
 * the exit code.
 */
#ifndef AOIPCTL_CLIENT_H
#define AOIPCTL_CLIENT_H

#include <signal.h>
#include <stdbool.h>

#include <jansson.h>

#include "aoip/control.h"

struct aoipctl_client {
    int fd;
    int timeout_ms;
    json_int_t next_id; /* ids count from 1 on each connection */
    const char *path;
    /*
     * For a caller that stops on a signal: the signals it blocks are
     * unblocked only inside the wait (ppoll), so one that arrives between
     * two waits is not lost; a wait it interrupts gives up with -EINTR
     * once *stop is set. Both NULL: plain waits.
     */
    const volatile sig_atomic_t *stop;
    const sigset_t *wait_mask;
    struct aoip_linebuf lines;
    json_t *answer;
    char why[512]; /* the reason of the last failure, for "aoipctl: <why>" */
};

/*
 * Connects to the Unix socket at path. Returns 0, or a negative errno with
 * c->why set; c can be closed either way.
 */
int aoipctl_client_connect(struct aoipctl_client *c, const char *path, int timeout_ms);

/*
 * Sends request (an object: its fields, with the next id added) and waits
 * for the answer. Returns 0 with *answer a new reference to the response,
 * an object with a boolean "ok" that echoes the id; or a negative errno
 * with c->why set: -ETIMEDOUT (no answer within the timeout), -ECONNRESET
 * (the connection dropped), -EPROTO (the answer is not a response), -EINTR
 * (c->stop was raised), or what the socket reported.
 */
int aoipctl_client_call(struct aoipctl_client *c, const json_t *request, json_t **answer);

void aoipctl_client_close(struct aoipctl_client *c);

#endif
