#!/bin/bash
# tests/cli/run.sh - the command line as a user meets it: exit statuses and the
# exact error lines of usage errors, --help of every command, refusals of
# recordings and socket directories that are not safe, stale sockets.
#
# One line per check: PASS, FAIL (expected vs got) or SKIP (needs root and
# setpriv). Exits 1 if any check failed. Environment: BUILD (default build).
set -u

cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
HL=$PWD/$BUILD/heapline
LIB=$PWD/$BUILD/libheapline.so
W=$(mktemp -d /tmp/heapline-cli.XXXXXX)
PASSED=0
FAILED=0
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT

pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }

# check NAME STATUS STDERR CMD...: CMD exits STATUS and prints exactly STDERR
# (one line) on stderr
check() {
    local name=$1 want_rc=$2 want_err=$3 err rc
    shift 3
    err=$("$@" 2>&1 >/dev/null </dev/null)
    rc=$?
    if [ "$rc" != "$want_rc" ] || [ "$err" != "$want_err" ]; then
        fail "$name" "expected status $want_rc and '$want_err', got status $rc and '$err'"
    else
        pass "$name"
    fi
}

# ---- usage errors: one line with a hint, status 2 ----
check unknown-command 2 "heapline: unknown command 'frob' (see heapline --help)" "$HL" frob
check unknown-option 2 "heapline: unknown option '--frob' (see heapline --help)" "$HL" --frob
check report-option 2 "heapline report: unknown option --frob (see heapline report --help)" \
    "$HL" report x.heapline --frob
check report-top 2 "heapline report: --top 0: not a number from 1 to 1000000000 (see heapline report --help)" \
    "$HL" report x.heapline --top 0
check record-no-o 2 "heapline record: record needs -o FILE (see heapline record --help)" \
    "$HL" record -- true
check run-no-cmd 2 "heapline run: no command to run (see heapline run --help)" "$HL" run
check attach-option 2 "heapline attach: unknown option -x (see heapline attach --help)" \
    "$HL" attach -x
check replay-none 2 "heapline replay: replay needs a FILE (see heapline replay --help)" "$HL" replay
check backrefs-depth 2 \
    "heapline backrefs: bad depth: 1024 (from 1 to 1000) (see heapline backrefs --help)" \
    "$HL" backrefs 1 --address 0x10 --depth 1024
check backrefs-fanout 2 \
    "heapline backrefs: bad fanout: 0 (from 1 to 1000) (see heapline backrefs --help)" \
    "$HL" backrefs 1 --address 0x10 --fanout 0
check backrefs-no-site 2 \
    "heapline backrefs: give exactly one of --site FUNCTION|FILE:LINE, --address ADDR and --type NAME (see heapline backrefs --help)" \
    "$HL" backrefs 1
check backrefs-option 2 "heapline backrefs: unknown option --frob (see heapline backrefs --help)" \
    "$HL" backrefs 1 --frob

# ---- run -o: a recording that cannot be created is refused before the program starts ----
check run-bad-output 1 "heapline: /nonexistent_dir/x: No such file or directory" \
    "$HL" run -o /nonexistent_dir/x -- touch "$W/ran"
[ -e "$W/ran" ] && fail run-bad-output-started "the program ran" || pass run-bad-output-not-started
check record-bad-output 1 "heapline: /nonexistent_dir/x: No such file or directory" \
    "$HL" record -o /nonexistent_dir/x -- touch "$W/ran"

# an empty file name is a usage error, not "heapline: : Is a directory"
check record-empty-output 2 "heapline record: -o '': an empty file name (see heapline record --help)" \
    "$HL" record -o "" -- touch "$W/ran"
check run-empty-output 2 "heapline run: -o '': an empty file name (see heapline run --help)" \
    "$HL" run --output= -- touch "$W/ran"
