/*
 * render.c: the tables aoipctl prints, from the JSON the node answers.
 *
 * The node's answers are trusted to be JSON, not to be complete: a field
 * that is missing or of the wrong type prints as "-" rather than as a
 * misleading 0, so an older or newer aoipd still gets readable output.
 * Column widths come from the data, the way `wg show` and `ip` lay out
 * their tables; the last column is never padded, so no line ends in
 * blanks. Numbers carry the precision an engineer reads them at: gains
 * and levels to 0.1 dB, jitter to 10 us, drift to 0.1 ppm.
 */
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "render.h"

void aoipctl_term_detect(struct aoipctl_term *t, int fd)
{
    struct winsize ws;
    const char *no_color = getenv("NO_COLOR");

    t->tty = isatty(fd) == 1;
    t->width = 80;
    if (t->tty && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        t->width = ws.ws_col;
    /* https://no-color.org: present and not empty means no colour. */
    t->color = t->tty && !(no_color && no_color[0]);
    setlocale(LC_CTYPE, "");
    t->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
}

const char *aoipctl_sgr(const struct aoipctl_term *t, const char *seq)
{
    return t->color ? seq : "";
}

size_t aoipctl_text_width(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---- fields ---- */

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "-";
}

static void format_count(char *buf, size_t len, const json_t *v)
{
    if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, "%.0f", json_real_value(v));
    else
        snprintf(buf, len, "-");
}

static void format_fixed(char *buf, size_t len, double v, int decimals)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.*f", decimals, v);
}

/* Microseconds as milliseconds with no more decimals than it needs: "1", "0.125", "2.5". */
static void format_us(char *buf, size_t len, double us)
{
    if (isnan(us)) {
        snprintf(buf, len, "-");
        return;
    }
    snprintf(buf, len, "%.3f", us / 1000.0);
    char *end = buf + strlen(buf);
    while (end > buf && end[-1] == '0')
        *--end = '\0';
    if (end > buf && end[-1] == '.')
        end[-1] = '\0';
}

static void format_duration(char *buf, size_t len, double s)
{
    if (isnan(s) || s < 0)
        snprintf(buf, len, "-");
    else if (s < 60)
        snprintf(buf, len, "%.1f s", s);
    else if (s < 3600)
        snprintf(buf, len, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
    else if (s < 86400)
        snprintf(buf, len, "%d h %02d min", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(buf, len, "%.0f d %02d h", floor(s / 86400), (int)fmod(s / 3600, 24));
}

void aoipctl_format_gain(char *buf, size_t len, const json_t *gain_db)
{
    if (json_is_null(gain_db)) {
        snprintf(buf, len, "-inf dB");
    } else if (!json_is_number(gain_db)) {
        snprintf(buf, len, "-");
    } else {
        double g = json_number_value(gain_db);
        /* No "-0.0 dB" for a gain that rounds to zero. */
        if (fabs(g) < 0.05)
            g = 0;
        snprintf(buf, len, g > 0 ? "%+.1f dB" : "%.1f dB", g);
    }
}

void aoipctl_format_level(char *buf, size_t len, const json_t *dbfs)
{
    if (json_is_null(dbfs))
        snprintf(buf, len, "-inf");
    else if (!json_is_number(dbfs))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f", json_number_value(dbfs));
}

/* ---- tables ---- */

#define TABLE_GAP "  "

struct table {
    size_t ncols;
    const char *align; /* per column: 'l' or 'r' */
    char **cells;      /* nrows * ncols, each owned (NULL prints as "") */
    const char **style;
    size_t nrows, cap;
};

static void table_init(struct table *t, size_t ncols, const char *align)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    t->align = align;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->style);
}

/* Appends a row of t->ncols strings; style is an SGR sequence for the row, or NULL. */
static void table_add(struct table *t, const char *style, ...)
{
    va_list ap;

    if (t->nrows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));
        if (!cells)
            return;
        t->cells = cells;
        const char **style_rows = realloc(t->style, cap * sizeof(*style_rows));
        if (!style_rows)
            return;
        t->style = style_rows;
        t->cap = cap;
    }
    va_start(ap, style);
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = va_arg(ap, const char *);
        t->cells[t->nrows * t->ncols + c] = strdup(s ? s : "");
    }
    va_end(ap);
    t->style[t->nrows++] = style;
}

