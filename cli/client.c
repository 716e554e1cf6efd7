/*
 * client.c: one connection to aoipd's control socket, one request at a time.
 *
 * The socket is non-blocking and every wait goes through poll with what is
 * left of one deadline per request, so a node that accepts and never
 * answers costs the user the timeout and no more. connect() itself can
 * block on a Unix socket whose listen queue is full; SO_SNDTIMEO bounds
 * that wait too (Linux applies it to connect on AF_UNIX). Writes use
 * MSG_NOSIGNAL, so a node that goes away mid-request is an error to report,
 * not a SIGPIPE. Waits are ppoll, so a caller that blocks its stop signals
 * gets them exactly while waiting (see client.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void describe_timeout(char *buf, size_t len, int ms)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%d s", ms / 1000);
    else
        snprintf(buf, len, "%d ms", ms);
}

static int fail_timeout(struct aoipctl_client *c)
{
    char t[32];

    describe_timeout(t, sizeof(t), c->timeout_ms);
    snprintf(c->why, sizeof(c->why), "no answer from %s within %s", c->path, t);
    return -ETIMEDOUT;
}

static int fail_dropped(struct aoipctl_client *c)
{
    snprintf(c->why, sizeof(c->why), "%s closed the connection before answering", c->path);
    return -ECONNRESET;
}

static int fail_errno(struct aoipctl_client *c, const char *doing, int err)
{
    if (err == EPIPE || err == ECONNRESET)
        return fail_dropped(c);
    snprintf(c->why, sizeof(c->why), "%s %s: %s", doing, c->path, strerror(err));
    return -err;
}

int aoipctl_client_connect(struct aoipctl_client *c, const char *path, int timeout_ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->path = path;
    c->timeout_ms = timeout_ms;
    c->next_id = 1;
    if (aoip_linebuf_init(&c->lines, AOIP_CONTROL_MAX_LINE) < 0) {
        snprintf(c->why, sizeof(c->why), "out of memory");
        return -ENOMEM;
    }
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(c->why, sizeof(c->why), "cannot connect to %s: the path is too long", path);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path));

    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return fail_errno(c, "cannot connect to", errno);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(c->fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;
        /* A full listen queue for longer than the timeout: nobody is answering. */
        if (err == EAGAIN || err == EINPROGRESS)
            return fail_timeout(c);
        if (err == EACCES || err == EPERM)
            snprintf(c->why, sizeof(c->why),
                     "permission denied: %s is for its owner and its group (control_group "
                     "in the node's config); ask to be added to that group",
                     path);
        else
            snprintf(c->why, sizeof(c->why), "cannot connect to %s: %s", path, strerror(err));
        return -err;
    }
    /* From here on every wait is a poll against the request's deadline. */
    struct timeval none = { 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
    return 0;
}

void aoipctl_client_close(struct aoipctl_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    aoip_linebuf_close(&c->lines);
    json_decref(c->answer);
    c->answer = NULL;
}

/* Waits until fd is ready for events or the deadline passes: 0, -ETIMEDOUT or -EINTR. */
static int wait_ready(struct aoipctl_client *c, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return fail_timeout(c);
        struct pollfd p = { .fd = c->fd, .events = events };
        struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (long)(left % 1000) * 1000000 };
        int n = ppoll(&p, 1, &ts, c->wait_mask);
        if (n > 0)
            return 0;
        if (n < 0 && errno == EINTR && c->stop && *c->stop) {
            snprintf(c->why, sizeof(c->why), "interrupted");
            return -EINTR;
        }
        if (n < 0 && errno != EINTR)
            return fail_errno(c, "waiting for", errno);
    }
}

static int send_line(struct aoipctl_client *c, const char *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return fail_errno(c, "writing to", errno);
        int rc = wait_ready(c, POLLOUT, deadline);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The line callback: keeps the first non-empty line, parsed, and stops. */
static int on_line(void *arg, char *line, size_t len)
{
    struct aoipctl_client *c = arg;
    char err[160];

    if (!line) {
        snprintf(c->why, sizeof(c->why), "bad answer from %s: longer than %d bytes", c->path,
                 AOIP_CONTROL_MAX_LINE);
        return -EPROTO;
    }
    if (len == 0)
        return 0;
    c->answer = aoip_control_parse(line, len, err, sizeof(err));
    if (!c->answer) {
        snprintf(c->why, sizeof(c->why), "bad answer from %s: %s", c->path, err);
        return -EPROTO;
    }
    return 1;
}

static int read_answer(struct aoipctl_client *c, int64_t deadline)
{
    char buf[4096];

    for (;;) {
        int rc = wait_ready(c, POLLIN, deadline);
        if (rc < 0)
            return rc;
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0)
            return fail_dropped(c);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            return fail_errno(c, "reading from", errno);
        }
        rc = aoip_linebuf_feed(&c->lines, buf, (size_t)n, on_line, c);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
}

/* An answer must be a response to the request just sent. */
static int check_answer(struct aoipctl_client *c, json_int_t id)
{
    const json_t *ok = json_object_get(c->answer, "ok");
    const json_t *echo = json_object_get(c->answer, "id");

    if (!json_is_boolean(ok)) {
        snprintf(c->why, sizeof(c->why), "bad answer from %s: no \"ok\"", c->path);
        return -EPROTO;
    }
    if (!json_is_integer(echo) || json_integer_value(echo) != id) {
        snprintf(c->why, sizeof(c->why), "bad answer from %s: not the answer to request %lld",
                 c->path, (long long)id);
        return -EPROTO;
    }
    return 0;
}

int aoipctl_client_call(struct aoipctl_client *c, const json_t *request, json_t **answer)
{
    json_int_t id = c->next_id++;
    int64_t deadline = now_ms() + c->timeout_ms;
    size_t len;
    int rc;

    *answer = NULL;
    json_decref(c->answer);
    c->answer = NULL;

    /* The id first, so the line reads as the protocol's examples do. */
    json_t *msg = json_pack("{s:I}", "id", id);
    if (!msg || json_object_update(msg, (json_t *)request) < 0) {
        json_decref(msg);
        snprintf(c->why, sizeof(c->why), "out of memory");
        return -ENOMEM;
    }
    json_object_set_new(msg, "id", json_integer(id));
    char *line = aoip_control_dump(msg, &len);
    json_decref(msg);
    if (!line) {
        snprintf(c->why, sizeof(c->why), "the request is longer than %d bytes",
                 AOIP_CONTROL_MAX_LINE);
        return -EMSGSIZE;
    }
    rc = send_line(c, line, len, deadline);
    free(line);
    if (rc < 0)
        return rc;
    rc = read_answer(c, deadline);
    if (rc == 0)
        rc = check_answer(c, id);
    if (rc < 0) {
        json_decref(c->answer);
        c->answer = NULL;
        return rc;
    }
    *answer = c->answer;
    c->answer = NULL;
    return 0;
}
