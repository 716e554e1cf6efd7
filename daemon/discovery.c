/*
 * discovery.c: nodes find each other with mDNS/DNS-SD, through the Avahi
 * client library, on the node's own libuv loop (DESIGN.md, Discovery).
 *
 * Each node publishes a `_aoip._tcp` service on its peer port, named after
 * the node, with its TXT record (lib/txt.c), and browses for the others:
 * every service found is resolved, its TXT checked, and its address handed
 * to the peer layer (peers_discovered), which keeps a connection to it.
 * When a service goes away the peer layer is told (peers_vanished) and
 * checks that node's connection at once. Two nodes of the same name are
 * two nodes: Avahi renames the second service ("stage #2"), and the peer
 * layer keys nodes by id, not by name.
 *
 * Avahi runs on this thread through an AvahiPoll made of libuv handles: no
 * second loop and no thread. Two things shape it. libuv allows one
 * uv_poll_t per descriptor, and D-Bus watches one socket twice (once to
 * read, once to write), so watches share one poll per descriptor, started
 * for the union of their events. And Avahi may free any watch or timeout
 * from inside a callback, its own included: a freed watch is only marked
 * while a poll callback walks the list and is swept afterwards, and every
 * libuv handle is freed in its close callback, never before.
 *
 * avahi-daemon may be missing when the node starts, or stop and start
 * again while it runs. The client is made with AVAHI_CLIENT_NO_FAIL, so it
 * waits for the daemon; when it loses the daemon (or D-Bus itself) it is
 * made anew, and every new connection publishes and browses afresh.
 * Meanwhile the node serves its static peers. Avahi's client library calls
 * the daemon synchronously over D-Bus for a few requests (publish, new
 * browser or resolver); each is one local round trip.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/watch.h>

#include "aoip/txt.h"
#include "log.h"
#include "node.h"

#define DISCOVERY_SERVICE_TYPE "_aoip._tcp"
/*
 * Services tracked at once. A network of aoip nodes is far smaller (a node
 * knows NODE_MAX_PEERS others, each seen on a few interfaces); past this
 * cap announcements are ignored, so a host flooding the LAN with them
 * cannot exhaust the node's memory.
 */
#define DISCOVERY_MAX_SERVICES 1024
/* Without a D-Bus system bus there is nothing to wait on: try again this often. */
#define DISCOVERY_RETRY_MS 5000
/* A name Avahi refuses at once, as taken on this host, is renamed at most this many times. */
#define DISCOVERY_MAX_RENAMES 32

/* A descriptor's one uv_poll_t, shared by the watches on it. */
struct fd_poll {
    uv_poll_t poll;
    struct discovery *d;
    int fd;
    int uv_events; /* what the poll is started for; 0: stopped */
    unsigned users;
    struct fd_poll *next;
};

/* The AvahiPoll's objects: Avahi's names for them, our layout. */
struct AvahiWatch {
    struct discovery *d;
    struct fd_poll *fp;
    int fd;
    AvahiWatchEvent want;
    AvahiWatchEvent got; /* of the last callback */
    AvahiWatchCallback cb;
    void *userdata;
    bool dead; /* freed by Avahi; swept once no poll callback runs */
    struct AvahiWatch *next;
};

struct AvahiTimeout {
    uv_timer_t timer;
    struct discovery *d;
    AvahiTimeoutCallback cb;
    void *userdata;
    struct AvahiTimeout *next;
};

/* A service seen by the browser, until it goes away. */
struct service {
    struct discovery *d;
    AvahiIfIndex interface;
    AvahiProtocol protocol;
    char *name, *type, *domain;
    AvahiServiceResolver *resolver; /* while resolving */
    char id[NODE_ID_LEN + 1];       /* the node's, once resolved; "" before */
    struct service *next;
};

struct discovery {
    struct node *node;
    AvahiPoll api;
    struct fd_poll *polls;
    struct AvahiWatch *watches;
    struct AvahiTimeout *timeouts;
    unsigned dispatching; /* poll callbacks running: watches are only marked dead */

    AvahiClient *client;
    AvahiEntryGroup *group;
    bool group_filled;
    AvahiServiceBrowser *browser;
    struct service *services;
    unsigned n_services;
    bool services_full_said;
    char *name; /* the service name in use (Avahi's allocation) */

