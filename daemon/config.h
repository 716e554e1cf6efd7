/*
 * config.h: a node's configuration, as read from its INI file.
 *
 * The file is parsed with inih and checked whole before the node starts:
 * unknown sections and keys are errors, every value is range-checked, and
 * the first problem is reported as "FILE:LINE: what is wrong". What comes
 * out is plain data; nothing here opens a socket or a sound file.
 */
#ifndef AOIPD_CONFIG_H
#define AOIPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "aoip/devfmt.h"
#include "aoip/pcm.h"

/* Node, peer, section and channel names: letters, digits, '-', '_', '.'; not all digits. */
#define CFG_NAME_MAX 64
/* Channels of one input, output or bus: a MADI stream is 64, a large console 128. */
#define CFG_IO_MAX_CHANNELS 256
/* Inputs, outputs and buses together; peers. Raised by nobody but the file's author. */
#define CFG_MAX_IOS   256
#define CFG_MAX_PEERS 256
#define CFG_PATH_MAX  4096
/* sizeof(struct sockaddr_un.sun_path) on Linux. */
#define CFG_SOCKET_PATH_MAX 108

enum cfg_io_kind {
    CFG_INPUT,
    CFG_OUTPUT,
    CFG_BUS,
};

enum cfg_io_type {
    CFG_TYPE_NONE, /* a bus */
    CFG_TYPE_TONE,
    CFG_TYPE_WAV,
    CFG_TYPE_NULL,
    CFG_TYPE_RTP,
    CFG_TYPE_JACK,
    CFG_TYPE_ALSA,
};

/* JACK's limit on a client name (jack_client_name_size() - 1 in JACK 2). */
#define CFG_JACK_CLIENT_MAX 64

/*
 * How a flow is coded on the wire: PCM (the values are bytes per sample,
 * as enum aoip_pcm_format has them, so a PCM encoding casts to it) or
 * Opus (aoip/opus.h).
 */
enum cfg_encoding {
    CFG_ENC_L16 = AOIP_PCM_L16,
    CFG_ENC_L24 = AOIP_PCM_L24,
    CFG_ENC_OPUS = 16,
};

/* An encoding's PCM format; only for CFG_ENC_L16 and CFG_ENC_L24. */
static inline enum aoip_pcm_format cfg_pcm_of(enum cfg_encoding e)
{
    return (enum aoip_pcm_format)e;
}

/* "L24", "L16", "opus"; and back, in any case (-1: none of them). */
const char *cfg_encoding_name(enum cfg_encoding e);
int cfg_encoding_parse(const char *s, enum cfg_encoding *out);

/* The Opus settings of flows (keys opus_bitrate, opus_frame_ms, opus_fec,
 * opus_expected_loss), in [node], [peer.X] and type = rtp sections. */
struct cfg_opus {
    uint32_t bitrate;       /* b/s per channel; default 64000 (6000..256000) */
    uint32_t frame_us;      /* 2500, 5000, 10000, 20000; 0 (the default, "auto"):
                               aoip_opus_default_frame_us for the flow */
    bool fec;               /* in-band FEC; default yes */
    unsigned expected_loss; /* percent, 0..100; default AOIP_OPUS_DEFAULT_EXPECTED_LOSS */
};

enum cfg_wave {
    CFG_WAVE_SINE,
    CFG_WAVE_PULSE, /* one full-scale sample a second, for latency measurement */
};

/* How an ALSA device's buffer is reached: mmap where it offers it (auto),
 * or only that way, or through read and write calls (rw: for drivers whose
 * mmap is broken, or plugins without it). */
enum cfg_access {
    CFG_ACCESS_AUTO,
    CFG_ACCESS_MMAP,
    CFG_ACCESS_RW,
};

/* An [input.X], [output.X] or [bus.X] section. */
struct cfg_io {
    enum cfg_io_kind kind;
    enum cfg_io_type type;
    char name[CFG_NAME_MAX]; /* X */
    int line;                /* where the section starts, for messages */
    unsigned channels;
    char (*names)[CFG_NAME_MAX]; /* channels entries: given, or "ch1".. numbered across kind */

    /* type = tone */
    double *frequency; /* channels entries, Hz; default 1000 */
    double level_dbfs; /* default -20 */
    enum cfg_wave wave;

    /* type = wav */
    char path[CFG_PATH_MAX];
    bool loop; /* input: start again at the end; default yes */

    /* type = rtp */
    struct sockaddr_storage
        addr; /* input: listen (unicast or multicast group); output: destination */
    socklen_t addr_len;
    enum cfg_encoding encoding;
    struct cfg_opus opus;   /* encoding = opus: output's settings (an input's decoder
                               needs none; its channels must be 1 or 2) */
    uint8_t payload_type;   /* default 96 */
    uint32_t packet_us;     /* output; default the node's */
    char sdp[CFG_PATH_MAX]; /* input: the SDP file the four keys above came from, or "" */

