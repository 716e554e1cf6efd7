#!/usr/bin/env bash
# Three hosts, each with its own avahi-daemon, and no static peers: the nodes
# find each other with mDNS and connect; standard tools see the service with
# its TXT; two nodes with one name are told apart, never merged; a host whose
# avahi-daemon stops and starts again keeps running and is announced again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lab_lib.sh"

lab_up 3
tones="
[input.mics]
type = tone
channels = 2
names = mic1,mic2
frequency = 440,554
"
rec="
[output.rec]
type = wav
path = $it_dir/REC.wav
channels = 1
names = in1
"
lab_node_conf 1 stage "$tones"
lab_node_conf 2 truck "${rec/REC/truck}"
lab_node_conf 3 foh "${rec/REC/foh}"
t0=$(date +%s%N)
lab_node_start stage
lab_node_start truck
lab_node_start foh
for n in stage truck foh; do
	wait_until 20 nodes_online "$n" 3 || fail "$n does not see all three nodes: $(ctl "$n" nodes)"
done
echo "all three nodes see each other $(ms_since "$t0") ms after the first started"
ctl foh nodes

# Visible to standard tools: every node, with its TXT.
browse=$(lab exec "$lab_name" 3 avahi-browse -rpt _aoip._tcp)
for n in stage truck foh; do
	echo "$browse" | grep "^=;eth0;IPv4;$n;_aoip._tcp;" | grep -q '"v=1"' ||
		fail "avahi-browse does not list $n with v=1: $browse"
done
id_stage=$(ctl stage --json status | tr -d ' \n' | grep -o '"id":"[0-9a-f]*"' | cut -d'"' -f4)
echo "$browse" | grep "^=;eth0;IPv4;stage;" | grep -q "\"id=$id_stage\"" ||
	fail "stage's TXT does not carry its id $id_stage"
echo "$browse" | grep "^=;eth0;IPv4;stage;" | grep -q '"sr=48000"' || fail "no sr= in the TXT"
echo "$browse" | grep "^=;eth0;IPv4;stage;" | grep -q '"tx=2"' || fail "no tx=2 in the TXT"

# A second node called stage, on host 2: both are listed, apart, by id.
NODE_NAME=stage NODE_PORT=7401 lab_node_conf 2 stage2 ""
lab_node_start stage2
wait_until 20 nodes_online foh 4 || fail "foh does not see the second stage: $(ctl foh nodes)"
[ "$(ctl foh nodes | grep -c '^stage ')" -eq 2 ] || fail "two nodes called stage are not both listed"
ctl foh nodes
# avahi-browse -p writes a space in a name as \032 and '#' as \035.
wait_until 10 bash -c "'$lab_bin' exec '$lab_name' 3 avahi-browse -pt _aoip._tcp | grep -qE 'stage(\\\\032| )(\\\\035|#)2'" ||
	fail "the second stage was not published under an alternative name"
# Routing by name stays unambiguous for the first one known; the first stage still works.
ctl truck route add stage/mic1 truck/in1 >/dev/null || fail "route from stage refused"
lab_node_stop stage2

# avahi-daemon on host 2 goes away and comes back: truck keeps running, and
# is announced again.
lab avahi "$lab_name" 2 stop
sleep 1
ctl truck status >/dev/null || fail "truck stopped answering without its avahi-daemon"
lab avahi "$lab_name" 2 start
wait_until 15 bash -c "'$lab_bin' exec '$lab_name' 1 avahi-browse -pt _aoip._tcp | grep -q ';truck;'" ||
	fail "truck was not announced again after its avahi-daemon came back"
grep -c "avahi" "$it_dir/truck.log" | grep -qv '^0$' || fail "truck did not log its avahi-daemon's absence"
for n in stage truck foh; do
	wait_until 10 nodes_online "$n" 3 || fail "$n lost sight of the others: $(ctl "$n" nodes)"
done