static const char *table_cell(const struct table *t, size_t row, size_t col)
{
    const char *s = t->cells[row * t->ncols + col];

    return s ? s : "";
}

static void table_set(struct table *t, size_t row, size_t col, const char *s)
{
    free(t->cells[row * t->ncols + col]);
    t->cells[row * t->ncols + col] = strdup(s);
}

static void table_widths(const struct table *t, size_t *w)
{
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = 0;
        for (size_t r = 0; r < t->nrows; r++) {
            size_t n = aoipctl_text_width(table_cell(t, r, c));
            if (n > w[c])
                w[c] = n;
        }
    }
}

static void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

static void table_print_row(const struct table *t, size_t row, const size_t *w, const char *indent,
                            FILE *out, const struct aoipctl_term *term)
{
    size_t last = 0;

    for (size_t c = 0; c < t->ncols; c++)
        if (table_cell(t, row, c)[0] || t->align[c] == 'r')
            last = c;
    const char *sgr = t->style[row] ? aoipctl_sgr(term, t->style[row]) : "";
    fputs(indent, out);
    fputs(sgr, out);
    for (size_t c = 0; c <= last; c++) {
        const char *s = table_cell(t, row, c);
        size_t room = w[c] - aoipctl_text_width(s);
        if (c > 0)
            fputs(TABLE_GAP, out);
        if (t->align[c] == 'r')
            pad(out, room);
        fputs(s, out);
        if (t->align[c] != 'r' && c < last)
            pad(out, room);
    }
    if (sgr[0])
        fputs(AOIPCTL_SGR_RESET, out);
    fputc('\n', out);
}

static void table_print(const struct table *t, FILE *out, const struct aoipctl_term *term)
{
    size_t w[16];

    if (t->ncols > sizeof(w) / sizeof(w[0]))
        return;
    table_widths(t, w);
    for (size_t r = 0; r < t->nrows; r++)
        table_print_row(t, r, w, "", out, term);
}

/* ---- status ---- */

void aoipctl_render_status(FILE *out, const json_t *s, const struct aoipctl_term *t)
{
    char a[64], b[64], c[64];
    (void)t;

    fprintf(out, "%-10s %s\n", "node", str(s, "name"));
    fprintf(out, "%-10s %s\n", "id", str(s, "id"));
    fprintf(out, "%-10s %s\n", "version", str(s, "version"));
    format_duration(a, sizeof(a), num(s, "uptime_s"));
    fprintf(out, "%-10s %s\n", "uptime", a);
    double rate = num(s, "sample_rate");
    if (isnan(rate))
        snprintf(a, sizeof(a), "-");
    else
        snprintf(a, sizeof(a), "%g", rate / 1000.0);
    format_us(b, sizeof(b), num(s, "period_us"));
    fprintf(out, "%-10s %s kHz, period %s ms", "clock", a, b);
    /* A sound device as the clock: which, and its period in frames. */
    const char *media = json_string_value(json_object_get(s, "media_clock"));
    if (media && strcmp(media, "system") != 0)
        fprintf(out, " (%.0f frames), the clock of %s", num(s, "period_frames"), media);
    fputc('\n', out);
    format_us(a, sizeof(a), num(s, "latency_us"));
    fprintf(out, "%-10s %s ms\n", "latency", a);
    format_us(a, sizeof(a), num(s, "packet_us"));
    fprintf(out, "%-10s %s, %s ms packets\n", "encoding", str(s, "encoding"), a);
    format_count(a, sizeof(a), json_object_get(s, "sources"));
    format_count(b, sizeof(b), json_object_get(s, "destinations"));
    fprintf(out, "%-10s %s sources, %s destinations\n", "channels", a, b);
    format_count(a, sizeof(a), json_object_get(s, "routes"));
    format_count(b, sizeof(b), json_object_get(s, "flows"));
    format_count(c, sizeof(c), json_object_get(s, "peers"));
    fprintf(out, "%-10s %s\n%-10s %s\n%-10s %s\n", "routes", a, "flows", b, "peers", c);
}

/* ---- nodes, channels, routes ---- */

