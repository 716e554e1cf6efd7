/*
 * state.c: the node's state directory: its identity, the network secret
 * and its files.
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

#include <sodium.h>

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

/* A key file others can read is no secret: refuse it rather than use it. */
static int check_private(const char *path, int fd, char *err, size_t errlen)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen,
                 "%s: readable or writable by others (mode %03o): refused; make it 0600 "
                 "(chmod 600 %s)",
                 path, (unsigned)(st.st_mode & 0777), path);
        return -1;
    }
    return 0;
}

/* Read a small private file whole into buf (NUL-terminated). Returns its
 * length, -ENOENT when it does not exist, or -1 with err set. */
static long read_private(const char *path, char *buf, size_t cap, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return -ENOENT;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (check_private(path, fd, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    ssize_t r = read(fd, buf, cap - 1);
    int e = errno;
    close(fd);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -1;
    }
    buf[r] = '\0';
    return (long)r;
}

#define IDENTITY_FILE   "identity.key"
#define IDENTITY_PREFIX "aoip-identity-v1:"

/*
 * The node's identity: an Ed25519 keypair kept in state_dir/identity.key
 * (0600), made on first start. Its fingerprint is the node id.
 */
static int load_identity(struct node *n, char *err, size_t errlen)
{
    char path[CFG_PATH_MAX], text[256];
    const size_t plen = strlen(IDENTITY_PREFIX);

    if (path_of(n, IDENTITY_FILE, path, sizeof(path)) < 0) {
        snprintf(err, errlen, "state_dir %s: path too long", n->cfg->state_dir);
        return -1;
    }
    long len = read_private(path, text, sizeof(text), err, errlen);
    if (len == -1)
        return -1;
    if (len >= 0) {
        size_t hex_len = 0;
        const char *end = NULL;
        if ((size_t)len < plen || memcmp(text, IDENTITY_PREFIX, plen) != 0 ||
            sodium_hex2bin(n->identity.sk, sizeof(n->identity.sk), text + plen, (size_t)len - plen,
                           " \t\r\n", &hex_len, &end) != 0 ||
            hex_len != sizeof(n->identity.sk) || strspn(end, " \t\r\n") != strlen(end)) {
            snprintf(err, errlen, "%s: not an aoip identity key", path);
            return -1;
        }
        /* libsodium's Ed25519 secret key carries its public key in its second half. */
        memcpy(n->identity.pk, n->identity.sk + 32, sizeof(n->identity.pk));
        if (aoip_identity_check(&n->identity) < 0) {
            snprintf(err, errlen, "%s: the key pair does not match: damaged", path);
            return -1;
        }
    } else {
        aoip_identity_generate(&n->identity);
        size_t off = (size_t)snprintf(text, sizeof(text), "%s", IDENTITY_PREFIX);
        sodium_bin2hex(text + off, sizeof(text) - off, n->identity.sk, sizeof(n->identity.sk));
        off = strlen(text);
        text[off++] = '\n';
        int rc = state_write(n, IDENTITY_FILE, text, off);
        sodium_memzero(text, sizeof(text));
        if (rc < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(-rc));
            return -1;
        }
        log_info("identity: a new key pair in %s", path);
    }
    sodium_memzero(text, sizeof(text));
    aoip_fingerprint(n->identity.pk, n->id);
    return 0;
}

/*
 * The network secret: what makes nodes members of one network. From
 * secret_file, or state_dir/network.secret, made on first start when that
 * default is absent (a secret_file the config names must exist: a node
 * must not found a network of its own by a typo).
 */
static int load_secret(struct node *n, char *err, size_t errlen)
{
    char path[CFG_PATH_MAX], text[256];
    bool given = n->cfg->secret_file[0] != '\0';

    if (given)
        snprintf(path, sizeof(path), "%s", n->cfg->secret_file);
    else if (path_of(n, "network.secret", path, sizeof(path)) < 0) {
        snprintf(err, errlen, "state_dir %s: path too long", n->cfg->state_dir);
        return -1;
    }
    long len = read_private(path, text, sizeof(text), err, errlen);
    if (len == -1)
        return -1;
    if (len == -ENOENT && given) {
        snprintf(err, errlen,
                 "secret_file %s does not exist: copy the network's secret there "
                 "(or make a new one: aoipctl keygen > %s; chmod 600 %s)",
                 path, path, path);
        return -1;
    }
    if (len >= 0) {
        int rc = aoip_secret_parse(text, (size_t)len, n->secret);
        sodium_memzero(text, sizeof(text));
        if (rc < 0) {
            snprintf(err, errlen, "%s: not an aoip network secret (aoipctl keygen makes one)",
                     path);
            return -1;
        }
        return 0;
    }
    aoip_secret_generate(n->secret);
    aoip_secret_format(n->secret, text);
    size_t tl = strlen(text);
    text[tl++] = '\n';
    int rc = state_write(n, "network.secret", text, tl);
    sodium_memzero(text, sizeof(text));
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return -1;
    }
    log_warn("a new network secret is in %s: copy that file to every node of this network "
             "(mode 0600), or they will not let this node in",
             path);
    return 0;
}

int state_init(struct node *n, char *err, size_t errlen)
{
    int rc = mkdir_p(n->cfg->state_dir, 0700);

    if (rc < 0) {
        snprintf(err, errlen, "state_dir %s: %s", n->cfg->state_dir, strerror(-rc));
        return -1;
    }
    if (load_identity(n, err, errlen) < 0 || load_secret(n, err, errlen) < 0)
        return -1;
    return 0;
}
