/*
 * transport.c - egoi.core.http_client: one libcurl easy handle per client
 * object, created once and reused for every request so libcurl keeps the
 * TCP/TLS connection alive between calls.
 *
 *   local c = core.http_client{ timeout = 30, connect_timeout = 10,
 *       verify_tls = true, ca_file = nil, proxy = nil, user_agent = nil,
 *       keepalive = true, max_response = 64 * 1024 * 1024 }
 *   c:request{ verb = "GET"|"POST"|"PUT"|"PATCH"|"DELETE", url = "...",
 *              headers = { Name = "value" }, body = string|form_buffer|nil,
 *              idempotent = bool }
 *     -> status, headers, body, info  an HTTP exchange completed (any status);
 *                                     headers: every response header, names
 *                                     lower-case, repeats joined with ", "
 *     -> nil, code, message, sent     no complete answer
 *   c:close()                        also __gc and __close; idempotent
 *   core.curl_version()              -> "libcurl/7.88.1 OpenSSL/3.0.x zlib/1.2.13", "7.88.1"
 *
 * Never a second send of a request that is not idempotent: libcurl
 * silently re-sends a request once when a reused connection dies before
 * any byte of the answer arrived (the server may have acted on it). Such
 * a request gets a connection of its own (CURLOPT_FRESH_CONNECT), where
 * libcurl never retries; the connection then stays cached for later ones.
 *
 * A read (idempotent = true, or a GET) ends early when core.signals_catch()
 * caught SIGINT/SIGTERM: a progress callback sees the flag signals.c keeps
 * (egoi_signals_pending) within about a second, or at once when the
 * signal interrupts libcurl's poll(), and aborts the transfer; the failure
 * is code INTERRUPTED (sent = true as for any failure after the request may
 * have left: for a read that is harmless). A write is never cut: it runs
 * to its end or its timeout, so its outcome is known. Without catch() the
 * flag stays 0 and nothing changes (nginx, scripts that never asked).
 *
 * Memory rules: everything malloc'd (the response buffers, the per-request
 * header list) hangs off the userdata, so a Lua error raised at any point
 * (usage error, or memory error from lua_push*) cannot leak it: the next
 * request or the cleanup frees it. libcurl callbacks never call Lua; they
 * record a failure in the userdata and return a value that aborts the
 * transfer, and the failure is reported after curl_easy_perform returns.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buffer.h"

#define CLIENT_MT "egoi.core.http_client"
#define DEFAULT_TIMEOUT 30.0
#define DEFAULT_CONNECT_TIMEOUT 10.0
#define DEFAULT_MAX_RESPONSE ((size_t)64 * 1024 * 1024)
/* A response buffer larger than this is released after the request
 * instead of being kept for the next one. */
#define KEEP_BUFFER_MAX ((size_t)1024 * 1024)
#define MIN_BUFFER ((size_t)16 * 1024)

#define FORM_TYPE "application/x-www-form-urlencoded"
#define MAX_CTYPE 128
/* Response head limits (the resty transport has the same). */
#define MAX_HEADER_BYTES ((size_t)64 * 1024)
#define MAX_HEADER_LINES 200

/* Header lists are built once and reused: libcurl formats its own
 * User-Agent and Accept-Encoding lines with its printf on every request,
 * while a header list is copied as it is, which is measurably cheaper on
 * a 1 kB API exchange (bench/README.md). */
typedef struct {
    CURL *curl;                    /* NULL once closed */
    struct curl_slist *base;       /* Expect:, User-Agent, Accept-Encoding */
    struct curl_slist *typed;      /* base + "Content-Type: <typed_ctype>" */
    char typed_ctype[MAX_CTYPE];
    struct curl_slist *headers;    /* a request with extra headers: its own list */
    egoi_buf body;                 /* response body, reused across requests */
    egoi_buf head;                 /* raw response header lines of the last head */
    int hlines;
    size_t max_response;
    int too_large;                 /* set by the write callback */
    int head_too_large;            /* set by the header callback */
    int no_memory;                 /* set by either callback */
    int cut_on_signal;             /* this request is a read: the progress callback may end it */
    int interrupted;               /* the signal that ended it (set by the progress callback) */
    char errbuf[CURL_ERROR_SIZE];
} http_client;

/* --- cleanup ----------------------------------------------------------- */

