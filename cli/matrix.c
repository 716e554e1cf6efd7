/*
 * matrix.c: the routing matrix, built from two answers and drawn as a grid.
 *
 * Source names across the top would need a line per character; instead
 * each column carries the source's number within its node (the N of a
 * NODE/N address, so what the grid shows can be typed back) under its
 * node's name, and a legend below maps numbers to names. Cells are as
 * narrow as the widest gain in the grid, so a few dozen sources fit an
 * 80-column terminal in one or two blocks. Destinations are labelled in
 * full on the left, where there is room for them.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/control.h"
#include "matrix.h"

/* Destination labels longer than this are cut, so the grid keeps its room. */
#define LABEL_MAX 32
/* Cells are at least this wide, so a column of dots still reads as a column. */
#define CELL_MIN 3
/* Blanks between the groups of two nodes, beyond the one between any two cells. */
#define GROUP_GAP 2

static void label_of(char *buf, size_t len, const json_t *ch)
{
    const char *node = json_string_value(json_object_get(ch, "node"));
    const char *name = json_string_value(json_object_get(ch, "name"));

    snprintf(buf, len, "%s/%s", node ? node : "?", name ? name : "?");
}

/* {"node": ..., "name": ...} from a "NODE/NAME" a route names. */
static json_t *channel_from_address(const char *addr)
{
    const char *slash = strchr(addr, '/');

    if (!slash)
        return json_pack("{s:s, s:s}", "node", addr, "name", "");
    return json_pack("{s:s%, s:s}", "node", addr, (size_t)(slash - addr), "name", slash + 1);
}

static bool node_is(const char *addr, const char *node)
{
    size_t n = strlen(node);

    return strncmp(addr, node, n) == 0 && addr[n] == '/';
}

/* Appends ch to list unless its label is in seen already. */
static int add_once(json_t *list, json_t *seen, json_t *ch)
{
    char label[2 * AOIP_NAME_MAX + 2];

    label_of(label, sizeof(label), ch);
    if (json_object_get(seen, label))
        return 0;
    if (json_object_set_new(seen, label, json_true()) < 0)
        return -1;
    return json_array_append(list, ch);
}

json_t *aoipctl_matrix_build(const json_t *channels, const json_t *routes, const char *node)
{
    json_t *m = json_pack("{s:[], s:[], s:[]}", "sources", "destinations", "routes");
    json_t *seen_src = json_object(), *seen_dst = json_object();
    json_t *sources = json_object_get(m, "sources");
    json_t *dests = json_object_get(m, "destinations");
    json_t *kept = json_object_get(m, "routes");
    json_t *ch, *r;
    size_t i;
    int rc = m && seen_src && seen_dst ? 0 : -1;

    json_array_foreach(json_object_get(channels, "sources"), i, ch)
    {
        rc |= add_once(sources, seen_src, ch);
    }
    json_array_foreach(json_object_get(channels, "destinations"), i, ch)
    {
        const char *owner = json_string_value(json_object_get(ch, "node"));
        if (!node || (owner && strcmp(owner, node) == 0))
            rc |= add_once(dests, seen_dst, ch);
    }
    json_array_foreach(routes, i, r)
    {
        const char *src = json_string_value(json_object_get(r, "source"));
        const char *dst = json_string_value(json_object_get(r, "destination"));
        if (!src || !dst || (node && !node_is(dst, node)))
            continue;
        json_t *s = channel_from_address(src), *d = channel_from_address(dst);
        if (s && d)
            rc |= add_once(sources, seen_src, s) | add_once(dests, seen_dst, d);
        else
            rc = -1;
        json_decref(s);
        json_decref(d);
        rc |= json_array_append(kept, r);
    }
    json_decref(seen_src);
    json_decref(seen_dst);
    if (rc < 0) {
        json_decref(m);
        return NULL;
    }
    return m;
}

/* ---- the grid ---- */

enum cell_kind { CELL_NONE, CELL_GAIN, CELL_MUTED };

struct cell {
    enum cell_kind kind;
    const json_t *gain;
};

struct grid {
    size_t nsrc, ndst;
    const json_t **src;  /* sources in display order: grouped by node */
    const json_t **dst;  /* destinations, as listed */
    struct cell *cells;  /* ndst rows of nsrc */
    size_t cell_w;       /* width of every cell's text */
    size_t label_w;      /* width of the destination labels */
    const char *nothing; /* the mark of a crosspoint without a route */
    char (*number)[24];  /* each column's number, by display column */
};

static const char *node_of(const json_t *ch)
{
    const char *s = json_string_value(json_object_get(ch, "node"));

    return s ? s : "?";
}

/* Sources in the order the node listed them, each node's gathered where it first appears. */
static void order_sources(struct grid *g, const json_t *sources)
{
    size_t n = json_array_size(sources), k = 0;
    bool *placed = calloc(n ? n : 1, sizeof(*placed));

    if (!placed)
        return;
    for (size_t i = 0; i < n; i++) {
        if (placed[i])
            continue;
        const char *node = node_of(json_array_get(sources, i));
        for (size_t j = i; j < n; j++) {
            if (!placed[j] && strcmp(node_of(json_array_get(sources, j)), node) == 0) {
                g->src[k++] = json_array_get(sources, j);
                placed[j] = true;
            }
        }
    }
    g->nsrc = k;
    free(placed);
}

