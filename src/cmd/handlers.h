/* Every command handler, by family. */
#ifndef TIDEKV_HANDLERS_H
#define TIDEKV_HANDLERS_H

#include "cmd/cmd.h"
#include "cmd/dispatch.h"
#include "net/pubsub.h"

/* connection.c */
void cmd_ping(cmd_ctx *ctx);
void cmd_debug(cmd_ctx *ctx);
void cmd_echo(cmd_ctx *ctx);
void cmd_auth(cmd_ctx *ctx);
void cmd_hello(cmd_ctx *ctx);
void cmd_select(cmd_ctx *ctx);
void cmd_quit(cmd_ctx *ctx);
void cmd_client(cmd_ctx *ctx);
void cmd_reset(cmd_ctx *ctx);

/* scripting.c: SCRIPT KILL's (functions 0) and FUNCTION KILL's (1) reply, once the running
 * scripts (or functions) that have not written are asked to stop. */
void reply_script_kill(cmd_ctx *ctx, int functions);
/* What other clients get while a script (or a function) runs past busy-reply-threshold. */
#define ERR_BUSY_EVAL "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
#define ERR_BUSY_FUNCTION "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."

/* server_cmds.c */
void cmd_info(cmd_ctx *ctx);
void cmd_dbsize(cmd_ctx *ctx);
void cmd_flushdb(cmd_ctx *ctx);
void cmd_flushall(cmd_ctx *ctx);
void cmd_config(cmd_ctx *ctx);
void cmd_command(cmd_ctx *ctx);
void cmd_time(cmd_ctx *ctx);
void cmd_shutdown(cmd_ctx *ctx);
void cmd_multi(cmd_ctx *ctx);
void cmd_exec(cmd_ctx *ctx);
void cmd_discard(cmd_ctx *ctx);
void cmd_watch(cmd_ctx *ctx);
void cmd_unwatch(cmd_ctx *ctx);

/* string.c */
void cmd_get(cmd_ctx *ctx);
void cmd_set(cmd_ctx *ctx);
/* SET reads its key only with GET. */
int set_getkeys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink);
void cmd_setnx(cmd_ctx *ctx);
void cmd_setex(cmd_ctx *ctx);
void cmd_psetex(cmd_ctx *ctx);
void cmd_getset(cmd_ctx *ctx);
void cmd_getdel(cmd_ctx *ctx);
void cmd_getex(cmd_ctx *ctx);
void cmd_mget(cmd_ctx *ctx);
void cmd_mset(cmd_ctx *ctx);
void cmd_msetnx(cmd_ctx *ctx);
void cmd_incr(cmd_ctx *ctx);
void cmd_decr(cmd_ctx *ctx);
void cmd_incrby(cmd_ctx *ctx);
void cmd_decrby(cmd_ctx *ctx);
void cmd_incrbyfloat(cmd_ctx *ctx);
void cmd_append(cmd_ctx *ctx);
void cmd_strlen(cmd_ctx *ctx);
void cmd_getrange(cmd_ctx *ctx);
void cmd_setrange(cmd_ctx *ctx);
void cmd_setbit(cmd_ctx *ctx);
void cmd_getbit(cmd_ctx *ctx);
void cmd_bitcount(cmd_ctx *ctx);
void cmd_bitpos(cmd_ctx *ctx);

/* keys.c */
void cmd_del(cmd_ctx *ctx);
void cmd_exists(cmd_ctx *ctx);
void cmd_type(cmd_ctx *ctx);
void cmd_expire(cmd_ctx *ctx);
void cmd_pexpire(cmd_ctx *ctx);
void cmd_expireat(cmd_ctx *ctx);
void cmd_pexpireat(cmd_ctx *ctx);
void cmd_ttl(cmd_ctx *ctx);
void cmd_pttl(cmd_ctx *ctx);
void cmd_expiretime(cmd_ctx *ctx);
void cmd_pexpiretime(cmd_ctx *ctx);
void cmd_persist(cmd_ctx *ctx);
void cmd_keys(cmd_ctx *ctx);
void cmd_scan(cmd_ctx *ctx);
void cmd_randomkey(cmd_ctx *ctx);
void cmd_rename(cmd_ctx *ctx);
void cmd_renamenx(cmd_ctx *ctx);
void cmd_copy(cmd_ctx *ctx);
/* COPY … DB n also writes the destination in database n. */
int copy_getkeys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink);
void cmd_object(cmd_ctx *ctx);

