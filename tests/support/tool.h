/*
 * tool.h: what the test tools (aoip-wavcheck, aoip-noise, aoip-tonegen)
 * share about talking to their user.
 */
#ifndef AOIP_TEST_TOOL_H
#define AOIP_TEST_TOOL_H

/*
 * "PROG: <message>" on stderr, then `after` (the usage text, or a hint),
 * and the exit code of a usage error: 2.
 */
int tool_usage_error(const char *prog, const char *after, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