static void client_cleanup(http_client *c)
{
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
        c->curl = NULL;
    }
    if (c->headers != NULL) {
        curl_slist_free_all(c->headers);
        c->headers = NULL;
    }
    if (c->typed != NULL) {
        curl_slist_free_all(c->typed);
        c->typed = NULL;
    }
    if (c->base != NULL) {
        curl_slist_free_all(c->base);
        c->base = NULL;
    }
    egoi_buf_free(&c->body);
    egoi_buf_free(&c->head);
}

static http_client *check_client(lua_State *L)
{
    return (http_client *)luaL_checkudata(L, 1, CLIENT_MT);
}

static int l_close(lua_State *L)
{
    client_cleanup(check_client(L));
    return 0;
}

static int l_gc(lua_State *L)
{
    http_client *c = (http_client *)egoi_testudata(L, 1, CLIENT_MT);
    if (c != NULL)
        client_cleanup(c);
    return 0;
}

static int l_tostring(lua_State *L)
{
    http_client *c = check_client(L);
    if (c->curl != NULL)
        lua_pushliteral(L, CLIENT_MT " (open)");
    else
        lua_pushliteral(L, CLIENT_MT " (closed)");
    return 1;
}

/* --- libcurl callbacks (never touch Lua) ------------------------------- */

/* Appends n bytes to a buffer whose capacity never exceeds limit (the
 * caller checked len + n <= limit). 0 when out of memory. */
static int buf_append(egoi_buf *b, size_t first, size_t limit, const char *data, size_t n)
{
    if (!egoi_buf_reserve_within(b, n, first, limit))
        return 0;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 1;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    http_client *c = (http_client *)userp;
    size_t n = size * nmemb;

    if (n == 0)
        return 0;
    if (n > c->max_response || c->body.len > c->max_response - n) {
        c->too_large = 1;
        return 0; /* != n: aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (!buf_append(&c->body, MIN_BUFFER, c->max_response, data, n)) {
        c->no_memory = 1;
        return 0;
    }
    return n;
}

/* Keeps the header lines of the last response head ("HTTP/..." starts a
 * new one: a 100 Continue, and trailers after a chunked body, too). */
static size_t header_cb(char *data, size_t size, size_t nitems, void *userp)
{
    http_client *c = (http_client *)userp;
    size_t n = size * nitems;

    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        c->head.len = 0;
        c->hlines = 0;
    }
    if (n > MAX_HEADER_BYTES || c->head.len > MAX_HEADER_BYTES - n || ++c->hlines > MAX_HEADER_LINES) {
        c->head_too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (!buf_append(&c->head, 1024, MAX_HEADER_BYTES, data, n)) {
        c->no_memory = 1;
        return 0;
    }
    return n;
}

/* Called by libcurl at least once a second while a transfer runs (and
 * after every wake-up of its poll, an EINTR included). Only a read is
 * ever cut; non-zero ends the transfer with CURLE_ABORTED_BY_CALLBACK. */
static int progress_cb(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    http_client *c = (http_client *)userp;
    int sig;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    if (!c->cut_on_signal || (sig = egoi_signals_pending()) == 0)
        return 0;
    c->interrupted = sig;
    return 1;
}

/* --- options ----------------------------------------------------------- */

/* Option reading: the options table is at index 1. Each getter leaves the
 * stack balanced; errors name the option. */

static int opt_number(lua_State *L, const char *name, double dflt, double *out)
{
    lua_getfield(L, 1, name);
    if (lua_isnil(L, -1)) {
        *out = dflt;
    } else {
        double v;
        if (lua_type(L, -1) != LUA_TNUMBER)
            return luaL_error(L, "http_client: option '%s' must be a positive number", name);
        v = (double)lua_tonumber(L, -1);
        if (!(v > 0.0) || v > 2147483.0) /* fits a long of milliseconds */
            return luaL_error(L, "http_client: option '%s' must be a positive number", name);
        *out = v;
    }
    lua_pop(L, 1);
    return 0;
}

static int opt_bool(lua_State *L, const char *name, int dflt)
{
    int v = dflt;
    lua_getfield(L, 1, name);
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            return luaL_error(L, "http_client: option '%s' must be a boolean", name);
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* Leaves the string (or nil) on the stack: the caller pops it after use. */
static const char *opt_string(lua_State *L, const char *name)
{
    const char *s = NULL;
    lua_getfield(L, 1, name);
    if (!lua_isnil(L, -1)) {
        size_t n;
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "http_client: option '%s' must be a string", name);
        s = lua_tolstring(L, -1, &n);
        if (strlen(s) != n)
            luaL_error(L, "http_client: option '%s' must not contain NUL bytes", name);
    }
    return s;
}

static const char *const known_options[] = {
    "timeout", "connect_timeout", "verify_tls", "ca_file", "proxy",
    "user_agent", "keepalive", "max_response", NULL
};

static void check_option_names(lua_State *L)
{
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        int i, known = 0;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -1);
            for (i = 0; known_options[i] != NULL; i++)
                if (strcmp(k, known_options[i]) == 0)
                    known = 1;
            if (!known)
                luaL_error(L, "http_client: unknown option '%s'", k);
        } else {
            luaL_error(L, "http_client: option names must be strings");
        }
    }
}

