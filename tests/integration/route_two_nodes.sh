#!/usr/bin/env bash
# Two nodes on loopback: stage's tones reach truck's recorder through the
# network, each at its gain, and two routes into one destination sum.
#
#   stage/mic1 (440 Hz, -20 dBFS) -> truck/in1 at -6 dB      => 440 Hz at -26 dBFS
#   stage/mic2 (554 Hz, -20 dBFS) -> truck/in2 at 0 dB       => 554 Hz at -20 dBFS
#   stage/mic1                    -> truck/in2 at -12 dB     => plus 440 Hz at -32 dBFS
. "$(dirname "$0")/lib.sh"

node_conf stage "
[input.mics]
type = tone
channels = 2
names = mic1,mic2
frequency = 440,554
level_dbfs = -20
"
node_start stage

node_conf truck "
[peer.stage]
address = 127.0.0.1:$(node_port stage)

[output.rec]
type = wav
path = $it_dir/truck.wav
channels = 2
names = in1,in2
"
t_start=$(date +%s%N)
node_start truck
wait_until 10 online truck stage || fail "truck does not see stage online"
wait_until 10 online stage truck || fail "stage does not see truck online"

ctl truck route add stage/mic1 truck/in1 --gain -6
ctl truck route add stage/mic2 truck/in2
# From the other node: the request travels to truck, which owns the destination.
ctl stage route add stage/mic1 truck/in2 --gain -12
t_routed=$(date +%s%N)

ctl truck route list truck | grep -q 'stage/mic1.*truck/in2' || fail "route list lacks a route"
ctl stage --json route list truck | grep -q '"gain_db": *-12' || fail "route list from stage"
sleep 4
ctl truck stats
ctl truck --json stats >"$it_dir/stats.json"
node_stop truck

# From half a second after the last route (ramps done, flows up) to the end.
skip=$(((t_routed - t_start) / 1000000 + 500))
stallmon_result
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$skip" \
	--channel 1 --freq 440 --level -26 --tol-db 0.1 $gaps_allowed \
	--channel 2 --freq 554 --level -20 --freq 440 --level -32 --tol-db 0.1 $gaps_allowed
