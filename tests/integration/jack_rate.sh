#!/usr/bin/env bash
# A node on a JACK that does not run at its rate or in its period (issue
# 9): the node stays at 48 kHz in 240-frame periods (period_us = 5000) and
# JACK's cycles go through a converter (aoip/cycleconv.h), on JACK's clock.
#
# JACK (dummy driver) starts at 44.1 kHz in 256-frame cycles. stage, a JACK
# node on JACK's clock, takes a 997 Hz tone at -20 dBFS from client box on
# mic1, records it to stage.wav, and sends it to truck (system clock) over
# the network; it plays its own 750 Hz at -18 dBFS into client rec, which
# records at JACK's 44.1 kHz. Client loop sends a pulse a second into mic2,
# which stage plays straight back to it: the lag between what loop played
# and got back is JACK -> converter -> period -> converter -> JACK, printed
# and judged against the converter's latency (stats) and JACK's one cycle
# of a graph loop. Each recording must hold its tone at its frequency and
# level with no glitch, and truck's clock recovery must lock to stage's
# media clock at about 0 ppm: a node whose periods ran at JACK's rate and
# not its own would be 8.8 % off.
#
# Then JACK's cycles change to 300 frames under the node (jack_bufsize):
# the converter takes them as they come, the tone goes on. Then JACK
# restarts at 48 kHz in 256-frame cycles (the node's rate, not its period:
# converted 1:1), and jack_bufsize 480 makes two whole periods a cycle: no
# converter at all. stage records the tone at each step, truck hears it,
# and stage's stats say which way its cycles ran.
. "$(dirname "$0")/lib.sh"

command -v jackd >/dev/null || skip "jackd is not installed"
: "${JACKCLIENT:?}"

export JACK_DEFAULT_SERVER=aoip-test-rate JACK_NO_AUDIO_RESERVATION=1
timeout 5 jack_lsp >/dev/null 2>&1 && skip "a JACK server named $JACK_DEFAULT_SERVER is running already"
it_step "starting jackd at 44.1 kHz"
jackd_start "$JACK_DEFAULT_SERVER" -r 44100
jackd=$jackd_pid

export NODE_LATENCY_US=15000
"$JACKCLIENT" box --play 997,-20 >"$it_dir/box.log" 2>&1 &
box=$!
it_pids+=("$box")
t_rec=$(date +%s%N)
"$JACKCLIENT" rec --record "$it_dir/rec.wav" >"$it_dir/rec.log" 2>&1 &
rec=$!
it_pids+=("$rec")
"$JACKCLIENT" loop --pulses -6 --record "$it_dir/loop.wav" >"$it_dir/loop.log" 2>&1 &
loop=$!
it_pids+=("$loop")
wait_until 10 jack_has "$JACK_DEFAULT_SERVER" box:out rec:in loop:in ||
	fail "the test's JACK clients did not come up"

it_step "starting stage (48 kHz, 240-frame periods) and truck"
NODE_EXTRA="period_us = 5000" node_conf stage "
[input.box]
type = jack
channels = 2
names = mic1,mic2
connect = box:out,loop:out

[input.osc]
type = tone
channels = 1
names = osc1
frequency = 750
level_dbfs = -18

[output.phones]
type = jack
channels = 2
names = phones1,phones2
connect = rec:in,loop:in

[output.file]
type = wav
path = $it_dir/stage.wav
channels = 1
names = file1
"
t0=$(date +%s%N)
node_start stage
truck_conf 1
node_start truck
wait_until 10 online truck stage || fail "truck does not see stage"
ctl stage route add stage/mic1 stage/file1
ctl stage route add stage/osc1 stage/phones1
ctl stage route add stage/mic2 stage/phones2
ctl truck route add stage/mic1 truck/ch1
wait_until 20 clocks_locked truck 'locked\|slewing' || fail "truck's clock recovery does not lock"
t_a0=$(ms_since "$t0")
sleep 6
t_a1=$(ms_since "$t0")
ctl stage --json stats | tr -d ' \n' >"$it_dir/stage-a.json"
ctl truck --json stats | tr -d ' \n' >"$it_dir/truck-a.json"
ctl stage stats | grep '^jack:'