    /* type = jack: the node's JACK client (every jack section of a node
     * names the same; default "aoip-NODE"), and the JACK ports its channels
     * are connected to, comma-separated, in channel order ("" for none;
     * an empty entry leaves its channel unconnected). */
    char client_name[CFG_JACK_CLIENT_MAX + 1];
    char connect[CFG_PATH_MAX];
    /* The JACK server ("": JACK_DEFAULT_SERVER, else "default"); one per node. */
    char server[CFG_JACK_CLIENT_MAX + 1];

    /* type = alsa: the PCM ("hw:CARD,DEV" or any ALSA PCM name), its period
     * (default the node's period_us) and periods in its buffer (default 2 for
     * capture, 3 for playback), the sample format (the device's preference
     * among S32, S24_3LE, S24, S16 and float unless given) and access. */
    char device[CFG_PATH_MAX];
    uint32_t period_us;
    unsigned periods;
    bool has_format;
    enum aoip_dev_format format;
    enum cfg_access access;

    /* jack and alsa: this section's device is the node's media clock
     * ([node] clock; for jack, every jack section of the node is). */
    bool clock;
};

/* A [peer.X] section: a node to connect to without discovery. */
/* How a receive flow's latency target is chosen. */
enum cfg_latency {
    CFG_LATENCY_FIXED, /* latency_us */
    CFG_LATENCY_AUTO,  /* from the network's measured delay (latency_us is not used) */
};

struct cfg_peer {
    char name[CFG_NAME_MAX];
    int line;
    char host[256]; /* numeric address or host name */
    uint16_t port;
    /* What flows from this peer use instead of the node's, where set. */
    bool has_latency_us;
    uint32_t latency_us;
    bool has_latency;
    enum cfg_latency latency;
    int latency_us_line, latency_line; /* 0: not given yet */
    /* How flows from this peer are asked for: the node's encoding and Opus
     * settings, each key of the section replacing the node's (resolved
     * when the file has been read, wherever [node] stands in it). */
    enum cfg_encoding encoding;
    uint32_t packet_us;
    struct cfg_opus opus;
};

enum cfg_multicast {
    CFG_MULTICAST_AUTO, /* when two or more nodes want the same channels */
    CFG_MULTICAST_NEVER,
    CFG_MULTICAST_ALWAYS, /* every flow to another node */
};

enum cfg_security {
    CFG_SECURITY_SEALED, /* media sealed, plain media refused (the default) */
    CFG_SECURITY_OPEN,   /* media sent as plain RTP, for AES67 equipment */
};

/* Node ids a [trust] section may list. */
#define CFG_MAX_TRUST 1024
#define CFG_ID_LEN    16 /* hex characters of a node id */

/* A [trust] entry: LABEL = ID. */
struct cfg_trust {
    char label[CFG_NAME_MAX];
    char id[CFG_ID_LEN + 1];
};

struct cfg {
    char path[CFG_PATH_MAX]; /* the file, as given */

    /* [node] */
    char name[CFG_NAME_MAX]; /* default: the host name, cut to a valid name */
    char state_dir[CFG_PATH_MAX];
    char control[CFG_PATH_MAX];
    uint16_t port;     /* peer TCP port; 0: any */
    uint16_t rtp_port; /* 0: any */
    uint32_t sample_rate;
    uint32_t period_us;
    uint32_t latency_us;
    enum cfg_latency latency;
    enum cfg_encoding encoding; /* how flows from other nodes are asked for */
    uint32_t packet_us;
    struct cfg_opus opus;
    double clock_skew_ppm;
    bool discovery; /* mDNS/DNS-SD with Avahi; default yes */
    enum cfg_multicast multicast;
    uint8_t multicast_ttl; /* default 16: a venue's routed VLANs, not the world */
    enum cfg_security security;
    char secret_file[CFG_PATH_MAX];   /* "": state_dir/network.secret */
    uint32_t rekey_s;                 /* media keys are replaced this often; default 3600 */
    char control_group[CFG_NAME_MAX]; /* "": the daemon's own group */
    /* The media clock: "system", or the name of a jack or alsa input or
     * output (default: the first of those in the file, else the system's).
     * The section's clock flag says which, once the file is read. */
    char clock[CFG_NAME_MAX];

    /* [trust]: when present, only these nodes are let in (besides this one). */
    bool has_trust;
    struct cfg_trust *trust;
    size_t n_trust;

    struct cfg_io *ios; /* in file order */
    size_t n_ios;
    struct cfg_peer *peers;
    size_t n_peers;
};

/* The [peer.NAME] section of this name, or NULL. */
const struct cfg_peer *cfg_peer_named(const struct cfg *cfg, const char *name);

/*
 * Read and check a configuration file. Returns 0, or -1 with err holding
 * "FILE:LINE: what is wrong" (or "FILE: ..." when no line applies).
 * cfg_free must be called either way.
 */
int cfg_load(struct cfg *cfg, const char *path, char *err, size_t errlen);

/* The same from a string in memory; name stands for the file in messages. */
int cfg_parse(struct cfg *cfg, const char *text, const char *name, char *err, size_t errlen);

void cfg_free(struct cfg *cfg);

/* Frames per period and per packet at the node's rate. */
uint32_t cfg_period_frames(const struct cfg *cfg);
uint32_t cfg_frames_of_us(const struct cfg *cfg, uint32_t us);

#endif