static int header_text_ok(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return 0;
    return 1;
}

/* "Expect:" (no 100-continue stall on large POSTs), the User-Agent (unless
 * with_ua is 0), and Accept-Encoding with what this libcurl can decode
 * (*with_ae: whether there was any). */
static int build_base_headers(http_client *c, const char *ua, int with_ua, int *with_ae)
{
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    char line[512];
    struct curl_slist *l;
    size_t n;

    c->base = curl_slist_append(NULL, "Expect:");
    if (c->base == NULL)
        return 0;
    if (with_ua) {
        snprintf(line, sizeof line, "User-Agent: %s", ua);
        if ((l = curl_slist_append(c->base, line)) == NULL)
            return 0;
    }
    strcpy(line, "Accept-Encoding: ");
    n = strlen(line);
    if (vi != NULL && (vi->features & CURL_VERSION_LIBZ))
        n += (size_t)snprintf(line + n, sizeof line - n, "deflate, gzip, ");
#ifdef CURL_VERSION_BROTLI
    if (vi != NULL && (vi->features & CURL_VERSION_BROTLI))
        n += (size_t)snprintf(line + n, sizeof line - n, "br, ");
#endif
#ifdef CURL_VERSION_ZSTD
    if (vi != NULL && (vi->features & CURL_VERSION_ZSTD))
        n += (size_t)snprintf(line + n, sizeof line - n, "zstd, ");
#endif
    *with_ae = n > sizeof "Accept-Encoding: " - 1; /* at least one encoding */
    if (*with_ae) {
        line[n - 2] = '\0'; /* the last ", " */
        if ((l = curl_slist_append(c->base, line)) == NULL)
            return 0;
    }
    return 1;
}

/* A copy of list, with line appended when not NULL. */
static struct curl_slist *copy_headers(const struct curl_slist *list, const char *line)
{
    struct curl_slist *out = NULL, *l;
    for (; list != NULL; list = list->next) {
        if ((l = curl_slist_append(out, list->data)) == NULL)
            goto fail;
        out = l;
    }
    if (line != NULL) {
        if ((l = curl_slist_append(out, line)) == NULL)
            goto fail;
        out = l;
    }
    return out;
fail:
    curl_slist_free_all(out);
    return NULL;
}

/* Would libcurl take a proxy from the environment? (index: the proxy
 * option, nil here; false means no proxy at all) */
static int proxy_from_env(lua_State *L, int index)
{
    static const char *const names[] = {
        "https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY", NULL
    };
    int i;
    if (!lua_isnil(L, index))
        return 0;
    for (i = 0; names[i] != NULL; i++) {
        const char *v = getenv(names[i]);
        if (v != NULL && v[0] != '\0')
            return 1;
    }
    return 0;
}

#define SETOPT(c, opt, val) \
    do { if (curl_easy_setopt((c)->curl, (opt), (val)) != CURLE_OK) failed = 1; } while (0)

