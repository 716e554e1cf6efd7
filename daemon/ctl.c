/*
 * ctl.c: the control socket: where aoipctl (or any local client) talks to
 * the node, one JSON line per request (proto/control.md).
 *
 * Who may connect is decided by the socket file's mode (0660) and group,
 * so there is no authentication here. There is still a stranger's input:
 * lines are bounded, garbage gets an error reply and the connection stays
 * usable, and requests are answered strictly in order even when one of
 * them waits on another node: the node stops reading from that client
 * until it is answered, so a flood of pipelined requests costs nothing.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "node.h"

/* Clients at once. */
#define CTL_MAX_CLIENTS 64
/* A client that leaves half a line unfinished this long is cut off. */
#define CTL_IDLE_MS 60000

struct client {
    struct node *node;
    uv_pipe_t pipe;
    struct aoip_linebuf lb;
    /* Input read but not yet framed, while a request is in flight: reading
     * stops until it is answered, so a client can pipeline any number of
     * requests and the node holds at most one read's worth of them. */
    char *stash;
    size_t stash_len;
    bool busy;          /* a request is in flight */
    bool closed;        /* the connection is being closed */
    bool handle_closed; /* ... and libuv is done with it */
    int64_t last_rx_ms;
    struct client *next;
};

static struct client *clients;
static unsigned n_clients;
static uv_timer_t idle_timer;

static void client_close(struct client *c);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void send_response(struct client *c, json_t *response)
{
    size_t len = 0;
    char *line = aoip_control_dump(response, &len);
    json_decref(response);
    if (!line) {
        /* A result too large for one line: say so instead. */
        json_t *f = aoip_control_fail(0, AOIP_CODE_REFUSED, "the answer exceeds %d bytes",
                                      AOIP_CONTROL_MAX_LINE);
        line = aoip_control_dump(f, &len);
        json_decref(f);
        if (!line)
            return;
    }
    if (c->closed) {
        free(line);
        return;
    }
    node_write_line((uv_stream_t *)&c->pipe, line, len);
}

static void client_free(struct client *c)
{
    free(c->stash);
    aoip_linebuf_close(&c->lb);
    free(c);
}

static int on_line(void *arg, char *line, size_t len);

/* Frame what the client sent; returns false when a request is left waiting. */
static bool take_input(struct client *c, const char *data, size_t len)
{
    if (aoip_linebuf_feed(&c->lb, data, len, on_line, c) == 0 || c->closed)
        return true;
    /* A request went in flight: keep the rest for when it is answered. */
    size_t rest = len - c->lb.used;
    char *stash = rest ? malloc(rest) : NULL;
    if (rest && !stash) {
        client_close(c);
        return true;
    }
    if (rest)
        memcpy(stash, data + c->lb.used, rest);
    free(c->stash);
    c->stash = stash;
    c->stash_len = rest;
    uv_read_stop((uv_stream_t *)&c->pipe);
    return false;
}

static void ctl_request_done(struct request *r, json_t *response)
{
    struct client *c = r->ctx;
    send_response(c, response);
    json_decref(r->msg);
    free(r);
    c->busy = false;
    if (c->handle_closed) {
        client_free(c);
        return;
    }
    if (c->closed)
        return;
    /* Go on with what was read meanwhile, then read again. */
    char *stash = c->stash;
    size_t len = c->stash_len;
    c->stash = NULL;
    c->stash_len = 0;
    bool done = take_input(c, stash ? stash : "", len);
    free(stash);
    if (done && !c->closed)
        uv_read_start((uv_stream_t *)&c->pipe, node_read_alloc, on_read);
}

static void handle_line(struct client *c, char *line, size_t len)
{
    char why[200];

    if (!line) {
        send_response(c, aoip_control_fail(0, AOIP_CODE_TOO_LONG, "a request line exceeds %d bytes",
                                           AOIP_CONTROL_MAX_LINE));
        return;
    }
    if (len == 0)
        return;
    json_t *msg = aoip_control_parse(line, len, why, sizeof(why));
    if (!msg) {
        send_response(c, aoip_control_fail(0, AOIP_CODE_BAD_REQUEST, "%s", why));
        return;
    }
    struct request *r = calloc(1, sizeof(*r));
    if (!r) {
        json_decref(msg);
        send_response(c, aoip_control_fail(0, AOIP_CODE_REFUSED, "out of memory"));
        return;
    }
    r->node = c->node;
    r->msg = msg;
    r->done = ctl_request_done;
    r->ctx = c;
    c->busy = true;
    node_handle(r);
}

static int on_line(void *arg, char *line, size_t len)
{
    struct client *c = arg;

    handle_line(c, line, len);
    /* Answered at once: on to the next line. Waiting: stop framing here. */
    return c->busy || c->closed;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct client *c = s->data;

    if (nread < 0) {
        client_close(c);
        return;
    }
    c->last_rx_ms = node_now_ms(c->node);
    take_input(c, buf->base, (size_t)nread);
}

