/* Key and metadata layout in RocksDB, compatible with Kvrocks (see shared/ENCODING.md). */
#ifndef TIDEKV_ENCODING_H
#define TIDEKV_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* CF_EXPIRE is tidekv's own (not in Kvrocks): the expiry index, see enc_expire_key.
 * CF_STREAM_GROUP is tidekv's own too: streams' consumer groups (types/stream_group.h). A data
 * directory made before it existed opens with it added (RocksDB creates a missing family, with
 * the next id). */
enum {
    CF_DEFAULT,
    CF_METADATA,
    CF_ZSET_SCORE,
    CF_PUBSUB,
    CF_PROPAGATE,
    CF_STREAM,
    CF_SEARCH,
    CF_EXPIRE,
    CF_STREAM_GROUP,
    CF_COUNT
};
/* The column families whose records are subkeys ([ns][key_len][key][version][sub]) of a key:
 * each goes when its key's version does (compactions), each is copied by COPY and RENAME. */
#define ENC_SUBKEY_CFS {CF_DEFAULT, CF_ZSET_SCORE, CF_STREAM, CF_STREAM_GROUP}
static inline int enc_is_subkey_cf(int cf) {
    return cf == CF_DEFAULT || cf == CF_ZSET_SCORE || cf == CF_STREAM || cf == CF_STREAM_GROUP;
}

/* CF_PROPAGATE holds FUNCTION's libraries, one record each: this prefix and the library's
 * name → its code (types/functions.h). */
#define ENC_LIBRARY_PREFIX "function-lib:"
#define ENC_LIBRARY_PREFIX_LEN (sizeof(ENC_LIBRARY_PREFIX) - 1)

enum key_type {
    TYPE_NONE = 0,
    TYPE_STRING = 1,
    TYPE_HASH = 2,
    TYPE_LIST = 3,
    TYPE_SET = 4,
    TYPE_ZSET = 5,
    TYPE_BITMAP = 6,
    TYPE_SORTEDINT = 7,
    TYPE_STREAM = 8,
};

#define META_FLAG_64BIT 0x80
#define META_STRING_HEADER 9   /* flags + expire */
#define META_COMPOUND_HEADER 25 /* flags + expire + version + size */
#define LIST_INITIAL_INDEX 0x7FFFFFFFFFFFFFFFULL

/* A stream entry's id: milliseconds and a sequence number, ordered as the pair. */
typedef struct stream_id {
    uint64_t ms, seq;
} stream_id;

/* A stream's metadata after the compound header, as Kvrocks keeps it (each id as ms u64 and
 * seq u64): last generated id, recorded first entry id, max deleted entry id, first entry id,
 * last entry id, entries added u64, then consumer groups u64 (Kvrocks's newer form; a record
 * without it reads as 0 groups). The ids of an empty stream's edges are 0-0. */
#define META_STREAM_EXTRAS (5 * 16 + 8)
#define META_STREAM_EXTRAS_MAX (META_STREAM_EXTRAS + 8)
typedef struct stream_extras {
    stream_id last_generated, recorded_first, max_deleted, first, last;
    uint64_t entries_added, groups;
} stream_extras;

/* A decoded metadata record. For strings, value points into the raw bytes it was decoded from. */
typedef struct meta {
    enum key_type type;
    int64_t expire_ms; /* absolute unix ms, 0 = no expiry */
    uint64_t version;
    uint64_t size;
    uint64_t list_head, list_tail;
    stream_extras stream; /* streams only */
    const char *value;
    size_t value_len;
} meta;

/* The namespace a database index maps to: "__namespace" for 0, "__db<n>" otherwise. */
void enc_namespace(buf *out, int db);
/* The database a key's namespace belongs to ("__namespace" 0, "__db<n>" n > 0), with the
 * namespace's length (prefix byte included) in *ns_total; -1 for any other namespace. */
