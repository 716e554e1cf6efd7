#!/usr/bin/env bash
# Sound I/O through JACK (issue 9), with no sound card: a JACK server with
# its dummy driver (48 kHz, 256-frame periods, real-time), and the studio's
# other JACK clients played by aoip-jackclient (tests/support/jackclient.c;
# GStreamer's jackaudiosink/jackaudiosrc worked too, but missed cycles now
# and then, which made xruns this test could not tell from aoipd's). A
# 997 Hz tone at -20 dBFS plays into JACK (client "box"); node stage, a
# JACK client whose media clock is JACK's, takes it on its jack input
# (connect = box:out) as stage/mic1. truck, on the system clock, records
# stage/mic1 from the network to a WAV file; mon, another JACK node, plays
# it out on its jack output (connect = rec:in) into a recorder. Both
# recordings carry the tone at its level with no gap. Beside it, client
# "loop" sends a pulse a second into stage's second input, and mon plays
# it back on its second output into loop's input: the lag between what
# loop played and what came back is the round trip JACK -> node -> network
# -> node -> JACK, printed. Then JACK's buffer size changes under the
# nodes (jack_bufsize 128, 512, 256) and truck hears the tone at each. Then box restarts: stage connects its port
# again when it comes back, and truck hears the tone again. Then the JACK
# server itself restarts: stage and mon register their ports again by
# themselves, and truck hears the tone again.
# Stats show the JACK
# client and its buffer size, and no xrun once the clocks are locked (a
# client joining the graph may cost one before), but where the machine
# itself stopped (lib.sh, stallmon_start).
. "$(dirname "$0")/lib.sh"

command -v jackd >/dev/null || skip "jackd is not installed"
: "${JACKCLIENT:?}"

# A server of the tests' own (JACK_DEFAULT_SERVER names it for every client).
export JACK_DEFAULT_SERVER=aoip-test JACK_NO_AUDIO_RESERVATION=1
timeout 5 jack_lsp >/dev/null 2>&1 && skip "a JACK server named $JACK_DEFAULT_SERVER is running already"
it_step "starting jackd"
jackd_start aoip-test
jackd=$jackd_pid
it_step "jackd is up; starting the test's JACK clients"

# A JACK node sends a period (256 frames) of packets at once: a receive
# latency of a few periods takes the bursts.
export NODE_LATENCY_US=15000
"$JACKCLIENT" box --play 997,-20 >"$it_dir/box.log" 2>&1 &
box=$!
it_pids+=("$box")
"$JACKCLIENT" loop --pulses -6 --record "$it_dir/loop.wav" >"$it_dir/loop.log" 2>&1 &
loop=$!
it_pids+=("$loop")
t_rec=$(date +%s%N)
"$JACKCLIENT" rec --record "$it_dir/rec.wav" >"$it_dir/rec.log" 2>&1 &
rec=$!
it_pids+=("$rec")
wait_until 10 sh -c 'timeout 3 jack_lsp | grep -q "^box:out$" && timeout 3 jack_lsp | grep -q "^rec:in$" &&
	timeout 3 jack_lsp | grep -q "^loop:in$"' ||
	fail "the test's JACK clients did not come up"

it_step "starting stage, mon and truck"
node_conf stage "
[input.box]
type = jack
channels = 2
names = mic1,mic2
connect = box:out,loop:out
"
node_start stage
node_conf mon "
$(peer_stage)

[output.phones]
type = jack
channels = 2
names = phones1,phones2
connect = rec:in,loop:in
"
node_start mon
truck_conf 1
t0=$(date +%s%N)
node_start truck
wait_until 10 online truck stage || fail "truck does not see stage"
wait_until 10 online mon stage || fail "mon does not see stage"
timeout 3 jack_lsp | grep -q "^aoip-stage:mic1$" || fail "stage has no JACK port mic1"
timeout 3 jack_lsp | grep -q "^aoip-mon:phones1$" || fail "mon has no JACK port phones1"

ctl truck route add stage/mic1 truck/ch1
ctl mon route add stage/mic1 mon/phones1
ctl mon route add stage/mic2 mon/phones2
# A JACK node's bursts put a receiver's first reading of its level off by
# up to a period, which clock recovery slews back at its slow rate (200 ppm,
# a bend wavcheck does not count as a glitch): steady is locked or slewing.
wait_until 20 clocks_locked truck 'locked\|slewing' || fail "truck's clock recovery does not lock"
wait_until 20 clocks_locked mon 'locked\|slewing' || fail "mon's clock recovery does not lock"
t_locked=$(ms_since "$t0")
xruns() { ctl "$1" --json stats | tr -d ' \n' | grep -o '"xruns":[0-9]*' | head -n 1 | cut -d: -f2; }
# 6 s measured, up to three times: a window in which JACK itself had an
# xrun (the server lost cycles when this VM's host stopped the machine, and
# the receivers' buffers stepped with them) is measured again.
for attempt in 1 2 3; do
	x0=$(($(xruns stage) + $(xruns mon)))
	sleep 6
	x1=$(($(xruns stage) + $(xruns mon)))
	t_measured=$(ms_since "$t0")
	[ "$x1" -eq "$x0" ] && break
	it_step "window $attempt had $((x1 - x0)) JACK xruns: measuring again"
	t_locked=$t_measured