/* core.http_client(opts) -> userdata */
static int l_http_client(lua_State *L)
{
    http_client *c;
    double timeout, connect_timeout;
    int verify_tls, keepalive, via_proxy, with_ae = 0, failed = 0;
    size_t max_response = DEFAULT_MAX_RESPONSE;

    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);

    /* Validate everything before any allocation. */
    check_option_names(L);
    opt_number(L, "timeout", DEFAULT_TIMEOUT, &timeout);
    opt_number(L, "connect_timeout", DEFAULT_CONNECT_TIMEOUT, &connect_timeout);
    verify_tls = opt_bool(L, "verify_tls", 1);
    keepalive = opt_bool(L, "keepalive", 1);
    lua_getfield(L, 1, "max_response");
    if (!lua_isnil(L, -1)) {
        lua_Integer n;
        if (lua_type(L, -1) != LUA_TNUMBER || !egoi_isinteger(L, -1, &n) || n <= 0)
            return luaL_error(L, "http_client: option 'max_response' must be a positive integer");
        max_response = (size_t)n;
    }
    lua_pop(L, 1);
    opt_string(L, "ca_file");    /* index 2 */
    lua_getfield(L, 1, "proxy"); /* index 3: string, false (no proxy), or nil */
    if (!lua_isnil(L, 3) && !(lua_isboolean(L, 3) && !lua_toboolean(L, 3))) {
        size_t n;
        if (lua_type(L, 3) != LUA_TSTRING)
            return luaL_error(L, "http_client: option 'proxy' must be a string or false");
        if (strlen(lua_tolstring(L, 3, &n)) != n)
            return luaL_error(L, "http_client: option 'proxy' must not contain NUL bytes");
    }
    opt_string(L, "user_agent"); /* index 4 */
    if (!lua_isnil(L, 4)) {
        size_t n;
        const char *ua = lua_tolstring(L, 4, &n);
        if (!header_text_ok(ua, n) || n > 400)
            return luaL_error(L, "http_client: option 'user_agent' must be one line of at most 400 bytes");
    }
    if (lua_isnil(L, 4)) {
        const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
        lua_pop(L, 1);
        lua_pushfstring(L, "lua-egoi/%s libcurl/%s", EGOI_VERSION,
                        vi != NULL && vi->version != NULL ? vi->version : "?");
    }

    c = (http_client *)lua_newuserdata(L, sizeof *c); /* index 5 */
    memset(c, 0, sizeof *c);
    c->max_response = max_response;
    luaL_getmetatable(L, CLIENT_MT);
    lua_setmetatable(L, -2);

    c->curl = curl_easy_init();
    if (c->curl == NULL)
        return luaL_error(L, "http_client: curl_easy_init failed");

    /* libcurl copies string options (since 7.17), so the Lua strings may
     * go away after this function. */
    SETOPT(c, CURLOPT_NOSIGNAL, 1L);
    SETOPT(c, CURLOPT_ERRORBUFFER, c->errbuf);
    SETOPT(c, CURLOPT_WRITEFUNCTION, write_cb);
    SETOPT(c, CURLOPT_WRITEDATA, (void *)c);
    SETOPT(c, CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(c, CURLOPT_HEADERDATA, (void *)c);
    SETOPT(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
    SETOPT(c, CURLOPT_XFERINFODATA, (void *)c);
    SETOPT(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000.0 + 0.5));
    SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_timeout * 1000.0 + 0.5));
    SETOPT(c, CURLOPT_FOLLOWLOCATION, 0L);
    /* Through a proxy the User-Agent must also reach the proxy's CONNECT,
     * which only the option does (a header list goes to the server, and
     * CURLOPT_PROXYHEADER would repeat it in a plain-HTTP proxy request);
     * without one, the header list spares libcurl a printf per request. */
    via_proxy = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3)[0] != '\0' : proxy_from_env(L, 3);
    if (via_proxy)
        SETOPT(c, CURLOPT_USERAGENT, lua_tostring(L, 4));
    if (!build_base_headers(c, lua_tostring(L, 4), !via_proxy, &with_ae)) {
        client_cleanup(c);
        return luaL_error(L, "http_client: out of memory building headers");
    }
    /* The Accept-Encoding line (when this libcurl decodes anything) is in
     * c->base; the option turns on the decoding of what the server sends
     * compressed. */
    if (with_ae)
        SETOPT(c, CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(c, CURLOPT_SSL_VERIFYPEER, verify_tls ? 1L : 0L);
    SETOPT(c, CURLOPT_SSL_VERIFYHOST, verify_tls ? 2L : 0L);
    SETOPT(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (!keepalive)
        SETOPT(c, CURLOPT_FORBID_REUSE, 1L);
    if (!lua_isnil(L, 2))
        SETOPT(c, CURLOPT_CAINFO, lua_tostring(L, 2));
    if (lua_type(L, 3) == LUA_TSTRING)
        SETOPT(c, CURLOPT_PROXY, lua_tostring(L, 3));
    else if (lua_isboolean(L, 3))
        SETOPT(c, CURLOPT_PROXY, ""); /* false: no proxy, not even from the environment */
    /* Fail early when the server announces a body over the limit. */
    SETOPT(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_response);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    SETOPT(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SETOPT(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (failed) {
        client_cleanup(c);
        return luaL_error(L, "http_client: libcurl rejected an option (is TLS or proxy support built in?)");
    }
    return 1;
}

/* --- request ----------------------------------------------------------- */

/* Stack slots of c:request(req) once its fields are read. */
#define R_URL 3
#define R_VERB 4
#define R_BODY 5
#define R_HEADERS 6
#define R_IDEMPOTENT 7

/* Appends one header line to c->headers. The list is owned by the
 * userdata, so raising after this point does not leak it. */
static void add_header(lua_State *L, http_client *c, const char *line)
{
    struct curl_slist *l = curl_slist_append(c->headers, line);
    if (l == NULL)
        luaL_error(L, "http_client: out of memory building headers");
    c->headers = l;
}

/* Checks the header at the top of the stack (value at -1, key at -2):
 * returns its name's length; a whole "Name: value" line (numeric key)
 * gives 0. Raises on bad input. */
static size_t check_header(lua_State *L)
{
    size_t kn, vn, i;
    const char *k, *v;
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "http_client:request: header values must be strings");
    v = lua_tolstring(L, -1, &vn);
    if (!header_text_ok(v, vn))
        luaL_error(L, "http_client:request: header contains CR, LF or NUL");
    if (lua_type(L, -2) == LUA_TNUMBER) {
        if (memchr(v, ':', vn) == NULL)
            luaL_error(L, "http_client:request: bad header line");
        return 0;
    }
    if (lua_type(L, -2) != LUA_TSTRING)
        luaL_error(L, "http_client:request: header names must be strings");
    k = lua_tolstring(L, -2, &kn);
    if (kn == 0 || !header_text_ok(k, kn))
        luaL_error(L, "http_client:request: bad header name");
    for (i = 0; i < kn; i++)
        if (k[i] == ':' || k[i] == ' ' || k[i] == '\t')
            luaL_error(L, "http_client:request: bad header name");
    return kn;
}

/* Is the name of line (up to its ':') the given name, in any case? */
static int line_has_name(const char *line, const char *name, size_t n)
{
    return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* Does the headers table override the base line? */
static int overridden(lua_State *L, const char *line)
{
    lua_pushnil(L);
    while (lua_next(L, R_HEADERS) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            size_t kn;
            const char *k = lua_tolstring(L, -2, &kn);
            if (line_has_name(line, k, kn)) {
                lua_pop(L, 2);
                return 1;
            }
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* The header list for one request. With no headers, or a Content-Type
 * alone, a list kept on the userdata: c->base for a form body (libcurl's
 * own Content-Type for a POST body is the form type), else c->typed,
 * rebuilt only when the content type changes. Other headers
 * ({Name = "value"}, or whole "Name: value" lines) get a list of their
 * own, where a given header replaces the base line of that name. */
static struct curl_slist *request_headers(lua_State *L, http_client *c, int has_body)
{
    const char *ctype = NULL;
    int count = 0;
    struct curl_slist *b;

    if (!lua_isnil(L, R_HEADERS)) {
        lua_pushnil(L);
        while (lua_next(L, R_HEADERS) != 0) {
            size_t kn = check_header(L);
            count++;
            if (kn == 12 && strncasecmp(lua_tostring(L, -2), "Content-Type", 12) == 0)
                ctype = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
    }
    if (count == 0 || (count == 1 && ctype != NULL && has_body && strcmp(ctype, FORM_TYPE) == 0))
        return c->base;
    if (count == 1 && ctype != NULL && strlen(ctype) < MAX_CTYPE) {
        if (c->typed == NULL || strcmp(c->typed_ctype, ctype) != 0) {
            lua_pushfstring(L, "Content-Type: %s", ctype);
            /* the handle may still point at the old list: unhook it first */
            curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
            curl_slist_free_all(c->typed);
            c->typed_ctype[0] = '\0';
            c->typed = copy_headers(c->base, lua_tostring(L, -1));
            if (c->typed == NULL)
                luaL_error(L, "http_client: out of memory building headers");
            strcpy(c->typed_ctype, ctype);
            lua_pop(L, 1);
        }
        return c->typed;
    }
    /* a list for this request only */
    for (b = c->base; b != NULL; b = b->next)
        if (!overridden(L, b->data))
            add_header(L, c, b->data);
    lua_pushnil(L);
    while (lua_next(L, R_HEADERS) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            lua_pushvalue(L, -2);
            lua_pushliteral(L, ": ");
            lua_pushvalue(L, -3);
            lua_concat(L, 3);
            add_header(L, c, lua_tostring(L, -1));
            lua_pop(L, 1);
        } else {
            add_header(L, c, lua_tostring(L, -1)); /* a whole "Name: value" line */
        }
        lua_pop(L, 1);
    }
    return c->headers;
}

/* Could a failure with this code have happened after the request reached
 * the server? 0 only for failures that happen before anything is sent. */
static int maybe_sent(CURL *curl, CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
#if LIBCURL_VERSION_NUM >= 0x074900 /* 7.73.0 */
    case CURLE_PROXY:
#endif
        return 0;
    case CURLE_OPERATION_TIMEDOUT: {
        /* Request bytes are counted once the request went out; a timeout
         * while resolving/connecting/handshaking leaves both at 0. */
        long req_size = 0;
        curl_off_t uploaded = 0;
        if (curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &req_size) != CURLE_OK)
            return 1;
        if (curl_easy_getinfo(curl, CURLINFO_SIZE_UPLOAD_T, &uploaded) != CURLE_OK)
            return 1;
        return req_size > 0 || uploaded > 0;
    }
    default:
        return 1;
    }
}

/* Pushes the response headers of the last head as a table: names
 * lower-case, values trimmed, repeated names joined with ", " (a folded
 * continuation line joins its header with a space). */
static void push_headers(lua_State *L, http_client *c)
{
    const char *p = c->head.p, *end = c->head.p + c->head.len;
    char name[256];
    size_t last = 0; /* length of the previous header's name in `name` */

    lua_createtable(L, 0, 8);
    while (p != NULL && p < end) {
        const char *eol = (const char *)memchr(p, '\n', (size_t)(end - p));
        const char *le = eol != NULL ? eol : end, *colon, *v;
        const char *next = eol != NULL ? eol + 1 : end;
        size_t i, nn;
        int fold;
        if (le > p && le[-1] == '\r')
            le--;
        if (le == p || (le - p >= 5 && memcmp(p, "HTTP/", 5) == 0)) {
            p = next;
            continue;
        }
        fold = (*p == ' ' || *p == '\t') && last > 0;
        if (fold) {
            colon = p - 1;
            nn = last;
        } else {
            colon = (const char *)memchr(p, ':', (size_t)(le - p));
            nn = colon != NULL ? (size_t)(colon - p) : 0;
            if (colon == NULL || nn == 0 || nn >= sizeof name) {
                last = 0;
                p = next;
                continue;
            }
            for (i = 0; i < nn; i++) {
                char ch = p[i];
                name[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
            }
            while (nn > 0 && (name[nn - 1] == ' ' || name[nn - 1] == '\t'))
                nn--;
            last = nn;
        }
        v = colon + 1;
        while (v < le && (*v == ' ' || *v == '\t'))
            v++;
        while (le > v && (le[-1] == ' ' || le[-1] == '\t'))
            le--;
        lua_pushlstring(L, name, nn);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isstring(L, -1)) {
            lua_pushstring(L, fold ? " " : ", ");
            lua_pushlstring(L, v, (size_t)(le - v));
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushlstring(L, v, (size_t)(le - v));
        }
        lua_rawset(L, -3);
        p = next;
    }
}

/* info table; the headers table is at index hidx (for Retry-After). */
static void push_info(lua_State *L, CURL *curl, int hidx)
{
    double total = 0;
    long connects = 0, version = 0;
    char *ctype = NULL;

    lua_createtable(L, 0, 5);
    if (curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &total) == CURLE_OK) {
        lua_pushnumber(L, (lua_Number)total);
        lua_setfield(L, -2, "total_time");
    }
    if (curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK) {
        lua_pushinteger(L, (lua_Integer)connects);
        lua_setfield(L, -2, "num_connects");
    }
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype != NULL) {
        lua_pushstring(L, ctype);
        lua_setfield(L, -2, "content_type");
    }
    if (curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &version) == CURLE_OK) {
        const char *v = NULL;
        switch (version) {
        case CURL_HTTP_VERSION_1_0: v = "1.0"; break;
        case CURL_HTTP_VERSION_1_1: v = "1.1"; break;
        case CURL_HTTP_VERSION_2_0: v = "2"; break;
#if LIBCURL_VERSION_NUM >= 0x074200 /* 7.66.0 */
        case CURL_HTTP_VERSION_3: v = "3"; break;
#endif
        default: break;
        }
        if (v != NULL) {
            lua_pushstring(L, v);
            lua_setfield(L, -2, "http_version");
        }
    }
    /* Retry-After (seconds form) of a 429/503; the raw value is in headers. */
    lua_getfield(L, hidx, "retry-after");
    if (lua_type(L, -1) == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        char *e = NULL;
        double secs = strtod(s, &e);
        if (e != s && secs >= 0 && secs < 1e9) {
            lua_pushnumber(L, (lua_Number)secs);
            lua_setfield(L, -3, "retry_after");
        }
    }
    lua_pop(L, 1);
}

