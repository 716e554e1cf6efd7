/*
 * opus.h: Opus payloads (RFC 6716 codec, RFC 7587 RTP format) for flows
 * that cross a WAN, where L24's 1.15 Mb/s per channel does not fit.
 *
 * The wire always runs at 48 kHz (RFC 7587 section 4.1: the RTP clock of
 * Opus is 48000 whatever the audio's bandwidth), one Opus frame per packet.
 * One or two channels are a plain Opus stream, as RFC 7587 has it and as
 * GStreamer's rtpopuspay and every WebRTC stack send it. More channels are
 * Opus multistream (RFC 7845 section 5.1.1, channel mapping family 255): the
 * packet holds `streams` Opus streams, the first `coupled` of them stereo,
 * each but the last self-delimited (RFC 6716 appendix B); a mapping table
 * says which decoded channel each output channel is. A one-stream
 * multistream packet is byte for byte a plain Opus packet, so one code
 * path serves both and a stock Opus decoder plays mono and stereo flows.
 *
 * A flow's Opus settings, struct aoip_opus_config:
 *
 *  - frame_us: 2500, 5000, 10000 or 20000. Frames of 5 ms and less use
 *    libopus' restricted low-delay mode (CELT only, 2.5 ms lookahead, the
 *    lowest latency Opus has); longer ones the general audio mode (6.5 ms
 *    lookahead, SILK or hybrid when it pays). aoip_opus_low_delay() is the
 *    rule. In-band FEC rides in SILK frames, which are at least 10 ms: at
 *    2.5 and 5 ms it is asked for and never sent.
 *  - bitrate: for the whole flow, all streams, in b/s; 0 is the default of
 *    aoip_opus_default_bitrate().
 *  - fec, expected_loss: in-band FEC (RFC 6716 section 2.1.7: a coarser copy
 *    of frame n inside packet n + 1) and the loss the encoder plans for, in
 *    percent. libopus spends bits on FEC only when the expected loss is
 *    above a few percent; for music it also needs it above 8 % to leave
 *    CELT for the hybrid mode that carries FEC, which is why the default is
 *    10 %. Hybrid mode has a price for coupled streams: its SILK layer codes
 *    stereo as speech codecs do, and two unrelated tones in one pair came
 *    out only 18.6 dB apart at 20 ms frames (29.4 dB at 10 ms), against
 *    more than 60 dB in CELT. A flow of unrelated channels (microphones
 *    rather than stereo pairs) that wants FEC wants aoip_opus_mapping_mono.
 *    What FEC buys is measured by tests/sim/sim_opus.c: on a tone at 20 %
 *    random loss, using it gains about 6 dB over concealing the same
 *    packets, yet the same flow with FEC off (CELT) comes out 0.1 to 1.8 dB
 *    better still, because SILK's prediction carries a concealed frame's
 *    error into the frames after it; FEC wins only where losses never come
 *    two in a row.
 *  - dtx: discontinuous transmission, off by default: a flow that stops
 *    sending in silence looks like a flow that lost its packets.
 *
 * Lifetimes: the encoder and decoder are made and freed on the control
 * thread (_new allocates everything, including the interleaved scratch
 * libopus works on); encoding and decoding are AOIP_RT. libopus keeps its
 * temporaries on the stack, so encode and decode neither allocate nor
 * lock.
 *
 * Errors are negative errno values: -EINVAL for settings or input that are
 * wrong, -ERANGE for a number outside its range, -ENOSPC for an output
 * buffer that is too small.
 */
#ifndef AOIP_OPUS_H
#define AOIP_OPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AOIP_OPUS_RATE 48000 /* the wire's sample rate, always (RFC 7587 section 4.1) */

/* RFC 7845 section 5.1.1: the channel count and every count of streams is
 * one byte; mapping value 255 marks a silent channel. */
#define AOIP_OPUS_MAX_CHANNELS 255
#define AOIP_OPUS_MAX_STREAMS  255
#define AOIP_OPUS_SILENT       255

/* Bitrate limits of a flow: at least 6 kb/s per stream (below that Opus is
 * narrowband speech), at most 256 kb/s per decoded channel (beyond that it
 * is transparent and only spends bytes). */
#define AOIP_OPUS_BITRATE_MIN_STREAM    6000
#define AOIP_OPUS_BITRATE_MAX_CHANNEL   256000
#define AOIP_OPUS_DEFAULT_EXPECTED_LOSS 10 /* percent; see the file comment */

