/*
 * soap.c - SOAP for egoi.core: the request writer and the answer converter.
 *
 *   core.soap_request(ns, op, params[, part]) -> SOAP 1.1 envelope (string)
 *       the bytes PHP SoapClient writes (egoi-v2-soap.md §3.1, §7): params
 *       as an Apache Map (ns2:Map), sequences as SOAP-ENC:Array with
 *       arrayType, strings xsd:string, integers xsd:int, other numbers
 *       xsd:float, booleans xsd:boolean; namespace declarations on the
 *       Envelope in first-use order; params nil -> an operation without parts.
 *   core.soap_response(body[, max_bytes]) -> true, value
 *       | false, { faultcode =, faultstring =, version = "1.1"|"1.2" }
 *       | nil, code, message   (MALFORMED_XML, TOO_LARGE, TOO_DEEP, DOCTYPE_FORBIDDEN)
 *       SOAP 1.1 and 1.2 envelopes; the value of the response element's
 *       `return` part in the neutral result shape (README "Results"):
 *       ns2:Map -> table (integer / digit keys -> key_<id>, a list when they
 *       are exactly 0..n-1), SOAP-ENC:Array -> sequence, SOAP-ENC:Struct or
 *       untyped elements -> table (a repeated name -> sequence), scalars ->
 *       their text (xsd:boolean -> "1"/"0"), xsi:nil -> "", a nested empty
 *       Map/Array -> "". href/id (1.1) and enc:ref/enc:id (1.2) references
 *       are followed; a cycle is MALFORMED_XML and the values a document may
 *       expand to are bounded (TOO_LARGE), so a reference bomb stays small.
 *
 * Answers are read by the shared document reader (xmlread.c) in namespace
 * mode; the converter below walks its tree and builds the Lua values (a
 * memory error can only be raised outside expat, and the reader's userdata
 * frees everything).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "xmlread.h"
#include "xmlwrite.h"

#define NS_ENV11 "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_ENV12 "http://www.w3.org/2003/05/soap-envelope"
#define NS_ENC11 "http://schemas.xmlsoap.org/soap/encoding/"
#define NS_ENC12 "http://www.w3.org/2003/05/soap-encoding"
#define NS_RPC12 "http://www.w3.org/2003/05/soap-rpc"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define NS_XSD "http://www.w3.org/2001/XMLSchema"
#define NS_MAP "http://xml.apache.org/xml-soap"

/* ------------------------------------------------------------------ */
/* The request writer                                                   */
/* ------------------------------------------------------------------ */

enum { U_XSI, U_XSD, U_MAP, U_ENC, U_COUNT };
static const char *const ns_decl[U_COUNT] = {
    " xmlns:xsi=\"" NS_XSI "\"", " xmlns:xsd=\"" NS_XSD "\"", " xmlns:ns2=\"" NS_MAP "\"",
    " xmlns:SOAP-ENC=\"" NS_ENC11 "\""
};

/* value kinds, with the type QName PHP writes and its namespace */
enum { V_STRING, V_INT, V_FLOAT, V_BOOL, V_MAP, V_ARRAY, V_MIXED };
static const char *const v_type[] = {
    "xsd:string", "xsd:int", "xsd:float", "xsd:boolean", "ns2:Map", "SOAP-ENC:Array", "xsd:ur-type"
};
static const int v_ns[] = { U_XSD, U_XSD, U_XSD, U_XSD, U_MAP, U_ENC, U_XSD };

/* The envelope is written into an egoi_buf owned by a userdata
 * (egoi_buf_push) through the shared writer (xmlwrite.h); the namespaces
 * the body used are noted for the Envelope's declarations. */
typedef struct {
    egoi_xw x;
    int used[U_COUNT];
    int order[U_COUNT];
    int nused;
} writer;

static void w_use(writer *w, int ns)
{
    if (!w->used[ns]) {
        w->used[ns] = 1;
        w->order[w->nused++] = ns;
    }
}

/* 1 when the table at t is a sequence 1..n (n >= 0; an empty table is an
 * empty list, as PHP's array()), the count in *n */
static int w_is_seq(lua_State *L, int t, size_t *n)
{
    lua_Integer k, maxk = 0;
    int seq = 1;
    *n = 0;
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        lua_pop(L, 1);
        (*n)++;
        if (seq && lua_type(L, -1) == LUA_TNUMBER && egoi_isinteger(L, -1, &k) && k >= 1) {
            if (k > maxk)
                maxk = k;
        } else {
            seq = 0;
        }
    }
    return seq && (size_t)maxk == *n;
}

