/*
 * tool.c: the usage errors of the test tools, worded one way.
 */
#include <stdarg.h>
#include <stdio.h>

#include "tool.h"

int tool_usage_error(const char *prog, const char *after, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", after);
    return 2;
}
