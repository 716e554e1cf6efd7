#!/usr/bin/env bash
# JACK's rate changing under a running node (issue 9): PipeWire's JACK,
# whose graph takes another rate when told to (clock.force-rate, as a
# player asking for 44.1 kHz would), headless and private to the test
# (tests/integration/pipewire/pipewire.conf: a dummy driver on the system
# clock, 256-frame quanta, no session manager).
#
# stage (48 kHz, on JACK's clock) takes client box's tone on mic1 and
# records it to stage.wav, and truck (system clock) records it from the
# network. box is a plain JACK client that does not follow the rate: it
# plays a sine of 997 Hz at 48 kHz, which at 44.1 kHz is 997 * 44100 /
# 48000 = 916.0 Hz. So:
#   - at 48 kHz stage records 997 Hz, straight from JACK's cycles;
#   - forced to 44.1 kHz, stage logs the change and converts: it records
#     916.0 Hz at 48 kHz (a node that took JACK's samples for its own rate
#     would record 997 Hz, pitched), with no glitch once the converter is
#     there, and truck hears it;
#   - back at 48 kHz, 997 Hz again, straight.
# deck, on the system clock (clock = system), takes the same tone through
# a bridge: it records 997 Hz, then 916.0 Hz through the converter and the
# bridge. Stats say JACK's rate and whether each node converts; the cycles
# played silent while the converter was made are counted and printed.
. "$(dirname "$0")/lib.sh"

pw_jack=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/pipewire-0.3/jack
command -v pipewire >/dev/null || skip "pipewire is not installed"
command -v pw-metadata >/dev/null && command -v pw-cli >/dev/null || skip "pipewire-bin is not installed"
[ -e "$pw_jack/libjack.so.0" ] || skip "pipewire-jack is not installed ($pw_jack)"
: "${JACKCLIENT:?}"

# A PipeWire of the test's own: its socket in a runtime directory of its own.
mkdir -m 700 "$it_dir/run"
export XDG_RUNTIME_DIR=$it_dir/run LD_LIBRARY_PATH=$pw_jack${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
unset PIPEWIRE_REMOTE PIPEWIRE_RUNTIME_DIR PIPEWIRE_CONFIG_DIR DBUS_SESSION_BUS_ADDRESS
here=$(cd "$(dirname "$0")" && pwd)
export LSAN_OPTIONS=suppressions=$here/pipewire/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}
it_step "starting PipeWire at 48 kHz"
pipewire -c "$here/pipewire/pipewire.conf" >"$it_dir/pipewire.log" 2>&1 &
pw=$!
it_pids+=("$pw")
wait_until 10 sh -c 'timeout 2 pw-cli ls Node 2>/dev/null | grep -q "node.name = \"Dummy-Driver\""' ||
	fail "PipeWire did not come up"
force_rate() { timeout 5 pw-metadata -n settings 0 clock.force-rate "$1" >/dev/null; }

export NODE_LATENCY_US=15000
"$JACKCLIENT" box --play 997,-20 >"$it_dir/box.log" 2>&1 &
box=$!
it_pids+=("$box")
wait_until 10 sh -c 'timeout 3 jack_lsp | grep -q "^box:out$"' || fail "box did not come up"

it_step "starting stage, truck and deck"
node_conf stage "
[input.box]
type = jack
channels = 1
names = mic1
connect = box:out

[output.file]
type = wav
path = $it_dir/stage.wav
channels = 1
names = file1
"
t0=$(date +%s%N)
node_start stage
truck_conf 1
node_start truck
NODE_EXTRA="clock = system" node_conf deck "
[input.box]
type = jack
channels = 1
names = mic1
connect = box:out

[output.phones]
type = jack
channels = 1
names = phones1

[output.file]
type = wav
path = $it_dir/deck.wav
channels = 1
names = file1
"
t_deck=$(date +%s%N)
node_start deck
wait_until 10 online truck stage || fail "truck does not see stage"
ctl stage route add stage/mic1 stage/file1
ctl truck route add stage/mic1 truck/ch1
ctl deck route add deck/mic1 deck/file1
ctl deck route add deck/mic1 deck/phones1
if ! wait_until 30 clocks_locked truck 'locked\|slewing'; then
	ctl stage stats
	ctl truck stats
	fail "truck's clock recovery does not lock"
