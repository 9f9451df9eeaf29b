/*
 * stamp.c - the stamp source and the stamp -> ns map (see stamp.h).
 */
#include "stamp.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

int stamp_tsc;

void stamp_init(void)
{
    stamp_tsc = 0;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    char buf[16] = {0};
    int fd;
    ssize_t n;

    if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8)))
        return; /* no invariant TSC */
    fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
              O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    stamp_tsc = n == 4 && memcmp(buf, "tsc\n", 4) == 0;
#endif
}

/* A (stamp, ns) pair read back to back. The stamp is the drain's
 * watermark: it must be read before the rings are (the fence after it),
 * and no earlier than what came before (the one inside). */
static void pair(int64_t *tsc, int64_t *ns)
{
    *tsc = stamp_now_ordered();
#if defined(__x86_64__)
    _mm_lfence();
#endif
    *ns = core_now();
}

void stamp_map_start(struct stamp_map *m)
{
    memset(m, 0, sizeof(*m));
    if (stamp_tsc)
        pair(&m->tsc1, &m->ns1);
}

int stamp_map_advance(struct stamp_map *m, int64_t *watermark)
{
    int64_t tsc, ns;
    int moved = 0;

    if (!stamp_tsc) {
        *watermark = core_now();
        return 1;
    }
    do
        pair(&tsc, &ns);
    while (!m->mult && ns - m->ns1 < STAMP_MIN_SEGMENT_NS); /* once, at start */
    if (ns - m->ns1 >= STAMP_MIN_SEGMENT_NS && tsc > m->tsc1) {
        m->tsc0 = m->tsc1;
        m->ns0 = m->ns1;
        m->tsc1 = tsc;
        m->ns1 = ns;
        m->mult =
            (uint64_t)((((unsigned __int128)(ns - m->ns0)) << 32) / (uint64_t)(tsc - m->tsc0));
        moved = 1;
    }
    /* not the stamp just read: a drain applies stamps up to the newer pair
     * only, so every stamp is converted between two pairs, never on a line
     * extrapolated past them that the next segment would not continue (the
     * map would then step back by up to the pairs' jitter, and a free right
     * after its allocation could look older than it) */
    *watermark = m->tsc1;
    return moved;
}