/* Releases a large response buffer so one big answer does not pin memory
 * for the client's lifetime; small ones are kept for reuse. */
static void trim_buffer(http_client *c)
{
    c->body.len = 0;
    c->head.len = 0;
    if (c->body.cap > KEEP_BUFFER_MAX)
        egoi_buf_free(&c->body);
}

static const char *const verbs[] = { "GET", "POST", "PUT", "PATCH", "DELETE", NULL };

/* Reads the request table (index 2) into the slots R_URL..R_IDEMPOTENT. */
static void read_request(lua_State *L)
{
    size_t n;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_getfield(L, 2, "url");
    lua_getfield(L, 2, "verb");
    lua_getfield(L, 2, "body");
    lua_getfield(L, 2, "headers");
    lua_getfield(L, 2, "idempotent");
    if (lua_type(L, R_URL) != LUA_TSTRING)
        luaL_error(L, "http_client:request: field 'url' must be a string");
    if (strlen(lua_tolstring(L, R_URL, &n)) != n)
        luaL_error(L, "http_client:request: field 'url' contains a NUL byte");
    if (!lua_isnil(L, R_VERB)) {
        int i, ok = 0;
        if (lua_type(L, R_VERB) == LUA_TSTRING)
            for (i = 0; verbs[i] != NULL; i++)
                if (strcmp(lua_tostring(L, R_VERB), verbs[i]) == 0)
                    ok = 1;
        if (!ok)
            luaL_error(L, "http_client:request: field 'verb' must be GET, POST, PUT, PATCH or DELETE");
    }
    if (!lua_isnil(L, R_BODY) && lua_type(L, R_BODY) != LUA_TSTRING &&
        egoi_encode_buffer_view(L, R_BODY, &n) == NULL)
        luaL_error(L, "http_client:request: field 'body' must be a string, a form_buffer or nil");
    if (!lua_isnil(L, R_HEADERS) && !lua_istable(L, R_HEADERS))
        luaL_error(L, "http_client:request: field 'headers' must be a table or nil");
    if (!lua_isnil(L, R_IDEMPOTENT) && !lua_isboolean(L, R_IDEMPOTENT))
        luaL_error(L, "http_client:request: field 'idempotent' must be a boolean or nil");
}

