/*
 * tool.c: the usage errors of the test tools, worded one way, and the
 * parsing of their lists of names.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "aoip/common.h"
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

int tool_parse_names(const char *list, const char *const *names, int count, unsigned *mask)
{
    unsigned found = 0;
    /* Walked in place, item by item: no copy, so no limit on the length. */
    for (const char *p = list;; p++) {
        size_t len = strcspn(p, ",");
        int i = 0;
        while (i < count && (strlen(names[i]) != len || strncmp(p, names[i], len) != 0))
            i++;
        if (len == 0 || i == count)
            return -EINVAL;
        found |= 1u << i;
        p += len;
        if (*p == '\0')
            break;
    }
    *mask |= found;
    return 0;
}

int tool_error_texts_distinct(const int *codes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(aoip_strerror(codes[i]), "unknown error") == 0)
            return (int)i;
        for (size_t j = 0; j < i; j++)
            if (strcmp(aoip_strerror(codes[i]), aoip_strerror(codes[j])) == 0)
                return (int)i;
    }
    return -1;
}
