/*
 * xmlrpc.c - XML-RPC for egoi.core.
 *
 *   core.xmlrpc_request(method, params)     -> methodCall document (string)
 *   core.xmlrpc_response(body[, max_bytes]) -> true, value
 *                                            | false, {faultCode=, faultString=}
 *                                            | nil, code, message
 *   core.xml_flat(body[, max_bytes])        -> root_name, {CHILD = text, ...}
 *                                            | nil, code, message
 *
 * The request is built in one growing C buffer owned by a userdata (so an
 * error raised half-way cannot leak it).
 *
 * Answers are read by the shared document reader (xmlread.c), without
 * namespaces (XML-RPC has none; "ex:i8" is an element name), and the tree
 * is checked against the XML-RPC grammar and turned into Lua values here:
 * no Lua call happens inside expat, and the reader's userdata frees
 * everything when a memory error unwinds.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "xmlread.h"
#include "xmlwrite.h"

#define REQ_MAX_REPEAT 100000    /* members/items walked again through shared tables */

/* ------------------------------------------------------------------ */
/* XML 1.0 text checks                                                  */
/* ------------------------------------------------------------------ */

static int is_xml_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ------------------------------------------------------------------ */
/* methodCall builder                                                   */
/* ------------------------------------------------------------------ */

/* The request is written into an egoi_buf owned by a userdata
 * (egoi_buf_push) through the shared writer (xmlwrite.h): raising while
 * writing it leaks nothing. */
typedef struct {
    egoi_xw w;
    int seen;     /* stack index: tables (with subtables) already walked */
    int revisit;  /* > 0: inside a table walked before */
    long spare;   /* members/items left of REQ_MAX_REPEAT */
} enc;

static void enc_value(enc *e, int idx, int depth);

/* Encodes the table at absolute index t (depth = its nesting level, the
 * params table being 1). force_struct: never an <array>. */
static void enc_table(enc *e, int t, int depth, int force_struct)
{
    egoi_xw *w = &e->w;
    lua_State *L = w->L;
    size_t n = 0;
    lua_Integer maxk = 0;
    int seq = 1, sub = 0, again = 0;

    egoi_xw_nest(w, depth);

    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        lua_Integer k;
        if (lua_type(L, -1) == LUA_TTABLE)
            sub = 1;
        lua_pop(L, 1);
        n++;
        if (seq) {
            if (lua_type(L, -1) == LUA_TNUMBER && egoi_isinteger(L, -1, &k) && k >= 1) {
                if (k > maxk)
                    maxk = k;
            } else {
                seq = 0;
            }
        }
    }
    if (n > (size_t)INT_MAX)
        egoi_xw_fail(w, "table too large");
    /* A table holding tables is recorded once walked: fields walked again
     * through a second path count against REQ_MAX_REPEAT, so a shared
     * subtable referenced at every level cannot cost exponential time. */
    if (sub && depth > 1) {
        lua_pushvalue(L, t);
        lua_rawget(L, e->seen);
        again = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (!again) {
            lua_pushvalue(L, t);
            lua_pushboolean(L, 1);
            lua_rawset(L, e->seen);
        }
    }
    if (e->revisit + again > 0) {
        e->spare -= (long)n;
        if (e->spare < 0)
            egoi_xw_fail(w, "a table reached through many paths: more than 100000 fields walked"
                            " again (a shared subtable referenced repeatedly?)");
    }
    e->revisit += again;

    if (seq && n > 0 && (size_t)maxk == n && !force_struct) {
        lua_Integer i;
        egoi_xw_lit(w, "<value><array><data>");
        for (i = 1; i <= (lua_Integer)n; i++) {
            lua_rawgeti(L, t, (int)i);
            egoi_xw_push_index(w, i);
            enc_value(e, lua_gettop(L), depth);
            egoi_xw_pop(w);
            lua_pop(L, 1);
        }
        egoi_xw_lit(w, "</data></array></value>");
        e->revisit -= again;
        return;
    }

    egoi_xw_lit(w, "<value><struct>");
    if (n > 0) {
        int ko, j;
        egoi_key *keys = egoi_xw_keys(w, t, n, "struct member name", &ko);
        for (j = 0; j < (int)n; j++) {
            egoi_xw_push_key(w, keys[j].s, keys[j].len);
            egoi_xw_lit(w, "<member><name>");
            egoi_xw_text(w, keys[j].s, keys[j].len, "member name");
            egoi_xw_lit(w, "</name>");
            lua_rawgeti(L, ko, keys[j].slot);
            lua_rawget(L, t);
            enc_value(e, lua_gettop(L), depth);
            lua_pop(L, 1);
            egoi_xw_lit(w, "</member>");
            egoi_xw_pop(w);
        }
        lua_pop(L, 3);
    }
    egoi_xw_lit(w, "</struct></value>");
    e->revisit -= again;
}

