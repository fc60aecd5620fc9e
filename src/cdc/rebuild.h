/* Commands that express physical operations of a write batch: shared by the poll decoder
 * (batches written without a change record) and APPLYBATCH (which writes its own record). */
#ifndef TIDEKV_REBUILD_H
#define TIDEKV_REBUILD_H

#include <stddef.h>

#include "cdc/batch.h"
#include "cdc/record.h"
#include "storage/encoding.h"

/* SET k v [PXAT t] for a string's metadata. */
void cdc_emit_string(record_writer *w, int db, const char *key, size_t klen, const meta *m);
/* DEL k; type is the key's type (0 if unknown). */
void cdc_emit_del(record_writer *w, int db, int type, const char *key, size_t klen);
void cdc_emit_flushdb(record_writer *w, int db);

/* Expresses one physical operation as a command on its own, without reading the database
 * (for batches without a change record); returns 0 if it cannot. */
int cdc_rebuild_op(const batch_record *op, record_writer *w);

#endif
