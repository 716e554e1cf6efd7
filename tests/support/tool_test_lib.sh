# tool_test_lib.sh: the checks that the tests of the test tools
# (test_tools.sh, test_attack.sh) share. Sourced, never run.
#
# The caller sets dir (its scratch directory) first. Each check prints
# "ok: NAME" or a FAIL line with the output it got, and counts failures
# instead of stopping, so that one run shows everything that is wrong;
# tool_test_finish turns the count into the exit code.

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect CODE NAME CMD...: CMD exits with CODE; its output is kept in $dir/out.
expect() {
	local want=$1 name=$2 rc=0
	shift 2
	"$@" >"$dir/out" 2>&1 || rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name: exit $rc, expected $want"
		sed 's/^/    /' "$dir/out" >&2
	else
		echo "ok: $name"
	fi
}

# has NAME PATTERN: the last command's output matches PATTERN.
has() {
	if ! grep -qE -- "$2" "$dir/out"; then
		fail "$1: output lacks /$2/"
		sed 's/^/    /' "$dir/out" >&2
	fi
}

# tool_test_finish WHAT: exit 1 if any check failed, else say that all of
# WHAT passed.
tool_test_finish() {
	if [ "$failures" -ne 0 ]; then
		echo "$failures failed" >&2
		exit 1
	fi
	echo "all $1 passed"
}