fi
it_step "truck's clock recovery is locked"
jack_is() { # NODE RATE CONVERTING
	"$AOIPCTL" -s "$it_dir/$1.sock" --json stats | tr -d ' \n' |
		grep -q "\"jack\":{[^}]*\"rate\":$2,[^}]*\"converting\":$3,"
}
wait_until 5 jack_is stage 48000 false || fail "stage is not straight on JACK at 48 kHz"
wait_until 5 jack_is deck 48000 false || fail "deck is not straight on JACK at 48 kHz"
t_a0=$(ms_since "$t0")
sleep 4
t_a1=$(ms_since "$t0")

it_step "PipeWire forced to 44.1 kHz"
force_rate 44100 || fail "pw-metadata clock.force-rate 44100 failed"
wait_until 5 jack_is stage 44100 true || fail "stage does not convert JACK's 44.1 kHz"
wait_until 5 jack_is deck 44100 true || fail "deck does not convert JACK's 44.1 kHz"
t_b0=$(($(ms_since "$t0") + 1000))
sleep 5
t_b1=$(ms_since "$t0")
ctl stage stats | grep '^jack:'
ctl stage --json stats | tr -d ' \n' >"$it_dir/stage-b.json"

it_step "PipeWire back at 48 kHz"
force_rate 48000 || fail "pw-metadata clock.force-rate 48000 failed"
wait_until 5 jack_is stage 48000 false || fail "stage is not straight on JACK again at 48 kHz"
wait_until 5 jack_is deck 48000 false || fail "deck is not straight on JACK again at 48 kHz"
t_c0=$(($(ms_since "$t0") + 1000))
sleep 4
t_c1=$(ms_since "$t0")
ctl stage --json stats | tr -d ' \n' >"$it_dir/stage-c.json"
ctl deck stats | grep '^device'
node_stop truck
node_stop stage
node_stop deck
stallmon_result

grep -q "JACK now runs at 44100 Hz, this node at 48000" "$it_dir/stage.log" ||
	fail "stage did not log JACK's change to 44.1 kHz"
grep -q "JACK is back at this node's 48000 Hz" "$it_dir/stage.log" ||
	fail "stage did not log JACK's return to 48 kHz"
silent=$(grep -o '"misfit_periods":[0-9]*' "$it_dir/stage-c.json" | cut -d: -f2)
echo "cycles stage played silent over the two changes, until it had its converter: $silent"
conv_ms=$(json_num conversion_ms <"$it_dir/stage-b.json")
echo "what the converter adds at 44.1 kHz (256-frame cycles, 256-frame periods): $conv_ms ms"

# stage.wav holds no period for the cycles played silent: its times run a
# little behind the test's after a change, which the windows' second of
# margin takes.
"$WAVCHECK" "$it_dir/stage.wav" --skip-ms "$t_a0" --until-ms $((t_a1 - 500)) --channel 1 \
	--freq 997 --level -20 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 ||
	fail "stage's recording of JACK at 48 kHz is not box's tone"
"$WAVCHECK" "$it_dir/stage.wav" --skip-ms "$t_b0" --until-ms $((t_b1 - 500)) --channel 1 \
	--freq 916 --freq-tol 0.2 --level -20 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 ||
	fail "stage's recording of JACK at 44.1 kHz is not box's tone at 916.0 Hz"
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$t_b0" --until-ms $((t_b1 - 500)) --channel 1 \
	--freq 916 --freq-tol 5 --level -20 --tol-db 0.1 ||
	fail "truck does not hear stage with JACK at 44.1 kHz"
"$WAVCHECK" "$it_dir/stage.wav" --skip-ms "$t_c0" --until-ms $((t_c1 - 500)) --channel 1 \
	--freq 997 --level -20 --tol-db 0.1 $gaps_allowed --gap-threshold-db -60 ||
	fail "stage's recording of JACK back at 48 kHz is not box's tone"

# deck, on the system clock, its JACK input through the converter and a
# bridge: its file keeps the test's time (a bridge that runs dry gives
# silence). After each change the bridge takes a second or two to take
# up the new flow of blocks, which the window's start leaves out.
deck_off=$(((t_deck - t0) / 1000000))
"$WAVCHECK" "$it_dir/deck.wav" --skip-ms $((t_a0 - deck_off)) --until-ms $((t_a1 - deck_off - 500)) \
	--channel 1 --freq 997 --level -20 --tol-db 0.1 ||
	fail "deck's recording of JACK at 48 kHz is not box's tone"
"$WAVCHECK" "$it_dir/deck.wav" --skip-ms $((t_b0 + 1000 - deck_off)) \
	--until-ms $((t_b1 - deck_off - 500)) --channel 1 --freq 916 --freq-tol 2 --level -20 --tol-db 0.1 ||
	fail "deck's recording of JACK at 44.1 kHz, bridged, is not box's tone at 916.0 Hz"