int enc_namespace_db(const char *key, size_t len, size_t *ns_total);
/* Metadata key: [ns_len][ns][user_key]. */
void enc_meta_key(buf *out, int db, const char *key, size_t klen);
/* Subkey: [ns_len][ns][key_len u32][user_key][version u64][sub]. */
void enc_subkey(buf *out, int db, const char *key, size_t klen, uint64_t version, const char *sub, size_t sublen);
/* What the subkeys of every key klen bytes long begin with: [ns_len][ns][key_len u32]. */
void enc_subkey_length_prefix(buf *out, int db, size_t klen);
/* The first key after every key starting with prefix (for range deletes and iterator bounds). */
void enc_prefix_end(buf *out, const char *prefix, size_t len);

void enc_string_meta(buf *out, int64_t expire_ms, const char *value, size_t len);
/* Compound metadata; list_head/list_tail are written only for lists, the stream extras only
 * for streams. */
void enc_compound_meta(buf *out, const meta *m);
/* Decodes a metadata value (64-bit or legacy form). Returns 0, or -1 if malformed: too short
 * for its type, a size above INT64_MAX, or list head/tail that do not span size items. */
int enc_decode_meta(const char *raw, size_t len, meta *m);
/* The expiry a metadata value holds, read without decoding the rest (0: none, or too short
 * to say): the same as enc_decode_meta's expire_ms for a well-formed record. */
int64_t enc_meta_expire(const char *raw, size_t len);
/* Expiry index entry (CF_EXPIRE, empty value): [expire_ms u64 BE][metadata key], so that the
 * keys expiring first come first. Written with every metadata record that has an expiry (the
 * txn adds it, storage/txn.c); entries whose key has since changed are stale and skipped. */
void enc_expire_key(buf *out, int64_t expire_ms, const char *meta_key, size_t mlen);
/* Splits an index entry: 0, or -1 if it is too short to hold an expiry and a namespace. */
int enc_decode_expire_key(const char *key, size_t len, int64_t *expire_ms, const char **meta_key, size_t *mlen);
/* A collection with no members, which is no key: a stream is one, empty or not (as in Redis,
 * where XDEL or XTRIM of its last entry leaves it, keeping its last id). */
static inline int enc_meta_is_empty_collection(const meta *m) {
    return m->type != TYPE_STRING && m->type != TYPE_STREAM && m->size == 0;
}
/* Dead = expired, or an empty collection. */
int enc_meta_is_dead(const meta *m, int64_t now_ms);
/* A new compound-key version: (unix_us << 11) + (counter mod 2048). */
uint64_t enc_new_version(void);

/* Ordered double: 8 big-endian bytes that sort like the number. */
void enc_ordered_double(uint8_t out[8], double v);
double enc_decode_ordered_double(const uint8_t in[8]);
/* A zset member's stored score (an ordered double): 0, or -1 if the value is not 8 bytes. */
int enc_decode_score(const char *value, size_t len, double *score);

/* A bitmap keeps its string in fragments of up to this many bytes, each under a subkey that is
 * the decimal byte offset where it starts ("0", "1024", …). */
#define BITMAP_FRAGMENT_BYTES 1024
/* The subkey of the fragment starting at a byte offset (out holds 24 bytes); its length. */
size_t enc_fragment_name(char *out, uint64_t offset);
/* A fragment's offset from its subkey: 0, or -1 unless it is the name enc_fragment_name gives
 * for a multiple of BITMAP_FRAGMENT_BYTES (digits only, no leading zero). */
int enc_fragment_offset(const char *name, size_t len, uint64_t *offset);
/* A byte with its bits in the opposite order (a bitmap's string byte <-> its stored byte). */
uint8_t enc_reverse_bits(uint8_t b);

const char *enc_type_name(enum key_type t);
/* Maps a TYPE name (string, hash, …) to a type; TYPE_NONE if unknown. */
enum key_type enc_type_from_name(const char *name);

#endif
