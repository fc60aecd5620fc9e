/* The hash type: fields are subkeys of the hash's current version, their values the subkey
 * values (ENCODING.md). Picks and scans are in types/members.h (TYPE_HASH). */
#ifndef TIDEKV_TYPES_HASH_H
#define TIDEKV_TYPES_HASH_H

#include <stddef.h>

#include "storage/txn.h"
#include "types/members.h"
#include "types/status.h"
#include "util/buf.h"
#include "util/slice.h"

/* Every status below may also be ST_WRONGTYPE, ST_CORRUPT (the key's metadata) or ST_ERROR (a
 * read failed: the command must fail). */

/* HSET: sets npairs fields from items (field, value, field, value, …); *added counts the new. */
type_status hash_set(txn *t, int db, const char *key, size_t klen, const slice *items, int npairs, long long *added);
/* HSETNX: sets the field only if the hash does not have it; *set tells whether it did. */
type_status hash_setnx(txn *t, int db, const char *key, size_t klen, const slice *field, const slice *value,
                       int *set);
/* HGET: the value into out (replacing what it held); ST_MISSING if the key or field is missing. */
type_status hash_get(txn *t, int db, const char *key, size_t klen, const char *field, size_t flen, buf *out);
/* HMGET: visits each of the n fields in turn with its value, or a NULL value if it is missing. */
type_status hash_mget(txn *t, int db, const char *key, size_t klen, const slice *fields, int n,
                      member_visit_fn visit, void *arg);
/* HDEL: deletes those of the n fields that exist, visiting each one deleted (with no value);
 * *removed counts them. */
type_status hash_del(txn *t, int db, const char *key, size_t klen, const slice *fields, int n,
                     member_visit_fn removed_visit, void *arg, long long *removed);
/* HLEN (0 for a missing key). */
type_status hash_len(txn *t, int db, const char *key, size_t klen, long long *len);
/* HGETALL / HKEYS / HVALS: every field in order, with its value; see members_all. */
type_status hash_get_all(txn *t, int db, const char *key, size_t klen, long long *size, member_visit_fn visit,
                         void *arg);
/* HINCRBY: the new value in *result. ST_NOT_INTEGER if the field's value is not an integer,
 * ST_OVERFLOW if the sum would not fit. */
type_status hash_incrby(txn *t, int db, const char *key, size_t klen, const slice *field, long long by,
                        long long *result);
/* HINCRBYFLOAT (by is finite): the new value's text, as stored, in out. ST_NOT_FLOAT if the
 * field's value is not a float, ST_NAN_OR_INF if the sum is not finite. */
type_status hash_incrbyfloat(txn *t, int db, const char *key, size_t klen, const slice *field, long double by,
                             buf *out);

#endif
