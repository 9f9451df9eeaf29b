/*
 * requests.h - the clients' requests (requests.c): objects of some stacks
 * (walks of the live table in bounded steps), a read of a block, a
 * backreference scan or census (a forked child, a few at once, the rest
 * queued). Collector thread only; nothing here blocks.
 */
#ifndef HEAPLINE_REQUESTS_H
#define HEAPLINE_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "scan.h"

struct client;
struct sel_key;
struct wire_object;

/* The request a client has in progress. */
enum requests_kind {
    JOB_NONE,
    JOB_OBJECTS, /* walking the live table for blocks of some stacks */
    JOB_SORT,    /* ordering what it selected, oldest first */
    JOB_CHECK,   /* dropping what was freed (or seen twice) meanwhile */
    JOB_FIND,    /* walking the live table for the block containing addr */
    JOB_SCAN     /* waiting for a scan slot */
};

struct requests_job {
    enum requests_kind kind;
    uint64_t order; /* first come, first served */
    uint32_t req_id, kind_req;
    uint64_t addr;
    uint32_t len, depth, fanout;
    size_t cursor;
    unsigned gen;
    /* a request about the heap (objects, scan, census) is answered from the
     * table once every event up to asked_ns (its arrival) is applied:
     * until then it waits, and other clients are served (requests.c) */
    int64_t asked_ns;
    /* objects */
    uint32_t *ids;
    size_t n_ids;
    struct sel_key *sel; /* a max-heap by (time, addr) while walking */
    size_t n_sel, cap_sel, max_sel;
    struct wire_object *out; /* the answer, built from the live table */
    uint64_t total;
    /* find */
    uint64_t found;
};

/* Sets how many scan children may run at once (from the CPUs). Start-up. */
void requests_init(void);

/* Reads what client i sent and takes its requests while it may have more
 * (one at a time). May drop client i. */
void requests_read(int i);

/* 1 when client c may have a request taken: none in progress, and its
 * unsent replies are short. */
int requests_can_take(const struct client *c);

/* This turn's request work: requests already received, walks (oldest
 * first) and scans waiting for a slot, within the turn's time budget;
 * queued replies are written. May drop clients. */
void requests_work(void);

/* 1 when request work is left for the next turn, or a request waits for
 * the collector to catch up with its time (do not sleep in poll). */
int requests_busy(void);

/* The most CPU time one turn of request work took (ns; HEAPLINE_STATS). */
int64_t requests_longest_ns(void);

/* The fd that tells client c's scan child has written (or died), or -1. */
int requests_scan_fd(const struct client *c);

/* Client i's scan child is readable: reads it, and when done answers i and
 * every client waiting for the same scan. May drop clients. */
void requests_scan_done(int i);

/* Bytes job j holds (for clients_held). */
size_t requests_held(const struct requests_job *j);

/* Frees what job j holds and clears it. */
void requests_end(struct requests_job *j);

/* Client c goes: its job and its scan child (killed) go with it. */
void requests_drop(struct client *c);

/* Fork child: nothing of the parent's is left to do. */
void requests_atfork_child(void);

#endif
