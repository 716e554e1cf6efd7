/*
 * sig.c: tone generation and the analysis every audio test relies on.
 *
 * The sine fit is the four-parameter least-squares fit of IEEE 1057: a
 * three-parameter linear fit at a first frequency estimate, then
 * Gauss-Newton steps on the frequency. It measures frequency to a small
 * fraction of a hertz and level to a hundredth of a dB on a few thousand
 * samples, and its residual is what "continuous" means in a test: a gap or
 * a click leaves samples far from the fitted sine.
 *
 * Where several tones share a channel and their frequencies are known, the
 * fit is linear instead: one joint least-squares solve for every tone's
 * sine and cosine and the DC, so each tone's level is exact however close
 * the others sit, and what the fit leaves over is the same measure of
 * continuity.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "sig.h"

#define SIG_PI 3.14159265358979323846

void sig_tone(float *x, size_t n, double freq, double rate, double amp, double phase, int64_t start)
{
    for (size_t i = 0; i < n; i++) {
        /* Reduce to a fraction of a cycle first so a late start keeps full precision. */
        double cycles = (double)(start + (int64_t)i) * freq / rate;
        double frac = cycles - floor(cycles);
        x[i] = (float)(amp * sin(2.0 * SIG_PI * frac + phase));
    }
}

double sig_dbfs(double amp)
{
    return amp > 0.0 ? 20.0 * log10(amp) : -INFINITY;
}

double sig_rms_dbfs(const float *x, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)x[i] * x[i];
    return n ? sig_dbfs(sqrt(sum / (double)n)) : -INFINITY;
}

double sig_peak(const float *x, size_t n)
{
    double peak = 0.0;
    for (size_t i = 0; i < n; i++)
        peak = fmax(peak, fabs((double)x[i]));
    return peak;
}

double sig_max_step(const float *x, size_t n)
{
    double step = 0.0;
    for (size_t i = 1; i < n; i++)
        step = fmax(step, fabs((double)x[i] - x[i - 1]));
    return step;
}

/* First estimate of the frequency from interpolated upward zero crossings. */
static double zero_crossing_freq(const float *x, size_t n, double rate)
{
    double mean = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += x[i];
    mean /= (double)n;

    double first = -1.0, last = -1.0;
    size_t crossings = 0;
    for (size_t i = 1; i < n; i++) {
        double a = x[i - 1] - mean, b = x[i] - mean;
        if (a < 0.0 && b >= 0.0) {
            double t = (double)(i - 1) + a / (a - b);
            if (crossings == 0)
                first = t;
            last = t;
            crossings++;
        }
    }
    if (crossings < 2)
        return -1.0;
    return (double)(crossings - 1) * rate / (last - first);
}

/*
 * Solve the k x k system m * v = r in place (Gaussian elimination, partial
 * pivoting); m is row-major with rows stride apart. A pivot smaller than
 * tiny means the system is singular for the caller's purpose.
 */
static bool solve(double *m, size_t stride, double *r, int k, double tiny, double *v)
{
    for (int col = 0; col < k; col++) {
        int piv = col;
        for (int row = col + 1; row < k; row++)
            if (fabs(m[row * stride + col]) > fabs(m[piv * stride + col]))
                piv = row;
        if (fabs(m[piv * stride + col]) < tiny)
            return false;
        if (piv != col) {
            for (int j = 0; j < k; j++) {
                double t = m[col * stride + j];
                m[col * stride + j] = m[piv * stride + j];
                m[piv * stride + j] = t;
            }
            double t = r[col];
            r[col] = r[piv];
            r[piv] = t;
        }
        for (int row = col + 1; row < k; row++) {
            double f = m[row * stride + col] / m[col * stride + col];
            for (int j = col; j < k; j++)
                m[row * stride + j] -= f * m[col * stride + j];
            r[row] -= f * r[col];
        }
    }
    for (int row = k - 1; row >= 0; row--) {
        double s = r[row];
        for (int j = row + 1; j < k; j++)
            s -= m[row * stride + j] * v[j];
        v[row] = s / m[row * stride + row];
    }
    return true;
}

