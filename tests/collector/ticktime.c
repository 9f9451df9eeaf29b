/*
 * ticktime.c - checks a recording's ticks against its events: a TICK counts
 * the events applied before it, so it must not be dated after an event that
 * comes later in the stream (the collector dates ticks by its drain's
 * watermark; a tick dated by the clock ran ahead of events still in the
 * rings when the collector lagged, after its warm-up or behind a busy
 * program). Event times are sent in whole 100 us (EMIT_QUANTUM_NS): an event
 * after a tick at T must be at T rounded down to that, or later.
 *
 * usage: ticktime FILE.heapline
 * prints "ticks N events M" and exits 0, or names the first event dated
 * before the tick that precedes it and exits 1; 2 on an unreadable file.
 */
#include <stdio.h>
#include <stdlib.h>

#include "decode.h"
#include "recfile.h"
#include "wire.h"

#define QUANTUM_NS 100000

int main(int argc, char **argv)
{
    struct recfile_reader r;
    struct decode d;
    struct wire_msg m;
    static char buf[1 << 16];
    unsigned long long ticks = 0, events = 0;
    int64_t tick = -1;
    ssize_t n;
    int rc;

    if (argc != 2 || recfile_open(&r, argv[1]) != 0) {
        fprintf(stderr, "usage: ticktime FILE.heapline (a readable recording)\n");
        return 2;
    }
    decode_init(&d);
    while ((n = recfile_read(&r, buf, sizeof(buf))) > 0) {
        if (decode_feed(&d, buf, (size_t)n) < 0)
            break;
        while ((rc = decode_next(&d, &m)) == 1) {
            if (m.type == WIRE_TICK) {
                if (m.u.state.totals.time < tick) {
                    printf("tick %llu at %lld ns is before the tick before it (%lld ns)\n", ticks,
                           (long long)m.u.state.totals.time, (long long)tick);
                    return 1;
                }
                tick = m.u.state.totals.time;
                ticks++;
            } else if (m.type == WIRE_EVENTS) {
                struct events_iter it;
                struct wire_event ev;

                decode_events_begin(&it, &m);
                while (decode_events_next(&it, &ev) == 1) {
                    if (ev.op > WIRE_OP_REALLOC)
                        continue;
                    events++;
                    if (tick >= 0 && ev.time < tick - tick % QUANTUM_NS) {
                        printf("event %llu at %lld ns comes after tick %llu at %lld ns\n", events,
                               (long long)ev.time, ticks, (long long)tick);
                        return 1;
                    }
                }
            }
        }
        if (rc < 0 && rc != WIRE_ENEEDMORE) {
            printf("unreadable stream after %llu events (error %d)\n", events, rc);
            return 2;
        }
    }
    printf("ticks %llu events %llu\n", ticks, events);
    recfile_close(&r);
    decode_free(&d);
    return 0;
}
