/*
 * state.c: the node's state directory: its id and its files.
 *
 * Everything in it is written the crash-safe way: a temporary file in the
 * same directory, fsync, rename over the old one, fsync of the directory.
 * A power cut leaves either the old file or the new one, never half of
 * one, so stored routes cannot be corrupted by a badly timed stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "node.h"

/* The largest state file read back: routes of a full node are well under it. */
#define STATE_FILE_MAX (4 << 20)

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[CFG_PATH_MAX];

    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int path_of(const struct node *n, const char *file, char *out, size_t len)
{
    return snprintf(out, len, "%s/%s", n->cfg->state_dir, file) < (int)len ? 0 : -ENAMETOOLONG;
}

int state_write(const struct node *n, const char *file, const char *text, size_t len)
{
    char path[CFG_PATH_MAX], tmp[CFG_PATH_MAX + 16];
    int fd, rc = 0;

    if (path_of(n, file, path, sizeof(path)) < 0)
        return -ENAMETOOLONG;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = -errno;
            break;
        }
        done += (size_t)w;
    }
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    fd = open(n->cfg->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

char *state_read(const struct node *n, const char *file, size_t *len)
{
    char path[CFG_PATH_MAX];
    struct stat st;
    char *buf = NULL;
    int fd;

    if (path_of(n, file, path, sizeof(path)) < 0)
        return NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) == 0 && st.st_size < STATE_FILE_MAX)
        buf = malloc((size_t)st.st_size + 1);
    if (buf) {
        ssize_t r = read(fd, buf, (size_t)st.st_size);
        if (r != st.st_size) {
            free(buf);
            buf = NULL;
        } else {
            buf[r] = '\0';
            *len = (size_t)r;
        }
    }
    close(fd);
    return buf;
}

/* The node id: 64 random bits, kept in node.id so a restart keeps it. */
static int load_id(struct node *n)
{
    size_t len = 0;
    char *text = state_read(n, "node.id", &len);

    if (text && len >= NODE_ID_LEN && strspn(text, "0123456789abcdef") >= NODE_ID_LEN) {
        memcpy(n->id, text, NODE_ID_LEN);
        n->id[NODE_ID_LEN] = '\0';
        free(text);
        return 0;
    }
    free(text);

    uint8_t raw[NODE_ID_LEN / 2];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -errno;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(n->id + 2 * i, 3, "%02x", raw[i]);
    char line[NODE_ID_LEN + 2];
    snprintf(line, sizeof(line), "%s\n", n->id);
    return state_write(n, "node.id", line, NODE_ID_LEN + 1);
}

int state_init(struct node *n, char *err, size_t errlen)
{
    int rc = mkdir_p(n->cfg->state_dir, 0700);

    if (rc < 0) {
        snprintf(err, errlen, "state_dir %s: %s", n->cfg->state_dir, strerror(-rc));
        return -1;
    }
    rc = load_id(n);
    if (rc < 0) {
        snprintf(err, errlen, "state_dir %s: cannot keep the node id: %s", n->cfg->state_dir,
                 strerror(-rc));
        return -1;
    }
    return 0;
}
