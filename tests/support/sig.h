/*
 * sig.h: test tones in, measurements out.
 *
 * Every test that carries audio puts a tone of known frequency and level in
 * and analyses what comes out: frequency and level by a least-squares sine
 * fit (IEEE 1057, four parameters), continuity by the residual against that
 * fit, latency by cross-correlation against the reference.
 */
#ifndef AOIP_TEST_SIGNAL_H
#define AOIP_TEST_SIGNAL_H

#include <stddef.h>
#include <stdint.h>

/* x[i] = amp * sin(2 pi freq (start + i) / rate + phase), computed in double. */
void sig_tone(float *x, size_t n, double freq, double rate, double amp, double phase,
              int64_t start);

/* A sine fitted to a signal: amp * sin(2 pi freq t / rate + phase) + dc. */
struct sig_fit {
    double freq;  /* Hz */
    double amp;   /* linear, full scale 1.0 */
    double phase; /* radians at sample 0 */
    double dc;
    double residual; /* RMS of signal minus fit */
};

/*
 * Fit a sine to x[0..n). The frequency starts from interpolated zero
 * crossings (or freq_hint when > 0) and is refined by Gauss-Newton. Returns
 * 0, or -1 when the signal has too few cycles to fit.
 */
int sig_fit_sine(const float *x, size_t n, double rate, double freq_hint, struct sig_fit *out);

/* How many tones sig_fit_tones solves for at once. */
#define SIG_MAX_TONES 8

/*
 * Fit k sines of known frequencies (0 < freq < rate / 2) and a DC offset to
 * x[0..n) jointly: one least-squares solve for a sine and a cosine per
 * frequency plus DC, so the level read for each of several summed tones is
 * not disturbed by the others. amps[j] and phases[j] describe
 * amps[j] * sin(2 pi freqs[j] i / rate + phases[j]) as in struct sig_fit;
 * phases and residual (the RMS of x minus the fit) may be NULL. Returns 0,
 * or -1 when k is 0 or over SIG_MAX_TONES, a frequency is out of range, n
 * is smaller than 2k + 1, or the frequencies are too close to tell apart
 * in n samples.
 */
int sig_fit_tones(const float *x, size_t n, double rate, const double *freqs, size_t k,
                  double *amps, double *phases, double *residual);

/* Level in dBFS of the RMS (a full-scale sine reads -3.01); -inf for silence. */
double sig_rms_dbfs(const float *x, size_t n);
/* Largest |x|. */
double sig_peak(const float *x, size_t n);
/* Largest |x[i] - x[i-1]|: a click shows as a step far above the tone's slope. */
double sig_max_step(const float *x, size_t n);
/* 20 log10(amp) */
double sig_dbfs(double amp);

/*
 * Samples of x that stray more than tol from the fitted sine f: a gap, a
 * click or a discontinuity. Returns how many; *first gets the index of the
 * first (or n when none).
 */
size_t sig_count_glitches(const float *x, size_t n, double rate, const struct sig_fit *f,
                          double tol, size_t *first);

/*
 * The lag (in samples, 0..max_lag) at which x best matches ref: x[i + lag]
 * ~ ref[i]. Found by normalized cross-correlation; *score gets the
 * correlation at that lag (1.0 is a perfect match) when not NULL.
 */
long sig_delay(const float *ref, size_t nref, const float *x, size_t n, long max_lag,
               double *score);

#endif
