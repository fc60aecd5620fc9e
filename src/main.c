/* tidekv-server: a Redis-protocol key-value server persistent on RocksDB, built around CDC. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cdc/consumers.h"
#include "cdc/notify.h"
#include "cdc/poll.h"
#include "cdc/retention.h"
#include "cdc/snapshots.h"
#include "cdc/tail.h"
#include "cdc/wal.h"
#include "cmd/blocking.h"
#include "cmd/cmd.h"
#include "cmd/dispatch.h"
#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "config.h"
#include "dataset.h"
#include "script/functions.h"
#include "net/net.h"
#include "repl/checkpoints.h"
#include "repl/identity.h"
#include "repl/replica.h"
#include "server.h"
#include "types/expiry.h"
#include "storage/expire_index.h"
#include "storage/keycount.h"
#include "storage/keylock.h"
#include "storage/store.h"
#include "storage/txn.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Every committed batch goes to the CDC tail cache, which says up to where commits can now be
 * read; announcing that wakes the blocked pollers it reaches. */
static void on_commit(const char *batch, size_t len) {
    uint64_t readable = tail_append(batch, len);
    if (readable) cdc_notify_commit(readable);
}

/* File descriptors kept for RocksDB's files, the listener and the log, beyond one per client. */
#define RESERVED_FDS 1024

/* Raises the open-files limit so maxclients connections fit beside RocksDB's files, as far
 * as the hard limit allows; says so when it does not. */
static void raise_open_files_limit(void) {
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0) return;
    rlim_t want = (rlim_t)CONFIG_READ(maxclients) + RESERVED_FDS;
    if (lim.rlim_cur >= want) return;
    rlim_t can = lim.rlim_max == RLIM_INFINITY || lim.rlim_max >= want ? want : lim.rlim_max;
    lim.rlim_cur = can;
    if (setrlimit(RLIMIT_NOFILE, &lim) < 0) {
        log_msg(LOG_WARNING, "can't raise the open files limit to %llu: %s", (unsigned long long)can, strerror(errno));
        return;
    }
    if (can < want)
        log_msg(LOG_WARNING, "maxclients %d needs %llu open files, but the limit is %llu: connections beyond it will fail",
                CONFIG_READ(maxclients), (unsigned long long)want, (unsigned long long)can);
}

/* The threads that commit on their own: stopped before the workers their commits reach. */
static void stop_writer_threads(void) {
    replica_close();
    expiry_stop();
}

/* With replicaof configured, follows that master from the start (before any thread could
 * write locally). Returns 0, or -1 if the thread cannot start. */
static int start_following(void) {
    char host[256];
    int port;
    if (server_config.replicaof[0] == '\0') return 0;
    if (config_parse_replicaof(server_config.replicaof, host, sizeof(host), &port) < 0) return -1; /* checked at load */
    return replica_follow(host, port);
}

static void usage(void) {
    fprintf(stderr,
            "Usage: tidekv-server [config-file] [--name value ...]\n"
            "Example: tidekv-server tidekv.conf --port 6666 --dir ./data\n");
}

/* Writes the pidfile, if one is configured. As Redis, a pidfile that can't be written is
 * logged and the server goes on: it is for tools, the server needs none. */
static void write_pidfile(void) {
    if (!server_config.pidfile[0]) return;
    FILE *f = fopen(server_config.pidfile, "w");
    if (f) fprintf(f, "%ld\n", (long)getpid());
    if (!f || fclose(f) != 0)
        log_msg(LOG_WARNING, "can't write the pidfile '%s': %s", server_config.pidfile, strerror(errno));
}

static void remove_pidfile(void) {
    if (server_config.pidfile[0]) unlink(server_config.pidfile);
}

int main(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage();
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        printf("tidekv-server %s\n", TIDEKV_VERSION);
        return 0;
    }
    config_init_defaults();
    char err[512];
    if (config_load_args(argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "tidekv: configuration error: %s\n", err);
        return 1;
    }
    if (log_open(server_config.logfile) < 0) {
        fprintf(stderr, "tidekv: can't open log file '%s': %s\n", server_config.logfile, strerror(errno));
        return 1;
    }
    raise_open_files_limit();
    srand((unsigned)time_now_us());
    server_start_ms = time_now_ms();
    if (mkdir(server_config.dir, 0755) < 0 && errno != EEXIST) {
        log_msg(LOG_WARNING, "can't create data directory '%s': %s", server_config.dir, strerror(errno));
        return 1;
    }
    int replica = server_config.replicaof[0] != '\0';
    if (dataset_open(replica) < 0) return 1;
    checkpoints_init(server_config.dir);
    if (identity_load(server_config.dir) < 0) {
        dataset_close();
        return 1;
    }
    /* A node that followed a master and starts as a master writes a history of its own: were it
     * to keep its master's id, a replica of that master could continue here from an equal
     * sequence with other data. */
    if (!replica && identity_get().following && identity_promote(store_latest_sequence() + 1) < 0) {
        dataset_close();
        return 1;
    }
    txn_set_commit_hook(on_commit);
    txn_set_signal_hook(blocking_signal_streams);
    txn_set_touch_hook(blocking_notify);
    txn_set_flush_hook(blocking_notify_streams);
    keyspace_events_init();
    keylock_set_give_up(dispatch_lock_wait_gives_up);
    cdc_set_keys_hook(cmd_recorded_keys);
    replication_init();
    if (start_following() < 0 || cdc_notify_start() < 0 || retention_start() < 0 || expiry_start() < 0) {
        log_msg(LOG_WARNING, "can't start the replication, CDC and expiry threads");
        replica_close();
        retention_stop();
        expiry_stop();
        cdc_notify_stop();
        dataset_close();
        return 1;
    }
    write_pidfile();
    int rc = net_run(stop_writer_threads);
    stop_writer_threads(); /* again, for a net_run that failed before serving: stopping twice is nothing */
    remove_pidfile();
    retention_stop();
    checkpoints_close();
    cdc_notify_stop();
    dataset_close();
    log_msg(LOG_NOTICE, "tidekv stopped");
    return rc == 0 ? 0 : 1;
}
