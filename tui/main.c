/*
 * main.c - the `heapline` command line: parse, then hand over to one module.
 *
 * Every error is one line on stderr ("heapline: ...") and a non-zero exit;
 * a usage error prints the subcommand's usage line and exits 2. Nothing here
 * touches the terminal: the TUI (ui_main) owns it and restores it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backrefs.h"
#include "model.h"
#include "record.h"
#include "report.h"
#include "source.h"
#include "ui.h"
#include "wire.h"

#define HEAPLINE_VERSION "0.1.0"

static const char *const usage_lines[] = {
    "heapline run      [-o FILE] -- CMD [ARG...]",
    "heapline record   -o FILE   -- CMD [ARG...]",
    "heapline attach   PID|SOCKET [-o FILE]",
    "heapline replay   FILE",
    "heapline report   FILE [--json] [--top N] [--at peak|end|SECONDS]",
    "heapline backrefs PID|SOCKET (--site FUNCTION|FILE:LINE | --address ADDR) [--depth N] [--json|--dot]",
    NULL};

static void help(FILE *f)
{
    fprintf(f, "heapline - where is my memory going, and what is holding on to it?\n\nusage:\n");
    for (int i = 0; usage_lines[i]; i++)
        fprintf(f, "  %s\n", usage_lines[i]);
    fprintf(f,
            "\n"
            "  run       start CMD under the collector and watch it live\n"
            "  record    record CMD headless; exits with CMD's status\n"
            "  attach    watch a program already running under the collector\n"
            "  replay    explore a recording, with time scrubbing\n"
            "  report    summarise a recording: peak, totals, top sites, leaks\n"
            "  backrefs  what keeps a live block alive (chains of references)\n"
            "\n"
            "  --help, --version\n"
            "\n"
            "environment: HEAPLINE_LIB (path of libheapline.so)\n");
}

static int usage(const char *cmd, const char *why)
{
    if (why)
        fprintf(stderr, "heapline: %s\n", why);
    for (int i = 0; usage_lines[i]; i++) {
        const char *u = usage_lines[i] + strlen("heapline ");
        if (cmd && strncmp(u, cmd, strlen(cmd)) == 0 && u[strlen(cmd)] == ' ') {
            fputs("usage: ", stderr);
            for (const char *p = usage_lines[i]; *p; p++) /* one space between words */
                if (!(p[0] == ' ' && p[1] == ' '))
                    fputc(*p, stderr);
            fputc('\n', stderr);
            return 2;
        }
    }
    fprintf(stderr, "usage: heapline run|record|attach|replay|report|backrefs ... (see --help)\n");
    return 2;
}

/* Parses "[-o FILE] [--] CMD..." from argv[i..]. Returns the index of CMD or
 * -1 (message printed). */
static int parse_cmd_opts(const char *cmd, int argc, char **argv, const char **out)
{
    int i = 2;

    while (i < argc) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc)
                return usage(cmd, "-o needs a file name"), -1;
            *out = argv[i + 1];
            i += 2;
            continue;
        }
        if (strncmp(a, "-o", 2) == 0 && a[2]) {
            *out = a + 2;
            i++;
            continue;
        }
        if (strncmp(a, "--output=", 9) == 0) {
            *out = a + 9;
            i++;
            continue;
        }
        if (a[0] == '-') {
            char why[256];
            snprintf(why, sizeof(why), "%s: unknown option %s", cmd, a);
            return usage(cmd, why), -1;
        }
        break;
    }
    if (i >= argc)
        return usage(cmd, "no command to run"), -1;
    return i;
}

static int run_ui(struct source *src, int kind, const char *title)
{
    struct model *m = model_new();
    struct ui_options opt = {.source_kind = kind, .title = title};
    int rc;

    if (!m) {
        source_close(src);
        fprintf(stderr, "heapline: out of memory\n");
        return 1;
    }
    rc = ui_main(m, src, &opt);
    source_close(src);
    model_free(m);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    const char *out = NULL;
    char err[1024];
    int i = parse_cmd_opts("run", argc, argv, &out);
    struct source *src;

    if (i < 0)
        return 2;
    src = source_open_child(argv + i, out, err, sizeof(err));
    if (!src) {
        fprintf(stderr, "heapline: %s\n", err);
        return 1;
    }
    return run_ui(src, UI_SRC_LIVE_CHILD, argv[i]);
}

