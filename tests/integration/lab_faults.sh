#!/usr/bin/env bash
# Nodes that go away and come back, on separate hosts found by mDNS: a node
# that stops, a host whose link is cut, a node that comes back on another
# address. Each time the others mark it lost, its destinations and the routes
# from it go silent, and everything resumes by itself when it returns.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lab_lib.sh"

lab_up 3
stage_body="
[input.mics]
type = tone
channels = 1
names = mic1
frequency = 750
level_dbfs = -20
"
lab_node_conf 1 stage "$stage_body"
lab_node_conf 2 truck "
[output.rec]
type = wav
path = $it_dir/truck.wav
channels = 1
names = in1
"
lab_node_start stage
lab_node_start truck
wait_until 20 online truck stage || fail "truck does not see stage"
ctl truck route add stage/mic1 truck/in1
t_routed=$(now_ms truck)
wait_until 10 rx_over truck 500 || fail "no audio reaches truck"
sleep 1

# 1. stage stops and starts again (same host, same state: same node).
t_down1=$(now_ms truck)
lab_node_stop stage
wait_until 10 lost truck stage || fail "truck does not mark stage lost"
echo "stopped node lost after $(($(now_ms truck) - t_down1)) ms"
sleep 1
t_up1=$(now_ms truck)
lab_node_start stage
before=$(rx_packets truck)
wait_until 20 rx_over truck "$before" || fail "flows did not resume after stage came back"
t_res1=$(now_ms truck)
echo "flows resumed $((t_res1 - t_up1)) ms after stage was started again"
sleep 1.5

# 2. stage's link is cut: lost after the peer timeout, back when the link is.
t_down2=$(now_ms truck)
lab link "$lab_name" 1 down
wait_until 15 lost truck stage || fail "truck does not mark stage lost when its link is cut"
echo "cut-off node lost after $(($(now_ms truck) - t_down2)) ms"
t_up2=$(now_ms truck)
lab link "$lab_name" 1 up
wait_until 20 online truck stage || fail "stage did not come back online after its link"
before=$(rx_packets truck)
wait_until 20 rx_over truck "$before" || fail "flows did not resume after the link came back"
t_res2=$(now_ms truck)
echo "flows resumed $((t_res2 - t_up2)) ms after the link came back"
sleep 1.5

# 3. stage "reboots" on another host: a new address, the same node id.
t_down3=$(now_ms truck)
lab_node_stop stage
wait_until 10 lost truck stage || fail "truck does not mark stage lost"
host_stage=3
t_up3=$(now_ms truck)
lab_node_start stage
wait_until 20 online truck stage || fail "stage on its new address was not found"
ctl truck nodes | grep -E '^stage ' | grep -q "$(lab addr "$lab_name" 3)" ||
	fail "truck does not show stage's new address: $(ctl truck nodes)"
before=$(rx_packets truck)
wait_until 20 rx_over truck "$before" || fail "flows did not resume from the new address"
t_res3=$(now_ms truck)
echo "flows resumed $((t_res3 - t_up3)) ms after stage started on its new address"
sleep 1.5
ctl truck route list | grep -q 'stage/mic1' || fail "the route was lost"
ctl truck stats
t_end=$(now_ms truck)
lab_node_stop truck

w() { "$WAVCHECK" "$it_dir/truck.wav" "$@"; }
# Tone before each outage, silence during it (a cut link plays out the buffer,
# then nothing), tone after each return.
stallmon_result
w --skip-ms $((t_routed + 500)) --until-ms $((t_down1 - 200)) --channel 1 --freq 750 --level -20 $gaps_allowed
w --skip-ms $((t_down1 + 300)) --until-ms $((t_up1 - 100)) --channel 1 --silent --below -120
w --skip-ms $((t_res1 + 500)) --until-ms $((t_down2 - 200)) --channel 1 --freq 750 --level -20 $gaps_allowed
w --skip-ms $((t_down2 + 300)) --until-ms $((t_up2 - 100)) --channel 1 --silent --below -120
w --skip-ms $((t_res2 + 500)) --until-ms $((t_down3 - 200)) --channel 1 --freq 750 --level -20 $gaps_allowed
w --skip-ms $((t_res3 + 500)) --until-ms $((t_end - 300)) --channel 1 --freq 750 --level -20 $gaps_allowed
