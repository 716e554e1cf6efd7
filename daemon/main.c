/*
 * main.c: aoipd's entry point: options, then the node.
 *
 * The node itself (config, control socket, peers, media thread) arrives
 * with the routing issue; until then aoipd answers --version and --help so
 * packaging and the systemd unit have a binary to point at.
 */
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "aoip/common.h"

static void usage(FILE *to)
{
    fputs("usage: aoipd [--version] [--help]\n"
          "\n"
          "aoipd is the aoip node daemon: it discovers peers, carries audio\n"
          "as RTP and mixes it into the routing matrix that aoipctl edits.\n"
          "\n"
          "  --version   print the versions of aoipd, libaoip and libuv\n"
          "  --help      print this text\n",
          to);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("aoipd %s (libaoip %s, libuv %s)\n", AOIP_VERSION_STRING, aoip_version(),
               uv_version_string());
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 1)
        fputs("aoipd: no node to run yet: this build answers --version and --help\n", stderr);
    else
        fprintf(stderr, "aoipd: unknown option '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
