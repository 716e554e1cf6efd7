/*
 * log.c: the daemon's log lines.
 *
 * systemd's journal understands the "<N>" priority prefix of sd-daemon(3)
 * on stderr; on a terminal the prefix would be noise, so it is used only
 * when stderr is not a terminal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char node[64] = "aoipd";
static enum log_level threshold = LOG_INFO;

static const char *const names[] = { "error", "warning", "info", "debug" };
/* sd-daemon priorities: LOG_ERR 3, LOG_WARNING 4, LOG_INFO 6, LOG_DEBUG 7. */
static const int priorities[] = { 3, 4, 6, 7 };

void log_setup(const char *node_name, enum log_level level)
{
    snprintf(node, sizeof(node), "%s", node_name);
    threshold = level;
}

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char text[1024];
    va_list ap;

    if (level > threshold)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "aoipd[%s] %s: %s\n", node, names[level], text);
    else
        fprintf(stderr, "<%d>aoipd[%s] %s: %s\n", priorities[level], node, names[level], text);
}
