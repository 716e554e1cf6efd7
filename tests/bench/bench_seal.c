/*
 * bench_seal.c: what sealing media costs the media thread.
 *
 * For 1 ms L24 packets at 48 kHz (48 frames) of 9 channels (the largest
 * flow: a 1296-byte payload) and of 1 channel (144 bytes), nanoseconds per
 * packet of:
 *   tx open     aoip_pcm_encode of the planar period into the packet
 *   tx sealed   the same, then aoip_seal_tx_seal in place
 *   rx open     aoip_pcm_decode of the payload into planar buffers
 *   rx sealed   aoip_seal_rx_open in place, then the same decode
 * under ChaCha20-Poly1305 and, where the CPU has it, AES-256-GCM. RTP
 * header writing and parsing, the socket calls and the copy into the
 * packet buffer are the same either way and left out.
 *
 * Each figure is the best of RUNS runs of about RUN_SECONDS, after a
 * warm-up run; within a run, packets go in passes of PASS. A receiver
 * opens each packet index once, so before every rx pass the pass's packets
 * are copied afresh into the buffers it opens in place and the receiver is
 * started again; that copy stands where recvmsg would have written the
 * packet (the data is in cache, as a packet just received is) and is not
 * timed, for sealed and open alike.
 *
 * Then the load: a node that sends and receives 64 or 256 channels as
 * flows of up to 9 channels in 1 ms packets moves ceil(channels / 9)
 * packets each way every millisecond; the share of one core that tx plus
 * rx of those takes, open and sealed, from the 9-channel figures (the last
 * packet of 64 channels, 1 channel, is counted as a full one).
 *
 * Figures only: nothing here fails on time. A checksum of the decoded
 * audio is printed so that the work cannot be optimized away.
 */
/* clock_gettime (in bench_util.h) under -std=c17. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "aoip/pcm.h"
#include "aoip/rtp.h"
#include "aoip/seal.h"
#include "bench_util.h"

#define PI          3.14159265358979323846
#define RATE        48000
#define FRAMES      48 /* 1 ms at 48 kHz */
#define MAXCH       9  /* the largest flow's channels in one packet */
#define CAP         1500
#define PASS        64 /* packets per pass: about a jitter buffer's worth of 9 channels */
#define RUNS        7
#define RUN_SECONDS 0.06
#define SSRC        0x5eed5ea1u
/* The fixed RTP header; CSRCs or an extension would add the same to open and sealed. */
#define HDR AOIP_RTP_HEADER_SIZE

enum path { TX_OPEN, TX_SEALED, RX_OPEN, RX_SEALED };

struct bench {
    unsigned channels;
    size_t payload;
    enum aoip_seal_cipher cipher;
    float planar[MAXCH][FRAMES];
    float *in[MAXCH];
    float *out[MAXCH];
    float decoded[MAXCH][FRAMES];
    uint8_t tx_pkt[CAP];
    uint8_t plain[PASS][CAP];  /* the open packets a pass receives */
    uint8_t sealed[PASS][CAP]; /* and the sealed ones */
    size_t sealed_len;
    uint8_t work[PASS][CAP]; /* what rx opens in place */
    struct aoip_seal_key key;
    uint16_t seq;
    double checksum;
};

static void die(const char *what)
{
    fprintf(stderr, "bench_seal: %s\n", what);
    exit(1);
}

/* The fixed header of packet seq, as a sender writes it: HDR bytes. */
static void rtp_header(uint8_t *h, uint16_t seq)
{
    struct aoip_rtp_packet p = {
        .payload_type = 97,
        .seq = seq,
        .timestamp = (uint32_t)seq * FRAMES,
        .ssrc = SSRC,
    };
    if (aoip_rtp_write_header(&p, h, CAP) != HDR)
        die("cannot write an RTP header");
}