/* c:request(req): see the top of the file. The body (a string or a
 * core.form_buffer, read in place: no copy) stays referenced on the stack
 * until curl_easy_perform returns. */
static int l_request(lua_State *L)
{
    http_client *c = check_client(L);
    const char *verb, *body = NULL;
    size_t body_len = 0;
    CURLcode rc;
    long status = 0;
    int setopt_failed = 0, idempotent, custom;
    struct curl_slist *headers;

    if (c->curl == NULL)
        return luaL_error(L, "http_client is closed");
    read_request(L);
    if (!lua_isnil(L, R_BODY)) {
        body = egoi_encode_buffer_view(L, R_BODY, &body_len);
        if (body == NULL)
            body = lua_tolstring(L, R_BODY, &body_len);
    }
    verb = lua_isnil(L, R_VERB) ? (body != NULL ? "POST" : "GET") : lua_tostring(L, R_VERB);
    if (body != NULL && strcmp(verb, "GET") == 0)
        return luaL_error(L, "http_client:request: a GET request has no body");
    /* unless told, only a GET may be sent twice */
    idempotent = lua_isnil(L, R_IDEMPOTENT) ? strcmp(verb, "GET") == 0 : lua_toboolean(L, R_IDEMPOTENT);
    custom = strcmp(verb, "GET") != 0 && strcmp(verb, "POST") != 0;

    if (c->headers != NULL) { /* left by a request that raised */
        curl_slist_free_all(c->headers);
        c->headers = NULL;
    }
    headers = request_headers(L, c, body != NULL);

    c->body.len = 0;
    c->head.len = 0;
    c->hlines = 0;
    c->too_large = 0;
    c->head_too_large = 0;
    c->no_memory = 0;
    c->cut_on_signal = idempotent;
    c->interrupted = 0;
    c->errbuf[0] = '\0';
    if (curl_easy_setopt(c->curl, CURLOPT_URL, lua_tostring(L, R_URL)) != CURLE_OK)
        setopt_failed = 1;
    if (curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK)
        setopt_failed = 1;
    if (curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, idempotent ? 0L : 1L) != CURLE_OK)
        setopt_failed = 1;
    /* the progress callback only for a read (the one request it may end) */
    if (curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, idempotent ? 0L : 1L) != CURLE_OK)
        setopt_failed = 1;
    if (body != NULL || (strcmp(verb, "GET") != 0 && strcmp(verb, "DELETE") != 0)) {
        /* POST, PUT, PATCH (and DELETE with a body): the body is not
         * copied, libcurl reads it in place; none is an empty one. */
        if (curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body != NULL ? body : "") != CURLE_OK)
            setopt_failed = 1;
    } else {
        if (curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L) != CURLE_OK)
            setopt_failed = 1;
    }
    if (custom && curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, verb) != CURLE_OK)
        setopt_failed = 1;

    if (setopt_failed) {
        rc = CURLE_BAD_FUNCTION_ARGUMENT;
    } else {
        rc = curl_easy_perform(c->curl);
    }

    /* Drop every pointer into Lua strings and the header list now. */
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, (char *)NULL);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
    if (custom)
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    if (c->headers != NULL) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
        curl_slist_free_all(c->headers);
        c->headers = NULL;
    }

    if (rc != CURLE_OK) {
        const char *code = egoi_errors_curl_name((int)rc);
        int sent = maybe_sent(c->curl, rc);
        trim_buffer(c);
        lua_pushnil(L);
        if (c->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
            lua_pushliteral(L, "RESPONSE_TOO_LARGE");
            lua_pushfstring(L, "the response body is larger than max_response (%f bytes)",
                            (lua_Number)c->max_response);
            sent = 1;
        } else if (c->head_too_large) {
            lua_pushliteral(L, "RESPONSE_TOO_LARGE");
            lua_pushliteral(L, "the response headers are too large");
            sent = 1;
        } else if (rc == CURLE_ABORTED_BY_CALLBACK && c->interrupted != 0) {
            lua_pushliteral(L, "INTERRUPTED");
            lua_pushstring(L, c->interrupted == SIGTERM
                ? "interrupted by SIGTERM: the read was ended before its answer"
                : "interrupted by SIGINT: the read was ended before its answer");
        } else if (c->no_memory) {
            lua_pushliteral(L, "OUT_OF_MEMORY");
            lua_pushliteral(L, "out of memory while receiving the response");
        } else {
            lua_pushstring(L, code);
            lua_pushstring(L, c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(rc));
        }
        lua_pushboolean(L, sent);
        return 4;
    }

    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    lua_pushinteger(L, (lua_Integer)status);
    push_headers(L, c);
    lua_pushlstring(L, c->body.p != NULL ? c->body.p : "", c->body.len);
    trim_buffer(c);
    push_info(L, c->curl, lua_gettop(L) - 1);
    return 4;
}

