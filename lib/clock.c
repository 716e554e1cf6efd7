/*
 * clock.c: clock recovery for one receive flow (see clock.h for the
 * contract).
 *
 * The level the loop sees. The jitter buffer's level, taken before each
 * pull, rises by a packet when one arrives and falls by a period at each
 * pull; which of the two came last depends on where the arrivals fall
 * between the updates, and that phase slips by one packet every
 * 1 / (drift x packet rate) seconds: a sawtooth of a whole packet with a
 * period of seconds (5 s at 200 ppm and 1 ms packets), which no filter
 * short enough for the loop can remove. The arrivals say where it stands.
 * An arrival before update u and after update u - 1 puts that update's
 * time on the arrival clock within one period; every arrival narrows it,
 * and a projection onto the latest bound follows it if the two clocks
 * differ a little (a sound card against the system clock). Then
 *     level seen = level - packet + (update time - newest arrival) (1 + drift)
 * is the newest packet's first frame minus the read position at the moment
 * that packet arrived: the latency as the jitter buffer defines it (it
 * places a new stream exactly there), with no sawtooth. "Newest arrival"
 * is not that packet's own arrival but the timeline's: where all arrivals
 * say it should have come (a first-order tracker of arrival against RTP
 * time, residuals clipped to LINE_CLIP times their running mean). Its own
 * arrival would carry its jitter, and which packet is newest at an update
 * favours early ones, more so where arrivals fall close to the updates: a
 * bias of a frame that came and went with the phase slip. A late or
 * reordered packet is never the newest, and during a stall of the path the
 * buffer drains as fast as the time since the newest arrival grows, so
 * neither moves the level seen. Until arrivals have fallen all across a
 * period the update phase can read up to a period early, holding the
 * level up to a period above the target (the safe side); as it converges
 * the setpoint moves with it and then slews to the target, so a correction
 * of the measurement does not kick the drift.
 *
 * Fast start. A least-squares line of RTP time against arrival time (sums,
 * no history), on the arrivals that advance the newest timestamp; once it
 * has a few dozen points, one more than four residual rms off the line is
 * left out (a stall released at once, a Pareto tail). As soon as its
 * standard error is under FAST_USE_PPM its slope steers, so the level
 * hardly moves while it refines; it ends when it spans FAST_MIN_S with a
 * standard error under FAST_SE_PPM, or at FAST_MAX_S whatever its error,
 * and the integral takes over from its slope. Until then only the
 * proportional term acts on the level. After a restart the drift is kept:
 * the new fit replaces it only if the two disagree by more than the fit's
 * own error (a new sender), since an hour of integration beats seconds of
 * fit. When the fit ends the setpoint is put where the level is, and held
 * there while the ratio ramps to the new drift, so that what the level did
 * while the rate was unknown is slewed back, not paid for by the integral.
 *
 * The loop. e = level seen - setpoint, low-passed (TAU_S) so that the
 * ratio moves smoothly; drift += ki e (e clipped to CLIP_MS, so a gross
 * disturbance cannot wind the integral up); ratio = 1 + drift + kp e - v,
 * v being the setpoint's slew. In continuous time dlevel/dt = rate (s - r),
 * so with kp = 2 zeta wn / rate and ki = wn^2 T / rate (T the period in
 * seconds) the loop is second order with natural frequency wn and damping
 * zeta. The drift is clamped to +-max_ppm, the ratio to SLEW_PPM beyond
 * (room to steer the level of a sender at the limit), and the ratio moves
 * by at most RATIO_PPM_S per second: a change of rate is a bend in the
 * phase of the audio, and bounded it stays far below a click.
 *
 * A change of target moves the setpoint, not the level: at most SLEW_PPM
 * of speed, reached and shed at SLEW_ACCEL_PPM_S, braked in time to stop at
 * the target and never pass it. The slew is fed forward into the ratio, so
 * the drift estimate does not see it.
 *
 * Parameters, chosen by measurement with tests/sim/sim_clock.c (an hour of
 * virtual time per case: real jitter buffer and resampler, 1 ms packets at
 * 48 kHz; `aoip-sim-clock --bench`; each one below can be overridden with
 * -D for such a sweep):
 *   wn = 0.1 rad/s, zeta = 1.5. The bandwidth trades two bounds: a 100 ppm
 *   step of the sender must keep the level within 0.5 ms, and the drift
 *   estimate's noise under jitter should stay well under 1 ppm. At zeta 1,
 *   wn 0.07 let the step peak at 0.58 ms (over) for 0.19 ppm rms of noise
 *   under 0.5 ms of Gaussian jitter; 0.1: 0.42 ms, 0.35 ppm; 0.15: 0.29 ms,
 *   0.72 ppm; 0.2: 0.24 ms, 1.2 ppm (the noise goes as wn^2). Damping 1.5
 *   buys margin on the step (0.33 ms at wn 0.1) for the same noise (0.32
 *   ppm); 2 and more leave the integral's slow pole so slow that the
 *   estimate is still 4 ppm off two minutes after the step.
 *   TAU_S = 0.25 s: at 0.05 s the jitter reached the ratio and biased the
 *   estimate by 0.34 ppm under Gaussian jitter; 1 s changed nothing that
 *   was measured.
 *   LINE_TAU_S = 0.5 s: 2 s lowered the noise a little (0.29 to 0.26 ppm
 *   with a Pareto tail) but the step's peak grew to 0.46 ms; 0.1 s, no
 *   better than 0.5.
 *   RATIO_PPM_S = 1000: the fast start's ramp at this rate leaves -89.6
 *   dBFS of residual in a 20 ms sine fit of a -6 dBFS tone, 10 dB under the
 *   simulation's glitch threshold; 3000 ppm/s reaches the threshold, 300
 *   makes a +1000 ppm sender take 15 s to lock instead of 6.
 *   FAST_SE_PPM = 0.5: a clean sender at +-200 ppm locks (estimate within
 *   1 ppm, level within 0.5 ms, for good) in 4.3 and 5.3 s; at 1 ppm the
 *   fit ends sooner and the loop takes 8 to 13 s to finish the job.
 *   SLEW_PPM = 200: the audio's pitch moves by 0.35 cent at most, and a
 *   target 10 ms lower is reached in 51 s. A higher one is reached at
 *   SLEW_UP_PPM = 1000 (10 ms in 11 s): in the lab (tests/integration/
 *   lab_latency_auto.sh) a network whose delay spiked to 10 ms every half
 *   minute kept catching a level that rose at 200 ppm on its way up.
 */
