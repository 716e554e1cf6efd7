#!/usr/bin/env bash
# One source, several receivers on separate hosts: a channel two nodes want
# goes out once, as one multicast flow both join (IGMP, through a snooping
# switch), instead of once per route; a third receiver joining it disturbs
# nobody; receivers leave the group when their routes go, and the flow is
# re-keyed so that one that left cannot go on listening. Every recording is
# checked for the tone and for continuity through every change. Then one
# source in two formats (issue 8): truck asks for mic2 as L24, foh and mon
# as Opus; it goes out once per format, the Opus one as one multicast flow
# both join (encoded once), and each arrives as it should.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lab_lib.sh"

lab_up 4
lab_node_conf 1 stage "
[input.mics]
type = tone
channels = 2
names = mic1,mic2
frequency = 1000,1500
level_dbfs = -20
"
for i in 2 3 4; do
	name=$(echo x truck foh mon | cut -d' ' -f"$i")
	lab_node_conf "$i" "$name" "
[output.rec]
type = wav
path = $it_dir/$name.wav
channels = 2
names = in1,in2
"
done
for n in stage truck foh mon; do
	lab_node_start "$n"
done
for n in truck foh mon; do
	wait_until 20 online "$n" stage || fail "$n does not see stage"
done
tx_flows() { ctl stage --json stats | tr -d ' \n' | grep -o '"direction":"tx"[^}]*'; }
# mcast_flow N: one live tx flow, multicast, joined by N receivers.
mcast_flow() {
	local f
	f=$(tx_flows)
	[ "$(echo "$f" | grep -c .)" -eq 1 ] && echo "$f" | grep -q '"mode":"multicast"' &&
		echo "$f" | grep -q "\"receivers\":$1"
}

ctl truck route add stage/mic1 truck/in1
t_truck=$(date +%s%N)
sleep 1
tx_flows | grep -q '"mode":"unicast"' || fail "one receiver should get a unicast flow: $(tx_flows)"

# A second receiver of the same channel: one multicast flow for both.
ctl foh route add stage/mic1 foh/in1
t_foh=$(date +%s%N)
wait_until 10 mcast_flow 2 || fail "no multicast flow for two receivers: $(tx_flows)"
ctl stage stats
group=$(tx_flows | grep -o '"peer":"multicast:[0-9.]*' | cut -d: -f3)
[ -n "$group" ] || fail "no group in stats"
case $group in 239.*) ;; *) fail "group $group is not administratively scoped" ;; esac
# The switch forwards the group to the two hosts that joined it, no other.
members=$(lab switch "$lab_name" bridge mdb show | grep -c "grp $group")
[ "$members" -eq 2 ] || fail "the switch has $members members of $group, not 2: $(lab switch "$lab_name" bridge mdb show)"

# A third receiver joins the existing flow: nothing changes for the first two.
sleep 1
t_join=$(date +%s%N)
ctl mon route add stage/mic1 mon/in1
wait_until 10 mcast_flow 3 || fail "mon did not join the multicast flow: $(tx_flows)"
echo "$(tx_flows)" | grep -q "\"peer\":\"multicast:$group:" || fail "joining changed the group"
sleep 2

# Routes go: receivers leave the group, and the flow gets a key the one
# that left is not given (it still has the old one).
key_id() { tx_flows | grep -o '"key_id":[0-9]*' | head -n 1 | cut -d: -f2; }
key_before=$(key_id)
[ -n "$key_before" ] || fail "the multicast flow is not sealed: $(tx_flows)"
t_leave=$(date +%s%N)
ctl mon route del stage/mic1 mon/in1
wait_until 10 mcast_flow 2 || fail "mon did not leave: $(tx_flows)"
wait_until 5 eval '[ "$(key_id)" != "$key_before" ]' ||
	fail "the flow kept its key after mon left (key $key_before)"
echo "key $key_before, then $(key_id) after mon left"
wait_until 15 bash -c "[ \$('$lab_bin' switch '$lab_name' bridge mdb show | grep -c 'grp $group') -eq 2 ]" ||
	fail "mon's host is still a member of $group: $(lab switch "$lab_name" bridge mdb show)"
sleep 1
t_end=$(date +%s%N)

# mic2 in two formats: L24 to truck alone (unicast), Opus to foh and mon
# (one multicast flow, one encoder).
ctl truck route add stage/mic2 truck/in2
ctl foh route add stage/mic2 foh/in2 --encoding opus --bitrate 96 --frame-ms 5
ctl mon route add stage/mic2 mon/in2 --encoding opus --bitrate 96 --frame-ms 5
opus_shared() {
	tx_flows | grep '"encoding":"opus"' | grep -q '"mode":"multicast".*"receivers":2' &&
		[ "$(tx_flows | grep -c '"encoding":"opus"')" -eq 1 ] &&
		tx_flows | grep '"channels":\["stage/mic2"\],"encoding":"L24"' | grep -q '"mode":"unicast"'
}
wait_until 10 opus_shared || fail "mic2 is not one L24 flow to truck and one Opus flow to foh and mon: $(tx_flows)"
ctl stage stats
sleep 2
t_mixed=$(date +%s%N)
sleep 3
t_mixed_end=$(date +%s%N)
ctl truck --json stats | tr -d ' \n' | grep -oE '"(files|late_wakeups|max_late_us|max_cycle_us)":[^]]*?[,}]' || true
for n in truck foh mon; do
	lab_node_stop "$n"
done

# truck heard the channel unicast, then through the switch to multicast,
# through mon's join and leave: never a glitch.
stallmon_result
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms $(($(at_ms truck "$t_truck") + 500)) \
	--until-ms $(($(at_ms truck "$t_end") - 500)) \
	--channel 1 --freq 1000 --level -20 $gaps_allowed
"$WAVCHECK" "$it_dir/foh.wav" --skip-ms $(($(at_ms foh "$t_foh") + 500)) \
	--until-ms $(($(at_ms foh "$t_end") - 500)) \
	--channel 1 --freq 1000 --level -20 $gaps_allowed
"$WAVCHECK" "$it_dir/mon.wav" --skip-ms $(($(at_ms mon "$t_join") + 500)) \
	--until-ms $(($(at_ms mon "$t_leave") - 100)) \
	--channel 1 --freq 1000 --level -20 $gaps_allowed
# mic2 as L24 in truck, exact; as Opus in foh and mon: level within what the
# codec keeps of a band; a gap judged at -25 dB, above what Opus at 96 kb/s
# leaves on a tone at -20 dBFS in 5 ms frames (-39 dB measured; at 64 kb/s
# it was -20 dB, hence the bitrate), where a gap or a concealed frame reads
# near 0 dB.
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$(at_ms truck "$t_mixed")" \
	--until-ms "$(at_ms truck "$t_mixed_end")" \
	--channel 2 --freq 1500 --level -20 $gaps_allowed
for n in foh mon; do
	"$WAVCHECK" "$it_dir/$n.wav" --skip-ms "$(at_ms "$n" "$t_mixed")" \
		--until-ms "$(at_ms "$n" "$t_mixed_end")" \
		--channel 2 --freq 1500 --level -20 --tol-db 0.5 $gaps_allowed --gap-threshold-db -25
done
