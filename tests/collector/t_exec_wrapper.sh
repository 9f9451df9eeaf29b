#!/bin/sh
# A wrapper like the ones distributions put in front of interpreters: it does
# a little work of its own, then execs the real program.
dir=$(dirname "$0")
: "${T_EXECD:=$dir/t_execd}"
exec "$T_EXECD" "$@"
