/* Runs a fuzz target over saved inputs, without libFuzzer: `fuzz_x DIR|FILE ...`.
 * Every regular file of each directory is one input; names starting with '.' (.gitkeep) are
 * skipped. ctest runs this over tests/fuzz/corpus and tests/fuzz/regressions. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Runs one file, read into an allocation of exactly its size so ASan catches reads past it.
 * Returns 1, the number of inputs run, or -1 on an error. */
static int run_file(const char *path, size_t size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *data = fuzz_alloc(size);
    size_t got = fread(data, 1, size, f);
    fclose(f);
    if (got != size) {
        fprintf(stderr, "%s: short read\n", path);
        free(data);
        return -1;
    }
    /* Named first, so an abort inside the target says which input did it. */
    fprintf(stderr, "running %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 1;
}

/* Runs every regular file of a directory; returns how many, or -1 on an error. */
static int run_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    int count = 0;
    struct dirent *e;
    while (count >= 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        struct stat st;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path) || stat(path, &st) < 0) {
            fprintf(stderr, "%s/%s: cannot stat\n", dir, e->d_name);
            count = -1;
        } else if (S_ISREG(st.st_mode)) {
            count = run_file(path, (size_t)st.st_size) < 0 ? -1 : count + 1;
        }
    }
    closedir(d);
    return count;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE ...\n", argv[0]);
        return 2;
    }
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        int n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i], (size_t)st.st_size);
        if (n < 0) return 1;
        total += n;
    }
    printf("%s: %d inputs replayed\n", argv[0], total);
    return 0;
}
