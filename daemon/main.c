/*
 * main.c: aoipd's entry point: options, the configuration, the node.
 *
 *   aoipd --config FILE         run a node
 *   aoipd --check-config FILE   check a configuration and exit
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <errno.h>

#include <uv.h>

#include "aoip/common.h"
#include "config.h"
#include "log.h"
#include "node.h"
#include "notify.h"

static void usage(FILE *to)
{
    fputs("usage: aoipd --config FILE [--log-level LEVEL]\n"
          "       aoipd --check-config FILE\n"
          "       aoipd --version | --help\n"
          "\n"
          "aoipd is the aoip node daemon: it finds its peers, carries audio between\n"
          "them as RTP and mixes it into the routing matrix that aoipctl edits.\n"
          "\n"
          "  -c, --config FILE        run the node FILE describes\n"
          "      --check-config FILE  check FILE, print the first problem, exit 0 or 1\n"
          "  -l, --log-level LEVEL    error, warning, info (default) or debug\n"
          "  -V, --version            print the versions of aoipd, libaoip and libuv\n"
          "  -h, --help               print this text\n"
          "\n"
          "example: aoipd --config /etc/aoip/aoipd.conf\n",
          to);
}

static int run(struct cfg *cfg)
{
    uv_loop_t loop;
    struct node *n = calloc(1, sizeof(*n));
    char err[512];
    int rc = 0;

    if (!n || uv_loop_init(&loop) != 0) {
        free(n);
        fprintf(stderr, "aoipd: out of memory\n");
        return 1;
    }
    /* A peer that closes mid-write must not kill the node. */
    signal(SIGPIPE, SIG_IGN);
    /* A page fault in the media thread is a click: keep every page in memory,
     * as JACK does. Without the right (RLIMIT_MEMLOCK) the node runs anyway. */
    if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
        log_warn("cannot lock memory (%s): a page fault may glitch the audio", strerror(errno));
    if (node_init(n, &loop, cfg, err, sizeof(err)) < 0) {
        log_error("%s: %s", cfg->path, err);
        rc = 1;
    } else {
        char status[128];
        snprintf(status, sizeof(status), "%u sources, %u destinations", n->n_sources,
                 n->n_destinations);
        notify_ready(status);
        uv_run(&loop, UV_RUN_DEFAULT);
        notify_stopping();
    }
    node_close(n);
    uv_loop_close(&loop);
    free(n);
    if (rc == 0)
        log_info("stopped");
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", required_argument, NULL, 'k' },
        { "log-level", required_argument, NULL, 'l' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *check = NULL;
    int level = LOG_INFO, opt;

    while ((opt = getopt_long(argc, argv, "c:l:Vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 'k':
            check = optarg;
            break;
        case 'l':
            level = log_level_parse(optarg);
            if (level < 0) {
                fprintf(stderr, "aoipd: log level '%s' is not error, warning, info or debug\n",
                        optarg);
                return 2;
            }
            break;
        case 'V':
            printf("aoipd %s (libaoip %s, libuv %s)\n", AOIP_VERSION_STRING, aoip_version(),
                   uv_version_string());
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "aoipd: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if ((config != NULL) == (check != NULL)) {
        fprintf(stderr, "aoipd: give either --config FILE or --check-config FILE\n");
        usage(stderr);
        return 2;
    }

    struct cfg cfg;
    char err[1024];
    int rc = cfg_load(&cfg, check ? check : config, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        cfg_free(&cfg);
        return 1;
    }
    if (check) {
        printf("%s: ok\n", check);
        cfg_free(&cfg);
        return 0;
    }
    log_setup(cfg.name, (enum log_level)level);
    rc = run(&cfg);
    cfg_free(&cfg);
    return rc;
}
