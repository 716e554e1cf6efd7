#!/usr/bin/env bash
# Only members of the network route, listen or inject.
#
#   stage (member)  --sealed L24-->  truck (member; [trust] lists stage only)
#   mallory: another network's secret; guest: a member truck does not trust
#   ostage, otruck: security = open, the plain RTP of AES67 equipment
#
# mallory learns no channel, changes no route and receives nothing, and
# stage logs and counts the attempt; truck refuses guest; an attacker on
# the wire captures truck's sealed flows, finds no PCM of the tone in them,
# replays them and sprays forgeries at truck, and truck's recording does
# not change by a sample while it counts what it dropped. The open pair
# shows the capture would have found the tone (the detector works), and a
# sealed node refuses an open node's plain flow. Last, the control socket
# lets in its owner and group only, and a key file others can read stops
# the node from starting.
. "$(dirname "$0")/lib.sh"

: "${ATTACK:?}"
# 20 ms: six daemons share two cores here, and this test is about who gets
# in, not about how low the latency goes (latency.sh is).
export NODE_LATENCY_US=20000

json_str() { tr -d '\n' | grep -o "\"$1\": *\"[^\"]*\"" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/'; }
# rx_sum NODE FIELD: FIELD summed over NODE's rx flows.
rx_sum() {
	ctl "$1" --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*' |
		grep -o "\"$2\":[0-9]*" | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'
}
security_num() { ctl "$1" --json stats | tr -d ' \n' | grep -o "\"$2\":[0-9]*" | cut -d: -f2; }

stage_tones 997 3000 "
[output.sink]
type = null
channels = 1
"
stage_port=$(node_port stage)
stage_id=$(ctl stage --json status | json_str id)
[ ${#stage_id} -eq 16 ] || fail "no node id in stage's status"
truck_records "
[trust]
stage = $stage_id
"
truck_port=$(node_port truck)
wait_until 10 rx_over truck 500 || fail "no audio reaches truck"
# The attack comes once truck's clock recovery holds stage's clock: before
# that the tones slew, and a fit to one frequency would read that as damage.
wait_until 20 clocks_locked truck || fail "truck's clock recovery does not lock"

# mallory holds another network's secret and knows where both nodes are.
(umask 077 && "$AOIPCTL" keygen >"$it_dir/other.secret")
NODE_SECRET=$it_dir/other.secret node_conf mallory "
[peer.stage]
address = 127.0.0.1:$stage_port

[peer.truck]
address = 127.0.0.1:$truck_port

[output.rec]
type = wav
path = $it_dir/mallory.wav
channels = 2
"
node_start mallory
# A member truck has not listed: its secret is right, its id is not trusted.
node_conf guest "
[peer.truck]
address = 127.0.0.1:$truck_port
"
node_start guest
wait_until 10 grep -q "does not hold this network's secret" "$it_dir/stage.log" ||
	fail "stage did not log mallory's attempt"
wait_until 10 grep -q "not in \[trust\]" "$it_dir/truck.log" || fail "truck did not refuse guest"
sleep 1
ctl mallory nodes
if online mallory stage || online mallory truck || online guest truck; then
	fail "a node without the secret, or untrusted, got in"
fi
if ctl mallory channels stage >"$it_dir/mallory-channels.txt" 2>&1; then
	fail "mallory listed stage's channels: $(cat "$it_dir/mallory-channels.txt")"
fi
if ctl mallory route add stage/low mallory/ch1 2>/dev/null; then
	fail "mallory added a route from stage"
fi
if ctl mallory route add stage/low truck/ch1 2>/dev/null; then
	fail "mallory changed a route of truck"
fi
[ "$(rx_sum mallory packets)" -eq 0 ] || fail "mallory receives media"
refused=$(security_num stage peer_auth_failures)
[ "${refused:-0}" -ge 1 ] || fail "stage counted no refused connection"
grep "does not hold" "$it_dir/stage.log" | head -n 1
grep "not in \[trust\]" "$it_dir/truck.log" | head -n 1
echo "mallory and guest stay out; stage refused $refused connections"

# The wire: 2 s of what stage sends truck.
truck_rtp=$(ctl truck --json status | json_num rtp_port)
rc=0
"$ATTACK" capture --port "$truck_rtp" --seconds 2 --out "$it_dir/sealed.cap" || rc=$?
[ "$rc" -ne 77 ] || skip "no raw socket on loopback here: the attacker cannot capture"
[ "$rc" -eq 0 ] || fail "capture failed"
rc=0
"$ATTACK" plaintext --in "$it_dir/sealed.cap" --freq 997 || rc=$?
[ "$rc" -eq 0 ] || fail "the sealed flows carry the tone in the clear"

# Replays and forgeries, while truck records.
auth0=$(rx_sum truck auth_failures)
t_attack=$(ms_since "$t0")
"$ATTACK" replay --in "$it_dir/sealed.cap" --to "127.0.0.1:$truck_rtp" --times 2 --gap-us 200
"$ATTACK" forge --to "127.0.0.1:$truck_rtp" --like "$it_dir/sealed.cap" --count 3000 --seed 7
sleep 2
t_attack_end=$(ms_since "$t0")
stallmon_result
auth1=$(rx_sum truck auth_failures)
replays=$(rx_sum truck replays)
ctl truck stats
[ "$auth1" -gt "$auth0" ] || fail "forgeries did not raise auth_failures"
[ "$replays" -gt 0 ] || fail "replayed packets were not counted"
late=$(rx_sum truck late)
lost=$(rx_sum truck lost)

# RTCP is sealed too: a capture of stage's reports to truck, replayed from
# elsewhere, is refused; truck goes on taking stage's reports (it knows the
# flow's latency from them).
truck_rtcp=$(ctl truck --json status | json_num rtcp_port)
"$ATTACK" capture --port "$truck_rtcp" --seconds 3 --out "$it_dir/rtcp.cap"
strays0=$(security_num truck rtcp_strays)
"$ATTACK" replay --in "$it_dir/rtcp.cap" --to "127.0.0.1:$truck_rtcp" --times 3
sleep 1
strays1=$(security_num truck rtcp_strays)
[ "$strays1" -gt "$strays0" ] || fail "replayed RTCP was not refused"
ctl truck --json stats | tr -d ' \n' | grep -q '"latency_ms":[0-9]' ||
	fail "truck has no latency from stage's sealed RTCP"

# The open pair: plain RTP, which a capture reads and a sealed node refuses.
NODE_EXTRA="security = open" node_conf ostage "
[input.tone]
type = tone
channels = 1
names = tone
frequency = 997
level_dbfs = -6

[peer.stage]
address = 127.0.0.1:$stage_port
"
node_start ostage
NODE_EXTRA="security = open" node_conf otruck "
[peer.ostage]
address = 127.0.0.1:$(node_port ostage)

[output.rec]
type = null
channels = 1
"
node_start otruck
wait_until 10 online otruck ostage || fail "otruck does not see ostage"
wait_until 10 online stage ostage || fail "stage does not see ostage"
ctl otruck route add ostage/tone otruck/ch1
ctl stage route add ostage/tone stage/ch1
wait_until 10 rx_over otruck 200 || fail "no audio reaches otruck"
wait_until 10 eval '[ "$(security_num stage plain_flows_refused)" -ge 1 ]' ||
	fail "stage did not refuse ostage's plain flow"
[ "$(rx_sum stage packets)" -eq 0 ] || fail "stage plays plain media"
otruck_rtp=$(ctl otruck --json status | json_num rtp_port)
"$ATTACK" capture --port "$otruck_rtp" --seconds 1 --out "$it_dir/open.cap"
rc=0
"$ATTACK" plaintext --in "$it_dir/open.cap" --freq 997 || rc=$?
[ "$rc" -eq 1 ] || fail "the detector did not find the tone in plain RTP: it proves nothing"
echo "plain RTP shows the tone; sealed flows do not; stage refused the plain flow"

node_stop truck
# The tones, unbroken, through the replays and the spray (but where the
# machine itself stopped: lib.sh, stallmon_start). A forged or replayed
# packet that reached the output would read near 0 dB against the fit (its
# samples are noise, a loud tone or a stretch of the past); -50 dB leaves
# room for the clock loop's slow bends, which read -65 to -70 dB here.
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$((t_attack - 500))" --until-ms "$t_attack_end" \
	--channel 1 --freq 997 --level -6 --tol-db 0.1 $gaps_allowed \
	--gap-threshold-db -50 \
	--channel 2 --freq 3000 --level -6 --tol-db 0.1 $gaps_allowed \
	--gap-threshold-db -50 ||
	fail "the recording changed under attack"
echo "attack from $t_attack ms: $((auth1 - auth0)) packets failed to open, $replays replays," \
	"$late late, $lost lost; the recording is stage's tones throughout"

# The control socket: its owner and its group only; a stranger is told so at once.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
	getent group nogroup >/dev/null && getent group daemon >/dev/null; then
	chmod 755 "$it_dir"
	as() { timeout 10 setpriv --reuid=nobody --regid="$1" --clear-groups -- "${@:2}"; }
	if as nogroup "$AOIPCTL" --version >/dev/null 2>&1; then
		NODE_EXTRA="control_group = nogroup" node_conf desk ""
		node_start desk
		as nogroup "$AOIPCTL" -s "$it_dir/desk.sock" status >/dev/null ||
			fail "a member of control_group cannot use the control socket"
		rc=0
		as daemon "$AOIPCTL" -s "$it_dir/desk.sock" status 2>"$it_dir/denied.txt" || rc=$?
		cat "$it_dir/denied.txt"
		[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "a stranger was let in, or waited (exit $rc)"
		grep -q "permission denied" "$it_dir/denied.txt" || fail "a stranger was not told 'permission denied'"
		node_stop desk
	else
		echo "note: user nobody cannot run $AOIPCTL here; control socket access not checked"
	fi
	chmod 700 "$it_dir"
else
	echo "note: not root (or no setpriv): control socket access not checked"
fi

# A key file others can read: the node does not start.
node_stop stage
chmod 644 "$it_dir/stage.state/identity.key"
rc=0
timeout 10 "$AOIPD" --config "$it_dir/stage.conf" >"$it_dir/refused.txt" 2>&1 || rc=$?
cat "$it_dir/refused.txt"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "aoipd started with a readable identity key"
grep -q "refused" "$it_dir/refused.txt" || fail "aoipd did not say why"
echo "security: all checks passed"
