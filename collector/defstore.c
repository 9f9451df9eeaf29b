/*
 * defstore.c - definitions for later clients, in zstd frames (defstore.h).
 *
 * Invariant: the bytes kept are frames[0..n_frames), each DEFSTORE_CHUNK
 * bytes before compression, then tail[0..tail_len): appending fills the tail
 * and compresses it into a frame when it is full and more comes. A replay
 * sends the first `whole` bytes: messages are never cut. python3's JSON bench defined
 * 3.3 MB of stacks and frames, all held until the end in case a client
 * came; msgpack of ids, addresses and names compresses several times over.
 */
#include "defstore.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

struct frame {
    char *z;
    size_t len;
};

static struct {
    struct frame *frames;
    size_t n_frames, cap_frames;
    char *tail;
    size_t tail_len;
    size_t len, bytes;
    size_t whole;    /* bytes up to the end of the last message kept whole */
    int broken;      /* out of memory once: nothing more is kept */
    ZSTD_CCtx *cctx; /* kept: one context for every frame */
} S;

void defstore_forget(void)
{
    ZSTD_CCtx *cctx = S.cctx; /* usable in a fork child too */

    memset(&S, 0, sizeof(S));
    S.cctx = cctx;
}

/* Compresses the full tail into a new frame. 0 or -1. */
static int seal(void)
{
    size_t cap = ZSTD_compressBound(DEFSTORE_CHUNK), k;
    char *z;

    if (S.n_frames == S.cap_frames) {
        size_t nc = S.cap_frames ? S.cap_frames * 2 : 16;
        struct frame *f = realloc(S.frames, nc * sizeof(*f));

        if (!f)
            return -1;
        S.frames = f;
        S.cap_frames = nc;
    }
    if (!S.cctx && !(S.cctx = ZSTD_createCCtx()))
        return -1;
    if (!(z = malloc(cap)))
        return -1;
    k = ZSTD_compressCCtx(S.cctx, z, cap, S.tail, S.tail_len, 1);
    if (ZSTD_isError(k)) {
        free(z);
        return -1;
    }
    char *fit = realloc(z, k); /* give back the bound's slack */

    S.frames[S.n_frames++] = (struct frame){fit ? fit : z, k};
    S.bytes += k;
    S.tail_len = 0;
    return 0;
}

int defstore_append(const char *p, size_t n)
{
    if (S.broken)
        return -1;
    if (!S.tail) {
        if (!(S.tail = malloc(DEFSTORE_CHUNK)))
            goto broken;
        S.bytes += DEFSTORE_CHUNK;
    }
    while (n) {
        size_t k = DEFSTORE_CHUNK - S.tail_len;

        if (!k) {
            if (seal() < 0)
                goto broken;
            continue;
        }
        if (k > n)
            k = n;
        memcpy(S.tail + S.tail_len, p, k);
        S.tail_len += k;
        S.len += k;
        p += k;
        n -= k;
    }
    S.whole = S.len;
    return 0;
broken:
    S.broken = 1; /* later clients get the messages before this one whole */
    return -1;
}

void defstore_replay(defstore_send_fn *send, void *arg, char *buf, size_t cap)
{
    size_t left = S.whole;

    for (size_t i = 0; i < S.n_frames && left; i++) {
        size_t k = ZSTD_decompress(buf, cap, S.frames[i].z, S.frames[i].len);

        if (ZSTD_isError(k))
            return; /* cannot be (our own frames): nothing after a gap */
        k = k < left ? k : left;
        send(arg, buf, k);
        left -= k;
    }
    if (left)
        send(arg, S.tail, S.tail_len < left ? S.tail_len : left);
}

size_t defstore_len(void)
{
    return S.len;
}

size_t defstore_bytes(void)
{
    return S.bytes;
}