#include <math.h>
#include <string.h>

#include "aoip/clock.h"

/* Loop: natural frequency (rad/s) and damping. */
#ifndef WN_RAD_S
#define WN_RAD_S 0.1
#endif
#ifndef ZETA
#define ZETA 1.5
#endif
/* Time constant of the low-pass on the level error. */
#ifndef TAU_S
#define TAU_S 0.25
#endif
/* The error the integral takes at most, in ms of audio. */
#define CLIP_MS 1.0
/* Fast start: shortest span, the standard error that ends it, longest span. */
#define FAST_MIN_S 1.0
#ifndef FAST_SE_PPM
#define FAST_SE_PPM 0.5
#endif
#define FAST_MAX_S 8.0
/* The standard error below which a first stream's fit already steers. */
#define FAST_USE_PPM 30.0
/* Points the fit takes before it starts rejecting outliers, and how far out. */
#define FAST_TRUST      32
#define FAST_OUTLIER_SD 4.0
/* A restarted fit agrees with the kept drift within 3 of its standard errors plus this. */
#define FAST_AGREE_PPM 2.0
/* Setpoint slew: top speed and acceleration, as ppm of ratio, down and up. A
 * rise is a network that got worse, with packets late until the level is
 * there: it goes five times as fast (1.7 cent of pitch at most). */
