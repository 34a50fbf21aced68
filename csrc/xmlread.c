/*
 * xmlread.c - the document reader of egoi.core (see xmlread.h): expat
 * builds a compact tree, converters in xmlrpc.c and soap.c turn it into
 * Lua values. No Lua function of its own; egoi_xmlread_open registers the
 * metatable whose __gc frees a reader.
 *
 * Why a tree rather than building Lua values from the callbacks: a Lua
 * memory error raised inside an expat handler leaves expat believing it is
 * still inside the handler, and XML_ParserFree of Debian's expat
 * 2.5.0-1+deb12u5 then frees nothing. Here nothing in a callback can
 * raise; the Lua values are built after XML_Parse returned, from memory a
 * userdata owns.
 */
#include "xmlread.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XR_MT "egoi.core.xml_reader"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define NS_XML "http://www.w3.org/XML/1998/namespace"

static const char *const xr_codes[] = {
    "", "MALFORMED_XML", "TOO_DEEP", "DOCTYPE_FORBIDDEN", "NOT_ENOUGH_MEMORY", "TOO_LARGE"
};

const char *egoi_xr_code_name(int code)
{
    return (code > EGOI_XR_NONE && code <= EGOI_XR_LARGE) ? xr_codes[code] : "MALFORMED_XML";
}

static void xr_release(egoi_xr *r)
{
    if (r->parser != NULL) {
        XML_ParserFree(r->parser);
        r->parser = NULL;
    }
    free(r->nodes);
    free(r->attrs);
    free(r->nm);
    free(r->hash);
    free(r->binds);
    r->nodes = NULL;
    r->attrs = NULL;
    r->nm = NULL;
    r->hash = NULL;
    r->binds = NULL;
    r->nnodes = r->capnodes = r->nattrs = r->capattrs = 0;
    r->nnm = r->capnm = r->hcap = r->nbinds = r->capbinds = 0;
    egoi_buf_free(&r->text);
    egoi_buf_free(&r->names);
    egoi_buf_free(&r->tb);
}

static int xr_gc(lua_State *L)
{
    egoi_xr *r = (egoi_xr *)lua_touserdata(L, 1);
    if (r != NULL)
        xr_release(r);
    return 0;
}

egoi_xr *egoi_xr_push(lua_State *L)
{
    egoi_xr *r = (egoi_xr *)lua_newuserdata(L, sizeof *r);
    memset(r, 0, sizeof *r);
    luaL_getmetatable(L, XR_MT);
    lua_setmetatable(L, -2);
    return r;
}

void egoi_xr_fail(egoi_xr *r, int code, int node, const char *fmt, ...)
{
    va_list ap;
    int n;
    unsigned long line = 0, column = 0;
    if (r->err != EGOI_XR_NONE)
        return;
    r->err = code;
    va_start(ap, fmt);
    n = vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    if (node >= 0 && (size_t)node < r->nnodes) {
        line = r->nodes[node].line;
    } else if (r->parser != NULL) { /* while parsing: expat's position, column too */
        line = (unsigned long)XML_GetCurrentLineNumber(r->parser);
        column = (unsigned long)XML_GetCurrentColumnNumber(r->parser) + 1;
    }
    if (line > 0 && n >= 0 && (size_t)n < sizeof r->msg) {
        if (column > 0)
            snprintf(r->msg + n, sizeof r->msg - (size_t)n, " at line %lu, column %lu", line, column);
        else
            snprintf(r->msg + n, sizeof r->msg - (size_t)n, " at line %lu", line);
    }
    if (r->parser != NULL)
        XML_StopParser(r->parser, XML_FALSE);
}

int egoi_xr_push_error(lua_State *L, const egoi_xr *r)
{
    lua_pushnil(L);
    lua_pushstring(L, egoi_xr_code_name(r->err));
    lua_pushstring(L, r->msg);
    return 3;
}

static int xr_grow(egoi_xr *r, void **p, size_t *cap, size_t need, size_t size)
{
    size_t ncap;
    void *np;
    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    if (ncap > (size_t)-1 / size / 2) {
        egoi_xr_fail(r, EGOI_XR_NOMEM, -1, "out of memory");
        return -1;
    }
    np = realloc(*p, ncap * size);
    if (np == NULL) {
        egoi_xr_fail(r, EGOI_XR_NOMEM, -1, "out of memory");
        return -1;
    }
    *p = np;
    *cap = ncap;
    return 0;
}

