/* RocksDB's WAL files seen from outside: which files hold which sequences, how big they are,
 * and which of the archived ones tidekv's retention may delete (cdc/retention.h).
 *
 * RocksDB writes the WAL in NNNNNN.log files in the database directory (tidekv sets no
 * wal_dir) and moves a file to archive/ once its changes are flushed; tidekv keeps archived
 * files from RocksDB's own purge and deletes them itself. A file holds the sequences from its
 * first batch's up to the next file's first batch's (exclusive). */
#ifndef TIDEKV_WAL_FILES_H
#define TIDEKV_WAL_FILES_H

#include <stddef.h>
#include <stdint.h>

typedef struct wal_file {
    uint64_t number;
    uint64_t first_sequence; /* of its first batch; 0 if it holds none yet (or it can't be read) */
    uint64_t size;
    int64_t mtime_s;
    int archived;
} wal_file;

/* The first batch's sequence in the start of a WAL file (RocksDB's log format: 32 KiB blocks
 * of records, each with a 7-byte header, or 11 for recycled logs, before its payload): 1 with
 * *seq, 0 if data holds no whole batch header yet, -1 if it is not a WAL's start. */
int wal_file_first_sequence(const void *data, size_t len, uint64_t *seq);

/* Lists the live and archived WAL files by number (oldest first) into *files (malloc'd).
 * First sequences are read once per file and remembered. Returns 0, or -1 if a directory
 * cannot be listed. */
int wal_files_list(wal_file **files, size_t *n);
/* Forgets the first sequences read (the files are another store's now). */
void wal_files_forget(void);
/* Deletes an archived file; 0 or -1 (logged). */
int wal_files_delete_archived(const wal_file *f);

/* The last sequence file i can hold: the next file's first, minus one, or latest. */
uint64_t wal_files_last_sequence(const wal_file *files, size_t n, size_t i, uint64_t latest);
/* Bytes of the files holding sequences after pos (what a poll from pos reads). */
uint64_t wal_files_bytes_after(const wal_file *files, size_t n, uint64_t pos, uint64_t latest);
/* The oldest sequence the files hold; 0 if none holds any, or if it can't be told (a file
 * with bytes before the first whose first sequence is known). */
uint64_t wal_files_oldest_sequence(const wal_file *files, size_t n);

/* What retention asks of the archive. */
typedef struct wal_retention {
    uint64_t pin;        /* keep every file holding a sequence after this; UINT64_MAX: none */
    int64_t now_s;
    long long ttl_s;     /* delete files unmodified for longer (0: no age limit) */
    uint64_t max_bytes;  /* and the oldest while the archive is bigger (0: no size limit) */
} wal_retention;

/* How many of the oldest archived files to delete: archived files come before live ones and
 * pinned ones after unpinned ones, so the answer is a prefix. With neither an age nor a size
 * limit, every unpinned archived file goes (as RocksDB keeps no archive then). */
size_t wal_files_to_purge(const wal_file *files, size_t n, uint64_t latest, const wal_retention *r);

#endif
