/* Shared by hash and set commands: random picks of members and scans of a compound key. */
#ifndef TIDEKV_MEMBERS_H
#define TIDEKV_MEMBERS_H

#include "cmd/cmd.h"
#include "types/compound.h"

/* Replies the error for what compound_open returned (CK_WRONGTYPE, CK_CORRUPT, CK_ERROR). */
void reply_compound_error(cmd_ctx *ctx, const resp_arg *key, int rc);
/* Opens the compound key `key` as `type`; replies WRONGTYPE, a corrupt key or a storage error
 * (and frees c) and returns -1 then. */
int members_open(cmd_ctx *ctx, compound *c, const resp_arg *key, enum key_type type);

/* A member (and its value) copied out of the store. */
typedef struct picked {
    buf sub, val;
} picked;

/* Picks members at random: |count| of them, distinct when count > 0 (at most the size),
 * possibly repeated when count < 0, with their values if with_values. One pass over the key,
 * memory for the picks only: once the members and values picked take more than max_bytes
 * (SIZE_MAX: no bound), picking stops short (a reply of them, which takes more, would pass
 * the client's bound). Returns how many were picked (an array the caller frees with
 * picked_free), or (nothing to free) -1 if the collection holds fewer members than its size
 * says, MEMBERS_READ_ERROR on a read error. */
#define MEMBERS_READ_ERROR (-2)
long long members_pick(compound *c, long long count, int with_values, size_t max_bytes, picked **out);
/* Replies the error for a failed members_pick (rc < 0). */
void reply_pick_error(cmd_ctx *ctx, const compound *c, long long rc);
void picked_free(picked *p, long long n);

/* Parses the count of SRANDMEMBER, HRANDFIELD or ZRANDMEMBER: any integer whose negation is
 * one too (not LLONG_MIN), as in Redis. Replies and returns -1 otherwise. */
int members_parse_count(cmd_ctx *ctx, const resp_arg *arg, long long *count);
/* With WITHVALUES / WITHSCORES a pick is two replies: Redis takes counts up to half the range
 * then. Replies and returns -1 past it. */
int members_check_pair_count(cmd_ctx *ctx, long long count);

/* Replies one random member of c, or nil if it is missing or empty. */
void members_reply_one(cmd_ctx *ctx, compound *c);
/* Replies a pick's value after its member (HRANDFIELD's value, ZRANDMEMBER's score); returns
 * 0, or -1 (nothing replied) if the stored value is corrupt. */
typedef int (*value_reply_fn)(reply *r, const char *val, size_t len);

/* Replies an array of |count| random members of c (which may be missing): distinct when
 * count >= 0 (at most the size), possibly repeated when count < 0, each followed by its value
 * when reply_value is given (as [member, value] pairs in RESP3). Repeated picks are made as
 * they are replied, in memory that does not grow with the count; picks stop once the reply
 * is past the client's bound (it is closed then, without the reply). A size or value found
 * corrupt replies the corrupt-key error instead. */
void members_reply_random(cmd_ctx *ctx, compound *c, long long count, value_reply_fn reply_value);
/* HSCAN / SSCAN: cursor [MATCH pattern] [COUNT count]; with_values replies field and value. */
void members_scan(cmd_ctx *ctx, enum key_type type, int with_values);

#endif
