/* SPDX-License-Identifier: MIT */
/*
 * http_client.c - see http_client.h.
 */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int bench_http_connect(const struct sockaddr_in *dst, unsigned timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)dst, sizeof *dst) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int bench_http_send(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Case-insensitive search for header NAME in hdr[0..hlen); returns its value
 * (after ':' and blanks) or NULL. */
static const char *header(const char *hdr, size_t hlen, const char *name)
{
    size_t nl = strlen(name);
    const char *p = memchr(hdr, '\n', hlen);
    while (p && (size_t)(p - hdr) + 1 + nl < hlen) {
        p++;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
        p = memchr(p, '\n', hlen - (size_t)(p - hdr));
    }
    return NULL;
}

int bench_http_read(int fd, char *rx, size_t cap, bool *keep)
{
    size_t len = 0, hend = 0, want = 0;
    bool chunked = false, have_len = false;
    *keep = true;
    for (;;) {
        if (len == cap - 1)
            return -EMSGSIZE;
        ssize_t n = recv(fd, rx + len, cap - 1 - len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ECONNRESET;
        len += (size_t)n;
        rx[len] = '\0';
        if (!hend) {
            char *e = strstr(rx, "\r\n\r\n");
            if (!e)
                continue;
            hend = (size_t)(e - rx) + 4;
            const char *cl = header(rx, hend, "Content-Length");
            const char *te = header(rx, hend, "Transfer-Encoding");
            const char *co = header(rx, hend, "Connection");
            if (co && strncasecmp(co, "close", 5) == 0)
                *keep = false;
            if (te && strncasecmp(te, "chunked", 7) == 0)
                chunked = true;
            else if (cl) {
                want = strtoull(cl, NULL, 10);
                have_len = true;
            } else {
                have_len = true; /* 204 and friends: no body */
            }
        }
        if (have_len && len - hend >= want)
            break;
        /* the last chunk: "0" and an empty trailer at the end of the body
         * (a chunk's data never ends the body) */
        if (chunked && len - hend >= 5 && memcmp(rx + len - 5, "0\r\n\r\n", 5) == 0 &&
            (len - hend == 5 || rx[len - 6] == '\n'))
            break;
    }
    int code = 0;
    if (sscanf(rx, "HTTP/1.%*d %d", &code) != 1)
        return -EPROTO;
    return code;
}

int bench_http_loopback(const char *host, unsigned port, struct sockaddr_in *dst)
{
    memset(dst, 0, sizeof *dst);
    dst->sin_family = AF_INET;
    dst->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &dst->sin_addr) != 1 || (ntohl(dst->sin_addr.s_addr) >> 24) != 127)
        return -1;
    return 0;
}

int bench_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}
