#!/bin/bash
# t_forks.sh - 40 rounds of bash command substitutions: forked children that allocate,
# pipe and exec. Prints 142. Under the collector: same output, exit 0, every time.
n=0
for i in $(seq 40); do
    v=$(echo "$i" | tr 0-9 a-j)
    w=$(printf '%s' "$v$i")
    n=$((n + ${#w}))
done
echo "$n"
