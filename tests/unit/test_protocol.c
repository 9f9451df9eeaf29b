/*
 * test_protocol.c - round trips, truncation and corruption of the wire format
 * and of the record file layer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "decode_msgpack.h"
#include "encode.h"
#include "recfile.h"
#include "wire.h"

static char mem[1 << 16];

/* A stream with one message of every kind the collector sends. */
static size_t build_stream(char *out, size_t cap)
{
    struct encode_buf b;
    struct wire_stack_node nodes[] = {{1, 0, 0x401000}, {2, 1, 0x401234}};
    struct wire_event ev[] = {
        {.op = WIRE_OP_THREAD, .id = 3},
        {.op = WIRE_OP_ALLOC, .time = 1999, .stack = 2, .size = 100},
        {.op = WIRE_OP_REALLOC, .time = 3500, .stack = 2, .size = 200, .back = 0},
        {.op = WIRE_OP_TAG, .id = 7},
        {.op = WIRE_OP_FREE, .time = 900, .back = WIRE_SEQ_MASK},
    };
    struct wire_totals t = {.time = 10000000,
                            .heap_bytes = 200,
                            .heap_blocks = 1,
                            .rss = 4096,
                            .allocations = 2,
                            .frees = 1,
                            .bytes_allocated = 300};
    struct wire_site s[] = {{2, 200, 1, 2, 300}, {1, -5, -1, 0, 0}};
    struct wire_inline in[] = {{"inner", "a.c", 3}};
    struct wire_frame f = {0x401234, 1, "leaf", "x.c", 42, in, 1};
    struct wire_history_row h[] = {{1, 2, 3, 4}, {5, 6, 7, 8}};

    encode_init(&b, out, cap);
    assert_int_equal(encode_hello(&b, 1234, "/bin/prog", 99, 4096, 64, 0), 0);
    assert_int_equal(encode_module(&b, 1, "/bin/prog", 0x400000, 0x2000, "abcd"), 0);
    assert_int_equal(encode_frame(&b, &f), 0);
    assert_int_equal(encode_stacks(&b, nodes, 2), 0);
    assert_int_equal(encode_thread(&b, 3, 4321, "worker"), 0);
    assert_int_equal(encode_tag(&b, 7, "loader"), 0);
    assert_int_equal(encode_marker(&b, 500, "load app"), 0);
    assert_int_equal(encode_events(&b, 1000, ev, 5), 0);
    assert_int_equal(encode_tick(&b, &t, s, 2), 0);
    t.peak_bytes = 250; /* the exact peak: trailing fields */
    t.peak_time = 9000000;
    assert_int_equal(encode_snapshot(&b, &t, s, 1, 12345), 0);
    assert_int_equal(encode_history(&b, h, 2), 0);
    assert_int_equal(encode_missed(&b, 77), 0);
    assert_int_equal(encode_note(&b, 456, "pymalloc keeps small objects"), 0);
    assert_int_equal(encode_end(&b, 123, WIRE_END_EXIT, 3), 0);
    return b.len;
}

