/*
 * main.c - the `heapline` command line: a table of commands, then hand over
 * to one module.
 *
 * Every command is one row of cmd_table (name, usage, help, handler), so the
 * usage lines, `heapline --help` and `heapline CMD --help` are generated from
 * what the commands accept and cannot drift apart. Every error is one line on
 * stderr and a non-zero exit; a usage error is one line ending in a hint,
 * "(see heapline CMD --help)", and exits 2. Nothing here touches the
 * terminal: the TUI (ui_main) owns it and restores it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach_cmd.h"
#include "backrefs.h"
#include "check.h"
#include "client.h"
#include "diff.h"
#include "flame.h"
#include "load.h"
#include "model.h"
#include "record.h"
#include "report.h"
#include "size.h"
#include "source.h"
#include "ui.h"
#include "usage.h"
#include "wire.h"

#define HEAPLINE_VERSION "0.1.0"

struct cmd_entry {
    const char *name;
    const char *args;    /* the usage after "heapline NAME"; forms separated by '\n' */
    const char *summary; /* one line for `heapline --help` */
    const char *help;    /* the options, for `heapline NAME --help` */
    /* Returns the exit status; a usage error returns bad()'s value. argv[1]
     * is the command's name. */
    int (*run)(int argc, char **argv);
};

/* A usage error of cmd: one line, "heapline CMD: WHY (see heapline CMD
 * --help)". Returns 2, the exit status of every usage error. */
static int bad(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(const char *cmd, const char *fmt, ...)
{
    char why[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return usage_error(cmd, "%s", why);
}

/* --sample SIZE|off: the program's collector samples (HEAPLINE_SAMPLE,
 * which the launched program inherits), or records every allocation.
 * Returns 0, or -2 after bad(). */
static int sample_opt(const char *cmd, const char *val)
{
    uint64_t rate;
    char buf[32];

    if (strcmp(val, "off") == 0)
        return setenv("HEAPLINE_SAMPLE", "off", 1), 0;
    if (size_parse(val, &rate) != 0 || rate < 1024 || rate > (UINT64_C(1) << 40))
        return bad(cmd, "--sample %s: expected a size from 1K to 1T (512K, 2M) or off", val), -2;
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)rate);
    setenv("HEAPLINE_SAMPLE", buf, 1);
    return 0;
}

/* --sample SIZE|off and --exact of the commands that attach (attach, record
 * --pid, backrefs PID): at argv[*i], with its value; sets the rate of the
 * attaches that follow. Returns 1 when argv[*i] was one of them (*i then at
 * its last word), 0 when not, or -2 after bad(). */
static int attach_sample_opt(const char *cmd, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *val;
    uint64_t rate;

    if (strcmp(a, "--exact") == 0) {
        attach_cmd_set_sample(0);
        return 1;
    }
    if (strcmp(a, "--sample") != 0 && strncmp(a, "--sample=", 9) != 0)
        return 0;
    if (!a[8] && *i + 1 >= argc)
        return bad(cmd, "--sample needs a size, e.g. --sample 512K"), -2;
    val = a[8] ? a + 9 : argv[++*i];
    if (strcmp(val, "off") == 0) {
        attach_cmd_set_sample(0);
        return 1;
    }
    if (size_parse(val, &rate) != 0 || rate < 1024 || rate > (UINT64_C(1) << 40))
        return bad(cmd, "--sample %s: expected a size from 1K to 1T (512K, 2M) or off", val), -2;
    attach_cmd_set_sample(rate);
    return 1;
}

/* Parses "[-o FILE] [--sample SIZE] [--check LIMITS] [--] CMD..." from
 * argv[2..] (--check only when check is not NULL). Returns the index of CMD,
 * or -2 after bad(). */