/* "0", "-6", "+3", "-4.5": a gain to 0.1 dB, with no decimals when it needs none. */
static void cell_text(char *buf, size_t len, const struct grid *g, const struct cell *c)
{
    if (c->kind == CELL_NONE) {
        snprintf(buf, len, "%s", g->nothing);
    } else if (c->kind == CELL_MUTED) {
        snprintf(buf, len, "M");
    } else if (!json_is_number(c->gain)) {
        snprintf(buf, len, json_is_null(c->gain) ? "-inf" : "?");
    } else {
        double r = round(json_number_value(c->gain) * 10) / 10;
        if (r == 0)
            snprintf(buf, len, "0");
        else if (r == floor(r))
            snprintf(buf, len, "%+.0f", r);
        else
            snprintf(buf, len, "%+.1f", r);
    }
}

static int grid_init(struct grid *g, const json_t *m, const struct aoipctl_term *t)
{
    const json_t *sources = json_object_get(m, "sources");
    const json_t *dests = json_object_get(m, "destinations");
    json_t *col_of = json_object(), *row_of = json_object();
    const json_t *ch, *r;
    size_t i;
    char label[2 * AOIP_NAME_MAX + 2], text[32];

    memset(g, 0, sizeof(*g));
    g->nsrc = json_array_size(sources);
    g->ndst = json_array_size(dests);
    g->nothing = t->utf8 ? "\u00b7" : ".";
    g->src = calloc(g->nsrc + 1, sizeof(*g->src));
    g->dst = calloc(g->ndst + 1, sizeof(*g->dst));
    g->number = calloc(g->nsrc + 1, sizeof(*g->number));
    g->cells = calloc(g->nsrc * g->ndst + 1, sizeof(*g->cells));
    if (!col_of || !row_of || !g->src || !g->dst || !g->number || !g->cells)
        goto fail;

    order_sources(g, sources);
    g->cell_w = CELL_MIN;
    for (i = 0; i < g->nsrc; i++) {
        const json_t *index = json_object_get(g->src[i], "index");
        if (json_is_integer(index))
            snprintf(g->number[i], sizeof(g->number[i]), "%lld",
                     (long long)json_integer_value(index));
        else
            snprintf(g->number[i], sizeof(g->number[i]), "?");
        if (strlen(g->number[i]) > g->cell_w)
            g->cell_w = strlen(g->number[i]);
        label_of(label, sizeof(label), g->src[i]);
        json_object_set_new(col_of, label, json_integer((json_int_t)i));
    }
    json_array_foreach(dests, i, ch)
    {
        g->dst[i] = ch;
        label_of(label, sizeof(label), ch);
        json_object_set_new(row_of, label, json_integer((json_int_t)i));
        if (aoipctl_text_width(label) > g->label_w)
            g->label_w = aoipctl_text_width(label);
    }
    if (g->label_w > LABEL_MAX)
        g->label_w = LABEL_MAX;

    json_array_foreach(json_object_get(m, "routes"), i, r)
    {
        const json_t *col =
            json_object_get(col_of, json_string_value(json_object_get(r, "source")));
        const json_t *row =
            json_object_get(row_of, json_string_value(json_object_get(r, "destination")));
        if (!col || !row)
            continue;
        struct cell *c =
            &g->cells[(size_t)json_integer_value(row) * g->nsrc + (size_t)json_integer_value(col)];
        c->kind = json_is_true(json_object_get(r, "muted")) ? CELL_MUTED : CELL_GAIN;
        c->gain = json_object_get(r, "gain_db");
        cell_text(text, sizeof(text), g, c);
        if (aoipctl_text_width(text) > g->cell_w)
            g->cell_w = aoipctl_text_width(text);
    }
    json_decref(col_of);
    json_decref(row_of);
    return 0;

fail:
    json_decref(col_of);
    json_decref(row_of);
    return -1;
}

static void grid_free(struct grid *g)
{
    free(g->src);
    free(g->dst);
    free(g->number);
    free(g->cells);
}

static void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

static bool starts_group(const struct grid *g, size_t col, size_t first)
{
    return col > first && strcmp(node_of(g->src[col]), node_of(g->src[col - 1])) != 0;
}

/* Columns [first, end) fit in width after the labels; at least one does. */
static size_t block_end(const struct grid *g, size_t first, unsigned width)
{
    size_t x = g->label_w, col = first;

    for (; col < g->nsrc; col++) {
        size_t need = 1 + g->cell_w + (starts_group(g, col, first) ? GROUP_GAP : 0);
        if (x + need > width && col > first)
            break;
        x += need;
    }
    return col;
}