/* hash.c */
void cmd_hset(cmd_ctx *ctx);
void cmd_hmset(cmd_ctx *ctx);
void cmd_hsetnx(cmd_ctx *ctx);
void cmd_hget(cmd_ctx *ctx);
void cmd_hmget(cmd_ctx *ctx);
void cmd_hdel(cmd_ctx *ctx);
void cmd_hlen(cmd_ctx *ctx);
void cmd_hstrlen(cmd_ctx *ctx);
void cmd_hexists(cmd_ctx *ctx);
void cmd_hkeys(cmd_ctx *ctx);
void cmd_hvals(cmd_ctx *ctx);
void cmd_hgetall(cmd_ctx *ctx);
void cmd_hincrby(cmd_ctx *ctx);
void cmd_hincrbyfloat(cmd_ctx *ctx);
void cmd_hscan(cmd_ctx *ctx);
void cmd_hrandfield(cmd_ctx *ctx);

/* set.c */
void cmd_sadd(cmd_ctx *ctx);
void cmd_srem(cmd_ctx *ctx);
void cmd_scard(cmd_ctx *ctx);
void cmd_sismember(cmd_ctx *ctx);
void cmd_smismember(cmd_ctx *ctx);
void cmd_smembers(cmd_ctx *ctx);
void cmd_spop(cmd_ctx *ctx);
void cmd_srandmember(cmd_ctx *ctx);
void cmd_smove(cmd_ctx *ctx);
void cmd_sinter(cmd_ctx *ctx);
void cmd_sintercard(cmd_ctx *ctx);
void cmd_sinterstore(cmd_ctx *ctx);
void cmd_sunion(cmd_ctx *ctx);
void cmd_sunionstore(cmd_ctx *ctx);
void cmd_sdiff(cmd_ctx *ctx);
void cmd_sdiffstore(cmd_ctx *ctx);
void cmd_sscan(cmd_ctx *ctx);

/* list.c */
void cmd_lpush(cmd_ctx *ctx);
void cmd_rpush(cmd_ctx *ctx);
void cmd_lpushx(cmd_ctx *ctx);
void cmd_rpushx(cmd_ctx *ctx);
void cmd_lpop(cmd_ctx *ctx);
void cmd_rpop(cmd_ctx *ctx);
void cmd_llen(cmd_ctx *ctx);
void cmd_lindex(cmd_ctx *ctx);
void cmd_lset(cmd_ctx *ctx);
void cmd_lrange(cmd_ctx *ctx);
void cmd_linsert(cmd_ctx *ctx);
void cmd_lrem(cmd_ctx *ctx);
void cmd_ltrim(cmd_ctx *ctx);
void cmd_lpos(cmd_ctx *ctx);
void cmd_lmove(cmd_ctx *ctx);
void cmd_rpoplpush(cmd_ctx *ctx);
void cmd_lmpop(cmd_ctx *ctx);
void cmd_blpop(cmd_ctx *ctx);
void cmd_brpop(cmd_ctx *ctx);
void cmd_blmove(cmd_ctx *ctx);
void cmd_brpoplpush(cmd_ctx *ctx);
void cmd_blmpop(cmd_ctx *ctx);
/* Replaces a key with a list of the given items (SORT … STORE), recorded as DEL + RPUSH.
 * Returns 1 if it replaced a key, 0 if there was none, or -1 after replying an error. */
STORE_MUST_CHECK int list_replace(cmd_ctx *ctx, const resp_arg *key, const slice *items, long long n);

/* sort.c */
void cmd_sort(cmd_ctx *ctx);
/* SORT … STORE destination writes destination. */
int sort_getkeys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink);

