/* SPDX-License-Identifier: MIT */
/*
 * http_client.h - what the load tools share (write_load, query_lat,
 * mqtt_load): the blocking HTTP/1.1 client pieces - connect to a loopback
 * address, send a buffer, read one whole answer - and the parsing of their
 * numeric options.
 */
#ifndef CAIRN_BENCH_HTTP_CLIENT_H
#define CAIRN_BENCH_HTTP_CLIENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A connected TCP socket to dst with TCP_NODELAY and send and receive
 * timeouts of timeout_s seconds, or a negative errno. */
int bench_http_connect(const struct sockaddr_in *dst, unsigned timeout_s);

/* Sends all len bytes of p: 0 or a negative errno. */
int bench_http_send(int fd, const char *p, size_t len);

/* Reads one answer into rx (cap bytes, NUL-terminated): up to the header's
 * end plus Content-Length, or a chunked body's last chunk, or the header
 * alone when it gives neither (204 and friends).  Returns the status code
 * (> 0) or a negative errno (-EMSGSIZE when the answer does not fit);
 * *keep is false when the server closes the connection after it. */
int bench_http_read(int fd, char *rx, size_t cap, bool *keep);

/* Parses a 127.x.x.x host and port into *dst: 0, or -1 for any other host. */
int bench_http_loopback(const char *host, unsigned port, struct sockaddr_in *dst);

/* A decimal option value in [min, max] into *out: 0, or -1 when s is not
 * one (empty, signed, trailing bytes, out of range). */
int bench_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);

#endif