void aoipctl_render_nodes(FILE *out, const json_t *nodes, const struct aoipctl_term *t)
{
    struct table tab;
    size_t i;
    const json_t *n;

    table_init(&tab, 6, "lllrrl");
    table_add(&tab, NULL, "NAME", "STATE", "ADDRESS", "SOURCES", "DESTINATIONS", "ID");
    json_array_foreach(nodes, i, n)
    {
        char src[32], dst[32];
        const char *state = str(n, "state");
        format_count(src, sizeof(src), json_object_get(n, "sources"));
        format_count(dst, sizeof(dst), json_object_get(n, "destinations"));
        table_add(&tab, strcmp(state, "online") ? AOIPCTL_SGR_RED : NULL, str(n, "name"), state,
                  str(n, "address"), src, dst, str(n, "id"));
    }
    table_print(&tab, out, t);
    table_free(&tab);
}

static void add_channels(struct table *tab, const json_t *list, const char *kind)
{
    size_t i;
    const json_t *ch;

    json_array_foreach(list, i, ch)
    {
        char name[160], number[96];
        char index[32];
        format_count(index, sizeof(index), json_object_get(ch, "index"));
        snprintf(name, sizeof(name), "%s/%s", str(ch, "node"), str(ch, "name"));
        snprintf(number, sizeof(number), "%s/%s", str(ch, "node"), index);
        table_add(tab, NULL, kind, name, number);
    }
}

void aoipctl_render_channels(FILE *out, const json_t *channels, const struct aoipctl_term *t)
{
    struct table tab;

    table_init(&tab, 3, "lll");
    table_add(&tab, NULL, "KIND", "CHANNEL", "NUMBER");
    add_channels(&tab, json_object_get(channels, "sources"), "source");
    add_channels(&tab, json_object_get(channels, "destinations"), "destination");
    if (tab.nrows == 1)
        fputs("no channels\n", out);
    else
        table_print(&tab, out, t);
    table_free(&tab);
}

void aoipctl_format_route_latency(char *buf, size_t len, const json_t *route)
{
    double us = num(route, "latency_us");

    if (isnan(us) || us <= 0) {
        buf[0] = '\0';
        return;
    }
    char ms[32];
    format_us(ms, sizeof(ms), us);
    snprintf(buf, len, "%s ms", ms);
}

/* The encoding a route chose ("opus 96 kb/s", "L16"); "" when it takes its node's. */
static void format_route_encoding(char *buf, size_t len, const json_t *route)
{
    const json_t *fmt = json_object_get(route, "format");
    buf[0] = '\0';
    if (json_is_object(fmt) && strcmp(str(fmt, "encoding"), "opus") == 0)
        snprintf(buf, len, "opus %.0f kb/s", num(fmt, "bitrate") / 1000.0);
    else if (json_is_object(fmt))
        snprintf(buf, len, "%s", str(fmt, "encoding"));
}

void aoipctl_render_route(FILE *out, const char *prefix, const json_t *route,
                          const struct aoipctl_term *t)
{
    char gain[32], latency[48];
    bool muted = json_is_true(json_object_get(route, "muted"));
    (void)t;

    aoipctl_format_gain(gain, sizeof(gain), json_object_get(route, "gain_db"));
    aoipctl_format_route_latency(latency, sizeof(latency), route);
    char enc[64];
    format_route_encoding(enc, sizeof(enc), route);
    fprintf(out, "%s%s -> %s  %s%s%s%s%s%s\n", prefix, str(route, "source"),
            str(route, "destination"), gain, muted ? "  muted" : "", latency[0] ? "  latency " : "",
            latency, enc[0] ? "  " : "", enc);
}

