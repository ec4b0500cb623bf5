/* SPDX-License-Identifier: MIT */
/*
 * export_http.c - the export endpoints (issue 7):
 *
 *   POST /api/v1/export/run   asks the scheduled exports (export-dir) for a
 *                             run now: 202, or 404 when they are off.
 *
 * Everything here runs on the HTTP loop thread and does no disk I/O: the
 * run itself happens on the scheduler's thread.
 */
#include "export_sched.h"
#include "http_int.h"

#include <string.h>

void srv_http_set_xsched(srv_http_t *h, struct srv_xsched *s)
{
    h->xsched = s;
}

static void handle_run(srv_conn_t *c)
{
    srv_http_t *h = c->srv;
    if (!h->xsched) {
        srv__http_error(c, 404, "scheduled exports are off (export-dir is not set)");
        return;
    }
    srv_xsched_kick(h->xsched);
    static const char body[] = "{\"status\":\"started\"}\n";
    srv__http_respond(c, 202, "application/json", NULL, body, sizeof body - 1);
}

void srv__export_handle(srv_conn_t *c, const char *path, const char *query)
{
    (void)query;
    int m = c->parser.method;
    if (strcmp(path, "/api/v1/export/run") == 0) {
        if (m == HTTP_POST)
            handle_run(c);
        else
            srv__http_respond(c, 405, "text/plain; charset=utf-8", "Allow: POST\r\n",
                              "Method Not Allowed\n", 19);
        return;
    }
    srv__http_respond(c, 404, "text/plain; charset=utf-8", NULL, "404 page not found\n", 19);
}