#define SLEW_PPM            200.0
#define SLEW_ACCEL_PPM_S    200.0
#define SLEW_UP_PPM         1000.0
#define SLEW_UP_ACCEL_PPM_S 1000.0
/* How fast the ratio may move, ppm per second. */
#ifndef RATIO_PPM_S
#define RATIO_PPM_S 1000.0
#endif
/* Until the arrivals have spread over all but this much of a period (frames),
 * every move of the phase estimate is its convergence, not the level moving;
 * after that, a move larger than PHASE_JUMP still is. */
#define PHASE_SETTLED 1.0
#define PHASE_JUMP    0.25
/* The arrival timeline: time constant, and the clip in running mean residuals. */
#ifndef LINE_TAU_S
#define LINE_TAU_S 0.5
#endif
#define LINE_CLIP 4.0

#define DEFAULT_RATE    48000u
#define DEFAULT_PERIOD  48u
#define DEFAULT_MAX_PPM 1000.0

static AOIP_RT double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static AOIP_RT double max_dev(const struct aoip_clock *c)
{
    return c->cfg.max_ppm * 1e-6;
}

/* Seconds per update. */
static AOIP_RT double update_s(const struct aoip_clock *c)
{
    return (double)c->cfg.period_frames / c->cfg.sample_rate;
}

/* Forget the stream: its arrivals, the fit and the loop's view of the level. */
static AOIP_RT void forget_stream(struct aoip_clock *c)
{
    c->have_arrival = false;
    c->newest_ts = 0;
    c->newest_at = 0.0;
    c->packet_frames = 0.0;
    c->line_dev = 0.0;
    c->updates = 0;
    c->update_phase = 0.0;
    c->phase_low = 0.0;
    c->phase_settled = false;
    c->phase_applied = 0.0;
    c->locked = false;
    c->fit_n = 0;
    c->fit_t0 = 0.0;
    c->fit_r0 = 0;
    c->sx = c->sz = c->sxx = c->sxz = c->szz = 0.0;
    c->primed = false;
    c->settling = false;
    c->level = 0.0;
    c->error = 0.0;
    c->setpoint = 0.0;
    c->slew = 0.0;
}

void aoip_clock_init(struct aoip_clock *c, const struct aoip_clock_config *cfg)
{
    memset(c, 0, sizeof(*c));
    if (cfg)
        c->cfg = *cfg;
    if (c->cfg.sample_rate == 0)
        c->cfg.sample_rate = DEFAULT_RATE;
    if (c->cfg.period_frames == 0)
        c->cfg.period_frames = DEFAULT_PERIOD;
    if (!(c->cfg.max_ppm > 0.0) || !isfinite(c->cfg.max_ppm))
        c->cfg.max_ppm = DEFAULT_MAX_PPM;
    forget_stream(c);
    c->drift = 0.0;
    c->ratio = 1.0;
}

AOIP_RT void aoip_clock_restart(struct aoip_clock *c)
{
    forget_stream(c);
    c->frozen = true;
    c->drift_kept = c->drift;
}

/* The fit's centred sums; false while they do not define a line. */
static AOIP_RT bool fit_line(const struct aoip_clock *c, double *slope, double *icept,
                             double *resid_var, double *sxx_c)
{
    if (c->fit_n < 3)
        return false;
    double n = c->fit_n;
    double sxx = c->sxx - c->sx * c->sx / n;
    double sxz = c->sxz - c->sx * c->sz / n;
    double szz = c->szz - c->sz * c->sz / n;
    if (!(sxx > 0.0))
        return false;
    double b = sxz / sxx;
    *slope = b;
    *icept = (c->sz - b * c->sx) / n;
    *resid_var = fmax(szz - b * sxz, 0.0) / (n - 2.0);
    *sxx_c = sxx;
    return true;
}

