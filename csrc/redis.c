/*
 * redis.c - a small blocking Redis connection for egoi.core (hiredis), used
 * by the Redis rate limiter (lua/egoi/limiter/redis.lua) outside nginx.
 *
 *   core.redis{ host = "127.0.0.1", port = 6379, path = nil, user = nil,
 *               password = nil, db = 0, connect_timeout = 1, timeout = 1 }
 *     -> userdata egoi.core.redis (not connected yet)
 *   r:command(arg, ...)  -> reply | nil, code, message
 *   r:close(), __gc, __close: one idempotent cleanup
 *
 * The connection is opened on first use and kept for later commands; it is
 * dropped after any connection-level failure (the next command reconnects)
 * and after fork() (a child must not share the parent's socket). Opening it
 * runs AUTH [user] password and SELECT db when configured.
 *
 * Replies: status and bulk strings -> string, integer -> integer, nil ->
 * false, array -> Lua array (nested), an error element inside an array ->
 * { err = text }. A top-level error reply -> nil, "REDIS_ERROR", text.
 * Failure codes: "CONNECT" (cannot connect: the command was not sent),
 * "AUTH" / "SELECT" (the server refused the credentials / the db: not sent),
 * "IO" (the connection failed or timed out during the command: it may have
 * run; a 4th value true says it was a kept connection that failed without
 * timing out, e.g. the server restarted, so a retry on a new one is
 * reasonable), "REDIS_ERROR". Messages never contain the password.
 *
 * Memory: the configuration (host, user, password) lives inside the
 * userdata; the hiredis context and the reply being converted are owned by
 * it too, so a Lua error while pushing a reply (out of memory) leaks
 * nothing: the reply is freed by the next command or by the cleanup.
 */
#include "egoi.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#define RD_MT "egoi.core.redis"
#define RD_MAX_ARGS 64
#define RD_MAX_DEPTH 16

typedef struct {
    redisContext *ctx;   /* NULL when not connected */
    redisReply *reply;   /* the reply being pushed, freed on the next use */
    unsigned long served; /* commands answered on this connection */
    pid_t pid;           /* process that connected */
    int closed;
    int port;
    int db;
    double connect_timeout;
    double timeout;
    char *host;          /* host name/address, or the unix socket path */
    int is_unix;
    char *user;          /* NULL: AUTH password only (or no AUTH) */
    char *password;      /* NULL: no AUTH */
    size_t user_len, password_len;
} rd_t;

static struct timeval rd_tv(double s)
{
    struct timeval tv;
    if (!(s > 0))
        s = 0.001;
    if (s > 1e6)
        s = 1e6;
    tv.tv_sec = (time_t)s;
    tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
    if (tv.tv_sec == 0 && tv.tv_usec == 0)
        tv.tv_usec = 1000;
    return tv;
}

static void rd_drop_reply(rd_t *rd)
{
    if (rd->reply != NULL) {
        freeReplyObject(rd->reply);
        rd->reply = NULL;
    }
}

static void rd_disconnect(rd_t *rd)
{
    if (rd->ctx != NULL) {
        redisFree(rd->ctx);
        rd->ctx = NULL;
    }
}

/* "host:port" or the socket path, for messages */
static void rd_where(const rd_t *rd, char *buf, size_t n)
{
    if (rd->is_unix)
        snprintf(buf, n, "unix:%s", rd->host);
    else
        snprintf(buf, n, "%s:%d", rd->host, rd->port);
}

/* Send one setup command (AUTH / SELECT) on a fresh context. Returns 0, or
 * -1 with msg filled in (and *io set when the connection itself failed). */