void aoipctl_render_routes(FILE *out, const json_t *routes, const struct aoipctl_term *t)
{
    struct table tab;
    size_t i;
    const json_t *r;

    char latency[48];
    bool any_latency = false;

    if (json_array_size(routes) == 0) {
        fputs("no routes\n", out);
        return;
    }
    /* A LATENCY column only where a route asks for one: most never do. */
    json_array_foreach(routes, i, r)
    {
        aoipctl_format_route_latency(latency, sizeof(latency), r);
        any_latency = any_latency || latency[0];
    }
    if (any_latency) {
        table_init(&tab, 5, "llrrl");
        table_add(&tab, NULL, "SOURCE", "DESTINATION", "GAIN", "LATENCY", "");
    } else {
        table_init(&tab, 4, "llrl");
        table_add(&tab, NULL, "SOURCE", "DESTINATION", "GAIN", "");
    }
    json_array_foreach(routes, i, r)
    {
        char gain[32];
        bool muted = json_is_true(json_object_get(r, "muted"));
        const char *style = muted ? AOIPCTL_SGR_DIM : NULL;
        aoipctl_format_gain(gain, sizeof(gain), json_object_get(r, "gain_db"));
        aoipctl_format_route_latency(latency, sizeof(latency), r);
        /* The last column: muted, and an encoding the route chose. */
        char enc[64], notes[96];
        format_route_encoding(enc, sizeof(enc), r);
        snprintf(notes, sizeof(notes), "%s%s%s", muted ? "muted" : "", muted && enc[0] ? ", " : "",
                 enc);
        if (any_latency)
            table_add(&tab, style, str(r, "source"), str(r, "destination"), gain,
                      latency[0] ? latency : "-", notes);
        else
            table_add(&tab, style, str(r, "source"), str(r, "destination"), gain, notes);
    }
    table_print(&tab, out, t);
    table_free(&tab);
}

/* ---- stats ---- */

/* What Opus decoders did with what the network lost, per rx flow. */
static void print_opus(FILE *out, const json_t *flows)
{
    size_t i;
    const json_t *f;
    json_array_foreach(flows, i, f)
    {
        if (!json_object_get(f, "fec_recovered"))
            continue;
        fprintf(out, "opus from %s: %.0f frames recovered by FEC, %.0f concealed, %.0f corrupt\n",
                str(f, "peer"), num(f, "fec_recovered"), num(f, "plc_concealed"),
                num(f, "corrupt"));
    }
}

/* The channel list when it fits in room columns, else the count. */
static void format_flow_channels(char *buf, size_t len, const json_t *channels, size_t room)
{
    size_t i, used = 0;
    const json_t *ch;

    buf[0] = '\0';
    json_array_foreach(channels, i, ch)
    {
        const char *name = json_string_value(ch);
        size_t n = name ? strlen(name) : 0;
        if (used + (used > 0) + n > room || used + n + 2 > len) {
            snprintf(buf, len, "%zu channels", json_array_size(channels));
            return;
        }
        if (used > 0)
            buf[used++] = ' ';
        memcpy(buf + used, name ? name : "", n);
        used += n;
        buf[used] = '\0';
    }
    if (!json_is_array(channels))
        snprintf(buf, len, "-");
}

static void add_flow_figures(struct table *tab, const json_t *f)
{
    char v[10][80];
    const char *keys[6] = { "packets", "lost", "late", "duplicates", "reordered", "concealed" };
    char buffer[32], target[32];

    for (int k = 0; k < 6; k++)
        format_count(v[k], sizeof(v[k]), json_object_get(f, keys[k]));
    format_fixed(v[6], sizeof(v[6]), num(f, "jitter_ms"), 2);
    format_fixed(buffer, sizeof(buffer), num(f, "buffer_ms"), 1);
    format_fixed(target, sizeof(target), num(f, "target_ms"), 1);
    snprintf(v[7], sizeof(v[7]), "%s/%s", buffer, target);
    double drift = num(f, "drift_ppm");
    if (isnan(drift))
        snprintf(v[8], sizeof(v[8]), "-");
    else
        snprintf(v[8], sizeof(v[8]), "%+.1f", fabs(drift) < 0.05 ? 0.0 : drift);
    format_fixed(v[9], sizeof(v[9]), num(f, "latency_ms"), 1);
    table_add(tab, NULL, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]);
}

static void print_dropped(FILE *out, const json_t *dropped)
{
    const char *key;
    const json_t *v;
    bool first = true;

    json_object_foreach((json_t *)dropped, key, v)
    {
        if (!json_is_number(v) || json_number_value(v) == 0)
            continue;
        char n[32];
        format_count(n, sizeof(n), v);
        fprintf(out, "%s %s %s", first ? "dropped:" : ",", key, n);
        first = false;
    }
    if (!first)
        fputc('\n', out);
}