/* Does a fit of slope b and standard error se agree with the drift kept over a restart? */
static AOIP_RT bool agrees(const struct aoip_clock *c, double b, double se)
{
    return fabs(b - c->drift_kept) <= 3.0 * se + FAST_AGREE_PPM * 1e-6;
}

/* The fast start is over: the drift is the fit's slope (or stays, see the top). */
static AOIP_RT void finish_fast_start(struct aoip_clock *c)
{
    double b, a, var, sxx;

    if (fit_line(c, &b, &a, &var, &sxx)) {
        double se = sqrt(var / sxx);
        c->drift = !c->have_drift || !agrees(c, b, se) ? clampd(b, -max_dev(c), max_dev(c))
                                                       : c->drift_kept;
    }
    c->have_drift = true;
    c->locked = true;
    c->settling = true;
    /*
     * Hold the level where it is now and slew from there, instead of letting
     * the integral pay for what drifted while the rate was unknown. Where it
     * is now is the level last seen, not the low-passed error, which lags a
     * level that moves (and the timeline has taken the jitter out of it).
     */
    if (c->primed) {
        c->setpoint = c->level;
        c->error = 0.0;
    }
}

/* Add one point to the fit, unless it lies far off the line so far. */
static AOIP_RT void fit_point(struct aoip_clock *c, int64_t ts, double at)
{
    if (c->fit_n == 0) {
        c->fit_t0 = at;
        c->fit_r0 = ts;
    }
    double x = at - c->fit_t0;
    double z = (double)(ts - c->fit_r0) - x;
    double b, a, var, sxx;

    if (c->fit_n >= FAST_TRUST && fit_line(c, &b, &a, &var, &sxx) &&
        fabs(z - (a + b * x)) > FAST_OUTLIER_SD * sqrt(var) + 1.0)
        return;
    c->fit_n++;
    c->sx += x;
    c->sz += z;
    c->sxx += x * x;
    c->sxz += x * z;
    c->szz += z * z;

    if (c->fit_n < FAST_TRUST || !fit_line(c, &b, &a, &var, &sxx))
        return;
    double se = sqrt(var / sxx), rate = c->cfg.sample_rate;
    /* The fit steers as soon as it is roughly right, so the level hardly moves
     * while it refines: on a first stream, or after a restart when it already
     * says that this is another sender (else the kept drift steers). */
    if (se <= FAST_USE_PPM * 1e-6)
        c->drift = !c->have_drift || !agrees(c, b, se) ? clampd(b, -max_dev(c), max_dev(c))
                                                       : c->drift_kept;
    if (x >= FAST_MAX_S * rate || (x >= FAST_MIN_S * rate && se <= FAST_SE_PPM * 1e-6))
        finish_fast_start(c);
}

/*
 * The timeline: where on the arrival clock the newest packet "should" have
 * come, by the arrivals of all packets, not its own. Its own arrival carries
 * its jitter, and which packet is newest at an update favours those that
 * came early, more so where arrivals fall close to the updates: a bias that
 * comes and goes with the phase slip. A residual is clipped to a few times
 * its running mean, so a stall released at once or a Pareto tail nudges the
 * line by little.
 */
static AOIP_RT void timeline(struct aoip_clock *c, int64_t rtp_ts, double at)
{
    double q = 1.0 / (1.0 + c->drift); /* our frames per sender frame */
    double e = at - (c->newest_at + (double)(rtp_ts - c->newest_ts) * q);
    double clip = fmax(LINE_CLIP * c->line_dev, 1.0);
    double ec = clampd(e, -clip, clip);
    double packet = c->packet_frames > 0.0 ? c->packet_frames : c->cfg.period_frames;
    double gain = fmin(1.0, packet / (LINE_TAU_S * c->cfg.sample_rate));

    if (rtp_ts > c->newest_ts) {
        double step = (double)(rtp_ts - c->newest_ts);
        if (c->packet_frames == 0.0 || step < c->packet_frames)
            c->packet_frames = step;
        c->newest_at += step * q;
        c->newest_ts = rtp_ts;
    }
    c->newest_at += gain * ec;
    c->line_dev += gain * (fabs(ec) - c->line_dev);
}