    uv_timer_t restart; /* makes the client anew, outside Avahi's callbacks */
    bool restarting;
    bool running;      /* the daemon answers */
    bool missing_said; /* "not running" was logged since it last ran */
};

/* ---- the AvahiPoll on libuv -------------------------------------------------- */

static int uv_of_avahi(AvahiWatchEvent e)
{
    return ((e & AVAHI_WATCH_IN) ? UV_READABLE : 0) | ((e & AVAHI_WATCH_OUT) ? UV_WRITABLE : 0) |
           ((e & (AVAHI_WATCH_ERR | AVAHI_WATCH_HUP)) ? UV_DISCONNECT : 0);
}

static AvahiWatchEvent avahi_of_uv(int e)
{
    return (AvahiWatchEvent)(((e & UV_READABLE) ? AVAHI_WATCH_IN : 0) |
                             ((e & UV_WRITABLE) ? AVAHI_WATCH_OUT : 0) |
                             ((e & UV_DISCONNECT) ? AVAHI_WATCH_HUP : 0));
}

static void free_handle(uv_handle_t *h)
{
    free(h->data);
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Start (or stop) a descriptor's poll for what its live watches want. */
static void poll_update(struct fd_poll *fp)
{
    AvahiWatchEvent want = 0;

    for (struct AvahiWatch *w = fp->d->watches; w; w = w->next)
        if (!w->dead && w->fp == fp)
            want |= w->want;
    int ev = uv_of_avahi(want);
    if (ev == fp->uv_events)
        return;
    if (ev == 0 || uv_poll_start(&fp->poll, ev, on_poll) != 0) {
        uv_poll_stop(&fp->poll);
        fp->uv_events = 0;
        return;
    }
    fp->uv_events = ev;
}

static void poll_close(struct fd_poll *fp)
{
    struct fd_poll **pp = &fp->d->polls;

    while (*pp && *pp != fp)
        pp = &(*pp)->next;
    if (*pp)
        *pp = fp->next;
    /* Stops it now (the descriptor may be closed and reused next), frees it later. */
    uv_close((uv_handle_t *)&fp->poll, free_handle);
}

static void sweep_watches(struct discovery *d)
{
    for (struct AvahiWatch **pp = &d->watches; *pp;) {
        struct AvahiWatch *w = *pp;
        if (w->dead) {
            *pp = w->next;
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct fd_poll *fp = h->data;
    struct discovery *d = fp->d;
    AvahiWatchEvent ev = avahi_of_uv(events);

    if (status < 0) {
        /* libuv stopped the poll on the error; Avahi hears of it as poll(2) would say it. */
        fp->uv_events = 0;
        ev = AVAHI_WATCH_ERR;
    }
    /* Watches made by these callbacks go to the head of the list, not visited now; freed
     * ones stay linked (marked dead) until the walk is over. */
    d->dispatching++;
    for (struct AvahiWatch *w = d->watches; w; w = w->next) {
        if (w->dead || w->fp != fp)
            continue;
        AvahiWatchEvent got = ev & (w->want | AVAHI_WATCH_ERR | AVAHI_WATCH_HUP);
        if (!got)
            continue;
        w->got = got;
        w->cb(w, w->fd, got, w->userdata);
    }
    if (--d->dispatching == 0)
        sweep_watches(d);
}

static AvahiWatch *watch_new(const AvahiPoll *api, int fd, AvahiWatchEvent event,
                             AvahiWatchCallback cb, void *userdata)
{
    struct discovery *d = api->userdata;
    struct AvahiWatch *w = calloc(1, sizeof(*w));
    struct fd_poll *fp = d->polls;

    if (!w)
        return NULL;
    while (fp && fp->fd != fd)
        fp = fp->next;
    if (!fp) {
        fp = calloc(1, sizeof(*fp));
        if (!fp || uv_poll_init(d->node->loop, &fp->poll, fd) != 0) {
            free(fp);
            free(w);
            return NULL;
        }
        fp->poll.data = fp;
        fp->d = d;
        fp->fd = fd;
        fp->next = d->polls;
        d->polls = fp;
    }
    fp->users++;
    w->d = d;
    w->fp = fp;
    w->fd = fd;
    w->want = event;
    w->cb = cb;
    w->userdata = userdata;
    w->next = d->watches;
    d->watches = w;
    poll_update(fp);
    return w;
}

static void watch_update(AvahiWatch *w, AvahiWatchEvent event)
{
    w->want = event;
    poll_update(w->fp);
}

static AvahiWatchEvent watch_get_events(AvahiWatch *w)
{
    return w->got;
}

static void watch_free(AvahiWatch *w)
{
    struct discovery *d = w->d;
    struct fd_poll *fp = w->fp;

    w->dead = true;
    w->fp = NULL;
    if (--fp->users == 0)
        poll_close(fp);
    else
        poll_update(fp);
    if (d->dispatching == 0)
        sweep_watches(d);
}

static void on_timeout(uv_timer_t *h)
{
    struct AvahiTimeout *t = h->data;
    /* The callback may free t: nothing of it is touched afterwards. */
    t->cb(t, t->userdata);
}

/* tv is an absolute time on the realtime clock (avahi_elapse_time); NULL disables. */
static void timeout_update(AvahiTimeout *t, const struct timeval *tv)
{
    struct timeval now;
    uint64_t delay_ms = 0;

    if (!tv) {
        uv_timer_stop(&t->timer);
        return;
    }
    gettimeofday(&now, NULL);
    int64_t us = ((int64_t)tv->tv_sec - now.tv_sec) * 1000000 + (tv->tv_usec - now.tv_usec);
    /* Rounded up: a timeout may come late, never early. */
    if (us > 0)
        delay_ms = ((uint64_t)us + 999) / 1000;
    /* The loop's clock is as old as this iteration; the delay counts from now. */
    uv_update_time(t->d->node->loop);
    uv_timer_start(&t->timer, on_timeout, delay_ms, 0);
}

static AvahiTimeout *timeout_new(const AvahiPoll *api, const struct timeval *tv,
                                 AvahiTimeoutCallback cb, void *userdata)
{
    struct discovery *d = api->userdata;
    struct AvahiTimeout *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    uv_timer_init(d->node->loop, &t->timer);
    t->timer.data = t;
    t->d = d;
    t->cb = cb;
    t->userdata = userdata;
    t->next = d->timeouts;
    d->timeouts = t;
    timeout_update(t, tv);
    return t;
}

static void timeout_free(AvahiTimeout *t)
{
    struct AvahiTimeout **pp = &t->d->timeouts;

    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
    uv_close((uv_handle_t *)&t->timer, free_handle);
}

/* ---- publishing ------------------------------------------------------------- */

static void say_missing(struct discovery *d)
{
    d->running = false;
    if (d->missing_said)
        return;
    d->missing_said = true;
    log_warn("avahi-daemon is not running: discovery waits for it; static peers still work");
}

static void publish(struct discovery *d)
{
    struct node *n = d->node;
    struct aoip_txt txt = { .version = AOIP_TXT_VERSION,
                            .sample_rate = n->cfg->sample_rate,
                            .tx = n->n_sources,
                            .rx = n->n_destinations };
    uint8_t rdata[AOIP_TXT_MAX];
    AvahiStringList *list = NULL;
    int rc;

    if (!d->group || d->group_filled)
        return;
    snprintf(txt.id, sizeof(txt.id), "%s", n->id);
    int len = aoip_txt_build(rdata, sizeof(rdata), &txt);
    if (len < 0) {
        log_warn("discovery: cannot describe this node in a TXT record: %s", aoip_strerror(len));
        return;
    }
    if (avahi_string_list_parse(rdata, (size_t)len, &list) < 0) {
        log_warn("discovery: out of memory; '%s' is not published", d->name);
        return;
    }
    for (unsigned tries = 0;; tries++) {
        rc = avahi_entry_group_add_service_strlst(d->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, 0,
                                                  d->name, DISCOVERY_SERVICE_TYPE, NULL, NULL,
                                                  n->port, list);
        if (rc != AVAHI_ERR_COLLISION || tries == DISCOVERY_MAX_RENAMES)
            break;
        /* Taken by another service of this host: the next name, as for a remote collision. */
        char *alt = avahi_alternative_service_name(d->name);
        if (!alt)
            break;
        avahi_free(d->name);
        d->name = alt;
    }
    avahi_string_list_free(list);
    if (rc == AVAHI_OK)
        rc = avahi_entry_group_commit(d->group);
    if (rc != AVAHI_OK) {
        log_warn("discovery: cannot publish '%s': %s", d->name, avahi_strerror(rc));
        avahi_entry_group_reset(d->group);
        return;
    }
    d->group_filled = true;
}

static void on_group(AvahiEntryGroup *g, AvahiEntryGroupState state, void *userdata)
{
    struct discovery *d = userdata;
    const char *configured = d->node->cfg->name;

    switch (state) {
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
        if (strcmp(d->name, configured) != 0)
            log_info("service name '%s' is taken: published as '%s'", configured, d->name);
        else
            log_info("published as '%s' (%s, port %u)", d->name, DISCOVERY_SERVICE_TYPE,
                     d->node->port);
        break;
    case AVAHI_ENTRY_GROUP_COLLISION: {
        /* Another host has a service of this name: take the next one and probe again. */
        char *alt = avahi_alternative_service_name(d->name);
        if (!alt)
            break;
        log_debug("service name '%s' collides on the network; trying '%s'", d->name, alt);
        avahi_free(d->name);
        d->name = alt;
        avahi_entry_group_reset(g);
        d->group_filled = false;
        publish(d);
        break;
    }
    case AVAHI_ENTRY_GROUP_FAILURE:
        log_warn("discovery: publishing '%s' failed: %s", d->name,
                 avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(g))));
        break;
    case AVAHI_ENTRY_GROUP_UNCOMMITED:
    case AVAHI_ENTRY_GROUP_REGISTERING:
        break;
    }
}

/* ---- browsing ---------------------------------------------------------------- */

static void service_free(struct service *s)
{
    free(s->name);
    free(s->type);
    free(s->domain);
    free(s);
}

static struct service *service_find(struct discovery *d, AvahiIfIndex interface,
                                    AvahiProtocol protocol, const char *name, const char *type,
                                    const char *domain)
{
    for (struct service *s = d->services; s; s = s->next)
        if (s->interface == interface && s->protocol == protocol && strcmp(s->name, name) == 0 &&
            strcmp(s->type, type) == 0 && strcmp(s->domain, domain) == 0)
            return s;
    return NULL;
}

static void service_remove(struct discovery *d, struct service *s)
{
    struct service **pp = &d->services;

    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
    d->n_services--;
    if (s->resolver)
        avahi_service_resolver_free(s->resolver);
    service_free(s);
}

/* Forget every service without asking Avahi (its client frees the resolvers). */
static void services_clear(struct discovery *d)
{
    while (d->services) {
        struct service *s = d->services;
        d->services = s->next;
        service_free(s);
    }
    d->n_services = 0;
    d->services_full_said = false;
}

static void on_resolved(AvahiServiceResolver *r, AvahiIfIndex interface, AvahiProtocol protocol,
                        AvahiResolverEvent event, const char *name, const char *type,
                        const char *domain, const char *host_name, const AvahiAddress *a,
                        uint16_t port, AvahiStringList *txt, AvahiLookupResultFlags flags,
                        void *userdata)
{
    struct service *s = userdata;
    struct discovery *d = s->d;
    char addr[AVAHI_ADDRESS_STR_MAX];
    struct aoip_txt t;
    uint8_t *rdata = NULL;

    (void)interface;
    (void)protocol;
    (void)type;
    (void)domain;
    (void)host_name;
    (void)flags;
    /* One answer is all it is for: the peer connection follows the node from here. */
    s->resolver = NULL;
    if (event != AVAHI_RESOLVER_FOUND) {
        log_debug("discovery: service '%s' does not resolve: %s", name,
                  avahi_strerror(avahi_client_errno(d->client)));
        service_remove(d, s);
        goto done;
    }
    size_t len = avahi_string_list_serialize(txt, NULL, 0);
    rdata = malloc(len ? len : 1);
    if (!rdata)
        goto done;
    avahi_string_list_serialize(txt, rdata, len);
    int rc = aoip_txt_parse(&t, rdata, len);
    free(rdata);
    if (rc < 0) {
        log_debug("discovery: service '%s' ignored: %s", name, aoip_strerror(rc));
        goto done;
    }
    if (!a || a->proto != AVAHI_PROTO_INET || port == 0) {
        log_debug("discovery: service '%s' has no IPv4 address and port", name);
        goto done;
    }
    snprintf(s->id, sizeof(s->id), "%s", t.id);
    if (strcmp(t.id, d->node->id) == 0)
        goto done;
    avahi_address_snprint(addr, sizeof(addr), a);
    log_debug("discovery: service '%s' is node %s at %s:%u", name, t.id, addr, port);
    peers_discovered(d->node, t.id, addr, port);
done:
    /* The strings and the TXT belong to the D-Bus message, not to r. */
    avahi_service_resolver_free(r);
}

static void service_new(struct discovery *d, AvahiIfIndex interface, AvahiProtocol protocol,
                        const char *name, const char *type, const char *domain)
{
    if (service_find(d, interface, protocol, name, type, domain))
        return;
    if (d->n_services >= DISCOVERY_MAX_SERVICES) {
        if (!d->services_full_said)
            log_warn("discovery: more than %d %s services on the network; ignoring the rest",
                     DISCOVERY_MAX_SERVICES, DISCOVERY_SERVICE_TYPE);
        d->services_full_said = true;
        return;
    }
    struct service *s = calloc(1, sizeof(*s));
    if (!s)
        return;
    s->d = d;
    s->interface = interface;
    s->protocol = protocol;
    s->name = strdup(name);
    s->type = strdup(type);
    s->domain = strdup(domain);
    if (!s->name || !s->type || !s->domain) {
        service_free(s);
        return;
    }
    s->resolver = avahi_service_resolver_new(d->client, interface, protocol, name, type, domain,
                                             AVAHI_PROTO_INET, 0, on_resolved, s);
    if (!s->resolver) {
        log_debug("discovery: cannot resolve service '%s': %s", name,
                  avahi_strerror(avahi_client_errno(d->client)));
        service_free(s);
        return;
    }
    s->next = d->services;
    d->services = s;
    d->n_services++;
}

static void service_gone(struct discovery *d, AvahiIfIndex interface, AvahiProtocol protocol,
                         const char *name, const char *type, const char *domain)
{
    struct service *s = service_find(d, interface, protocol, name, type, domain);
    char id[NODE_ID_LEN + 1];

    if (!s)
        return;
    snprintf(id, sizeof(id), "%s", s->id);
    service_remove(d, s);
    if (!id[0] || strcmp(id, d->node->id) == 0)
        return;
    /* Still announced elsewhere (another interface): not gone. */
    for (s = d->services; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return;
    log_debug("discovery: service '%s' of node %s went away", name, id);
    peers_vanished(d->node, id);
}

static void schedule_restart(struct discovery *d, uint64_t delay_ms);

static void on_browse(AvahiServiceBrowser *b, AvahiIfIndex interface, AvahiProtocol protocol,
                      AvahiBrowserEvent event, const char *name, const char *type,
                      const char *domain, AvahiLookupResultFlags flags, void *userdata)
{
    struct discovery *d = userdata;

    (void)flags;
    switch (event) {
    case AVAHI_BROWSER_NEW:
        /* Even a service flagged as our own is resolved: avahi-daemon flags by name, and while
         * this node's name collides the other node's service carries it. The id tells. */
        service_new(d, interface, protocol, name, type, domain);
        break;
    case AVAHI_BROWSER_REMOVE:
        service_gone(d, interface, protocol, name, type, domain);
        break;
    case AVAHI_BROWSER_FAILURE:
        log_warn("discovery: browsing failed: %s",
                 avahi_strerror(avahi_client_errno(avahi_service_browser_get_client(b))));
        schedule_restart(d, DISCOVERY_RETRY_MS);
        break;
    case AVAHI_BROWSER_ALL_FOR_NOW:
    case AVAHI_BROWSER_CACHE_EXHAUSTED:
        break;
    }
}

/* ---- the client and its daemon ------------------------------------------------ */

static void on_client(AvahiClient *c, AvahiClientState state, void *userdata)
{
    struct discovery *d = userdata;

    /* Called from inside avahi_client_new too, before it returns c. */
    d->client = c;
    switch (state) {
    case AVAHI_CLIENT_S_RUNNING:
    case AVAHI_CLIENT_S_REGISTERING:
    case AVAHI_CLIENT_S_COLLISION:
        if (!d->running) {
            d->running = true;
            d->missing_said = false;
            log_info("avahi-daemon is running: discovery publishes '%s' and browses %s",
                     d->node->cfg->name, DISCOVERY_SERVICE_TYPE);
        }
        if (!d->browser) {
            d->browser = avahi_service_browser_new(c, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET,
                                                   DISCOVERY_SERVICE_TYPE, NULL, 0, on_browse, d);
            if (!d->browser)
                log_warn("discovery: cannot browse: %s", avahi_strerror(avahi_client_errno(c)));
        }
        if (state != AVAHI_CLIENT_S_RUNNING) {
            /* The host name is being (re)registered: services wait for it to settle. */
            if (d->group)
                avahi_entry_group_reset(d->group);
            d->group_filled = false;
            break;
        }
        if (!d->group) {
            d->group = avahi_entry_group_new(c, on_group, d);
            if (!d->group) {
                log_warn("discovery: cannot publish: %s", avahi_strerror(avahi_client_errno(c)));
                break;
            }
        }
        publish(d);
        break;
    case AVAHI_CLIENT_CONNECTING:
        say_missing(d);
        break;
    case AVAHI_CLIENT_FAILURE:
        if (avahi_client_errno(c) == AVAHI_ERR_DISCONNECTED) {
            /* The daemon (or D-Bus) went away: a new client waits for it to come back. */
            say_missing(d);
            schedule_restart(d, 0);
        } else {
            log_warn("discovery: avahi client failed: %s", avahi_strerror(avahi_client_errno(c)));
            d->running = false;
            schedule_restart(d, DISCOVERY_RETRY_MS);
        }
        break;
    }
}

/* avahi_client_free frees every browser, resolver and group the client made. */
static void client_drop(struct discovery *d)
{
    if (d->client)
        avahi_client_free(d->client);
    d->client = NULL;
    d->group = NULL;
    d->group_filled = false;
    d->browser = NULL;
    services_clear(d);
}

static void client_start(struct discovery *d)
{
    int error = 0;
    char *name = avahi_strdup(d->node->cfg->name);

    if (!name) {
        schedule_restart(d, DISCOVERY_RETRY_MS);
        return;
    }
    /* Each connection starts from the configured name: a clash may be over by now. */
    avahi_free(d->name);
    d->name = name;
    AvahiClient *c = avahi_client_new(&d->api, AVAHI_CLIENT_NO_FAIL, on_client, d, &error);
    if (!c) {
        /* No D-Bus system bus, or a daemon that failed half-way: nothing signals its return. */
        d->client = NULL;
        log_debug("discovery: avahi client: %s", avahi_strerror(error));
        say_missing(d);
        schedule_restart(d, DISCOVERY_RETRY_MS);
        return;
    }
    d->client = c;
}

static void on_restart(uv_timer_t *h)
{
    struct discovery *d = h->data;

    d->restarting = false;
    client_drop(d);
    client_start(d);
}

static void schedule_restart(struct discovery *d, uint64_t delay_ms)
{
    if (d->restarting)
        return;
    d->restarting = true;
    uv_timer_start(&d->restart, on_restart, delay_ms, 0);
}

int discovery_init(struct node *n, char *err, size_t errlen)
{
    struct discovery *d = calloc(1, sizeof(*d));

    if (!d) {
        snprintf(err, errlen, "discovery: out of memory");
        return -1;
    }
    d->node = n;
    d->api = (AvahiPoll){ .userdata = d,
                          .watch_new = watch_new,
                          .watch_update = watch_update,
                          .watch_get_events = watch_get_events,
                          .watch_free = watch_free,
                          .timeout_new = timeout_new,
                          .timeout_update = timeout_update,
                          .timeout_free = timeout_free };
    uv_timer_init(n->loop, &d->restart);
    d->restart.data = d;
    n->discovery = d;
    client_start(d);
    return 0;
}

void discovery_close(struct node *n)
{
    struct discovery *d = n->discovery;

    if (!d)
        return;
    n->discovery = NULL;
    /* Closing the client withdraws the service: avahi-daemon sends its goodbye. */
    client_drop(d);
    avahi_free(d->name);
    /* Whatever Avahi left behind: its handles close here, their memory goes in the callbacks. */
    while (d->timeouts)
        timeout_free(d->timeouts);
    for (struct AvahiWatch *w = d->watches; w; w = w->next)
        w->dead = true;
    sweep_watches(d);
    while (d->polls)
        poll_close(d->polls);
    /* d goes with the last handle that names it. */
    uv_close((uv_handle_t *)&d->restart, free_handle);
}