static int rd_setup_cmd(rd_t *rd, int argc, const char **argv, const size_t *lens, char *msg,
                        size_t n, const char *what, int *io)
{
    redisReply *r = (redisReply *)redisCommandArgv(rd->ctx, argc, argv, lens);
    char where[300];
    rd_where(rd, where, sizeof where);
    if (r == NULL) {
        snprintf(msg, n, "%s at %s failed: %s", what, where, rd->ctx->errstr);
        *io = 1;
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        /* the server's text ("WRONGPASS invalid username-password pair",
         * "ERR DB index is out of range"): never echoes the password */
        snprintf(msg, n, "%s refused by %s: %.*s", what, where, (int)(r->len > 200 ? 200 : r->len),
                 r->str);
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

/* hiredis writes with write(): a write to a connection the server has reset
 * would raise SIGPIPE and kill the process. Hold SIGPIPE blocked around our
 * I/O and swallow one we caused (one that was pending before is left). */
typedef struct {
    sigset_t old;
    int was_pending;
} rd_sigpipe;

static void rd_sigpipe_block(rd_sigpipe *sp)
{
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigemptyset(&pending);
    sp->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    sigprocmask(SIG_BLOCK, &set, &sp->old);
}

static void rd_sigpipe_restore(rd_sigpipe *sp)
{
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigemptyset(&pending);
    if (!sp->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    sigprocmask(SIG_SETMASK, &sp->old, NULL);
}

/* Connect (if needed). Returns NULL on success or the failure code, with
 * msg filled in. */
static const char *rd_connect(rd_t *rd, char *msg, size_t n)
{
    char where[300];
    int io = 0;
    if (rd->ctx != NULL && rd->pid != getpid()) {
        /* after fork(): this socket is the parent's conversation */
        rd_disconnect(rd);
    }
    if (rd->ctx != NULL)
        return NULL;
    rd_where(rd, where, sizeof where);
    if (rd->is_unix)
        rd->ctx = redisConnectUnixWithTimeout(rd->host, rd_tv(rd->connect_timeout));
    else
        rd->ctx = redisConnectWithTimeout(rd->host, rd->port, rd_tv(rd->connect_timeout));
    if (rd->ctx == NULL) {
        snprintf(msg, n, "cannot connect to Redis at %s: out of memory", where);
        return "CONNECT";
    }
    if (rd->ctx->err) {
        snprintf(msg, n, "cannot connect to Redis at %s: %s", where, rd->ctx->errstr);
        rd_disconnect(rd);
        return "CONNECT";
    }
    if (rd->ctx->fd >= 0) {
        int fl = fcntl(rd->ctx->fd, F_GETFD);
        if (fl >= 0)
            (void)fcntl(rd->ctx->fd, F_SETFD, fl | FD_CLOEXEC);
    }
    if (redisSetTimeout(rd->ctx, rd_tv(rd->timeout)) != REDIS_OK) {
        snprintf(msg, n, "cannot set the Redis timeout at %s: %s", where, strerror(errno));
        rd_disconnect(rd);
        return "CONNECT";
    }
    (void)redisEnableKeepAlive(rd->ctx);
    rd->pid = getpid();
    rd->served = 0;
    if (rd->password != NULL) {
        const char *argv[3];
        size_t lens[3];
        int argc = 0;
        argv[argc] = "AUTH";
        lens[argc++] = 4;
        if (rd->user != NULL) {
            argv[argc] = rd->user;
            lens[argc++] = rd->user_len;
        }
        argv[argc] = rd->password;
        lens[argc++] = rd->password_len;
        if (rd_setup_cmd(rd, argc, argv, lens, msg, n, "AUTH", &io) != 0) {
            rd_disconnect(rd);
            return io ? "CONNECT" : "AUTH";
        }
    }
    if (rd->db != 0) {
        char dbs[24];
        const char *argv[2];
        size_t lens[2];
        snprintf(dbs, sizeof dbs, "%d", rd->db);
        argv[0] = "SELECT";
        lens[0] = 6;
        argv[1] = dbs;
        lens[1] = strlen(dbs);
        if (rd_setup_cmd(rd, 2, argv, lens, msg, n, "SELECT", &io) != 0) {
            rd_disconnect(rd);
            return io ? "CONNECT" : "SELECT";
        }
    }
    return NULL;
}

/* Push a reply (may raise on out-of-memory: the reply is owned by rd). */
static void rd_push(lua_State *L, const redisReply *r, int depth)
{
    size_t i;
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        lua_pushlstring(L, r->str, r->len);
        break;
    case REDIS_REPLY_INTEGER:
        lua_pushinteger(L, (lua_Integer)r->integer);
        break;
    case REDIS_REPLY_ARRAY:
        if (depth >= RD_MAX_DEPTH) {
            lua_pushboolean(L, 0);
            break;
        }
        luaL_checkstack(L, 4, "redis reply");
        lua_createtable(L, r->elements > 1000000 ? 1000000 : (int)r->elements, 0);
        for (i = 0; i < r->elements; i++) {
            rd_push(L, r->element[i], depth + 1);
            lua_rawseti(L, -2, (int)(i + 1));
        }
        break;
    case REDIS_REPLY_ERROR:
        lua_createtable(L, 0, 1);
        lua_pushlstring(L, r->str, r->len);
        lua_setfield(L, -2, "err");
        break;
    default: /* REDIS_REPLY_NIL */
        lua_pushboolean(L, 0);
        break;
    }
}

static rd_t *rd_check(lua_State *L)
{
    rd_t *rd = (rd_t *)luaL_checkudata(L, 1, RD_MT);
    if (rd->closed)
        luaL_error(L, "redis connection is closed");
    return rd;
}

static int rd_fail(lua_State *L, const char *code, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, code);
    lua_pushstring(L, msg);
    return 3;
}

/* r:command(arg, ...) -> reply | nil, code, message */
static int rd_command(lua_State *L)
{
    rd_t *rd = rd_check(L);
    int argc = lua_gettop(L) - 1, i;
    const char *argv[RD_MAX_ARGS];
    size_t lens[RD_MAX_ARGS];
    char msg[512];
    const char *code;
    redisReply *r;
    rd_sigpipe sp;
    int saved_errno;
    if (argc < 1)
        return luaL_error(L, "redis:command: at least one argument (the command name) is needed");
    if (argc > RD_MAX_ARGS)
        return luaL_error(L, "redis:command: at most %d arguments", RD_MAX_ARGS);
    for (i = 0; i < argc; i++) {
        int t = lua_type(L, i + 2);
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            return luaL_argerror(L, i + 2, "string or number expected");
        argv[i] = lua_tolstring(L, i + 2, &lens[i]);
    }
    rd_drop_reply(rd);
    rd_sigpipe_block(&sp);
    code = rd_connect(rd, msg, sizeof msg);
    if (code != NULL) {
        rd_sigpipe_restore(&sp);
        return rd_fail(L, code, msg);
    }
    r = (redisReply *)redisCommandArgv(rd->ctx, argc, argv, lens);
    saved_errno = errno;
    rd_sigpipe_restore(&sp);
    if (r == NULL) {
        char where[300];
        int err = rd->ctx->err;
        int timed_out = err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK);
        int reused = rd->served > 0;
        rd_where(rd, where, sizeof where);
        snprintf(msg, sizeof msg, "Redis at %s: %s%s", where,
                 err == REDIS_ERR_EOF ? "the server closed the connection" : rd->ctx->errstr,
                 timed_out ? " (timed out)" : "");
        rd_disconnect(rd);
        rd_fail(L, "IO", msg);
        /* a kept connection that died while idle (server restarted): the
         * caller may retry on a new one; not after a timeout */
        lua_pushboolean(L, reused && !timed_out);
        return 4;
    }
    rd->served++;
    rd->reply = r;
    if (r->type == REDIS_REPLY_ERROR) {
        lua_pushnil(L);
        lua_pushliteral(L, "REDIS_ERROR");
        lua_pushlstring(L, r->str, r->len);
        rd_drop_reply(rd);
        return 3;
    }
    rd_push(L, r, 0);
    rd_drop_reply(rd);
    return 1;
}