AOIP_RT void aoip_clock_arrival(struct aoip_clock *c, int64_t rtp_ts, double arrival_frames)
{
    if (!isfinite(arrival_frames))
        return;
    /* This arrival came after update (updates - 1) and before update (updates). */
    double period = c->cfg.period_frames;
    double lo = arrival_frames - (double)c->updates * period;
    if (!c->have_arrival) {
        c->update_phase = lo;
        c->phase_low = lo;
    } else if (c->update_phase < lo) {
        c->update_phase = lo;
    } else if (c->update_phase > lo + period) {
        c->update_phase = lo + period;
    }
    /* Arrivals seen across (nearly) a whole period pin the phase. */
    if (lo < c->phase_low)
        c->phase_low = lo;
    if (c->update_phase - c->phase_low >= period - PHASE_SETTLED)
        c->phase_settled = true;
    c->frozen = false;

    if (!c->have_arrival) {
        c->have_arrival = true;
        c->newest_ts = rtp_ts;
        c->newest_at = arrival_frames;
        c->line_dev = 0.0;
    } else {
        bool newer = rtp_ts > c->newest_ts;
        timeline(c, rtp_ts, arrival_frames);
        if (!newer)
            return;
    }
    if (!c->locked)
        fit_point(c, rtp_ts, arrival_frames);
}

/* Move the setpoint toward the target: bounded speed and acceleration, braking in time. */
static AOIP_RT void slew_setpoint(struct aoip_clock *c, double target, double dt)
{
    double rate = c->cfg.sample_rate;
    double rem = target - c->setpoint;
    bool up = rem > 0.0 || c->slew > 0.0;
    double vmax = (up ? SLEW_UP_PPM : SLEW_PPM) * 1e-6 * rate;
    double amax = (up ? SLEW_UP_ACCEL_PPM_S : SLEW_ACCEL_PPM_S) * 1e-6 * rate;
    double vwant = copysign(fmin(vmax, sqrt(2.0 * amax * fabs(rem))), rem);

    c->slew += clampd(vwant - c->slew, -amax * dt, amax * dt);
    double step = c->slew * dt;
    if (rem == 0.0 || (rem > 0.0 && step >= rem && c->slew > 0.0) ||
        (rem < 0.0 && step <= rem && c->slew < 0.0)) {
        /* There, or would pass it: stop on it. */
        c->setpoint = target;
        c->slew = 0.0;
        return;
    }
    c->setpoint += step;
}

/* Bring the ratio toward want at the bounded rate, inside the clamp. */
static AOIP_RT double steer(struct aoip_clock *c, double want, double dt)
{
    double step = RATIO_PPM_S * 1e-6 * dt;
    double r = c->ratio + clampd(want - c->ratio, -step, step);

    /* Room beyond the drift to steer the level, and to slew it up if it is. */
    double most = max_dev(c) + fmax(SLEW_PPM * 1e-6, fabs(c->slew) / c->cfg.sample_rate);
    c->ratio = clampd(r, 1.0 - most, 1.0 + most);
    return c->ratio;
}

