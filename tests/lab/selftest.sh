#!/usr/bin/env bash
# tests/lab/selftest.sh: the lab (tests/lab/lab) tested on its own, before
# any test of aoip trusts it. Three hosts: they reach each other and nothing
# else, each has its own hostname and /run; mDNS crosses the switch, and keeps
# crossing when every other packet is dropped; "lab spawn" prints the
# command's own PID; a link taken down and an avahi-daemon stopped really cut
# what they should and come back; loss drops about what it is told to;
# multicast reaches the other hosts, and the switch's IGMP snooping keeps a
# group's traffic to the host that joined it; "lab impair" (aoip-impair, in
# user space) adds the delay it is told to, to 0.5 ms, spreads it with
# jitter, reorders unless told --fifo, loses and duplicates about what it is
# told to, and "off" gives the plain network back; "lab down" leaves no
# namespace, process, mount or state behind, even after a spawned command was
# killed with SIGKILL and with an impairment still running.
#
# Exit 77 (skip) when the machine cannot make a lab ("lab check" says why).
# Prints how long the lab took to come up and go down, how long mDNS took
# to cross, and what the impairments measured. aoip-impair is $AOIP_IMPAIR
# (ctest sets it) or where "lab impair" finds it.
set -euo pipefail

lab=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab
state=${AOIP_LAB_STATE:-/tmp/aoip-lab}

if ! why=$("$lab" check 2>&1); then
	echo "SKIP: ${why#lab: }"
	exit 77
fi

# A name of its own (the PID in base 36), and a tag so the next run can remove
# a lab this test left when it was killed before it could clean up.
digits=0123456789abcdefghijklmnopqrstuvwxyz
name="" n=$$
while ((n > 0)); do
	name=${digits:n%36:1}$name
	n=$((n / 36))
done
name=s$name
export AOIP_LAB_TAG=selftest
"$lab" prune selftest

