/*
 * render.h: aoipctl's human output, from the JSON results of
 * proto/control.md.
 *
 * Every function takes the result as the node sent it and the stream to
 * print to, and reads nothing else, so tests feed them canned JSON and a
 * memory stream. What the terminal can do (width, UTF-8, colour) comes in
 * as a struct so that tests can ask for any of it.
 */
#ifndef AOIPCTL_RENDER_H
#define AOIPCTL_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

struct aoipctl_term {
    unsigned width; /* columns to fit in */
    bool tty;       /* stdout is a terminal: bars, redraw in place */
    bool utf8;      /* the locale's character set is UTF-8 */
    bool color;     /* a terminal, and NO_COLOR is unset or empty */
};

/* The terminal on fd: its width (80 when it is not a terminal), UTF-8, colour. */
void aoipctl_term_detect(struct aoipctl_term *t, int fd);

/* SGR sequences, or "" when colour is off. */
const char *aoipctl_sgr(const struct aoipctl_term *t, const char *seq);
#define AOIPCTL_SGR_DIM   "\033[2m"
#define AOIPCTL_SGR_BOLD  "\033[1m"
#define AOIPCTL_SGR_RED   "\033[31m"
#define AOIPCTL_SGR_RESET "\033[0m"

/* Display columns of a UTF-8 string: one per code point (names are ASCII). */
size_t aoipctl_text_width(const char *s);

/* "-6.0 dB", "+3.0 dB", "0.0 dB"; "-inf dB" for null. */
void aoipctl_format_gain(char *buf, size_t len, const json_t *gain_db);
/* "-23.0"; "-inf" for null (silence). */
void aoipctl_format_level(char *buf, size_t len, const json_t *dbfs);
/* A route's latency_us as "20 ms", "2.5 ms"; "" when the route asks for none. */
void aoipctl_format_route_latency(char *buf, size_t len, const json_t *route);

void aoipctl_render_status(FILE *out, const json_t *status, const struct aoipctl_term *t);
void aoipctl_render_nodes(FILE *out, const json_t *nodes, const struct aoipctl_term *t);
void aoipctl_render_channels(FILE *out, const json_t *channels, const struct aoipctl_term *t);
/* One route on one line, after prefix (e.g. "removed "). */
void aoipctl_render_route(FILE *out, const char *prefix, const json_t *route,
                          const struct aoipctl_term *t);
void aoipctl_render_routes(FILE *out, const json_t *routes, const struct aoipctl_term *t);
void aoipctl_render_stats(FILE *out, const json_t *stats, const struct aoipctl_term *t);
void aoipctl_render_meter(FILE *out, const json_t *meters, const struct aoipctl_term *t);

#endif