static void test_roundtrip(void **state)
{
    size_t n = build_stream(mem, sizeof(mem));
    struct decode d;
    struct wire_msg m;
    struct wire_event e;
    struct events_iter it;
    struct stacks_iter sit;
    struct wire_site s;
    struct wire_stack_node node;
    struct wire_history_row row;
    struct wire_str fn, file;
    uint32_t line;

    decode_init(&d);
    assert_int_equal(decode_feed(&d, mem, n), 0);

    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_HELLO);
    assert_int_equal(m.u.hello.pid, 1234);
    assert_int_equal(m.u.hello.exe.len, 9);
    assert_memory_equal(m.u.hello.exe.ptr, "/bin/prog", 9);
    assert_int_equal(m.u.hello.max_depth, 64);

    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_MODULE);
    assert_int_equal(m.u.module.base, 0x400000);

    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_FRAME);
    assert_int_equal(m.u.frame.line, 42);
    assert_int_equal(m.u.frame.inlined.n, 3);
    assert_int_equal(decode_inline_at(&m.u.frame.inlined, 0, &fn, &file, &line), 1);
    assert_memory_equal(fn.ptr, "inner", 5);
    assert_int_equal(line, 3);

    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_STACKS);
    assert_true(m.steps); /* ascending ids: sent as STACK_STEPS */
    assert_int_equal(wire_list_count(&m.u.stacks, 3), 2);
    decode_stacks_begin(&sit, &m);
    assert_int_equal(decode_stacks_next(&sit, &node), 1);
    assert_int_equal(node.id, 1);
    assert_int_equal(node.parent, 0);
    assert_int_equal(node.ip, 0x401000);
    assert_int_equal(decode_stacks_next(&sit, &node), 1);
    assert_int_equal(node.id, 2);
    assert_int_equal(node.parent, 1);
    assert_int_equal(node.ip, 0x401234);
    assert_int_equal(decode_stacks_next(&sit, &node), 0);

    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_THREAD);
    assert_int_equal(m.u.thread.os_tid, 4321);
    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_TAG);
    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_MARKER);
    assert_int_equal(m.u.marker.time, 500);

    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_EVENTS);
    decode_events_begin(&it, &m);
    assert_int_equal(decode_events_next(&it, &e), 1);
    assert_int_equal(e.op, WIRE_OP_THREAD);
    assert_int_equal(e.id, 3);
    assert_int_equal(decode_events_next(&it, &e), 1);
    assert_int_equal(e.op, WIRE_OP_ALLOC);
    assert_int_equal(e.time, 1000); /* microsecond resolution from the base */
    assert_int_equal(e.size, 100);
    assert_int_equal(e.stack, 2);
    assert_int_equal(decode_events_next(&it, &e), 1);
    assert_int_equal(e.op, WIRE_OP_REALLOC);
    assert_int_equal(e.time, 3000);
    assert_int_equal(e.back, 0);
    assert_int_equal(e.size, 200);
    assert_int_equal(decode_events_next(&it, &e), 1);
    assert_int_equal(e.op, WIRE_OP_TAG);
    assert_int_equal(e.id, 7);
    assert_int_equal(decode_events_next(&it, &e), 1);
    assert_int_equal(e.op, WIRE_OP_FREE);
    assert_int_equal(e.time, 0); /* backwards across threads: rounded down too */
    assert_int_equal(e.back, WIRE_SEQ_MASK);
    assert_int_equal(decode_events_next(&it, &e), 0);

    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_TICK);
    assert_int_equal(m.u.state.totals.bytes_allocated, 300);
    assert_int_equal(m.u.state.totals.peak_bytes, 0); /* none sent */
    assert_int_equal(decode_site_at(&m.u.state.sites, 1, &s), 1);
    assert_int_equal(s.live_bytes, -5);
    assert_int_equal(s.live_blocks, -1);

    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_SNAPSHOT);
    assert_int_equal(m.u.state.seq, 12345);
    assert_int_equal(m.u.state.totals.peak_bytes, 250);
    assert_int_equal(m.u.state.totals.peak_time, 9000000);
    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_HISTORY);
    assert_int_equal(decode_history_at(&m.u.history, 1, &row), 1);
    assert_int_equal(row.rss, 8);
    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.u.missed, 77);
    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_NOTE);
    assert_int_equal(m.u.note.time, 456);
    assert_int_equal(m.u.note.text.len, 28);
    assert_memory_equal(m.u.note.text.ptr, "pymalloc keeps small objects", 28);
    assert_int_equal(decode_next(&d, &m), 1);
    assert_int_equal(m.type, WIRE_END);
    assert_int_equal(m.u.end.status, 3);
    assert_int_equal(decode_next(&d, &m), WIRE_ENEEDMORE);
    decode_free(&d);
}

/* With EVENTS skipped (load.h's LOAD_TOTALS), every other message comes
 * out as it was, whole or fed byte by byte. */
