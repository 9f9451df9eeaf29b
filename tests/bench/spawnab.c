/*
 * spawnab.c - a few commands timed against each other, interleaved: each
 * round runs every command once, in an order that rotates from round to
 * round, through posix_spawn from this one process (no shell, no date(1)
 * between the clock reads). Wall time is from the spawn to wait4's return;
 * CPU time is wait4's rusage of the command's whole tree (user + system).
 * Prints figures, asserts nothing.
 *
 *   cc -std=gnu11 -O2 -o spawnab tests/bench/spawnab.c
 *   spawnab ROUNDS STDIN RMFILE -- CMD1 ... ';;' [NAME=VALUE ...] CMD2 ... ';;' ...
 *
 * NAME=VALUE words before a command are added to its environment (the rest
 * is this program's). STDIN is each run's standard input; RMFILE (with its
 * -journal and -wal), when not empty, is removed before each run (a fresh
 * sqlite3 database); stdout and stderr go to /dev/null. Per command: the
 * median wall and CPU, and the median over rounds of its wall's ratio to the
 * first command's and of the difference (both paired by round), with how far
 * that median ratio moves with the machine's noise: a 90% bootstrap interval
 * (2000 resamples of the rounds, a fixed seed) and the mean ratio with its
 * standard error.
 */
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct cmd {
    char **argv;
    char **env;
    double *wall; /* ms, one per round */
    double *cpu;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The median of v[0..n), through tmp (n doubles): v keeps its order. */
static double median(const double *v, int n, double *tmp)
{
    memcpy(tmp, v, (size_t)n * sizeof(*v));
    qsort(tmp, (size_t)n, sizeof(*tmp), cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* A 90% bootstrap interval of the median of v[0..n) into lo, hi (2000
 * resamples, a fixed seed: the same rounds give the same interval). */
static void median_interval(const double *v, int n, double *lo, double *hi)
{
    enum { RESAMPLES = 2000 };
    double *s = calloc((size_t)n, sizeof(*s)), *m = calloc(RESAMPLES, sizeof(*m));
    double *tmp = calloc((size_t)n, sizeof(*tmp));
    unsigned long long x = 14;

    *lo = *hi = NAN;
    if (!s || !m || !tmp || n < 3)
        goto out;
    for (int b = 0; b < RESAMPLES; b++) {
        for (int i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
            s[i] = v[x % (unsigned)n];
        }
        m[b] = median(s, n, tmp);
    }
    qsort(m, RESAMPLES, sizeof(*m), cmp_double);
    *lo = m[RESAMPLES / 20];
    *hi = m[RESAMPLES - 1 - RESAMPLES / 20];
out:
    free(s);
    free(m);
    free(tmp);
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* Parses argv[i..] up to ";;" or the end into c; returns the next index. */
static int parse_cmd(int argc, char **argv, int i, struct cmd *c, int rounds)
{
    size_t n_env = 0, n = 0, k = 0;

    while (environ[n_env])
        n_env++;
    c->env = calloc(n_env + (size_t)argc + 1, sizeof(*c->env));
    c->argv = calloc((size_t)argc + 1, sizeof(*c->argv));
    c->wall = calloc((size_t)rounds, sizeof(double));
    c->cpu = calloc((size_t)rounds, sizeof(double));
    if (!c->env || !c->argv || !c->wall || !c->cpu) {
        perror("spawnab");
        exit(1);
    }
    for (; i < argc && strcmp(argv[i], ";;") != 0; i++) {
        if (n == 0 && strchr(argv[i], '=') && argv[i][0] != '/')
            c->env[k++] = argv[i];
        else
            c->argv[n++] = argv[i];
    }
    for (size_t e = 0; e < n_env; e++) {
        size_t len = strcspn(environ[e], "=") + 1;
        int set = 0;

        for (size_t j = 0; j < k && !set; j++)
            set = strncmp(c->env[j], environ[e], len) == 0;
        if (!set)
            c->env[k++] = environ[e];
    }
    if (n == 0) {
        fprintf(stderr, "spawnab: an empty command\n");
        exit(2);
    }
    return i + 1;
}

/* One run of c; returns 0, or -1 after saying why. */
static int run_once(struct cmd *c, int round, const char *in, const char *rm)
{
    posix_spawn_file_actions_t fa;
    struct timespec a, b;
    struct rusage ru;
    pid_t pid;
    int st, e;

    if (*rm) {
        char p[4096];

        unlink(rm);
        snprintf(p, sizeof(p), "%s-journal", rm);
        unlink(p);
        snprintf(p, sizeof(p), "%s-wal", rm);
        unlink(p);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    clock_gettime(CLOCK_MONOTONIC, &a);
    e = posix_spawnp(&pid, c->argv[0], &fa, NULL, c->argv, c->env);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        fprintf(stderr, "spawnab: %s: %s\n", c->argv[0], strerror(e));
        return -1;
    }
    if (wait4(pid, &st, 0, &ru) < 0) {
        perror("spawnab: wait4");
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "spawnab: %s failed (wait status %#x)\n", c->argv[0], (unsigned)st);
        return -1;
    }
    c->wall[round] = ms_between(&a, &b);
    c->cpu[round] = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    return 0;
}

int main(int argc, char **argv)
{
    struct cmd c[16];
    int rounds, n = 0, i = 5;
    double *x, *d, *tmp;

    if (argc < 6 || strcmp(argv[4], "--") != 0 || (rounds = atoi(argv[1])) < 1) {
        fprintf(stderr, "usage: spawnab ROUNDS STDIN RMFILE -- CMD... [';;' CMD...]...\n");
        return 2;
    }
    while (i < argc && n < 16)
        i = parse_cmd(argc, argv, i, &c[n++], rounds);
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < n; k++)
            if (run_once(&c[(k + r) % n], r, argv[2], argv[3]) < 0)
                return 1;
    x = calloc((size_t)rounds, sizeof(double));
    d = calloc((size_t)rounds, sizeof(double));
    tmp = calloc((size_t)rounds, sizeof(double));
    if (!x || !d || !tmp)
        return 1;
    for (int k = 0; k < n; k++) {
        for (int r = 0; r < rounds; r++) {
            x[r] = c[k].wall[r] / c[0].wall[r];
            d[r] = c[k].wall[r] - c[0].wall[r];
        }
        double lo, hi, mean = 0, var = 0;

        median_interval(x, rounds, &lo, &hi);
        for (int r = 0; r < rounds; r++)
            mean += x[r] / rounds;
        for (int r = 0; r < rounds && rounds > 1; r++)
            var += (x[r] - mean) * (x[r] - mean) / (rounds - 1);
        printf("%d: wall %.3f ms, x%.4f (90%% interval %.4f-%.4f; mean x%.4f +- %.4f), %+.3f ms "
               "paired; cpu %.3f ms: %s\n",
               k + 1, median(c[k].wall, rounds, tmp), median(x, rounds, tmp), lo, hi, mean,
               sqrt(var / rounds), median(d, rounds, tmp), median(c[k].cpu, rounds, tmp),
               c[k].argv[0]);
    }
    return 0;
}