/* Overwrite the password before the memory goes back to Lua. */
static void rd_wipe(char *p, size_t n)
{
    volatile char *v = p;
    while (n--)
        *v++ = 0;
}

static int rd_close(lua_State *L)
{
    rd_t *rd = (rd_t *)luaL_checkudata(L, 1, RD_MT);
    if (!rd->closed) {
        rd->closed = 1;
        rd_drop_reply(rd);
        rd_disconnect(rd); /* redisFree only closes the fd: safe in a forked child too */
        if (rd->password != NULL)
            rd_wipe(rd->password, rd->password_len);
    }
    return 0;
}

static int rd_tostring(lua_State *L)
{
    rd_t *rd = (rd_t *)luaL_checkudata(L, 1, RD_MT);
    char where[300], buf[400];
    rd_where(rd, where, sizeof where);
    snprintf(buf, sizeof buf, RD_MT " (%s/%d%s%s)", where, rd->db,
             rd->closed ? ", closed" : (rd->ctx ? ", connected" : ""),
             rd->password ? ", auth" : "");
    lua_pushstring(L, buf);
    return 1;
}

/* option helpers: raise only before anything is allocated */
static const char *rd_opt_string(lua_State *L, const char *name, size_t *len)
{
    const char *s = NULL;
    lua_getfield(L, 1, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "redis: option '%s' must be a string", name);
        s = lua_tolstring(L, -1, len);
        if (strlen(s) != *len)
            luaL_error(L, "redis: option '%s' must not contain NUL bytes", name);
    }
    /* the string stays on the stack (anchored) until rd_new returns */
    return s;
}