/* Tones on every channel, and a pass's packets, open and sealed. */
static void bench_init(struct bench *b, unsigned channels, enum aoip_seal_cipher cipher)
{
    struct aoip_seal_tx tx;
    memset(b, 0, sizeof(*b));
    b->channels = channels;
    b->cipher = cipher;
    b->payload = aoip_pcm_bytes(AOIP_PCM_L24, channels, FRAMES);
    for (unsigned c = 0; c < MAXCH; c++) {
        for (int k = 0; k < FRAMES; k++)
            b->planar[c][k] = (float)(0.5 * sin(2.0 * PI * (500.0 + 250.0 * c) * k / RATE));
        b->in[c] = b->planar[c];
        b->out[c] = b->decoded[c];
    }
    aoip_seal_key_generate(&b->key, 1);
    if (aoip_seal_tx_init(&tx, cipher, &b->key) != 0)
        die("cannot start a sender");
    for (int i = 0; i < PASS; i++) {
        rtp_header(b->plain[i], (uint16_t)i);
        aoip_pcm_encode(AOIP_PCM_L24, b->plain[i] + HDR, (const float *const *)b->in, channels,
                        FRAMES);
        memcpy(b->sealed[i], b->plain[i], HDR + b->payload);
        int n = aoip_seal_tx_seal(&tx, b->sealed[i], HDR, b->payload, CAP);
        if (n < 0)
            die("cannot seal");
        b->sealed_len = (size_t)n;
    }
    aoip_seal_tx_clear(&tx);
}

/* One timed pass of PASS packets on path; returns its seconds. */
static double pass(struct bench *b, enum path path, struct aoip_seal_tx *tx,
                   struct aoip_seal_rx *rx)
{
    const float *const *in = (const float *const *)b->in;
    double t0;

    switch (path) {
    case TX_OPEN:
    case TX_SEALED:
        t0 = bench_now();
        for (int i = 0; i < PASS; i++) {
            b->tx_pkt[2] = (uint8_t)(b->seq >> 8);
            b->tx_pkt[3] = (uint8_t)b->seq;
            b->seq++;
            aoip_pcm_encode(AOIP_PCM_L24, b->tx_pkt + HDR, in, b->channels, FRAMES);
            if (path == TX_SEALED && aoip_seal_tx_seal(tx, b->tx_pkt, HDR, b->payload, CAP) < 0)
                die("seal refused");
        }
        b->checksum += b->tx_pkt[HDR + b->seq % b->payload];
        return bench_now() - t0;
    case RX_OPEN:
        memcpy(b->work, b->plain, sizeof(b->work));
        t0 = bench_now();
        for (int i = 0; i < PASS; i++)
            aoip_pcm_decode(AOIP_PCM_L24, b->out, b->work[i] + HDR, b->channels, FRAMES);
        t0 = bench_now() - t0;
        break;
    case RX_SEALED:
    default:
        memcpy(b->work, b->sealed, sizeof(b->work));
        if (aoip_seal_rx_init(rx, b->cipher, &b->key) != 0)
            die("cannot start a receiver");
        t0 = bench_now();
        for (int i = 0; i < PASS; i++) {
            if (aoip_seal_rx_open(rx, b->work[i], b->sealed_len, HDR) != (int)b->payload)
                die("a sealed packet did not open");
            aoip_pcm_decode(AOIP_PCM_L24, b->out, b->work[i] + HDR, b->channels, FRAMES);
        }
        t0 = bench_now() - t0;
        break;
    }
    b->checksum += b->decoded[b->channels - 1][b->seq++ % FRAMES];
    return t0;
}

/* Best nanoseconds per packet on path over RUNS runs, after a warm-up. */
static double best_ns(struct bench *b, enum path path)
{
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    double best = INFINITY;

    if (aoip_seal_tx_init(&tx, b->cipher, &b->key) != 0)
        die("cannot start a sender");
    rtp_header(b->tx_pkt, 0);
    b->seq = 0;
    for (int run = -1; run < RUNS; run++) {
        double spent = 0, t0 = bench_now();
        long packets = 0;
        do {
            spent += pass(b, path, &tx, &rx);
            packets += PASS;
        } while (bench_now() - t0 < RUN_SECONDS);
        /* Run -1 warms caches, branch predictors and the CPU's clock. */
        if (run >= 0 && spent * 1e9 / (double)packets < best)
            best = spent * 1e9 / (double)packets;
    }
    aoip_seal_tx_clear(&tx);
    aoip_seal_rx_clear(&rx);
    return best;
}