/* Encodes the value at absolute index idx found inside a table of nesting
 * level depth. */
static void enc_value(enc *e, int idx, int depth)
{
    egoi_xw *w = &e->w;
    lua_State *L = w->L;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        egoi_xw_lit(w, "<value><string>");
        egoi_xw_text(w, s, n, "string");
        egoi_xw_lit(w, "</string></value>");
        break;
    }
    case LUA_TNUMBER: {
        lua_Integer iv;
        char tmp[EGOI_NUM_MAX];
        size_t k;
        if (egoi_isinteger(L, idx, &iv)) {
            k = egoi_fmt_integer(tmp, iv);
            if (iv >= -2147483647 - 1 && iv <= 2147483647) {
                egoi_xw_lit(w, "<value><int>");
                egoi_xw_put(w, tmp, k);
                egoi_xw_lit(w, "</int></value>");
            } else { /* beyond <int>: E-goi accepts strings everywhere */
                egoi_xw_lit(w, "<value><string>");
                egoi_xw_put(w, tmp, k);
                egoi_xw_lit(w, "</string></value>");
            }
        } else {
            double d = (double)lua_tonumber(L, idx);
            if (isnan(d) || isinf(d))
                egoi_xw_fail(w, "NaN or infinity cannot be encoded");
            k = egoi_fmt_float(tmp, d);
            egoi_xw_lit(w, "<value><double>");
            egoi_xw_put(w, tmp, k);
            egoi_xw_lit(w, "</double></value>");
        }
        break;
    }
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            egoi_xw_lit(w, "<value><boolean>1</boolean></value>");
        else
            egoi_xw_lit(w, "<value><boolean>0</boolean></value>");
        break;
    case LUA_TTABLE:
        enc_table(e, idx, depth + 1, 0);
        break;
    default:
        egoi_xw_failf(w, "cannot encode a %s value", luaL_typename(L, idx));
    }
}

static int valid_method_name(const char *m, size_t n)
{
    size_t i;
    if (n == 0 || n > 256)
        return 0;
    for (i = 0; i < n; i++) {
        char c = m[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '/'))
            return 0;
    }
    return 1;
}