/*
 * Defaults per stream: 64 kb/s for a mono stream (CELT at 48 kHz is
 * near-transparent there for most music), 128 kb/s for a coupled (stereo)
 * one, twice the mono rate: Opus stereo is transparent for nearly all
 * material there, and at the short frames aoip prefers, CELT's fixed cost
 * per frame leaves less of a lower rate for the music. libopus' multistream
 * encoder splits a flow's bitrate the same way, a coupled stream getting
 * about twice a mono one.
 */
#define AOIP_OPUS_DEFAULT_MONO    64000
#define AOIP_OPUS_DEFAULT_COUPLED 128000

/*
 * Bytes each packet costs on the wire beside its Opus payload: IPv4 (20),
 * UDP (8), RTP (12) and the sealed envelope (seal.h: 21). What the default
 * frame length weighs against the audio bitrate.
 */
#define AOIP_OPUS_PACKET_OVERHEAD 61

/*
 * The longest Opus frame the codec makes is 1275 bytes per stream (RFC 6716
 * section 3.2.1); each stream but the last adds a self-delimiting length
 * of up to 2 bytes. An upper bound on any payload of a flow is then
 * streams * 1277, which is what a caller may give as cap to be sure the
 * encoder never runs short (a smaller cap makes the encoder spend fewer
 * bits on that frame).
 */
#define AOIP_OPUS_MAX_FRAME_BYTES 1277

/*
 * The channel mapping of a flow (RFC 7845 section 5.1.1.3, family 255
 * semantics): output channel i is decoded channel table[i], where decoded
 * channels are numbered stream by stream: coupled stream j gives 2j (left)
 * and 2j + 1 (right), the mono stream after k others (stream coupled + k)
 * gives 2 * coupled + k. A table entry of
 * AOIP_OPUS_SILENT is a channel that is not sent and decodes as silence.
 *
 * Constraints (aoip_opus_mapping_check): 1 <= channels <= 255,
 * 1 <= streams, coupled <= streams, streams + coupled <= 255, every entry
 * below streams + coupled or 255. An encoder also needs each decoded
 * channel fed by some output channel. A flow of one or two channels is a
 * plain Opus stream: one stream, coupled for two channels, table 0 or 0 1.
 */
struct aoip_opus_mapping {
    unsigned channels;
    unsigned streams;
    unsigned coupled;
    uint8_t table[AOIP_OPUS_MAX_CHANNELS];
};

/*
 * The mapping as text, in the parameters WebRTC's "multiopus" and
 * GStreamer's rtpopuspay put in an SDP fmtp line:
 *
 *   num_streams=4;coupled_streams=2;channel_mapping=0,1,2,3,4,5
 *
 * Keys in any order, each exactly once, separated by ';' (optionally
 * followed by spaces, as RFC 7587's examples write fmtp); numbers in
 * decimal without sign or leading zeros; the channel count is the length
 * of channel_mapping. Other parameters of the form key=value (useinbandfec,
 * stereo, ...) may stand among them and are skipped, so the whole fmtp
 * value of a multiopus stream parses. Printing writes the three keys in the
 * order above, so the text of a mapping is one string.
 *
 * Longest text: "num_streams=255" (15) ";coupled_streams=127" (20)
 * ";channel_mapping=" (17) and 255 entries of up to 3 digits with 254
 * commas (1019), plus the NUL.
 */
#define AOIP_OPUS_MAPPING_TEXT_MAX 1072

struct aoip_opus_config {
    struct aoip_opus_mapping mapping;
    uint32_t frame_us;      /* 2500, 5000, 10000 or 20000 */
    uint32_t bitrate;       /* b/s for the flow; 0: aoip_opus_default_bitrate() */
    bool fec;               /* in-band FEC (10 and 20 ms frames only) */
    unsigned expected_loss; /* percent, 0..100 */
    bool dtx;
};

/* What a decode call did with the frame it wrote. */
enum aoip_opus_outcome {
    AOIP_OPUS_DECODED = 0,   /* decoded from its own packet */
    AOIP_OPUS_RECOVERED = 1, /* rebuilt from the next packet's in-band FEC */
    AOIP_OPUS_CONCEALED = 2, /* no packet: libopus' PLC filled it */
    AOIP_OPUS_CORRUPT = 3,   /* a packet that did not decode: counted, concealed by PLC */
};

/* Frames of one decoder's life, by outcome: each frame handed out is
 * counted in exactly one. A reset keeps them. */
struct aoip_opus_decoder_stats {
    uint64_t decoded;
    uint64_t recovered;
    uint64_t concealed;
    uint64_t corrupt;
};