static void test_skip_events(void **state)
{
    size_t n = build_stream(mem, sizeof(mem));
    int want[] = {WIRE_HELLO,  WIRE_MODULE, WIRE_FRAME, WIRE_STACKS,   WIRE_THREAD,
                  WIRE_TAG,    WIRE_MARKER, WIRE_TICK,  WIRE_SNAPSHOT, WIRE_HISTORY,
                  WIRE_MISSED, WIRE_NOTE,   WIRE_END};
    size_t nwant = sizeof(want) / sizeof(want[0]);

    (void)state;
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct decode d;
        struct wire_msg m;
        size_t got = 0;
        int r = 0;

        decode_init(&d);
        d.skip = 1u << WIRE_EVENTS;
        for (size_t i = 0; i < n; i += bytewise ? 1 : n) {
            decode_feed(&d, mem + i, bytewise ? 1 : n);
            while ((r = decode_next(&d, &m)) == 1) {
                assert_true(got < nwant);
                assert_int_equal(m.type, want[got]);
                if (m.type == WIRE_NOTE)
                    assert_int_equal(m.u.note.time, 456);
                got++;
            }
            assert_int_equal(r, WIRE_ENEEDMORE);
        }
        assert_int_equal(got, nwant);
        decode_free(&d);
    }
}

/* Every cut of a valid stream is "need more", never an error; the messages
 * before the cut all come out. */
static void test_every_truncation(void **state)
{
    size_t n = build_stream(mem, sizeof(mem));
    size_t full = 0;
    struct decode d;
    struct wire_msg m;

    decode_init(&d);
    decode_feed(&d, mem, n);
    while (decode_next(&d, &m) == 1)
        full++;
    decode_free(&d);
    assert_int_equal(full, 14);

    for (size_t cut = 0; cut < n; cut++) {
        size_t got = 0;
        int r;

        decode_init(&d);
        decode_feed(&d, mem, cut);
        while ((r = decode_next(&d, &m)) == 1)
            got++;
        assert_int_equal(r, WIRE_ENEEDMORE);
        assert_true(got < full);
        /* the rest arrives byte by byte */
        for (size_t i = cut; i < n; i++) {
            decode_feed(&d, mem + i, 1);
            while ((r = decode_next(&d, &m)) == 1)
                got++;
            assert_int_equal(r, WIRE_ENEEDMORE);
        }
        assert_int_equal(got, full);
        decode_free(&d);
    }
}

static int decode_bytes(const void *bytes, size_t n)
{
    struct decode d;
    struct wire_msg m;
    int r;

    decode_init(&d);
    decode_feed(&d, bytes, n);
    while ((r = decode_next(&d, &m)) == 1)
        ;
    decode_free(&d);
    return r;
}

static void test_corrupt(void **state)
{
    /* not an array */
    assert_int_equal(decode_bytes("\x01", 1), WIRE_ECORRUPT);
    /* reserved byte 0xc1 */
    assert_int_equal(decode_bytes("\x92\x01\xc1", 3), WIRE_ECORRUPT);
    /* array claiming 4 billion elements: too big, decided before any allocation */
    assert_int_equal(decode_bytes("\xdd\xff\xff\xff\xff", 5), WIRE_ETOOBIG);
    /* string claiming 4 GB */
    assert_int_equal(decode_bytes("\x92\x06\xdb\xff\xff\xff\xff", 7), WIRE_ETOOBIG);
    /* type 0 and a string as the type */
    assert_int_equal(decode_bytes("\x91\x00", 2), WIRE_ECORRUPT);
    assert_int_equal(decode_bytes("\x91\xa1x", 3), WIRE_ECORRUPT);
    /* HELLO with too few fields */
    assert_int_equal(decode_bytes("\x92\x01\x01", 3), WIRE_ECORRUPT);
    /* STACKS whose list is not a multiple of 3 */
    assert_int_equal(decode_bytes("\x92\x04\x92\x01\x00", 5), WIRE_ECORRUPT);
    /* an unknown newer message type is skipped, not an error */
    assert_int_equal(decode_bytes("\x92\x63\x01", 3), WIRE_ENEEDMORE);
    /* a newer protocol version is refused with its own code */
    assert_int_equal(decode_bytes("\x98\x01\x63\x01\xc0\x00\x00\x00\x00", 9), WIRE_EVERSION);
    /* and version 1 (addresses in events) is refused rather than misread */
    assert_int_equal(decode_bytes("\x98\x01\x01\x01\xc0\x00\x00\x00\x00", 9), WIRE_EOLDVERSION);
}

/* Decodes the one message in buf[0, len), which must be of this type, with
 * d (decode_free() it after using m). */