it_step "JACK's cycles: 300 frames"
timeout 5 jack_bufsize 300 >/dev/null || fail "jack_bufsize 300 failed"
wait_until 5 sh -c "'$AOIPCTL' -s '$it_dir/stage.sock' --json stats | tr -d ' \n' |
	grep -q '\"buffer_frames\":300,'" || fail "stage did not see JACK's 300-frame cycles"
t_b0=$(($(ms_since "$t0") + 1000))
sleep 4
t_b1=$(ms_since "$t0")
ctl stage --json stats | tr -d ' \n' >"$it_dir/stage-b.json"

it_step "jackd restarts at 48 kHz in 256-frame cycles"
stop_helper "$box" "$rec" "$loop" "$jackd"
sleep 1
jackd_start "$JACK_DEFAULT_SERVER"
jackd=$jackd_pid
"$JACKCLIENT" box --play 997,-20 >>"$it_dir/box.log" 2>&1 &
box=$!
it_pids+=("$box")
wait_until 10 sh -c 'timeout 3 jack_lsp -c | grep -A1 "^box:out$" | grep -q "aoip-stage:mic1"' ||
	fail "stage did not come back and connect to box:out on the new server"
t_c0=$(($(ms_since "$t0") + 2000))
sleep 5
t_c1=$(ms_since "$t0")
ctl stage --json stats | tr -d ' \n' >"$it_dir/stage-c.json"

it_step "JACK's cycles: 480 frames, two whole periods"
timeout 5 jack_bufsize 480 >/dev/null || fail "jack_bufsize 480 failed"
wait_until 5 sh -c "'$AOIPCTL' -s '$it_dir/stage.sock' --json stats | tr -d ' \n' |
	grep -q '\"buffer_frames\":480,'" || fail "stage did not see JACK's 480-frame cycles"
t_d0=$(($(ms_since "$t0") + 1000))
sleep 4
t_d1=$(ms_since "$t0")
ctl stage --json stats | tr -d ' \n' >"$it_dir/stage-d.json"
ctl stage stats | grep '^jack:'
node_stop truck
t_end=$(ms_since "$t0")
node_stop stage
stallmon_result

# Which way the cycles ran, step by step.
expect_jack() { # FILE RATE CONVERTING WHAT
	grep -q "\"rate\":$2,[^}]*\"converting\":$3," "$it_dir/$1" ||
		fail "stage's stats at $4: not JACK at $2 Hz with converting $3: $(grep -o '"jack":{[^}]*}' "$it_dir/$1")"
}
expect_jack stage-a.json 44100 true "44.1 kHz"
expect_jack stage-b.json 44100 true "44.1 kHz in 300-frame cycles"
expect_jack stage-c.json 48000 true "48 kHz in 256-frame cycles"
expect_jack stage-d.json 48000 false "48 kHz in 480-frame cycles"
# A converter is made before the client is active: no cycle played silent at the start.
grep -q '"misfit_periods":0,' "$it_dir/stage-a.json" ||
	fail "stage played cycles silent at 44.1 kHz: $(grep -o '"jack":{[^}]*}' "$it_dir/stage-a.json")"

# truck's clock recovery against stage's media clock: JACK's (the dummy
# driver keeps to the system clock) through the converter. Periods timed
# at JACK's rate would read 88000 ppm off; the estimate itself is still
# settling here (a sender whose cycles carry one period or two reads up to
# 100 ppm off in its first seconds, then closes in: clock.c's fast start).
drift=$(grep -o '"drift_ppm":-\?[0-9.e+-]*' "$it_dir/truck-a.json" | head -n 1 | cut -d: -f2)
echo "truck's drift estimate of stage's media clock, on JACK at 44.1 kHz: $drift ppm"
awk -v d="$drift" 'BEGIN { exit !(d != "" && d > -500 && d < 500) }' ||
	fail "truck reads stage's clock $drift ppm off: the periods do not keep to the node's rate"

"$WAVCHECK" "$it_dir/stage.wav" --skip-ms "$t_a0" --until-ms "$t_a1" --channel 1 \
	--freq 997 --level -20 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 ||
	fail "stage's recording of JACK at 44.1 kHz is not the tone"
