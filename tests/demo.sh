#!/bin/sh
# demo.sh BUILDDIR - show what this build of CFS can do today.
# (Becomes `cfsctl dev up` + a mounted cluster once those exist.)
set -eu
B=${1:?usage: tests/demo.sh BUILDDIR}
echo "CFS is built in $B."
echo "Unit tests:"
make -C "$B" -s check-unit 2>&1 | grep -E '^(PASS|FAIL|# )' || true
