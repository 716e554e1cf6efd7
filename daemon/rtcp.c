/*
 * rtcp.c: RTCP for every flow to and from a peer (RFC 3550 section 6).
 *
 * Once a second a sender reports (SR) the pair of its media clock and the
 * wall clock, and a receiver reports (RR) its loss and jitter with the
 * LSR/DLSR pair the sender turns into a round-trip time. The receiver holds
 * the sender's clock pair against what it plays when: that difference is
 * the flow's latency, from the sender's input to the receiver's output
 * (exact where both wall clocks agree, as on one machine or under PTP).
 *
 * All of it runs on the control thread, from the counters the media thread
 * publishes; RTCP never touches the media path. It travels sealed, under
 * keys of the peer connection (proto/security.md, "RTCP"): a report that
 * does not open, or comes from no peer, is counted and ignored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/rtcp.h"
#include "flows.h"
#include "log.h"
#include "node.h"

/* Datagrams are a compound of one SR or RR and an SDES: far below this. */
#define RTCP_MAX 1500

static uint64_t wall_to_ntp(int64_t ns)
{
    uint64_t sec = (uint64_t)(ns / 1000000000) + FLOWS_NTP_UNIX_OFFSET;
    uint64_t frac = ((uint64_t)(ns % 1000000000) << 32) / 1000000000u;
    return (sec << 32) | frac;
}

static void on_send(uv_udp_send_t *req, int status)
{
    (void)status;
    free(req->data);
    free(req);
}

/* Seal buf for peer p and send it to its RTCP port. */
static void send_to(struct node *n, struct peer *p, const uint8_t *buf, size_t len)
{
    struct sockaddr_in to;
    uv_udp_send_t *req = malloc(sizeof(*req));
    uint8_t *sealed = malloc(len + AOIP_SEAL_RTCP_OVERHEAD);
    int sl = -1;

    if (req && sealed && peer_address(p, &to))
        sl = aoip_seal_ctl_seal(&p->rtcp_tx, buf, len, sealed, len + AOIP_SEAL_RTCP_OVERHEAD);
    if (sl < 0) {
        free(req);
        free(sealed);
        return;
    }
    to.sin_port = htons(p->rtcp_port);
    req->data = sealed;
    uv_buf_t b = uv_buf_init((char *)sealed, (unsigned)sl);
    if (uv_udp_send(req, &n->rtcp, &b, 1, (const struct sockaddr *)&to, on_send) < 0) {
        free(sealed);
        free(req);
    }
}

/* The peer RTCP for a flow goes to, with its keys ready; NULL when none can. */
static struct peer *rtcp_peer(struct node *n, const char *peer_id)
{
    struct peer *p = node_peer_by_id(n, peer_id);
    if (!p || !p->rtcp_port || !peer_rtcp_keys(p))
        return NULL;
    return p;
}

static int append_cname(struct node *n, uint8_t *buf, size_t cap, uint32_t ssrc)
{
    char cname[96];
    int len = snprintf(cname, sizeof(cname), "aoip-%s@%s", n->id, n->cfg->name);
    return aoip_rtcp_build_sdes_cname(buf, cap, ssrc, cname, (size_t)len);
}

static void send_sr(struct node *n, struct tx_flow *f)
{
    struct flow_meta *m = f->owner;
    struct flow_counters c;
    struct peer *p;
    uint8_t buf[RTCP_MAX];

    if (!m->peer_id[0] || !(p = rtcp_peer(n, m->peer_id)))
        return;
    tx_flow_read(f, &c);
    if (c.clock_wall_ns == 0)
        return;
    struct aoip_rtcp_sender_info si = { .ntp_time = wall_to_ntp(c.clock_wall_ns),
                                        .rtp_time = (uint32_t)c.clock_ts,
                                        .packet_count = (uint32_t)c.packets,
                                        .octet_count = (uint32_t)c.bytes };
    int len = aoip_rtcp_build_sr(buf, sizeof(buf), f->ssrc, &si, NULL, 0);
    if (len < 0)
        return;
    int more = append_cname(n, buf + len, sizeof(buf) - (size_t)len, f->ssrc);
    if (more > 0)
        send_to(n, p, buf, (size_t)len + (size_t)more);
}

static void send_rr(struct node *n, struct rx_flow *f)
{
    struct flow_meta *m = f->owner;
    struct flow_counters c;
    struct peer *p;
    uint8_t buf[RTCP_MAX];

    if (f->any_ssrc || !m->peer_id[0] || !(p = rtcp_peer(n, m->peer_id)))
        return;
    rx_flow_read(f, &c);
    /* Section 6.4.1 and appendix A.3: loss since the last report, in 1/256. */
    uint64_t expected = c.packets + c.lost;
    uint64_t exp_int = expected - m->expected_prior, rec_int = c.packets - m->received_prior;
    m->expected_prior = expected;
    m->received_prior = c.packets;
    uint8_t fraction = 0;
    if (exp_int > 0 && exp_int > rec_int)
        fraction = (uint8_t)(((exp_int - rec_int) << 8) / exp_int);
    struct aoip_rtcp_report_block rb = { .ssrc = f->ssrc,
                                         .fraction_lost = fraction,
                                         .cumulative_lost = (int32_t)c.lost,
                                         .highest_seq = (uint32_t)c.seq,
                                         .jitter = (uint32_t)c.jitter };
    if (m->have_sr) {
        rb.lsr = (uint32_t)(m->sr_ntp >> 16);
        /* Delay since that SR, in 1/65536 s. */
        rb.dlsr = (uint32_t)(((uint64_t)(engine_mono_ns() - m->sr_arrival_ns) << 16) / 1000000000u);
    }
    int len = aoip_rtcp_build_rr(buf, sizeof(buf), n->rtcp_ssrc, &rb, 1);
    if (len < 0)
        return;
    int more = append_cname(n, buf + len, sizeof(buf) - (size_t)len, n->rtcp_ssrc);
    if (more > 0)
        send_to(n, p, buf, (size_t)len + (size_t)more);
}

