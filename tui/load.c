/*
 * load.c - a recording read whole into a model, through the same source and
 * model_apply() as replay, so every one-shot command sees what the TUI sees.
 */
#include "load.h"

#include <stdint.h>

#include "complete.h"
#include "model.h"
#include "source.h"

struct model *load_recording(const char *path, int flags, FILE *errf, struct complete_input *in)
{
    char err[1024];
    struct source *src = source_open_file(path, err, sizeof(err));
    struct model *m;
    struct complete c;
    const char *first;

    if (in)
        *in = (struct complete_input){0};
    if (!src) {
        fprintf(errf, "heapline: %s\n", err);
        return NULL;
    }
    m = model_new();
    if (!m) {
        source_close(src);
        fprintf(errf, "heapline: out of memory\n");
        return NULL;
    }
    if (flags & LOAD_FINE)
        model_set_budget(m, UINT64_MAX / 2, UINT32_MAX / 2);
    if (flags & LOAD_TOTALS) { /* ticks rule, as after MISSED; source_read skips them */
        if (model_skip_events(m) < 0) {
            model_free(m);
            source_close(src);
            fprintf(errf, "heapline: out of memory\n");
            return NULL;
        }
    }
    while (source_state(src) == SOURCE_OPEN)
        if (source_read(src, m, 1 << 16) < 0)
            break;
    if (source_state(src) == SOURCE_FAILED) {
        fprintf(errf, "heapline: %s\n", source_message(src));
        goto fail;
    }
    if (model_summary(m)->messages == 0) {
        if (source_corrupt(src, NULL))
            fprintf(errf, "heapline: %s\n", source_message(src));
        else
            fprintf(errf, "heapline: %s: the recording is empty%s\n", path,
                    source_truncated(src) ? " (recording truncated)" : "");
        goto fail;
    }
    if (source_model_errors(src, &first))
        fprintf(errf, "heapline: %s: %llu inconsistent messages ignored (first at %s)\n", path,
                (unsigned long long)source_model_errors(src, NULL), first);
    source_verdict(src, m, &c);
    if (!c.complete)
        fprintf(errf, "heapline: %s: INCOMPLETE recording: %s; reporting what it holds\n", path,
                c.message);
    if (in) {
        in->truncated = source_truncated(src);
        in->corrupt = source_corrupt(src, &in->corrupt_at);
    }
    source_close(src);
    return m;
fail:
    model_free(m);
    source_close(src);
    return NULL;
}
