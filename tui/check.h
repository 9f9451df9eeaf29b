/*
 * check.h - `heapline check FILE --max-...`: memory limits for CI, as
 * pytest-memray's limit_memory and limit_leaks.
 *
 * Every limit is checked against the report's own figures (report_query,
 * model_view_at). Exit status: 0 when every limit holds (one line saying so
 * on stdout), 1 when one or more is broken (one line each on stdout: the
 * limit as given, what was measured, the site that holds most of it), 2 on
 * bad input (usage, an unreadable recording, --at beyond its end).
 */
#ifndef HEAPLINE_CHECK_H
#define HEAPLINE_CHECK_H

#include <stdint.h>
#include <stdio.h>

#include "report.h"

#define CHECK_MAX_LIMITS 64

enum check_kind {
    CHECK_MAX_PEAK = 0, /* the heap's peak (bytes live at once) */
    CHECK_MAX_LEAKED,   /* bytes live at the end */
    CHECK_MAX_LIVE,     /* bytes live at --at (default the end) */
    CHECK_MAX_SITE,     /* each site of a function: its peak live bytes */
    CHECK_NO_LEAKS      /* each site of a function: nothing live at the end */
};

struct check_limit {
    int kind;                 /* enum check_kind */
    uint64_t bytes;           /* the limit (0 for CHECK_NO_LEAKS) */
    const char *option;       /* "--max-peak", ... */
    const char *value;        /* the option's value as given: "10MiB", "parse=1M" */
    char function[160];       /* CHECK_MAX_SITE, CHECK_NO_LEAKS */
    struct report_options at; /* CHECK_MAX_LIVE: the --at after it (default the end) */
};

struct check_spec {
    struct check_limit limit[CHECK_MAX_LIMITS];
    int n;
    int fine; /* an --at SECONDS: the timeline at full resolution */
};

/* The options of `heapline check --help` (also in the command table). */
#define CHECK_HELP                                                                                 \
    "  --max-peak SIZE          the heap's peak (the most bytes live at once)\n"                   \
    "  --max-leaked SIZE        bytes still live at the end\n"                                     \
    "  --max-live SIZE          bytes live at the end, or at the --at T that follows\n"            \
    "  --at peak|end|SECONDS    the time of the --max-live before it\n"                            \
    "  --max-site FUNCTION=SIZE the peak live bytes of each site in FUNCTION\n"                    \
    "  --no-leaks-from FUNCTION nothing allocated in FUNCTION is live at the end\n"                \
    "SIZE: bytes, or with K, M, G, T (KB, KiB, ...: all powers of 1024): 10MiB, 512K, 1G\n"        \
    "exit status: 0 every limit holds, 1 a limit is broken (one line each), 2 bad input\n"

/*
 * Parses limits from argv[first..argc) into *c (zeroed first). The words are
 * kept by pointer, not copied. When file is not NULL, one argument that is
 * not an option is the recording, stored there; otherwise any such argument
 * is an error. cmd names the command in usage errors. Returns 0, or 2 after
 * one usage line on stderr (usage_error).
 */
int check_parse(const char *cmd, int argc, char **argv, int first, struct check_spec *c,
                const char **file);

/* Checks the recording at path against c; writes a line per broken limit (or
 * one that all hold) to out. Returns the exit status (0, 1, 2). */
int check_run(const char *path, const struct check_spec *c, FILE *out);

/* `heapline record -o FILE --check LIMITS -- CMD...`: parses LIMITS (words
 * split at blanks; '...' or "..." quote a word with blanks) before CMD
 * starts (status 2 on a bad one), records CMD (record_main), then checks
 * FILE. Returns CMD's status when it is not 0 (the check still prints its
 * lines), else check_run's. */
int check_record(const char *out, const char *limits, char *const argv[]);

/* `heapline check FILE LIMIT...` (argv[1] is "check"). */
int check_main(int argc, char **argv);

#endif
