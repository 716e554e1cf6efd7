#!/usr/bin/env bash
# Opus beside L24 (issue 8): truck hears stage/low as L24 and stage/high as
# Opus at the same time, asked for per route (route add --encoding opus).
# Both tones arrive at the right frequency and level; the Opus one with no
# gap, judged at the level of what Opus' coding leaves on a tone; stats
# show one flow of each encoding, and no frame concealed on loopback.
# Both nodes run at 96 kHz: the Opus flow is converted to 48 kHz before
# stage encodes it and back after truck decodes it, the L24 flow is not
# (48 kHz Opus between nodes: lab_opus, lab_multicast).
. "$(dirname "$0")/lib.sh"

export NODE_LATENCY_US=5000
export STAGE_EXTRA="sample_rate = 96000" TRUCK_EXTRA="sample_rate = 96000"
stage_tones 997 3000
truck_records
ctl truck route add stage/high truck/ch2 --encoding opus --bitrate 96 --frame-ms 5 ||
	fail "route add --encoding opus refused"
wait_until 20 clocks_locked truck || fail "truck's clock recovery does not lock"
t_locked=$(ms_since "$t0")
sleep 6
ctl truck stats
json=$(ctl truck --json stats | tr -d ' \n')
ctl truck route list
node_stop truck
rate=$("$WAVCHECK" "$it_dir/truck.wav" --print --json | tr -d ' \n' | grep -o '"rate":[0-9]*' | cut -d: -f2)
[ "$rate" = 96000 ] || fail "truck recorded at ${rate:-?} Hz, not 96000"

echo "$json" | grep -q '"direction":"rx","peer":"stage","channels":\["stage/high"\],"encoding":"opus"' ||
	fail "no Opus rx flow carrying stage/high"
echo "$json" | grep -q '"channels":\["stage/low"\],"encoding":"L24"' ||
	fail "no L24 rx flow carrying stage/low"
stallmon_result
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$t_locked" \
	--channel 1 --freq 997 --level -6 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 \
	--channel 2 --freq 3000 --level -6 --tol-db 0.5 $gaps_allowed --gap-threshold-db -30 ||
	fail "the recording is not what was sent"