/*
 * The default mapping of channels channels: as many coupled pairs as fit
 * (channels 0 1, 2 3, ...) then one mono stream when the count is odd, and
 * the identity table. Returns 0, or -EINVAL for a count outside 1..255.
 */
AOIP_API int aoip_opus_mapping_default(struct aoip_opus_mapping *m, unsigned channels);

/* Every channel its own mono stream (coupled 0, identity table): for
 * channels that have nothing to do with each other. For 1..255 channels;
 * a two-channel flow so mapped is not RFC 7587 and only aoip reads it. */
AOIP_API int aoip_opus_mapping_mono(struct aoip_opus_mapping *m, unsigned channels);

/* 0 if m satisfies the constraints above, else -EINVAL. */
AOIP_API int aoip_opus_mapping_check(const struct aoip_opus_mapping *m);

/*
 * Write the text of a valid mapping into buf (NUL-terminated). Returns its
 * length, -ENOSPC when cap is too small (buf is then "" if cap > 0) or
 * -EINVAL for a mapping that fails aoip_opus_mapping_check.
 */
AOIP_API int aoip_opus_mapping_print(char *buf, size_t cap, const struct aoip_opus_mapping *m);

/*
 * Read the text text[0..len) (need not be NUL-terminated) into *m. Returns
 * 0; -EINVAL for text that is not key=value;... with the three keys once
 * each, or a number that is not plain decimal; -ERANGE for a count or
 * entry out of range, or channel_mapping longer than 255. On an error *m
 * is left as it was.
 */
AOIP_API int aoip_opus_mapping_parse(struct aoip_opus_mapping *m, const char *text, size_t len);

/* The default bitrate of a mapping: AOIP_OPUS_DEFAULT_MONO per mono stream
 * plus AOIP_OPUS_DEFAULT_COUPLED per coupled one. */
AOIP_API uint32_t aoip_opus_default_bitrate(const struct aoip_opus_mapping *m);

/*
 * The default frame length for a flow of this audio bitrate (b/s): the
 * shortest frame whose packet overhead (AOIP_OPUS_PACKET_OVERHEAD bytes a
 * packet, 195.2 kb/s at 2.5 ms, 97.6 at 5, 48.8 at 10, 24.4 at 20) costs no
 * more than the audio itself, that is, whose flow needs at most twice its
 * audio bitrate on the wire; 20 ms when none does. Latency is what a WAN
 * flow is short of, the link's capacity what limits it, and this spends at
 * most as much on headers as on sound. With the default bitrates: mono
 * (64 kb/s) gets 10 ms, stereo (128 kb/s) 5 ms, three channels (192 kb/s)
 * 5 ms, four and more (256 kb/s and up) 2.5 ms.
 */
AOIP_API uint32_t aoip_opus_default_frame_us(uint32_t bitrate);

/* Whether frames of frame_us use libopus' restricted low-delay mode: at 5 ms and less. */
AOIP_API bool aoip_opus_low_delay(uint32_t frame_us);

/*
 * The default settings for channels channels: the default mapping and
 * bitrate, the default frame for that bitrate, FEC on with 10 % expected
 * loss, DTX off. Returns 0 or -EINVAL for a count outside 1..255.
 */
AOIP_API int aoip_opus_config_default(struct aoip_opus_config *cfg, unsigned channels);

/* 0 if cfg is usable (bitrate 0, or within the per-stream and
 * per-channel limits above), else -EINVAL. */
AOIP_API int aoip_opus_config_check(const struct aoip_opus_config *cfg);

/* Samples per channel in one frame: 120, 240, 480 or 960. */
static inline uint32_t aoip_opus_frame_samples(const struct aoip_opus_config *cfg)
{
    return cfg->frame_us * 48u / 1000u;
}

/*
 * A frame of frame_us is a whole number of frames at rate: a node at
 * another rate than 48 kHz converts its audio for Opus, frame by frame
 * (at 44.1 kHz: 10 and 20 ms frames; at 96 kHz, all).
 */
static inline bool aoip_opus_frame_fits(uint32_t frame_us, uint32_t rate)
{
    return (uint64_t)frame_us * rate % 1000000u == 0;
}

/* A payload bound that no frame of this mapping exceeds. */
static inline size_t aoip_opus_max_payload(const struct aoip_opus_mapping *m)
{
    return (size_t)m->streams * AOIP_OPUS_MAX_FRAME_BYTES;
}

struct aoip_opus_encoder;
struct aoip_opus_decoder;

