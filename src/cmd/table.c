/* The command table: every family file (cmd/hash.c, …) declares its own rows; this file
 * gathers them once into one array sorted by name, and looks names up in it. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/handlers.h"

static const cmd_family *const families[] = {
    &connection_commands, &server_commands, &transaction_commands, &string_commands, &key_commands,
    &hash_commands,       &set_commands,    &list_commands,        &zset_commands,   &cdc_commands,
    &scripting_commands,
    &stream_commands,
    &stream_group_commands,
    &pubsub_commands,
    &function_commands,
    &replication_commands,
};

static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;
static cmd_def *table;
static size_t table_size;

static int compare_defs(const void *a, const void *b) {
    return strcmp(((const cmd_def *)a)->name, ((const cmd_def *)b)->name);
}

/* Names to table rows by an open-addressing hash, filled once: a lookup is one hash of the
 * name and, mostly, one comparison (a binary search over the table made about eight). */
#define NAME_SLOTS 512 /* a power of two, well over twice the table's rows */
static const cmd_def *by_name[NAME_SLOTS];

/* FNV-1a over the name lowercased (ASCII: command names are), as it writes the lowercase copy. */
static uint32_t hash_lower(const char *name, size_t len, char *lower) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + ('a' - 'A'));
        if (lower) lower[i] = ch;
        h = (h ^ (uint8_t)ch) * 16777619u;
    }
    return h;
}

static void gather_families(void) {
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) table_size += families[f]->count;
    table = malloc(table_size * sizeof(table[0]));
    if (!table) abort();
    size_t at = 0;
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        memcpy(table + at, families[f]->defs, families[f]->count * sizeof(table[0]));
        at += families[f]->count;
    }
}

static void sort_table(void) {
    gather_families();
    qsort(table, table_size, sizeof(table[0]), compare_defs);
    if (table_size * 2 >= NAME_SLOTS) abort(); /* NAME_SLOTS must grow with the table */
    for (size_t i = 0; i < table_size; i++) {
        uint32_t slot = hash_lower(table[i].name, strlen(table[i].name), NULL) & (NAME_SLOTS - 1);
        while (by_name[slot]) slot = (slot + 1) & (NAME_SLOTS - 1);
        by_name[slot] = &table[i];
    }
}

const cmd_def *cmd_lookup(const char *name, size_t len) {
    pthread_once(&sorted_once, sort_table);
    char lower[32];
    if (len == 0 || len >= sizeof(lower)) return NULL;
    uint32_t slot = hash_lower(name, len, lower) & (NAME_SLOTS - 1);
    for (const cmd_def *def; (def = by_name[slot]) != NULL; slot = (slot + 1) & (NAME_SLOTS - 1))
        if (strlen(def->name) == len && memcmp(def->name, lower, len) == 0) return def;
    return NULL;
}

const cmd_def *cmd_table(size_t *count) {
    pthread_once(&sorted_once, sort_table);
    *count = table_size;
    return table;
}