static int w_kind(writer *w, int idx)
{
    lua_State *L = w->x.L;
    lua_Integer iv;
    size_t n;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: return V_STRING;
    case LUA_TBOOLEAN: return V_BOOL;
    case LUA_TNUMBER: return egoi_isinteger(L, idx, &iv) ? V_INT : V_FLOAT;
    case LUA_TTABLE: return w_is_seq(L, idx, &n) ? V_ARRAY : V_MAP;
    default: return egoi_xw_failf(&w->x, "cannot encode a %s value", luaL_typename(L, idx));
    }
}

static void w_value(writer *w, int idx, const char *tag, int depth);

/* PHP turns a canonical decimal string key into an integer key */
static int w_int_key(const char *s, size_t n)
{
    size_t i = 0;
    if (n > 0 && s[0] == '-')
        i = 1;
    if (i >= n || n - i > 18 || (s[i] == '0' && n - i > 1) || (i == 1 && s[1] == '0'))
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* the items of the Map at t (sorted keys: deterministic bodies) */
static void w_map(writer *w, int t, int depth)
{
    egoi_xw *x = &w->x;
    lua_State *L = x->L;
    size_t n = 0;
    int ko, j;
    egoi_key *keys;
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        lua_pop(L, 1);
        n++;
    }
    if (n == 0)
        return;
    if (n > (size_t)INT_MAX / 2)
        egoi_xw_fail(x, "table too large");
    keys = egoi_xw_keys(x, t, n, "Map key", &ko);
    for (j = 0; j < (int)n; j++) {
        egoi_xw_push_key(x, keys[j].s, keys[j].len);
        if (w_int_key(keys[j].s, keys[j].len))
            egoi_xw_lit(x, "<item><key xsi:type=\"xsd:int\">");
        else
            egoi_xw_lit(x, "<item><key xsi:type=\"xsd:string\">");
        egoi_xw_text(x, keys[j].s, keys[j].len, "key");
        egoi_xw_lit(x, "</key>");
        w_use(w, U_XSI);
        w_use(w, U_XSD);
        lua_rawgeti(L, ko, keys[j].slot);
        lua_rawget(L, t);
        w_value(w, lua_gettop(L), "value", depth);
        lua_pop(L, 1);
        egoi_xw_lit(x, "</item>");
        egoi_xw_pop(x);
    }
    lua_pop(L, 3);
}

static void w_array(writer *w, int t, const char *tag, int depth)
{
    egoi_xw *x = &w->x;
    lua_State *L = x->L;
    size_t n = 0, i;
    int common = -1;
    char tmp[64];
    w_is_seq(L, t, &n);
    if (n > (size_t)INT_MAX)
        egoi_xw_fail(x, "table too large");
    for (i = 1; i <= n; i++) {
        int k;
        lua_rawgeti(L, t, (int)i);
        k = w_kind(w, lua_gettop(L));
        lua_pop(L, 1);
        common = (common == -1 || common == k) ? k : V_MIXED;
    }
    if (common == -1)
        common = V_MIXED;
    egoi_xw_open(x, tag);
    egoi_xw_lit(x, " SOAP-ENC:arrayType=\"");
    egoi_xw_str(x, v_type[common]);
    snprintf(tmp, sizeof tmp, "[%zu]\" xsi:type=\"SOAP-ENC:Array\"", n);
    egoi_xw_str(x, tmp);
    if (n == 0) {
        egoi_xw_lit(x, "/>");
    } else {
        egoi_xw_lit(x, ">");
        for (i = 1; i <= n; i++) {
            egoi_xw_push_index(x, (lua_Integer)i);
            lua_rawgeti(L, t, (int)i);
            w_value(w, lua_gettop(L), "item", depth);
            lua_pop(L, 1);
            egoi_xw_pop(x);
        }
        egoi_xw_close(x, tag);
    }
    w_use(w, U_ENC);
    w_use(w, v_ns[common]);
    w_use(w, U_XSI);
}

static void w_value(writer *w, int idx, const char *tag, int depth)
{
    egoi_xw *x = &w->x;
    lua_State *L = x->L;
    int k = w_kind(w, idx);
    if (k == V_MAP || k == V_ARRAY) {
        egoi_xw_nest(x, depth + 1);
        if (k == V_ARRAY) {
            w_array(w, idx, tag, depth + 1);
            return;
        }
        egoi_xw_open(x, tag);
        egoi_xw_lit(x, " xsi:type=\"ns2:Map\">");
        w_map(w, idx, depth + 1);
        egoi_xw_close(x, tag);
        w_use(w, U_XSI);
        w_use(w, U_MAP);
        return;
    }
    egoi_xw_open(x, tag);
    egoi_xw_lit(x, " xsi:type=\"");
    egoi_xw_str(x, v_type[k]);
    egoi_xw_lit(x, "\">");
    if (k == V_STRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        egoi_xw_text(x, s, n, "string");
    } else if (k == V_BOOL) {
        if (lua_toboolean(L, idx))
            egoi_xw_lit(x, "true");
        else
            egoi_xw_lit(x, "false");
    } else {
        char tmp[EGOI_NUM_MAX];
        size_t len;
        lua_Integer iv = 0;
        if (k == V_INT) {
            egoi_isinteger(L, idx, &iv);
            len = egoi_fmt_integer(tmp, iv);
        } else {
            double d = (double)lua_tonumber(L, idx);
            if (isnan(d) || isinf(d))
                egoi_xw_fail(x, "NaN or infinity cannot be encoded");
            len = egoi_fmt_float(tmp, d);
        }
        egoi_xw_put(x, tmp, len);
    }
    egoi_xw_close(x, tag);
    w_use(w, U_XSI);
    w_use(w, v_ns[k]);
}

