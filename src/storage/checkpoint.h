/* RocksDB checkpoints of the open database (the copy a replica's full sync downloads,
 * repl/checkpoints.h): a directory RocksDB can open as a database, its table files hard links
 * to the live ones, so that making one costs little time and no space. */
#ifndef TIDEKV_STORAGE_CHECKPOINT_H
#define TIDEKV_STORAGE_CHECKPOINT_H

/* Flushes every column family's memtable to table files and waits for it: a checkpoint taken
 * just after copies only what was written since (its live WAL), not the whole memtable.
 * 0, or -1 with *err set (malloc'd). */
int store_flush_all(char **err);

/* Makes dir a checkpoint of the database as it is now, without a flush: what the memtables
 * hold goes as a copy of the live WAL. With RocksDB's files goes the expiry index's marker
 * (storage/expire_index.h), so that the copy opens as a tidekv database without a backfill. dir must not exist; its parent must. Called while no
 * commit can land (the global lock's exclusive side), the checkpoint holds exactly the commits
 * up to store_latest_sequence(). 0, or -1 with *err set (malloc'd). */
int store_checkpoint(const char *dir, char **err);

#endif