[ -e "$W/ran" ] && fail empty-output-started "the program ran" || pass empty-output-not-started
check record-pid-empty-output 2 "heapline record: -o '': an empty file name (see heapline record --help)" \
    "$HL" record --pid 2147483647 -o ""
check attach-empty-output 2 "heapline attach: -o '': an empty file name (see heapline attach --help)" \
    "$HL" attach -o "" 2147483647
check report-empty-html 2 "heapline report: --html '': an empty file name (see heapline report --help)" \
    "$HL" report x.heapline --html ""
# --exact, attach's word for every allocation, is record's default too
check record-exact 0 "" "$HL" record --exact -o "$W/exact.heapline" -- true
out=$("$HL" report "$W/exact.heapline" --json 2>&1 | grep -c '"sampled": false')
[ "$out" = 1 ] && pass record-exact-not-sampled || fail record-exact-not-sampled "expected \"sampled\": false in report --json"

check attach-bad-pid 1 "heapline: bad pid: 0" "$HL" attach 0
check backrefs-bad-pid 1 "heapline backrefs: bad pid: 99999999999" "$HL" backrefs 99999999999 --address 0x10

# ---- --help of every command: status 0, its usage line on stdout ----
for c in run record attach replay report diff check backrefs; do
    out=$("$HL" "$c" --help 2>"$W/help.err")
    rc=$?
    want=$("$HL" --help | sed -n "s/^  heapline $c  */heapline $c /p" | head -1)
    if [ "$rc" = 0 ] && [ "$(echo "$out" | head -1)" = "usage: $want" ] && [ ! -s "$W/help.err" ]; then
        pass "help-$c"
    else
        fail "help-$c" "expected status 0 and 'usage: $want', got status $rc and '$(echo "$out" | head -1)'"
    fi
done
# a program's own --help is the program's
out=$("$HL" record -o "$W/h.heapline" -- sh -c 'echo "sh got $1"' sh --help 2>/dev/null)
[ "$out" = "sh got --help" ] && pass help-program-dashdash || fail help-program-dashdash "got '$out'"
out=$("$HL" record -o "$W/h.heapline" sh -c 'echo "sh got $1"' sh --help 2>/dev/null)
[ "$out" = "sh got --help" ] && pass help-program || fail help-program "got '$out'"
out=$("$HL" record -o "$W/h.heapline" --help)
case $out in "usage: heapline record "*) pass help-record-after-o ;; *) fail help-record-after-o "got '$out'" ;; esac
out=$("$HL" backrefs --help)
case $out in
*"--fanout N "*"(1 to 1000, default 64)"*) pass help-backrefs-fanout ;;
*) fail help-backrefs-fanout "backrefs --help does not explain --fanout: $out" ;;
esac
"$HL" --help | grep -q -- '--fanout N' && pass help-fanout ||
    fail help-fanout "heapline --help does not list backrefs --fanout"

# ---- the program heapline record starts (posix_spawn) ----
check record-no-program 127 "heapline: nosuchprogram-hl: No such file or directory" \
    "$HL" record -o "$W/np.heapline" -- nosuchprogram-hl
check run-no-program 127 "heapline: nosuchprogram-hl: No such file or directory" \
    "$HL" run -- nosuchprogram-hl
# a program killed by a signal the collector does not catch: its status, and a line that says so
check record-killed 143 "heapline: sh was killed by signal 15 (Terminated); $W/kd.heapline holds what was recorded" \
    "$HL" record -o "$W/kd.heapline" -- sh -c 'kill -TERM $$'
printf 'x\n' >"$W/notexec"
chmod -x "$W/notexec"
check run-not-executable 126 "heapline: $W/notexec: Permission denied" "$HL" run -- "$W/notexec"
printf 'echo "script ran with $1"\n' >"$W/noshebang"
chmod +x "$W/noshebang"
out=$("$HL" record -o "$W/ns.heapline" -- "$W/noshebang" arg1 2>/dev/null)
[ "$out" = "script ran with arg1" ] && pass record-script-without-shebang ||
    fail record-script-without-shebang "expected 'script ran with arg1' (run by /bin/sh, as execvp does), got '$out'"
