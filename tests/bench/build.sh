#!/bin/bash
# tests/bench/build.sh DIR [PROG...] - builds into DIR the bench programs that compile the
# collector's or the protocol's sources, the one place their compile lines are written:
#
#   scan_bench  the scan engine alone (tests/bench/scan_bench.c + collector/scan*.c and what
#               they need), for scan.sh
#   graphs      tests/backrefs/graphs.c, the program scan.sh scans end to end
#   zfloor      the collector's writer over a recording (tests/bench/zfloor.c + libhlproto.a,
#               which `make` builds), for run.sh's floor
#
# No PROG: all of them. make bench's scripts build through it; `make tools` (tests/tools/run.sh)
# builds them all and runs none, so a collector change that breaks a bench's build fails there
# and not days later in make bench (scan.sh broke once when scan.c gained a dependency).
# (tests/bench/unwind_bench_build.sh builds the unwinder's bench; tests/tools/run.sh runs it.)
# Environment: BUILD (default build), CC (default cc). Exit status 1 when any build failed;
# the compiler's messages on stderr.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
CC=${CC:-cc}
OUT=${1:?usage: tests/bench/build.sh DIR [scan_bench|graphs|zfloor ...]}
shift
[ $# -gt 0 ] || set -- scan_bench graphs zfloor
mkdir -p "$OUT" || exit 1
PROTO_LIBS=$(pkg-config --libs msgpack libzstd 2>/dev/null || echo -lmsgpackc -lzstd)

rc=0
for prog in "$@"; do
    case $prog in
    scan_bench)
        # shellcheck disable=SC2046
        $CC -O2 -g -std=c11 -D_GNU_SOURCE -Iprotocol -Icollector -o "$OUT/scan_bench" \
            tests/bench/scan_bench.c collector/scan.c collector/scanbfs.c collector/scanblocks.c \
            collector/scanwords.c collector/scanroots.c \
            collector/scansp.c collector/scanpy.c collector/ownmaps.c collector/debugfile.c \
            collector/scanheap.c collector/heapwalk.c collector/heaparena.c collector/heapchunk.c \
            collector/procmaps.c collector/untracked.c collector/pymheap.c collector/scanpydeque.c \
            collector/heaptls.c collector/demangle.c \
            protocol/*.c $(pkg-config --cflags --libs msgpack libzstd 2>/dev/null ||
                echo -lmsgpackc -lzstd) || rc=1
        ;;
    graphs)
        $CC -O1 -g -fno-omit-frame-pointer -Wl,-z,now -o "$OUT/graphs" tests/backrefs/graphs.c \
            -ldl -lpthread || rc=1
        ;;
    zfloor)
        # shellcheck disable=SC2086
        $CC -std=gnu11 -O2 -g -Wall -Wextra -Iprotocol -o "$OUT/zfloor" tests/bench/zfloor.c \
            "$BUILD/libhlproto.a" $PROTO_LIBS || rc=1
        ;;
    *)
        echo "tests/bench/build.sh: no bench program $prog" >&2
        rc=1
        ;;
    esac
done
exit $rc
