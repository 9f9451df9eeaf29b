/*
 * complete.c - the verdict on a recording: complete, or the first reason it
 * is not, and whether its leaks can be named.
 *
 * Invariant: the causes are taken in the order they cut the recording: what
 * stopped the figures (DISABLED: the collector off, or the record file not
 * writable) before what the reader found (corrupt bytes, a file cut short, no
 * END), before events missed by a client that fell behind (its figures stay
 * exact, from ticks, but blocks are missing).
 */
#include "complete.h"

#include <stdio.h>
#include <string.h>

#include "model.h"
#include "wire.h"

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

static void judge_disabled(const struct model_summary *s, struct complete *c)
{
    const char *why = *s->disabled_reason ? s->disabled_reason : "no reason given";

    c->time = s->disabled_time;
    switch (s->disabled_cause) {
    case WIRE_OFF_DISK_FULL:
        c->reason = "disk_full";
        snprintf(c->message, sizeof c->message,
                 "the recording stopped at %.3f s, disk full (%s): figures stop there",
                 secs(c->time), why);
        break;
    case WIRE_OFF_FILE_LIMIT:
        c->reason = "file_size_limit";
        snprintf(c->message, sizeof c->message,
                 "the recording stopped at %.3f s at the file size limit (%s): figures stop "
                 "there",
                 secs(c->time), why);
        break;
    case WIRE_OFF_WRITE_ERROR:
        c->reason = "write_error";
        snprintf(c->message, sizeof c->message,
                 "the recording stopped at %.3f s (%s): figures stop there", secs(c->time), why);
        break;
    default:
        c->reason = "disabled";
        snprintf(c->message, sizeof c->message,
                 "the collector turned itself off at %.3f s (%s): figures stop there",
                 secs(c->time), why);
        break;
    }
}

void complete_judge(const struct model *m, const struct complete_input *in, struct complete *c)
{
    const struct model_summary *s = model_summary(m);
    int ended = s->state == MODEL_ENDED || (s->disabled && s->end_time > 0);

    memset(c, 0, sizeof(*c));
    c->complete = 1;
    if (s->disabled) {
        judge_disabled(s, c);
    } else if (in->corrupt) {
        c->reason = "corrupt";
        c->time = s->time_last;
        snprintf(c->message, sizeof c->message,
                 "corrupt data near byte %llu of the file: read up to %.3f s, the rest is lost",
                 (unsigned long long)in->corrupt_at, secs(c->time));
    } else if (in->truncated) {
        c->reason = "truncated";
        c->time = s->time_last;
        snprintf(c->message, sizeof c->message,
                 "recording truncated at %.3f s: the file stops mid-stream (the program or "
                 "heapline was killed?)",
                 secs(c->time));
    } else if (!ended && !in->live) {
        c->reason = "no_end";
        c->time = s->time_last;
        snprintf(c->message, sizeof c->message,
                 "the recording stops at %.3f s without the program's end (it was killed, or "
                 "the stream was cut)",
                 secs(c->time));
    } else if (s->missed) {
        c->reason = "missed_events";
        c->time = s->missed_time;
        snprintf(c->message, sizeof c->message,
                 "%llu events missed from %.3f s on (the client fell behind): totals and sites "
                 "from ticks, objects missing",
                 (unsigned long long)s->missed, secs(c->time));
    }
    c->complete = c->reason == NULL;

    if (!c->complete)
        snprintf(c->leaks_why, sizeof c->leaks_why, "the recording is incomplete");
    else if (in->live && s->state != MODEL_ENDED)
        snprintf(c->leaks_why, sizeof c->leaks_why, "the program is still running");
    else if (s->end_reason == WIRE_END_SIGNAL)
        snprintf(c->leaks_why, sizeof c->leaks_why,
                 "the program was killed by signal %d: what it held then was never given a "
                 "chance to be freed",
                 s->end_status);
    else if (s->end_reason != WIRE_END_EXIT && s->end_reason != WIRE_END_EXEC)
        snprintf(c->leaks_why, sizeof c->leaks_why, "the stream ended before the program did");
    else
        c->leaks_known = 1;
}