/* now: when the level was taken, on the arrival clock; NULL: where the update phase says. */
static AOIP_RT double update(struct aoip_clock *c, double level_frames, double target_frames,
                             const double *now)
{
    double rate = c->cfg.sample_rate, period = c->cfg.period_frames;
    double dt = update_s(c);
    uint64_t u = c->updates++;

    if (!isfinite(level_frames) || !isfinite(target_frames))
        return c->ratio;
    /* A stream that never ends its fit (no arrivals reported) runs on the level alone. */
    if (!c->locked && !c->frozen && (double)u * dt >= FAST_MAX_S)
        finish_fast_start(c);
    if (c->frozen)
        return steer(c, 1.0 + c->drift, dt);

    /* One packet in, its length is not known yet (the step to the next
     * one tells it): the level cannot be read without its sawtooth, and a
     * setpoint primed on it would sit up to a packet high (19 ms with 20 ms
     * Opus frames), which the loop would then pull the level up to. Wait
     * for the second packet. */
    if (c->have_arrival && c->packet_frames == 0.0 && !c->primed)
        return steer(c, 1.0 + c->drift, dt);
    double seen;
    if (c->have_arrival) {
        double packet = c->packet_frames > 0.0 ? c->packet_frames : period;
        double age = (now ? *now : (double)u * period + c->update_phase) - c->newest_at;
        seen = level_frames - packet + fmax(age, 0.0) * (1.0 + c->drift);
    } else {
        seen = level_frames - period / 2.0;
    }
    c->level = seen;

    if (!c->primed) {
        c->primed = true;
        c->setpoint = seen;
        c->error = 0.0;
        c->slew = 0.0;
        c->phase_applied = c->update_phase;
    } else if (!now) {
        double moved = c->update_phase - c->phase_applied;
        c->phase_applied = c->update_phase;
        if (!c->phase_settled || fabs(moved) > PHASE_JUMP)
            c->setpoint += moved * (1.0 + c->drift);
    }
    slew_setpoint(c, target_frames, dt);

    double alpha = dt / (TAU_S + dt);
    c->error += alpha * ((seen - c->setpoint) - c->error);

    double kp = 2.0 * ZETA * WN_RAD_S / rate;
    double ki = WN_RAD_S * WN_RAD_S * dt / rate;
    if (c->settling) {
        /* The fast start just ended and the ratio is still on its way to the
         * new drift at its bounded rate; the level moves meanwhile. Hold it
         * where it lands, not where it was. */
        if (fabs(1.0 + c->drift - c->slew / rate - c->ratio) > RATIO_PPM_S * 1e-6 * dt) {
            c->setpoint = seen;
            c->error = 0.0;
        } else {
            c->settling = false;
        }
    }
    if (c->locked && !c->settling) {
        double clip = CLIP_MS * 1e-3 * rate;
        c->drift += ki * clampd(c->error, -clip, clip);
        c->drift = clampd(c->drift, -max_dev(c), max_dev(c));
    }
    double want = 1.0 + c->drift + kp * c->error - c->slew / rate;
    return steer(c, want, dt);
}

AOIP_RT double aoip_clock_update(struct aoip_clock *c, double level_frames, double target_frames)
{
    return update(c, level_frames, target_frames, NULL);
}

AOIP_RT double aoip_clock_update_at(struct aoip_clock *c, double level_frames, double target_frames,
                                    double now_frames)
{
    if (!isfinite(now_frames))
        return update(c, level_frames, target_frames, NULL);
    return update(c, level_frames, target_frames, &now_frames);
}

AOIP_RT enum aoip_clock_state aoip_clock_get_state(const struct aoip_clock *c)
{
    if (c->frozen || !c->have_arrival || !c->primed)
        return AOIP_CLOCK_IDLE;
    if (!c->locked || c->settling)
        return AOIP_CLOCK_LOCKING;
    if (c->slew != 0.0)
        return AOIP_CLOCK_SLEWING;
    return AOIP_CLOCK_LOCKED;
}

const char *aoip_clock_state_name(int state)
{
    static const char *const names[] = { "idle", "locking", "slewing", "locked" };
    return state >= 0 && state < 4 ? names[state] : "idle";
}

AOIP_RT double aoip_clock_ppm(const struct aoip_clock *c)
{
    return c->drift * 1e6;
}
