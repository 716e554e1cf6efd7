#!/usr/bin/env bash
# The shipped unit is one systemd accepts: systemd-analyze verify, with
# ExecStart pointed at the aoipd just built (the unit's own path is where
# a package installs it).
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
unit=$(dirname "$0")/../../systemd/aoipd.service
sed "s|^ExecStart=/usr/sbin/aoipd|ExecStart=$AOIPD|" "$unit" >"$it_dir/aoipd.service"
grep -q "^ExecStart=$AOIPD " "$it_dir/aoipd.service" || fail "the unit has no ExecStart for aoipd"
for key in Type=notify WatchdogSec= StateDirectory= RuntimeDirectory= ProtectSystem=strict \
	NoNewPrivileges=yes AmbientCapabilities=CAP_SYS_NICE; do
	grep -q "^$key" "$unit" || fail "the unit lacks $key"
done
out=$(systemd-analyze verify "$it_dir/aoipd.service" 2>&1) || fail "systemd-analyze: $out"
[ -z "$out" ] || fail "systemd-analyze complains: $out"
echo "aoipd.service verifies"
