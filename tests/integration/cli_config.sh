#!/usr/bin/env bash
# The user-facing contract of the two binaries, against real daemons: what
# aoipd says about a config file and its arguments, what every aoipctl
# command prints and exits with (proto/control.md, aoipctl --help), the
# --json shapes a script relies on, and a SIGTERM that leaves a complete
# recording behind.
. "$(dirname "$0")/lib.sh"

# expect_exit CODE CMD...: CMD exits with CODE; its stderr is left in $it_dir/err.
expect_exit() {
	local want=$1 st=0
	shift
	"$@" >"$it_dir/out" 2>"$it_dir/err" || st=$?
	[ "$st" -eq "$want" ] ||
		fail "'$*' exited $st, not $want: $(cat "$it_dir/out" "$it_dir/err")"
}
# expect_err PATTERN: the last expect_exit's stderr matches PATTERN (grep -E).
expect_err() {
	grep -Eq -- "$1" "$it_dir/err" || fail "stderr lacks /$1/: $(cat "$it_dir/err")"
}
# expect_out PATTERN...: the last expect_exit's stdout matches every PATTERN.
expect_out() {
	local p
	for p in "$@"; do
		grep -Eq -- "$p" "$it_dir/out" || fail "output lacks /$p/: $(cat "$it_dir/out")"
	done
}
# json_keys FILE KEY...: FILE parses as JSON (where python3 is there to say
# so) and names every KEY.
json_keys() {
	local f=$1 k
	shift
	if command -v python3 >/dev/null; then
		python3 -c 'import json, sys; json.load(sys.stdin)' <"$f" || fail "$f is not JSON"
	fi
	for k in "$@"; do
		grep -q "\"$k\":" "$f" || fail "no \"$k\" in $(cat "$f")"
	done
}
# route_json NODE SRC DST: the route SRC -> DST in NODE's --json route list, on one line.
route_json() {
	ctl "$1" --json route list | tr -d ' \n' | grep -o "{[^}]*\"source\":\"$2\",\"destination\":\"$3\"[^}]*}"
}
# peak NODE CHANNEL KIND: the meter's peak_dbfs of NODE's CHANNEL as KIND.
peak() {
	ctl "$1" --json meter | tr -d ' \n' |
		grep -o "\"channel\":\"$2\",\"kind\":\"$3\",\"peak_dbfs\":[-0-9.]*" | cut -d: -f4
}
# silent NODE CHANNEL KIND: the meter's peak is minus infinity (null).
silent() {
	ctl "$1" --json meter | tr -d ' \n' | grep -q "\"channel\":\"$2\",\"kind\":\"$3\",\"peak_dbfs\":null"
}
# peak_near NODE CHANNEL KIND DBFS: the peak is within 0.5 dB of DBFS.
peak_near() {
	local p
	p=$(peak "$1" "$2" "$3")
	[ -n "$p" ] && awk -v p="$p" -v w="$4" 'BEGIN { exit !(p - w < 0.5 && w - p < 0.5) }'
}

# ---- aoipd and its config file, no node running
cat >"$it_dir/good.conf" <<CONF
[node]
name = lone
control = $it_dir/lone.sock

[input.x]
type = tone
channels = 1
frequency = 440
CONF
sed 's/^frequency = 440$/frequncy = 440/' "$it_dir/good.conf" >"$it_dir/bad.conf"
bad_line=$(grep -n '^frequncy' "$it_dir/bad.conf" | cut -d: -f1)

expect_exit 0 "$AOIPD" --check-config "$it_dir/good.conf"
expect_exit 1 "$AOIPD" --check-config "$it_dir/bad.conf"
[ "$(wc -l <"$it_dir/err")" -eq 1 ] || fail "more than one line for one problem: $(cat "$it_dir/err")"
expect_err "^$it_dir/bad.conf:$bad_line: .*frequncy"
expect_exit 2 "$AOIPD"
# keygen needs no node: a new secret each time, in the form secret files hold.
expect_exit 0 "$AOIPCTL" -s /nonexistent keygen
expect_out '^aoip-secret-v1:[0-9a-f]{64}$'
cp "$it_dir/out" "$it_dir/secret1"
expect_exit 0 "$AOIPCTL" keygen
cmp -s "$it_dir/out" "$it_dir/secret1" && fail "keygen printed the same secret twice"
expect_exit 2 "$AOIPCTL" keygen extra
expect_exit 0 "$AOIPD" --version
expect_out '^aoipd [0-9]+\.[0-9]+'

# ---- a running node, seen through aoipctl
node_conf stage "
[input.mics]
type = tone
channels = 3
names = mic1,mic2,mic3
frequency = 440,554,660
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

[bus.mix]
channels = 1
names = mix
"
node_start truck
wait_until 10 online truck stage || fail "truck does not see stage"
wait_until 10 online stage truck || fail "stage does not see truck"
expect_exit 0 ctl truck route add stage/mic1 truck/in1 --gain -6
expect_out 'stage/mic1 -> truck/in1'
wait_until 10 rx_over truck 500 || fail "no audio reaches truck"
# The meter covers the last second at most: wait until it is all routed audio.
wait_until 5 peak_near truck truck/in1 destination -26 || fail "truck/in1 does not meter -26 dBFS"