/* FNV-1a from a per-document seed (the reader's address and the clock),
 * so a document cannot be crafted to make a name or id table collide */
size_t egoi_xr_hash(const egoi_xr *r, const char *s, size_t n)
{
    size_t h = r->seed, i;
    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* the slot of s[0..n) in the name hash: its id's, or the empty one where
 * it would go */
static size_t xr_slot(const egoi_xr *r, const char *s, size_t n)
{
    size_t i = egoi_xr_hash(r, s, n) & (r->hcap - 1);
    for (; r->hash[i] != -1; i = (i + 1) & (r->hcap - 1)) {
        const egoi_xname *e = &r->nm[r->hash[i]];
        if (e->len == n && memcmp(r->names.p + e->off, s, n) == 0)
            break;
    }
    return i;
}

int egoi_xr_find(const egoi_xr *r, const char *s, size_t n)
{
    return r->hcap ? r->hash[xr_slot(r, s, n)] : -1;
}

/* the id of the name s[0..n), interned on first sight; -1 on failure */
static int xr_intern(egoi_xr *r, const char *s, size_t n)
{
    size_t i;
    if (r->nnm * 2 >= r->hcap) {
        size_t ncap = r->hcap ? r->hcap * 2 : 256, j;
        int *nh = (int *)malloc(ncap * sizeof *nh);
        if (nh == NULL) {
            egoi_xr_fail(r, EGOI_XR_NOMEM, -1, "out of memory");
            return -1;
        }
        for (j = 0; j < ncap; j++)
            nh[j] = -1;
        for (j = 0; j < r->nnm; j++) {
            size_t k = egoi_xr_hash(r, r->names.p + r->nm[j].off, r->nm[j].len) & (ncap - 1);
            while (nh[k] != -1)
                k = (k + 1) & (ncap - 1);
            nh[k] = (int)j;
        }
        free(r->hash);
        r->hash = nh;
        r->hcap = ncap;
    }
    i = xr_slot(r, s, n);
    if (r->hash[i] != -1)
        return r->hash[i];
    if (r->nnm >= EGOI_XR_MAX_NAMES) {
        egoi_xr_fail(r, EGOI_XR_LARGE, -1, "more than %d distinct names", EGOI_XR_MAX_NAMES);
        return -1;
    }
    /* Namespace mode interns "uri\1local": a long URI shared by many
     * distinct names would multiply it (a 1 MB document asking for GBs). */
    if (n >= (size_t)EGOI_XR_MAX_NAME_BYTES - r->names.len) {
        egoi_xr_fail(r, EGOI_XR_LARGE, -1, "distinct names longer than %d bytes in all",
                     EGOI_XR_MAX_NAME_BYTES);
        return -1;
    }
    if (xr_grow(r, (void **)&r->nm, &r->capnm, r->nnm + 1, sizeof *r->nm) != 0)
        return -1;
    r->nm[r->nnm].off = (unsigned int)r->names.len;
    r->nm[r->nnm].len = (unsigned int)n;
    if (!egoi_buf_add(&r->names, s, n) || !egoi_buf_addc(&r->names, '\0')) {
        egoi_xr_fail(r, EGOI_XR_NOMEM, -1, "out of memory");
        return -1;
    }
    r->hash[i] = (int)r->nnm;
    return (int)r->nnm++;
}

const char *egoi_xr_name(const egoi_xr *r, int id, size_t *len)
{
    if (len)
        *len = r->nm[id].len;
    return r->names.p + r->nm[id].off;
}

const char *egoi_xr_local(const egoi_xr *r, int id)
{
    const char *s = egoi_xr_name(r, id, NULL), *sep = strchr(s, EGOI_XR_SEP);
    return sep ? sep + 1 : s;
}

int egoi_xr_is(const egoi_xr *r, int id, const char *uri, const char *local)
{
    size_t n, ul = uri ? strlen(uri) : 0;
    const char *s;
    if (id < 0)
        return 0;
    s = egoi_xr_name(r, id, &n);
    if (uri == NULL)
        return strcmp(s, local) == 0;
    return n > ul && memcmp(s, uri, ul) == 0 && s[ul] == EGOI_XR_SEP && strcmp(s + ul + 1, local) == 0;
}

const char *egoi_xr_attr(const egoi_xr *r, int n, int name, size_t *len)
{
    int a;
    if (name < 0)
        return NULL;
    for (a = r->nodes[n].attr; a >= 0; a = r->attrs[a].next) {
        if (r->attrs[a].name == name) {
            /* text.p is NULL while every value stored is empty: NULL + 0
             * is undefined, and NULL would say "no such attribute" */
            *len = r->attrs[a].vlen;
            return r->text.p != NULL ? r->text.p + r->attrs[a].voff : "";
        }
    }
    return NULL;
}

char *egoi_xr_text(egoi_xr *r, int n, size_t *len)
{
    *len = r->nodes[n].tlen;
    return r->text.p != NULL ? r->text.p + r->nodes[n].toff : (char *)"";
}

static int xr_ws(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
    return 1;
}

int egoi_xr_blank(const egoi_xr *r, int n)
{
    const egoi_xnode *nd = &r->nodes[n];
    return !nd->mixed && (nd->tlen == 0 || xr_ws(r->text.p + nd->toff, nd->tlen));
}

static int xr_store_text(egoi_xr *r, const char *s, size_t n, unsigned int *off)
{
    if (r->text.len > UINT_MAX - n || !egoi_buf_add(&r->text, s, n)) {
        egoi_xr_fail(r, EGOI_XR_NOMEM, -1, "out of memory");
        return -1;
    }
    *off = (unsigned int)(r->text.len - n);
    return 0;
}

/* the namespace bound to prefix p[0..n) (n == 0: the default one), or -1 */
static int xr_resolve(egoi_xr *r, const char *p, size_t n)
{
    int pid = n ? xr_intern(r, p, n) : -1;
    size_t i = r->nbinds;
    if (n && pid < 0)
        return -1;
    while (i-- > 0)
        if (r->binds[i].prefix == pid)
            return r->binds[i].uri;
    if (n == 3 && memcmp(p, "xml", 3) == 0)
        return xr_intern(r, NS_XML, sizeof NS_XML - 1);
    return -1;
}

static void XMLCALL xr_ns_start(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
    egoi_xr *r = (egoi_xr *)ud;
    size_t ul = uri ? strlen(uri) : 0;
    int p, u;
    if (r->err != EGOI_XR_NONE)
        return;
    /* the URI is part of the name of every element and attribute in its
     * scope, hashed each time it is interned: a 1 MB one would make each
     * <a:x/> cost a megabyte of work */
    if (ul > EGOI_XR_MAX_URI) {
        egoi_xr_fail(r, EGOI_XR_LARGE, -1, "namespace URI of %zu bytes (more than %d)", ul,
                     EGOI_XR_MAX_URI);
        return;
    }
    p = prefix ? xr_intern(r, prefix, strlen(prefix)) : -1;
    u = xr_intern(r, uri ? uri : "", ul);
    if (r->err != EGOI_XR_NONE)
        return;
    if (r->nbinds >= EGOI_XR_MAX_BINDS) {
        egoi_xr_fail(r, EGOI_XR_LARGE, -1, "more than %d namespace declarations in scope",
                     EGOI_XR_MAX_BINDS);
        return;
    }
    if (xr_grow(r, (void **)&r->binds, &r->capbinds, r->nbinds + 1, sizeof *r->binds))
        return;
    r->binds[r->nbinds].prefix = p;
    r->binds[r->nbinds].uri = u;
    r->nbinds++;
}

static void XMLCALL xr_ns_end(void *ud, const XML_Char *prefix)
{
    egoi_xr *r = (egoi_xr *)ud;
    int p = prefix ? xr_intern(r, prefix, strlen(prefix)) : -1;
    size_t i = r->nbinds;
    if (r->err != EGOI_XR_NONE)
        return;
    while (i-- > 0) {
        if (r->binds[i].prefix == p) {
            memmove(r->binds + i, r->binds + i + 1, (r->nbinds - i - 1) * sizeof *r->binds);
            r->nbinds--;
            return;
        }
    }
}

/* the xsi:type QName v resolved while its bindings are in scope */
static int xr_type(egoi_xr *r, const char *v)
{
    const char *colon = strchr(v, ':');
    size_t pl = colon ? (size_t)(colon - v) : 0;
    const char *loc = colon ? colon + 1 : v;
    int uri = xr_resolve(r, v, pl), id;
    size_t ulen, ll, tot;
    const char *us;
    char small[256], *tmp;
    if (uri < 0)
        return -2;
    us = egoi_xr_name(r, uri, &ulen);
    ll = strlen(loc);
    tot = ulen + 1 + ll;
    tmp = tot <= sizeof small ? small : (char *)malloc(tot);
    if (tmp == NULL) {
        egoi_xr_fail(r, EGOI_XR_NOMEM, -1, "out of memory");
        return -2;
    }
    memcpy(tmp, us, ulen);
    tmp[ulen] = EGOI_XR_SEP;
    memcpy(tmp + ulen + 1, loc, ll);
    id = xr_intern(r, tmp, tot);
    if (tmp != small)
        free(tmp);
    return id < 0 ? -2 : id;
}

static void XMLCALL xr_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    egoi_xr *r = (egoi_xr *)ud;
    egoi_xnode *nd;
    unsigned long line;
    int id, i, prev = -1;
    if (r->err != EGOI_XR_NONE)
        return;
    if (r->depth >= r->max_depth) {
        egoi_xr_fail(r, EGOI_XR_DEEP, -1, "<%.40s> nested deeper than %d levels", name, r->max_depth);
        return;
    }
    if (r->nnodes >= EGOI_XR_MAX_NODES) {
        egoi_xr_fail(r, EGOI_XR_LARGE, -1, "more than %d elements", EGOI_XR_MAX_NODES);
        return;
    }
    if (xr_grow(r, (void **)&r->nodes, &r->capnodes, r->nnodes + 1, sizeof *r->nodes) != 0)
        return;
    id = (int)r->nnodes++;
    nd = &r->nodes[id];
    nd->first = nd->next = -1;
    nd->type = -1;
    nd->attr = -1;
    nd->toff = nd->tlen = 0;
    line = (unsigned long)XML_GetCurrentLineNumber(r->parser);
    nd->line = line > 0x7FFFFFFFUL ? 0x7FFFFFFFU : (unsigned int)line;
    nd->mixed = 0;
    nd->name = xr_intern(r, name, strlen(name));
    for (i = 0; atts[i] != NULL; i += 2) {
        size_t vl = strlen(atts[i + 1]);
        int an = xr_intern(r, atts[i], strlen(atts[i]));
        int ai;
        if (r->err != EGOI_XR_NONE ||
            xr_grow(r, (void **)&r->attrs, &r->capattrs, r->nattrs + 1, sizeof *r->attrs) != 0)
            return;
        ai = (int)r->nattrs++;
        r->attrs[ai].name = an;
        r->attrs[ai].next = -1;
        r->attrs[ai].vlen = (unsigned int)vl;
        if (xr_store_text(r, atts[i + 1], vl, &r->attrs[ai].voff) != 0)
            return;
        if (prev < 0)
            r->nodes[id].attr = ai;
        else
            r->attrs[prev].next = ai;
        prev = ai;
        if ((r->flags & EGOI_XR_NS) && an == r->q_xsi_type) {
            int ty = xr_type(r, atts[i + 1]);
            if (r->err != EGOI_XR_NONE)
                return;
            r->nodes[id].type = ty;
        }
    }
    if (r->err != EGOI_XR_NONE)
        return;
    if (r->depth > 0) {
        int pa = r->stack[r->depth - 1];
        if (r->lastkid[r->depth - 1] < 0) {
            r->nodes[pa].first = id;
            if (!xr_ws(r->tb.p, r->tb.len)) /* text before the first child */
                r->nodes[pa].mixed = 1;
        } else {
            r->nodes[r->lastkid[r->depth - 1]].next = id;
        }
        r->lastkid[r->depth - 1] = id;
    }
    r->stack[r->depth] = id;
    r->lastkid[r->depth] = -1;
    r->depth++;
    r->tb.len = 0;
}

