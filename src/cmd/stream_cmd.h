/* What the stream command files (cmd/stream.c, cmd/stream_group.c) share: id arguments, stream
 * errors, entries in replies, change records of commands recorded as given. */
#ifndef TIDEKV_CMD_STREAM_CMD_H
#define TIDEKV_CMD_STREAM_CMD_H

#include "cmd/handlers.h"
#include "types/stream.h"

#define ERR_INVALID_ID "ERR Invalid stream ID specified as stream command argument"

/* Parses an id argument (see stream_id_parse); replies the error and returns -1 if it is none. */
int parse_id(cmd_ctx *ctx, const resp_arg *a, uint64_t missing_seq, int strict, int *seq_given, stream_id *id);
/* Reads an XRANGE bound ("(" for an exclusive one); replies the error and returns -1 if it is
 * malformed. */
int parse_bound(cmd_ctx *ctx, const resp_arg *a, int is_end, stream_id *id);
/* Replies the error of a failed status about the stream at argv[1]; returns 1 if it replied. */
int reply_stream_status(cmd_ctx *ctx, type_status st);
void reply_id(cmd_ctx *ctx, stream_id id);
/* Replies an entry as [id, [field, value, …]]. */
void reply_entry(reply *r, stream_id id, stream_entry_reader *fields, size_t nitems);
/* Replies a read of several streams (XREAD, XREADGROUP): a null array when none was served,
 * else the served keys' [key, entries] pairs in body (a map in RESP3). */
void reply_streams_read(cmd_ctx *ctx, int served, buf *body);
/* Reads XREAD's and XREADGROUP's BLOCK timeout (ms) into *block_ms; replies Redis's error and
 * returns -1 if it is no integer or negative, or the command runs in a script. */
int stream_parse_block(cmd_ctx *ctx, const resp_arg *timeout, long long *block_ms);
/* Records the command as it was given (it is deterministic). */
void record_as_given(cmd_ctx *ctx);

/* XINFO GROUPS key, XINFO CONSUMERS key group (cmd/stream_group.c). */
void xinfo_groups(cmd_ctx *ctx);
void xinfo_consumers(cmd_ctx *ctx);
/* The "groups" of XINFO STREAM key FULL: each group with at most count pending entries (0:
 * all) into r; returns 0, or -1 after replying an error to ctx. */
int xinfo_full_groups(cmd_ctx *ctx, reply *r, const resp_arg *key, const meta *m, long long count);

#endif
