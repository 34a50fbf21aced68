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
 * The parsers drive libexpat from a userdata (with __gc) that owns the
 * XML_Parser, the character-data buffer and an "op" buffer. Expat callbacks
 * never touch the Lua API: they validate, convert scalars to their REST
 * form, and append small stack operations (new table, push string, set
 * member, append item) to the op buffer; on a document error they record a
 * code and message and stop the parser. Whenever the op buffer passes
 * XP_BATCH bytes the callback suspends expat (resumable XML_StopParser);
 * the driver then runs the ops on the Lua stack (a stack of open containers,
 * one slot per container plus one for a pending member name) and resumes.
 * So Lua values are built while parsing, yet a Lua memory error can only be
 * raised outside expat. That matters: once a handler has been left by a
 * longjmp, XML_ParserFree of Debian's expat 2.5.0-1+deb12u5 frees nothing
 * (it believes it is still called from inside a handler).
 */
#if !defined(XML_DTD) && !defined(EGOI_NO_EXPAT_DTD)
/* Debian's (and upstream's default) libexpat is built with XML_DTD; the
 * public header only declares the billion-laughs API when the including
 * code defines it too. Build with -DEGOI_NO_EXPAT_DTD for an expat built
 * without DTD support. */
#define XML_DTD 1
#endif
#include <expat.h>

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "xmlwrite.h"

#define XP_MT "egoi.core.xml_parser"

#define REQ_MAX_REPEAT 100000    /* members/items walked again through shared tables */
#define XP_MAX_VALUE_DEPTH 64    /* nested <value> levels of a response */
#define XP_MAX_ELEM_DEPTH 256    /* element frames (>= 3 * 64 + 5) */
#define XP_DEFAULT_MAX ((lua_Integer)64 * 1024 * 1024)
#define XP_BATCH (256 * 1024)        /* op bytes before the driver runs them */

/* ------------------------------------------------------------------ */
/* XML 1.0 text checks                                                  */
/* ------------------------------------------------------------------ */

static int is_xml_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int all_ws(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!is_xml_ws(s[i]))
            return 0;
    return 1;
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
/* expat-driven parsers                                                 */
/* ------------------------------------------------------------------ */

enum {
    K_RESPONSE = 1, K_PARAMS, K_PARAM, K_FAULT, K_VALUE, K_SCALAR, K_STRUCT, K_MEMBER,
    K_NAME, K_ARRAY, K_DATA, K_FROOT, K_FCHILD
};
enum { T_INT, T_DOUBLE, T_BOOL, T_STRING, T_NIL, T_BASE64, T_DATETIME };
enum { XE_NONE, XE_MALFORMED, XE_DEEP, XE_DOCTYPE, XE_NOMEM };
/* ops run by xp_drain on the Lua stack */
enum {
    OP_TABLE = 1, /* push a new table */
    OP_STR,       /* size_t n, n bytes: push a string */
    OP_SET,       /* [t, k, v] -> t[k] = v */
    OP_APPEND,    /* int i: [t, v] -> t[i] = v */
    OP_SETFIRST   /* [t, k, v] -> t[k] = v unless t[k] is already set */
};

static const struct {
    const char *name;
    int type;
} scalar_types[] = {
    {"string", T_STRING}, {"int", T_INT}, {"i4", T_INT}, {"i8", T_INT}, {"ex:i8", T_INT},
    {"double", T_DOUBLE}, {"boolean", T_BOOL}, {"nil", T_NIL}, {"ex:nil", T_NIL},
    {"base64", T_BASE64}, {"dateTime.iso8601", T_DATETIME}, {NULL, 0}
};

static const char *const kind_names[] = {
    "", "methodResponse", "params", "param", "fault", "value", "?", "struct", "member",
    "name", "array", "data", "root", "child"
};