/* Returns NULL for a config that fails aoip_opus_config_check, a mapping
 * that leaves a decoded channel unfed, or when memory runs out. */
AOIP_API struct aoip_opus_encoder *aoip_opus_encoder_new(const struct aoip_opus_config *cfg);
AOIP_API void aoip_opus_encoder_free(struct aoip_opus_encoder *enc);

/*
 * Encode one frame: in[c][0..frame samples) for every channel of the
 * mapping (a channel mapped silent is read but not sent). Writes at most
 * cap bytes to out and returns how many, or -ENOSPC when cap cannot hold
 * even the smallest frame, or -EIO when libopus fails.
 */
AOIP_API AOIP_RT int aoip_opus_encode(struct aoip_opus_encoder *enc, uint8_t *out, size_t cap,
                                      const float *const *in);

/*
 * The encoder's lookahead in samples at 48 kHz: how much later than its
 * input the decoded audio comes out (120 in low-delay mode, 312
 * otherwise). The receiver's latency budget must include it.
 */
AOIP_API uint32_t aoip_opus_encoder_delay(const struct aoip_opus_encoder *enc);

/* Returns NULL for a config that fails aoip_opus_config_check or when
 * memory runs out. Only the mapping and frame_us matter to a decoder. */
AOIP_API struct aoip_opus_decoder *aoip_opus_decoder_new(const struct aoip_opus_config *cfg);
AOIP_API void aoip_opus_decoder_free(struct aoip_opus_decoder *dec);

/*
 * The three ways to get the next frame, each writing out[c][0..frame
 * samples) for every channel and returning its enum aoip_opus_outcome:
 *
 * aoip_opus_decode: the frame's own packet, pkt[0..len). A packet that
 * does not decode, or decodes to another length than one frame of this
 * flow, is AOIP_OPUS_CORRUPT: counted, and concealed as a missing one.
 *
 * aoip_opus_conceal: the packet is missing and nothing later is at hand.
 *
 * aoip_opus_decode_fec: the packet is missing and the next one,
 * next[0..len), is at hand: the frame is rebuilt from its in-band FEC when
 * it can carry some (its first stream is SILK or hybrid, RFC 6716 section
 * 3.1, and it is one frame long) and the decoder can use it (the packet
 * decoded last was not CELT-only: libopus keeps no SILK state across CELT
 * frames), else concealed. The next packet is not consumed: decode it with
 * aoip_opus_decode after this. A SILK or hybrid packet whose sender spent
 * no FEC bits on that frame (libopus skips inactive, near-silent frames)
 * is concealed inside libopus and still counted recovered: libopus 1.3
 * does not tell.
 */
AOIP_API AOIP_RT int aoip_opus_decode(struct aoip_opus_decoder *dec, float *const *out,
                                      const uint8_t *pkt, size_t len);
AOIP_API AOIP_RT int aoip_opus_conceal(struct aoip_opus_decoder *dec, float *const *out);
AOIP_API AOIP_RT int aoip_opus_decode_fec(struct aoip_opus_decoder *dec, float *const *out,
                                          const uint8_t *next, size_t len);

/*
 * Other equipment may send frames of another length than a flow was set
 * up for, or change it (RFC 7587 lets a sender do both). A receiver that
 * follows its sender reads each packet's length with
 * aoip_opus_packet_samples (samples per channel at 48 kHz, from the TOC;
 * -EINVAL for a packet that has none) and sets the decoder to it with
 * aoip_opus_decoder_set_frame (120, 240, 480 or 960 samples: 2.5 to 20 ms;
 * else -EINVAL and nothing changes) before decoding. Concealment then
 * makes frames of that length too.
 */
#define AOIP_OPUS_MAX_FRAME_SAMPLES 960
AOIP_API AOIP_RT int aoip_opus_packet_samples(const uint8_t *pkt, size_t len);
AOIP_API AOIP_RT int aoip_opus_decoder_set_frame(struct aoip_opus_decoder *dec, uint32_t samples);
/* The frame the decoder makes now, in samples per channel. */
AOIP_API uint32_t aoip_opus_decoder_frame(const struct aoip_opus_decoder *dec);

/* The counters so far. */
AOIP_API void aoip_opus_decoder_stats(const struct aoip_opus_decoder *dec,
                                      struct aoip_opus_decoder_stats *out);

/* A new stream (a sender restart): forget the decoder's history. */
AOIP_API AOIP_RT void aoip_opus_decoder_reset(struct aoip_opus_decoder *dec);

#ifdef __cplusplus
}
#endif

#endif