/* The node's security mode, and what it refused, where anything was. */
static void print_security(FILE *out, const json_t *sec, const json_t *flows)
{
    const char *mode = json_string_value(json_object_get(sec, "mode"));
    double auth = 0, replays = 0;
    size_t i;
    const json_t *f;

    if (!mode)
        return;
    json_array_foreach(flows, i, f)
    {
        double a = num(f, "auth_failures"), r = num(f, "replays");
        auth += isnan(a) ? 0 : a;
        replays += isnan(r) ? 0 : r;
    }
    fprintf(out, "security: %s", mode);
    const struct {
        const char *what;
        double n;
    } counts[] = {
        { "packets that failed to open", auth },
        { "replayed packets", replays },
        { "peer connections refused", num(sec, "peer_auth_failures") },
        { "plain flows refused", num(sec, "plain_flows_refused") },
        { "RTCP reports that failed to open", num(sec, "rtcp_auth_failures") },
        { "RTCP from no peer", num(sec, "rtcp_strays") },
    };
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
        if (!isnan(counts[k].n) && counts[k].n > 0)
            fprintf(out, "; %s %.0f", counts[k].what, counts[k].n);
    fputc('\n', out);
}

/* A node on JACK: its client, period and the cycles that went wrong. */
static void print_jack(FILE *out, const json_t *jack)
{
    if (!json_is_object(jack))
        return;
    fprintf(out, "jack: client %s, %.0f-frame periods", str(jack, "client"),
            num(jack, "buffer_frames"));
    double rate = num(jack, "rate");
    if (!isnan(rate))
        fprintf(out, " at %.0f Hz", rate);
    if (json_is_true(json_object_get(jack, "converting")))
        fprintf(out, " (converted to the node's, %.2f ms)", num(jack, "conversion_ms"));
    fprintf(out, ", %.0f xruns", num(jack, "xruns"));
    if (json_is_false(json_object_get(jack, "online")))
        fputs(", the server is gone (looked for every second)", out);
    double misfits = num(jack, "misfit_periods");
    if (!isnan(misfits) && misfits > 0)
        fprintf(out, ", %.0f cycles played silent (no converter ready for them)", misfits);
    fputc('\n', out);
}

/*
 * A node's sound devices, a line each: the clock device with its period;
 * any other with how its clock runs against the node's and its buffer.
 */
static void print_devices(FILE *out, const json_t *devices)
{
    size_t i;
    const json_t *d;
    json_array_foreach(devices, i, d)
    {
        fprintf(out, "device %s %s (%s %s): %.0f-frame periods", str(d, "kind"), str(d, "name"),
                str(d, "type"), str(d, "device"), num(d, "period_frames"));
        if (json_object_get(d, "format"))
            fprintf(out, " x%.0f, %s %s", num(d, "periods"), str(d, "format"), str(d, "access"));
        if (json_is_true(json_object_get(d, "clock")))
            fputs(", the node's clock", out);
        else
            fprintf(out,
                    ", ratio %.6f (%+.1f ppm, %s), buffer %.2f ms of %.2f, %.0f underruns, "
                    "%.0f overruns",
                    num(d, "ratio"), num(d, "ppm"), str(d, "clock_state"), num(d, "level_ms"),
                    num(d, "target_ms"), num(d, "underruns"), num(d, "overruns"));
        fprintf(out, ", %.0f xruns%s\n", num(d, "xruns"),
                json_is_false(json_object_get(d, "online")) ? ", offline (looked for every second)"
                                                            : "");
    }
}

