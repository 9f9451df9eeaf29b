#!/bin/sh
# tests/limit.sh SECONDS COMMAND [ARG...] - runs a test suite under a time limit
# (make test: SUITE_TIMEOUT). Past it the suite's process group is stopped
# (TERM, KILL 10 s later) and one line says so, so that a hang fails the suite
# at once instead of holding CI until CI's own limit ends it with no result (a
# lost ptrace interrupt hung tests/attach that way once).
limit=$1
shift
start=$(date +%s)
timeout -k 10 "$limit" "$@"
rc=$?
if [ $rc = 124 ] || { [ $rc = 137 ] && [ $(($(date +%s) - start)) -ge "$limit" ]; }; then
    echo "FAIL $1: still running after $limit s: stopped (a hang?)" >&2
fi
exit $rc
