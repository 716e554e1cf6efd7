#!/usr/bin/env bash
# Two daemons whose clocks really differ: stage's media clock runs 250 ppm
# fast and truck's 250 ppm slow (clock_skew_ppm stretches the monotonic
# clock each one's periods are timed by), so stage's audio arrives 500 ppm
# faster than truck plays. For 40 s truck's clock recovery must follow:
# its drift estimate converges to the truth, its buffer holds the target,
# and the recording has no glitch, with tones that are stage's tones seen
# through truck's clock (997 Hz reads 997 * 1.00025 / 0.99975 Hz there).
# "No glitch" is strict: in every 10 ms block the tone fits to 70 dB below
# it at 997 Hz and 50 dB at 10 kHz (the same timing error, 20 dB apart: a
# phase error grows with frequency); a click or a dropped frame reads near
# 0 dB.
# This VM's host stops its CPUs for 2-15 ms now and then (tests/support/
# stallmon.c), which makes a packet late through a 5 ms buffer and bends
# the audio whatever the clocks do. Late packets fail the test, and a
# glitch in the recording, unless aoip-stallmon saw the machine stop for
# 3 ms or more (a 1 ms packet in a 5 ms buffer, with a period of margin) in
# the same run; each such stop excuses STALL_GAP_MS of the recording.
. "$(dirname "$0")/lib.sh"

seconds=${AOIP_SKEW_SECONDS:-40}
settle=15 # seconds to lock (the fast start takes 2-3), then measure

NODE_LATENCY_US=5000
STAGE_EXTRA="clock_skew_ppm = 250" stage_tones 997 10000
TRUCK_EXTRA="clock_skew_ppm = -250" truck_records
t_routed=$((($(date +%s%N) - t0) / 1000000))

# The truth: sender frames per receiver frame, minus one, in ppm.
truth=$(awk 'BEGIN { printf "%.3f", (1.00025 / 0.99975 - 1) * 1e6 }')
# rx flow fields of truck's stats, one line per sample: drift buffer target resyncs
sample() {
	ctl truck --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*' | head -n 1 |
		awk -v RS=, -F: '/"drift_ppm"/ {d = $2} /"buffer_ms"/ {b = $2}
			/"target_ms"/ {t = $2} /"resyncs"/ {r = $2} /"late"/ {l = $2}
			END { print d, b, t, r, l }'
}

samples=$it_dir/samples.txt
: >"$samples"
for ((s = 1; s <= seconds; s++)); do
	sleep 1
	echo "$s $(sample)" >>"$samples"
done
stallmon_result
ctl truck stats
node_stop truck

echo "truth: $truth ppm; per second: t drift_ppm buffer_ms target_ms resyncs late"
cat "$samples"
# The drift estimate: within 5 ppm of the truth over the last 5 s, and
# never more than 15 ppm off after the settling time. (The fast start's
# first estimate is usually within 1 ppm, but has been seen 12 ppm off in 2
# of about 12 runs on this machine, cause not found yet; the loop then
# closes the rest with its slow pole's 26 s time constant. The sanitized
# run leaves this test out: their load biases that first estimate more,
# 13 ppm off at 2 s and still 7.8 off at 22 s in a CI run.)
end_ppm=5
awk -v truth="$truth" -v settle="$settle" -v last="$seconds" -v end_ppm="$end_ppm" '
	$1 > settle {
		n++
		de = $2 - truth; if (de < 0) de = -de; if (de > dmax) dmax = de
		if ($1 > last - 5 && de > dend) dend = de
		le = $3 - $4; if (le < 0) le = -le; if (le > lmax) lmax = le
		if (n == 1) { r0 = $5; l0 = $6 }
		r1 = $5; l1 = $6
	}
	END {
		printf "after %d s: drift within %.2f ppm of the truth (%.2f in the last 5 s), level within %.3f ms of target, %d resyncs, %d late\n", settle, dmax, dend, lmax, r1 - r0, l1 - l0
		bad = 0
		if (n < 5) { print "too few samples"; bad = 1 }
		if (dend > end_ppm || dmax > 15) { printf "drift estimate off by more than %g ppm at the end, or 15 ppm after settling\n", end_ppm; bad = 1 }
		if (lmax > 0.5) { print "buffer level more than 0.5 ms from target"; bad = 1 }
		if (r1 != r0) { print "the buffer resynced"; bad = 1 }
		if (l1 != l0) { print "packets came late"; bad = (bad ? 1 : 3) }
		exit bad
	}' "$samples" || {
	rc=$?
	# Late packets alone, with the machine stopped long enough: not ours.
	[ "$rc" -eq 3 ] || fail "clock recovery did not hold"
	[ "$stalls" -gt 0 ] || fail "packets came late with no stall of the machine to explain them"
	echo "note: packets came late while the host stopped this machine's CPUs ($stall)"
}

# The recording, from the end of the settling time: the tones at stage's
# rate seen from truck's clock, continuous (no click, no gap) but for up to
# STALL_GAP_MS for each stop of the machine aoip-stallmon saw.
skip=$((t_routed + settle * 1000))
low=$(awk 'BEGIN { printf "%.4f", 997 * 1.00025 / 0.99975 }')
high=$(awk 'BEGIN { printf "%.4f", 10000 * 1.00025 / 0.99975 }')
echo "expected tones: $low Hz and $high Hz"
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$skip" \
	--channel 1 --freq "$low" --freq-tol 0.02 --level -6 --tol-db 0.1 \
	$gaps_allowed --gap-threshold-db -70 \
	--channel 2 --freq "$high" --freq-tol 0.2 --level -6 --tol-db 0.1 \
	$gaps_allowed --gap-threshold-db -50 ||
	fail "the recording is not stage's tones through truck's clock"
