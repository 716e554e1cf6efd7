/*
 * fuzz_opus.c: libFuzzer target for what a receiver of an Opus flow takes
 * from the network: payloads, and channel mapping texts from a peer.
 *
 * The input goes, as a payload, to decoders of 1, 2 and 6 channels (a
 * plain stream, a coupled one, and a multistream of three coupled
 * streams), at the frame length its TOC claims when that is one aoip uses
 * and at 2.5 ms otherwise (where concealing the refused packet costs
 * least): decoded normally, then as the look-ahead packet
 * for an FEC rebuild. Beyond "does not crash", it checks what opus.h
 * promises: every call returns one of its outcomes and raises exactly its
 * counter, and every sample written is finite.
 *
 * The same bytes are then parsed as a mapping text: a refusal is -EINVAL
 * or -ERANGE and leaves the mapping untouched; an accepted text is a valid
 * mapping whose printed text parses to the same mapping and prints to the
 * same text again. A broken promise aborts, so libFuzzer and the replay
 * driver both see it as a crash.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

#include "aoip/opus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAME 960

static const unsigned channel_counts[] = { 1, 2, 6 };
static const uint32_t frame_lengths_us[] = { 2500, 5000, 10000, 20000 };

#define N_COUNTS  (sizeof channel_counts / sizeof channel_counts[0])
#define N_LENGTHS (sizeof frame_lengths_us / sizeof frame_lengths_us[0])

static struct aoip_opus_decoder *decoders[N_COUNTS][N_LENGTHS];
static float planes[6][MAX_FRAME];

static void check(int ok)
{
    if (!ok)
        abort();
}

static void make_decoders(void)
{
    for (size_t c = 0; c < N_COUNTS; c++) {
        for (size_t l = 0; l < N_LENGTHS; l++) {
            struct aoip_opus_config cfg;
            check(aoip_opus_config_default(&cfg, channel_counts[c]) == 0);
            cfg.frame_us = frame_lengths_us[l];
            decoders[c][l] = aoip_opus_decoder_new(&cfg);
            check(decoders[c][l] != NULL);
        }
    }
}

static uint64_t calls(const struct aoip_opus_decoder *dec)
{
    struct aoip_opus_decoder_stats st;

    aoip_opus_decoder_stats(dec, &st);
    return st.decoded + st.recovered + st.concealed + st.corrupt;
}

static void check_finite(unsigned channels, uint32_t frame)
{
    for (unsigned c = 0; c < channels; c++)
        for (uint32_t i = 0; i < frame; i++)
            check(isfinite(planes[c][i]));
}

static void decode(size_t c, size_t l, const uint8_t *data, size_t size)
{
    struct aoip_opus_decoder *dec = decoders[c][l];
    uint32_t frame = frame_lengths_us[l] * 48u / 1000u;
    float *out[6];
    uint64_t before = calls(dec);
    int ret;

    for (unsigned i = 0; i < 6; i++)
        out[i] = planes[i];
    /* Each input starts from a fresh decoder, so a crash replays from the input alone. */
    aoip_opus_decoder_reset(dec);

    ret = aoip_opus_decode(dec, out, data, size);
    check(ret == AOIP_OPUS_DECODED || ret == AOIP_OPUS_CORRUPT);
    check(calls(dec) == before + 1);
    check_finite(channel_counts[c], frame);

    ret = aoip_opus_decode_fec(dec, out, data, size);
    check(ret == AOIP_OPUS_RECOVERED || ret == AOIP_OPUS_CONCEALED);
    check(calls(dec) == before + 2);
    check_finite(channel_counts[c], frame);
}

static void parse_mapping(const uint8_t *data, size_t size)
{
    static char text[AOIP_OPUS_MAPPING_TEXT_MAX], again[AOIP_OPUS_MAPPING_TEXT_MAX];
    struct aoip_opus_mapping m, back, untouched;
    int ret, n;

    memset(&m, 0xA5, sizeof m);
    untouched = m;
    ret = aoip_opus_mapping_parse(&m, (const char *)data, size);
    if (ret != 0) {
        check(ret == -EINVAL || ret == -ERANGE);
        check(memcmp(&m, &untouched, sizeof m) == 0);
        return;
    }
    check(aoip_opus_mapping_check(&m) == 0);
    n = aoip_opus_mapping_print(text, sizeof text, &m);
    check(n > 0 && (size_t)n < sizeof text);
    check(aoip_opus_mapping_parse(&back, text, (size_t)n) == 0);
    check(back.channels == m.channels && back.streams == m.streams && back.coupled == m.coupled &&
          memcmp(back.table, m.table, m.channels) == 0);
    check(aoip_opus_mapping_print(again, sizeof again, &back) == n);
    check(memcmp(text, again, (size_t)n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    size_t l = 0;

    if (!ready) {
        make_decoders();
        ready = 1;
    }
    if (size > 0 && size <= INT32_MAX) {
        int n = opus_packet_get_nb_samples(data, (opus_int32)size, AOIP_OPUS_RATE);
        for (size_t i = 0; i < N_LENGTHS; i++)
            if (n == (int)(frame_lengths_us[i] * 48u / 1000u))
                l = i;
    }
    for (size_t c = 0; c < N_COUNTS; c++)
        decode(c, l, data, size);
    parse_mapping(data, size);
    return 0;
}
