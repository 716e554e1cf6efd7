/*
 * log.h: one line per event, on stderr (journald stamps and stores it).
 *
 * Every line names what it concerns (the node, a peer, a flow) and has a
 * level an operator can filter on. Only the control thread logs: the media
 * thread counts, and the control thread reports what the counts say.
 */
#ifndef AOIPD_LOG_H
#define AOIPD_LOG_H

enum log_level {
    LOG_ERROR,
    LOG_WARNING,
    LOG_INFO,
    LOG_DEBUG,
};

/* Lines below this level are dropped; the node name prefixes every line. */
void log_setup(const char *node_name, enum log_level level);
/* "error", "warning", "info", "debug"; returns -1 for anything else. */
int log_level_parse(const char *s);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
