/* What SORT reads: the elements of a list, set or sorted set. Sorting them and the BY / GET
 * lookups are cmd/sort.c's. */
#ifndef TIDEKV_TYPES_SORT_H
#define TIDEKV_TYPES_SORT_H

#include <stddef.h>

#include "storage/encoding.h"
#include "storage/txn.h"
#include "types/status.h"

/* One element (valid during the call): a list's item, a set's member, or a sorted set's
 * member with its score (0 for the others). */
typedef void (*sort_element_fn)(void *arg, const char *elem, size_t len, double score);

/* Visits every element of key in the collection's own order; its type in *type. The whole key
 * is read, so it is checked against its size: ST_CORRUPT (possibly after visits) when the
 * count differs or a score does not decode. ST_MISSING (nothing visited), ST_WRONGTYPE for
 * other types, ST_ERROR on a read error (possibly after visits). */
type_status sort_read_elements(txn *t, int db, const char *key, size_t klen, enum key_type *type,
                               sort_element_fn fn, void *arg);

#endif
