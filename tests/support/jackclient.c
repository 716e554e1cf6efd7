/*
 * jackclient.c: aoip-jackclient, a small JACK client for the sound I/O
 * tests: the studio's other equipment on a JACK graph.
 *
 *   aoip-jackclient NAME [--play FREQ,DBFS | --pulses DBFS] [--record FILE.wav]
 *                   [--seconds S]
 *
 * Registers as JACK client NAME (on the server JACK_DEFAULT_SERVER names)
 * with an output port "out" playing a sine of FREQ Hz at DBFS (--play) or
 * a single-sample pulse of DBFS every second (--pulses), and an input port
 * "in" recorded to a 24-bit WAV file at the server's rate (--record). A
 * client that plays and records writes two channels, what it played and
 * what came in, sample-aligned: the lag between them (aoip-wavcheck
 * --delay 1,2) is a round trip through whatever is connected between. Runs until SIGTERM or SIGINT,
 * or for S seconds; the WAV file is complete when it exits. Prints one line at the end: the frames
 * recorded and the xruns JACK reported.
 *
 * The process callback is real-time safe, as a JACK client of a studio's
 * should be (GStreamer's elements were measured to miss cycles under the
 * dummy driver, and an xrun is what these tests look for): the tone is a
 * rotating phasor, and recorded frames go through a jack_ringbuffer to
 * the main thread, which writes the file.
 */
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jack/jack.h>
#include <jack/ringbuffer.h>
#include <sndfile.h>

#define JC_PI 3.14159265358979323846
/* Two seconds of recording at 192 kHz: the writer drains it every 10 ms. */
#define JC_RING_BYTES (1u << 22)

