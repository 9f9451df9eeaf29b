# tests/e2e/lib.sh - helpers for the TUI end-to-end tests: a private tmux
# server, fixed-size sessions, keys, and waiting for text on the screen.
#
# Never sleep-and-hope: every step waits for what a person would see, polling
# capture-pane until it shows up or a timeout passes (then the screen is
# printed and the test fails).

E2E_TIMEOUT=${E2E_TIMEOUT:-15}
TMUX_SOCK="heapline-e2e-$$"
T() { tmux -L "$TMUX_SOCK" -f /dev/null "$@"; }

e2e_fail() {
    echo "FAIL: $*" >&2
    if [ -n "${E2E_SESSION:-}" ]; then
        echo "---- screen ($E2E_SESSION) ----" >&2
        T capture-pane -p -t "$E2E_SESSION" >&2 || true
        echo "-------------------------------" >&2
    fi
    exit 1
}

# E2E_PIDS: programs a test started in the background, killed on the way out
# however the test ends (a failed census step left a pyservice.py running,
# a Tick every 20 ms, five of them by the end of a day's runs)
E2E_PIDS=""
e2e_cleanup() {
    T kill-server 2>/dev/null || true
    for p in $E2E_PIDS; do kill "$p" 2>/dev/null || true; done
}

# e2e_private_tmp NAME: TMP, a fresh directory removed on exit (the tmux
# server and E2E_PIDS cleaned up first), and an environment in which the
# TUIs find none of a user's sockets or settings.
e2e_private_tmp() {
    TMP=$(mktemp -d "/tmp/heapline-$1.XXXXXX")
    trap 'e2e_cleanup; rm -rf "$TMP"' EXIT
    export XDG_RUNTIME_DIR=$TMP/run
    mkdir -p -m 700 "$XDG_RUNTIME_DIR"
    unset NO_COLOR HEAPLINE_ASCII HEAPLINE_SPARK
}

# start NAME WIDTH HEIGHT COMMAND...: a new session running COMMAND in a
# shell that reports the exit status and stays, so the restored screen can
# be read after the program ends.
e2e_start() {
    local name=$1 w=$2 h=$3
    shift 3
    E2E_SESSION=$name
    T kill-session -t "$name" 2>/dev/null || true
    T new-session -d -s "$name" -x "$w" -y "$h" -c "${E2E_CWD:-$PWD}" \
        "env LANG=${E2E_LANG:-C.UTF-8} LC_ALL=${E2E_LANG:-C.UTF-8} $*; echo \"heapline-exit=\$?\"; exec sleep 3600"
    T set-option -t "$name" -g status off >/dev/null 2>&1 || true
}

e2e_screen() { T capture-pane -p -t "$E2E_SESSION"; }

e2e_keys() { T send-keys -t "$E2E_SESSION" "$@"; }

# wait_for TEXT [SECONDS]: until the screen contains TEXT (fixed string)
e2e_wait_for() {
    local text=$1 limit=${2:-$E2E_TIMEOUT}
    local end=$(($(date +%s%N) + limit * 1000000000))
    while [ "$(date +%s%N)" -lt "$end" ]; do
        if e2e_screen | grep -qF -- "$text"; then return 0; fi
        sleep 0.05
    done
    e2e_fail "timed out waiting for '$text'"
}

# wait_gone TEXT [SECONDS]: until the screen no longer contains TEXT
e2e_wait_gone() {
    local text=$1 limit=${2:-$E2E_TIMEOUT}
    local end=$(($(date +%s%N) + limit * 1000000000))
    while [ "$(date +%s%N)" -lt "$end" ]; do
        if ! e2e_screen | grep -qF -- "$text"; then return 0; fi
        sleep 0.05
    done
    e2e_fail "timed out waiting for '$text' to go"
}

