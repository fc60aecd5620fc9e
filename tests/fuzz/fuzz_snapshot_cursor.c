/* Fuzzes SNAPSHOT READ's cursor decoder (src/types/dump.h), which parses what a client sends:
 * it either refuses the input or yields a position in range that encodes back to the same
 * cursor (hex is read in either case, written in upper case). */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "types/dump.h"

#define DATABASES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dump_pos p;
    dump_pos_init(&p);
    if (dump_cursor_decode((const char *)data, size, DATABASES, &p) == 0) {
        FUZZ_CHECK((p.db >= 0 && p.db < DATABASES) || (p.db == DUMP_LIBRARIES && !p.in_key));
        FUZZ_CHECK(p.in_key || p.member.len == 0);
        buf again;
        buf_init(&again);
        dump_cursor_encode(&p, &again);
        FUZZ_CHECK(again.len == size);
        for (size_t i = 0; i < size; i++) FUZZ_CHECK(again.data[i] == toupper(data[i]));
        buf_free(&again);
    }
    dump_pos_free(&p);
    return 0;
}