typedef struct {
    unsigned char kind;
    unsigned char st;    /* index in scalar_types for K_SCALAR */
    unsigned char has_a; /* first expected child seen (value type, name, param, data...) */
    unsigned char has_b; /* member: <value> seen */
    int count;           /* array items so far */
} xframe;

typedef struct {
    XML_Parser parser;
    egoi_buf text; /* character data of the current element */
    egoi_buf ops;
    int suspended;
    int flat;
    int depth;
    int vdepth;
    int err;
    int is_fault;
    char msg[256];
    xframe fr[XP_MAX_ELEM_DEPTH];
} xparser;

static void xp_release(xparser *x)
{
    if (x->parser != NULL) {
        XML_ParserFree(x->parser);
        x->parser = NULL;
    }
    egoi_buf_free(&x->text);
    egoi_buf_free(&x->ops);
}

static int xp_gc(lua_State *L)
{
    xparser *x = (xparser *)lua_touserdata(L, 1);
    if (x != NULL)
        xp_release(x);
    return 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void xp_fail(xparser *x, int code, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (x->err != XE_NONE)
        return;
    x->err = code;
    va_start(ap, fmt);
    n = vsnprintf(x->msg, sizeof x->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof x->msg)
        snprintf(x->msg + n, sizeof x->msg - (size_t)n, " at line %lu",
                 (unsigned long)XML_GetCurrentLineNumber(x->parser));
    XML_StopParser(x->parser, XML_FALSE);
}

static void xp_append(xparser *x, const char *s, size_t n)
{
    if (!egoi_buf_add(&x->text, s, n))
        xp_fail(x, XE_NOMEM, "out of memory");
}

/* Appends one op (see OP_*) for xp_drain; suspends the parser when the
 * batch is full. */
static void xp_op(xparser *x, int op, const char *s, size_t n, int idx)
{
    size_t need = 1;
    char *w;
    if (x->err != XE_NONE)
        return;
    if (op == OP_STR)
        need += sizeof n + n;
    else if (op == OP_APPEND)
        need += sizeof idx;
    if (n > (size_t)-1 / 2 || !egoi_buf_reserve(&x->ops, need)) {
        xp_fail(x, XE_NOMEM, "out of memory");
        return;
    }
    w = x->ops.p + x->ops.len;
    *w++ = (char)op;
    if (op == OP_STR) {
        memcpy(w, &n, sizeof n);
        if (n > 0)
            memcpy(w + sizeof n, s, n);
    } else if (op == OP_APPEND) {
        memcpy(w, &idx, sizeof idx);
    }
    x->ops.len += need;
    if (x->ops.len >= XP_BATCH && !x->suspended) {
        x->suspended = 1;
        XML_StopParser(x->parser, XML_TRUE);
    }
}

#define xp_str(x, s, n) xp_op((x), OP_STR, (s), (n), 0)

/* Runs the pending ops on the Lua stack (outside expat: raising is safe,
 * the userdata owns all memory). */
static void xp_drain(lua_State *L, xparser *x)
{
    const char *p = x->ops.p;
    size_t i = 0, n;
    int k;
    while (i < x->ops.len) {
        switch (p[i++]) {
        case OP_TABLE:
            lua_newtable(L);
            break;
        case OP_STR:
            memcpy(&n, p + i, sizeof n);
            i += sizeof n;
            lua_pushlstring(L, p + i, n);
            i += n;
            break;
        case OP_SET:
            lua_rawset(L, -3);
            break;
        case OP_APPEND:
            memcpy(&k, p + i, sizeof k);
            i += sizeof k;
            lua_rawseti(L, -2, k);
            break;
        default: /* OP_SETFIRST */
            lua_pushvalue(L, -2);
            lua_rawget(L, -4);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_rawset(L, -3);
            } else {
                lua_pop(L, 3);
            }
            break;
        }
    }
    x->ops.len = 0;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    xp_fail((xparser *)ud, XE_DOCTYPE, "DOCTYPE declaration (<!DOCTYPE %.40s>) refused", name);
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_length,
                                   const XML_Char *base, const XML_Char *sysid,
                                   const XML_Char *pubid, const XML_Char *notation)
{
    (void)is_param;
    (void)value;
    (void)value_length;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    xp_fail((xparser *)ud, XE_DOCTYPE, "entity declaration (%.40s) refused", name);
}

