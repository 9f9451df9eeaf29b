/*
 * tags.h - names of call-site tags and marker labels, stored without malloc.
 *
 * Tag names are interned to ids 1..WIRE_MAX_TAG_ID (0 means "no tag"); marker
 * labels are copied into the same append-only string arena. Writers (any
 * application thread) take one mutex; that is fine because heapline_tag_push
 * and heapline_mark are not on the allocation path and are documented as not
 * async-signal-safe. The collector reads published entries without the lock.
 */
#ifndef HEAPLINE_TAGS_H
#define HEAPLINE_TAGS_H

#include <stdint.h>

int tags_init(void);
void tags_reset(void); /* unmaps everything (fork child, before tags_init) */

/* The id of name, defining it if new. Returns 0 when the tables are full. */
uint16_t tags_intern(const char *name);

/* Copies a label into the arena. Returns its offset, or UINT64_MAX when full. */
uint64_t tags_store(const char *label, uint32_t *len);

/* Collector: the string at an offset returned by tags_store(). */
const char *tags_string(uint64_t off);

/* Collector: tags defined so far are 1 .. tags_count() - 1. */
uint32_t tags_count(void);
const char *tags_name(uint32_t id);

void tags_atfork_prepare(void);
void tags_atfork_parent(void);

#endif
