/* Reply shaping shared by hash, set and sorted set commands: statuses of collection keys,
 * random picks (HRANDFIELD, SRANDMEMBER, ZRANDMEMBER) and scans (HSCAN, SSCAN, ZSCAN). The
 * logic is in types/members.h. */
#ifndef TIDEKV_MEMBERS_H
#define TIDEKV_MEMBERS_H

#include "cmd/cmd.h"
#include "types/members.h"

/* Replies the error for a status other than ST_OK / ST_MISSING about `key` (which names the
 * key in a corrupt-key error) and returns 1; returns 0 for ST_OK and ST_MISSING. */
int reply_key_status(cmd_ctx *ctx, const resp_arg *key, type_status st);

/* Parses the count of SRANDMEMBER, HRANDFIELD or ZRANDMEMBER: any integer whose negation is
 * one too (not LLONG_MIN), as in Redis. Replies and returns -1 otherwise. */
int members_parse_count(cmd_ctx *ctx, const resp_arg *arg, long long *count);
/* With WITHVALUES / WITHSCORES a pick is two replies: Redis takes counts up to half the range
 * then. Replies and returns -1 past it. */
int members_check_pair_count(cmd_ctx *ctx, long long count);

/* Replies one random member of the collection at argv[1], or nil if it is missing. */
void members_reply_one(cmd_ctx *ctx, enum key_type type);
/* Replies a pick's value after its member (HRANDFIELD's value, ZRANDMEMBER's score); returns
 * 0, or -1 (nothing replied) if the stored value is corrupt. */
typedef int (*value_reply_fn)(reply *r, const char *val, size_t len);

/* Replies an array of |count| random members of the collection at argv[1] (which may be
 * missing): distinct when count >= 0 (at most the size), possibly repeated when count < 0,
 * each followed by its value when reply_value is given (as [member, value] pairs in RESP3).
 * Picks stop once the reply is past the client's bound (it is closed then, without the
 * reply). A size or value found corrupt replies the corrupt-key error instead. */
void members_reply_random(cmd_ctx *ctx, enum key_type type, long long count, value_reply_fn reply_value);
/* HSCAN / SSCAN / ZSCAN: key cursor [MATCH pattern] [COUNT count]; with_values replies field
 * and value (a sorted set's score). */
void members_reply_scan(cmd_ctx *ctx, enum key_type type, int with_values);

#endif