static int XMLCALL on_external_entity(XML_Parser p, const XML_Char *context,
                                      const XML_Char *base, const XML_Char *sysid,
                                      const XML_Char *pubid)
{
    (void)p;
    (void)context;
    (void)base;
    (void)sysid;
    (void)pubid;
    return XML_STATUS_ERROR; /* never fetched; unreachable without a DOCTYPE */
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    xparser *x = (xparser *)ud;
    const xframe *f;
    if (x->err != XE_NONE || x->depth == 0)
        return;
    f = &x->fr[x->depth - 1];
    if (f->kind == K_SCALAR || f->kind == K_NAME || f->kind == K_FCHILD ||
        (f->kind == K_VALUE && !f->has_a))
        xp_append(x, s, (size_t)len);
    else if (!all_ws(s, (size_t)len))
        xp_fail(x, XE_MALFORMED, "unexpected text inside <%s>",
                f->kind == K_FROOT ? "root element" : kind_names[f->kind]);
}

static void xp_push_frame(xparser *x, int kind, int st)
{
    xframe *f = &x->fr[x->depth++];
    f->kind = (unsigned char)kind;
    f->st = (unsigned char)st;
    f->has_a = f->has_b = 0;
    f->count = 0;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    xparser *x = (xparser *)ud;
    xframe *p;
    int kind = 0, st = 0;
    (void)atts;
    if (x->err != XE_NONE)
        return;
    if (x->depth >= XP_MAX_ELEM_DEPTH) {
        xp_fail(x, XE_DEEP, "elements nested deeper than %d levels", XP_MAX_ELEM_DEPTH);
        return;
    }
    p = x->depth > 0 ? &x->fr[x->depth - 1] : NULL;

    if (x->flat) {
        if (p == NULL) {
            xp_push_frame(x, K_FROOT, 0);
            xp_str(x, name, strlen(name));
            xp_op(x, OP_TABLE, NULL, 0, 0);
        } else if (p->kind == K_FROOT) {
            xp_push_frame(x, K_FCHILD, 0);
            x->text.len = 0;
        } else {
            xp_fail(x, XE_MALFORMED, "unexpected nesting: <%.40s> inside a field element", name);
        }
        return;
    }

    if (p == NULL) {
        if (strcmp(name, "methodResponse") != 0) {
            xp_fail(x, XE_MALFORMED, "root element is <%.40s>, expected <methodResponse>", name);
            return;
        }
        kind = K_RESPONSE;
    } else {
        switch (p->kind) {
        case K_RESPONSE:
            if (!p->has_a && strcmp(name, "params") == 0)
                kind = K_PARAMS;
            else if (!p->has_a && strcmp(name, "fault") == 0)
                kind = K_FAULT;
            break;
        case K_PARAMS:
            if (strcmp(name, "param") == 0) {
                if (p->has_a) {
                    xp_fail(x, XE_MALFORMED, "more than one <param> in a response");
                    return;
                }
                kind = K_PARAM;
            }
            break;
        case K_PARAM:
        case K_FAULT:
            if (!p->has_a && strcmp(name, "value") == 0)
                kind = K_VALUE;
            break;
        case K_VALUE:
            if (p->has_a) {
                xp_fail(x, XE_MALFORMED, "more than one type element in <value>");
                return;
            }
            if (strcmp(name, "struct") == 0) {
                kind = K_STRUCT;
            } else if (strcmp(name, "array") == 0) {
                kind = K_ARRAY;
            } else {
                for (st = 0; scalar_types[st].name != NULL; st++)
                    if (strcmp(name, scalar_types[st].name) == 0)
                        break;
                if (scalar_types[st].name == NULL) {
                    xp_fail(x, XE_MALFORMED, "unknown value type <%.40s>", name);
                    return;
                }
                kind = K_SCALAR;
            }
            if (!all_ws(x->text.p, x->text.len)) {
                xp_fail(x, XE_MALFORMED, "text mixed with <%.40s> in <value>", name);
                return;
            }
            break;
        case K_STRUCT:
            if (strcmp(name, "member") == 0)
                kind = K_MEMBER;
            break;
        case K_MEMBER:
            if (!p->has_a && strcmp(name, "name") == 0)
                kind = K_NAME;
            else if (p->has_a && !p->has_b && strcmp(name, "value") == 0)
                kind = K_VALUE;
            break;
        case K_ARRAY:
            if (!p->has_a && strcmp(name, "data") == 0)
                kind = K_DATA;
            break;
        case K_DATA:
            if (strcmp(name, "value") == 0)
                kind = K_VALUE;
            break;
        default:
            break;
        }
        if (kind == 0) {
            xp_fail(x, XE_MALFORMED, "unexpected element <%.40s> inside <%s>", name,
                    p->kind == K_SCALAR ? scalar_types[p->st].name : kind_names[p->kind]);
            return;
        }
        if (p->kind == K_MEMBER && kind == K_VALUE)
            p->has_b = 1;
        else
            p->has_a = 1;
    }

    if (kind == K_VALUE && ++x->vdepth > XP_MAX_VALUE_DEPTH) {
        xp_fail(x, XE_DEEP, "values nested deeper than %d levels", XP_MAX_VALUE_DEPTH);
        return;
    }
    xp_push_frame(x, kind, st);
    if (kind == K_VALUE || kind == K_SCALAR || kind == K_NAME)
        x->text.len = 0;
    else if (kind == K_STRUCT || kind == K_ARRAY)
        xp_op(x, OP_TABLE, NULL, 0, 0);
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

/* Emits the Lua value of a finished scalar element (REST shape). */
static void xp_push_scalar(xparser *x, int st)
{
    const char *s = x->text.p ? x->text.p : "";
    size_t n = x->text.len, a = 0, b = x->text.len;
    while (a < b && is_xml_ws(s[a]))
        a++;
    while (b > a && is_xml_ws(s[b - 1]))
        b--;
    switch (scalar_types[st].type) {
    case T_INT:
    case T_DOUBLE:
        if (!is_number_text(s + a, b - a, scalar_types[st].type == T_DOUBLE)) {
            xp_fail(x, XE_MALFORMED, "invalid <%s> value", scalar_types[st].name);
            return;
        }
        xp_str(x, s + a, b - a);
        break;
    case T_BOOL:
        if ((b - a == 1 && s[a] == '1') || (b - a == 4 && memcmp(s + a, "true", 4) == 0)) {
            xp_str(x, "1", 1);
        } else if ((b - a == 1 && s[a] == '0') || (b - a == 5 && memcmp(s + a, "false", 5) == 0)) {
            xp_str(x, "0", 1);
        } else {
            xp_fail(x, XE_MALFORMED, "invalid <boolean> value");
            return;
        }
        break;
    case T_NIL:
        if (b > a) {
            xp_fail(x, XE_MALFORMED, "<%s> with content", scalar_types[st].name);
            return;
        }
        xp_str(x, "", 0);
        break;
    case T_BASE64: {
        size_t o = 0;
        if (n > 0 && !b64_decode(x->text.p, n, &o)) {
            xp_fail(x, XE_MALFORMED, "invalid <base64> value");
            return;
        }
        xp_str(x, s, o);
        break;
    }
    case T_DATETIME:
        xp_str(x, s + a, b - a);
        break;
    default: /* T_STRING */
        xp_str(x, s, n);
        break;
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    xparser *x = (xparser *)ud;
    const char *text;
    xframe *f, *p;
    if (x->err != XE_NONE || x->depth == 0)
        return;
    f = &x->fr[--x->depth];
    p = x->depth > 0 ? &x->fr[x->depth - 1] : NULL;
    text = x->text.p ? x->text.p : "";

    switch (f->kind) {
    case K_FCHILD:
        xp_str(x, name, strlen(name));
        xp_str(x, text, x->text.len);
        xp_op(x, OP_SETFIRST, NULL, 0, 0); /* first occurrence of a field wins */
        break;
    case K_SCALAR:
        xp_push_scalar(x, f->st);
        break;
    case K_NAME:
        xp_str(x, text, x->text.len);
        break;
    case K_VALUE:
        if (!f->has_a) /* untyped: the text is a string, whitespace kept */
            xp_str(x, text, x->text.len);
        x->vdepth--;
        if (p->kind == K_MEMBER) {
            xp_op(x, OP_SET, NULL, 0, 0); /* [struct, name, value] */
        } else if (p->kind == K_DATA) {
            if (p->count == INT_MAX) {
                xp_fail(x, XE_MALFORMED, "array too long");
                return;
            }
            xp_op(x, OP_APPEND, NULL, 0, ++p->count);
        } else if (p->kind == K_FAULT) {
            x->is_fault = 1; /* K_PARAM: the result stays on the stack */
        }
        break;
    case K_MEMBER:
        if (!f->has_b)
            xp_fail(x, XE_MALFORMED, "<member> without %s", f->has_a ? "<value>" : "<name>");
        break;
    case K_PARAM:
    case K_FAULT:
        if (!f->has_a)
            xp_fail(x, XE_MALFORMED, "<%s> without <value>", kind_names[f->kind]);
        break;
    case K_PARAMS:
        if (!f->has_a)
            xp_fail(x, XE_MALFORMED, "<params> without <param>");
        break;
    case K_RESPONSE:
        if (!f->has_a)
            xp_fail(x, XE_MALFORMED, "<methodResponse> without <params> or <fault>");
        break;
    default:
        break;
    }
}

static const char *xp_code_name(int err)
{
    switch (err) {
    case XE_DEEP: return "TOO_DEEP";
    case XE_DOCTYPE: return "DOCTYPE_FORBIDDEN";
    default: return "MALFORMED_XML";
    }
}

/* Shared driver. On success leaves the parsed values on top of the stack
 * and returns how many (1 for a response, 2 for flat); on a document
 * failure pushes nil, code, message and returns -3. */
static int xp_run(lua_State *L, int flat)
{
    size_t len, off = 0;
    const char *body = luaL_checklstring(L, 1, &len);
    lua_Integer max = luaL_optinteger(L, 2, XP_DEFAULT_MAX);
    enum XML_Status status = XML_STATUS_OK;
    xparser *x;
    int base, want = flat ? 2 : 1;

    if (max < 0)
        return luaL_argerror(L, 2, "max_bytes must be >= 0");
    lua_settop(L, 2);
    if ((unsigned long long)len > (unsigned long long)max) {
        char msg[128];
        snprintf(msg, sizeof msg, "document of %zu bytes exceeds the limit of %lld bytes", len,
                 (long long)max);
        lua_pushnil(L);
        lua_pushliteral(L, "TOO_LARGE");
        lua_pushstring(L, msg);
        return -3;
    }
    luaL_checkstack(L, 2 * XP_MAX_VALUE_DEPTH + 16, "xml nesting");

    x = (xparser *)lua_newuserdata(L, sizeof *x);
    memset(x, 0, sizeof *x);
    luaL_getmetatable(L, XP_MT);
    lua_setmetatable(L, -2);
    base = lua_gettop(L);
    x->flat = flat;
    x->parser = XML_ParserCreate(NULL);
    if (x->parser == NULL)
        return luaL_error(L, "xml parser: not enough memory");
    XML_SetUserData(x->parser, x);
    XML_SetElementHandler(x->parser, on_start, on_end);
    XML_SetCharacterDataHandler(x->parser, on_text);
    XML_SetStartDoctypeDeclHandler(x->parser, on_doctype);
    XML_SetEntityDeclHandler(x->parser, on_entity_decl);
    XML_SetExternalEntityRefHandler(x->parser, on_external_entity);
    XML_SetParamEntityParsing(x->parser, XML_PARAM_ENTITY_PARSING_NEVER);
#if defined(XML_DTD) && (XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 4))
    /* Belt and braces: no DOCTYPE gets through, so no entity can expand. */
    XML_SetBillionLaughsAttackProtectionMaximumAmplification(x->parser, 2.0f);
    XML_SetBillionLaughsAttackProtectionActivationThreshold(x->parser, 1024 * 1024);
#endif

    do {
        size_t chunk = len - off;
        int final = 1;
        if (chunk > (size_t)(INT_MAX / 2)) {
            chunk = (size_t)(INT_MAX / 2);
            final = 0;
        }
        status = XML_Parse(x->parser, body + off, (int)chunk, final);
        off += chunk;
        while (status == XML_STATUS_SUSPENDED && x->err == XE_NONE) {
            xp_drain(L, x); /* may raise: everything is owned by the userdata */
            x->suspended = 0;
            status = XML_ResumeParser(x->parser);
        }
    } while (status == XML_STATUS_OK && x->err == XE_NONE && off < len);
    if (status == XML_STATUS_OK && x->err == XE_NONE)
        xp_drain(L, x);

    if (x->err == XE_NONE && status != XML_STATUS_OK) {
        enum XML_Error code = XML_GetErrorCode(x->parser);
        x->err = XE_MALFORMED;
        snprintf(x->msg, sizeof x->msg, "%s at line %lu, column %lu", XML_ErrorString(code),
                 (unsigned long)XML_GetCurrentLineNumber(x->parser),
                 (unsigned long)XML_GetCurrentColumnNumber(x->parser));
    }
    if (x->err == XE_NONE && lua_gettop(L) != base + want) {
        x->err = XE_MALFORMED;
        snprintf(x->msg, sizeof x->msg, "incomplete document");
    }
    if (x->err == XE_NOMEM) {
        xp_release(x);
        return luaL_error(L, "xml parser: not enough memory");
    }
    if (x->err != XE_NONE) {
        lua_settop(L, base);
        lua_pushnil(L);
        lua_pushstring(L, xp_code_name(x->err));
        lua_pushstring(L, x->msg);
        xp_release(x);
        return -3;
    }
    if (!flat && x->is_fault && !lua_istable(L, -1)) {
        lua_settop(L, base);
        lua_pushnil(L);
        lua_pushliteral(L, "MALFORMED_XML");
        lua_pushliteral(L, "<fault> value is not a struct");
        xp_release(x);
        return -3;
    }
    xp_release(x);
    if (!flat) {
        lua_pushboolean(L, !x->is_fault);
        lua_insert(L, -2);
    }
    return 2;
}

static int l_xmlrpc_response(lua_State *L)
{
    int n = xp_run(L, 0);
    return n < 0 ? -n : n;
}

static int l_xml_flat(lua_State *L)
{
    int n = xp_run(L, 1);
    return n < 0 ? -n : n;
}

void egoi_xmlrpc_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"xmlrpc_request", l_xmlrpc_request},
        {"xmlrpc_response", l_xmlrpc_response},
        {"xml_flat", l_xml_flat},
        {NULL, NULL}
    };
    luaL_newmetatable(L, XP_MT);
    lua_pushcfunction(L, xp_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    egoi_setfuncs(L, fns, 0);
}
