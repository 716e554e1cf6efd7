#!/usr/bin/env bash
# test_attack.sh: aoip-attack's judges must themselves be right before a
# test trusts "no tone in the clear" or "every forgery refused".
#
# plaintext must find a tone in plain RTP packets of every layout a flow
# can have (L24 and L16, 1 to 9 channels, CSRCs, a header extension,
# padding) and none in the same packets sealed with aoip_seal_tx_seal under
# either cipher, nor in random bytes, a wrong frequency, a tone too quiet to
# matter, or a slower tone. The packets come from the tool's synth verb,
# which builds them as a sender does (aoip_rtp_write_header,
# aoip_pcm_encode, aoip_seal_tx_seal).
#
# As root, capture must keep on loopback exactly what replay sent, once
# each, in order; forge must send every kind it claims, with the flow's
# SSRC where it should, truncated ones short, and plain ones that carry a
# tone in the clear. Without a raw socket capture must exit 77; those parts
# are then skipped and said so.
#
# usage: test_attack.sh AOIP-ATTACK
set -euo pipefail

attack=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/aoip-attack.XXXXXX")
capture_pid=
cleanup() {
	if [ -n "$capture_pid" ]; then
		kill "$capture_pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

. "$(dirname "$0")/tool_test_lib.sh"

synth() {
	"$attack" synth --out "$dir/$1" "${@:2}" >/dev/null
}

plaintext() {
	"$attack" plaintext --in "$dir/$1" "${@:2}"
}

# ---- the plaintext judge ----------------------------------------------------

# (a) plain L24 stereo of a 997 Hz tone: every packet gives it away.
synth plain.bin --freq 997 --channels 2 --count 50
expect 1 "plain L24 stereo found" plaintext plain.bin --freq 997
has "plain L24 stereo found" '^plaintext tone in 50 of 50 packets$'
has "plain L24 stereo found" 'payload at byte 12, L24, 2 channels'

# (b) the same sealed: nothing, under either cipher.
synth sealed.bin --freq 997 --channels 2 --count 50 --seal chacha
expect 0 "sealed ChaCha20-Poly1305 clean" plaintext sealed.bin --freq 997
has "sealed ChaCha20-Poly1305 clean" '^plaintext tone in 0 of 50 packets$'
rc=0
synth sealed-aes.bin --freq 997 --channels 2 --count 50 --seal aes || rc=$?
if [ "$rc" -eq 77 ]; then
	echo "skip: AES-256-GCM (this CPU lacks it)"
else
	expect 0 "sealed AES-256-GCM clean" plaintext sealed-aes.bin --freq 997
	has "sealed AES-256-GCM clean" '^plaintext tone in 0 of 50 packets$'
fi

# (c) every format and channel count a flow can have, told and guessed;
# sealed, none of them.
for fmt in l16 l24; do
	FMT=$(echo "$fmt" | tr a-z A-Z)
	for ch in 1 2 3 4 5 6 7 8 9; do
		synth "p-$fmt-$ch.bin" --freq 997 --channels "$ch" --format "$fmt" --count 20
		expect 1 "plain $fmt $ch ch, told" plaintext "p-$fmt-$ch.bin" --freq 997 --channels "$ch"
		has "plain $fmt $ch ch, told" '^plaintext tone in 20 of 20 packets$'
		has "plain $fmt $ch ch, told" "byte 12, $FMT, $ch channels"
		expect 1 "plain $fmt $ch ch, guessed" plaintext "p-$fmt-$ch.bin" --freq 997
		has "plain $fmt $ch ch, guessed" '^plaintext tone in 20 of 20 packets$'
		synth "s-$fmt-$ch.bin" --freq 997 --channels "$ch" --format "$fmt" --count 20 --seal chacha
		expect 0 "sealed $fmt $ch ch" plaintext "s-$fmt-$ch.bin" --freq 997
	done
done

# The payload found past CSRCs, a header extension and padding: 12 + 2 * 4
# + 4 + 8 bytes of header. A judge that skipped 12 bytes would read the
# CSRCs as samples and miss.
synth hdr.bin --freq 997 --channels 2 --count 20 --csrc 2 --ext --pad
expect 1 "plain past CSRCs and extension" plaintext hdr.bin --freq 997
has "plain past CSRCs and extension" '^plaintext tone in 20 of 20 packets$'
has "plain past CSRCs and extension" 'payload at byte 32, L24, 2 channels'
synth hdr-sealed.bin --freq 997 --channels 2 --count 20 --csrc 2 --ext --pad --seal chacha
expect 0 "sealed past CSRCs and extension" plaintext hdr-sealed.bin --freq 997

# What is not the tone: another frequency, a slower tone, silence; a quiet
# tone still is.
expect 0 "other frequency not taken" plaintext plain.bin --freq 1500
synth slow.bin --freq 50 --channels 2 --count 20 --level -1
expect 0 "slower tone not taken" plaintext slow.bin --freq 997
synth silent.bin --freq 997 --channels 2 --count 20 --level -150
expect 0 "silence not taken" plaintext silent.bin --freq 997
# Under -60 dB mean power is near silence (told the layout, so that the low
# bytes are not read as L16 as below); a little over it is a tone.
synth hushed.bin --freq 997 --channels 2 --count 20 --level -70
expect 0 "near silence not taken" plaintext hushed.bin --freq 997 --channels 2
synth low.bin --freq 997 --channels 2 --count 20 --level -55
expect 1 "low tone found" plaintext low.bin --freq 997 --channels 2
# The residual's bound is 40 dB: a tone 30 dB over white noise is not
# plain enough, 60 dB over it is.
synth noisy.bin --freq 997 --channels 2 --count 20 --level -6 --noise -36
expect 0 "tone 30 dB over noise not taken" plaintext noisy.bin --freq 997
synth clean.bin --freq 997 --channels 2 --count 20 --level -6 --noise -66
expect 1 "tone 60 dB over noise found" plaintext clean.bin --freq 997
# A ramp (a 1 Hz tone from phase 0) and a near-constant (from phase 0.7)
# nearly satisfy the recurrence of a low tone; the fit tells them apart.
synth ramp.bin --freq 1 --channels 2 --count 20 --level -6
for f in 500 700 997; do
	expect 0 "ramp is no $f Hz tone" plaintext ramp.bin --freq "$f"
	synth "t$f.bin" --freq "$f" --channels 2 --count 20
	expect 1 "$f Hz tone found" plaintext "t$f.bin" --freq "$f"
done
expect 2 "under half a cycle per packet refused" plaintext ramp.bin --freq 100
# A -90 dBFS L24 tone still leaks: its two low bytes, read as L16, are loud.
synth faint.bin --freq 997 --channels 2 --count 20 --level -90
expect 1 "faint L24 tone found" plaintext faint.bin --freq 997
synth quiet.bin --freq 997 --channels 2 --count 20 --level -45
expect 1 "quiet tone found" plaintext quiet.bin --freq 997

# Random bytes of a 9-channel packet's length: nothing.
{
	printf 'AOIPCAP1'
	for _ in $(seq 50); do
		printf '\x00\x00\x05\x1c'
		head -c 1308 /dev/urandom
	done
} >"$dir/random.bin"
expect 0 "random bytes clean" plaintext random.bin --freq 997
has "random bytes clean" '^plaintext tone in 0 of 50 packets$'

# Nothing to judge is not a pass; a file that is not a capture is an error.
printf 'AOIPCAP1' >"$dir/empty.bin"
expect 3 "empty capture refused" plaintext empty.bin --freq 997
printf 'AOIPCAP1\x00\x00\x01\x00abc' >"$dir/cut.bin"
expect 1 "cut record refused" plaintext cut.bin --freq 997
expect 1 "not a capture refused" plaintext out --freq 997
expect 2 "no --freq" "$attack" plaintext --in "$dir/plain.bin"
expect 2 "not loopback" "$attack" replay --in "$dir/plain.bin" --to 192.0.2.1:5004
expect 2 "unknown kind" "$attack" forge --to 127.0.0.1:5004 --like "$dir/sealed.bin" \
	--count 1 --only sideways

# ---- capture, replay and forge on loopback -----------------------------------

# capture_start FILE ARGS...: capture in the background, back once it listens.
capture_start() {
	local out=$1
	shift
	"$attack" capture --port "$port" --out "$dir/$out" "$@" >"$dir/capture.out" 2>"$dir/capture.err" &
	capture_pid=$!
	for _ in $(seq 100); do
		grep -q capturing "$dir/capture.err" 2>/dev/null && return 0
		kill -0 "$capture_pid" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}

capture_wait() {
	local rc=0
	wait "$capture_pid" || rc=$?
	capture_pid=
	cat "$dir/capture.out" "$dir/capture.err" >"$dir/out"
	return "$rc"
}

port=$((20000 + RANDOM % 40000))
rc=0
"$attack" capture --port "$port" --seconds 0.05 --out "$dir/probe.bin" >"$dir/out" 2>&1 || rc=$?
if [ "$rc" -eq 77 ]; then
	echo "skip: capture, replay and forge on loopback ($(tail -1 "$dir/out"))"
else
	[ "$rc" -eq 0 ] || fail "capture probe: exit $rc"

	# Replay of a sealed flow with CSRCs and an extension; captured once each.
	synth flow.bin --freq 997 --channels 9 --count 200 --csrc 1 --ext --seal chacha
	capture_start cap.bin --seconds 10 --max 400 || fail "capture did not start"
	expect 0 "replay sends" "$attack" replay --in "$dir/flow.bin" --to "127.0.0.1:$port" \
		--gap-us 50
	has "replay sends" '^replayed 200 packets'
	sleep 0.3
	kill -INT "$capture_pid" 2>/dev/null || true
	rc=0
	capture_wait || rc=$?
	[ "$rc" -eq 0 ] || fail "capture: exit $rc"
	has "capture counts once each" '^captured 200 packets$'
	if cmp -s "$dir/cap.bin" "$dir/flow.bin"; then
		echo "ok: capture keeps what replay sent"
	else
		fail "capture differs from what replay sent"
	fi
	expect 0 "captured sealed flow clean" plaintext cap.bin --freq 997

	# Forgeries: every kind, as claimed.
	capture_start forged.bin --seconds 10 --max 140 || fail "capture did not start"
	expect 0 "forge sends" "$attack" forge --to "127.0.0.1:$port" --like "$dir/flow.bin" \
		--count 140 --seed 11
	cp "$dir/out" "$dir/forge.out"
	rc=0
	capture_wait || rc=$?
	[ "$rc" -eq 0 ] || fail "capture of forgeries: exit $rc"
	has "forgeries captured" '^captured 140 packets$'
	count() { grep -oE " $1=[0-9]+" "$dir/forge.out" | cut -d= -f2; }
	for kind in ahead behind key-id roc plain ssrc truncated; do
		[ "$(count "$kind")" -gt 0 ] || fail "forge sent no $kind"
	done
	expect 1 "plain forgeries carry a tone" plaintext forged.bin --freq 1000 --channels 1
	has "plain forgeries carry a tone" "^plaintext tone in $(count plain) of 140 packets$"
	"$attack" dump --in "$dir/forged.bin" >"$dir/dump"
	foreign=$(grep 'ssrc=0x' "$dir/dump" | grep -vc 'ssrc=0x5eed0a77' || true)
	[ "$foreign" -eq "$(count ssrc)" ] ||
		fail "forge: $foreign packets from another SSRC, claimed $(count ssrc)"
	# A header of 12 + 4 + 4 + 8 = 28 bytes: truncated ones are under 49.
	short=$(awk '{ sub("len=", "", $2) } $2 ~ /^[0-9]+$/ && $2 + 0 < 49' "$dir/dump" | wc -l)
	[ "$short" -eq "$(count truncated)" ] ||
		fail "forge: $short packets under 49 bytes, claimed $(count truncated)"
	echo "ok: forgeries as claimed ($(sed "s/.*): //" "$dir/forge.out"))"

	# Without a raw socket, capture says so and skips.
	if setpriv --reuid=65534 --regid=65534 --clear-groups "$attack" --help >/dev/null 2>&1; then
		expect 77 "capture unprivileged skips" setpriv --reuid=65534 --regid=65534 \
			--clear-groups "$attack" capture --port "$port" --seconds 1 --out /dev/null
	else
		echo "skip: unprivileged capture (setpriv cannot run the tool as nobody here)"
	fi
fi

tool_test_finish "attack tool checks"