/* core.curl_version() -> "libcurl/7.88.1 OpenSSL/3.0.x zlib/1.2.13",
 * "7.88.1". Built from curl_version_info(): curl_version() itself asks
 * libldap for its version, whose one-time SASL initialisation valgrind
 * reports as lost memory once the libraries are unloaded at exit. */
static int l_curl_version(lua_State *L)
{
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    const char *v = vi != NULL && vi->version != NULL ? vi->version : "?";
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "libcurl/");
    luaL_addstring(&b, v);
    if (vi != NULL && vi->ssl_version != NULL && vi->ssl_version[0] != '\0') {
        luaL_addchar(&b, ' ');
        luaL_addstring(&b, vi->ssl_version);
    }
    if (vi != NULL && vi->libz_version != NULL && vi->libz_version[0] != '\0') {
        luaL_addstring(&b, " zlib/");
        luaL_addstring(&b, vi->libz_version);
    }
    luaL_pushresult(&b);
    lua_pushstring(L, v);
    return 2;
}

static const luaL_Reg client_methods[] = {
    { "request", l_request },
    { "close", l_close },
    { NULL, NULL }
};

static const luaL_Reg module_funcs[] = {
    { "http_client", l_http_client },
    { "curl_version", l_curl_version },
    { NULL, NULL }
};

void egoi_transport_open(lua_State *L)
{
    /* curl_global_init is reference counted and thread-safe from libcurl
     * 7.84 on; each curl_global_init must be balanced by a
     * curl_global_cleanup, which we never call: the library stays
     * initialised for the life of the process (the module cannot be
     * unloaded safely while handles may exist anyway). With older libcurl
     * curl_easy_init would initialise it lazily, too. */
    curl_global_init(CURL_GLOBAL_DEFAULT);

    egoi_class(L, CLIENT_MT, client_methods, l_gc, l_tostring);
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    egoi_setfuncs(L, module_funcs, 0);
}
