/*
 * replay.c: runs a libFuzzer target without libFuzzer, as an ordinary test.
 *
 * Every build (sanitized ones included) links each fuzz target with this
 * driver. It feeds the target every file of its corpus, then a seeded
 * stream of mutations of them (bit flips, random bytes, truncations,
 * lying 16-bit length fields, spliced tails) and of pure noise. A crash,
 * a sanitizer report or a trap in the target fails the test; the seed and
 * iteration are printed first so a failure can be replayed.
 *
 *   replay_NAME CORPUS_DIR [ITERATIONS [SEED]]
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmodel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT   4096 /* larger than any datagram the parsers take */
#define MAX_SEEDS   256
#define DEFAULT_RUN 200000

struct seed {
    uint8_t data[MAX_INPUT];
    size_t len;
};

static struct seed seeds[MAX_SEEDS];
static size_t nseeds;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_corpus(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open corpus %s\n", dir);
        return -1;
    }
    char *names[MAX_SEEDS];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_SEEDS)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    /* Sorted, so the mutation stream does not depend on directory order. */
    qsort(names, n, sizeof(names[0]), by_name);

    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (f) {
            struct seed *s = &seeds[nseeds];
            s->len = fread(s->data, 1, MAX_INPUT, f);
            fclose(f);
            nseeds++;
        }
        free(names[i]);
    }
    return 0;
}

static void mutate(struct netmodel_rng *r, uint8_t *buf, size_t *len)
{
    unsigned rounds = 1 + (unsigned)(netmodel_rng_next(r) % 4);
    for (unsigned k = 0; k < rounds; k++) {
        uint64_t x = netmodel_rng_next(r);
        size_t pos = *len ? (size_t)(x >> 8) % *len : 0;
        switch (x % 6) {
        case 0: /* flip a bit */
            if (*len)
                buf[pos] ^= (uint8_t)(1u << ((x >> 40) & 7));
            break;
        case 1: /* a random byte */
            if (*len)
                buf[pos] = (uint8_t)(x >> 48);
            break;
        case 2: /* truncate */
            *len = pos;
            break;
        case 3: /* a lying 16-bit field: 0, small, or huge */
            if (pos + 1 < *len) {
                static const uint16_t lies[] = { 0, 1, 2, 3, 0x7fff, 0xffff };
                uint16_t v = lies[(x >> 40) % 6];
                buf[pos] = (uint8_t)(v >> 8);
                buf[pos + 1] = (uint8_t)v;
            }
            break;
        case 4: /* append noise */
            for (unsigned i = 0; i < (x >> 56) % 32 && *len < MAX_INPUT; i++)
                buf[(*len)++] = (uint8_t)netmodel_rng_next(r);
            break;
        default: /* splice the tail of another seed */
            if (nseeds) {
                const struct seed *o = &seeds[(x >> 16) % nseeds];
                size_t from = o->len ? (size_t)(x >> 32) % o->len : 0;
                size_t n = o->len - from;
                if (pos + n > MAX_INPUT)
                    n = MAX_INPUT - pos;
                memcpy(buf + pos, o->data + from, n);
                *len = pos + n;
            }
            break;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS [SEED]]\n", argv[0]);
        return 2;
    }
    long iterations = argc > 2 ? atol(argv[2]) : DEFAULT_RUN;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 0) : 1;
    if (load_corpus(argv[1]) < 0)
        return 1;
    if (nseeds == 0) {
        fprintf(stderr, "replay: corpus %s is empty\n", argv[1]);
        return 1;
    }
    printf("replay: %zu corpus files, %ld mutations, seed %llu\n", nseeds, iterations,
           (unsigned long long)seed);
    fflush(stdout);

    for (size_t i = 0; i < nseeds; i++)
        LLVMFuzzerTestOneInput(seeds[i].data, seeds[i].len);

    struct netmodel_rng r;
    netmodel_rng_seed(&r, seed);
    static uint8_t buf[MAX_INPUT];
    for (long it = 0; it < iterations; it++) {
        size_t len;
        if (it % 16 == 15) { /* pure noise of a random length */
            len = (size_t)(netmodel_rng_next(&r) % 256);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)netmodel_rng_next(&r);
        } else {
            const struct seed *s = &seeds[netmodel_rng_next(&r) % nseeds];
            memcpy(buf, s->data, s->len);
            len = s->len;
            mutate(&r, buf, &len);
        }
        /* An exact-size heap copy, so ASan sees any read past the end. */
        uint8_t *in = malloc(len ? len : 1);
        memcpy(in, buf, len);
        LLVMFuzzerTestOneInput(in, len);
        free(in);
    }
    printf("replay: done\n");
    return 0;
}