static int valid_name(const char *m, size_t n)
{
    size_t i;
    if (n == 0 || n > 256)
        return 0;
    for (i = 0; i < n; i++) {
        char c = m[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9' && i > 0) ||
              c == '_'))
            return 0;
    }
    return 1;
}

static int l_soap_request(lua_State *L)
{
    size_t nslen, oplen, plen = 15, i;
    const char *ns = luaL_checklstring(L, 1, &nslen);
    const char *op = luaL_checklstring(L, 2, &oplen);
    const char *part = "functionOptions";
    writer w;
    egoi_buf *b;
    if (!valid_name(op, oplen))
        return luaL_argerror(L, 2, "operation name must be 1-256 of A-Z a-z 0-9 _");
    for (i = 0; i < nslen; i++)
        if (ns[i] == '"' || ns[i] == '<' || ns[i] == '&' || (unsigned char)ns[i] < 0x20)
            return luaL_argerror(L, 1, "namespace must be a URI without \" < & or control characters");
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    if (!lua_isnoneornil(L, 4)) {
        part = luaL_checklstring(L, 4, &plen);
        if (!valid_name(part, plen))
            return luaL_argerror(L, 4, "part name must be 1-256 of A-Z a-z 0-9 _");
    }
    lua_settop(L, 4);
    b = egoi_buf_push(L); /* index 5 */
    memset(&w, 0, sizeof w);
    egoi_xw_init(&w.x, L, b, "soap_request", "functionOptions");
    egoi_xw_lit(&w.x, "<SOAP-ENV:Body><ns1:");
    egoi_xw_str(&w.x, op);
    if (lua_istable(L, 3)) {
        egoi_xw_lit(&w.x, ">");
        egoi_xw_open(&w.x, part);
        egoi_xw_lit(&w.x, " xsi:type=\"ns2:Map\">");
        w_map(&w, 3, 1);
        egoi_xw_close(&w.x, part);
        egoi_xw_lit(&w.x, "</ns1:");
        egoi_xw_str(&w.x, op);
        egoi_xw_lit(&w.x, "></SOAP-ENV:Body></SOAP-ENV:Envelope>\n");
        w_use(&w, U_XSI);
        w_use(&w, U_MAP);
    } else {
        egoi_xw_lit(&w.x, "/></SOAP-ENV:Body></SOAP-ENV:Envelope>\n");
    }
    w_use(&w, U_XSD);
    w_use(&w, U_ENC);
    /* head: declarations in first-use order (PHP's), then the body */
    lua_pushliteral(L, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"" NS_ENV11 "\" xmlns:ns1=\"");
    lua_pushlstring(L, ns, nslen);
    lua_pushliteral(L, "\"");
    for (i = 0; i < (size_t)w.nused; i++)
        lua_pushstring(L, ns_decl[w.order[i]]);
    lua_pushliteral(L, " SOAP-ENV:encodingStyle=\"" NS_ENC11 "\">");
    lua_pushlstring(L, b->p, b->len);
    egoi_buf_free(b);
    lua_concat(L, 5 + w.nused);
    return 1;
}

/* ------------------------------------------------------------------ */
/* SOAP answers: the reader's tree (xmlread.c) to the neutral shape     */
/* ------------------------------------------------------------------ */

#define SP_MAX_VALUE_DEPTH 64
#define SP_DEFAULT_MAX ((lua_Integer)64 * 1024 * 1024)

/* a slot of the id hash: the element and its id (in the reader's text) */
typedef struct {
    int node; /* -1: an empty slot */
    size_t len;
    const char *v;
} sp_id;

/* node flags (soapconv.fl) */
#define SP_BUSY 1  /* being expanded (cycle check) */
#define SP_KNOWN 2 /* SP_NIL and SP_ARRAY are set */
#define SP_NIL 4   /* xsi:nil="true" */
#define SP_ARRAY 8 /* an encoded array */

