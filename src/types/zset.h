/* The sorted set type. Each member has its score as a subkey in the default column family
 * (member → ordered double) and an entry in the score index, CF_ZSET_SCORE (score member),
 * which keeps the members in score order for ranges, ranks and pops. Every operation opens
 * the key itself: ST_WRONGTYPE for another type, ST_CORRUPT for data that contradicts itself,
 * ST_ERROR for a storage read error (the caller fails the command: its writes roll back). */
#ifndef TIDEKV_TYPES_ZSET_H
#define TIDEKV_TYPES_ZSET_H

#include <stddef.h>

#include "storage/txn.h"
#include "types/status.h"
#include "util/slice.h"

/* Visits one (member, score); returns nonzero to stop (a reply reached the client's bound). */
typedef int (*zset_visit_fn)(void *arg, const char *member, size_t ml, double score);

/* A member's stored value as a score (what a pick or scan of the zset gives with the member):
 * 0, or -1 if it is not one. */
int zset_value_score(const char *value, size_t len, double *score);

/* ---- adding and removing members ---- */

/* ZADD's conditions; CH only changes what the caller replies. */
enum { ZSET_NX = 1, ZSET_XX = 2, ZSET_GT = 4, ZSET_LT = 8, ZSET_CH = 16, ZSET_INCR = 32 };

typedef struct zset_pair {
    double score;
    slice member;
} zset_pair;

typedef struct zset_add_result {
    long long added;   /* new members */
    long long changed; /* new members and changed scores */
    int skipped;       /* the last pair was skipped (NX, XX, GT, LT) */
    double score;      /* the last pair's score as computed (INCR's reply: a -0 stays -0) */
} zset_add_result;

/* ZADD / ZINCRBY (flags ZSET_INCR, one pair). Calls changed(arg, member, score) for each
 * member written, with the score stored (-0 is stored as 0). ST_NAN_OR_INF if an increment
 * makes a NaN (nothing more is written then; the caller fails the command). */
type_status zset_add(txn *t, int db, const char *key, size_t klen, int flags, const zset_pair *pairs, int n,
                     zset_visit_fn changed, void *arg, zset_add_result *out);
/* ZREM: calls removed(arg, member, score) for each member that was there; their count in *removed. */
type_status zset_remove(txn *t, int db, const char *key, size_t klen, const slice *members, int n,
                        zset_visit_fn removed, void *arg, long long *count);

/* ---- reading members ---- */

/* ZCARD: 0 for a missing key. */
type_status zset_card(txn *t, int db, const char *key, size_t klen, long long *card);
/* ZSCORE: ST_MISSING if the key or the member is missing. */
type_status zset_score(txn *t, int db, const char *key, size_t klen, const char *member, size_t ml, double *score);
/* ZMSCORE: found[i] says whether members[i] is there, scores[i] its score. */
type_status zset_scores(txn *t, int db, const char *key, size_t klen, const slice *members, int n, double *scores,
                        int *found);
/* ZRANK / ZREVRANK: ST_MISSING if the key or the member is missing. */
type_status zset_rank(txn *t, int db, const char *key, size_t klen, const char *member, size_t ml, int rev,
                      long long *rank);

/* ---- ranges ---- */

enum zset_range_by { ZSET_BY_RANK, ZSET_BY_SCORE, ZSET_BY_LEX };

/* A bound of a lexicographical range: "-", "+", "[value" or "(value". */
typedef struct zset_lex_bound {
    int inf; /* -1 = "-", 1 = "+", 0 = a value */
    int exclusive;
    const char *v;
    size_t len;
} zset_lex_bound;

typedef struct zset_range {
    enum zset_range_by by;
    int rev;                    /* highest first */
    long long start, stop;      /* ZSET_BY_RANK: Redis-style indexes (negative from the end) */
    double min, max;            /* ZSET_BY_SCORE */
    int minex, maxex;           /* exclusive bounds */
    zset_lex_bound lmin, lmax;  /* ZSET_BY_LEX */
    long long offset, limit;    /* LIMIT (by score or lex); limit < 0: all, offset < 0: none */
} zset_range;

/* A range of every entry (or none, when by rank), forward: fill in what the command gives. */
zset_range zset_range_all(enum zset_range_by by);

/* Visits a range's entries in order until visit returns nonzero (visit may be NULL: ZCOUNT);
 * how many were visited in *count. */
type_status zset_range_visit(txn *t, int db, const char *key, size_t klen, const zset_range *r, zset_visit_fn visit,
                             void *arg, long long *count);

/* Entries (member, score) copied out of the store: a range to store, members removed or
 * popped, the result of a union, intersection or difference. */
typedef struct zset_entry {
    const char *member; /* in one of the blocks */
    size_t len;
    double score;
    int input; /* which input key it came from (while combining) */
} zset_entry;

typedef struct zset_entries {
    zset_entry *items;
    size_t n, cap;
    struct zset_block *blocks; /* the members' copies, in blocks that never move */
} zset_entries;

void zset_entries_init(zset_entries *e);
void zset_entries_free(zset_entries *e);

/* A range's entries, copied (ZRANGESTORE reads before it writes). */
type_status zset_range_copy(txn *t, int db, const char *key, size_t klen, const zset_range *r, zset_entries *out);
/* ZREMRANGEBY*: removes a range; the removed entries in out. */
type_status zset_remove_range(txn *t, int db, const char *key, size_t klen, const zset_range *r, zset_entries *out);
/* ZPOPMIN / ZPOPMAX (max): removes up to count lowest (highest) entries, returned in out.
 * ST_MISSING for a missing key; ST_CORRUPT, with nothing popped, if the zset holds fewer
 * entries than its size says (an empty pop of a zset that exists would be a reply Redis
 * never sends, and a blocking pop would wait on it for good). */
type_status zset_pop(txn *t, int db, const char *key, size_t klen, int max, long long count, zset_entries *out);
/* Writes entries (distinct members) as a new zset at key, which the caller has emptied. */
type_status zset_store(txn *t, int db, const char *key, size_t klen, const zset_entries *entries);

/* ---- ZUNION / ZINTER / ZDIFF ---- */

enum zset_combine_op { ZSET_UNION, ZSET_INTER, ZSET_DIFF };
enum zset_aggregate { ZSET_AGG_SUM, ZSET_AGG_MIN, ZSET_AGG_MAX };

typedef struct zset_combine_spec {
    enum zset_combine_op op;
    enum zset_aggregate aggregate;
    const slice *keys; /* zsets, or sets (each member scores 1) */
    int numkeys;
    const double *weights; /* one per key */
} zset_combine_spec;

/* Combines the keys into out, sorted by score then member. room is the reply's room in bytes
 * (SIZE_MAX: no bound): a union stops reading once it has found more than a reply of it can
 * hold (an intersection or a difference may find far less than it reads). On an error, the
 * index of the key it concerns in *bad_key. */
type_status zset_combine(txn *t, int db, const zset_combine_spec *spec, size_t room, zset_entries *out, int *bad_key);

#endif
