/*
 * io.c: the node's local inputs and outputs: tones, WAV files, plain RTP.
 *
 * The media thread must not touch a file, so a WAV input is read ahead by
 * the control thread into a ring the media thread drains one period at a
 * time, and a WAV output is the same in reverse. The pumps run every tick
 * (10 ms) and keep two seconds in the ring, so a slow disk has that long
 * before a period goes missing (counted as an underrun or overrun).
 *
 * A WAV output has its header rewritten after every write (libsndfile's
 * SFC_SET_UPDATE_HEADER_AUTO), so the file is a valid WAV while it is being
 * recorded, and complete once the node has stopped.
 *
 * Plain RTP inputs and outputs are ordinary flows with a socket or a
 * destination of their own: the same jitter buffer and stats as a peer's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flows.h"
#include "log.h"
#include "alsa.h"
#include "jack.h"
#include "node.h"

/* Seconds of audio each WAV ring holds: what a starved control thread or a slow
 * disk may lag behind before a period is lost (counted as an overrun). */
#define IO_RING_SECONDS 2.0
/* Frames a pump moves per call at most. */
#define IO_PUMP_FRAMES 4096
/* AF41 (RFC 2597), as AES67 recommends for media; the TOS byte carries DSCP << 2. */
#define IO_DSCP_AF41 34
/* Socket buffers for media: a second of 64 channels of L24 at 1 ms. */
#define IO_SOCKET_BUFFER (4 << 20)

