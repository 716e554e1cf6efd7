#!/usr/bin/env bash
# A route's own latency: truck runs at 3 ms (latency_us), its routes from
# stage ask for 8 ms, and the flows that carry them play that late; later
# stage asks for 6 ms on truck's behalf, truck restarts and keeps it, and
# clearing the routes' latencies returns the flows to 3 ms.
#
#   stage/mic1  (440 Hz sine, -20 dBFS)       -> truck/in1  the tone: no gap, ever
#   stage/click (a pulse a second, -6 dBFS)   -> truck/in2  the pulse, through the network
#   truck/tick  (a pulse a second, -6 dBFS)   -> truck/ref  the reference, local
#
# Both nodes run on the system clock, so stage's pulses keep one offset
# from truck's own: the lag of in2 behind ref, in the audio, is that offset
# plus the network latency, and it must grow by the 5 ms the target grew.
# A flow carries what packing put in it: whether mic1 and click share a
# flow is pack.c's business, so the checks read each flow's channels and
# expect the largest latency that the routes of its channels ask for.
. "$(dirname "$0")/lib.sh"

export NODE_LATENCY_US=3000

# rx_flows NODE: one line per rx flow of NODE, its JSON object without spaces.
rx_flows() {
	ctl "$1" --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*'
}
# targets_are NODE MIC_MS CLICK_MS: every rx flow of NODE has the target its
# channels ask for: CLICK_MS where it carries stage/click, the larger of the
# two where it carries both, MIC_MS where only stage/mic1.
targets_are() {
	local flows line want got
	flows=$(rx_flows "$1") || return 1
	[ -n "$flows" ] || return 1
	while read -r line; do
		want=0
		if echo "$line" | grep -q '"stage/mic1"'; then want=$2; fi
		if echo "$line" | grep -q '"stage/click"' && [ "$3" -gt "$want" ]; then want=$3; fi
		got=$(echo "$line" | grep -o '"target_ms":[0-9.]*' | cut -d: -f2)
		awk -v g="$got" -v w="$want" 'BEGIN { exit !(g != "" && g - w < 0.05 && w - g < 0.05) }' ||
			return 1
	done <<<"$flows"
}
# lag_ms FROM_MS: the lag of truck/in2 (channel 2) behind truck/ref (channel 3)
# in the first recording, measured on the pulses from FROM_MS on.
lag_ms() {
	"$WAVCHECK" "$it_dir/truck1.wav" --skip-ms "$1" --until-ms $(($1 + 2500)) --delay 3,2 --json |
		json_num lag_ms
}

node_conf stage "
[input.mics]
type = tone
channels = 1
names = mic1
frequency = 440
level_dbfs = -20

[input.click]
type = tone
wave = pulse
channels = 1
names = click
level_dbfs = -6
"
node_start stage
stage_port=$(node_port stage)
truck_conf() {
	node_conf truck "
[peer.stage]
address = 127.0.0.1:$stage_port

[input.tick]
type = tone
wave = pulse
channels = 1
names = tick
level_dbfs = -6

[output.rec]
type = wav
path = $it_dir/$1
channels = 3
names = in1,in2,ref
"
}
truck_conf truck1.wav
t0=$(date +%s%N)
node_start truck
wait_until 10 online truck stage || fail "truck does not see stage online"
wait_until 10 online stage truck || fail "stage does not see truck online"

ctl truck route add truck/tick truck/ref
ctl truck route add stage/mic1 truck/in1
ctl truck route add stage/click truck/in2
wait_until 10 rx_over truck 200 || fail "no audio reaches truck"
wait_until 30 clocks_locked truck || fail "truck's clock recovery does not lock at 3 ms"
wait_until 10 targets_are truck 3 3 || fail "the flows do not play at the node's 3 ms"
t_settled=$(($(ms_since "$t0") + 500))
sleep 3
t_before=$(ms_since "$t0")
sleep 3

# ---- truck asks for 8 ms on both routes: the flows slew there, no gap.
ctl truck route add stage/mic1 truck/in1 --latency-us 8000 >"$it_dir/out"
grep -qx 'stage/mic1 -> truck/in1  0.0 dB  latency 8 ms' "$it_dir/out" ||
	fail "route add does not show the latency: $(cat "$it_dir/out")"
