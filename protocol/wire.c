/*
 * wire.c - the error strings of the protocol's codes.
 */
#include "wire.h"

static const char *const wire_errors[WIRE_ERR_COUNT] = {
    [0] = "success",
    [1] = "stream ends inside a message",
    [2] = "corrupt message",
    [3] = "message, count or id beyond the protocol's bounds",
    [4] = "recorded by a newer heapline; upgrade to read it",
    [5] = "buffer too small for the message",
    [6] = "out of memory",
    [7] = "not a heapline recording",
    [8] = "input/output error",
    [9] = "compressed stream is corrupt",
    [10] = "recorded by an older, incompatible heapline",
};

const char *wire_strerror(int err)
{
    int i = -err;

    if (i < 0 || i >= WIRE_ERR_COUNT)
        return "unknown error";
    return wire_errors[i];
}