# truck's recording is judged for dropouts and clicks (near 0 dB), not at
# -60 dB: its clock recovery, against a sender whose cycles carry one
# period or two, still slews in this window after a stop of the machine
# (the CI run at fe90822: 996.35 Hz and a -40 dB residual over 0.9 s, with
# stage's own recording clean at -125 dB). That is clock.c's, noted on the
# issue; the converter's output is stage.wav, judged at -60 dB.
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$t_a0" --until-ms "$t_a1" \
	--channel 1 --freq 997 --level -20 --tol-db 0.1 $gaps_allowed --gap-threshold-db -30 ||
	fail "truck's recording of stage's JACK input at 44.1 kHz is not the tone"
rec_off=$(((t0 - t_rec) / 1000000))
"$WAVCHECK" "$it_dir/rec.wav" --skip-ms $((rec_off + t_a0)) --until-ms $((rec_off + t_a1)) \
	--channel 1 --freq 750 --level -18 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 ||
	fail "what stage played into JACK at 44.1 kHz is not its tone"
"$WAVCHECK" "$it_dir/stage.wav" --skip-ms "$t_b0" --until-ms $((t_b1 - 500)) --channel 1 \
	--freq 997 --level -20 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 ||
	fail "stage's recording in JACK's 300-frame cycles is not the tone"
"$WAVCHECK" "$it_dir/rec.wav" --skip-ms $((rec_off + t_b0)) --until-ms $((rec_off + t_b1 - 500)) \
	--channel 1 --freq 750 --level -18 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 ||
	fail "what stage played into JACK's 300-frame cycles is not its tone"
# After the restart stage's own recording: each change of the way its
# cycles run moves the moment its periods run by up to a period, a step
# truck's clock recovery takes seconds to slew back (a bend of a few cents).
# stage's file has no periods for the time JACK was away: after it, its
# times are the test's less that outage.
wav_s=$("$WAVCHECK" "$it_dir/stage.wav" --json | json_num duration_s)
away=$(awk -v e="$t_end" -v w="$wav_s" 'BEGIN { printf "%d", e - w * 1000 }')
echo "stage's recording is $wav_s s long: JACK was away for about $away ms"
t_c0=$((t_c0 - away)) t_c1=$((t_c1 - away)) t_d0=$((t_d0 - away)) t_d1=$((t_d1 - away))
"$WAVCHECK" "$it_dir/stage.wav" --skip-ms "$t_c0" --until-ms "$t_c1" --channel 1 \
	--freq 997 --level -20 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 ||
	fail "stage's recording with JACK back at 48 kHz in 256-frame cycles is not the tone"
"$WAVCHECK" "$it_dir/stage.wav" --skip-ms "$t_d0" --until-ms $((t_d1 - 500)) --channel 1 \
	--freq 997 --level -20 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 ||
	fail "stage's recording with JACK in 480-frame cycles is not the tone"
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms $((t_d0 + away)) --until-ms $((t_d1 + away - 500)) \
	--channel 1 --freq 997 --freq-tol 5 --level -20 --tol-db 0.1 ||
	fail "truck does not hear stage with JACK in 480-frame cycles"

# The round trip at 44.1 kHz: the converter both ways and JACK's cycle of a graph loop.
conv_ms=$(grep -o '"conversion_ms":[0-9.e+-]*' "$it_dir/stage-a.json" | cut -d: -f2)
cycle_ms=$(awk 'BEGIN { printf "%.4f", 256000 / 44100 }')
lag=$("$WAVCHECK" "$it_dir/loop.wav" --skip-ms 2000 --until-ms $((rec_off + t_a1)) --delay 1,2 \
	--tol-ms 100 --expect-ms 20 --json | tr -d ' \n' | grep -o '"lag_ms":[-0-9.e]*' |
	cut -d: -f2 | head -n 1)
[ -n "$lag" ] || fail "no round trip measured from loop's recording"
echo "round trip JACK (44.1 kHz, 256-frame cycles) -> stage (48 kHz, 240-frame periods) -> JACK:" \
	"$lag ms; the converter's share $conv_ms ms, JACK's cycle $cycle_ms ms"
# JACK closes the graph's loop (loop -> stage -> loop) a cycle later; the
# rest is the converter's, within a millisecond (0.8 ms more measured here).
awk -v l="$lag" -v c="$conv_ms" -v y="$cycle_ms" \
	'BEGIN { d = l - c; exit !(d > -0.05 && d < y + 1) }' ||
	fail "the round trip, $lag ms, is not the converter's $conv_ms ms and a cycle of JACK's"