static int cmd_record(int argc, char **argv)
{
    const char *out = NULL;
    int i = parse_cmd_opts("record", argc, argv, &out);

    if (i < 0)
        return 2;
    if (!out)
        return usage("record", "record needs -o FILE");
    return record_main(out, argv + i);
}

static int cmd_attach(int argc, char **argv)
{
    const char *target = NULL, *out = NULL;
    char err[1024];
    struct source *src;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0) {
            if (++i >= argc)
                return usage("attach", "-o needs a file name");
            out = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            char why[256];
            snprintf(why, sizeof(why), "attach: unknown option %s", argv[i]);
            return usage("attach", why);
        } else if (!target) {
            target = argv[i];
        } else {
            return usage("attach", "attach takes one PID or socket");
        }
    }
    if (!target)
        return usage("attach", "attach needs a PID or a socket path");
    src = source_open_socket(target, out, err, sizeof(err));
    if (!src) {
        fprintf(stderr, "heapline: %s\n", err);
        return 1;
    }
    return run_ui(src, UI_SRC_ATTACH, target);
}

static int cmd_replay(int argc, char **argv)
{
    char err[1024];
    struct source *src;

    if (argc != 3 || argv[2][0] == '-')
        return usage("replay", argc < 3 ? "replay needs a FILE" : NULL);
    src = source_open_file(argv[2], err, sizeof(err));
    if (!src) {
        fprintf(stderr, "heapline: %s\n", err);
        return 1;
    }
    return run_ui(src, UI_SRC_REPLAY, argv[2]);
}

static int cmd_report(int argc, char **argv)
{
    struct report_options o = {.top = -1, .at = REPORT_AT_END};
    const char *file = NULL;
    int top_set = 0;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = NULL;

        if (strcmp(a, "--json") == 0) {
            o.json = 1;
            continue;
        }
        if (strcmp(a, "--top") == 0 || strcmp(a, "--at") == 0) {
            if (i + 1 >= argc) {
                char why[64];
                snprintf(why, sizeof(why), "%s needs a value", a);
                return usage("report", why);
            }
            val = argv[++i];
        } else if (strncmp(a, "--top=", 6) == 0 || strncmp(a, "--at=", 5) == 0) {
            val = strchr(a, '=') + 1;
        } else if (a[0] == '-' && a[1]) {
            char why[256];
            snprintf(why, sizeof(why), "report: unknown option %s", a);
            return usage("report", why);
        } else if (!file) {
            file = a;
            continue;
        } else {
            return usage("report", "report takes one FILE");
        }
        if (strncmp(a, "--top", 5) == 0) {
            char *end;
            long v;
            errno = 0;
            v = strtol(val, &end, 10);
            if (end == val || *end || errno || v < 1 || v > 1000000000) {
                char why[256];
                snprintf(why, sizeof(why), "--top %s: not a positive number", val);
                return usage("report", why);
            }
            o.top = (int)v;
            top_set = 1;
        } else if (report_parse_at(val, &o) != 0) {
            char why[256];
            snprintf(why, sizeof(why), "--at %s: expected peak, end or seconds", val);
            return usage("report", why);
        }
    }
    if (!file)
        return usage("report", "report needs a FILE");
    (void)top_set;
    return report_main(file, &o, stdout, stderr);
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (!cmd)
        return usage(NULL, "no command given");
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        help(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("heapline %s (wire format %d)\n", HEAPLINE_VERSION, WIRE_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "backrefs")) /* it has its own --help */
        return backrefs_main(argc, argv);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(cmd, NULL);
            return 0;
        }
    }
    if (!strcmp(cmd, "run"))
        return cmd_run(argc, argv);
    if (!strcmp(cmd, "record"))
        return cmd_record(argc, argv);
    if (!strcmp(cmd, "attach"))
        return cmd_attach(argc, argv);
    if (!strcmp(cmd, "replay"))
        return cmd_replay(argc, argv);
    if (!strcmp(cmd, "report"))
        return cmd_report(argc, argv);
    {
        char why[256];
        snprintf(why, sizeof(why), "unknown command '%s'", cmd);
        return usage(NULL, why);
    }
}