/* zset.c */
void cmd_zadd(cmd_ctx *ctx);
void cmd_zincrby(cmd_ctx *ctx);
void cmd_zrem(cmd_ctx *ctx);
void cmd_zcard(cmd_ctx *ctx);
void cmd_zcount(cmd_ctx *ctx);
void cmd_zlexcount(cmd_ctx *ctx);
void cmd_zscore(cmd_ctx *ctx);
void cmd_zmscore(cmd_ctx *ctx);
void cmd_zrank(cmd_ctx *ctx);
void cmd_zrevrank(cmd_ctx *ctx);
void cmd_zrange(cmd_ctx *ctx);
void cmd_zrangestore(cmd_ctx *ctx);
void cmd_zrevrange(cmd_ctx *ctx);
void cmd_zrangebyscore(cmd_ctx *ctx);
void cmd_zrevrangebyscore(cmd_ctx *ctx);
void cmd_zrangebylex(cmd_ctx *ctx);
void cmd_zrevrangebylex(cmd_ctx *ctx);
void cmd_zpopmin(cmd_ctx *ctx);
void cmd_zpopmax(cmd_ctx *ctx);
void cmd_zmpop(cmd_ctx *ctx);
void cmd_bzpopmin(cmd_ctx *ctx);
void cmd_bzpopmax(cmd_ctx *ctx);
void cmd_bzmpop(cmd_ctx *ctx);
void cmd_zremrangebyrank(cmd_ctx *ctx);
void cmd_zremrangebyscore(cmd_ctx *ctx);
void cmd_zremrangebylex(cmd_ctx *ctx);
void cmd_zunion(cmd_ctx *ctx);
void cmd_zunionstore(cmd_ctx *ctx);
void cmd_zinter(cmd_ctx *ctx);
void cmd_zinterstore(cmd_ctx *ctx);
void cmd_zintercard(cmd_ctx *ctx);
void cmd_zdiff(cmd_ctx *ctx);
void cmd_zdiffstore(cmd_ctx *ctx);
void cmd_zrandmember(cmd_ctx *ctx);
void cmd_zscan(cmd_ctx *ctx);

/* stream.c */
void cmd_xadd(cmd_ctx *ctx);
void cmd_xtrim(cmd_ctx *ctx);
void cmd_xdel(cmd_ctx *ctx);
void cmd_xlen(cmd_ctx *ctx);
void cmd_xrange(cmd_ctx *ctx);
void cmd_xrevrange(cmd_ctx *ctx);
void cmd_xsetid(cmd_ctx *ctx);
void cmd_xread(cmd_ctx *ctx);
/* XREAD's keys follow its STREAMS option. */
int xread_getkeys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink);
void cmd_xinfo(cmd_ctx *ctx);

/* stream_group.c */
void cmd_xgroup(cmd_ctx *ctx);
void cmd_xreadgroup(cmd_ctx *ctx);
/* XREADGROUP's keys follow its STREAMS option. */
int xreadgroup_getkeys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink);
void cmd_xack(cmd_ctx *ctx);
void cmd_xpending(cmd_ctx *ctx);
void cmd_xclaim(cmd_ctx *ctx);
void cmd_xautoclaim(cmd_ctx *ctx);

/* pubsub.c */
void cmd_subscribe(cmd_ctx *ctx);
void cmd_unsubscribe(cmd_ctx *ctx);
void cmd_psubscribe(cmd_ctx *ctx);
void cmd_punsubscribe(cmd_ctx *ctx);
void cmd_ssubscribe(cmd_ctx *ctx);
void cmd_sunsubscribe(cmd_ctx *ctx);
void cmd_publish(cmd_ctx *ctx);
void cmd_spublish(cmd_ctx *ctx);
void cmd_pubsub(cmd_ctx *ctx);
/* Sends payload to the subscribers of channel in space (and of the patterns that match it)
 * and returns how many receive it, as PUBLISH counts them. Safe from any thread. */
long long pubsub_send(pubsub_space space, const char *channel, size_t clen, const char *payload, size_t plen);

/* cdc.c */
void cmd_sequence(cmd_ctx *ctx);
void cmd_pollupdates(cmd_ctx *ctx);
void cmd_applybatch(cmd_ctx *ctx);
/* Replication (cmd/replication.c). */
void cmd_replicaof(cmd_ctx *ctx);
void cmd_role(cmd_ctx *ctx);
void cmd_replconf(cmd_ctx *ctx);
void cmd_psync(cmd_ctx *ctx);
void cmd_fullsync(cmd_ctx *ctx);
void cmd_wait(cmd_ctx *ctx);
/* Registers what the replication commands need from the net layer (at start-up). */
void replication_init(void);
/* A client is being freed: its full sync's checkpoint, if any, goes. */
void replication_client_gone(const client *c);
/* A POLLUPDATES from seq, scanned: a replica's acknowledges everything up to seq, and releases
 * its full sync's checkpoint once that is at most seq. */
void replication_note_poll(client *c, uint64_t seq);
/* INFO's replication section (t unused: the signature of every section's writer). */
void info_replication(buf *b, txn *t);
void cmd_cdc(cmd_ctx *ctx);
void cmd_snapshot(cmd_ctx *ctx);

#endif