# a second recording into the same file replaces the first: the report names the second run
"$HL" record --sample 512K -o "$W/again.heapline" -- sh -c 'echo $$' >"$W/pid1" 2>/dev/null
"$HL" record --sample 512K -o "$W/again.heapline" -- sh -c 'echo $$' >"$W/pid2" 2>/dev/null
out=$("$HL" report "$W/again.heapline" 2>&1 | head -1)
case $out in
*"(pid $(cat "$W/pid2"))") pass record-again-replaces ;;
*) fail record-again-replaces "expected the second run's pid $(cat "$W/pid2") (first $(cat "$W/pid1")), got '$out'" ;;
esac

# ---- a file is not a socket ----
: >"$W/x.heapline"
check attach-file 1 "heapline: $W/x.heapline: a file, not a socket (to open a recording: heapline replay $W/x.heapline)" \
    "$HL" attach "$W/x.heapline"
check backrefs-file 1 "heapline backrefs: $W/x.heapline: a file, not a socket (to open a recording: heapline replay $W/x.heapline)" \
    "$HL" backrefs "$W/x.heapline" --address 0x10

# ---- a program's name where a pid goes ----
check attach-name 1 \
    "heapline: nosuchprogram-hl: not a pid, and no socket of that name (a program's pid: pidof nosuchprogram-hl)" \
    env -C "$W" "$HL" attach nosuchprogram-hl
check backrefs-name 1 \
    "heapline backrefs: nosuchprogram-hl: not a pid, and no socket of that name (a program's pid: pidof nosuchprogram-hl)" \
    env -C "$W" "$HL" backrefs nosuchprogram-hl --site main

# under DIR PROG ARGS...: runs PROG under the collector with its sockets in DIR
# (as XDG_RUNTIME_DIR); sets PID and SOCK once the socket is there
under() {
    local dir=$1
    shift
    mkdir -p "$dir"
    env -u HEAPLINE_SOCKET -u HEAPLINE_SOCKET_DIR XDG_RUNTIME_DIR="$dir" LD_PRELOAD="$LIB" "$@" &
    PID=$!
    pids+=("$PID")
    SOCK=$dir/heapline/$PID.sock
    for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.05; done
    fail "under-$PID" "no socket $SOCK within 5 s"
    return 1
}
hl() { env -u HEAPLINE_SOCKET_DIR XDG_RUNTIME_DIR="$W/xdg" "$HL" "$@"; }

