#!/bin/sh
# quickstart.sh - from a fresh Debian 12 machine to a working CFS, in one go.
#
#   deploy/quickstart.sh          install packages, build, start a local
#                                 cluster and show it working
#   deploy/quickstart.sh test     install packages, build, run the whole test
#                                 suite (and again under ASan+UBSan)
#                                 and print every test log
#
# Build trees: build/ (normal, -Werror) and build-asan/ (sanitizers), both
# under the source tree and ignored by git.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
MODE=${1:-demo}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

say() { printf '\n==> %s\n' "$*"; }

deploy/setup-debian.sh

if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	say "autoreconf"
	autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
fi

build() { # build DIR CONFIGURE-ARGS...
	dir=$1; shift
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/config.status" ]; then
		(cd "$dir" && "$TOP/configure" -q "$@")
	fi
	make -C "$dir" -s -j"$JOBS"
}

print_logs() { # print_logs DIR
	find "$1/tests" -name '*.log' ! -name 'test-suite.log' 2>/dev/null | sort |
	while read -r log; do
		printf '\n----- %s -----\n' "${log#"$1"/}"
		cat "$log"
	done
}

case "$MODE" in
test|check)
	say "build (warnings are errors)"
	build build --enable-werror
	status=0
	say "make check"
	make -C build -j"$JOBS" check || status=1
	print_logs build
	say "make check again under AddressSanitizer + UndefinedBehaviorSanitizer"
	build build-asan --enable-werror --enable-sanitize
	make -C build-asan -j"$JOBS" check || status=1
	print_logs build-asan
	pass=0; fail=0; failed=
	for d in build build-asan; do
		for trs in $(find "$d/tests" -name '*.trs' 2>/dev/null); do
			if grep -q '^:test-result: PASS' "$trs"; then pass=$((pass + 1))
			elif grep -q '^:test-result: SKIP' "$trs"; then :
			else fail=$((fail + 1)); failed="$failed ${trs%.trs}.log"; fi
		done
	done
	# The failures again, last, so that whoever reads only the tail of
	# this output sees what failed and why.
	for log in $failed; do
		printf '\n----- FAILED: %s (its last 40 lines) -----\n' "$log"
		tail -n 40 "$log"
	done
	echo
	for log in $failed; do
		echo "FAILED: ${log%.log}.trs"
		grep -E '^(not ok|FAIL|ERROR)' "$log" | sed 's/^/    /' || true
	done
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ] || status=1
	exit $status
	;;
demo)
	say "build"
	build build
	say "demo"
	exec tests/demo.sh "$TOP/build"
	;;
*)
	echo "usage: deploy/quickstart.sh [test]" >&2
	exit 2
	;;
esac
