/* SPDX-License-Identifier: MIT */
/*
 * auth.c - wiring of the auth service into the server (see auth.h): option
 * mapping, SIGHUP reload, and the broker hooks, which translate the
 * broker's request into mq_auth_creds_t and the broker's access kinds into
 * the ACL's (PUBLISH -> write, SUBSCRIBE -> subscribe with the filter).
 */
#include "auth.h"

#include "auth/auth.h"

#include <stdio.h>
#include <sys/stat.h>

bool srv_auth_configured(const srv_cfg_t *cfg)
{
    return cfg->password_file[0] || cfg->auth_http_url[0];
}

/* mq_auth done callback: hands the reason to the broker (any thread). */
static void auth_done(void *arg, uint64_t token, uint8_t reason)
{
    srv_ctx_t *ctx = arg;
    mq_broker_auth_done(ctx->mqtt, token, reason);
}

int srv_auth_open(srv_ctx_t *ctx)
{
    const srv_cfg_t *cfg = &ctx->cfg;
    if (!srv_auth_configured(cfg) && !cfg->acl_file[0])
        return 0;
    mq_auth_opts_t o;
    mq_auth_opts_default(&o);
    o.password_file = cfg->password_file;
    o.acl_file = cfg->acl_file;
    o.http_url = cfg->auth_http_url;
    o.http_timeout_ns = cfg->auth_http_timeout_ns;
    o.cache_ttl_ns = cfg->auth_cache_ttl_ns;
    o.http_allow_ttl_ns = cfg->auth_http_allow_ttl_ns;
    o.http_deny_ttl_ns = cfg->auth_http_deny_ttl_ns;
    o.done = auth_done;
    o.done_arg = ctx;
    int rc = mq_auth_new(&o, stderr, &ctx->auth);
    if (rc < 0)
        return CN_ECONFIG;
    struct stat st;
    if (cfg->password_file[0] && stat(cfg->password_file, &st) == 0 && (st.st_mode & 077))
        cn_warn("password-file %s can be read by other users (mode %03o); chmod 600 it (cairn "
                "passwd writes 0600)",
                cfg->password_file, (unsigned)(st.st_mode & 0777));
    cn_info("mqtt auth: password-file %s, acl-file %s, auth-http-url %s",
            cfg->password_file[0] ? cfg->password_file : "none",
            cfg->acl_file[0] ? cfg->acl_file : "none (all topics allowed)",
            cfg->auth_http_url[0] ? cfg->auth_http_url : "none");
    return 0;
}

void srv_auth_reload(srv_ctx_t *ctx)
{
    if (!ctx->auth)
        return;
    if (mq_auth_reload(ctx->auth, stderr) < 0)
        cn_error("reload: password-file or acl-file rejected; keeping the running ones");
    else
        cn_info("reload: password-file and acl-file re-read");
}

void srv_auth_close(srv_ctx_t *ctx)
{
    mq_auth_free(ctx->auth);
    ctx->auth = NULL;
}

void srv_auth_connect_hook(void *arg, const mq_broker_auth_req_t *req, uint64_t token)
{
    srv_ctx_t *ctx = arg;
    mq_auth_creds_t c = {
        .client_id = req->client_id,
        .client_id_len = strlen(req->client_id),
        .username = req->username.p,
        .username_len = req->username.len,
        .password = req->password.p,
        .password_len = req->password.len,
        .peer = req->peer,
        .level = req->level,
        .anonymous_ok = req->listener_anonymous_ok,
    };
    if (!ctx->auth) { /* no backend: the listener's anonymous policy */
        mq_broker_auth_done(ctx->mqtt, token,
                            req->listener_anonymous_ok ? MQ_AUTH_OK : MQ_AUTH_BAD_CREDENTIALS);
        return;
    }
    mq_auth_connect(ctx->auth, &c, token);
}

bool srv_auth_acl_hook(void *arg, const char *user, const char *client_id, const char *topic,
                       size_t len, int access)
{
    srv_ctx_t *ctx = arg;
    if (!ctx->auth)
        return true;
    int a = access == MQ_BROKER_ACL_SUBSCRIBE ? MQ_AUTH_SUBSCRIBE : MQ_AUTH_WRITE;
    return mq_auth_allows(ctx->auth, user, user ? strlen(user) : 0, client_id, strlen(client_id), a,
                          topic, len);
}
