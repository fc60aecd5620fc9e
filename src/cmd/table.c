/* The command table: name, arity, flags, key positions, handler, group and summary. */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/handlers.h"

#define W (CMD_WRITE)
#define R (CMD_READONLY)
#define F (CMD_FAST)
#define NK (CMD_NOKEYS)
#define B (CMD_BLOCKING)

static cmd_def table[] = {
    /* connection */
    {"ping", -1, NK | F, 0, 0, 0, cmd_ping, "@connection", "Returns the server's liveliness response.", "[message]"},
    {"echo", 2, NK | F, 0, 0, 0, cmd_echo, "@connection", "Returns the given string.", "message"},
    {"auth", -2, NK | CMD_NOAUTH | F, 0, 0, 0, cmd_auth, "@connection", "Authenticates the connection.", "[username] password"},
    {"hello", -1, NK | CMD_NOAUTH | F, 0, 0, 0, cmd_hello, "@connection", "Handshakes with the server (RESP2/RESP3).", "[protover [AUTH username password] [SETNAME clientname]]"},
    {"select", 2, NK | F, 0, 0, 0, cmd_select, "@connection", "Changes the selected database.", "index"},
    {"quit", -1, NK | CMD_NOAUTH | CMD_NOQUEUE | F, 0, 0, 0, cmd_quit, "@connection", "Closes the connection.", ""},
    {"reset", 1, NK | CMD_NOAUTH | CMD_NOQUEUE | F, 0, 0, 0, cmd_reset, "@connection", "Resets the connection.", ""},
    {"client", -2, NK | CMD_SUBCOMMANDS, 0, 0, 0, cmd_client, "@connection", "Client connection management (ID, SETNAME, LIST, KILL, UNBLOCK …).", "subcommand [argument ...]"},
    /* server */
    {"info", -1, NK, 0, 0, 0, cmd_info, "@server", "Returns information and statistics about the server.", "[section ...]"},
    {"debug", -2, NK | CMD_ADMIN | CMD_SUBCOMMANDS, 0, 0, 0, cmd_debug, "@admin", "Test only (needs --debug-fault-injection yes): READ-ERROR-AFTER n makes this worker's n-th next storage read fail.", "subcommand [argument ...]"},
    {"dbsize", 1, NK | R, 0, 0, 0, cmd_dbsize, "@keyspace", "Returns the number of keys in the database.", ""},
    {"flushdb", -1, W | CMD_ALLKEYS, 0, 0, 0, cmd_flushdb, "@keyspace", "Removes all keys from the current database.", "[ASYNC|SYNC]"},
    {"flushall", -1, W | CMD_ALLKEYS, 0, 0, 0, cmd_flushall, "@keyspace", "Removes all keys from all databases.", "[ASYNC|SYNC]"},
    {"config", -2, NK | CMD_ADMIN | CMD_SUBCOMMANDS, 0, 0, 0, cmd_config, "@server", "Reads or changes the configuration.", "subcommand [argument ...]"},
    {"command", -1, NK | CMD_SUBCOMMANDS, 0, 0, 0, cmd_command, "@server", "Returns information about commands.", "[subcommand [argument ...]]"},
    {"time", 1, NK | F, 0, 0, 0, cmd_time, "@server", "Returns the server time.", ""},
    {"shutdown", -1, NK | CMD_ADMIN | CMD_NOQUEUE, 0, 0, 0, cmd_shutdown, "@server", "Stops the server cleanly.", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"},
    /* transactions */
    {"multi", 1, NK | F | CMD_NOQUEUE, 0, 0, 0, cmd_multi, "@transaction", "Starts a transaction.", ""},
    {"exec", 1, NK | CMD_NOQUEUE, 0, 0, 0, cmd_exec, "@transaction", "Runs the queued commands as one batch.", ""},
    {"discard", 1, NK | F | CMD_NOQUEUE, 0, 0, 0, cmd_discard, "@transaction", "Discards a transaction.", ""},
    {"watch", -2, NK | F | CMD_NOQUEUE, 1, -1, 1, cmd_watch, "@transaction", "Watches keys for changes before EXEC.", "key [key ...]"},
    {"unwatch", 1, NK | F, 0, 0, 0, cmd_unwatch, "@transaction", "Forgets all watched keys.", ""},
    /* strings */
    {"get", 2, R | F, 1, 1, 1, cmd_get, "@string", "Returns the string value of a key.", "key"},
    {"set", -3, W, 1, 1, 1, cmd_set, "@string", "Sets the string value of a key.", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"},
    {"setnx", 3, W | F, 1, 1, 1, cmd_setnx, "@string", "Sets a key only if it does not exist.", "key value"},
    {"setex", 4, W, 1, 1, 1, cmd_setex, "@string", "Sets a key with an expiry in seconds.", "key seconds value"},
    {"psetex", 4, W, 1, 1, 1, cmd_psetex, "@string", "Sets a key with an expiry in milliseconds.", "key milliseconds value"},
    {"getset", 3, W | F, 1, 1, 1, cmd_getset, "@string", "Sets a key and returns its old value.", "key value"},
    {"getdel", 2, W | F, 1, 1, 1, cmd_getdel, "@string", "Returns a key's value and deletes it.", "key"},
    {"getex", -2, W | F, 1, 1, 1, cmd_getex, "@string", "Returns a key's value and changes its expiry.", "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"},
    {"mget", -2, R | F, 1, -1, 1, cmd_mget, "@string", "Returns the values of several keys.", "key [key ...]"},
    {"mset", -3, W, 1, -1, 2, cmd_mset, "@string", "Sets several keys.", "key value [key value ...]"},
    {"msetnx", -3, W, 1, -1, 2, cmd_msetnx, "@string", "Sets several keys only if none exists.", "key value [key value ...]"},
    {"incr", 2, W | F, 1, 1, 1, cmd_incr, "@string", "Increments an integer value by one.", "key"},
    {"decr", 2, W | F, 1, 1, 1, cmd_decr, "@string", "Decrements an integer value by one.", "key"},
    {"incrby", 3, W | F, 1, 1, 1, cmd_incrby, "@string", "Increments an integer value.", "key increment"},
    {"decrby", 3, W | F, 1, 1, 1, cmd_decrby, "@string", "Decrements an integer value.", "key decrement"},
    {"incrbyfloat", 3, W | F, 1, 1, 1, cmd_incrbyfloat, "@string", "Increments a floating point value.", "key increment"},
    {"append", 3, W | F, 1, 1, 1, cmd_append, "@string", "Appends to a string.", "key value"},
    {"strlen", 2, R | F, 1, 1, 1, cmd_strlen, "@string", "Returns the length of a string.", "key"},
    {"getrange", 4, R, 1, 1, 1, cmd_getrange, "@string", "Returns a substring.", "key start end"},
    {"substr", 4, R, 1, 1, 1, cmd_getrange, "@string", "Returns a substring (old name of GETRANGE).", "key start end"},
    {"setrange", 4, W, 1, 1, 1, cmd_setrange, "@string", "Overwrites part of a string.", "key offset value"},
    {"setbit", 4, W, 1, 1, 1, cmd_setbit, "@bitmap", "Sets or clears a bit.", "key offset value"},
    {"getbit", 3, R | F, 1, 1, 1, cmd_getbit, "@bitmap", "Returns a bit.", "key offset"},
    {"bitcount", -2, R, 1, 1, 1, cmd_bitcount, "@bitmap", "Counts set bits.", "key [start end [BYTE|BIT]]"},
    {"bitpos", -3, R, 1, 1, 1, cmd_bitpos, "@bitmap", "Finds the first set or clear bit.", "key bit [start [end [BYTE|BIT]]]"},
    /* keys */
    {"del", -2, W, 1, -1, 1, cmd_del, "@keyspace", "Deletes keys.", "key [key ...]"},
    {"unlink", -2, W | F, 1, -1, 1, cmd_del, "@keyspace", "Deletes keys (O(1) for every type).", "key [key ...]"},
    {"exists", -2, R | F, 1, -1, 1, cmd_exists, "@keyspace", "Counts the given keys that exist.", "key [key ...]"},
    {"touch", -2, R | F, 1, -1, 1, cmd_exists, "@keyspace", "Counts the given keys that exist.", "key [key ...]"},
    {"type", 2, R | F, 1, 1, 1, cmd_type, "@keyspace", "Returns the type of a key.", "key"},
    {"expire", -3, W | F, 1, 1, 1, cmd_expire, "@keyspace", "Sets a key's time to live in seconds.", "key seconds [NX|XX|GT|LT]"},
    {"pexpire", -3, W | F, 1, 1, 1, cmd_pexpire, "@keyspace", "Sets a key's time to live in milliseconds.", "key milliseconds [NX|XX|GT|LT]"},
    {"expireat", -3, W | F, 1, 1, 1, cmd_expireat, "@keyspace", "Sets a key's expiry as a unix time in seconds.", "key unix-time-seconds [NX|XX|GT|LT]"},
    {"pexpireat", -3, W | F, 1, 1, 1, cmd_pexpireat, "@keyspace", "Sets a key's expiry as a unix time in ms.", "key unix-time-milliseconds [NX|XX|GT|LT]"},
    {"ttl", 2, R | F, 1, 1, 1, cmd_ttl, "@keyspace", "Returns a key's time to live in seconds.", "key"},
    {"pttl", 2, R | F, 1, 1, 1, cmd_pttl, "@keyspace", "Returns a key's time to live in milliseconds.", "key"},
    {"expiretime", 2, R | F, 1, 1, 1, cmd_expiretime, "@keyspace", "Returns a key's expiry as a unix time in seconds.", "key"},
    {"pexpiretime", 2, R | F, 1, 1, 1, cmd_pexpiretime, "@keyspace", "Returns a key's expiry as a unix time in ms.", "key"},
    {"persist", 2, W | F, 1, 1, 1, cmd_persist, "@keyspace", "Removes a key's expiry.", "key"},
    {"keys", 2, R | NK, 0, 0, 0, cmd_keys, "@keyspace", "Returns the keys matching a pattern.", "pattern"},
    {"scan", -2, R | NK, 0, 0, 0, cmd_scan, "@keyspace", "Iterates over the keys.", "cursor [MATCH pattern] [COUNT count] [TYPE type]"},
    {"randomkey", 1, R | NK, 0, 0, 0, cmd_randomkey, "@keyspace", "Returns a random key.", ""},
    {"rename", 3, W, 1, 2, 1, cmd_rename, "@keyspace", "Renames a key.", "key newkey"},
    {"renamenx", 3, W | F, 1, 2, 1, cmd_renamenx, "@keyspace", "Renames a key only if the new name is free.", "key newkey"},
    {"sort", -2, W, 1, 1, 1, cmd_sort, "@keyspace", "Sorts a list, set or sorted set.", "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA] [STORE destination]"},
    {"sort_ro", -2, R, 1, 1, 1, cmd_sort, "@keyspace", "Sorts a list, set or sorted set (read-only).", "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA]"},
    {"object", -2, R | CMD_SUBCOMMANDS, 2, 2, 1, cmd_object, "@keyspace", "Inspects a key's internals.", "subcommand [key]"},
    {"copy", -3, W, 1, 2, 1, cmd_copy, "@keyspace", "Copies a key.", "source destination [DB destination-db] [REPLACE]"},
    /* hashes */
    {"hset", -4, W | F, 1, 1, 1, cmd_hset, "@hash", "Sets fields of a hash.", "key field value [field value ...]"},
    {"hmset", -4, W | F, 1, 1, 1, cmd_hmset, "@hash", "Sets fields of a hash (old form of HSET).", "key field value [field value ...]"},
    {"hsetnx", 4, W | F, 1, 1, 1, cmd_hsetnx, "@hash", "Sets a field only if it does not exist.", "key field value"},
    {"hget", 3, R | F, 1, 1, 1, cmd_hget, "@hash", "Returns a field's value.", "key field"},
    {"hmget", -3, R | F, 1, 1, 1, cmd_hmget, "@hash", "Returns several fields' values.", "key field [field ...]"},
    {"hdel", -3, W | F, 1, 1, 1, cmd_hdel, "@hash", "Deletes fields.", "key field [field ...]"},
    {"hlen", 2, R | F, 1, 1, 1, cmd_hlen, "@hash", "Returns the number of fields.", "key"},
    {"hstrlen", 3, R | F, 1, 1, 1, cmd_hstrlen, "@hash", "Returns the length of a field's value.", "key field"},
    {"hexists", 3, R | F, 1, 1, 1, cmd_hexists, "@hash", "Tells whether a field exists.", "key field"},
    {"hkeys", 2, R, 1, 1, 1, cmd_hkeys, "@hash", "Returns every field.", "key"},
    {"hvals", 2, R, 1, 1, 1, cmd_hvals, "@hash", "Returns every value.", "key"},
    {"hgetall", 2, R, 1, 1, 1, cmd_hgetall, "@hash", "Returns every field and value.", "key"},
    {"hincrby", 4, W | F, 1, 1, 1, cmd_hincrby, "@hash", "Increments a field's integer value.", "key field increment"},
    {"hincrbyfloat", 4, W | F, 1, 1, 1, cmd_hincrbyfloat, "@hash", "Increments a field's float value.", "key field increment"},
    {"hscan", -3, R, 1, 1, 1, cmd_hscan, "@hash", "Iterates over fields and values.", "key cursor [MATCH pattern] [COUNT count]"},
    {"hrandfield", -2, R, 1, 1, 1, cmd_hrandfield, "@hash", "Returns random fields.", "key [count [WITHVALUES]]"},
    /* sets */
    {"sadd", -3, W | F, 1, 1, 1, cmd_sadd, "@set", "Adds members to a set.", "key member [member ...]"},
    {"srem", -3, W | F, 1, 1, 1, cmd_srem, "@set", "Removes members from a set.", "key member [member ...]"},
    {"scard", 2, R | F, 1, 1, 1, cmd_scard, "@set", "Returns the number of members.", "key"},
    {"sismember", 3, R | F, 1, 1, 1, cmd_sismember, "@set", "Tells whether a member is in a set.", "key member"},
    {"smismember", -3, R | F, 1, 1, 1, cmd_smismember, "@set", "Tells whether members are in a set.", "key member [member ...]"},
    {"smembers", 2, R, 1, 1, 1, cmd_smembers, "@set", "Returns every member.", "key"},
    {"spop", -2, W | F, 1, 1, 1, cmd_spop, "@set", "Removes and returns random members.", "key [count]"},
    {"srandmember", -2, R, 1, 1, 1, cmd_srandmember, "@set", "Returns random members.", "key [count]"},
    {"smove", 4, W | F, 1, 2, 1, cmd_smove, "@set", "Moves a member to another set.", "source destination member"},
    {"sinter", -2, R, 1, -1, 1, cmd_sinter, "@set", "Intersects sets.", "key [key ...]"},
    {"sintercard", -3, R | CMD_NUMKEYS, 1, 0, 0, cmd_sintercard, "@set", "Counts the intersection of sets.", "numkeys key [key ...] [LIMIT limit]"},
    {"sinterstore", -3, W, 1, -1, 1, cmd_sinterstore, "@set", "Stores the intersection of sets.", "destination key [key ...]"},
    {"sunion", -2, R, 1, -1, 1, cmd_sunion, "@set", "Unites sets.", "key [key ...]"},
    {"sunionstore", -3, W, 1, -1, 1, cmd_sunionstore, "@set", "Stores the union of sets.", "destination key [key ...]"},
    {"sdiff", -2, R, 1, -1, 1, cmd_sdiff, "@set", "Subtracts sets from the first.", "key [key ...]"},
    {"sdiffstore", -3, W, 1, -1, 1, cmd_sdiffstore, "@set", "Stores the difference of sets.", "destination key [key ...]"},
    {"sscan", -3, R, 1, 1, 1, cmd_sscan, "@set", "Iterates over members.", "key cursor [MATCH pattern] [COUNT count]"},
    /* lists */
    {"lpush", -3, W | F, 1, 1, 1, cmd_lpush, "@list", "Prepends items to a list.", "key element [element ...]"},
    {"rpush", -3, W | F, 1, 1, 1, cmd_rpush, "@list", "Appends items to a list.", "key element [element ...]"},
    {"lpushx", -3, W | F, 1, 1, 1, cmd_lpushx, "@list", "Prepends items to an existing list.", "key element [element ...]"},
    {"rpushx", -3, W | F, 1, 1, 1, cmd_rpushx, "@list", "Appends items to an existing list.", "key element [element ...]"},
    {"lpop", -2, W | F, 1, 1, 1, cmd_lpop, "@list", "Removes and returns the first items.", "key [count]"},
    {"rpop", -2, W | F, 1, 1, 1, cmd_rpop, "@list", "Removes and returns the last items.", "key [count]"},
    {"llen", 2, R | F, 1, 1, 1, cmd_llen, "@list", "Returns the length of a list.", "key"},
    {"lindex", 3, R, 1, 1, 1, cmd_lindex, "@list", "Returns the item at an index.", "key index"},
    {"lset", 4, W, 1, 1, 1, cmd_lset, "@list", "Sets the item at an index.", "key index element"},
    {"lrange", 4, R, 1, 1, 1, cmd_lrange, "@list", "Returns a range of items.", "key start stop"},
    {"linsert", 5, W, 1, 1, 1, cmd_linsert, "@list", "Inserts an item before or after another.", "key BEFORE|AFTER pivot element"},
    {"lrem", 4, W, 1, 1, 1, cmd_lrem, "@list", "Removes items equal to a value.", "key count element"},
    {"ltrim", 4, W, 1, 1, 1, cmd_ltrim, "@list", "Keeps only a range of items.", "key start stop"},
    {"lpos", -3, R, 1, 1, 1, cmd_lpos, "@list", "Returns the index of matching items.", "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"},
    {"lmove", 5, W, 1, 2, 1, cmd_lmove, "@list", "Moves an item from a list to another.", "source destination LEFT|RIGHT LEFT|RIGHT"},
    {"rpoplpush", 3, W, 1, 2, 1, cmd_rpoplpush, "@list", "Moves the last item of a list to the front of another.", "source destination"},
    {"lmpop", -4, W | CMD_NUMKEYS, 1, 0, 0, cmd_lmpop, "@list", "Pops items from the first non-empty list.", "numkeys key [key ...] LEFT|RIGHT [COUNT count]"},
    {"blpop", -3, W | B, 1, -2, 1, cmd_blpop, "@list", "Pops the first item of the first non-empty list, waiting for one.", "key [key ...] timeout"},
    {"brpop", -3, W | B, 1, -2, 1, cmd_brpop, "@list", "Pops the last item of the first non-empty list, waiting for one.", "key [key ...] timeout"},
    {"blmove", 6, W | B, 1, 2, 1, cmd_blmove, "@list", "Moves an item between lists, waiting for one.", "source destination LEFT|RIGHT LEFT|RIGHT timeout"},
    {"brpoplpush", 4, W | B, 1, 2, 1, cmd_brpoplpush, "@list", "RPOPLPUSH, waiting for an item.", "source destination timeout"},
    {"blmpop", -5, W | B | CMD_NUMKEYS, 2, 0, 0, cmd_blmpop, "@list", "LMPOP, waiting for an item.", "timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]"},
    /* sorted sets */
    {"zadd", -4, W | F, 1, 1, 1, cmd_zadd, "@sortedset", "Adds members or updates their scores.", "key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]"},
    {"zincrby", 4, W | F, 1, 1, 1, cmd_zincrby, "@sortedset", "Increments a member's score.", "key increment member"},
    {"zrem", -3, W | F, 1, 1, 1, cmd_zrem, "@sortedset", "Removes members.", "key member [member ...]"},
    {"zcard", 2, R | F, 1, 1, 1, cmd_zcard, "@sortedset", "Returns the number of members.", "key"},
    {"zcount", 4, R | F, 1, 1, 1, cmd_zcount, "@sortedset", "Counts members in a score range.", "key min max"},
    {"zlexcount", 4, R | F, 1, 1, 1, cmd_zlexcount, "@sortedset", "Counts members in a lexicographical range.", "key min max"},
    {"zscore", 3, R | F, 1, 1, 1, cmd_zscore, "@sortedset", "Returns a member's score.", "key member"},
    {"zmscore", -3, R | F, 1, 1, 1, cmd_zmscore, "@sortedset", "Returns several members' scores.", "key member [member ...]"},
    {"zrank", 3, R | F, 1, 1, 1, cmd_zrank, "@sortedset", "Returns a member's rank.", "key member"},
    {"zrevrank", 3, R | F, 1, 1, 1, cmd_zrevrank, "@sortedset", "Returns a member's rank from the highest score.", "key member"},
    {"zrange", -4, R, 1, 1, 1, cmd_zrange, "@sortedset", "Returns a range of members.", "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"},
    {"zrangestore", -5, W, 1, 2, 1, cmd_zrangestore, "@sortedset", "Stores a range of members.", "dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]"},
    {"zrevrange", -4, R, 1, 1, 1, cmd_zrevrange, "@sortedset", "Returns a range by rank, highest first.", "key start stop [WITHSCORES]"},
    {"zrangebyscore", -4, R, 1, 1, 1, cmd_zrangebyscore, "@sortedset", "Returns members in a score range.", "key min max [WITHSCORES] [LIMIT offset count]"},
    {"zrevrangebyscore", -4, R, 1, 1, 1, cmd_zrevrangebyscore, "@sortedset", "Returns members in a score range, highest first.", "key max min [WITHSCORES] [LIMIT offset count]"},
    {"zrangebylex", -4, R, 1, 1, 1, cmd_zrangebylex, "@sortedset", "Returns members in a lexicographical range.", "key min max [LIMIT offset count]"},
    {"zrevrangebylex", -4, R, 1, 1, 1, cmd_zrevrangebylex, "@sortedset", "Returns members in a lexicographical range, reversed.", "key max min [LIMIT offset count]"},
    {"zpopmin", -2, W | F, 1, 1, 1, cmd_zpopmin, "@sortedset", "Removes and returns the lowest-scored members.", "key [count]"},
    {"zpopmax", -2, W | F, 1, 1, 1, cmd_zpopmax, "@sortedset", "Removes and returns the highest-scored members.", "key [count]"},
    {"zmpop", -4, W | CMD_NUMKEYS, 1, 0, 0, cmd_zmpop, "@sortedset", "Pops from the first non-empty sorted set.", "numkeys key [key ...] MIN|MAX [COUNT count]"},
    {"bzpopmin", -3, W | B, 1, -2, 1, cmd_bzpopmin, "@sortedset", "ZPOPMIN, waiting for a member.", "key [key ...] timeout"},
    {"bzpopmax", -3, W | B, 1, -2, 1, cmd_bzpopmax, "@sortedset", "ZPOPMAX, waiting for a member.", "key [key ...] timeout"},
    {"bzmpop", -5, W | B | CMD_NUMKEYS, 2, 0, 0, cmd_bzmpop, "@sortedset", "ZMPOP, waiting for a member.", "timeout numkeys key [key ...] MIN|MAX [COUNT count]"},
    {"zremrangebyrank", 4, W, 1, 1, 1, cmd_zremrangebyrank, "@sortedset", "Removes members in a rank range.", "key start stop"},
    {"zremrangebyscore", 4, W, 1, 1, 1, cmd_zremrangebyscore, "@sortedset", "Removes members in a score range.", "key min max"},
    {"zremrangebylex", 4, W, 1, 1, 1, cmd_zremrangebylex, "@sortedset", "Removes members in a lexicographical range.", "key min max"},
    {"zunion", -3, R | CMD_NUMKEYS, 1, 0, 0, cmd_zunion, "@sortedset", "Unites sorted sets.", "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]"},
    {"zunionstore", -4, W | CMD_NUMKEYS | CMD_DEST, 2, 0, 0, cmd_zunionstore, "@sortedset", "Stores the union of sorted sets.", "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]"},
    {"zinter", -3, R | CMD_NUMKEYS, 1, 0, 0, cmd_zinter, "@sortedset", "Intersects sorted sets.", "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]"},
    {"zinterstore", -4, W | CMD_NUMKEYS | CMD_DEST, 2, 0, 0, cmd_zinterstore, "@sortedset", "Stores the intersection of sorted sets.", "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]"},
    {"zintercard", -3, R | CMD_NUMKEYS, 1, 0, 0, cmd_zintercard, "@sortedset", "Counts the intersection of sorted sets.", "numkeys key [key ...] [LIMIT limit]"},
    {"zdiff", -3, R | CMD_NUMKEYS, 1, 0, 0, cmd_zdiff, "@sortedset", "Subtracts sorted sets from the first.", "numkeys key [key ...] [WITHSCORES]"},
    {"zdiffstore", -4, W | CMD_NUMKEYS | CMD_DEST, 2, 0, 0, cmd_zdiffstore, "@sortedset", "Stores the difference of sorted sets.", "destination numkeys key [key ...]"},
    {"zrandmember", -2, R, 1, 1, 1, cmd_zrandmember, "@sortedset", "Returns random members.", "key [count [WITHSCORES]]"},
    {"zscan", -3, R, 1, 1, 1, cmd_zscan, "@sortedset", "Iterates over members and scores.", "key cursor [MATCH pattern] [COUNT count]"},
    /* change data capture */
    {"sequence", -1, NK | R | F, 0, 0, 0, cmd_sequence, "@cdc", "Returns the latest sequence, or the one at a time.", "[TIME unix-time-milliseconds]"},
    {"pollupdates", -2, NK | R, 0, 0, 0, cmd_pollupdates, "@cdc", "Returns the changes after a sequence.", "sequence [MAX count] [STRICT] [FORMAT RAW|RESP|JSON] [BLOCK milliseconds] [MATCH pattern] [TYPE type] [DB index]"},
    {"applybatch", 2, W | CMD_ALLKEYS | CMD_NOMULTI, 0, 0, 0, cmd_applybatch, "@cdc", "Applies a raw write batch.", "raw-batch"},
};

static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;
#define TABLE_SIZE (sizeof(table) / sizeof(table[0]))

static int compare_defs(const void *a, const void *b) {
    return strcmp(((const cmd_def *)a)->name, ((const cmd_def *)b)->name);
}

static void sort_table(void) { qsort(table, TABLE_SIZE, sizeof(table[0]), compare_defs); }

const cmd_def *cmd_lookup(const char *name, size_t len) {
    pthread_once(&sorted_once, sort_table);
    char lower[32];
    if (len == 0 || len >= sizeof(lower)) return NULL;
    for (size_t i = 0; i < len; i++) lower[i] = (char)tolower((unsigned char)name[i]);
    lower[len] = '\0';
    cmd_def key = {.name = lower};
    return bsearch(&key, table, TABLE_SIZE, sizeof(table[0]), compare_defs);
}

const cmd_def *cmd_table(size_t *count) {
    pthread_once(&sorted_once, sort_table);
    *count = TABLE_SIZE;
    return table;
}