/* The state of one conversion; the id table and the per-node arrays are
 * Lua userdata (nothing to free when a memory error unwinds). With
 * references, one element may be converted many times: what its
 * attributes say is then worked out once (tgt, fl), and every value and
 * every byte of text pushed is counted against a budget. */
typedef struct {
    egoi_xr *r;
    int q_xsi_nil, q_href, q_id, q_ref12, q_id12; /* interned names, -1 when absent */
    sp_id *ids;                                  /* id hash, idcap slots */
    size_t idcap;
    int *tgt;          /* per node: its reference's target + 1, 0 until known */
    unsigned char *fl; /* per node: SP_* flags */
    size_t expanded, max_expanded;
    size_t bytes, max_bytes; /* text and key bytes pushed */
} soapconv;

/* the id (1.1 `id`, 1.2 `enc:id`) of node n, or NULL */
static const char *sp_idval(const soapconv *s, int n, size_t *len)
{
    const char *v = egoi_xr_attr(s->r, n, s->q_id, len);
    return v != NULL ? v : egoi_xr_attr(s->r, n, s->q_id12, len);
}

/* the slot of id v[0..n) in the id hash: its own, or the empty one where
 * it would go */
static size_t sp_find_slot(const soapconv *s, const char *v, size_t n)
{
    size_t h = egoi_xr_hash(s->r, v, n) & (s->idcap - 1);
    while (s->ids[h].node != -1) {
        const sp_id *e = &s->ids[h];
        if (e->len == n && memcmp(e->v, v, n) == 0)
            break;
        h = (h + 1) & (s->idcap - 1);
    }
    return h;
}

/* The id table and the per-node arrays, made before the walk when the
 * document has references: three userdata pushed on the stack. */
static void sp_build_ids(lua_State *L, soapconv *s)
{
    const egoi_xr *r = s->r;
    size_t i, cap = 16;
    while (cap < r->nnodes * 2)
        cap *= 2;
    s->ids = (sp_id *)lua_newuserdata(L, cap * sizeof *s->ids);
    s->fl = (unsigned char *)lua_newuserdata(L, r->nnodes);
    memset(s->fl, 0, r->nnodes);
    s->tgt = (int *)lua_newuserdata(L, r->nnodes * sizeof *s->tgt);
    memset(s->tgt, 0, r->nnodes * sizeof *s->tgt);
    s->idcap = cap;
    for (i = 0; i < cap; i++)
        s->ids[i].node = -1;
    for (i = 0; i < r->nnodes; i++) {
        size_t n = 0, h;
        const char *v = sp_idval(s, (int)i, &n);
        if (v == NULL)
            continue;
        /* the id is kept with the slot: comparing never walks the
         * attributes of the element again (one with 20,000 of them,
         * referenced 20,000 times, would cost 400M steps) */
        h = sp_find_slot(s, v, n);
        if (s->ids[h].node == -1) { /* the first element of an id wins */
            s->ids[h].node = (int)i;
            s->ids[h].len = n;
            s->ids[h].v = v;
        }
    }
}

static int sp_find_id(const soapconv *s, const char *v, size_t n)
{
    return s->ids == NULL ? -1 : s->ids[sp_find_slot(s, v, n)].node;
}

/* the element a reference node points to (itself when it is none); -1
 * with the reader's error set for a dangling reference */
static int sp_target(soapconv *s, int n)
{
    size_t len;
    const char *v;
    int t;
    if (s->tgt != NULL && s->tgt[n] > 0)
        return s->tgt[n] - 1;
    v = egoi_xr_attr(s->r, n, s->q_href, &len);
    if (v != NULL) {
        if (len == 0 || v[0] != '#') {
            egoi_xr_fail(s->r, EGOI_XR_MALFORMED, n, "href \"%.*s\" is not a local reference",
                         (int)(len > 40 ? 40 : len), v);
            return -1;
        }
        v++;
        len--;
    } else {
        v = egoi_xr_attr(s->r, n, s->q_ref12, &len);
        if (v == NULL) {
            if (s->tgt != NULL)
                s->tgt[n] = n + 1;
            return n;
        }
        if (len > 0 && v[0] == '#') { /* an IDREF; PHP writes "#ref1" */
            v++;
            len--;
        }
    }
    t = sp_find_id(s, v, len);
    if (t < 0)
        egoi_xr_fail(s->r, EGOI_XR_MALFORMED, n, "reference to an unknown id \"%.*s\"",
                     (int)(len > 40 ? 40 : len), v);
    else if (s->tgt != NULL)
        s->tgt[n] = t + 1;
    return t;
}

