/*
 * source_ask.c - what callers ask of a source (source.h): its kind, state,
 * progress and messages, and requests to the collector behind a socket or a
 * child, whose answers are kept by request id (responses.h) until taken.
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client.h"
#include "encode.h"
#include "responses.h"
#include "source_int.h"
#include "wire.h"

int source_kind(const struct source *src)
{
    return src->kind;
}

int source_fd(const struct source *src)
{
    if (src->kind == SOURCE_FILE || src->from_file)
        return -1;
    return src->state == SOURCE_OPEN ? src->fd : -1;
}

int source_state(const struct source *src)
{
    return src->state;
}

int source_busy(const struct source *src)
{
    if (src->state != SOURCE_OPEN)
        return 0;
    return src->kind == SOURCE_FILE || src->from_file || src->pending;
}

uint64_t source_model_errors(const struct source *src, const char **first_error)
{
    if (first_error)
        *first_error = src->first_err;
    return src->model_errs;
}

const char *source_message(const struct source *src)
{
    return src->shown;
}

const char *source_name(const struct source *src)
{
    return src->name;
}

int source_truncated(const struct source *src)
{
    return src->truncated;
}

void source_progress(const struct source *src, uint64_t *done, uint64_t *total)
{
    if (src->kind == SOURCE_FILE) {
        struct stat st;
        *done = src->rf.in_file_off;
        *total = fstat(src->rf.fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        return;
    }
    *done = src->received;
    *total = 0;
}

static int send_req(struct source *s, struct encode_buf *b)
{
    if (s->kind == SOURCE_FILE || s->state != SOURCE_OPEN || s->fd < 0)
        return -1;
    if (client_send(s->fd, b->data, b->len) != 0)
        return -1;
    return 0;
}

int source_request_objects(struct source *src, const uint32_t *stacks, size_t n, uint32_t max)
{
    struct encode_buf b;
    size_t cap = 64 + n * 6;
    char *mem = malloc(cap);
    uint32_t id = src->next_req++;
    int r = -1;

    if (!mem)
        return -1;
    encode_init(&b, mem, cap);
    if (encode_req_objects(&b, id, stacks, n, max) == 0 && send_req(src, &b) == 0)
        r = (int)id;
    free(mem);
    return r;
}

int source_request_read(struct source *src, uint64_t addr, uint32_t len)
{
    struct encode_buf b;
    char mem[64];
    uint32_t id = src->next_req++;

    encode_init(&b, mem, sizeof(mem));
    if (encode_req_read(&b, id, addr, len) != 0 || send_req(src, &b) != 0)
        return -1;
    return (int)id;
}

int source_request_scan(struct source *src, uint64_t addr, uint32_t max_depth, uint32_t max_fanout)
{
    struct encode_buf b;
    char mem[64];
    uint32_t id = src->next_req++;

    encode_init(&b, mem, sizeof(mem));
    if (encode_req_scan(&b, id, addr, max_depth, max_fanout) != 0 || send_req(src, &b) != 0)
        return -1;
    return (int)id;
}

const struct response *source_response(const struct source *src, int id)
{
    return src && src->answers && id > 0 ? responses_get(src->answers, (uint32_t)id) : NULL;
}

void source_response_done(struct source *src, int id)
{
    if (src && src->answers && id > 0)
        responses_drop(src->answers, (uint32_t)id);
}

pid_t source_child_pid(const struct source *src)
{
    return src->kind == SOURCE_CHILD ? src->pid : 0;
}