static int parse_cmd_opts(const char *cmd, int argc, char **argv, const char **out,
                          const char **check)
{
    int i = 2;

    while (i < argc) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (check && (strcmp(a, "--check") == 0 || strncmp(a, "--check=", 8) == 0)) {
            if (!a[7] && i + 1 >= argc)
                return bad(cmd, "--check needs limits, e.g. --check '--max-peak 10MiB'"), -2;
            *check = a[7] ? a + 8 : argv[++i];
            i++;
            continue;
        }
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc)
                return bad(cmd, "%s needs a file name", a), -2;
            *out = argv[i + 1];
            i += 2;
            continue;
        }
        if (strcmp(a, "--exact") == 0) { /* the default, said as attach says it */
            if (sample_opt(cmd, "off") < 0)
                return -2;
            i++;
            continue;
        }
        if (strcmp(a, "--sample") == 0 || strncmp(a, "--sample=", 9) == 0) {
            if (!a[8] && i + 1 >= argc)
                return bad(cmd, "--sample needs a size, e.g. --sample 512K"), -2;
            if (sample_opt(cmd, a[8] ? a + 9 : argv[++i]) < 0)
                return -2;
            i++;
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
        if (a[0] == '-')
            return bad(cmd, "unknown option %s", a), -2;
        break;
    }
    if (*out && !**out)
        return bad(cmd, "-o '': an empty file name"), -2;
    if (i >= argc)
        return bad(cmd, "no command to run"), -2;
    return i;
}

static int run_ui(struct source *src, int kind, const char *title)
{
    struct model *m = model_new();
    struct ui_options opt = {.source_kind = kind,
                             .title = title,
                             .q_detaches = kind == UI_SRC_ATTACH && attach_cmd_detaches(title)};
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
    int i = parse_cmd_opts("run", argc, argv, &out, NULL);
    struct source *src;
    int exec_errno = 0;

    if (i < 0)
        return 2;
    src = source_open_child(argv + i, out, &exec_errno, err, sizeof(err));
    if (!src) {
        fprintf(stderr, "heapline: %s\n", err);
        /* as a shell and heapline record say it: not found, not runnable */
        if (exec_errno)
            return exec_errno == ENOENT ? 127 : 126;
        return 1;
    }
    /* an interpreter's title names its script: "python3 leaky_service.py",
     * not a bare python3 for every service */
    const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
    char title[512];
    if (strncmp(base, "python", 6) == 0 && i + 1 < argc && argv[i + 1][0] != '-') {
        snprintf(title, sizeof(title), "%s %s", argv[i], argv[i + 1]);
        return run_ui(src, UI_SRC_LIVE_CHILD, title);
    }
    return run_ui(src, UI_SRC_LIVE_CHILD, argv[i]);
}

/* heapline record --pid PID -o FILE [--for SECONDS] [--sample SIZE|--exact] */
static int cmd_record_pid(int argc, char **argv)
{
    const char *out = NULL, *pid_s = "", *for_s = NULL;
    double seconds = 0;
    char *end;
    long pid = 0;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int s = attach_sample_opt("record", argc, argv, &i);

        if (s < 0)
            return 2;
        if (s > 0)
            continue;
        if (strcmp(a, "--pid") && strcmp(a, "-o") && strcmp(a, "--output") && strcmp(a, "--for"))
            return bad("record", "with --pid: unknown argument %s", a);
        if (i + 1 >= argc)
            return bad("record", "%s needs a value", a);
        if (!strcmp(a, "--pid"))
            pid_s = argv[++i];
        else if (!strcmp(a, "--for"))
            for_s = argv[++i];
        else
            out = argv[++i];
    }
    if (out && !*out)
        return bad("record", "-o '': an empty file name");
    if (strspn(pid_s, "0123456789") != strlen(pid_s) || !*pid_s || strlen(pid_s) > 10 ||
        (pid = atol(pid_s)) <= 0 || pid > 0x7fffffff)
        return bad("record", "--pid %s: not a process id", pid_s);
    if (for_s) {
        seconds = strtod(for_s, &end);
        if (end == for_s || *end || !(seconds > 0) || seconds > 1e9)
            return bad("record", "--for %s: not a positive number of seconds", for_s);
    }
    if (!out)
        return bad("record", "record needs -o FILE");
    return attach_cmd_record((pid_t)pid, out, seconds);
}