# wait_re REGEX [SECONDS]: until a line matches the extended regex
e2e_wait_re() {
    local re=$1 limit=${2:-$E2E_TIMEOUT}
    local end=$(($(date +%s%N) + limit * 1000000000))
    while [ "$(date +%s%N)" -lt "$end" ]; do
        if e2e_screen | grep -qE -- "$re"; then return 0; fi
        sleep 0.05
    done
    e2e_fail "timed out waiting for /$re/"
}

# The cursor time in the title ("t=1.234s of ..."), e.g. 1.234s
e2e_cursor_time() { e2e_screen | head -1 | sed -n 's/.* t=\([^ ]*\) of .*/\1/p'; }

# wait until the cursor time differs from $1
e2e_wait_time_change() {
    local before=$1 limit=${2:-$E2E_TIMEOUT}
    local end=$(($(date +%s%N) + limit * 1000000000))
    while [ "$(date +%s%N)" -lt "$end" ]; do
        local now
        now=$(e2e_cursor_time)
        if [ -n "$now" ] && [ "$now" != "$before" ]; then return 0; fi
        sleep 0.05
    done
    e2e_fail "the cursor time stayed at $before"
}

e2e_assert_screen() {
    e2e_screen | grep -qF -- "$1" || e2e_fail "screen lacks '$1'"
}

# assert_re REGEX: a line of the screen matches the extended regex now
e2e_assert_re() {
    e2e_screen | grep -qE -- "$1" || e2e_fail "no line matches /$1/"
}

e2e_assert_not_screen() {
    if e2e_screen | grep -qF -- "$1"; then e2e_fail "screen shows '$1'"; fi
}

# The terminal is restored: the shell's line after the program, the normal
# screen (not the alternate one) and a visible cursor.
e2e_assert_restored() {
    e2e_wait_for "heapline-exit=${1:-0}"
    local alt
    alt=$(T display-message -p -t "$E2E_SESSION" '#{alternate_on}')
    [ "$alt" = 0 ] || e2e_fail "the alternate screen is still on after exit"
    local cur
    cur=$(T display-message -p -t "$E2E_SESSION" '#{cursor_flag}')
    [ "$cur" = 1 ] || e2e_fail "the cursor is still hidden after exit"
}

# save NAME: the screen as assets/screens/NAME.txt (when E2E_SAVE is set)
e2e_save() {
    if [ -n "${E2E_SAVE:-}" ]; then
        mkdir -p "$E2E_SAVE"
        e2e_screen >"$E2E_SAVE/$1.txt"
    fi
}

# e2e_py_service NAME SCRIPT: SCRIPT run by $PY under the collector (PYTHONMALLOC=malloc, so its
# objects are heap blocks), its stdin the fifo $TMP/NAME.in held open on fd 8 (echo >&8 talks
# to it, exec 8>&- ends it), its output in $TMP/NAME.out and .err; returns once it printed
# "ready" and its socket is there, its pid in E2E_PY_PID (killed on the way out)
e2e_py_service() {
    rm -f "$TMP/$1.in"
    mkfifo "$TMP/$1.in"
    exec 8<>"$TMP/$1.in"
    LD_PRELOAD=$(realpath "$BUILD/libheapline.so") PYTHONMALLOC=malloc "$PY" "$2" \
        <"$TMP/$1.in" >"$TMP/$1.out" 2>"$TMP/$1.err" &
    E2E_PY_PID=$!
    E2E_PIDS="$E2E_PIDS $E2E_PY_PID"
    for _ in $(seq 200); do
        grep -q '^ready ' "$TMP/$1.out" 2>/dev/null && [ -S "$XDG_RUNTIME_DIR/heapline/$E2E_PY_PID.sock" ] && break
        sleep 0.05
    done
    grep -q '^ready ' "$TMP/$1.out" || e2e_fail "$2 did not start: $(cat "$TMP/$1.err")"
}

# program_pid: the program that the session's `heapline run` started
program_pid() {
    local shell tui
    shell=$(T list-panes -t "$E2E_SESSION" -F '#{pane_pid}')
    tui=$(pgrep -P "$shell" | head -1)
    pgrep -P "$tui" | head -1
}
