/* Redis-style glob matching: * ? [abc] [^a-z] and backslash escapes. */
#ifndef TIDEKV_GLOB_H
#define TIDEKV_GLOB_H

#include <stddef.h>

int glob_match(const char *pattern, size_t plen, const char *str, size_t slen, int nocase);

#endif