static int cmd_record(int argc, char **argv)
{
    const char *out = NULL, *limits = NULL;
    int i;

    for (int k = 2; k < argc && strcmp(argv[k], "--"); k++)
        if (strcmp(argv[k], "--pid") == 0)
            return cmd_record_pid(argc, argv);
    i = parse_cmd_opts("record", argc, argv, &out, &limits);

    if (i < 0)
        return 2;
    if (!out)
        return bad("record", "record needs -o FILE");
    if (limits)
        return check_record(out, limits, argv + i);
    return record_main(out, argv + i);
}

static int cmd_attach(int argc, char **argv)
{
    const char *target = NULL, *out = NULL;
    char err[1024];
    struct source *src;
    int rc;

    for (int i = 2; i < argc; i++) {
        int s = attach_sample_opt("attach", argc, argv, &i);

        if (s < 0)
            return 2;
        if (s > 0)
            continue;
        if (strcmp(argv[i], "-o") == 0) {
            if (++i >= argc)
                return bad("attach", "-o needs a file name");
            out = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return bad("attach", "unknown option %s", argv[i]);
        } else if (!target) {
            target = argv[i];
        } else {
            return bad("attach", "attach takes one PID or socket");
        }
    }
    if (out && !*out)
        return bad("attach", "-o '': an empty file name");
    if (!target)
        return bad("attach", "attach needs a PID or a socket path");
    client_set_attach(attach_cmd_connect); /* a PID without a collector gets one */
    src = source_open_socket(target, out, err, sizeof(err));
    if (!src) {
        fprintf(stderr, "heapline: %s\n", err);
        attach_cmd_finish(target, 0);
        return 1;
    }
    rc = run_ui(src, UI_SRC_ATTACH, target);
    attach_cmd_finish(target, 1); /* q: the collector stays, idle */
    return rc;
}

/* backrefs on a PID without a collector attaches once its arguments are
 * good (client.h), and detaches after. */
static int cmd_backrefs(int argc, char **argv)
{
    int rc;

    client_set_attach(attach_cmd_connect);
    rc = backrefs_main(argc, argv);
    for (int i = 2; i < argc; i++)
        if (argv[i][0] >= '0' && argv[i][0] <= '9')
            attach_cmd_finish(argv[i], 0); /* only what this command attached */
    return rc;
}

static int cmd_replay(int argc, char **argv)
{
    const char *file = NULL, *base = NULL;
    char err[1024];
    struct source *src;
    struct model *m, *against = NULL;
    int rc;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--against") == 0) {
            if (++i >= argc)
                return bad("replay", "--against needs a FILE");
            base = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return bad("replay", "unknown option %s", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            return bad("replay", "replay takes one FILE");
        }
    }
    if (!file)
        return bad("replay", "replay needs a FILE");
    if (base && !(against = load_recording(base, 1, stderr, NULL)))
        return 1;
    src = source_open_file(file, err, sizeof(err));
    if (!src) {
        fprintf(stderr, "heapline: %s\n", err);
        model_free(against);
        return 1;
    }
    m = model_new();
    if (!m) {
        source_close(src);
        model_free(against);
        fprintf(stderr, "heapline: out of memory\n");
        return 1;
    }
    struct ui_options opt = {
        .source_kind = UI_SRC_REPLAY, .title = file, .against = against, .against_name = base};
    rc = ui_main(m, src, &opt);
    source_close(src);
    model_free(m);
    model_free(against);
    return rc;
}

