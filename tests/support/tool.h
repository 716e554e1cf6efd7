/*
 * tool.h: what the test tools (aoip-wavcheck, aoip-noise, aoip-tonegen,
 * aoip-attack) share about talking to their user, and the unit tests
 * about error texts.
 */
#ifndef AOIP_TEST_TOOL_H
#define AOIP_TEST_TOOL_H

#include <stddef.h>

/*
 * "PROG: <message>" on stderr, then `after` (the usage text, or a hint),
 * and the exit code of a usage error: 2.
 */
int tool_usage_error(const char *prog, const char *after, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A comma-separated list of names from names[0..count) (an option such as
 * --only version,padding) into bits of *mask: bit i for names[i], ORed in,
 * so that the option may be given more than once. count is at most 32.
 * Returns 0, or -EINVAL (and *mask is left as it was) for an unknown or
 * empty name or an empty list.
 */
int tool_parse_names(const char *list, const char *const *names, int count, unsigned *mask);

/*
 * Whether every code in codes has a text of its own in aoip_strerror: none
 * is "unknown error" and no two are the same. Returns -1 when so, else the
 * index of the first code that fails.
 */
int tool_error_texts_distinct(const int *codes, size_t n);

#endif