static void on_closed(uv_handle_t *h)
{
    struct client *c = h->data;
    c->handle_closed = true;
    /* A request still in flight frees the client when it ends. */
    if (!c->busy)
        client_free(c);
}

static void client_close(struct client *c)
{
    if (c->closed)
        return;
    c->closed = true;
    struct client **pp = &clients;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    n_clients--;
    uv_close((uv_handle_t *)&c->pipe, on_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct node *n = server->data;
    struct client *c = NULL;

    if (status < 0)
        return;
    if (n_clients < CTL_MAX_CLIENTS)
        c = calloc(1, sizeof(*c));
    if (!c || aoip_linebuf_init(&c->lb, AOIP_CONTROL_MAX_LINE) < 0) {
        free(c);
        uv_pipe_t *drop = malloc(sizeof(*drop));
        if (drop && uv_pipe_init(n->loop, drop, 0) == 0 &&
            uv_accept(server, (uv_stream_t *)drop) == 0)
            uv_close((uv_handle_t *)drop, (uv_close_cb)free);
        else
            free(drop);
        return;
    }
    c->node = n;
    uv_pipe_init(n->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
        c->closed = true;
        uv_close((uv_handle_t *)&c->pipe, on_closed);
        return;
    }
    c->last_rx_ms = node_now_ms(n);
    c->next = clients;
    clients = c;
    n_clients++;
    uv_read_start((uv_stream_t *)&c->pipe, node_read_alloc, on_read);
}

static void on_idle_check(uv_timer_t *t)
{
    struct node *n = t->data;
    int64_t now = node_now_ms(n);

    for (struct client *c = clients, *next; c; c = next) {
        next = c->next;
        if (c->lb.len > 0 && now - c->last_rx_ms > CTL_IDLE_MS)
            client_close(c);
    }
}

/* The socket's group: who besides its owner may use it (control_group). */
static int set_group(struct node *n, const char *path, char *err, size_t errlen)
{
    const char *name = n->cfg->control_group;
    if (!name[0])
        return 0;
    errno = 0;
    struct group *g = getgrnam(name);
    if (!g) {
        snprintf(err, errlen, "control_group %s: %s", name,
                 errno ? strerror(errno) : "no such group");
        return -1;
    }
    if (chown(path, (uid_t)-1, g->gr_gid) < 0) {
        snprintf(err, errlen, "control %s: cannot give it to group %s: %s", path, name,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int ctl_init(struct node *n, char *err, size_t errlen)
{
    err[0] = '\0';
    const char *path = n->cfg->control;
    char dir[CFG_PATH_MAX];
    int rc;

    /* The socket's directory (/run/aoip under systemd) may not exist yet. */
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0755);
    }
    /* A socket file left by a node that died is in the way; a live node's is not ours to take. */
    uv_pipe_init(n->loop, &n->control, 0);
    n->control.data = n;
    /* Born 0660: no moment when others could connect before the chmod. */
    mode_t mask = umask(0117);
    rc = uv_pipe_bind(&n->control, path);
    if (rc == UV_EADDRINUSE) {
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        size_t plen = strlen(path);
        memcpy(sun.sun_path, path, plen < sizeof(sun.sun_path) ? plen : sizeof(sun.sun_path) - 1);
        bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0;
        if (probe >= 0)
            close(probe);
        if (alive) {
            umask(mask);
            snprintf(err, errlen, "control %s: another node is using it", path);
            uv_close((uv_handle_t *)&n->control, NULL);
            return -1;
        }
        unlink(path);
        rc = uv_pipe_bind(&n->control, path);
    }
    umask(mask);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&n->control, 16, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "control %s: %s", path, uv_strerror(rc));
        uv_close((uv_handle_t *)&n->control, NULL);
        return -1;
    }
    if (chmod(path, 0660) < 0 || set_group(n, path, err, errlen) < 0) {
        if (!err[0])
            snprintf(err, errlen, "control %s: %s", path, strerror(errno));
        uv_close((uv_handle_t *)&n->control, NULL);
        unlink(path);
        return -1;
    }
    n->control_open = true;
    uv_timer_init(n->loop, &idle_timer);
    idle_timer.data = n;
    uv_timer_start(&idle_timer, on_idle_check, 5000, 5000);
    return 0;
}

void ctl_close(struct node *n)
{
    if (!n->control_open)
        return;
    while (clients)
        client_close(clients);
    uv_close((uv_handle_t *)&n->control, NULL);
    uv_close((uv_handle_t *)&idle_timer, NULL);
    unlink(n->cfg->control);
    n->control_open = false;
}