static int cmd_report(int argc, char **argv)
{
    struct report_options o = {.top = -1, .at = REPORT_AT_END};
    const char *file = NULL;
    int by = 0;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = NULL;

        if (strcmp(a, "--json") == 0 || strcmp(a, "--flamegraph") == 0) {
            *(a[2] == 'j' ? &o.json : &o.flamegraph) = 1;
            continue;
        }
        if (strcmp(a, "--html") == 0 || strncmp(a, "--html=", 7) == 0) {
            if (!a[6] && i + 1 >= argc)
                return bad("report", "--html needs a file name");
            o.html = a[6] ? a + 7 : argv[++i];
            continue;
        }
        if (strcmp(a, "--by") == 0 || strncmp(a, "--by=", 5) == 0) {
            if (!a[4] && i + 1 >= argc)
                return bad("report", "%s needs a value", a);
            val = a[4] ? a + 5 : argv[++i];
            if (flame_parse_by(val, &o.by) != 0)
                return bad("report", "--by %s: expected live, allocated or allocations", val);
            by = 1;
            continue;
        }
        if (strcmp(a, "--top") == 0 || strcmp(a, "--at") == 0) {
            if (i + 1 >= argc)
                return bad("report", "%s needs a value", a);
            val = argv[++i];
        } else if (strncmp(a, "--top=", 6) == 0 || strncmp(a, "--at=", 5) == 0) {
            val = strchr(a, '=') + 1;
        } else if (a[0] == '-' && a[1]) {
            return bad("report", "unknown option %s", a);
        } else if (!file) {
            file = a;
            continue;
        } else {
            return bad("report", "report takes one FILE");
        }
        if (strncmp(a, "--top", 5) == 0) {
            char *end;
            long v;
            errno = 0;
            v = strtol(val, &end, 10);
            if (end == val || *end || errno || v < 1 || v > 1000000000)
                return bad("report", "--top %s: not a number from 1 to 1000000000", val);
            o.top = (int)v;
        } else if (report_parse_at(val, &o) != 0) {
            return bad("report", "--at %s: expected peak, end or seconds", val);
        }
    }
    if (!file)
        return bad("report", "report needs a FILE");
    if (o.html && !*o.html)
        return bad("report", "--html '': an empty file name");
    if (o.flamegraph + o.json + !!o.html > 1)
        return bad("report", "--json, --flamegraph and --html exclude each other");
    if (by && !o.flamegraph)
        return bad("report", "--by goes with --flamegraph");
    return report_main(file, &o, stdout, stderr);
}