/* The node names over their groups, cut to the group's width (the last one to the line's). */
static void print_nodes(FILE *out, const struct grid *g, size_t first, size_t end, unsigned width)
{
    size_t x = 0, at = g->label_w; /* x: printed so far; at: where the next column starts */

    for (size_t col = first; col < end; col++) {
        if (starts_group(g, col, first))
            at += GROUP_GAP;
        if (col == first || starts_group(g, col, first)) {
            size_t span = 0, c = col;
            for (; c < end && (c == col || !starts_group(g, c, first)); c++)
                span += 1 + g->cell_w;
            const char *node = node_of(g->src[col]);
            /* A name may run into the gap after its group, short of the next name. */
            size_t n = strlen(node), room = span - 1 + GROUP_GAP;
            if (c == end && width > at + span)
                room = width - at - 1;
            pad(out, at + 1 - x);
            if (n <= room) {
                fputs(node, out);
                x = at + 1 + n;
            } else {
                fprintf(out, "%.*s~", (int)(room - 1), node);
                x = at + 1 + room;
            }
        }
        at += 1 + g->cell_w;
    }
    fputc('\n', out);
}

static void print_numbers(FILE *out, const struct grid *g, size_t first, size_t end)
{
    pad(out, g->label_w);
    for (size_t col = first; col < end; col++) {
        pad(out,
            (starts_group(g, col, first) ? GROUP_GAP : 0) + 1 + g->cell_w - strlen(g->number[col]));
        fputs(g->number[col], out);
    }
    fputc('\n', out);
}

static void print_row(FILE *out, const struct grid *g, size_t row, size_t first, size_t end,
                      const struct aoipctl_term *t)
{
    char label[2 * AOIP_NAME_MAX + 2], text[32];

    label_of(label, sizeof(label), g->dst[row]);
    if (aoipctl_text_width(label) > g->label_w)
        fprintf(out, "%.*s~", (int)(g->label_w - 1), label);
    else
        fprintf(out, "%-*s", (int)g->label_w, label);
    for (size_t col = first; col < end; col++) {
        const struct cell *c = &g->cells[row * g->nsrc + col];
        cell_text(text, sizeof(text), g, c);
        pad(out, (starts_group(g, col, first) ? GROUP_GAP : 0) + 1 + g->cell_w -
                     aoipctl_text_width(text));
        if (c->kind == CELL_GAIN) {
            fputs(text, out);
        } else {
            fputs(aoipctl_sgr(t, AOIPCTL_SGR_DIM), out);
            fputs(text, out);
            fputs(aoipctl_sgr(t, AOIPCTL_SGR_RESET), out);
        }
    }
    fputc('\n', out);
}

/* "stage: 1 mic1  2 mic2 ...", wrapped under its first entry. */
static void print_legend(FILE *out, const struct grid *g, unsigned width)
{
    for (size_t col = 0; col < g->nsrc;) {
        const char *node = node_of(g->src[col]);
        size_t indent = strlen(node) + 2, x = indent;
        fprintf(out, "%s:", node);
        for (bool first = true; col < g->nsrc && strcmp(node_of(g->src[col]), node) == 0;
             col++, first = false) {
            const char *name = json_string_value(json_object_get(g->src[col], "name"));
            size_t n = strlen(g->number[col]) + 1 + strlen(name ? name : "?");
            if (!first && x + 2 + n > width) {
                fputc('\n', out);
                pad(out, indent);
                x = indent;
            } else {
                fputs(first ? " " : "  ", out);
                x += first ? 0 : 2;
            }
            fprintf(out, "%s %s", g->number[col], name ? name : "?");
            x += n;
        }
        fputc('\n', out);
    }
}

/* A cell has room for a gain only: routes that ask for a latency are listed below the grid. */
static void print_latencies(FILE *out, const json_t *routes)
{
    char latency[48];
    bool first = true;
    size_t i;
    const json_t *r;

    json_array_foreach(routes, i, r)
    {
        aoipctl_format_route_latency(latency, sizeof(latency), r);
        if (!latency[0])
            continue;
        const char *src = json_string_value(json_object_get(r, "source"));
        const char *dst = json_string_value(json_object_get(r, "destination"));
        fprintf(out, "%s%s -> %s  latency %s\n", first ? "\n" : "", src ? src : "?",
                dst ? dst : "?", latency);
        first = false;
    }
}

void aoipctl_render_matrix(FILE *out, const json_t *matrix, const struct aoipctl_term *t)
{
    struct grid g;

    if (grid_init(&g, matrix, t) < 0) {
        grid_free(&g);
        return;
    }
    if (g.nsrc == 0 || g.ndst == 0) {
        fputs(g.nsrc == 0 ? "no sources\n" : "no destinations\n", out);
        grid_free(&g);
        return;
    }
    for (size_t first = 0, end; first < g.nsrc; first = end) {
        end = block_end(&g, first, t->width);
        if (first > 0)
            fputc('\n', out);
        print_nodes(out, &g, first, end, t->width);
        print_numbers(out, &g, first, end);
        for (size_t row = 0; row < g.ndst; row++)
            print_row(out, &g, row, first, end, t);
    }
    fputc('\n', out);
    print_legend(out, &g, t->width);
    print_latencies(out, json_object_get(matrix, "routes"));
    grid_free(&g);
}