expect_exit 0 ctl truck status
expect_out '^node +truck' 'latency +10 ms' 'routes +1'
expect_exit 0 ctl truck nodes
expect_out '^truck +online' '^stage +online +127\.0\.0\.1:'
expect_exit 0 ctl truck channels
expect_out 'source +stage/mic2 +stage/2' 'destination +truck/in2 +truck/2' 'source +truck/mix +truck/1'
expect_exit 0 ctl truck matrix
expect_out '^truck/in1 .*-6'
expect_exit 0 ctl truck stats
expect_out '^rx +stage +L24 sealed +1 ms +stage/mic1'
expect_out '^security: sealed'
expect_exit 0 ctl stage stats
expect_out '^tx +truck +L24'
expect_exit 0 ctl truck meter
expect_out 'truck/in1 +destination +-26\.0'
expect_exit 0 ctl truck route list
expect_out '^stage/mic1 +truck/in1 +-6\.0 dB'

# --json: the fields proto/control.md promises.
ctl truck --json status >"$it_dir/status.json"
json_keys "$it_dir/status.json" name id version uptime_s sample_rate period_us latency_us \
	encoding packet_us sources destinations routes flows peers
ctl truck --json nodes >"$it_dir/nodes.json"
json_keys "$it_dir/nodes.json" name id address state sources destinations
ctl truck --json channels >"$it_dir/channels.json"
json_keys "$it_dir/channels.json" sources destinations node name index
ctl truck --json route list >"$it_dir/routes.json"
json_keys "$it_dir/routes.json" source destination gain_db muted
flow_keys="direction peer channels encoding packet_us packets bytes lost late duplicates
	reordered concealed jitter_ms buffer_ms target_ms drift_ppm latency_ms"
ctl truck --json stats >"$it_dir/stats_rx.json"
# shellcheck disable=SC2086 # the list is meant to split
json_keys "$it_dir/stats_rx.json" flows $flow_keys dropped
ctl stage --json stats >"$it_dir/stats_tx.json"
# shellcheck disable=SC2086
json_keys "$it_dir/stats_tx.json" flows $flow_keys dropped
grep -q '"direction": *"rx"' "$it_dir/stats_rx.json" || fail "truck has no rx flow"
grep -q '"direction": *"tx"' "$it_dir/stats_tx.json" || fail "stage has no tx flow"
ctl truck --json meter >"$it_dir/meter.json"
json_keys "$it_dir/meter.json" channel kind peak_dbfs rms_dbfs

# ---- exit codes: 1 refused by the node, 2 bad usage, 3 no node
expect_exit 1 ctl truck route add stage/x truck/in1
expect_err "^aoipctl: no source 'stage/x'$"
expect_exit 1 ctl truck route add stage/mic1 truck/nowhere
expect_err "^aoipctl: no destination 'truck/nowhere'$"
expect_exit 2 ctl truck route add stage truck/in1
expect_err "^aoipctl: 'stage' is not a channel address"
expect_exit 2 ctl truck route add stage/0 truck/in1
expect_exit 2 ctl truck frobnicate
expect_exit 3 "$AOIPCTL" -s "$it_dir/nobody.sock" status
expect_err "^aoipctl: .*nobody\.sock"
expect_exit 1 ctl truck route del stage/mic3 truck/in2
expect_err '^aoipctl: no route'

# ---- routes by number, mute, gain limits
expect_exit 0 ctl truck route add stage/2 truck/2
route_json truck stage/mic2 truck/in2 | grep -q '"gain_db":0' || fail "stage/2 -> truck/2 is not listed by name"
expect_exit 0 ctl truck route add stage/mic2 truck/in2 --gain -3 --mute
route_json truck stage/mic2 truck/in2 | grep -q '"gain_db":-3.*"muted":true' || fail "--mute did not mute"
expect_exit 0 ctl truck matrix
expect_out '^truck/in2 .* M'
wait_until 5 silent truck truck/in2 destination || fail "truck/in2 is not silent through a muted route"
expect_exit 0 ctl truck route add stage/mic2 truck/in2 --unmute
route_json truck stage/mic2 truck/in2 | grep -q '"gain_db":-3.*"muted":false' ||
	fail "--unmute did not unmute, or changed the gain"
wait_until 5 peak_near truck truck/in2 destination -23 || fail "truck/in2 does not meter -23 dBFS"
expect_exit 1 ctl truck route add stage/mic2 truck/in2 --gain 30
expect_err '^aoipctl: .*30'
route_json truck stage/mic2 truck/in2 | grep -q '"gain_db":-3' || fail "a refused gain changed the route"

# ---- SIGTERM: gone within a second (node_stop), the recording complete
# (a meter's peak sees the unmute in its first sample: let a clean 100 ms pass)
sleep 0.3
node_stop truck
expect_exit 3 ctl truck status
# The header's sizes were brought up to date: RIFF and data chunks end where the file does.
wav=$it_dir/truck.wav
size=$(stat -c %s "$wav")
at=$(head -c 512 "$wav" | grep -bao data | head -n 1 | cut -d: -f1)
[ -n "$at" ] || fail "no data chunk in the WAV header"
riff=$(od -An -tu4 -j4 -N4 "$wav" | tr -d ' ')
data=$(od -An -tu4 -j$((at + 4)) -N4 "$wav" | tr -d ' ')
if [ "$riff" -ne $((size - 8)) ] || [ "$data" -ne $((size - at - 8)) ]; then
	fail "the WAV header says RIFF $riff, data $data bytes, for a file of $size"
fi
dur=$("$WAVCHECK" "$wav" --print --json | tr -d ' \n' |
	grep -o '"duration_s":[0-9.]*' | head -n 1 | cut -d: -f2 | awk '{ printf "%d", $1 * 1000 }')
# The last 100 ms before the stop hold the tone: nothing was cut off the end.
stallmon_result
"$WAVCHECK" "$wav" --skip-ms $((dur - 100)) \
	--channel 1 --freq 440 --level -26 $gaps_allowed \
	--channel 2 --freq 554 --level -23 $gaps_allowed