static double rd_opt_number(lua_State *L, const char *name, double def, double lo, double hi)
{
    double v = def;
    lua_getfield(L, 1, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "redis: option '%s' must be a number", name);
        v = (double)lua_tonumber(L, -1);
        if (!(v >= lo && v <= hi)) {
            /* lua_pushfstring knows no %g (Lua 5.4 raises "invalid option") */
            char range[64];
            snprintf(range, sizeof range, "%g to %g", lo, hi);
            luaL_error(L, "redis: option '%s' must be from %s", name, range);
        }
    }
    lua_pop(L, 1);
    return v;
}

static char *rd_copy(char **p, const char *s, size_t n)
{
    char *d = *p;
    memcpy(d, s, n);
    d[n] = '\0';
    *p += n + 1;
    return d;
}

static int rd_new(lua_State *L)
{
    const char *host, *path, *user, *password;
    size_t host_len = 0, path_len = 0, user_len = 0, password_len = 0, total;
    double port, db, ct, to;
    rd_t *rd;
    char *p;
    luaL_checktype(L, 1, LUA_TTABLE);
    host = rd_opt_string(L, "host", &host_len);
    path = rd_opt_string(L, "path", &path_len);
    user = rd_opt_string(L, "user", &user_len);
    password = rd_opt_string(L, "password", &password_len);
    port = rd_opt_number(L, "port", 6379, 1, 65535);
    db = rd_opt_number(L, "db", 0, 0, 1000000);
    ct = rd_opt_number(L, "connect_timeout", 1, 0.001, 1e6);
    to = rd_opt_number(L, "timeout", 1, 0.001, 1e6);
    if (floor(port) != port || floor(db) != db)
        return luaL_error(L, "redis: options 'port' and 'db' must be integers");
    if (path != NULL && path_len == 0)
        return luaL_error(L, "redis: option 'path' must not be empty");
    if (path == NULL && host == NULL) {
        host = "127.0.0.1";
        host_len = strlen(host);
    }
    if (path == NULL && host_len == 0)
        return luaL_error(L, "redis: option 'host' must not be empty");
    if (user != NULL && password == NULL)
        return luaL_error(L, "redis: option 'user' needs a 'password'");
    total = sizeof(rd_t) + (path ? path_len : host_len) + 1 + (user ? user_len + 1 : 0)
            + (password ? password_len + 1 : 0);
    rd = (rd_t *)lua_newuserdata(L, total);
    memset(rd, 0, sizeof *rd);
    rd->closed = 1; /* until complete */
    p = (char *)(rd + 1);
    if (path != NULL) {
        rd->host = rd_copy(&p, path, path_len);
        rd->is_unix = 1;
    } else {
        rd->host = rd_copy(&p, host, host_len);
    }
    if (user != NULL) {
        rd->user = rd_copy(&p, user, user_len);
        rd->user_len = user_len;
    }
    if (password != NULL) {
        rd->password = rd_copy(&p, password, password_len);
        rd->password_len = password_len;
    }
    rd->port = (int)port;
    rd->db = (int)db;
    rd->connect_timeout = ct;
    rd->timeout = to;
    rd->closed = 0;
    luaL_getmetatable(L, RD_MT);
    lua_setmetatable(L, -2);
    return 1;
}

void egoi_redis_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"command", rd_command},
        {"close", rd_close},
        {NULL, NULL}
    };
    egoi_class(L, RD_MT, methods, rd_close, rd_tostring);
    lua_pop(L, 1);
    lua_pushcfunction(L, rd_new);
    lua_setfield(L, -2, "redis");
}
