#include "sink.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Every sink this program knows; a new one is one line here and a file of its own. */
static const sink_type *const sink_types[] = {&redis_sink_type, &jsonl_sink_type, &nats_sink_type};

sink *sink_create(const char *url, const cdc_options *o, char *err, size_t errlen) {
    const char *colon = strchr(url, ':');
    if (colon) {
        size_t len = (size_t)(colon - url);
        for (size_t i = 0; i < sizeof(sink_types) / sizeof(sink_types[0]); i++)
            if (strlen(sink_types[i]->scheme) == len && strncasecmp(url, sink_types[i]->scheme, len) == 0)
                return sink_types[i]->create(url, o, err, errlen);
    }
    snprintf(err, errlen, "--sink '%s': unknown sink, expected redis://[[USER]:PASSWORD@]HOST[:PORT], "
             "jsonl:PATH or nats://HOST[:PORT]/SUBJECT", url);
    return NULL;
}