int io_media_socket(const struct sockaddr_storage *bind_to, socklen_t len, bool multicast,
                    char *err, size_t errlen)
{
    int fd = socket(bind_to->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, tos = IO_DSCP_AF41 << 2, size = IO_SOCKET_BUFFER;

    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    if (bind_to->ss_family == AF_INET)
        setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
    else
        setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
    if (multicast)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));

    if (bind(fd, (const struct sockaddr *)bind_to, len) < 0) {
        snprintf(err, errlen, "bind: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (multicast && bind_to->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)bind_to;
        struct ip_mreqn mr = { .imr_multiaddr = sin->sin_addr };
        if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
            snprintf(err, errlen, "joining the multicast group: %s", strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static bool is_multicast(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return IN_MULTICAST(ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr));
    return IN6_IS_ADDR_MULTICAST(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

static int setup_tone(struct node *n, const struct cfg_io *io, struct engine_input *in)
{
    in->kind = INPUT_TONE;
    in->amp = (float)pow(10.0, io->level_dbfs / 20.0);
    in->pulse = io->wave == CFG_WAVE_PULSE;
    in->osc_c = calloc(io->channels, sizeof(double));
    in->osc_s = calloc(io->channels, sizeof(double));
    in->rot_c = calloc(io->channels, sizeof(double));
    in->rot_s = calloc(io->channels, sizeof(double));
    if (!in->osc_c || !in->osc_s || !in->rot_c || !in->rot_s)
        return -ENOMEM;
    for (unsigned c = 0; c < io->channels; c++) {
        double w = 2.0 * M_PI * io->frequency[c] / n->cfg->sample_rate;
        in->osc_c[c] = 1.0;
        in->osc_s[c] = 0.0;
        in->rot_c[c] = cos(w);
        in->rot_s[c] = sin(w);
    }
    return 0;
}

static int pump_open(struct node *n, const struct cfg_io *io, struct wav_pump *p, bool output,
                     char *err, size_t errlen)
{
    SF_INFO info = { 0 };
    size_t ring_frames = (size_t)(n->cfg->sample_rate * IO_RING_SECONDS);

    if (output) {
        info.samplerate = (int)n->cfg->sample_rate;
        info.channels = (int)io->channels;
        info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
        p->file = sf_open(io->path, SFM_WRITE, &info);
    } else {
        p->file = sf_open(io->path, SFM_READ, &info);
    }
    if (!p->file) {
        snprintf(err, errlen, "%s %s: %s", output ? "output" : "input", io->name,
                 sf_strerror(NULL));
        return -1;
    }
    if (output) {
        sf_command(p->file, SFC_SET_UPDATE_HEADER_AUTO, NULL, SF_TRUE);
        /* Levels go to the file as they are: a sum past full scale clips, as on a console. */
        sf_command(p->file, SFC_SET_CLIPPING, NULL, SF_TRUE);
    } else if ((unsigned)info.channels != io->channels ||
               (uint32_t)info.samplerate != n->cfg->sample_rate) {
        snprintf(err, errlen, "input %s: %s has %d channels at %d Hz; the node wants %u at %u Hz",
                 io->name, io->path, info.channels, info.samplerate, io->channels,
                 n->cfg->sample_rate);
        return -1;
    }
    p->channels = io->channels;
    p->loop = io->loop;
    p->empty = !output && info.frames == 0;
    p->output = output;
    p->buf = calloc((size_t)IO_PUMP_FRAMES * io->channels, sizeof(float));
    if (!p->buf || spsc_init(&p->ring, io->channels * sizeof(float), ring_frames) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void pump_run(struct wav_pump *p)
{
    if (!p->file)
        return;
    if (p->output) {
        size_t got;
        while ((got = spsc_read(&p->ring, p->buf, IO_PUMP_FRAMES)) > 0)
            sf_writef_float(p->file, p->buf, (sf_count_t)got);
        return;
    }
    while (!p->eof) {
        size_t want = spsc_space(&p->ring);
        if (want == 0)
            return;
        if (want > IO_PUMP_FRAMES)
            want = IO_PUMP_FRAMES;
        sf_count_t got = sf_readf_float(p->file, p->buf, (sf_count_t)want);
        if (got > 0)
            spsc_write(&p->ring, p->buf, (size_t)got);
        /* At the end: start again, unless told not to or there is nothing to loop. */
        if (got < (sf_count_t)want && (!p->loop || p->empty || sf_seek(p->file, 0, SEEK_SET) < 0))
            p->eof = true;
    }
}

/* What stats say of a plain RTP flow: "rtp:ADDRESS:PORT" and its channels. */
static void describe_rtp(struct node *n, const struct cfg_io *io, struct flow_meta *m)
{
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;

    if (io->addr.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&io->addr;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
        snprintf(m->peer_name, sizeof(m->peer_name), "rtp:%s:%u", host, port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&io->addr;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(m->peer_name, sizeof(m->peer_name), "rtp:[%s]:%u", host, port);
    }
    for (unsigned c = 0; c < io->channels; c++) {
        char full[2 * AOIP_NAME_MAX + 2];
        snprintf(full, sizeof(full), "%s/%s", n->cfg->name, io->names[c]);
        json_array_append_new(m->channels, json_string(full));
    }
    m->packet_us = io->kind == CFG_OUTPUT ? io->packet_us : 0;
    m->fmt = (struct flow_format){ io->encoding, io->packet_us, io->opus };
}

static int setup_rtp_input(struct node *n, unsigned i, const struct cfg_io *io,
                           struct engine_input *in, uint32_t first_slot, char *err, size_t errlen)
{
    char why[256];
    int fd = io_media_socket(&io->addr, io->addr_len, is_multicast(&io->addr), why, sizeof(why));

    if (fd < 0) {
        snprintf(err, errlen, "input %s: %s", io->name, why);
        return -1;
    }
    n->io.fds[i] = fd;
    /* Opus from other equipment: RFC 7587, one or two channels, in frames
     * of whatever length the sender picks (codec.h, follow); FEC is taken
     * where the packets carry it, and with opus_fec (the default) a frame
     * waits for it as long as the longest frame, 20 ms. */
    struct flow_format fmt = { .encoding = io->encoding, .opus = io->opus };
    struct aoip_opus_config oc;
    uint32_t wait_us = 0;
    if (io->encoding == CFG_ENC_OPUS) {
        fmt.opus.frame_us = 20000;
        flows_opus_config(&fmt, io->channels, true, n->cfg->sample_rate, &oc);
        wait_us = io->opus.fec ? 20000 : 0;
    }
    struct rx_flow *f = rx_flow_new(n, io->channels, NULL, 0, wait_us);
    if (f && io->encoding == CFG_ENC_OPUS &&
        !(f->opus = opus_rx_new(&oc, n->cfg->sample_rate, true, true))) {
        flows_rx_free(n, f);
        f = NULL;
    }
    if (!f) {
        snprintf(err, errlen, "input %s: cannot make its flow (%u channels)", io->name,
                 io->channels);
        return -1;
    }
    f->any_ssrc = true;
    f->fd = fd;
    f->from.s_addr = htonl(INADDR_ANY);
    f->encoding = io->encoding;
    f->payload_type = io->payload_type;
    for (unsigned c = 0; c < io->channels; c++)
        f->slots[c] = first_slot + c;
    describe_rtp(n, io, f->owner);
    in->kind = INPUT_RTP;
    n->io.rtp_in[i] = f;
    return flows_add_rx(n, f);
}

static int setup_rtp_output(struct node *n, unsigned i, const struct cfg_io *io, uint32_t first_dst,
                            char *err, size_t errlen)
{
    struct flow_format fmt = { .encoding = io->encoding, .opus = io->opus };
    struct aoip_opus_config oc;
    uint32_t packet_us = io->packet_us;
    size_t bytes = 0;
    if (io->encoding == CFG_ENC_OPUS) {
        /* To other equipment: RFC 7587, one or two channels (config.c). */
        flows_opus_config(&fmt, io->channels, true, n->cfg->sample_rate, &oc);
        packet_us = oc.frame_us;
    } else {
        bytes = aoip_pcm_bytes(cfg_pcm_of(io->encoding), io->channels,
                               cfg_frames_of_us(n->cfg, packet_us));
    }
    if (io->channels > ENGINE_FLOW_CHANNELS || bytes > ENGINE_PAYLOAD_MAX) {
        snprintf(err, errlen,
                 "output %s: %u channels of %s at %u us make %zu-byte packets; at most %d fit",
                 io->name, io->channels, cfg_encoding_name(io->encoding), io->packet_us, bytes,
                 ENGINE_PAYLOAD_MAX);
        return -1;
    }
    /* An Opus flow's timestamps count 48 kHz, whatever the node's rate. */
    struct tx_flow *f = tx_flow_new(io->channels, io->encoding == CFG_ENC_OPUS
                                                      ? aoip_opus_frame_samples(&oc)
                                                      : cfg_frames_of_us(n->cfg, packet_us));
    if (f && io->encoding == CFG_ENC_OPUS &&
        !(f->opus = opus_tx_new(&oc, n->cfg->sample_rate, n->period_frames))) {
        flows_tx_free(f);
        f = NULL;
    }
    if (!f) {
        snprintf(err, errlen, "output %s: cannot make its flow", io->name);
        return -1;
    }
    memcpy(&f->to, &io->addr, io->addr_len);
    f->to_len = io->addr_len;
    f->encoding = io->encoding;
    f->payload_type = io->payload_type;
    f->ssrc = flows_random();
    f->seq = (uint16_t)flows_random();
    for (unsigned c = 0; c < io->channels; c++)
        f->bufs[c] = n->engine.dst[first_dst + c];
    describe_rtp(n, io, f->owner);
    flow_meta_of_tx(f)->packet_us = packet_us;
    n->io.rtp_out[i] = f;
    return flows_add_tx(n, f);
}

int io_init(struct node *n, char *err, size_t errlen)
{
    const struct cfg *cfg = n->cfg;
    uint32_t slot = 0, dst = 0;

    n->io.inputs = calloc(cfg->n_ios + 1, sizeof(*n->io.inputs));
    n->io.outputs = calloc(cfg->n_ios + 1, sizeof(*n->io.outputs));
    n->io.pumps = calloc(cfg->n_ios + 1, sizeof(*n->io.pumps));
    n->io.fds = calloc(cfg->n_ios + 1, sizeof(int));
    n->io.rtp_in = calloc(cfg->n_ios + 1, sizeof(*n->io.rtp_in));
    n->io.rtp_out = calloc(cfg->n_ios + 1, sizeof(*n->io.rtp_out));
    if (!n->io.inputs || !n->io.outputs || !n->io.pumps || !n->io.fds || !n->io.rtp_in ||
        !n->io.rtp_out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->n_ios; i++)
        n->io.fds[i] = -1;

    for (size_t i = 0; i < cfg->n_ios; i++) {
        const struct cfg_io *io = &cfg->ios[i];
        if (io->kind == CFG_BUS) {
            slot += io->channels;
            dst += io->channels;
            continue;
        }
        if (io->kind == CFG_INPUT) {
            struct engine_input *in = &n->io.inputs[n->io.n_inputs++];
            in->channels = io->channels;
            in->first_slot = slot;
            int rc = 0;
            if (io->type == CFG_TYPE_TONE) {
                rc = setup_tone(n, io, in);
            } else if (io->type == CFG_TYPE_WAV) {
                in->kind = INPUT_WAV;
                rc = pump_open(n, io, &n->io.pumps[i], false, err, errlen);
                in->ring = &n->io.pumps[i].ring;
                in->scratch = calloc((size_t)n->period_frames * io->channels, sizeof(float));
                if (rc == 0 && !in->scratch)
                    rc = -ENOMEM;
            } else if (io->type == CFG_TYPE_JACK) {
                rc = jack_add_io(n, io, in, NULL, err, errlen);
            } else if (io->type == CFG_TYPE_ALSA) {
                rc = alsa_add_io(n, io, in, NULL, err, errlen);
            } else {
                rc = setup_rtp_input(n, (unsigned)i, io, in, slot, err, errlen);
            }
            if (rc == -ENOMEM)
                snprintf(err, errlen, "out of memory");
            if (rc < 0)
                return -1;
            slot += io->channels;
            continue;
        }
        struct engine_output *out = &n->io.outputs[n->io.n_outputs++];
        out->channels = io->channels;
        out->first_dst = dst;
        if (io->type == CFG_TYPE_WAV) {
            out->kind = OUTPUT_WAV;
            if (pump_open(n, io, &n->io.pumps[i], true, err, errlen) < 0)
                return -1;
            out->ring = &n->io.pumps[i].ring;
            out->scratch = calloc((size_t)n->period_frames * io->channels, sizeof(float));
            if (!out->scratch) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        } else if (io->type == CFG_TYPE_RTP) {
            out->kind = OUTPUT_RTP;
            if (setup_rtp_output(n, (unsigned)i, io, dst, err, errlen) < 0)
                return -1;
        } else if (io->type == CFG_TYPE_JACK) {
            if (jack_add_io(n, io, NULL, out, err, errlen) < 0)
                return -1;
        } else if (io->type == CFG_TYPE_ALSA) {
            if (alsa_add_io(n, io, NULL, out, err, errlen) < 0)
                return -1;
        } else {
            out->kind = OUTPUT_NULL;
        }
        dst += io->channels;
    }
    /* Fill the input rings before the first period needs them. */
    io_pump(n);
    engine_set_io(&n->engine, n->io.inputs, n->io.n_inputs, n->io.outputs, n->io.n_outputs);
    return 0;
}

int io_device_attach(struct node *n, struct engine_input *in, struct engine_output *out, bool clock,
                     uint32_t device_frames, char *err, size_t errlen)
{
    bool input = in != NULL;
    unsigned channels = input ? in->channels : out->channels;

    if (clock) {
        if (input)
            in->kind = INPUT_DIRECT;
        else
            out->kind = OUTPUT_DIRECT;
        return 0;
    }
    /* The bridge's buffers on the engine's side: the slots or destinations. */
    float **bufs = calloc(channels, sizeof(float *));
    struct aoip_bridge_config bc = { .channels = channels,
                                     .sample_rate = n->cfg->sample_rate,
                                     .push_frames = input ? device_frames : n->period_frames,
                                     .pull_frames = input ? n->period_frames : device_frames };
    struct aoip_bridge *bridge = aoip_bridge_new(&bc);
    if (input) {
        in->kind = INPUT_BRIDGED;
        in->bufs = bufs;
        in->bridge = bridge;
    } else {
        out->kind = OUTPUT_BRIDGED;
        out->bufs = (const float **)bufs;
        out->bridge = bridge;
    }
    if (!bufs || !bridge) {
        snprintf(err, errlen, "a bridge of %u channels, %u-frame device periods: out of memory",
                 channels, device_frames);
        return -1;
    }
    for (unsigned c = 0; c < channels; c++)
        bufs[c] = input ? n->engine.src[in->first_slot + c] : n->engine.dst[out->first_dst + c];
    return 0;
}

void io_device_json(const struct node *n, const struct device_stats *ds, json_t *list)
{
    double ms = 1000.0 / n->cfg->sample_rate;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:i, s:I}", "name", ds->io->name, "kind",
                          ds->io->kind == CFG_INPUT ? "input" : "output", "type",
                          ds->io->type == CFG_TYPE_JACK ? "jack" : "alsa", "device", ds->device,
                          "clock", ds->bridge == NULL, "online", ds->online, "period_frames",
                          (int)ds->period_frames, "xruns", (json_int_t)ds->xruns);
    json_object_set_new(o, "rate", json_integer(ds->rate ? ds->rate : n->cfg->sample_rate));
    if (ds->format) {
        json_object_set_new(o, "format", json_string(ds->format));
        json_object_set_new(o, "access", json_string(ds->access));
        json_object_set_new(o, "periods", json_integer(ds->periods));
    }
    if (ds->bridge) {
        struct aoip_bridge_stats bs;
        aoip_bridge_get_stats(ds->bridge, &bs);
        json_object_set_new(o, "ratio", json_real(bs.ratio));
        json_object_set_new(o, "ppm", json_real(bs.ppm));
        json_object_set_new(o, "level_ms", json_real(bs.level * ms));
        json_object_set_new(o, "target_ms", json_real(bs.target * ms));
        json_object_set_new(o, "underruns", json_integer((json_int_t)bs.underruns));
        json_object_set_new(o, "overruns", json_integer((json_int_t)bs.overruns));
        json_object_set_new(o, "restarts", json_integer((json_int_t)bs.restarts));
        json_object_set_new(o, "clock_state", json_string(aoip_clock_state_name(bs.clock_state)));
    } else {
        json_object_set_new(o, "ratio", json_real(1.0));
    }
    json_array_append_new(list, o);
}

void io_pump(struct node *n)
{
    for (size_t i = 0; i < n->cfg->n_ios; i++)
        pump_run(&n->io.pumps[i]);
}

void io_close(struct node *n)
{
    for (size_t i = 0; n->io.pumps && i < n->cfg->n_ios; i++) {
        struct wav_pump *p = &n->io.pumps[i];
        if (p->file) {
            /* What the media thread wrote last goes to the file before it closes. */
            pump_run(p);
            sf_close(p->file);
        }
        spsc_close(&p->ring);
        free(p->buf);
        if (n->io.fds[i] >= 0)
            close(n->io.fds[i]);
    }
    for (unsigned i = 0; i < n->io.n_inputs; i++) {
        struct engine_input *in = &n->io.inputs[i];
        free(in->osc_c);
        free(in->osc_s);
        free(in->rot_c);
        free(in->rot_s);
        free(in->scratch);
        aoip_bridge_free(in->bridge);
        free(in->bufs);
    }
    for (unsigned i = 0; i < n->io.n_outputs; i++) {
        free(n->io.outputs[i].scratch);
        aoip_bridge_free(n->io.outputs[i].bridge);
        free(n->io.outputs[i].bufs);
    }
    free(n->io.inputs);
    free(n->io.outputs);
    free(n->io.pumps);
    free(n->io.fds);
    free(n->io.rtp_in);
    free(n->io.rtp_out);
    memset(&n->io, 0, sizeof(n->io));
}