static int l_xmlrpc_request(lua_State *L)
{
    size_t mlen;
    const char *m = luaL_checklstring(L, 1, &mlen);
    egoi_buf *b;
    enc e;
    if (!valid_method_name(m, mlen))
        return luaL_argerror(L, 1, "method name must be 1-256 of A-Z a-z 0-9 _ . : /");
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    b = egoi_buf_push(L); /* index 3 */
    lua_newtable(L);      /* index 4 */
    egoi_xw_init(&e.w, L, b, "xmlrpc_request", "params");
    e.seen = 4;
    e.revisit = 0;
    e.spare = REQ_MAX_REPEAT;
    egoi_xw_lit(&e.w, "<?xml version=\"1.0\"?><methodCall><methodName>");
    egoi_xw_put(&e.w, m, mlen);
    egoi_xw_lit(&e.w, "</methodName><params><param>");
    if (lua_istable(L, 2))
        enc_table(&e, 2, 1, 1);
    else
        egoi_xw_lit(&e.w, "<value><struct></struct></value>");
    egoi_xw_lit(&e.w, "</param></params></methodCall>");
    lua_pushlstring(L, b->p, b->len);
    egoi_buf_free(b);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Answers: the reader's tree (xmlread.c) to Lua values                 */
/* ------------------------------------------------------------------ */

#define XP_MAX_VALUE_DEPTH 64 /* nested <value> levels of a response */
#define XP_DEFAULT_MAX ((lua_Integer)64 * 1024 * 1024)

enum { T_INT, T_DOUBLE, T_BOOL, T_STRING, T_NIL, T_BASE64, T_DATETIME };

static const struct {
    const char *name;
    int type;
} scalar_types[] = {
    {"string", T_STRING}, {"int", T_INT}, {"i4", T_INT}, {"i8", T_INT}, {"ex:i8", T_INT},
    {"double", T_DOUBLE}, {"boolean", T_BOOL}, {"nil", T_NIL}, {"ex:nil", T_NIL},
    {"base64", T_BASE64}, {"dateTime.iso8601", T_DATETIME}, {NULL, 0}
};

typedef struct {
    lua_State *L;
    egoi_xr *r;
    int vdepth; /* <value> levels open */
} xconv;

/* the element name of node n, as written (the reader runs without
 * namespaces here: "ex:i8" is a name like any other) */
static const char *x_name(const egoi_xr *r, int n)
{
    return egoi_xr_name(r, r->nodes[n].name, NULL);
}

static int x_is(const egoi_xr *r, int n, const char *name)
{
    return strcmp(x_name(r, n), name) == 0;
}

static int x_fail(xconv *x, int n, const char *what)
{
    egoi_xr_fail(x->r, EGOI_XR_MALFORMED, n, "%s", what);
    return 0;
}

static int x_unexpected(xconv *x, int c, const char *inside)
{
    egoi_xr_fail(x->r, EGOI_XR_MALFORMED, c, "unexpected element <%.40s> inside <%s>", x_name(x->r, c),
                 inside);
    return 0;
}

/* 1 when the container element n holds no text but whitespace */
static int x_container(xconv *x, int n, const char *what)
{
    if (egoi_xr_blank(x->r, n))
        return 1;
    egoi_xr_fail(x->r, EGOI_XR_MALFORMED, n, "unexpected text inside <%s>", what);
    return 0;
}

/* the only child of n, which must be named `name`; -1 (error set) else */
static int x_only_child(xconv *x, int n, const char *inside, const char *name)
{
    const egoi_xr *r = x->r;
    int c = r->nodes[n].first;
    char msg[64];
    if (!x_container(x, n, inside))
        return -1;
    if (c < 0) {
        snprintf(msg, sizeof msg, "<%s> without <%s>", inside, name);
        x_fail(x, n, msg);
        return -1;
    }
    if (!x_is(r, c, name)) {
        x_unexpected(x, c, inside);
        return -1;
    }
    return c;
}

static int is_number_text(const char *s, size_t n, int real)
{
    size_t i = 0, d = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, d++;
    if (real) {
        if (i < n && s[i] == '.') {
            i++;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++, d++;
        }
        if (d > 0 && i < n && (s[i] == 'e' || s[i] == 'E')) {
            size_t ed = 0;
            i++;
            if (i < n && (s[i] == '+' || s[i] == '-'))
                i++;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++, ed++;
            if (ed == 0)
                return 0;
        }
    }
    return d > 0 && i == n;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes base64 in place (whitespace ignored, padding optional).
 * Returns 0 on invalid input. */
static int b64_decode(char *buf, size_t n, size_t *outlen)
{
    unsigned long acc = 0;
    int bits = 0;
    size_t i, o = 0, nch = 0, pad = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        int v;
        if (is_xml_ws((char)c))
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad > 0 || (v = b64_value(c)) < 0)
            return 0;
        acc = ((acc << 6) | (unsigned long)v) & 0xFFFFFFUL;
        bits += 6;
        nch++;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    if (nch % 4 == 1 || pad > 2 || (pad > 0 && (nch + pad) % 4 != 0))
        return 0;
    *outlen = o;
    return 1;
}

/* pushes the value of scalar element n of type scalar_types[st] */
static void x_scalar(xconv *x, int n, int st)
{
    lua_State *L = x->L;
    egoi_xr *r = x->r;
    size_t len, a = 0, b, o = 0;
    char *s;
    if (r->nodes[n].first >= 0) {
        x_unexpected(x, r->nodes[n].first, scalar_types[st].name);
        return;
    }
    s = egoi_xr_text(r, n, &len);
    b = len;
    while (a < b && is_xml_ws(s[a]))
        a++;
    while (b > a && is_xml_ws(s[b - 1]))
        b--;
    switch (scalar_types[st].type) {
    case T_INT:
    case T_DOUBLE:
        if (!is_number_text(s + a, b - a, scalar_types[st].type == T_DOUBLE)) {
            egoi_xr_fail(r, EGOI_XR_MALFORMED, n, "invalid <%s> value", scalar_types[st].name);
            return;
        }
        lua_pushlstring(L, s + a, b - a);
        break;
    case T_BOOL:
        if ((b - a == 1 && s[a] == '1') || (b - a == 4 && memcmp(s + a, "true", 4) == 0)) {
            lua_pushliteral(L, "1");
        } else if ((b - a == 1 && s[a] == '0') || (b - a == 5 && memcmp(s + a, "false", 5) == 0)) {
            lua_pushliteral(L, "0");
        } else {
            x_fail(x, n, "invalid <boolean> value");
            return;
        }
        break;
    case T_NIL:
        if (b > a) {
            egoi_xr_fail(r, EGOI_XR_MALFORMED, n, "<%s> with content", scalar_types[st].name);
            return;
        }
        lua_pushliteral(L, "");
        break;
    case T_BASE64:
        if (len > 0 && !b64_decode(s, len, &o)) { /* in place: each node is read once */
            x_fail(x, n, "invalid <base64> value");
            return;
        }
        lua_pushlstring(L, s, o);
        break;
    case T_DATETIME:
        lua_pushlstring(L, s + a, b - a);
        break;
    default: /* T_STRING: as written, whitespace kept */
        lua_pushlstring(L, s, len);
        break;
    }
}

static void x_value(xconv *x, int v);

/* <struct> of <member><name/><value/></member>: a table (a repeated name:
 * the last value) */
static void x_struct(xconv *x, int n)
{
    lua_State *L = x->L;
    const egoi_xr *r = x->r;
    int m;
    if (!x_container(x, n, "struct"))
        return;
    lua_newtable(L);
    for (m = r->nodes[n].first; m >= 0; m = r->nodes[m].next) {
        int nm, v;
        size_t len;
        const char *s;
        if (!x_is(r, m, "member")) {
            x_unexpected(x, m, "struct");
            return;
        }
        if ((nm = x_only_child(x, m, "member", "name")) < 0)
            return;
        if (r->nodes[nm].first >= 0) {
            x_unexpected(x, r->nodes[nm].first, "name");
            return;
        }
        v = r->nodes[nm].next;
        if (v < 0) {
            x_fail(x, m, "<member> without <value>");
            return;
        }
        if (!x_is(r, v, "value")) {
            x_unexpected(x, v, "member");
            return;
        }
        s = egoi_xr_text(x->r, nm, &len);
        lua_pushlstring(L, s, len);
        x_value(x, v);
        if (r->err != EGOI_XR_NONE)
            return;
        if (r->nodes[v].next >= 0) {
            x_unexpected(x, r->nodes[v].next, "member");
            return;
        }
        lua_rawset(L, -3);
    }
}

/* <array><data><value/>...</data></array> (or <array/>): a sequence */
static void x_array(xconv *x, int n)
{
    lua_State *L = x->L;
    const egoi_xr *r = x->r;
    int d, v, i = 0;
    if (!x_container(x, n, "array"))
        return;
    lua_newtable(L);
    d = r->nodes[n].first;
    if (d < 0)
        return;
    if (!x_is(r, d, "data")) {
        x_unexpected(x, d, "array");
        return;
    }
    if (!x_container(x, d, "data"))
        return;
    for (v = r->nodes[d].first; v >= 0; v = r->nodes[v].next) {
        if (!x_is(r, v, "value")) {
            x_unexpected(x, v, "data");
            return;
        }
        x_value(x, v);
        if (r->err != EGOI_XR_NONE)
            return;
        lua_rawseti(L, -2, ++i);
    }
    if (r->nodes[d].next >= 0)
        x_unexpected(x, r->nodes[d].next, "array");
}

/* pushes the value of <value> element v: its one type element, or its
 * text as a string (whitespace kept) */
static void x_value(xconv *x, int v)
{
    lua_State *L = x->L;
    egoi_xr *r = x->r;
    int c = r->nodes[v].first, st;
    if (++x->vdepth > XP_MAX_VALUE_DEPTH) {
        egoi_xr_fail(r, EGOI_XR_DEEP, v, "values nested deeper than %d levels", XP_MAX_VALUE_DEPTH);
        return;
    }
    luaL_checkstack(L, 8, "xmlrpc_response: nesting");
    if (c < 0) {
        size_t len;
        const char *s = egoi_xr_text(r, v, &len);
        lua_pushlstring(L, s, len);
    } else if (r->nodes[v].mixed) {
        egoi_xr_fail(r, EGOI_XR_MALFORMED, v, "text mixed with <%.40s> in <value>", x_name(r, c));
        return;
    } else if (x_is(r, c, "struct")) {
        x_struct(x, c);
    } else if (x_is(r, c, "array")) {
        x_array(x, c);
    } else {
        for (st = 0; scalar_types[st].name != NULL; st++)
            if (x_is(r, c, scalar_types[st].name))
                break;
        if (scalar_types[st].name == NULL) {
            egoi_xr_fail(r, EGOI_XR_MALFORMED, c, "unknown value type <%.40s>", x_name(r, c));
            return;
        }
        x_scalar(x, c, st);
    }
    if (r->err == EGOI_XR_NONE && c >= 0 && r->nodes[c].next >= 0)
        x_fail(x, r->nodes[c].next, "more than one type element in <value>");
    x->vdepth--;
}

/* <methodResponse> with <params><param><value/> or <fault><value/>:
 * pushes ok (boolean) and the value; 0, or -1 with the error set */
static int x_response(xconv *x)
{
    lua_State *L = x->L;
    const egoi_xr *r = x->r;
    int c, p, v, fault;
    if (!x_is(r, 0, "methodResponse")) {
        egoi_xr_fail(x->r, EGOI_XR_MALFORMED, 0, "root element is <%.40s>, expected <methodResponse>",
                     x_name(r, 0));
        return -1;
    }
    if (!x_container(x, 0, "methodResponse"))
        return -1;
    c = r->nodes[0].first;
    if (c < 0)
        return x_fail(x, 0, "<methodResponse> without <params> or <fault>") - 1;
    fault = x_is(r, c, "fault");
    if (!fault && !x_is(r, c, "params"))
        return x_unexpected(x, c, "methodResponse") - 1;
    p = c;
    if (!fault) {
        if ((p = x_only_child(x, c, "params", "param")) < 0)
            return -1;
    }
    if ((v = x_only_child(x, p, fault ? "fault" : "param", "value")) < 0)
        return -1;
    lua_pushboolean(L, !fault);
    x_value(x, v);
    if (r->err != EGOI_XR_NONE)
        return -1;
    if (r->nodes[v].next >= 0)
        return x_unexpected(x, r->nodes[v].next, fault ? "fault" : "param") - 1;
    if (!fault && r->nodes[p].next >= 0) {
        int q = r->nodes[p].next;
        if (x_is(r, q, "param"))
            return x_fail(x, q, "more than one <param> in a response") - 1;
        return x_unexpected(x, q, "params") - 1;
    }
    if (r->nodes[c].next >= 0)
        return x_unexpected(x, r->nodes[c].next, "methodResponse") - 1;
    if (fault && !lua_istable(L, -1))
        return x_fail(x, v, "<fault> value is not a struct") - 1;
    return 0;
}

/* a one-level document: pushes the root's name and {CHILD = text} (the
 * first of a repeated name wins) */
static void x_flat(xconv *x)
{
    lua_State *L = x->L;
    egoi_xr *r = x->r;
    int c;
    size_t len;
    const char *s;
    if (!x_container(x, 0, "root element"))
        return;
    s = egoi_xr_name(r, r->nodes[0].name, &len);
    lua_pushlstring(L, s, len);
    lua_newtable(L);
    for (c = r->nodes[0].first; c >= 0; c = r->nodes[c].next) { /* depth 2: leaves */
        s = egoi_xr_name(r, r->nodes[c].name, &len);
        lua_pushlstring(L, s, len);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            s = egoi_xr_text(r, c, &len);
            lua_pushlstring(L, s, len);
            lua_rawset(L, -3);
        } else {
            lua_pop(L, 2);
        }
    }
}

