/*
 * signal.c: tone generation and the analysis every audio test relies on.
 *
 * The sine fit is the four-parameter least-squares fit of IEEE 1057: a
 * three-parameter linear fit at a first frequency estimate, then
 * Gauss-Newton steps on the frequency. It measures frequency to a small
 * fraction of a hertz and level to a hundredth of a dB on a few thousand
 * samples, and its residual is what "continuous" means in a test: a gap or
 * a click leaves samples far from the fitted sine.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "signal.h"

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

/* Solve the k x k system m * v = r in place (Gaussian elimination, partial pivoting). */
static bool solve(double m[4][4], double r[4], int k, double v[4])
{
    for (int col = 0; col < k; col++) {
        int piv = col;
        for (int row = col + 1; row < k; row++)
            if (fabs(m[row][col]) > fabs(m[piv][col]))
                piv = row;
        if (fabs(m[piv][col]) < 1e-300)
            return false;
        if (piv != col) {
            for (int j = 0; j < k; j++) {
                double t = m[col][j];
                m[col][j] = m[piv][j];
                m[piv][j] = t;
            }
            double t = r[col];
            r[col] = r[piv];
            r[piv] = t;
        }
        for (int row = col + 1; row < k; row++) {
            double f = m[row][col] / m[col][col];
            for (int j = col; j < k; j++)
                m[row][j] -= f * m[col][j];
            r[row] -= f * r[col];
        }
    }
    for (int row = k - 1; row >= 0; row--) {
        double s = r[row];
        for (int j = row + 1; j < k; j++)
            s -= m[row][j] * v[j];
        v[row] = s / m[row][row];
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
    if (!solve(m, r, k, v))
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
