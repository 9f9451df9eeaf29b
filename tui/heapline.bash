# heapline.bash - bash completion of heapline (installed by `make install` as
# PREFIX/share/bash-completion/completions/heapline).
#
# Commands and options are read from the program itself (heapline --help and
# heapline CMD --help, made from its command table), so they cannot drift.
# PIDs are those with a collector socket (<pid>.sock) in the socket
# directory, the directories tried in the order heapline tries them.

_heapline_pids()
{
    local d f pid dirs
    if [ -n "${HEAPLINE_SOCKET_DIR:-}" ]; then
        dirs=("$HEAPLINE_SOCKET_DIR")
    else
        dirs=(${XDG_RUNTIME_DIR:+"$XDG_RUNTIME_DIR/heapline"} "/tmp/heapline-$(id -u)"
            ${HOME:+"$HOME/.cache/heapline"})
    fi
    for d in "${dirs[@]}"; do
        for f in "$d"/*.sock; do
            [ -S "$f" ] || continue
            pid=${f##*/}
            pid=${pid%.sock}
            [[ $pid =~ ^[0-9]+$ ]] && [ -d "/proc/$pid" ] && echo "$pid"
        done
    done
}

_heapline()
{
    local cur prev cmd i words_before
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    local hl=${COMP_WORDS[0]}

    if [ "$COMP_CWORD" = 1 ]; then
        local cmds
        cmds=$("$hl" --help 2>/dev/null | sed -n 's/^  heapline \([a-z]*\) .*/\1/p' | sort -u)
        COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
        return
    fi
    cmd=${COMP_WORDS[1]}

    # after "--", run and record complete the program and its arguments
    for ((i = 2; i < COMP_CWORD; i++)); do
        if [ "${COMP_WORDS[i]}" = "--" ]; then
            if [ $((i + 1)) = "$COMP_CWORD" ]; then
                COMPREPLY=($(compgen -c -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            return
        fi
    done

    case $prev in
    -o | --output)
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    --at | --at-a | --at-b)
        COMPREPLY=($(compgen -W "peak end" -- "$cur"))
        return
        ;;
    --by)
        COMPREPLY=($(compgen -W "live allocated allocations" -- "$cur"))
        return
        ;;
    --top | --depth | --fanout | --max-peak | --max-leaked | --max-live | --max-site | \
        --no-leaks-from | --site | --address | --check)
        return # a value of the user's
        ;;
    esac

    if [[ $cur == -* ]]; then
        local opts
        opts=$("$hl" "$cmd" --help 2>/dev/null | grep -oE -- '(^|[][ (|,])--?[a-z][a-z-]*' |
            sed 's/^[^-]*//' | sort -u)
        COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
        return
    fi
    case $cmd in
    attach | backrefs)
        COMPREPLY=($(compgen -W "$(_heapline_pids)" -- "$cur"))
        [ ${#COMPREPLY[@]} = 0 ] && COMPREPLY=($(compgen -f -- "$cur"))
        ;;
    run | record) ;; # options, then "--"
    *)
        COMPREPLY=($(compgen -f -- "$cur"))
        ;;
    esac
}
complete -o filenames -F _heapline heapline
