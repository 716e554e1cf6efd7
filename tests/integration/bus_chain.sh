#!/usr/bin/env bash
# Three nodes: stage's mic goes into a bus on truck, and truck's bus goes on
# to front of house, each hop at its own gain (stage -> truck bus -> foh).
# foh knows only truck; it learns stage from truck. A route that would close
# a loop through buses is refused, between nodes and within one.
. "$(dirname "$0")/lib.sh"

node_conf stage "
[input.mics]
type = tone
channels = 1
names = mic1
frequency = 997
level_dbfs = -20

[bus.fx]
channels = 1
names = fx
"
node_start stage

node_conf truck "
[peer.stage]
address = 127.0.0.1:$(node_port stage)

[bus.mix]
channels = 1
names = mix

[bus.sub]
channels = 2
names = subA,subB
"
node_start truck

node_conf foh "
[peer.truck]
address = 127.0.0.1:$(node_port truck)

[output.pa]
type = wav
path = $it_dir/foh.wav
channels = 1
names = left
"
t0=$(date +%s%N)
node_start foh
wait_until 10 online foh truck || fail "foh does not see truck"
wait_until 10 online foh stage || fail "foh does not learn of stage from truck"

ctl foh route add stage/mic1 truck/mix --gain -6
ctl foh route add truck/mix foh/left --gain -3
t_routed=$((($(date +%s%N) - t0) / 1000000))

# Loops: truck/mix feeds stage/fx; stage/fx may not feed truck/mix back.
ctl truck route add truck/mix stage/fx
if ctl truck route add stage/fx truck/mix 2>"$it_dir/err"; then
	fail "a loop between nodes was accepted"
else
	[ $? -eq 1 ] || fail "a refused loop must exit 1"
fi
grep -q "loop" "$it_dir/err" || fail "the refusal does not say why: $(cat "$it_dir/err")"
ctl truck route add truck/subA truck/subB
ctl truck route add truck/subB truck/subA 2>/dev/null && fail "a loop within a node was accepted"
ctl truck route list truck | grep -q 'truck/subB.*truck/subA' && fail "the refused route is listed"

ctl foh matrix
sleep 3
ctl foh stats
node_stop foh
# -20 dBFS, -6 dB into the bus, -3 dB from it: -29 dBFS.
stallmon_result
"$WAVCHECK" "$it_dir/foh.wav" --skip-ms $((t_routed + 500)) \
	--channel 1 --freq 997 --level -29 --tol-db 0.1 $gaps_allowed