struct client {
    jack_client_t *jack;
    jack_port_t *out, *in;
    /* the tone: (c, s) rotated by (rc, rs) each frame; or pulses, one
     * every pulse_every frames (0: a tone) */
    double c, s, rc, rs, amp;
    uint32_t pulse_every, pulse_phase;
    jack_ringbuffer_t *ring;
    atomic_ullong xruns;
    atomic_ullong dropped; /* frames the ring had no room for */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int on_process(jack_nframes_t n, void *arg)
{
    struct client *cl = arg;
    float *o = NULL;
    if (cl->out) {
        o = jack_port_get_buffer(cl->out, n);
        for (jack_nframes_t i = 0; i < n; i++) {
            if (cl->pulse_every) {
                o[i] = cl->pulse_phase == 0 ? (float)cl->amp : 0.0f;
                cl->pulse_phase = (cl->pulse_phase + 1) % cl->pulse_every;
                continue;
            }
            o[i] = (float)(cl->amp * cl->s);
            double c = cl->c * cl->rc - cl->s * cl->rs;
            cl->s = cl->c * cl->rs + cl->s * cl->rc;
            cl->c = c;
        }
        /* Keep the phasor on the unit circle. */
        double r = 1.0 / sqrt(cl->c * cl->c + cl->s * cl->s);
        cl->c *= r;
        cl->s *= r;
    }
    if (cl->in) {
        const float *in = jack_port_get_buffer(cl->in, n);
        unsigned ch = o ? 2 : 1;
        size_t bytes = (size_t)n * ch * sizeof(float);
        if (jack_ringbuffer_write_space(cl->ring) < bytes) {
            atomic_fetch_add_explicit(&cl->dropped, n, memory_order_relaxed);
            return 0;
        }
        if (!o) {
            jack_ringbuffer_write(cl->ring, (const char *)in, bytes);
            return 0;
        }
        /* Interleaved: what was played, what came in. */
        float frame[2];
        for (jack_nframes_t i = 0; i < n; i++) {
            frame[0] = o[i];
            frame[1] = in[i];
            jack_ringbuffer_write(cl->ring, (const char *)frame, sizeof(frame));
        }
    }
    return 0;
}

static int on_xrun(void *arg)
{
    struct client *cl = arg;
    atomic_fetch_add_explicit(&cl->xruns, 1, memory_order_relaxed);
    return 0;
}

/* What the ring holds (whole frames of ch channels), into the file. Returns frames written. */
static long drain(struct client *cl, SNDFILE *f, unsigned ch)
{
    float buf[4096];
    long total = 0;
    size_t frame = ch * sizeof(float), got;
    while (jack_ringbuffer_read_space(cl->ring) >= frame) {
        size_t want = jack_ringbuffer_read_space(cl->ring) / frame * frame;
        if (want > sizeof(buf))
            want = sizeof(buf) / frame * frame;
        got = jack_ringbuffer_read(cl->ring, (char *)buf, want);
        total += (long)sf_writef_float(f, buf, (sf_count_t)(got / frame));
    }
    return total;
}

int main(int argc, char **argv)
{
    struct client cl = { 0 };
    const char *name = NULL, *record = NULL;
    double freq = 0.0, dbfs = -20.0, seconds = 0.0;
    bool play = false, pulses = false;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--play") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%lf,%lf", &freq, &dbfs) != 2 || !(freq > 0.0) ||
                !(dbfs <= 0.0)) {
                fprintf(stderr, "aoip-jackclient: --play wants FREQ,DBFS\n");
                return 2;
            }
            play = true;
        } else if (strcmp(argv[i], "--pulses") == 0 && i + 1 < argc) {
            dbfs = atof(argv[++i]);
            if (!(dbfs <= 0.0)) {
                fprintf(stderr, "aoip-jackclient: --pulses wants DBFS\n");
                return 2;
            }
            play = pulses = true;
        } else if (strcmp(argv[i], "--record") == 0 && i + 1 < argc) {
            record = argv[++i];
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!name && argv[i][0] != '-') {
            name = argv[i];
        } else {
            fprintf(stderr, "usage: aoip-jackclient NAME [--play FREQ,DBFS | --pulses DBFS] "
                            "[--record FILE.wav] [--seconds S]\n");
            return 2;
        }
    }
    if (!name || (!play && !record)) {
        fprintf(stderr, "aoip-jackclient: a NAME and --play or --record, or both\n");
        return 2;
    }

    jack_status_t status;
    cl.jack = jack_client_open(name, JackNoStartServer | JackUseExactName, &status);
    if (!cl.jack) {
        fprintf(stderr, "aoip-jackclient: cannot open JACK client %s (status 0x%x)\n", name,
                (unsigned)status);
        return 1;
    }
    double rate = jack_get_sample_rate(cl.jack);
    SNDFILE *file = NULL;
    if (play) {
        cl.out = jack_port_register(cl.jack, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        cl.amp = pow(10.0, dbfs / 20.0);
        cl.c = 1.0;
        cl.rc = cos(2.0 * JC_PI * freq / rate);
        cl.rs = sin(2.0 * JC_PI * freq / rate);
        cl.pulse_every = pulses ? (uint32_t)rate : 0;
    }
    unsigned ch = play ? 2 : 1;
    if (record) {
        SF_INFO info = { .samplerate = (int)rate,
                         .channels = (int)ch,
                         .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24 };
        cl.in = jack_port_register(cl.jack, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        cl.ring = jack_ringbuffer_create(JC_RING_BYTES);
        file = sf_open(record, SFM_WRITE, &info);
        if (!file || !cl.ring) {
            fprintf(stderr, "aoip-jackclient: %s: %s\n", record, sf_strerror(NULL));
            return 1;
        }
    }
    if ((play && !cl.out) || (record && !cl.in) ||
        jack_set_process_callback(cl.jack, on_process, &cl) != 0 ||
        jack_set_xrun_callback(cl.jack, on_xrun, &cl) != 0 || jack_activate(cl.jack) != 0) {
        fprintf(stderr, "aoip-jackclient: JACK refused the ports or the client\n");
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    long frames = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!stop) {
        usleep(10000);
        if (file)
            frames += drain(&cl, file, ch);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (seconds > 0.0 &&
            (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) * 1e-9 >= seconds)
            break;
    }
    jack_deactivate(cl.jack);
    if (file) {
        frames += drain(&cl, file, ch);
        sf_close(file);
    }
    printf("recorded=%ld xruns=%llu dropped=%llu\n", frames,
           (unsigned long long)atomic_load(&cl.xruns),
           (unsigned long long)atomic_load(&cl.dropped));
    jack_client_close(cl.jack);
    if (cl.ring)
        jack_ringbuffer_free(cl.ring);
    return 0;
}