ctl truck route add stage/click truck/in2 --latency-us 8000
wait_until 5 targets_are truck 8 8 || fail "the flows' target is not 8 ms: $(rx_flows truck)"
# 5 ms up at 1000 ppm: about 6 s of slewing.
wait_until 60 clocks_locked truck || fail "truck's clock recovery does not lock at 8 ms"
targets_are truck 8 8 || fail "the flows' target moved from 8 ms: $(rx_flows truck)"
t_after=$(ms_since "$t0")
sleep 3
ctl truck stats
ctl truck route list truck >"$it_dir/out"
cat "$it_dir/out"
grep -Eq '^stage/mic1 +truck/in1 +0\.0 dB +8 ms$' "$it_dir/out" ||
	fail "route list does not show the latency"
grep -Eq '^truck/tick +truck/ref +0\.0 dB +-$' "$it_dir/out" ||
	fail "route list shows a latency the local route did not ask for"

# ---- from stage, on truck's behalf: 6 ms. A gain alone leaves it be.
ctl stage route add stage/mic1 truck/in1 --latency-us 6000
ctl stage route add stage/click truck/in2 --latency-us 6000
wait_until 5 targets_are truck 6 6 || fail "the flows' target is not 6 ms: $(rx_flows truck)"
ctl stage route add stage/mic1 truck/in1 --gain 0
ctl stage --json route list truck | tr -d ' \n' |
	grep -q '"source":"stage/mic1","destination":"truck/in1",[^}]*"latency_us":6000' ||
	fail "route list from stage does not show mic1's 6 ms"
targets_are truck 6 6 || fail "a change of gain moved the latency: $(rx_flows truck)"
sleep 1
node_stop truck

# The tone from the settled point to the end: up and down slews, no gap.
# Slewing plays it up to 1000 ppm low (up) and 200 ppm high (down); fitted
# at one frequency, a 10 ms block 1200 ppm off leaves -40.4 dB (2 pi df T /
# sqrt 12), right at the default threshold of -40 dB. A real glitch (a
# click, a sample of 0.05 on this tone) leaves -30 dB, and a dropout moves
# the level: at -36 dB both are still caught, and slewing is not.
stallmon_result
"$WAVCHECK" "$it_dir/truck1.wav" --skip-ms "$t_settled" \
	--channel 1 --freq 440 --level -20 --tol-db 0.1 $gaps_allowed --gap-threshold-db -36 ||
	fail "the tone has a gap across the latency changes"
before=$(lag_ms "$t_before")
after=$(lag_ms "$t_after")
if [ -z "$before" ] || [ -z "$after" ]; then
	fail "no pulse lag measured (before '$before', after '$after')"
fi
# Lags are found within +-500 ms, the pulses 1 s apart: compare modulo a second.
echo "pulse lag behind truck's own: $before ms at 3 ms, $after ms at 8 ms"
awk -v b="$before" -v a="$after" 'BEGIN {
	d = a - b; while (d > 500) d -= 1000; while (d <= -500) d += 1000
	printf "end-to-end delay grew by %.3f ms\n", d
	exit !(d >= 4 && d <= 6)
}' || fail "the delay did not grow by the 5 ms the target did"

# ---- truck restarts: its routes keep their latency, and the new flows start at it.
grep -q '"latency_us": *6000' "$it_dir/truck.state/routes.json" ||
	fail "routes.json lacks the latency: $(cat "$it_dir/truck.state/routes.json")"
truck_conf truck2.wav
node_start truck
wait_until 10 online truck stage || fail "truck does not see stage after its restart"
wait_until 10 rx_over truck 200 || fail "no audio reaches truck after its restart"
wait_until 5 targets_are truck 6 6 || fail "after a restart the target is not 6 ms: $(rx_flows truck)"
ctl truck route list | grep -Eq '^stage/click +truck/in2 +0\.0 dB +6 ms$' ||
	fail "route list after a restart lacks the latency"

# ---- cleared, from stage: each flow goes back to what its other routes ask, then to 3 ms.
ctl stage route add stage/mic1 truck/in1 --latency-us default >"$it_dir/out"
grep -qx 'stage/mic1 -> truck/in1  0.0 dB' "$it_dir/out" ||
	fail "a cleared latency still shows: $(cat "$it_dir/out")"
wait_until 5 targets_are truck 3 6 || fail "clearing mic1's latency: $(rx_flows truck)"
ctl truck route add stage/click truck/in2 --latency-us default
wait_until 5 targets_are truck 3 3 || fail "the flows' target is not back at 3 ms: $(rx_flows truck)"
ctl truck --json route list | tr -d ' \n' | grep -q '"latency_us":[0-9]' &&
	fail "route list still has a latency: $(ctl truck --json route list)"
echo "route latency: 3 -> 8 -> 6 ms (from stage) -> kept over a restart -> 3 ms"