static void decode_only(struct decode *d, const char *buf, size_t len, int type, struct wire_msg *m)
{
    decode_init(d);
    assert_int_equal(decode_feed(d, buf, len), 0);
    assert_int_equal(decode_next(d, m), 1);
    assert_int_equal(m->type, type);
}

/* Decodes the STACKS message in mem[0, len) and walks its nodes into out;
 * returns what the walk ended with (0 at the end, or an error). */
static int walk_stacks(size_t len, struct wire_stack_node *out, size_t cap, size_t *n)
{
    struct decode d;
    struct wire_msg m;
    struct stacks_iter it;
    int r;

    decode_only(&d, mem, len, WIRE_STACKS, &m);
    decode_stacks_begin(&it, &m);
    for (*n = 0; (r = decode_stacks_next(&it, &out[*n])) == 1;)
        assert_true(++*n < cap);
    decode_free(&d);
    return r;
}

/* Encodes n nodes (at most 8), checks the message type the encoder chose,
 * and decodes them back as they were. */
static void stacks_roundtrip(const struct wire_stack_node *nodes, size_t n, int type)
{
    struct wire_stack_node got[8];
    struct encode_buf b;
    size_t k;

    encode_init(&b, mem, sizeof(mem));
    assert_int_equal(encode_stacks(&b, nodes, n), 0);
    assert_int_equal((unsigned char)mem[1], type);
    assert_int_equal(walk_stacks(b.len, got, 8, &k), 0);
    assert_int_equal(k, n);
    assert_memory_equal(got, nodes, n * sizeof(*nodes));
}

/* A node whose parent is not below it is corrupt (sent as absolute STACKS:
 * the encoder keeps steps for ascending ids with parents below). */
static void test_stack_parent_order(void **state)
{
    struct encode_buf b;
    struct wire_stack_node bad[] = {{1, 1, 0x10}}, got[4];
    size_t n;

    encode_init(&b, mem, sizeof(mem));
    encode_stacks(&b, bad, 1);
    assert_int_equal(walk_stacks(b.len, got, 4, &n), WIRE_ECORRUPT);
}

/* Both forms give the nodes back as sent: steps across modules (ips far
 * apart, down and up) and the top of the id range; out-of-order ids go as
 * absolute STACKS. Corrupt steps: a zero id step, a parent_back past the
 * root, a non-integer. */
static void test_stack_steps(void **state)
{
    struct wire_stack_node up[] = {{1, 0, 0x7f0000001000ull},
                                   {2, 1, 0x401000},
                                   {9, 2, 0xffffffffff600000ull},
                                   {10, 0, 0},
                                   {WIRE_MAX_STACK_ID, 9, 0x7f0000001000ull}};
    struct wire_stack_node unordered[] = {{5, 1, 0x10}, {3, 1, 0x20}};
    struct wire_stack_node got[8];
    size_t n;

    stacks_roundtrip(up, 5, WIRE_STACK_STEPS);
    stacks_roundtrip(unordered, 2, WIRE_STACKS);

    /* [17, [id_step, parent_back, ip_step]] */
    static const struct {
        const char *p;
        size_t n;
    } bad[] = {{"\x92\x11\x93\x00\x00\x05", 6},   /* id step 0 */
               {"\x92\x11\x93\x02\x03\x05", 6},   /* parent 2 - 3 */
               {"\x92\x11\x93\x02\x01\xa1x", 7}}; /* ip step a string */
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        memcpy(mem, bad[k].p, bad[k].n);
        assert_int_equal(walk_stacks(bad[k].n, got, 8, &n), WIRE_ECORRUPT);
        assert_int_equal(n, 0);
    }
}

static void test_encoder_full_buffer(void **state)
{
    char small[20];
    struct encode_buf b;

    encode_init(&b, small, sizeof(small));
    assert_int_equal(encode_thread(&b, 1, 2, "a"), 0);
    size_t len = b.len;
    assert_int_equal(encode_hello(&b, 1, "/a/very/long/executable/path", 0, 4096, 64, 0),
                     WIRE_ENOSPACE);
    assert_int_equal(b.len, len); /* nothing appended */
}

/* encode_events() into a roomy buffer, into one of exactly the size needed,
 * and encode_events_counted() (the collector's way) write the same bytes, for
 * every width of every field (times before the base and far after it). */
