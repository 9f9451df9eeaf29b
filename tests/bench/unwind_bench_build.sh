#!/bin/bash
# tests/bench/unwind_bench_build.sh DIR - builds DIR/unwind_bench: the collector's walk
# built into a library of its own (as in libheapline.so), and a program without frame
# pointers that walks 21 stacks of 5-25 frames both ways (tests/bench/unwind_bench.c).
# make bench times it; tests/tools/run.sh checks that its stacks agree. Exit status: the
# build's; its messages go to DIR/unwind_bench_build.log.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=$1
CF="-std=gnu11 -D_GNU_SOURCE -O2 -g -Icollector -Iprotocol $(pkg-config --cflags libunwind 2>/dev/null)"
# shellcheck disable=SC2086,SC2046
cc $CF -fno-omit-frame-pointer -ftls-model=initial-exec -fPIC -shared -DUNWIND_BENCH_LIB \
    -o "$B/libunwind_bench.so" tests/bench/unwind_bench.c collector/unwind.c collector/unwtable.c \
    collector/cfitab.c collector/ehframe.c $(pkg-config --libs libunwind 2>/dev/null || echo -lunwind) \
    -ldl -lpthread >"$B/unwind_bench_build.log" 2>&1 &&
    cc $CF -fomit-frame-pointer -o "$B/unwind_bench" tests/bench/unwind_bench.c \
        -L"$B" -lunwind_bench -Wl,-rpath,"$B" -pthread >>"$B/unwind_bench_build.log" 2>&1