# ---- backrefs refuses a socket directory that is not ours, exactly as attach does ----
if under "$W/xdg" sleep 30; then
    D=$W/xdg/heapline
    check backrefs-found 1 "heapline backrefs: no allocation site named nosuchfunction" \
        hl backrefs "$PID" --site nosuchfunction
    chmod 0777 "$D"
    check attach-open-dir 1 "heapline: $D: writable by others, refusing it" hl attach "$PID"
    check backrefs-open-dir 1 "heapline backrefs: $D: writable by others, refusing it" \
        hl backrefs "$PID" --site nosuchfunction
    chmod 0700 "$D"
    if [ "$(id -u)" = 0 ]; then
        chown 65534 "$D"
        check attach-other-owner 1 "heapline: $D: owned by another user, refusing it" \
            hl attach "$PID"
        check backrefs-other-owner 1 "heapline backrefs: $D: owned by another user, refusing it" \
            hl backrefs "$PID" --site nosuchfunction
        chown 0 "$D"
    else
        echo "SKIP other-owner: needs root"
    fi

    # ---- a dead program's socket: removed by attach (by pid or path) and by the next collector ----
    kill -9 "$PID"
    wait "$PID" 2>/dev/null
    [ -S "$SOCK" ] || fail stale-left "the test needs the killed program's socket, and $SOCK is gone"
    check attach-stale-pid 1 "heapline: no process with pid $PID (its stale socket $SOCK was removed)" \
        hl attach "$PID"
    [ -e "$SOCK" ] && fail attach-stale-pid-removed "$SOCK is still there" || pass attach-stale-pid-removed
    under "$W/xdg" sleep 30 && {
        kill -9 "$PID"
        wait "$PID" 2>/dev/null
        check attach-stale-path 1 "heapline: $SOCK: stale socket of a process that has ended (removed)" \
            hl attach "$SOCK"
        [ -e "$SOCK" ] && fail attach-stale-path-removed "$SOCK is still there" ||
            pass attach-stale-path-removed
    }
    under "$W/xdg" sleep 30 && {
        stale=$SOCK
        kill -9 "$PID"
        wait "$PID" 2>/dev/null
        under "$W/xdg" sleep 30 && {
            [ -e "$stale" ] && fail collector-stale "the next collector left $stale" ||
                pass collector-stale
            kill "$PID"
        }
    }
    # a socket named for a pid that does not exist but still listening is not removed
    python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); time.sleep(30)' \
        "$D/999999.sock" &
    pids+=($!)
    for _ in $(seq 100); do [ -S "$D/999999.sock" ] && break; sleep 0.05; done
    check attach-dead-listening 1 "heapline: no process with pid 999999" hl attach 999999
    [ -S "$D/999999.sock" ] && pass listening-kept || fail listening-kept "a listening socket was removed"
fi

# ---- the socket directory: HEAPLINE_SOCKET_DIR, and a fallback when /tmp/heapline-<uid> is taken ----
mkdir -m 0700 "$W/sd"
env -u XDG_RUNTIME_DIR HEAPLINE_SOCKET_DIR="$W/sd" LD_PRELOAD="$LIB" sleep 30 &
PID=$!
pids+=("$PID")
for _ in $(seq 100); do [ -S "$W/sd/$PID.sock" ] && break; sleep 0.05; done
[ -S "$W/sd/$PID.sock" ] && pass socket-dir-env || fail socket-dir-env "no socket $W/sd/$PID.sock"
check socket-dir-env-found 1 "heapline backrefs: no allocation site named nosuchfunction" \
    env HEAPLINE_SOCKET_DIR="$W/sd" "$HL" backrefs "$PID" --site nosuchfunction
kill "$PID"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    u=65530
    rm -rf "/tmp/heapline-$u"
    mkdir -m 0755 "/tmp/heapline-$u" # someone else (root) took the user's /tmp directory
    chmod 0711 "$W"
    mkdir -m 0700 "$W/home"
    chown "$u" "$W/home"
    as() { setpriv --reuid="$u" --regid="$u" --clear-groups env -u XDG_RUNTIME_DIR \
        -u HEAPLINE_SOCKET_DIR HOME="$W/home" "$@"; }
    # setpriv, env and sleep exec each other: $! is sleep's pid
    setpriv --reuid="$u" --regid="$u" --clear-groups env -u XDG_RUNTIME_DIR -u HEAPLINE_SOCKET_DIR \
        HOME="$W/home" LD_PRELOAD="$LIB" sleep 30 &
    PID=$!
    pids+=("$PID")
    S=$W/home/.cache/heapline/$PID.sock
    for _ in $(seq 100); do [ -S "$S" ] && break; sleep 0.05; done
    [ -S "$S" ] && pass socket-fallback || fail socket-fallback "no socket $S"
    check socket-fallback-found 1 "heapline backrefs: no allocation site named nosuchfunction" \
        as "$HL" backrefs "$PID" --site nosuchfunction
    kill "$PID"
    rm -rf "/tmp/heapline-$u"
else
    echo "SKIP socket-fallback: needs root and setpriv"
fi

echo "cli tests: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