static const struct cmd_entry cmd_table[] = {
    {"run", "[-o FILE] [--sample SIZE] -- CMD [ARG...]",
     "start CMD under the collector and watch it live",
     "  -o FILE, --output FILE   the collector also records the run to FILE\n"
     "  --sample SIZE|off        sample allocations, one every SIZE bytes on average\n"
     "                           (512K, 2M): little cost, figures by site estimated;\n"
     "                           default off (every allocation recorded)\n"
     "  --exact                  every allocation recorded (the default: --sample off)\n"
     "  --                       ends heapline's options; CMD and its arguments follow\n",
     cmd_run},
    {"record",
     "-o FILE [--sample SIZE] [--check LIMITS] -- CMD [ARG...]\n"
     "--pid PID -o FILE [--for SECONDS] [--sample SIZE|--exact]",
     "record CMD headless; exits with CMD's status (or a running PID)",
     "  -o FILE, --output FILE   the recording (required); fork children record to FILE.<pid>\n"
     "  --sample SIZE|off        sample allocations, one every SIZE bytes on average\n"
     "                           (512K, 2M): little cost, figures by site estimated;\n"
     "                           default off (every allocation recorded)\n"
     "  --check LIMITS           then check FILE (heapline check --help), e.g.\n"
     "                           --check '--max-peak 10MiB --no-leaks-from parse'; exits\n"
     "                           with CMD's status if not 0, else with check's\n"
     "  --                       ends heapline's options; CMD and its arguments follow\n"
     "  --pid PID                record a running program that has no collector: heapline\n"
     "                           loads it (ptrace; see README.md) and detaches at the end\n"
     "  --for SECONDS            with --pid: stop after SECONDS (default: Ctrl-C, or the\n"
     "                           program's end)\n"
     "  --exact                  record every allocation: CMD's default (--sample off);\n"
     "                           with --pid, instead of its default --sample 512K\n",
     cmd_record},
    {"attach", "PID|SOCKET [-o FILE] [--sample SIZE|--exact]",
     "watch a running program (with or without the collector)",
     "  PID                      a process: its collector's socket is found in the socket\n"
     "                           directory; a process without one gets the collector loaded\n"
     "                           (ptrace; see README.md), and q leaves it idle\n"
     "  SOCKET                   the path of a collector's socket\n"
     "  -o FILE                  also record what arrives to FILE\n"
     "  --sample SIZE|off        a PID without a collector: sample one allocation every SIZE\n"
     "                           bytes on average (default 512K: little cost to the program)\n"
     "  --exact                  a PID without a collector: record every allocation\n",
     cmd_attach},
    {"replay", "FILE [--against BASE]", "explore a recording, with time scrubbing",
     "  --against BASE           compare with the recording BASE: the site table gains\n"
     "                           CHANGE (live bytes minus BASE's at the same state, sites\n"
     "                           matched as heapline diff matches them), sorted by it\n",
     cmd_replay},
    {"report",
     "FILE [--json] [--top N] [--at peak|end|SECONDS]\n"
     "FILE --flamegraph [--by live|allocated|allocations] [--at peak|end|SECONDS]\n"
     "FILE --html OUT.html [--at peak|end|SECONDS]",
     "summarise a recording: peak, totals, top sites, leaks",
     "  --json                   one JSON object (fields in README.md)\n"
     "  --top N                  the N largest sites (1 to 1000000000)\n"
     "  --at peak|end|SECONDS    the state at the peak, the end (default) or a time:\n"
     "                           seconds, or as the TUI's title shows it (1m02.3s)\n"
     "  --flamegraph             folded stacks ('main;f;g COUNT', root first) for\n"
     "                           flamegraph.pl, inferno or speedscope\n"
     "  --by live|allocated|allocations\n"
     "                           what a flame graph counts: live bytes at the time\n"
     "                           (default), bytes allocated or allocations up to it\n"
     "  --html OUT.html          one offline page: figures, memory over time with the\n"
     "                           markers, a flame graph of live bytes at the peak (or --at)\n",
     cmd_report},
    {"diff", "A B [--json] [--top N] [--at-a peak|end|SECONDS] [--at-b peak|end|SECONDS]",
     "compare two recordings site by site: what changed from A to B",
     "  --json                   one JSON object: each figure with _a, _b and _delta\n"
     "  --top N                  the N largest changes (1 to 1000000000; text default 20)\n"
     "  --at-a, --at-b T         the state of A, of B at peak, end (default) or seconds\n"
     "sites are matched by function, file, line and module, so two builds compare\n",
     diff_main},
    {"check",
     "FILE LIMIT... (--max-peak|--max-leaked|--max-live SIZE, --at T, "
     "--max-site FUNCTION=SIZE, --no-leaks-from FUNCTION)",
     "limits for CI: exit 0 when every limit holds, 1 when one is broken", CHECK_HELP, check_main},
    {"backrefs",
     "PID|SOCKET (--site FUNCTION|FILE:LINE | --address ADDR | --type NAME) [--depth N] [--fanout "
     "N] "
     "[--json|--dot]\n"
     "PID|SOCKET --types [--growth SECONDS] [--top N] [--json]",
     "what keeps a live block alive (chains of references); Python objects by type",
     "  --site FUNCTION|FILE:LINE  the oldest live block allocated at that site\n"
     "  --address ADDR           the live block at (or around) ADDR, in hex\n"
     "  --type NAME              the oldest live Python object of type NAME\n"
     "  --depth N                follow chains up to N hops (1 to 1000, default 10)\n"
     "  --fanout N               at most N holders of each block (1 to 1000, default 64)\n"
     "  --json, --dot            JSON or Graphviz DOT instead of text\n"
     "  --types                  live Python objects by type: count and bytes\n"
     "  --growth SECONDS         with --types: a second count SECONDS later, the types that grew\n"
     "  --top N                  with --types: the N largest types (1 to 1000000)\n",
     cmd_backrefs},
};
#define CMD_COUNT (sizeof(cmd_table) / sizeof(cmd_table[0]))

