/*
 * xmlwrite.c - the machinery shared by the XML request writers (see
 * xmlwrite.h): xmlrpc_request and soap_request each keep only what their
 * protocol writes.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xmlwrite.h"

#define XW_PATH_MAX 320 /* bytes of a formatted path, then it is cut */
#define XW_KEY_MAX 64   /* bytes of one key shown in a path */

void egoi_xw_init(egoi_xw *w, lua_State *L, egoi_buf *b, const char *fn, const char *root)
{
    memset(w, 0, sizeof *w);
    w->L = L;
    w->b = b;
    w->fn = fn;
    w->root = root;
}

static egoi_xw_seg *xw_push(egoi_xw *w)
{
    /* the writers refuse nesting past EGOI_XW_MAX_DEPTH before this fills */
    if (w->npath >= (int)(sizeof w->path / sizeof w->path[0]))
        egoi_xw_fail(w, "tables nested deeper than 32 levels (cycle?)");
    return &w->path[w->npath++];
}

void egoi_xw_push_key(egoi_xw *w, const char *s, size_t len)
{
    egoi_xw_seg *g = xw_push(w);
    g->s = s;
    g->len = len;
    g->idx = 0;
}

void egoi_xw_push_index(egoi_xw *w, lua_Integer i)
{
    egoi_xw_seg *g = xw_push(w);
    g->s = NULL;
    g->len = 0;
    g->idx = i;
}

void egoi_xw_pop(egoi_xw *w)
{
    if (w->npath > 0)
        w->npath--;
}

/* Appends s[0..len) to out (n bytes used of cap), printable ASCII as is,
 * other bytes as \xNN, as much as fits. */
static void path_add(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
    size_t i;
    for (i = 0; i < len && *n + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F) {
            out[(*n)++] = (char)c;
        } else {
            snprintf(out + *n, cap - *n, "\\x%02X", c);
            *n += 4;
        }
    }
    out[*n] = '\0';
}

static void path_format(const egoi_xw *w, char *out, size_t cap)
{
    size_t n = 0;
    int i;
    out[0] = '\0';
    if (w->npath == 0) {
        path_add(out, cap, &n, w->root, strlen(w->root));
        return;
    }
    for (i = 0; i < w->npath; i++) {
        const egoi_xw_seg *g = &w->path[i];
        if (g->s == NULL) {
            char tmp[32];
            int k = snprintf(tmp, sizeof tmp, "[%lld]", (long long)g->idx);
            path_add(out, cap, &n, tmp, (size_t)k);
        } else {
            if (i > 0)
                path_add(out, cap, &n, ".", 1);
            path_add(out, cap, &n, g->s, g->len > XW_KEY_MAX ? XW_KEY_MAX : g->len);
        }
    }
}

/* Only userdata-owned memory is live when a writer raises: nothing leaks. */
int egoi_xw_fail(egoi_xw *w, const char *what)
{
    char path[XW_PATH_MAX];
    path_format(w, path, sizeof path);
    return luaL_error(w->L, "%s: %s at %s", w->fn, what, path);
}

int egoi_xw_failf(egoi_xw *w, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return egoi_xw_fail(w, msg);
}

void egoi_xw_nest(egoi_xw *w, int depth)
{
    if (depth > EGOI_XW_MAX_DEPTH)
        egoi_xw_fail(w, "tables nested deeper than 32 levels (cycle?)");
    if (!lua_checkstack(w->L, 8)) /* the words of luaL_checkstack's message */
        luaL_error(w->L, "stack overflow (%s: nesting)", w->fn);
}

static int xw_nomem(egoi_xw *w)
{
    return luaL_error(w->L, "%s: not enough memory", w->fn);
}

void egoi_xw_put(egoi_xw *w, const char *s, size_t n)
{
    if (!egoi_buf_add(w->b, s, n))
        xw_nomem(w);
}

void egoi_xw_str(egoi_xw *w, const char *s)
{
    egoi_xw_put(w, s, strlen(s));
}

void egoi_xw_text(egoi_xw *w, const char *s, size_t n, const char *what)
{
    size_t at = 0;
    int rc = egoi_buf_add_xml(w->b, s, n, &at);
    if (rc == EGOI_XML_NOMEM) {
        xw_nomem(w);
    } else if (rc != EGOI_XML_OK) {
        char msg[112];
        egoi_xml_text_error(msg, sizeof msg, rc, s, at, what);
        egoi_xw_fail(w, msg);
    }
}

void egoi_xw_open(egoi_xw *w, const char *tag)
{
    egoi_xw_lit(w, "<");
    egoi_xw_str(w, tag);
}

void egoi_xw_close(egoi_xw *w, const char *tag)
{
    egoi_xw_lit(w, "</");
    egoi_xw_str(w, tag);
    egoi_xw_lit(w, ">");
}

egoi_key *egoi_xw_keys(egoi_xw *w, int t, size_t n, const char *what, int *orig)
{
    lua_State *L = w->L;
    egoi_key *keys = NULL;
    int info = 0;
    *orig = lua_gettop(L) + 2;
    switch (egoi_keys_as_strings(L, t, n, &keys, &info)) {
    case EGOI_KEYS_BADTYPE:
        egoi_xw_failf(w, "a %s key cannot be a %s",
                      info == LUA_TNUMBER ? "non-integer number" : lua_typename(L, info), what);
        break;
    case EGOI_KEYS_CHANGED:
        egoi_xw_fail(w, "table changed while it was being encoded (by a __gc finalizer?)");
        break;
    case EGOI_KEYS_DUP:
        egoi_xw_push_key(w, keys[info].s, keys[info].len);
        egoi_xw_failf(w, "duplicate %s (a number key and the same string key)", what);
        break;
    default:
        break;
    }
    return keys;
}