/*
 * One least-squares step: with k = 3, fit a sin + b cos + c at angular
 * frequency w; with k = 4, also solve for a correction dw (Gauss-Newton,
 * the derivative of the model by w being t (a cos - b sin)).
 */
static bool fit_step(const float *x, size_t n, double w, int k, double p[4])
{
    double m[4][4] = { { 0 } }, r[4] = { 0 }, v[4] = { 0 };
    for (size_t i = 0; i < n; i++) {
        double t = (double)i, s = sin(w * t), c = cos(w * t);
        double g[4] = { s, c, 1.0, t * (p[0] * c - p[1] * s) };
        double y = x[i];
        if (k == 4)
            y -= p[0] * s + p[1] * c + p[2];
        for (int a = 0; a < k; a++) {
            r[a] += g[a] * y;
            for (int b = 0; b < k; b++)
                m[a][b] += g[a] * g[b];
        }
    }
    if (!solve(&m[0][0], 4, r, k, 1e-300, v))
        return false;
    if (k == 3) {
        p[0] = v[0];
        p[1] = v[1];
        p[2] = v[2];
    } else {
        p[0] += v[0];
        p[1] += v[1];
        p[2] += v[2];
        p[3] = v[3];
    }
    return true;
}

int sig_fit_sine(const float *x, size_t n, double rate, double freq_hint, struct sig_fit *out)
{
    if (n < 16)
        return -1;
    double freq = freq_hint > 0.0 ? freq_hint : zero_crossing_freq(x, n, rate);
    if (freq <= 0.0)
        return -1;

    double w = 2.0 * SIG_PI * freq / rate;
    double p[4] = { 0 };
    if (!fit_step(x, n, w, 3, p))
        return -1;
    for (int iter = 0; iter < 12; iter++) {
        if (!fit_step(x, n, w, 4, p))
            return -1;
        w += p[3];
        if (fabs(p[3]) < 1e-13)
            break;
    }
    if (!fit_step(x, n, w, 3, p))
        return -1;

    out->freq = w * rate / (2.0 * SIG_PI);
    out->amp = hypot(p[0], p[1]);
    out->phase = atan2(p[1], p[0]);
    out->dc = p[2];

    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = x[i] - (out->amp * sin(w * (double)i + out->phase) + out->dc);
        sum += e * e;
    }
    out->residual = sqrt(sum / (double)n);
    return 0;
}

/*
 * The basis of sig_fit_tones: sin and cos of every tone at consecutive
 * samples, by rotation (one complex multiply per sample instead of two
 * library calls, which matters over minutes of audio), resynchronised from
 * exact values every TONE_SYNC samples so rounding cannot accumulate.
 */
#define TONE_SYNC 1024

struct tone_basis {
    size_t k;
    double w[SIG_MAX_TONES], sw[SIG_MAX_TONES], cw[SIG_MAX_TONES];
    double s[SIG_MAX_TONES], c[SIG_MAX_TONES];
};

static void tone_basis_init(struct tone_basis *b, const double *freqs, size_t k, double rate)
{
    b->k = k;
    for (size_t j = 0; j < k; j++) {
        b->w[j] = 2.0 * SIG_PI * freqs[j] / rate;
        b->sw[j] = sin(b->w[j]);
        b->cw[j] = cos(b->w[j]);
    }
}

/* Move to sample i; called for i = 0, 1, 2, ... in turn. */
static void tone_basis_at(struct tone_basis *b, size_t i)
{
    for (size_t j = 0; j < b->k; j++) {
        if (i % TONE_SYNC == 0) {
            b->s[j] = sin(b->w[j] * (double)i);
            b->c[j] = cos(b->w[j] * (double)i);
        } else {
            double s = b->s[j] * b->cw[j] + b->c[j] * b->sw[j];
            b->c[j] = b->c[j] * b->cw[j] - b->s[j] * b->sw[j];
            b->s[j] = s;
        }
    }
}