static void test_events_encodings_agree(void **state)
{
    static struct wire_event ev[3000];
    static char fast[3000 * 40 + 64], slow[3000 * 40 + 64];
    static const int64_t mags[] = {0,         1,         31,          32,         127,
                                   128,       255,       256,         65535,      65536,
                                   1ll << 31, 1ll << 32, (1ll << 40), (1ll << 62)};
    uint64_t x = 88172645463325252ull;
    const int nm = (int)(sizeof(mags) / sizeof(mags[0]));

    for (int round = 0; round < 50; round++) {
        size_t n = round == 0 ? 0 : 1 + (size_t)(x % 3000);
        int64_t base = round % 3 == 0 ? 0 : (int64_t)(x % (1ull << 40)) - (1ll << 39);
        struct encode_buf bf, bs;

        for (size_t i = 0; i < n; i++) {
            struct wire_event *e = &ev[i];
            int64_t m;

            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            m = (mags[x % (uint64_t)nm] >> (x & 1 ? 10 : 0) & ((1ll << 52) - 1)) * 1000 +
                (int64_t)((x >> 8) % 2000);
            memset(e, 0, sizeof(*e));
            e->op = (uint8_t)(1 + (x >> 20) % 5);
            e->time = base + ((x >> 24) & 1 ? m : -m);
            e->stack = (uint32_t)mags[(x >> 28) % (uint64_t)nm];
            e->size = (uint64_t)mags[(x >> 32) % (uint64_t)nm] + ((x >> 36) & 3);
            e->back = (uint64_t)mags[(x >> 40) % (uint64_t)nm] + ((x >> 44) & 1);
            e->id = (uint32_t)mags[(x >> 48) % (uint64_t)nm];
        }
        encode_init(&bf, fast, sizeof(fast));
        assert_int_equal(encode_events(&bf, base, ev, n), 0);
        /* exactly the room it needs */
        encode_init(&bs, slow, bf.len);
        assert_int_equal(encode_events(&bs, base, ev, n), 0);
        assert_int_equal(bs.len, bf.len);
        assert_memory_equal(fast, slow, bf.len);
        /* the collector's way: item count kept while the batch was built */
        size_t items = 0;
        for (size_t i = 0; i < n; i++)
            items += encode_events_items(ev[i].op);
        encode_init(&bs, slow, sizeof(slow));
        assert_int_equal(encode_events_counted(&bs, base, ev, n, items), 0);
        assert_int_equal(bs.len, bf.len);
        assert_memory_equal(fast, slow, bf.len);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    }
    /* every width boundary of every field */
    for (int k = 0; k < 64; k++)
        for (int64_t d = -1; d <= 1; d++) {
            uint64_t v = (1ull << k) + (uint64_t)d;
            struct wire_event e[4] = {
                {.op = WIRE_OP_ALLOC,
                 .time = (int64_t)(v >> 12) * 1000,
                 .stack = (uint32_t)v,
                 .size = v},
                {.op = WIRE_OP_REALLOC, .time = (int64_t)(v >> 12) * 1000, .size = v, .back = v},
                {.op = WIRE_OP_FREE, .time = (int64_t)(v >> 13) * 1000, .back = v},
                {.op = WIRE_OP_THREAD, .id = (uint32_t)v},
            };
            struct encode_buf bf, bs;

            encode_init(&bf, fast, sizeof(fast));
            assert_int_equal(encode_events(&bf, (int64_t)(v >> 3), e, 4), 0);
            encode_init(&bs, slow, bf.len);
            assert_int_equal(encode_events(&bs, (int64_t)(v >> 3), e, 4), 0);
            assert_int_equal(bs.len, bf.len);
            assert_memory_equal(fast, slow, bf.len);
        }
}

/* Decodes the one EVENTS message in buf into out (backs as readers see
 * them); returns how many, and counts the _STEP ops sent in *steps. */