static void XMLCALL xr_end(void *ud, const XML_Char *name)
{
    egoi_xr *r = (egoi_xr *)ud;
    int id;
    (void)name;
    if (r->err != EGOI_XR_NONE || r->depth == 0)
        return;
    id = r->stack[--r->depth];
    if (r->nodes[id].first < 0 && r->tb.len > 0) {
        unsigned int off;
        if (xr_store_text(r, r->tb.p, r->tb.len, &off) != 0)
            return;
        r->nodes[id].toff = off;
        r->nodes[id].tlen = (unsigned int)r->tb.len;
    }
    r->tb.len = 0;
}

static void XMLCALL xr_chars(void *ud, const XML_Char *s, int len)
{
    egoi_xr *r = (egoi_xr *)ud;
    int id;
    if (r->err != EGOI_XR_NONE || r->depth == 0 || len <= 0)
        return;
    id = r->stack[r->depth - 1];
    if (r->nodes[id].first >= 0) { /* text after a child: only noted */
        if (!xr_ws(s, (size_t)len))
            r->nodes[id].mixed = 1;
        return;
    }
    if (!egoi_buf_add(&r->tb, s, (size_t)len))
        egoi_xr_fail(r, EGOI_XR_NOMEM, -1, "out of memory");
}

static void XMLCALL xr_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    egoi_xr_fail((egoi_xr *)ud, EGOI_XR_DOCTYPE, -1, "DOCTYPE declaration (<!DOCTYPE %.40s>) refused", name);
}

