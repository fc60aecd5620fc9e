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
 * possibly repeated when count < 0. One pass over the key, memory for the picks only.
 * Returns how many were picked (an array the caller frees with picked_free), or -1 (nothing
 * to free) if the collection holds fewer members than its size says. */
long long members_pick(compound *c, long long count, picked **out);
void picked_free(picked *p, long long n);
/* HSCAN / SSCAN: cursor [MATCH pattern] [COUNT count]; with_values replies field and value. */
void members_scan(cmd_ctx *ctx, enum key_type type, int with_values);

#endif