work=$(mktemp -d "${TMPDIR:-/tmp}/aoip-labtest.XXXXXX")
cleanup() {
	local rc=$? f
	trap - EXIT INT TERM HUP
	if ((rc != 0)) && [[ -d $state/$name ]]; then
		echo "== lab $name failed (exit $rc); processes and logs:" >&2
		"$lab" ps "$name" >&2 || true
		for f in "$state/$name"/h*/*.log "$work"/*.log; do
			[[ -s $f ]] || continue
			echo "-- $f" >&2
			tail -n 20 "$f" >&2
		done
	fi
	"$lab" down "$name" || rc=1
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	echo $((t / 1000))
}

seconds_since() {
	local ms=$(($(now_ms) - $1))
	printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

on() {
	local host=$1
	shift
	"$lab" exec "$name" "$host" "$@"
}

# until_ok SECONDS CMD...: retry CMD until it succeeds; fail after SECONDS.
until_ok() {
	local deadline=$(($(now_ms) + $1 * 1000))
	shift
	until "$@" >/dev/null 2>&1; do
		(($(now_ms) < deadline)) || return 1
		sleep 0.1
	done
}

# browse HOST SERVICE: HOST resolves SERVICE (_aoiplabtest._tcp) published by
# host 1, with its TXT record; the resolved line is left in $work/browse.
browse() {
	on "$1" avahi-browse -rpt _aoiplabtest._tcp >"$work/browse" 2>&1 || return 1
	grep -q "^=;eth0;IPv4;$2;_aoiplabtest._tcp;local;$name-1.local;${addr[1]};7400;\"k=v\"$" \
		"$work/browse"
}

loss_percent() {
	sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$1"
}

# ---- up ----------------------------------------------------------------------

t0=$(now_ms)
"$lab" up "$name" 3
echo "lab up, 3 hosts: $(seconds_since "$t0") s"
# (Output is taken whole before grep -q reads it: grep may stop early, and
# under pipefail the writer's SIGPIPE would count as a failure.)
listed=$("$lab" list)
grep -q "^$name 3 10\." <<<"$listed" || fail "lab list does not show $name with 3 hosts"
if "$lab" up "$name" 2 2>"$work/again.log"; then
	fail "a second 'lab up $name' was accepted"
fi
grep -q exists "$work/again.log" || fail "a second 'lab up' refused without saying why"

declare -a addr
for i in 1 2 3; do
	addr[i]=$("$lab" addr "$name" "$i")
	[[ ${addr[i]} =~ ^10\.[0-9]+\.[0-9]+\.$i$ ]] || fail "host $i has address '${addr[i]}'"
	[[ ${addr[i]%.*} == "${addr[1]%.*}" ]] || fail "hosts 1 and $i are not on one /24"
	[[ $(on "$i" hostname) == "$name-$i" ]] || fail "host $i is not called $name-$i"
	[[ $(on "$i" ip -4 -o addr show dev eth0) == *" ${addr[i]}/24 "* ]] ||
		fail "host $i's eth0 does not have ${addr[i]}"
	[[ $(on "$i" cat /sys/class/net/lo/operstate) == unknown ]] || fail "host $i: lo is down"
	[[ $(on "$i" ls /sys/class/net) == $'eth0\nlo' ]] || fail "host $i has other interfaces"
done

# Each host's /run is its own: what host 1 puts there, host 2 and the machine do not see.
marker=/run/aoip/labtest-$name
on 1 touch "$marker"
on 1 test -e "$marker" || fail "host 1 cannot write its /run/aoip"
on 2 test ! -e "$marker" || fail "host 2 sees host 1's /run"
[[ ! -e $marker ]] || fail "the machine sees host 1's /run"
for i in 1 2 3; do
	on "$i" test -S /run/dbus/system_bus_socket || fail "host $i has no bus in its /run/dbus"
	on "$i" test -s /run/avahi-daemon/pid || fail "host $i has no avahi-daemon in its /run"
done

# ---- reachability --------------------------------------------------------------

for i in 1 2 3; do
	for j in 1 2 3; do
		((i != j)) || continue
		on "$i" ping -c 1 -W 2 "${addr[j]}" >/dev/null || fail "host $i cannot ping host $j"
	done
	[[ -z $(on "$i" ip -4 route show default) ]] || fail "host $i has a default route"
	# Asking the routing table sends nothing; with no route, nothing can be sent.
	for dest in 198.51.100.1 8.8.8.8 192.0.2.1; do
		if on "$i" ip route get "$dest" >/dev/null 2>&1; then
			fail "host $i has a route to $dest"
		fi
	done
done

# ---- spawn and mDNS across the switch --------------------------------------------

t0=$(now_ms)
pub=$("$lab" spawn "$name" 1 "$work/publish.log" avahi-publish -s labtest _aoiplabtest._tcp 7400 k=v)
[[ $pub =~ ^[0-9]+$ ]] || fail "lab spawn printed '$pub', not a PID"
kill -0 "$pub" || fail "the PID lab spawn printed ($pub) is not running"
[[ $(tr '\0' ' ' <"/proc/$pub/cmdline") == "avahi-publish -s labtest _aoiplabtest._tcp 7400 k=v " ]] ||
	fail "PID $pub is $(tr '\0' ' ' <"/proc/$pub/cmdline"), not avahi-publish"
[[ $(readlink "/proc/$pub/ns/net") == "$(on 1 readlink /proc/self/ns/net)" ]] ||
	fail "PID $pub does not run on host 1"
until_ok 10 browse 3 labtest || fail "host 3 did not see host 1's service within 10 s"
echo "mDNS from host 1 to host 3: $(seconds_since "$t0") s"
until_ok 5 browse 2 labtest || fail "host 2 did not see host 1's service"

# ---- link --------------------------------------------------------------------

"$lab" link "$name" 2 down
if on 1 ping -c 1 -W 1 "${addr[2]}" >/dev/null; then
	fail "host 2 answers with its link down"
fi
[[ $(on 2 ip -4 -o addr show dev eth0) == *" ${addr[2]}/24 "* ]] ||
	fail "host 2 lost its address with its link"
"$lab" link "$name" 2 up
until_ok 5 on 1 ping -c 1 -W 1 "${addr[2]}" || fail "host 2 did not come back with its link"

# ---- avahi stop and start -----------------------------------------------------------

"$lab" avahi "$name" 3 stop
if on 3 avahi-browse -rpt _aoiplabtest._tcp >"$work/stopped" 2>&1; then
	fail "avahi-browse works on host 3 with its avahi-daemon stopped"
fi
if grep -q '^=' "$work/stopped"; then
	fail "host 3 resolved a service with its avahi-daemon stopped"
fi
"$lab" avahi "$name" 3 start
until_ok 10 browse 3 labtest || fail "host 3 did not see the service after avahi started again"

# ---- loss ----------------------------------------------------------------------

"$lab" loss "$name" 2 50
on 1 ping -c 200 -i 0.01 -W 1 -q "${addr[2]}" >"$work/ping50" || true
lost=$(loss_percent "$work/ping50")
[[ -n $lost ]] || fail "no loss figure from ping: $(cat "$work/ping50")"
awk -v l="$lost" 'BEGIN { exit !(l >= 30 && l <= 70) }' ||
	fail "loss 50 lost $lost% of 200 pings, not 30..70%"
echo "loss 50: $lost% of 200 pings lost"
"$lab" loss "$name" 2 off
on 1 ping -c 50 -i 0.01 -W 1 -q "${addr[2]}" >"$work/ping0" || true
[[ $(loss_percent "$work/ping0") == 0 ]] || fail "loss off still loses: $(cat "$work/ping0")"

# mDNS is spared: with everything else from host 1 dropped, a new service still crosses.
"$lab" loss "$name" 1 100
if on 3 ping -c 3 -i 0.1 -W 1 -q "${addr[1]}" >/dev/null; then
	fail "host 1 answers pings under 100% loss"
fi
"$lab" spawn "$name" 1 "$work/publish2.log" avahi-publish -s lossy _aoiplabtest._tcp 7400 k=v >/dev/null
until_ok 10 browse 3 lossy || fail "mDNS did not cross under 100% loss"
"$lab" loss "$name" 1 off

# ---- impairment in user space (aoip-impair) ---------------------------------------

# rtt FILE: ping's min, avg, max and mdev, in ms.
rtt() {
	sed -n 's|^rtt min/avg/max/mdev = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\) ms.*|\1 \2 \3 \4|p' "$1"
}
# impair_stat KEY: the figure KEY of host 1's impairment.
impair_stat() {
	local stats
	stats=$("$lab" impair "$name" 1 stats)
	sed -n "s/^$1=//p" <<<"$stats"
}
# within X LO HI: LO <= X <= HI, as decimals.
within() {
	awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x != "" && x >= lo && x <= hi) }'
}

on 1 ping -c 100 -i 0.01 -q "${addr[2]}" >"$work/rtt-plain" || fail "host 1 cannot ping host 2"
read -r _ plain_avg _ _ < <(rtt "$work/rtt-plain")

"$lab" impair "$name" 1 --delay-ms 5
on 1 ping -c 200 -i 0.005 -q "${addr[2]}" >"$work/rtt-delay" || fail "no answer with --delay-ms 5"
read -r min avg _ _ < <(rtt "$work/rtt-delay")
added=$(awk -v a="$avg" -v p="$plain_avg" 'BEGIN { printf "%.3f", a - p }')
within "$added" 4.5 5.5 ||
	fail "--delay-ms 5 added $added ms to the RTT (avg $avg ms, $plain_avg ms without), not 5 +- 0.5"
within "$min" 5 6 || fail "--delay-ms 5: an RTT of $min ms"
(($(impair_stat packets) >= 200)) || fail "aoip-impair saw $(impair_stat packets) of the 200 pings"
echo "delay 5 ms: RTT +$added ms; applied delay median $(impair_stat delay_median_ms) ms," \
	"p99 $(impair_stat delay_p99_ms) ms; release late by median $(impair_stat late_median_ms) ms"

"$lab" impair "$name" 1 --delay-ms 5 --jitter-ms 4 --seed 11
on 1 ping -c 200 -i 0.01 -q "${addr[2]}" >"$work/rtt-jitter" || fail "no answer with --jitter-ms 4"
read -r min avg max mdev < <(rtt "$work/rtt-jitter")
# Uniform 0..4 ms: mean 2, standard deviation 1.15.
within "$mdev" 0.6 1.8 || fail "--jitter-ms 4: RTT mdev $mdev ms, not about 1.15"
within "$(awk -v a="$max" -v b="$min" 'BEGIN { print a - b }')" 2.5 100 ||
	fail "--jitter-ms 4: RTTs from $min to $max ms"
echo "jitter 4 ms: RTT min/avg/max/mdev $min/$avg/$max/$mdev ms"

# Packets sent in a burst, each with up to 5 ms of jitter, overtake each other, unless --fifo.
"$lab" impair "$name" 1 --jitter-ms 5 --seed 12
on 1 ping -c 200 -l 200 -i 0.001 -q "${addr[2]}" >/dev/null || fail "no answer with --jitter-ms 5"
reordered=$(impair_stat reordered)
((reordered >= 10)) || fail "--jitter-ms 5 reordered $reordered of 200 packets"
"$lab" impair "$name" 1 --jitter-ms 5 --seed 12 --fifo
on 1 ping -c 200 -l 200 -i 0.001 -q "${addr[2]}" >/dev/null || fail "no answer with --fifo"
(($(impair_stat packets) >= 200)) || fail "aoip-impair saw $(impair_stat packets) of the 200 pings"
[[ $(impair_stat reordered) == 0 ]] || fail "--fifo reordered $(impair_stat reordered) packets"
echo "jitter 5 ms, a burst of 200 packets: $reordered reordered, none with --fifo"

"$lab" impair "$name" 1 --loss 0.5 --seed 13
on 1 ping -c 200 -i 0.005 -W 1 -q "${addr[2]}" >"$work/impair-loss" || true
lost=$(loss_percent "$work/impair-loss")
within "$lost" 30 70 || fail "--loss 0.5 lost $lost% of 200 pings, not 30..70%"
echo "impair loss 0.5: $lost% of 200 pings lost"

# A duplicate goes out through a raw socket; host 2 answers both copies.
"$lab" impair "$name" 1 --dup 0.5 --seed 14
on 1 ping -c 200 -i 0.005 -q "${addr[2]}" >"$work/impair-dup" || fail "no answer with --dup 0.5"
dups=$(sed -n 's/.* received, +\([0-9]*\) duplicates.*/\1/p' "$work/impair-dup")
within "$dups" 60 140 || fail "--dup 0.5: ${dups:-no} duplicates of 200 pings, not 60..140"
echo "impair dup 0.5: $dups duplicates of 200 pings"

"$lab" impair "$name" 1 off
rules=$(on 1 iptables -S OUTPUT)
! grep -q NFQUEUE <<<"$rules" || fail "impair off left the rule: $rules"
procs=$("$lab" ps "$name")
! grep -q aoip-impair <<<"$procs" || fail "aoip-impair still runs after off"
on 1 ping -c 100 -i 0.005 -q "${addr[2]}" >"$work/rtt-off" || fail "no answer after impair off"
read -r _ avg _ _ < <(rtt "$work/rtt-off")
within "$avg" 0 1 || fail "after impair off the RTT is $avg ms"
[[ $(loss_percent "$work/rtt-off") == 0 ]] || fail "impair off still loses: $(cat "$work/rtt-off")"
! grep -q duplicates "$work/rtt-off" || fail "impair off still duplicates"

# ---- multicast -----------------------------------------------------------------------

on 1 ping -c 3 -i 0.2 -t 1 -W 1 224.0.0.1 >"$work/allhosts" || true
for i in 2 3; do
	grep -q "from ${addr[i]}:" "$work/allhosts" || fail "host $i did not answer a ping to 224.0.0.1"
done

# Snooping: after host 3 joins, the switch sends the group to host 3 only.
group=239.255.77.1
"$lab" join "$name" 3 "$group"
snooped() {
	local mdb
	mdb=$("$lab" switch "$name" bridge mdb show)
	grep -q "port h$1 grp $2" <<<"$mdb"
}
until_ok 5 snooped 3 "$group" ||
	fail "the switch did not learn host 3's membership of $group"
for i in 2 3; do
	echo "table ip labtest { chain pre { type filter hook prerouting priority -300; ip daddr $group counter; }; }" |
		on "$i" nft -f -
done
on 1 ping -c 5 -i 0.1 -t 1 -W 1 "$group" >"$work/group" || true
grep -q "from ${addr[3]}:" "$work/group" || fail "host 3 did not answer on $group"
! grep -q "from ${addr[2]}:" "$work/group" || fail "host 2 answered on $group without joining it"
got() { on "$1" nft list table ip labtest | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'; }
[[ $(got 2) == 0 ]] || fail "the switch sent $group to host 2, which did not join it ($(got 2) packets)"
(($(got 3) >= 5)) || fail "host 3 received $(got 3) of 5 packets to $group"
"$lab" leave "$name" 3 "$group"

# ---- down ----------------------------------------------------------------------------

# A spawned process killed with SIGKILL must not trouble down, nor an impairment left running.
kill -9 "$pub"
"$lab" impair "$name" 2 --delay-ms 1
procs=$("$lab" ps "$name")
grep -q "^h2 .*aoip-impair" <<<"$procs" || fail "lab ps does not show host 2's aoip-impair"
mapfile -t pids < <("$lab" ps "$name" | awk '{ print $2 }')
((${#pids[@]} >= 6)) || fail "lab ps shows ${#pids[@]} processes, not the 6 daemons and more"
inodes=()
for i in 1 2 3; do
	for ns in net mnt uts; do
		inodes+=("$(on "$i" readlink "/proc/self/ns/$ns")")
	done
done

t0=$(now_ms)
"$lab" down "$name"
echo "lab down: $(seconds_since "$t0") s"

if ip netns list | grep -E "(^|[^a-z0-9])$name([^a-z0-9]|$)"; then
	fail "namespaces of $name remain"
fi
for pid in "${pids[@]}"; do
	if [[ -e /proc/$pid ]] && [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
		fail "process $pid of the lab still runs: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
	fi
done
for f in /proc/[0-9]*/ns/net /proc/[0-9]*/ns/mnt /proc/[0-9]*/ns/uts; do
	ns=$(readlink "$f" 2>/dev/null) || continue
	for want in "${inodes[@]}"; do
		[[ $ns != "$want" ]] || fail "${f%/ns/*} is still in the lab's $ns"
	done
done
! grep -q " $state/${name}[/ ]" /proc/self/mountinfo || fail "mounts of $name remain"
[[ ! -e $state/$name ]] || fail "the state of $name remains"
listed=$("$lab" list)
if grep -q "^$name " <<<"$listed"; then
	fail "lab list still shows $name"
fi
"$lab" down "$name" || fail "a second lab down failed"
echo "PASS"