/* Shared driver: parses argument 1 (at most argument 2 bytes) and
 * converts it; returns the number of results. */
static int x_run(lua_State *L, int flat)
{
    size_t len;
    const char *body = luaL_checklstring(L, 1, &len);
    lua_Integer max = luaL_optinteger(L, 2, XP_DEFAULT_MAX);
    xconv x;
    int top;
    if (max < 0)
        return luaL_argerror(L, 2, "max_bytes must be >= 0");
    lua_settop(L, 2);
    x.L = L;
    x.vdepth = 0;
    x.r = egoi_xr_push(L); /* index 3: owns the tree */
    top = lua_gettop(L);
    /* a callback document has two levels; deeper is not one */
    if (egoi_xr_parse(x.r, body, len, (size_t)max, 0, flat ? 2 : 0) != 0 && flat &&
        x.r->err == EGOI_XR_DEEP) {
        char msg[sizeof x.r->msg];
        memcpy(msg, x.r->msg, sizeof msg);
        x.r->err = EGOI_XR_MALFORMED;
        snprintf(x.r->msg, sizeof x.r->msg, "unexpected nesting: %.200s", msg);
    }
    if (x.r->err == EGOI_XR_NONE) {
        if (flat)
            x_flat(&x);
        else
            x_response(&x);
    }
    if (x.r->err == EGOI_XR_NOMEM)
        return luaL_error(L, "xml parser: not enough memory");
    if (x.r->err != EGOI_XR_NONE) {
        lua_settop(L, top);
        return egoi_xr_push_error(L, x.r);
    }
    return 2;
}

static int l_xmlrpc_response(lua_State *L)
{
    return x_run(L, 0);
}

static int l_xml_flat(lua_State *L)
{
    return x_run(L, 1);
}

void egoi_xmlrpc_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"xmlrpc_request", l_xmlrpc_request},
        {"xmlrpc_response", l_xmlrpc_response},
        {"xml_flat", l_xml_flat},
        {NULL, NULL}
    };
    egoi_setfuncs(L, fns, 0);
}
