/*
 * main.c: aoipctl's entry point.
 *
 * aoipctl follows wireguard-tools: noun-verb commands, human output by
 * default, one line of error naming the problem. The verbs that talk to a
 * node arrive with aoipd's control socket; this build answers --version
 * and --help.
 */
#include <stdio.h>
#include <string.h>

#include "aoip/common.h"

static void usage(FILE *to)
{
    fputs("usage: aoipctl [--version] [--help]\n"
          "\n"
          "aoipctl edits the routing matrix of an aoip network from any node.\n"
          "\n"
          "  --version   print the versions of aoipctl and libaoip\n"
          "  --help      print this text\n",
          to);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("aoipctl %s (libaoip %s)\n", AOIP_VERSION_STRING, aoip_version());
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2)
        fprintf(stderr, "aoipctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
