/*
 * faultcatch.h - SIGSEGV and SIGBUS caught for a stretch of reads of a
 * snapshot that may fault after all (a guard region inside a writable
 * mapping, userfaultfd, a sanitizer's shadow): the handler installed and
 * the two signals unblocked (the scan child blocks every signal), then all
 * put back as they were. One stretch at a time; no malloc.
 */
#ifndef HEAPLINE_FAULTCATCH_H
#define HEAPLINE_FAULTCATCH_H

#include <signal.h>
#include <string.h>

struct faultcatch {
    struct sigaction segv, bus;
    sigset_t mask;
};

static inline void faultcatch_begin(struct faultcatch *f, void (*handler)(int, siginfo_t *, void *))
{
    struct sigaction sa;
    sigset_t both;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&both);
    sigaddset(&both, SIGSEGV);
    sigaddset(&both, SIGBUS);
    sigaction(SIGSEGV, &sa, &f->segv);
    sigaction(SIGBUS, &sa, &f->bus);
    sigprocmask(SIG_UNBLOCK, &both, &f->mask);
}

static inline void faultcatch_end(const struct faultcatch *f)
{
    sigprocmask(SIG_SETMASK, &f->mask, NULL);
    sigaction(SIGSEGV, &f->segv, NULL);
    sigaction(SIGBUS, &f->bus, NULL);
}

#endif