static void XMLCALL xr_entity_decl(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                                   int value_length, const XML_Char *base, const XML_Char *sysid,
                                   const XML_Char *pubid, const XML_Char *notation)
{
    (void)is_param;
    (void)value;
    (void)value_length;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    egoi_xr_fail((egoi_xr *)ud, EGOI_XR_DOCTYPE, -1, "entity declaration (%.40s) refused", name);
}

static int XMLCALL xr_external(XML_Parser p, const XML_Char *context, const XML_Char *base,
                               const XML_Char *sysid, const XML_Char *pubid)
{
    (void)p;
    (void)context;
    (void)base;
    (void)sysid;
    (void)pubid;
    return XML_STATUS_ERROR; /* never fetched; unreachable without a DOCTYPE */
}

int egoi_xr_parse(egoi_xr *r, const char *body, size_t len, size_t max, int flags, int max_depth)
{
    r->flags = flags;
    r->max_depth = (max_depth > 0 && max_depth < EGOI_XR_MAX_DEPTH) ? max_depth : EGOI_XR_MAX_DEPTH;
    r->depth = 0;
    r->seed = (size_t)2166136261u ^ ((size_t)(uintptr_t)r * (size_t)0x9E3779B97F4A7C15ull) ^ (size_t)time(NULL);
    if (len > max) {
        egoi_xr_fail(r, EGOI_XR_LARGE, -1, "document of %zu bytes exceeds the limit of %zu bytes", len, max);
        return -1;
    }
    if (len > (size_t)INT_MAX) {
        egoi_xr_fail(r, EGOI_XR_LARGE, -1, "document larger than 2 GiB");
        return -1;
    }
    r->q_xsi_type = -1;
    if (flags & EGOI_XR_NS) {
        r->q_xsi_type = xr_intern(r, NS_XSI "\x01type", sizeof NS_XSI + 4);
        if (r->err != EGOI_XR_NONE)
            return -1;
        r->parser = XML_ParserCreateNS(NULL, EGOI_XR_SEP);
    } else {
        r->parser = XML_ParserCreate(NULL);
    }
    if (r->parser == NULL) {
        egoi_xr_fail(r, EGOI_XR_NOMEM, -1, "out of memory");
        return -1;
    }
    XML_SetUserData(r->parser, r);
    XML_SetElementHandler(r->parser, xr_start, xr_end);
    XML_SetCharacterDataHandler(r->parser, xr_chars);
    if (flags & EGOI_XR_NS)
        XML_SetNamespaceDeclHandler(r->parser, xr_ns_start, xr_ns_end);
    XML_SetStartDoctypeDeclHandler(r->parser, xr_doctype);
    XML_SetEntityDeclHandler(r->parser, xr_entity_decl);
    XML_SetExternalEntityRefHandler(r->parser, xr_external);
    XML_SetParamEntityParsing(r->parser, XML_PARAM_ENTITY_PARSING_NEVER);
#if defined(XML_DTD) && (XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 4))
    /* Belt and braces: no DOCTYPE gets through, so no entity can expand. */
    XML_SetBillionLaughsAttackProtectionMaximumAmplification(r->parser, 2.0f);
    XML_SetBillionLaughsAttackProtectionActivationThreshold(r->parser, 1024 * 1024);
#endif
    if (XML_Parse(r->parser, body, (int)len, 1) != XML_STATUS_OK && r->err == EGOI_XR_NONE)
        egoi_xr_fail(r, EGOI_XR_MALFORMED, -1, "%s", XML_ErrorString(XML_GetErrorCode(r->parser)));
    if (r->err == EGOI_XR_NONE && r->nnodes == 0)
        egoi_xr_fail(r, EGOI_XR_MALFORMED, -1, "no element");
    XML_ParserFree(r->parser);
    r->parser = NULL;
    egoi_buf_free(&r->tb);
    return r->err == EGOI_XR_NONE ? 0 : -1;
}

void egoi_xmlread_open(lua_State *L)
{
    luaL_newmetatable(L, XR_MT);
    lua_pushcfunction(L, xr_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
}
