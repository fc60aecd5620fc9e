/* What an operation of a type module (types/string.h, types/hash.h, …) returns: the cmd/
 * layer turns each status into its Redis error or reply. */
#ifndef TIDEKV_TYPES_STATUS_H
#define TIDEKV_TYPES_STATUS_H

typedef enum {
    ST_OK,
    ST_MISSING,
    ST_WRONGTYPE,
    ST_NOT_INTEGER,
    ST_OVERFLOW,
    ST_NOT_FLOAT,
    ST_NAN_OR_INF,
    ST_TOO_BIG,
    ST_ERROR,   /* a storage read failed: the command must fail (its writes are rolled back) */
    ST_CORRUPT, /* the key's stored data cannot be decoded or contradicts itself */
    ST_NO_ROOM_AT_HEAD, /* a list has no positions left below its head for the items pushed */
    ST_NO_ROOM_AT_TAIL, /* nor above its tail */
    ST_OUT_OF_RANGE,    /* an index past either end (LSET) */
    ST_ID_TOO_SMALL,    /* XADD: the id is not above the stream's last id */
    ST_ID_EXHAUSTED,    /* XADD: the stream's last id is the greatest there is */
    ST_NO_GROUP,        /* a stream has no such consumer group */
    ST_EXISTS,          /* XGROUP CREATE: the group is there already */
} type_status;

#endif