static size_t decode_batch(const char *buf, size_t len, struct wire_event *out, size_t cap,
                           size_t *steps)
{
    struct decode d;
    struct wire_msg m;
    struct events_iter it;
    size_t n = 0;
    int r;

    decode_only(&d, buf, len, WIRE_EVENTS, &m);
    *steps = 0;
    decode_events_begin(&it, &m);
    for (;;) {
        uint64_t op = it.p < it.end ? *it.p : 0; /* the op, a positive fixint */

        r = decode_events_next(&it, &out[n]);
        if (r <= 0)
            break;
        *steps += op == WIRE_OP_FREE_STEP || op == WIRE_OP_REALLOC_STEP;
        assert_true(++n <= cap);
    }
    assert_int_equal(r, 0);
    decode_free(&d);
    return n;
}

/* Encodes n events (at most 4000) as one batch and decodes them: every op
 * and back comes out as it went in. Returns how many went as _STEP. */
static size_t events_roundtrip(const struct wire_event *ev, size_t n)
{
    static struct wire_event got[4000];
    static char buf[4000 * 40 + 64];
    struct encode_buf b;
    size_t steps;

    encode_init(&b, buf, sizeof(buf));
    assert_int_equal(encode_events(&b, 0, ev, n), 0);
    assert_int_equal(decode_batch(buf, b.len, got, 4000, &steps), n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].op, ev[i].op);
        assert_int_equal(got[i].back, ev[i].back);
    }
    return steps;
}

/* FREE_STEP / REALLOC_STEP: the encoder picks them where they pack shorter,
 * and the decoder gives back every back as it was. */
static void test_events_steps(void **state)
{
    static struct wire_event ev[4000];
    size_t n = 0, steps;
    uint64_t x = 2463534242ull;

    /* 300 blocks, then torn down oldest first: backs 299, 298, ... 0, while
     * each step is 1 (the first from seq_now at the batch's start, 0) */
    for (int i = 0; i < 300; i++)
        ev[n++] = (struct wire_event){.op = WIRE_OP_ALLOC, .stack = 2, .size = 48};
    for (int i = 0; i < 300; i++)
        ev[n++] = (struct wire_event){.op = WIRE_OP_FREE, .back = (uint64_t)(299 - i)};
    steps = events_roundtrip(ev, n);
    /* a step of 1 (1 byte) beats backs 299..128 (3 and 2 bytes) and ties
     * with backs 127..0, which go as backs: 172 steps */
    assert_int_equal(steps, 172);

    /* random batches: every magnitude of back, reallocs, wrap-around near 2^40 */
    static const uint64_t mags[] = {0,
                                    1,
                                    31,
                                    32,
                                    127,
                                    128,
                                    255,
                                    256,
                                    65535,
                                    65536,
                                    (1ull << 32) - 1,
                                    1ull << 32,
                                    WIRE_SEQ_MASK - 1,
                                    WIRE_SEQ_MASK};
    const size_t nm = sizeof(mags) / sizeof(mags[0]);
    for (int round = 0; round < 40; round++) {
        n = 1 + (size_t)(x % 4000);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            ev[i] = (struct wire_event){.op = (uint8_t)(1 + x % 3), .stack = 5, .size = 16};
            /* near the previous back (a step) or anywhere */
            if (x & 8 && i > 0)
                ev[i].back = (ev[i - 1].back + (x >> 8) % 5 - 2) & WIRE_SEQ_MASK;
            else
                ev[i].back = mags[(x >> 16) % nm] + (x >> 40) % 3;
            ev[i].back &= WIRE_SEQ_MASK;
            if (ev[i].op == WIRE_OP_ALLOC)
                ev[i].back = 0;
        }
        events_roundtrip(ev, n);
    }
}

/* A step beyond 40 signed bits is corrupt; so is one that is not an integer. */
static void test_events_bad_step(void **state)
{
    /* [8, 0, [6, 0, step]] */
    static const char big[] = "\x93\x08\x00\x93\x06\x00\xcf\x00\x00\x00\x80\x00\x00\x00\x00";
    static const char neg[] = "\x93\x08\x00\x93\x06\x00\xd3\xff\xff\xff\x7f\xff\xff\xff\xff";
    static const char str[] = "\x93\x08\x00\x93\x06\x00\xa1x";
    static const char ok[] = "\x93\x08\x00\x93\x06\x00\xd3\xff\xff\xff\x80\x00\x00\x00\x00";
    const struct {
        const char *p;
        size_t n;
        int want;
    } cases[] = {{big, sizeof(big) - 1, WIRE_ECORRUPT},
                 {neg, sizeof(neg) - 1, WIRE_ECORRUPT},
                 {str, sizeof(str) - 1, WIRE_ECORRUPT},
                 {ok, sizeof(ok) - 1, 1}};

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct decode d;
        struct wire_msg m;
        struct events_iter it;
        struct wire_event e;

        decode_only(&d, cases[k].p, cases[k].n, WIRE_EVENTS, &m);
        decode_events_begin(&it, &m);
        assert_int_equal(decode_events_next(&it, &e), cases[k].want);
        if (cases[k].want == 1) { /* step -2^39 from ref 0: back 2^39 */
            assert_int_equal(e.op, WIRE_OP_FREE);
            assert_int_equal(e.back, 1ull << 39);
        }
        decode_free(&d);
    }
}