static const char *cipher_name(enum aoip_seal_cipher c)
{
    return c == AOIP_SEAL_AES256GCM ? "AES-256-GCM" : "ChaCha20-Poly1305";
}

int main(void)
{
    static struct bench b;
    const unsigned widths[] = { MAXCH, 1 };
    enum aoip_seal_cipher ciphers[2] = { AOIP_SEAL_CHACHA20POLY1305, AOIP_SEAL_AES256GCM };
    int nciphers = 1;
    /* ns per packet: [width][path], and sealed ones [width][cipher][tx or rx]. */
    double open[2][2], sealed[2][2][2];
    double checksum = 0;
    char cpu[128];

    if (aoip_seal_init() != 0)
        die("libsodium does not start");
    if (aoip_seal_cipher_available(AOIP_SEAL_AES256GCM))
        nciphers = 2;
    bench_cpu_model(cpu, sizeof(cpu));
    printf("sealing 1 ms L24 packets at 48 kHz: ns per packet, best of %d runs\n", RUNS);
    printf("libsodium %s on %s; AES-256-GCM %s\n\n", sodium_version_string(), cpu,
           nciphers == 2 ? "in hardware" : "not available on this CPU");

    for (int w = 0; w < 2; w++) {
        bench_init(&b, widths[w], AOIP_SEAL_CHACHA20POLY1305);
        open[w][0] = best_ns(&b, TX_OPEN);
        open[w][1] = best_ns(&b, RX_OPEN);
        checksum += b.checksum;
        for (int c = 0; c < nciphers; c++) {
            bench_init(&b, widths[w], ciphers[c]);
            sealed[w][c][0] = best_ns(&b, TX_SEALED);
            sealed[w][c][1] = best_ns(&b, RX_SEALED);
            checksum += b.checksum;
        }
    }

    printf("%-8s %-8s %-22s %9s", "channels", "payload", "path", "open");
    for (int c = 0; c < nciphers; c++)
        printf(" %18s %6s", cipher_name(ciphers[c]), "x");
    printf("\n");
    for (int w = 0; w < 2; w++) {
        for (int d = 0; d < 2; d++) {
            printf("%-8u %5zu B  %-22s %9.0f", widths[w],
                   aoip_pcm_bytes(AOIP_PCM_L24, widths[w], FRAMES),
                   d == 0 ? "tx encode (+ seal)" : "rx (open +) decode", open[w][d]);
            for (int c = 0; c < nciphers; c++)
                printf(" %18.0f %5.1fx", sealed[w][c][d], sealed[w][c][d] / open[w][d]);
            printf("\n");
        }
    }

    printf("\nload: tx and rx of N channels as 9-channel flows, 1 ms packets, "
           "ceil(N / 9) packets per ms each way\n");
    printf("%-8s %12s %10s", "channels", "packets/s", "open");
    for (int c = 0; c < nciphers; c++)
        printf(" %18s %6s", cipher_name(ciphers[c]), "x");
    printf("\n");
    const unsigned totals[] = { 64, 256 };
    for (int t = 0; t < 2; t++) {
        unsigned per_ms = (totals[t] + MAXCH - 1) / MAXCH;
        double pps = per_ms * 1000.0;
        double open_share = pps * (open[0][0] + open[0][1]) * 1e-9;
        printf("%-8u %5.0f each way %8.2f %%", totals[t], pps, 100.0 * open_share);
        for (int c = 0; c < nciphers; c++) {
            double share = pps * (sealed[0][c][0] + sealed[0][c][1]) * 1e-9;
            printf(" %16.2f %% %5.1fx", 100.0 * share, share / open_share);
        }
        printf("\n");
    }
    printf("(share of one core; 100 %% is a whole core)\n");
    printf("\nchecksum %.1f\n", checksum);
    return 0;
}
