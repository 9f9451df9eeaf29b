/*
 * t_sighandler.c - a program with SIGSEGV and SIGABRT handlers of its own
 * that recover with siglongjmp (as runtimes and memory probes do): under the
 * collector, the handlers still run and the program exits 0. With argument
 * "early" they are installed before the first allocation. Sites:
 * site_sig_before 3 x 10, site_sig_after 4 x 20, all kept.
 */
#include <setjmp.h>
#include <signal.h>

#include "t_common.h"

SITE void *site_sig_before(size_t n) { return sink(malloc(n)); }
SITE void *site_sig_after(size_t n) { return sink(malloc(n)); }

static sigjmp_buf env;
static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
    caught++;
    siglongjmp(env, sig);
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    int early = argc > 1 && argv[1][0] == 'e';
    if (early)
        T_ASSERT(sigaction(SIGSEGV, &sa, NULL) == 0 && sigaction(SIGABRT, &sa, NULL) == 0);
    for (int i = 0; i < 3; i++)
        site_sig_before(10);
    /* installed after the collector started (it starts at the first allocation) */
    if (!early)
        T_ASSERT(sigaction(SIGSEGV, &sa, NULL) == 0 && sigaction(SIGABRT, &sa, NULL) == 0);
    if (sigsetjmp(env, 1) == 0) {
        int *volatile nowhere = NULL;
        *nowhere = 1;
    }
    if (sigsetjmp(env, 1) == 0)
        abort();
    T_ASSERT(caught == 2);
    for (int i = 0; i < 4; i++)
        site_sig_after(20);
    return 0;
}
