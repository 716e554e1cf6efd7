/*
 * matrix.h: the routing matrix as one picture: sources across,
 * destinations down, a route's gain at each crosspoint.
 *
 * The node has no "matrix" command: aoipctl builds it from the answers to
 * `channels` and `route.list`, so the grid always agrees with those two.
 */
#ifndef AOIPCTL_MATRIX_H
#define AOIPCTL_MATRIX_H

#include <stdio.h>

#include <jansson.h>

#include "render.h"

/*
 * {"sources": [...], "destinations": [...], "routes": [...]} from a
 * `channels` result (every node's) and a `route.list` result. With node,
 * only that node's destinations and the routes into them; sources stay
 * every node's, since any of them can feed it. A route that names a
 * channel the lists lack (a node that is lost) adds it, so no route goes
 * missing from the picture. Returns a new reference, or NULL when memory
 * runs out.
 */
json_t *aoipctl_matrix_build(const json_t *channels, const json_t *routes, const char *node);

/*
 * The grid, fitted to t->width: columns are grouped under their node's
 * name and numbered as NODE/N addresses number them, with a legend of
 * their names below; when the columns do not fit, the grid continues in
 * further blocks, each with the destination labels again. Routes that ask
 * for a latency follow the legend, one a line.
 */
void aoipctl_render_matrix(FILE *out, const json_t *matrix, const struct aoipctl_term *t);

#endif