static int sp_is_array(const egoi_xr *r, int n)
{
    int a;
    int t = r->nodes[n].type;
    if (t >= 0)
        return egoi_xr_is(r, t, NS_ENC11, "Array") || egoi_xr_is(r, t, NS_ENC12, "Array");
    for (a = r->nodes[n].attr; a >= 0; a = r->attrs[a].next) {
        int an = r->attrs[a].name;
        if (egoi_xr_is(r, an, NS_ENC11, "arrayType") || egoi_xr_is(r, an, NS_ENC12, "itemType") ||
            egoi_xr_is(r, an, NS_ENC12, "arraySize"))
            return 1;
    }
    return 0;
}

/* SP_NIL and SP_ARRAY for node n (worked out once when there are
 * references) */
static int sp_facts(soapconv *s, int n)
{
    size_t len;
    const char *nil;
    int f = 0;
    if (s->fl != NULL && (s->fl[n] & SP_KNOWN))
        return s->fl[n];
    nil = egoi_xr_attr(s->r, n, s->q_xsi_nil, &len);
    if (nil != NULL && ((len == 4 && memcmp(nil, "true", 4) == 0) || (len == 1 && nil[0] == '1')))
        f |= SP_NIL;
    if (sp_is_array(s->r, n))
        f |= SP_ARRAY;
    if (s->fl != NULL)
        s->fl[n] |= (unsigned char)(f | SP_KNOWN);
    return f;
}