static const struct cmd_entry *cmd_find(const char *name)
{
    for (size_t i = 0; i < CMD_COUNT; i++)
        if (strcmp(cmd_table[i].name, name) == 0)
            return &cmd_table[i];
    return NULL;
}

/* The usage lines of c, one per form of its arguments (args holds forms
 * separated by '\n'); every line after the first starts with indent. */
static void cmd_usage_line(FILE *f, const struct cmd_entry *c, int align, const char *indent)
{
    const char *form = c->args;

    for (int first = 1;; first = 0) {
        size_t n = strcspn(form, "\n");

        fprintf(f, "%sheapline %-*s %.*s\n", first ? "" : indent, align ? 8 : 0, c->name, (int)n,
                form);
        if (!form[n])
            return;
        form += n + 1;
    }
}

static void help(FILE *f)
{
    fprintf(f, "heapline - where is my memory going, and what is holding on to it?\n\nusage:\n");
    for (size_t i = 0; i < CMD_COUNT; i++) {
        fputs("  ", f);
        cmd_usage_line(f, &cmd_table[i], 1, "  ");
    }
    fputc('\n', f);
    for (size_t i = 0; i < CMD_COUNT; i++)
        fprintf(f, "  %-9s %s\n", cmd_table[i].name, cmd_table[i].summary);
    fprintf(f, "\n"
               "  heapline CMD --help for a command's options; heapline --version\n"
               "\n"
               "environment: HEAPLINE_LIB (path of libheapline.so), HEAPLINE_SOCKET_DIR (the\n"
               "socket directory; see README.md)\n");
}

static void cmd_help(const struct cmd_entry *c)
{
    fputs("usage: ", stdout);
    cmd_usage_line(stdout, c, 0, "       ");
    printf("%s\n", c->summary);
    if (c->help)
        printf("\n%s", c->help);
}

/* 1 when heapline's own arguments, argv[2..], ask for help. They end at
 * "--" and, for a command that runs a program (run, record), at the
 * program's name: `heapline run prog --help` runs `prog --help`. */
static int wants_help(const struct cmd_entry *c, int argc, char **argv)
{
    int runs = c->run == cmd_run || c->run == cmd_record;

    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
        if (runs && (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output") ||
                     !strcmp(argv[i], "--check") || !strcmp(argv[i], "--sample")))
            i++; /* the file name, the limits, the size */
        else if (runs && argv[i][0] != '-')
            return 0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : NULL;
    const struct cmd_entry *c;

    if (!name) {
        fputs("heapline: no command given; usage:\n", stderr);
        for (size_t i = 0; i < CMD_COUNT; i++) {
            fputs("  ", stderr);
            cmd_usage_line(stderr, &cmd_table[i], 1, "  ");
        }
        return 2;
    }
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        help(stdout);
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("heapline %s (wire format %d)\n", HEAPLINE_VERSION, WIRE_VERSION);
        return 0;
    }
    c = cmd_find(name);
    if (!c) {
        fprintf(stderr, "heapline: unknown %s '%s' (see heapline --help)\n",
                name[0] == '-' ? "option" : "command", name);
        return 2;
    }
    if (wants_help(c, argc, argv)) {
        cmd_help(c);
        return 0;
    }
    return c->run(argc, argv);
}