int sig_fit_tones(const float *x, size_t n, double rate, const double *freqs, size_t k,
                  double *amps, double *phases, double *residual)
{
    enum { DIM = 2 * SIG_MAX_TONES + 1 };
    if (k == 0 || k > SIG_MAX_TONES || n < 2 * k + 1 || !(rate > 0.0))
        return -1;
    for (size_t j = 0; j < k; j++)
        if (!(freqs[j] > 0.0 && freqs[j] < rate / 2.0))
            return -1;

    /* Normal equations of the model sum_j (a_j sin + b_j cos) + dc. */
    size_t d = 2 * k + 1;
    double m[DIM][DIM] = { { 0 } }, r[DIM] = { 0 }, v[DIM] = { 0 }, g[DIM];
    struct tone_basis b;
    tone_basis_init(&b, freqs, k, rate);
    for (size_t i = 0; i < n; i++) {
        tone_basis_at(&b, i);
        for (size_t j = 0; j < k; j++) {
            g[2 * j] = b.s[j];
            g[2 * j + 1] = b.c[j];
        }
        g[2 * k] = 1.0;
        double y = x[i];
        for (size_t a = 0; a < d; a++) {
            r[a] += g[a] * y;
            for (size_t c = a; c < d; c++)
                m[a][c] += g[a] * g[c];
        }
    }
    for (size_t a = 0; a < d; a++)
        for (size_t c = 0; c < a; c++)
            m[a][c] = m[c][a];
    /* Pivots of a well-posed system are of the order of n; one that has
     * shrunk by nine orders of magnitude means two columns nearly coincide. */
    if (!solve(&m[0][0], DIM, r, (int)d, 1e-9 * (double)n, v))
        return -1;

    for (size_t j = 0; j < k; j++) {
        amps[j] = hypot(v[2 * j], v[2 * j + 1]);
        if (phases)
            phases[j] = atan2(v[2 * j + 1], v[2 * j]);
    }
    if (residual) {
        double sum = 0.0;
        tone_basis_init(&b, freqs, k, rate);
        for (size_t i = 0; i < n; i++) {
            tone_basis_at(&b, i);
            double e = x[i] - v[2 * k];
            for (size_t j = 0; j < k; j++)
                e -= v[2 * j] * b.s[j] + v[2 * j + 1] * b.c[j];
            sum += e * e;
        }
        *residual = sqrt(sum / (double)n);
    }
    return 0;
}

size_t sig_count_glitches(const float *x, size_t n, double rate, const struct sig_fit *f,
                          double tol, size_t *first)
{
    double w = 2.0 * SIG_PI * f->freq / rate;
    size_t count = 0;
    if (first)
        *first = n;
    for (size_t i = 0; i < n; i++) {
        double e = x[i] - (f->amp * sin(w * (double)i + f->phase) + f->dc);
        if (fabs(e) > tol) {
            if (count == 0 && first)
                *first = i;
            count++;
        }
    }
    return count;
}

long sig_delay(const float *ref, size_t nref, const float *x, size_t n, long max_lag, double *score)
{
    double eref = 0.0;
    for (size_t i = 0; i < nref; i++)
        eref += (double)ref[i] * ref[i];

    long best = -1;
    double best_score = -2.0;
    for (long lag = 0; lag <= max_lag; lag++) {
        if ((size_t)lag + nref > n)
            break;
        double dot = 0.0, ex = 0.0;
        const float *y = x + lag;
        for (size_t i = 0; i < nref; i++) {
            dot += (double)ref[i] * y[i];
            ex += (double)y[i] * y[i];
        }
        double s = (eref > 0.0 && ex > 0.0) ? dot / sqrt(eref * ex) : 0.0;
        if (s > best_score) {
            best_score = s;
            best = lag;
        }
    }
    if (score)
        *score = best_score;
    return best;
}