/* "key_<canonical decimal>" or a canonical decimal (as_id) -> position, else -1 */
static long sp_position(const char *s, size_t n, int *digits)
{
    size_t i, start = 0;
    long v = 0;
    *digits = 0;
    if (n > 0 && s[0] >= '0' && s[0] <= '9') {
        for (i = 0; i < n; i++)
            if (s[i] < '0' || s[i] > '9')
                return -1;
        *digits = 1;
    } else if (n > 4 && memcmp(s, "key_", 4) == 0) {
        start = 4;
        for (i = 4; i < n; i++)
            if (s[i] < '0' || s[i] > '9')
                return -1;
    } else {
        return -1;
    }
    if (n - start > 9 || (s[start] == '0' && n - start > 1))
        return -1;
    for (i = start; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static void sp_value(lua_State *L, soapconv *s, int n, int depth);
static void sp_content(lua_State *L, soapconv *s, int n, int depth);

/* what the keys of a table seen so far say about its neutral shape */
typedef struct {
    int all_digits, positional;
    long maxpos;
    size_t count;
} keyshape;

static void ks_init(keyshape *ks)
{
    ks->all_digits = ks->positional = 1;
    ks->maxpos = -1;
    ks->count = 0;
}

static void ks_note(keyshape *ks, const char *k, size_t n)
{
    int dg;
    long pos = sp_position(k, n, &dg);
    if (!dg)
        ks->all_digits = 0;
    if (pos < 0)
        ks->positional = 0;
    else if (pos > ks->maxpos)
        ks->maxpos = pos;
}

/* adds cost to a budget (*used of max `what`) for node n; -1 (error set)
 * past it */
static int sp_charge(soapconv *s, int n, size_t *used, size_t max, size_t cost, const char *what)
{
    *used += cost;
    if (*used <= max)
        return 0;
    egoi_xr_fail(s->r, EGOI_XR_LARGE, n, "the answer expands to more than %zu %s (references?)", max, what);
    return -1;
}

/* len bytes of text or key pushed for node n */
static int sp_bytes(soapconv *s, int n, size_t len)
{
    return sp_charge(s, n, &s->bytes, s->max_bytes, len, "bytes");
}

/* cost values of node n */
static int sp_spend(soapconv *s, int n, size_t cost)
{
    return sp_charge(s, n, &s->expanded, s->max_expanded, cost, "values");
}

/* pushes the text of leaf node n as a scalar; -1 (error set, nothing
 * pushed) past the byte budget */
static int sp_scalar(lua_State *L, soapconv *sc, int n)
{
    egoi_xr *r = sc->r;
    size_t len;
    const char *s = egoi_xr_text(r, n, &len);
    int ty = r->nodes[n].type;
    if (sp_bytes(sc, n, len) != 0)
        return -1;
    if (ty >= 0 && (egoi_xr_is(r, ty, NS_XSD, "boolean") || egoi_xr_is(r, ty, NS_ENC11, "boolean"))) {
        while (len > 0 && (s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || s[0] == '\r'))
            s++, len--;
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' || s[len - 1] == '\r'))
            len--;
        if ((len == 4 && memcmp(s, "true", 4) == 0) || (len == 1 && s[0] == '1'))
            lua_pushliteral(L, "1");
        else
            lua_pushliteral(L, "0");
        return 0;
    }
    lua_pushlstring(L, s, len);
    return 0;
}

/* The table on top (string keys) in the neutral shape: all keys digits ->
 * key_<id>; positions exactly 0..n-1 -> a sequence. Replaces it. */
static void sp_finish(lua_State *L, const keyshape *ks)
{
    int t = lua_gettop(L);
    size_t distinct = 0;
    int all_digits = ks->all_digits && ks->count > 0, positional = ks->positional && ks->count > 0;
    long maxpos = ks->maxpos;
    if (!all_digits && !positional)
        return;
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        lua_pop(L, 1);
        distinct++;
    }
    if (positional && maxpos >= 0 && (size_t)maxpos + 1 == distinct) {
        lua_createtable(L, (int)distinct, 0);
        lua_pushnil(L);
        while (lua_next(L, t) != 0) {
            size_t kl;
            int dg;
            const char *k = lua_tolstring(L, -2, &kl);
            lua_rawseti(L, t + 1, (int)sp_position(k, kl, &dg) + 1);
        }
    } else if (all_digits) {
        lua_createtable(L, 0, (int)distinct);
        lua_pushnil(L);
        while (lua_next(L, t) != 0) {
            size_t kl;
            const char *k = lua_tolstring(L, -2, &kl);
            lua_pushliteral(L, "key_");
            lua_pushlstring(L, k, kl);
            lua_concat(L, 2);
            lua_insert(L, -2);
            lua_rawset(L, t + 1);
        }
    } else {
        return;
    }
    lua_replace(L, t);
}

/* first child element of n with local name `local` (any namespace) */
static int sp_child(const egoi_xr *r, int n, const char *local)
{
    int c;
    for (c = r->nodes[n].first; c >= 0; c = r->nodes[c].next)
        if (strcmp(egoi_xr_local(r, r->nodes[c].name), local) == 0)
            return c;
    return -1;
}

/* The first key and value children of Map item it (-1 when absent).
 * Returns what reading the item costs beyond its value's own share of the
 * expansion budget: its other children, and a missing value (read as "").
 * Charged, an item that many references share, with many children or
 * none, cannot make each reference cost a scan for free. */
static size_t sp_item(const egoi_xr *r, int it, int *k, int *v)
{
    size_t extra = 0;
    int c;
    *k = *v = -1;
    for (c = r->nodes[it].first; c >= 0; c = r->nodes[c].next) {
        const char *l = egoi_xr_local(r, r->nodes[c].name);
        if (*k < 0 && strcmp(l, "key") == 0)
            *k = c;
        else if (*v < 0 && strcmp(l, "value") == 0)
            *v = c;
        else
            extra++;
    }
    return *v < 0 ? extra + 1 : extra;
}

/* pushes the key of a Map item: the key element's text */
static int sp_key(lua_State *L, soapconv *s, int k)
{
    k = sp_target(s, k);
    if (k < 0)
        return -1;
    if (s->r->nodes[k].first >= 0) {
        egoi_xr_fail(s->r, EGOI_XR_MALFORMED, k, "a Map key that is not a scalar");
        return -1;
    }
    return sp_scalar(L, s, k);
}

static void sp_map(lua_State *L, soapconv *s, int n, int depth)
{
    egoi_xr *r = s->r;
    int c;
    keyshape ks;
    ks_init(&ks);
    lua_newtable(L);
    for (c = r->nodes[n].first; c >= 0 && r->err == EGOI_XR_NONE; c = r->nodes[c].next) {
        int it = sp_target(s, c), k, v;
        size_t kl, extra;
        const char *key;
        if (it < 0)
            return;
        extra = sp_item(r, it, &k, &v);
        if (k < 0) {
            egoi_xr_fail(r, EGOI_XR_MALFORMED, it, "a Map item without a key");
            return;
        }
        if (sp_key(L, s, k) != 0 || sp_spend(s, it, extra) != 0)
            return;
        if (v < 0)
            lua_pushliteral(L, "");
        else
            sp_value(L, s, v, depth + 1);
        if (r->err != EGOI_XR_NONE)
            return;
        key = lua_tolstring(L, -2, &kl);
        ks_note(&ks, key, kl);
        lua_rawset(L, -3);
        ks.count++;
    }
    sp_finish(L, &ks);
}

static void sp_array(lua_State *L, soapconv *s, int n, int depth)
{
    egoi_xr *r = s->r;
    int c, i = 0;
    lua_newtable(L);
    for (c = r->nodes[n].first; c >= 0 && r->err == EGOI_XR_NONE; c = r->nodes[c].next) {
        sp_value(L, s, c, depth + 1);
        if (r->err != EGOI_XR_NONE)
            return;
        lua_rawseti(L, -2, ++i);
    }
}

/* struct: child local names are keys, a repeated name a sequence */
static void sp_struct(lua_State *L, soapconv *s, int n, int depth)
{
    egoi_xr *r = s->r;
    int c, t, reps;
    keyshape ks;
    ks_init(&ks);
    lua_newtable(L);
    t = lua_gettop(L);
    lua_newtable(L); /* names seen more than once -> their sequence length */
    reps = t + 1;
    for (c = r->nodes[n].first; c >= 0 && r->err == EGOI_XR_NONE; c = r->nodes[c].next) {
        const char *k = egoi_xr_local(r, r->nodes[c].name);
        size_t kl = strlen(k);
        if (sp_bytes(s, c, kl) != 0)
            return;
        ks_note(&ks, k, kl);
        sp_value(L, s, c, depth + 1);
        if (r->err != EGOI_XR_NONE)
            return;
        lua_getfield(L, t, k);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_setfield(L, t, k);
            ks.count++;
        } else {
            int len;
            lua_getfield(L, reps, k);
            len = (int)lua_tointeger(L, -1);
            lua_pop(L, 1);
            if (len == 0) { /* second occurrence: [first, this] */
                lua_createtable(L, 2, 0);
                lua_insert(L, -2);          /* seq, old */
                lua_rawseti(L, -2, 1);      /* seq */
                lua_insert(L, -2);          /* seq, new */
                lua_rawseti(L, -2, 2);
                lua_setfield(L, t, k);
                len = 2;
            } else {
                lua_pop(L, 1); /* the existing sequence */
                lua_getfield(L, t, k);
                lua_insert(L, -2);
                lua_rawseti(L, -2, ++len);
                lua_pop(L, 1);
            }
            lua_pushinteger(L, len);
            lua_setfield(L, reps, k);
        }
    }
    lua_pop(L, 1); /* reps */
    sp_finish(L, &ks);
}