void aoipctl_render_stats(FILE *out, const json_t *stats, const struct aoipctl_term *t)
{
    const json_t *flows = json_object_get(stats, "flows");
    struct table head, figures;
    size_t wh[5], wf[10], i;
    const json_t *f;

    if (json_array_size(flows) == 0) {
        fputs("no flows\n", out);
    } else {
        /* Two lines per flow: who and what, then the figures under it. */
        table_init(&head, 5, "lllll");
        table_init(&figures, 10, "rrrrrrrrrr");
        table_add(&head, NULL, "DIR", "PEER", "ENCODING", "PACKET", "CHANNELS");
        table_add(&figures, NULL, "PACKETS", "LOST", "LATE", "DUP", "REORD", "CONCEAL", "JITTER",
                  "BUF/TARGET", "DRIFT", "LATENCY");
        json_array_foreach(flows, i, f)
        {
            char ptime[32];
            format_us(ptime, sizeof(ptime), num(f, "packet_us"));
            if (strcmp(ptime, "-") != 0)
                strcat(ptime, " ms");
            /* A multicast flow says how many nodes joined it. */
            char peer[160];
            const char *mode = json_string_value(json_object_get(f, "mode"));
            if (mode && strcmp(mode, "multicast") == 0)
                snprintf(peer, sizeof(peer), "%s, %.0f receivers", str(f, "peer"),
                         num(f, "receivers"));
            else
                snprintf(peer, sizeof(peer), "%s", str(f, "peer"));
            /* A sealed flow says so beside its encoding. */
            char enc[64];
            snprintf(enc, sizeof(enc), "%s%s", str(f, "encoding"),
                     json_is_true(json_object_get(f, "sealed")) ? " sealed" : "");
            table_add(&head, NULL, str(f, "direction"), peer, enc, ptime, "");
            add_flow_figures(&figures, f);
        }
        table_widths(&head, wh);
        size_t used = wh[0] + wh[1] + wh[2] + wh[3] + 4 * strlen(TABLE_GAP);
        size_t room = t->width > used + 10 ? t->width - used : 10;
        json_array_foreach(flows, i, f)
        {
            char list[1024];
            format_flow_channels(list, sizeof(list), json_object_get(f, "channels"), room);
            table_set(&head, i + 1, 4, list);
        }
        table_widths(&figures, wf);
        for (size_t r = 0; r < head.nrows; r++) {
            table_print_row(&head, r, wh, "", out, t);
            table_print_row(&figures, r, wf, "  ", out, t);
        }
        fputs("jitter, buffer, target and latency in ms; drift in ppm\n", out);
        table_free(&head);
        table_free(&figures);
    }
    print_dropped(out, json_object_get(stats, "dropped"));
    print_opus(out, flows);
    print_security(out, json_object_get(stats, "security"), flows);
    print_jack(out, json_object_get(stats, "jack"));
    print_devices(out, json_object_get(stats, "devices"));
}

/* ---- meter ---- */

/* The bar spans METER_FLOOR..0 dBFS. */
#define METER_BAR   24
#define METER_FLOOR -60.0

static size_t bar_cells(const json_t *dbfs)
{
    if (!json_is_number(dbfs))
        return 0;
    double x = (json_number_value(dbfs) - METER_FLOOR) / -METER_FLOOR;
    if (x <= 0)
        return 0;
    if (x >= 1)
        return METER_BAR;
    return (size_t)lround(x * METER_BAR);
}

/* RMS as a filled bar, the peak as a mark after it: "#######   |". */
static void format_bar(char *buf, size_t len, const json_t *m, const struct aoipctl_term *t)
{
    size_t rms = bar_cells(json_object_get(m, "rms_dbfs"));
    size_t peak = bar_cells(json_object_get(m, "peak_dbfs"));
    const char *fill = t->utf8 ? "\u2588" : "#";
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < METER_BAR && used + 8 < len; i++) {
        const char *c = " ";
        if (i < rms)
            c = fill;
        else if (peak > 0 && i == peak - 1)
            c = "|";
        used += (size_t)snprintf(buf + used, len - used, "%s", c);
    }
    while (used > 0 && buf[used - 1] == ' ')
        buf[--used] = '\0';
}

void aoipctl_render_meter(FILE *out, const json_t *meters, const struct aoipctl_term *t)
{
    struct table tab;
    size_t i;
    const json_t *m;

    if (json_array_size(meters) == 0) {
        fputs("no channels\n", out);
        return;
    }
    table_init(&tab, 5, "llrrl");
    table_add(&tab, NULL, "CHANNEL", "KIND", "PEAK", "RMS", "");
    json_array_foreach(meters, i, m)
    {
        char peak[32], rms[32], bar[4 * METER_BAR + 8];
        aoipctl_format_level(peak, sizeof(peak), json_object_get(m, "peak_dbfs"));
        aoipctl_format_level(rms, sizeof(rms), json_object_get(m, "rms_dbfs"));
        if (t->tty)
            format_bar(bar, sizeof(bar), m, t);
        else
            bar[0] = '\0';
        table_add(&tab, NULL, str(m, "channel"), str(m, "kind"), peak, rms, bar);
    }
    table_print(&tab, out, t);
    table_free(&tab);
}