done
ctl stage --json stats | tr -d ' \n' >"$it_dir/stage.json"
ctl stage stats | grep '^jack:'

# JACK's buffer size changes under the running nodes: half a period (stage
# gathers two cycles a period), two periods (two periods a cycle), and
# back. The tone goes on at truck, with no cycle played silent.
it_step "JACK's buffer size: 128, 512, then 256 again"
sizes=(128 512 256)
t_size=()
for size in "${sizes[@]}"; do
	timeout 5 jack_bufsize "$size" >/dev/null || fail "jack_bufsize $size failed"
	wait_until 5 sh -c "'$AOIPCTL' -s '$it_dir/stage.sock' --json stats | tr -d ' \n' |
		grep -q '\"buffer_frames\":$size,'" || fail "stage did not see JACK's buffer size $size"
	t_size+=("$(ms_since "$t0")")
	sleep 2
done
ctl stage --json stats | tr -d ' \n' >"$it_dir/stage-sizes.json"
ctl mon --json stats | tr -d ' \n' >"$it_dir/mon-sizes.json"

# box goes away and comes back: stage connects to it again by itself.
it_step "box goes away and comes back"
stop_helper "$box"
sleep 0.5
"$JACKCLIENT" box --play 997,-20 >>"$it_dir/box.log" 2>&1 &
box=$!
it_pids+=("$box")
wait_until 10 sh -c 'timeout 3 jack_lsp -c | grep -A1 "^box:out$" | grep -q "aoip-stage:mic1"' ||
	fail "stage did not connect to box:out again"
t_back=$(ms_since "$t0")
sleep 2
ctl truck stats
stop_helper "$rec" "$loop"

# The server goes away and comes back; box does not outlive it.
it_step "jackd goes away and comes back"
stop_helper "$jackd" "$box"
sleep 1
jackd_start aoip-test
jackd=$jackd_pid
wait_until 10 sh -c 'timeout 3 jack_lsp | grep -q "^aoip-stage:mic1$" && timeout 3 jack_lsp | grep -q "^aoip-mon:phones1$"' ||
	fail "stage and mon did not come back to the JACK server"
"$JACKCLIENT" box --play 997,-20 >>"$it_dir/box.log" 2>&1 &
box=$!
it_pids+=("$box")
wait_until 10 sh -c 'timeout 3 jack_lsp -c | grep -A1 "^box:out$" | grep -q "aoip-stage:mic1"' ||
	fail "stage did not connect to box:out on the new server"
t_back2=$(ms_since "$t0")
sleep 3
ctl stage stats | grep '^jack:'
node_stop truck
node_stop mon
node_stop stage

grep -q '"jack":{"client":"aoip-stage","buffer_frames":256,"rate":48000,"xruns":' "$it_dir/stage.json" ||
	fail "stage's stats do not show its JACK client at 256 frames: $(cat "$it_dir/stage.json")"
stallmon_result
echo "JACK xruns of stage and mon in the measured 6 s: $((x1 - x0))"
[ "$x1" -eq "$x0" ] || [ "$stalls" -gt 0 ] ||
	fail "$((x1 - x0)) JACK xruns with the clocks locked, and no stall of the machine to explain them"
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$t_locked" --until-ms "$t_measured" \
	--channel 1 --freq 997 --level -20 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 ||
	fail "truck's recording of the JACK input is not the tone"
# rec's recording began before t0, when the recorder came up.
# (its file starts when it had started, a little after t_rec: the end of the
# window keeps half a second from box's restart).
rec_off=$(((t0 - t_rec) / 1000000))
"$WAVCHECK" "$it_dir/rec.wav" --skip-ms $((rec_off + t_locked)) \
	--until-ms $((rec_off + t_measured - 500)) \
	--channel 1 --freq 997 --level -20 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 ||
	fail "what mon played into JACK is not the tone"
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms $((t_back + 500)) --until-ms $((t_back + 1500)) \
	--channel 1 --freq 997 --level -20 --tol-db 0.1 ||
	fail "truck does not hear box after it came back"
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms $((t_back2 + 1500)) \
	--channel 1 --freq 997 --level -20 --tol-db 0.1 ||
	fail "truck does not hear box after the JACK server came back"
for i in 0 1 2; do
	"$WAVCHECK" "$it_dir/truck.wav" --skip-ms $((t_size[i] + 700)) --until-ms $((t_size[i] + 1900)) \
		--channel 1 --freq 997 --level -20 --tol-db 0.1 ||
		fail "truck does not hear the tone with JACK's buffer at ${sizes[i]} frames"
done
for f in stage-sizes mon-sizes; do
	grep -q '"misfit_periods":0,' "$it_dir/$f.json" ||
		fail "${f%-sizes} played cycles silent at other buffer sizes: $(cat "$it_dir/$f.json")"
done
# The round trip, from the pulses loop played and got back.
lag=$("$WAVCHECK" "$it_dir/loop.wav" --skip-ms 2000 --until-ms $((rec_off + t_measured)) --delay 1,2 --tol-ms 100 --expect-ms 40 \
	--json | tr -d ' \n' | grep -o '"lag_ms":[-0-9.e]*' | cut -d: -f2 | head -n 1)
[ -n "$lag" ] || fail "no round trip measured from loop's recording"
echo "round trip through JACK, stage, the network (15 ms receive latency) and mon: $lag ms" \
	"(JACK periods of 256 frames at 48 kHz)"