/* pushes the value of element n (depth: its nesting level) */
static void sp_value(lua_State *L, soapconv *s, int n, int depth)
{
    egoi_xr *r = s->r;
    int t;
    if (depth > SP_MAX_VALUE_DEPTH) {
        egoi_xr_fail(r, EGOI_XR_DEEP, n, "values nested deeper than %d levels", SP_MAX_VALUE_DEPTH);
        return;
    }
    if (sp_spend(s, n, 1) != 0)
        return;
    t = sp_target(s, n);
    if (t < 0)
        return;
    if (t != n) {
        /* A chain of references (href to an element that has an href
         * itself) is followed in this loop, not by recursion: 100,000
         * links would otherwise take 100,000 C frames and overflow the C
         * stack. Each link is marked busy (a cycle check) and counts
         * against the expansion budget, as a nested call did. */
        int m = n, k;
        while (t != m) {
            if (s->fl[t] & SP_BUSY) {
                egoi_xr_fail(r, EGOI_XR_MALFORMED, m, "cyclic reference");
                return;
            }
            s->fl[t] |= SP_BUSY;
            m = t;
            if (sp_spend(s, m, 1) != 0)
                return;
            if ((t = sp_target(s, m)) < 0)
                return;
        }
        sp_content(L, s, m, depth);
        for (k = n; k != m;) { /* the same links again: unmark them */
            k = sp_target(s, k);
            s->fl[k] &= (unsigned char)~SP_BUSY;
        }
        return;
    }
    sp_content(L, s, n, depth);
}

/* pushes the value of element n, which is no reference */
static void sp_content(lua_State *L, soapconv *s, int n, int depth)
{
    egoi_xr *r = s->r;
    int ty, f;
    luaL_checkstack(L, 8, "soap_response: nesting");
    f = sp_facts(s, n);
    if (f & SP_NIL) {
        lua_pushliteral(L, "");
        return;
    }
    ty = r->nodes[n].type;
    if (ty >= 0 && egoi_xr_is(r, ty, NS_MAP, "Map"))
        sp_map(L, s, n, depth);
    else if (f & SP_ARRAY)
        sp_array(L, s, n, depth);
    else if (r->nodes[n].first >= 0)
        sp_struct(L, s, n, depth);
    else {
        sp_scalar(L, s, n);
        return;
    }
    if (r->err != EGOI_XR_NONE)
        return;
    /* a nested empty Map/Array/Struct is "" (REST's empty element) */
    if (depth > 1) {
        lua_pushnil(L);
        if (lua_next(L, -2) == 0) {
            lua_pop(L, 1);
            lua_pushliteral(L, "");
        } else {
            lua_pop(L, 2);
        }
    }
}

/* the text of the first descendant path a/b (local names), or "" */
static void sp_push_text(lua_State *L, egoi_xr *r, int n, const char *a, const char *b)
{
    int c = n >= 0 ? sp_child(r, n, a) : -1;
    size_t len;
    const char *s;
    if (c >= 0 && b != NULL)
        c = sp_child(r, c, b);
    if (c < 0) {
        lua_pushliteral(L, "");
        return;
    }
    s = egoi_xr_text(r, c, &len);
    lua_pushlstring(L, s, len);
}

