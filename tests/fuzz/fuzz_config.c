/*
 * fuzz_config.c: aoipd's configuration reader (daemon/config.c) against
 * arbitrary text.
 *
 * The input becomes a NUL-terminated heap copy of exactly its text (up to
 * an embedded NUL, as a C string would end there), so ASan sees any read
 * past it. Whatever the text, cfg_parse must answer 0, or -1 with a message
 * that names the file and a line ("fuzz.conf:..."); anything else aborts.
 * cfg_free after either answer must leave nothing behind (LeakSanitizer).
 * Inputs may name files: of those only an sdp file is read while parsing,
 * and that read is bounded and refuses anything but a regular file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t len = nul ? (size_t)(nul - data) : size;
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data, len);
    text[len] = '\0';

    struct cfg cfg;
    char err[512];
    int r = cfg_parse(&cfg, text, "fuzz.conf", err, sizeof(err));
    if (r != 0 && (r != -1 || strncmp(err, "fuzz.conf:", 10) != 0))
        abort();
    cfg_free(&cfg);
    free(text);
    return 0;
}