void rtcp_tick(struct node *n)
{
    for (unsigned i = 0; i < n->n_tx; i++)
        send_sr(n, n->tx[i]);
    for (unsigned i = 0; i < n->n_rx; i++)
        send_rr(n, n->rx[i]);
}

static void take_sr(struct node *n, const struct aoip_rtcp_packet *pkt)
{
    for (unsigned i = 0; i < n->n_rx; i++) {
        struct rx_flow *f = n->rx[i];
        struct flow_meta *m = f->owner;
        if (f->any_ssrc || f->ssrc != pkt->ssrc)
            continue;
        m->have_sr = true;
        m->sr_ntp = pkt->sender.ntp_time;
        m->sr_rtp = pkt->sender.rtp_time;
        m->sr_arrival_ns = engine_mono_ns();
    }
}

static void take_reports(struct node *n, const struct aoip_rtcp_packet *pkt)
{
    uint64_t now = wall_to_ntp(engine_wall_ns());
    uint32_t now_mid = (uint32_t)(now >> 16);

    for (unsigned b = 0; b < pkt->count; b++) {
        const struct aoip_rtcp_report_block *rb = &pkt->reports[b];
        for (unsigned i = 0; i < n->n_tx; i++) {
            struct tx_flow *f = n->tx[i];
            struct flow_meta *m = f->owner;
            if (f->ssrc != rb->ssrc)
                continue;
            m->have_rr = true;
            m->remote_lost = rb->cumulative_lost > 0 ? (uint64_t)rb->cumulative_lost : 0;
            m->remote_jitter = rb->jitter;
            /* Round trip, section 6.4.1: now - LSR - DLSR, in 1/65536 s. */
            if (rb->lsr)
                m->rtt_ms = (double)(uint32_t)(now_mid - rb->lsr - rb->dlsr) * 1000.0 / 65536.0;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char chunk[RTCP_MAX];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(chunk, sizeof(chunk));
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
    struct node *n = h->data;
    struct aoip_rtcp_iter it;
    struct aoip_rtcp_packet pkt;
    uint8_t plain[RTCP_MAX];

    if (nread <= 0 || (flags & UV_UDP_PARTIAL) || !from || from->sa_family != AF_INET)
        return;
    /* Only a peer's RTCP, from its RTCP port, sealed under its keys. */
    const struct sockaddr_in *sin = (const struct sockaddr_in *)from;
    struct peer *p = NULL;
    for (unsigned i = 0; i < n->n_peers && !p; i++) {
        struct sockaddr_in a;
        struct peer *q = n->peers[i];
        if (q->rtcp_port == ntohs(sin->sin_port) && peer_address(q, &a) &&
            a.sin_addr.s_addr == sin->sin_addr.s_addr)
            p = q;
    }
    if (!p || !peer_rtcp_keys(p)) {
        n->rtcp_strays++;
        return;
    }
    int len = aoip_seal_ctl_open(&p->rtcp_rx, (const uint8_t *)buf->base, (size_t)nread, plain,
                                 sizeof plain);
    if (len < 0) {
        p->rtcp_failures++;
        return;
    }
    if (aoip_rtcp_validate(&it, plain, (size_t)len) != 0)
        return;
    while (aoip_rtcp_next(&it, &pkt) == 1) {
        if (pkt.type == AOIP_RTCP_SR) {
            take_sr(n, &pkt);
            take_reports(n, &pkt);
        } else if (pkt.type == AOIP_RTCP_RR) {
            take_reports(n, &pkt);
        }
    }
}

int rtcp_init(struct node *n, char *err, size_t errlen)
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    /* RTP port + 1 when the RTP port is fixed (RFC 3550 section 11); any port otherwise. */
    uint16_t port = n->cfg->rtp_port ? (uint16_t)(n->cfg->rtp_port + 1) : 0;

    uv_udp_init(n->loop, &n->rtcp);
    n->rtcp.data = n;
    uv_ip4_addr("0.0.0.0", port, &a);
    int rc = uv_udp_bind(&n->rtcp, (const struct sockaddr *)&a, 0);
    if (rc == 0)
        rc = uv_udp_recv_start(&n->rtcp, on_alloc, on_recv);
    if (rc < 0) {
        snprintf(err, errlen, "RTCP port %u: %s", port, uv_strerror(rc));
        uv_close((uv_handle_t *)&n->rtcp, NULL);
        return -1;
    }
    if (uv_udp_getsockname(&n->rtcp, (struct sockaddr *)&ss, &len) == 0)
        n->rtcp_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

void rtcp_close(struct node *n)
{
    if (n->rtcp.loop && !uv_is_closing((uv_handle_t *)&n->rtcp))
        uv_close((uv_handle_t *)&n->rtcp, NULL);
}