static void roundtrip_file(int level, int cut_tail)
{
    char path[] = "/tmp/heapline-test-XXXXXX";
    int fd = mkstemp(path);
    struct recfile_writer w;
    struct recfile_reader r;
    size_t n = build_stream(mem, sizeof(mem));
    static char back[1 << 17];
    size_t got = 0;
    ssize_t k;

    assert_true(fd >= 0);
    assert_int_equal(recfile_writer_open(&w, fd, level), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(recfile_write(&w, mem, n, 1), 0);
    if (!cut_tail)
        assert_int_equal(recfile_writer_close(&w), 0);
    else
        recfile_writer_close(&w); /* then cut below */
    if (cut_tail)
        assert_int_equal(ftruncate(fd, lseek(fd, 0, SEEK_END) - 3), 0);
    close(fd);

    assert_int_equal(recfile_open(&r, path), 0);
    while ((k = recfile_read(&r, back + got, sizeof(back) - got)) > 0)
        got += (size_t)k;
    assert_int_equal(k, 0);
    if (!cut_tail) {
        assert_int_equal(got, 4 * n);
        assert_memory_equal(back, mem, n);
        assert_memory_equal(back + 3 * n, mem, n);
        assert_false(r.truncated);
    } else {
        assert_true(got >= 3 * n); /* everything flushed before the cut */
        assert_memory_equal(back + 2 * n, mem, n);
        if (level > 0)
            assert_true(r.truncated);
    }
    recfile_close(&r);
    unlink(path);
}

static void test_recfile_zstd(void **state)
{
    roundtrip_file(3, 0);
}

static void test_recfile_raw(void **state)
{
    roundtrip_file(0, 0);
}

static void test_recfile_truncated(void **state)
{
    roundtrip_file(3, 1);
}

static void test_recfile_not_a_recording(void **state)
{
    struct recfile_reader r;
    char path[] = "/tmp/heapline-test-XXXXXX";
    int fd = mkstemp(path);

    assert_int_equal(write(fd, "hello world, not a recording", 28), 28);
    close(fd);
    assert_int_equal(recfile_open(&r, path), WIRE_EMAGIC);
    unlink(path);
    assert_int_equal(recfile_open(&r, "/nonexistent/heapline"), WIRE_EIO);
    assert_string_equal(wire_strerror(WIRE_EMAGIC), "not a heapline recording");
}

/* OBJECTS responses carry addresses and the sequence numbers of the events. */
static void test_objects(void **state)
{
    struct encode_buf b;
    struct wire_object o[] = {{0x7f0000001000, 24, 5, 1000, 2, 0, 1},
                              {0x7f0000002000, 48, 6, 2000, 1, 3, WIRE_SEQ_MASK}};
    struct wire_object got;
    struct wire_msg m;
    msgpack_zone z;
    size_t used;

    encode_init(&b, mem, sizeof(mem));
    assert_int_equal(encode_resp_objects(&b, 9, o, 2, 7), 0);
    msgpack_zone_init(&z, 4096);
    assert_int_equal(decode_one(mem, b.len, &z, &m, &used), 1);
    assert_int_equal(m.type, WIRE_RESPONSE);
    assert_int_equal(m.u.response.total, 7);
    assert_int_equal(wire_list_count(&m.u.response.objects, 7), 2);
    assert_int_equal(decode_object_at(&m.u.response.objects, 1, &got), 1);
    assert_int_equal(got.addr, 0x7f0000002000);
    assert_int_equal(got.tag, 3);
    assert_int_equal(got.seq, WIRE_SEQ_MASK);
    assert_int_equal(decode_object_at(&m.u.response.objects, 2, &got), WIRE_ECORRUPT);
    msgpack_zone_destroy(&z);
}

/* MODULE says where the module's names come from; a MODULE of an older
 * collector (six fields) reads as unknown; an out-of-range value is corrupt. */
static void test_module_symbols(void **state)
{
    static const char old[] = {(char)0x96, 0x02, 0x01, 0xa2, '/', 'p', 0x00, 0x00, 0xc0};
    static const char bad[] = {(char)0x98, 0x02, 0x01, 0xa2, '/', 'p',
                               0x00,       0x00, 0xc0, 0x09, 0xc0};
    struct encode_buf b;
    struct wire_msg m;
    msgpack_zone z;
    size_t used;

    (void)state;
    encode_init(&b, mem, sizeof(mem));
    assert_int_equal(encode_module_symbols(&b, 3, "/bin/prog", 0x400000, 0x2000, "abcd",
                                           WIRE_SYMBOLS_DEBUG_FILE, "/dbg/.build-id/ab/cd.debug"),
                     0);
    msgpack_zone_init(&z, 4096);
    assert_int_equal(decode_one(mem, b.len, &z, &m, &used), 1);
    assert_int_equal(m.type, WIRE_MODULE);
    assert_int_equal(m.u.module.symbols, WIRE_SYMBOLS_DEBUG_FILE);
    assert_int_equal(m.u.module.debug_file.len, 26);
    assert_memory_equal(m.u.module.debug_file.ptr, "/dbg/.build-id/ab/cd.debug", 26);

    assert_int_equal(decode_one(old, sizeof(old), &z, &m, &used), 1);
    assert_int_equal(m.type, WIRE_MODULE);
    assert_int_equal(m.u.module.id, 1);
    assert_int_equal(m.u.module.symbols, WIRE_SYMBOLS_UNKNOWN);
    assert_int_equal(m.u.module.debug_file.len, 0);

    assert_int_equal(decode_one(bad, sizeof(bad), &z, &m, &used), WIRE_ECORRUPT);
    msgpack_zone_destroy(&z);
}

/* A request trickled in a byte at a time is walked once in all: the walk
 * resumes at the object it could not finish (it was re-walked from the
 * message's start on every byte, quadratic). */
static void test_trickle_resumes(void **state)
{
    static uint32_t ids[12000];
    struct encode_buf b;
    struct decode d;
    struct wire_msg m;
    int r = WIRE_ENEEDMORE;

    for (uint32_t i = 0; i < 12000; i++)
        ids[i] = 100000 + i;
    encode_init(&b, mem, sizeof(mem));
    assert_int_equal(encode_req_objects(&b, 7, ids, 12000, 50), 0);
    assert_true(b.len > 50000);
    decode_init(&d);
    for (size_t i = 0; i < b.len; i++) {
        decode_feed(&d, mem + i, 1);
        r = decode_next(&d, &m);
        if (i + 1 < b.len) {
            assert_int_equal(r, WIRE_ENEEDMORE);
            /* stopped inside the last (5-byte) id at most */
            assert_true(d.ext.off + 5 >= i + 1 - d.off);
        }
    }
    assert_int_equal(r, 1);
    assert_int_equal(m.u.request.kind, WIRE_REQ_OBJECTS);
    assert_int_equal(m.u.request.stacks.n, 12000);
    assert_int_equal(wire_items(&m.u.request.stacks)[11999].via.u64, 111999);
    assert_int_equal(d.ext.off, 0);
    decode_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_module_symbols),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_skip_events),
        cmocka_unit_test(test_trickle_resumes),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_stack_parent_order),
        cmocka_unit_test(test_stack_steps),
        cmocka_unit_test(test_encoder_full_buffer),
        cmocka_unit_test(test_events_encodings_agree),
        cmocka_unit_test(test_events_steps),
        cmocka_unit_test(test_events_bad_step),
        cmocka_unit_test(test_recfile_zstd),
        cmocka_unit_test(test_recfile_raw),
        cmocka_unit_test(test_recfile_truncated),
        cmocka_unit_test(test_recfile_not_a_recording),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