static int sp_find(const egoi_xr *r, const char *uri, const char *local)
{
    char tmp[128];
    int n = uri ? snprintf(tmp, sizeof tmp, "%s%c%s", uri, EGOI_XR_SEP, local)
                : snprintf(tmp, sizeof tmp, "%s", local);
    return egoi_xr_find(r, tmp, (size_t)n);
}

static int l_soap_response(lua_State *L)
{
    size_t len;
    const char *body = luaL_checklstring(L, 1, &len);
    lua_Integer max = luaL_optinteger(L, 2, SP_DEFAULT_MAX);
    soapconv sc;
    egoi_xr *r;
    int env, bodyn, resp, c, v11;
    const char *ens;
    if (max < 0)
        max = 0;
    lua_settop(L, 2);
    r = egoi_xr_push(L); /* index 3: owns the tree */
    if (egoi_xr_parse(r, body, len, (size_t)max, EGOI_XR_NS, 0) != 0)
        return egoi_xr_push_error(L, r);
    memset(&sc, 0, sizeof sc);
    sc.r = r;
    sc.max_expanded = r->nnodes * 4 + 4096;
    sc.max_bytes = len <= ((size_t)-1 - 4096) / 4 ? len * 4 + 4096 : (size_t)-1;
    sc.q_xsi_nil = sp_find(r, NS_XSI, "nil");
    sc.q_href = sp_find(r, NULL, "href");
    sc.q_id = sp_find(r, NULL, "id");
    sc.q_ref12 = sp_find(r, NS_ENC12, "ref");
    sc.q_id12 = sp_find(r, NS_ENC12, "id");
    if (sc.q_href >= 0 || sc.q_ref12 >= 0)
        sp_build_ids(L, &sc); /* indices 4, 5 */
    env = 0;
    v11 = egoi_xr_is(r, r->nodes[env].name, NS_ENV11, "Envelope");
    if (!v11 && !egoi_xr_is(r, r->nodes[env].name, NS_ENV12, "Envelope")) {
        egoi_xr_fail(r, EGOI_XR_MALFORMED, env, "not a SOAP envelope (root element %.60s)",
                     egoi_xr_local(r, r->nodes[env].name));
        return egoi_xr_push_error(L, r);
    }
    ens = v11 ? NS_ENV11 : NS_ENV12;
    for (bodyn = r->nodes[env].first; bodyn >= 0; bodyn = r->nodes[bodyn].next)
        if (egoi_xr_is(r, r->nodes[bodyn].name, ens, "Body"))
            break;
    if (bodyn < 0) {
        egoi_xr_fail(r, EGOI_XR_MALFORMED, env, "SOAP envelope without a Body");
        return egoi_xr_push_error(L, r);
    }
    resp = r->nodes[bodyn].first;
    if (resp < 0) {
        egoi_xr_fail(r, EGOI_XR_MALFORMED, bodyn, "SOAP Body without an element");
        return egoi_xr_push_error(L, r);
    }
    if (egoi_xr_is(r, r->nodes[resp].name, ens, "Fault")) {
        lua_pushboolean(L, 0);
        lua_createtable(L, 0, 3);
        if (v11) {
            sp_push_text(L, r, resp, "faultcode", NULL);
            lua_setfield(L, -2, "faultcode");
            sp_push_text(L, r, resp, "faultstring", NULL);
            lua_setfield(L, -2, "faultstring");
        } else {
            sp_push_text(L, r, resp, "Code", "Value");
            lua_setfield(L, -2, "faultcode");
            sp_push_text(L, r, resp, "Reason", "Text");
            lua_setfield(L, -2, "faultstring");
        }
        lua_pushstring(L, v11 ? "1.1" : "1.2");
        lua_setfield(L, -2, "version");
        return 2;
    }
    /* the return part: named "return", else the first child but rpc:result */
    c = sp_child(r, resp, "return");
    if (c < 0)
        for (c = r->nodes[resp].first; c >= 0; c = r->nodes[c].next)
            if (!egoi_xr_is(r, r->nodes[c].name, NS_RPC12, "result"))
                break;
    lua_pushboolean(L, 1);
    if (c < 0) {
        lua_pushnil(L); /* an operation without a result */
        return 2;
    }
    sp_value(L, &sc, c, 1);
    if (r->err != EGOI_XR_NONE)
        return egoi_xr_push_error(L, r);
    return 2;
}

static const luaL_Reg funcs[] = {
    {"soap_request", l_soap_request},
    {"soap_response", l_soap_response},
    {NULL, NULL}
};

void egoi_soap_open(lua_State *L)
{
    egoi_setfuncs(L, funcs, 0);
}
