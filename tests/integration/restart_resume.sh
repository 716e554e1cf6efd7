#!/usr/bin/env bash
# A source node that stops leaves its routes' destinations silent (no stale
# period looping, no noise), and the flows come back by themselves when it
# returns. A destination node that restarts keeps its routes (state_dir).
. "$(dirname "$0")/lib.sh"


stage_conf() {
	node_conf stage "
[input.mics]
type = tone
channels = 1
names = mic1
frequency = 1000
level_dbfs = -20
"
}
truck_conf() {
	node_conf truck "
[peer.stage]
address = 127.0.0.1:$stage_port

[output.rec]
type = wav
path = $it_dir/$1
channels = 1
names = in1
"
}

stage_conf
node_start stage
stage_port=$(node_port stage)
truck_conf truck1.wav
t0=$(date +%s%N)
node_start truck
wait_until 10 online truck stage || fail "truck does not see stage"
ctl truck route add stage/mic1 truck/in1
t_routed=$(ms_since "$t0")
sleep 2

t_down=$(ms_since "$t0")
node_stop stage
wait_until 10 lost truck stage || fail "truck does not notice stage is gone"
ctl truck nodes | grep -E '^\s*stage\s+lost' >/dev/null || fail "stage is not shown lost"
sleep 1.5

# Same port and state: the node that comes back is the same node.
t_up=$(ms_since "$t0")
NODE_PORT=$stage_port stage_conf
NODE_PORT=$stage_port node_start stage
wait_until 15 online truck stage || fail "truck does not see stage again"
wait_until 10 rx_over truck "$(rx_packets truck)" || fail "no audio from stage after it came back"
t_resumed=$(ms_since "$t0")
echo "stage back after $((t_resumed - t_up)) ms from its restart"
sleep 2
t_end=$(ms_since "$t0")
node_stop truck

# The wav file starts a little after t0: keep 300 ms clear of every edge.
stallmon_result
"$WAVCHECK" "$it_dir/truck1.wav" --skip-ms $((t_routed + 500)) --until-ms $((t_down - 300)) \
	--channel 1 --freq 1000 --level -20 $gaps_allowed
"$WAVCHECK" "$it_dir/truck1.wav" --skip-ms $((t_down + 300)) --until-ms $((t_up - 100)) \
	--channel 1 --silent --below -120
"$WAVCHECK" "$it_dir/truck1.wav" --skip-ms $((t_resumed + 500)) --until-ms $((t_end - 300)) \
	--channel 1 --freq 1000 --level -20 $gaps_allowed

# The destination node restarts: its route is still there and carries audio again.
truck_conf truck2.wav
t0=$(date +%s%N)
node_start truck
ctl truck route list | grep -q 'stage/mic1.*truck/in1' || fail "truck forgot its route"
wait_until 10 online truck stage || fail "truck does not see stage after its restart"
t_online=$(ms_since "$t0")
sleep 2.5
node_stop truck
"$WAVCHECK" "$it_dir/truck2.wav" --skip-ms $((t_online + 700)) --channel 1 --freq 1000 --level -20 \
	$gaps_allowed
