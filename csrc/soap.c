/*
 * soap.c - SOAP for egoi.core: the request writer and an expat-driven
 * reader.
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
 * The reader is generic: rd_parse() turns a document into a compact tree
 * (nodes with interned "uri\1local" names, resolved xsi:type, attributes,
 * leaf text) in malloc'd arrays owned by a userdata; expat callbacks never
 * touch the Lua API and stop the parser on the first problem. Lua values
 * are built afterwards by walking the tree (a memory error can only be
 * raised outside expat, and the userdata's __gc frees everything). Guards:
 * a size cap, an element depth cap, a node cap, DOCTYPE and entity
 * declarations refused (so no entity is ever expanded), external entities
 * never fetched.
 */
#if !defined(XML_DTD) && !defined(EGOI_NO_EXPAT_DTD)
#define XML_DTD 1
#endif
#include <expat.h>

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "buffer.h"
#include "xmlwrite.h"

#define RD_MT "egoi.core.xml_reader"

#define RD_MAX_ELEM_DEPTH 256
#define RD_MAX_VALUE_DEPTH 64
#define RD_MAX_NODES 4000000
#define RD_MAX_NAMES 1000000     /* distinct element/attribute/type names */
#define RD_MAX_BINDS 1024        /* namespace declarations in scope */
#define RD_DEFAULT_MAX ((lua_Integer)64 * 1024 * 1024)
#define RD_SEP '\x01'

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
/* The reader: a document as a compact tree                             */
/* ------------------------------------------------------------------ */

typedef struct {
    int first, last, next; /* children / sibling, -1 for none */
    int name;              /* interned "uri\1local" (or "local") */
    int type;              /* interned resolved xsi:type, -1 none, -2 unresolvable */
    int attr;              /* first attribute, -1 */
    unsigned int toff, tlen; /* leaf text in rd.text */
} rnode;

typedef struct {
    int name, next;
    unsigned int voff, vlen; /* value in rd.text */
} rattr;

typedef struct {
    unsigned int off, len; /* in rd.names */
} rname;

typedef struct {
    int prefix; /* interned prefix (-1: default namespace) */
    int uri;    /* interned uri */
} rbind;

enum { RE_NONE, RE_MALFORMED, RE_DEEP, RE_DOCTYPE, RE_NOMEM, RE_LARGE };
static const char *const re_codes[] = {
    "", "MALFORMED_XML", "TOO_DEEP", "DOCTYPE_FORBIDDEN", "NOT_ENOUGH_MEMORY", "TOO_LARGE"
};

typedef struct {
    XML_Parser parser;
    rnode *nodes;
    size_t nnodes, capnodes;
    rattr *attrs;
    size_t nattrs, capattrs;
    egoi_buf text;  /* leaf texts and attribute values */
    egoi_buf names; /* interned names */
    rname *nm;
    size_t nnm, capnm;
    int *hash; /* open addressing over nm, capacity hcap (power of 2) */
    size_t hcap;
    rbind *binds;
    size_t nbinds, capbinds;
    egoi_buf tb; /* text of the innermost open element */
    int stack[RD_MAX_ELEM_DEPTH];
    int depth;
    int err;
    char msg[256];
    /* interned names the converter asks for */
    int q_xsi_type, q_xsi_nil, q_href, q_id, q_ref12, q_id12;
    /* conversion */
    int *ids; /* id hash: node indices, hcap2 */
    size_t idcap;
    unsigned char *busy;
    size_t expanded, max_expanded;
    size_t seed;
} reader;

static void rd_release(reader *r)
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
    free(r->ids);
    free(r->busy);
    r->nodes = NULL;
    r->attrs = NULL;
    r->nm = NULL;
    r->hash = NULL;
    r->binds = NULL;
    r->ids = NULL;
    r->busy = NULL;
    egoi_buf_free(&r->text);
    egoi_buf_free(&r->names);
    egoi_buf_free(&r->tb);
}

static int rd_gc(lua_State *L)
{
    reader *r = (reader *)lua_touserdata(L, 1);
    if (r != NULL)
        rd_release(r);
    return 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void rd_fail(reader *r, int code, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (r->err != RE_NONE)
        return;
    r->err = code;
    va_start(ap, fmt);
    n = vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    if (r->parser != NULL && n >= 0 && (size_t)n < sizeof r->msg)
        snprintf(r->msg + n, sizeof r->msg - (size_t)n, " at line %lu",
                 (unsigned long)XML_GetCurrentLineNumber(r->parser));
    if (r->parser != NULL)
        XML_StopParser(r->parser, XML_FALSE);
}

static int rd_grow(reader *r, void **p, size_t *cap, size_t need, size_t size)
{
    size_t ncap;
    void *np;
    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    if (ncap > (size_t)-1 / size / 2) {
        rd_fail(r, RE_NOMEM, "out of memory");
        return -1;
    }
    np = realloc(*p, ncap * size);
    if (np == NULL) {
        rd_fail(r, RE_NOMEM, "out of memory");
        return -1;
    }
    *p = np;
    *cap = ncap;
    return 0;
}

/* FNV-1a from a per-document seed (the reader's address and the clock),
 * so a document cannot be crafted to make the name or id tables collide */
static size_t rd_hashof(const reader *r, const char *s, size_t n)
{
    size_t h = r->seed, i;
    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* the id of the name s[0..n), interned on first sight; -1 on failure */
static int rd_intern(reader *r, const char *s, size_t n)
{
    size_t h, i;
    if (r->nnm * 2 >= r->hcap) {
        size_t ncap = r->hcap ? r->hcap * 2 : 256, j;
        int *nh = (int *)malloc(ncap * sizeof *nh);
        if (nh == NULL) {
            rd_fail(r, RE_NOMEM, "out of memory");
            return -1;
        }
        for (j = 0; j < ncap; j++)
            nh[j] = -1;
        for (j = 0; j < r->nnm; j++) {
            size_t k = rd_hashof(r, r->names.p + r->nm[j].off, r->nm[j].len) & (ncap - 1);
            while (nh[k] != -1)
                k = (k + 1) & (ncap - 1);
            nh[k] = (int)j;
        }
        free(r->hash);
        r->hash = nh;
        r->hcap = ncap;
    }
    h = rd_hashof(r, s, n) & (r->hcap - 1);
    for (i = h; r->hash[i] != -1; i = (i + 1) & (r->hcap - 1)) {
        const rname *e = &r->nm[r->hash[i]];
        if (e->len == n && memcmp(r->names.p + e->off, s, n) == 0)
            return r->hash[i];
    }
    if (r->nnm >= RD_MAX_NAMES) {
        rd_fail(r, RE_LARGE, "more than %d distinct names", RD_MAX_NAMES);
        return -1;
    }
    if (n > UINT_MAX / 2 || r->names.len > UINT_MAX / 2 ||
        rd_grow(r, (void **)&r->nm, &r->capnm, r->nnm + 1, sizeof *r->nm) != 0)
        return -1;
    r->nm[r->nnm].off = (unsigned int)r->names.len;
    r->nm[r->nnm].len = (unsigned int)n;
    if (!egoi_buf_add(&r->names, s, n) || !egoi_buf_addc(&r->names, '\0')) {
        rd_fail(r, RE_NOMEM, "out of memory");
        return -1;
    }
    r->hash[i] = (int)r->nnm;
    return (int)r->nnm++;
}

static const char *rd_name(const reader *r, int id, size_t *len)
{
    if (len)
        *len = r->nm[id].len;
    return r->names.p + r->nm[id].off;
}

/* local part of an interned name */
static const char *rd_local(const reader *r, int id)
{
    const char *s = rd_name(r, id, NULL), *sep = strchr(s, RD_SEP);
    return sep ? sep + 1 : s;
}

/* 1 when the interned name id is uri + local */
static int rd_is(const reader *r, int id, const char *uri, const char *local)
{
    size_t n, ul = uri ? strlen(uri) : 0;
    const char *s;
    if (id < 0)
        return 0;
    s = rd_name(r, id, &n);
    if (uri == NULL)
        return strcmp(s, local) == 0;
    return n > ul && memcmp(s, uri, ul) == 0 && s[ul] == RD_SEP && strcmp(s + ul + 1, local) == 0;
}

static int rd_store_text(reader *r, const char *s, size_t n, unsigned int *off)
{
    if (r->text.len > UINT_MAX - n || !egoi_buf_add(&r->text, s, n)) {
        rd_fail(r, RE_NOMEM, "out of memory");
        return -1;
    }
    *off = (unsigned int)(r->text.len - n);
    return 0;
}

/* the namespace bound to prefix p[0..n) (n == 0: the default one), or -1 */
static int rd_resolve(reader *r, const char *p, size_t n)
{
    int pid = n ? rd_intern(r, p, n) : -1;
    size_t i = r->nbinds;
    if (n && pid < 0)
        return -1;
    while (i-- > 0)
        if (r->binds[i].prefix == pid)
            return r->binds[i].uri;
    if (n == 3 && memcmp(p, "xml", 3) == 0)
        return rd_intern(r, "http://www.w3.org/XML/1998/namespace", 36);
    return -1;
}

static void XMLCALL rd_ns_start(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
    reader *r = (reader *)ud;
    int p = prefix ? rd_intern(r, prefix, strlen(prefix)) : -1;
    int u = rd_intern(r, uri ? uri : "", uri ? strlen(uri) : 0);
    if (r->err != RE_NONE)
        return;
    if (r->nbinds >= RD_MAX_BINDS) {
        rd_fail(r, RE_LARGE, "more than %d namespace declarations in scope", RD_MAX_BINDS);
        return;
    }
    if (rd_grow(r, (void **)&r->binds, &r->capbinds, r->nbinds + 1, sizeof *r->binds))
        return;
    r->binds[r->nbinds].prefix = p;
    r->binds[r->nbinds].uri = u;
    r->nbinds++;
}

static void XMLCALL rd_ns_end(void *ud, const XML_Char *prefix)
{
    reader *r = (reader *)ud;
    int p = prefix ? rd_intern(r, prefix, strlen(prefix)) : -1;
    size_t i = r->nbinds;
    if (r->err != RE_NONE)
        return;
    while (i-- > 0) {
        if (r->binds[i].prefix == p) {
            memmove(r->binds + i, r->binds + i + 1, (r->nbinds - i - 1) * sizeof *r->binds);
            r->nbinds--;
            return;
        }
    }
}

static void XMLCALL rd_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    reader *r = (reader *)ud;
    rnode *nd;
    int id, i, prev = -1;
    if (r->err != RE_NONE)
        return;
    if (r->depth >= RD_MAX_ELEM_DEPTH) {
        rd_fail(r, RE_DEEP, "elements nested deeper than %d levels", RD_MAX_ELEM_DEPTH);
        return;
    }
    if (r->nnodes >= RD_MAX_NODES) {
        rd_fail(r, RE_LARGE, "more than %d elements", RD_MAX_NODES);
        return;
    }
    if (rd_grow(r, (void **)&r->nodes, &r->capnodes, r->nnodes + 1, sizeof *r->nodes) != 0)
        return;
    id = (int)r->nnodes++;
    nd = &r->nodes[id];
    nd->first = nd->last = nd->next = -1;
    nd->type = -1;
    nd->attr = -1;
    nd->toff = nd->tlen = 0;
    nd->name = rd_intern(r, name, strlen(name));
    for (i = 0; atts[i] != NULL; i += 2) {
        size_t vl = strlen(atts[i + 1]);
        int an = rd_intern(r, atts[i], strlen(atts[i]));
        int ai;
        if (r->err != RE_NONE ||
            rd_grow(r, (void **)&r->attrs, &r->capattrs, r->nattrs + 1, sizeof *r->attrs) != 0)
            return;
        ai = (int)r->nattrs++;
        r->attrs[ai].name = an;
        r->attrs[ai].next = -1;
        r->attrs[ai].vlen = (unsigned int)vl;
        if (rd_store_text(r, atts[i + 1], vl, &r->attrs[ai].voff) != 0)
            return;
        nd = &r->nodes[id];
        if (prev < 0)
            nd->attr = ai;
        else
            r->attrs[prev].next = ai;
        prev = ai;
        if (an == r->q_xsi_type) { /* resolve the QName now, while its bindings are in scope */
            const char *v = atts[i + 1], *colon = strchr(v, ':');
            size_t pl = colon ? (size_t)(colon - v) : 0;
            const char *loc = colon ? colon + 1 : v;
            int uri = rd_resolve(r, v, pl);
            if (uri < 0) {
                nd->type = -2;
            } else {
                size_t ulen;
                const char *us = rd_name(r, uri, &ulen);
                size_t ll = strlen(loc), tot = ulen + 1 + ll;
                char small[256];
                char *tmp = tot <= sizeof small ? small : (char *)malloc(tot);
                if (tmp == NULL) {
                    rd_fail(r, RE_NOMEM, "out of memory");
                    return;
                }
                memcpy(tmp, us, ulen);
                tmp[ulen] = RD_SEP;
                memcpy(tmp + ulen + 1, loc, ll);
                nd->type = rd_intern(r, tmp, tot);
                if (tmp != small)
                    free(tmp);
                nd = &r->nodes[id];
            }
        }
    }
    if (r->depth > 0) {
        rnode *pa = &r->nodes[r->stack[r->depth - 1]];
        if (pa->last < 0)
            pa->first = id;
        else
            r->nodes[pa->last].next = id;
        pa->last = id;
    }
    r->stack[r->depth++] = id;
    r->tb.len = 0;
}

static void XMLCALL rd_end(void *ud, const XML_Char *name)
{
    reader *r = (reader *)ud;
    rnode *nd;
    (void)name;
    if (r->err != RE_NONE || r->depth == 0)
        return;
    nd = &r->nodes[r->stack[--r->depth]];
    if (nd->first < 0 && r->tb.len > 0) {
        unsigned int off;
        if (rd_store_text(r, r->tb.p, r->tb.len, &off) != 0)
            return;
        nd = &r->nodes[r->stack[r->depth]];
        nd->toff = off;
        nd->tlen = (unsigned int)r->tb.len;
    }
    r->tb.len = 0;
}

static void XMLCALL rd_chars(void *ud, const XML_Char *s, int len)
{
    reader *r = (reader *)ud;
    if (r->err != RE_NONE || r->depth == 0 || len <= 0)
        return;
    if (r->nodes[r->stack[r->depth - 1]].first >= 0)
        return; /* mixed content: the text of an element with children is dropped */
    if (!egoi_buf_add(&r->tb, s, (size_t)len))
        rd_fail(r, RE_NOMEM, "out of memory");
}

static void XMLCALL rd_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    rd_fail((reader *)ud, RE_DOCTYPE, "DOCTYPE declaration (<!DOCTYPE %.40s>) refused", name);
}

static void XMLCALL rd_entity_decl(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
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
    rd_fail((reader *)ud, RE_DOCTYPE, "entity declaration (%.40s) refused", name);
}

static int XMLCALL rd_external(XML_Parser p, const XML_Char *context, const XML_Char *base,
                               const XML_Char *sysid, const XML_Char *pubid)
{
    (void)p;
    (void)context;
    (void)base;
    (void)sysid;
    (void)pubid;
    return XML_STATUS_ERROR;
}

/* Parses body into r (a zeroed reader). 0, or -1 with r->err/msg set. */
static int rd_parse(reader *r, const char *body, size_t len, size_t max)
{
    const char sep[2] = { RD_SEP, '\0' };
    r->depth = 0;
    r->seed = (size_t)2166136261u ^ ((size_t)(uintptr_t)r * (size_t)0x9E3779B97F4A7C15ull) ^ (size_t)time(NULL);
    if (len > max) {
        rd_fail(r, RE_LARGE, "document of %zu bytes is larger than the limit of %zu", len, max);
        return -1;
    }
    if (len > (size_t)INT_MAX) {
        rd_fail(r, RE_LARGE, "document larger than 2 GiB");
        return -1;
    }
    r->q_xsi_type = rd_intern(r, NS_XSI "\x01type", sizeof NS_XSI + 4);
    r->q_xsi_nil = rd_intern(r, NS_XSI "\x01nil", sizeof NS_XSI + 3);
    r->q_href = rd_intern(r, "href", 4);
    r->q_id = rd_intern(r, "id", 2);
    r->q_ref12 = rd_intern(r, NS_ENC12 "\x01ref", sizeof NS_ENC12 + 3);
    r->q_id12 = rd_intern(r, NS_ENC12 "\x01id", sizeof NS_ENC12 + 2);
    if (r->err != RE_NONE)
        return -1;
    r->parser = XML_ParserCreateNS(NULL, sep[0]);
    if (r->parser == NULL) {
        rd_fail(r, RE_NOMEM, "out of memory");
        return -1;
    }
    XML_SetUserData(r->parser, r);
    XML_SetElementHandler(r->parser, rd_start, rd_end);
    XML_SetCharacterDataHandler(r->parser, rd_chars);
    XML_SetNamespaceDeclHandler(r->parser, rd_ns_start, rd_ns_end);
    XML_SetStartDoctypeDeclHandler(r->parser, rd_doctype);
    XML_SetEntityDeclHandler(r->parser, rd_entity_decl);
    XML_SetExternalEntityRefHandler(r->parser, rd_external);
    XML_SetParamEntityParsing(r->parser, XML_PARAM_ENTITY_PARSING_NEVER);
    if (XML_Parse(r->parser, body, (int)len, 1) != XML_STATUS_OK && r->err == RE_NONE)
        rd_fail(r, RE_MALFORMED, "%s", XML_ErrorString(XML_GetErrorCode(r->parser)));
    if (r->err == RE_NONE && r->nnodes == 0)
        rd_fail(r, RE_MALFORMED, "no element");
    XML_ParserFree(r->parser);
    r->parser = NULL;
    return r->err == RE_NONE ? 0 : -1;
}

/* value of attribute `name` on node n, or NULL */
static const char *rd_attr(const reader *r, int n, int name, size_t *len)
{
    int a;
    if (name < 0)
        return NULL;
    for (a = r->nodes[n].attr; a >= 0; a = r->attrs[a].next) {
        if (r->attrs[a].name == name) {
            *len = r->attrs[a].vlen;
            return r->text.p + r->attrs[a].voff;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* SOAP on the tree                                                     */
/* ------------------------------------------------------------------ */

/* the id (1.1 `id`, 1.2 `enc:id`) of node n, or NULL */
static const char *rd_idval(const reader *r, int n, size_t *len)
{
    const char *v = rd_attr(r, n, r->q_id, len);
    return v != NULL ? v : rd_attr(r, n, r->q_id12, len);
}

static int rd_build_ids(reader *r)
{
    size_t i, cap = 16;
    while (cap < r->nnodes * 2)
        cap *= 2;
    r->ids = (int *)malloc(cap * sizeof *r->ids);
    r->busy = (unsigned char *)calloc(r->nnodes, 1);
    if (r->ids == NULL || r->busy == NULL)
        return -1;
    r->idcap = cap;
    for (i = 0; i < cap; i++)
        r->ids[i] = -1;
    for (i = 0; i < r->nnodes; i++) {
        size_t n = 0, h;
        const char *v = rd_idval(r, (int)i, &n);
        if (v == NULL)
            continue;
        h = rd_hashof(r, v, n) & (cap - 1);
        while (r->ids[h] != -1) {
            size_t m = 0;
            const char *o = rd_idval(r, r->ids[h], &m);
            if (m == n && memcmp(o, v, n) == 0)
                break; /* the first element of an id wins */
            h = (h + 1) & (cap - 1);
        }
        if (r->ids[h] == -1)
            r->ids[h] = (int)i;
    }
    return 0;
}

static int rd_find_id(reader *r, const char *v, size_t n)
{
    size_t h;
    if (r->ids == NULL)
        return -1;
    h = rd_hashof(r, v, n) & (r->idcap - 1);
    while (r->ids[h] != -1) {
        size_t m = 0;
        const char *o = rd_idval(r, r->ids[h], &m);
        if (m == n && memcmp(o, v, n) == 0)
            return r->ids[h];
        h = (h + 1) & (r->idcap - 1);
    }
    return -1;
}

/* the element a reference node points to (itself when it is none); -1
 * with r->err set for a dangling reference */
static int sp_target(reader *r, int n)
{
    size_t len;
    const char *v = rd_attr(r, n, r->q_href, &len);
    int t;
    if (v != NULL) {
        if (len == 0 || v[0] != '#') {
            rd_fail(r, RE_MALFORMED, "href \"%.*s\" is not a local reference", (int)(len > 40 ? 40 : len), v);
            return -1;
        }
        v++;
        len--;
    } else {
        v = rd_attr(r, n, r->q_ref12, &len);
        if (v == NULL)
            return n;
        if (len > 0 && v[0] == '#') { /* an IDREF; PHP writes "#ref1" */
            v++;
            len--;
        }
    }
    if (r->ids == NULL && rd_build_ids(r) != 0) {
        rd_fail(r, RE_NOMEM, "out of memory");
        return -1;
    }
    t = rd_find_id(r, v, len);
    if (t < 0)
        rd_fail(r, RE_MALFORMED, "reference to an unknown id \"%.*s\"", (int)(len > 40 ? 40 : len), v);
    return t;
}

static int sp_is_array(const reader *r, int n)
{
    int a;
    int t = r->nodes[n].type;
    if (t >= 0)
        return rd_is(r, t, NS_ENC11, "Array") || rd_is(r, t, NS_ENC12, "Array");
    for (a = r->nodes[n].attr; a >= 0; a = r->attrs[a].next) {
        int an = r->attrs[a].name;
        if (rd_is(r, an, NS_ENC11, "arrayType") || rd_is(r, an, NS_ENC12, "itemType") ||
            rd_is(r, an, NS_ENC12, "arraySize"))
            return 1;
    }
    return 0;
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

static void sp_value(lua_State *L, reader *r, int n, int depth);

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

/* pushes the text of leaf node n as a scalar */
static void sp_scalar(lua_State *L, reader *r, int n)
{
    const rnode *nd = &r->nodes[n];
    const char *s = r->text.p + nd->toff;
    size_t len = nd->tlen;
    if (nd->type >= 0 && (rd_is(r, nd->type, NS_XSD, "boolean") || rd_is(r, nd->type, NS_ENC11, "boolean"))) {
        while (len > 0 && (s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || s[0] == '\r'))
            s++, len--;
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' || s[len - 1] == '\r'))
            len--;
        if ((len == 4 && memcmp(s, "true", 4) == 0) || (len == 1 && s[0] == '1'))
            lua_pushliteral(L, "1");
        else
            lua_pushliteral(L, "0");
        return;
    }
    lua_pushlstring(L, s, len);
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
static int sp_child(const reader *r, int n, const char *local)
{
    int c;
    for (c = r->nodes[n].first; c >= 0; c = r->nodes[c].next)
        if (strcmp(rd_local(r, r->nodes[c].name), local) == 0)
            return c;
    return -1;
}

/* pushes the key of a Map item: the key element's text */
static int sp_key(lua_State *L, reader *r, int k, int depth)
{
    k = sp_target(r, k);
    if (k < 0)
        return -1;
    if (r->nodes[k].first >= 0) {
        rd_fail(r, RE_MALFORMED, "a Map key that is not a scalar");
        return -1;
    }
    (void)depth;
    sp_scalar(L, r, k);
    return 0;
}

static void sp_map(lua_State *L, reader *r, int n, int depth)
{
    int c;
    keyshape ks;
    ks_init(&ks);
    lua_newtable(L);
    for (c = r->nodes[n].first; c >= 0 && r->err == RE_NONE; c = r->nodes[c].next) {
        int it = sp_target(r, c), k, v;
        size_t kl;
        const char *key;
        if (it < 0)
            return;
        k = sp_child(r, it, "key");
        v = sp_child(r, it, "value");
        if (k < 0) {
            rd_fail(r, RE_MALFORMED, "a Map item without a key");
            return;
        }
        if (sp_key(L, r, k, depth) != 0)
            return;
        if (v < 0)
            lua_pushliteral(L, "");
        else
            sp_value(L, r, v, depth + 1);
        if (r->err != RE_NONE)
            return;
        key = lua_tolstring(L, -2, &kl);
        ks_note(&ks, key, kl);
        lua_rawset(L, -3);
        ks.count++;
    }
    sp_finish(L, &ks);
}

static void sp_array(lua_State *L, reader *r, int n, int depth)
{
    int c, i = 0;
    lua_newtable(L);
    for (c = r->nodes[n].first; c >= 0 && r->err == RE_NONE; c = r->nodes[c].next) {
        sp_value(L, r, c, depth + 1);
        if (r->err != RE_NONE)
            return;
        lua_rawseti(L, -2, ++i);
    }
}

/* struct: child local names are keys, a repeated name a sequence */
static void sp_struct(lua_State *L, reader *r, int n, int depth)
{
    int c, t, reps;
    keyshape ks;
    ks_init(&ks);
    lua_newtable(L);
    t = lua_gettop(L);
    lua_newtable(L); /* names seen more than once -> their sequence length */
    reps = t + 1;
    for (c = r->nodes[n].first; c >= 0 && r->err == RE_NONE; c = r->nodes[c].next) {
        const char *k = rd_local(r, r->nodes[c].name);
        ks_note(&ks, k, strlen(k));
        sp_value(L, r, c, depth + 1);
        if (r->err != RE_NONE)
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
static void sp_value(lua_State *L, reader *r, int n, int depth)
{
    size_t len;
    const char *nil;
    int t, ty;
    if (depth > RD_MAX_VALUE_DEPTH) {
        rd_fail(r, RE_DEEP, "values nested deeper than %d levels", RD_MAX_VALUE_DEPTH);
        return;
    }
    if (++r->expanded > r->max_expanded) {
        rd_fail(r, RE_LARGE, "the answer expands to more than %zu values (references?)", r->max_expanded);
        return;
    }
    t = sp_target(r, n);
    if (t < 0)
        return;
    if (t != n) {
        if (r->busy[t]) {
            rd_fail(r, RE_MALFORMED, "cyclic reference");
            return;
        }
        r->busy[t] = 1;
        sp_value(L, r, t, depth);
        r->busy[t] = 0;
        return;
    }
    luaL_checkstack(L, 8, "soap_response: nesting");
    nil = rd_attr(r, n, r->q_xsi_nil, &len);
    if (nil != NULL && ((len == 4 && memcmp(nil, "true", 4) == 0) || (len == 1 && nil[0] == '1'))) {
        lua_pushliteral(L, "");
        return;
    }
    ty = r->nodes[n].type;
    if (ty >= 0 && rd_is(r, ty, NS_MAP, "Map"))
        sp_map(L, r, n, depth);
    else if (sp_is_array(r, n))
        sp_array(L, r, n, depth);
    else if (r->nodes[n].first >= 0)
        sp_struct(L, r, n, depth);
    else {
        sp_scalar(L, r, n);
        return;
    }
    if (r->err != RE_NONE)
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
static void sp_push_text(lua_State *L, reader *r, int n, const char *a, const char *b)
{
    int c = n >= 0 ? sp_child(r, n, a) : -1;
    if (c >= 0 && b != NULL)
        c = sp_child(r, c, b);
    if (c < 0)
        lua_pushliteral(L, "");
    else
        lua_pushlstring(L, r->text.p + r->nodes[c].toff, r->nodes[c].tlen);
}

static int sp_fail(lua_State *L, reader *r)
{
    lua_pushnil(L);
    lua_pushstring(L, re_codes[r->err]);
    lua_pushstring(L, r->msg);
    return 3;
}

static int l_soap_response(lua_State *L)
{
    size_t len;
    const char *body = luaL_checklstring(L, 1, &len);
    lua_Integer max = luaL_optinteger(L, 2, RD_DEFAULT_MAX);
    reader *r;
    int env, bodyn, resp, c, v11;
    const char *ens;
    if (max < 0)
        max = 0;
    lua_settop(L, 2);
    r = (reader *)lua_newuserdata(L, sizeof *r); /* index 3: owns all memory */
    memset(r, 0, sizeof *r);
    luaL_getmetatable(L, RD_MT);
    lua_setmetatable(L, -2);
    if (rd_parse(r, body, len, (size_t)max) != 0)
        return sp_fail(L, r);
    r->max_expanded = r->nnodes * 4 + 4096;
    env = 0;
    v11 = rd_is(r, r->nodes[env].name, NS_ENV11, "Envelope");
    if (!v11 && !rd_is(r, r->nodes[env].name, NS_ENV12, "Envelope")) {
        rd_fail(r, RE_MALFORMED, "not a SOAP envelope (root element %.60s)", rd_local(r, r->nodes[env].name));
        return sp_fail(L, r);
    }
    ens = v11 ? NS_ENV11 : NS_ENV12;
    for (bodyn = r->nodes[env].first; bodyn >= 0; bodyn = r->nodes[bodyn].next)
        if (rd_is(r, r->nodes[bodyn].name, ens, "Body"))
            break;
    if (bodyn < 0) {
        rd_fail(r, RE_MALFORMED, "SOAP envelope without a Body");
        return sp_fail(L, r);
    }
    resp = r->nodes[bodyn].first;
    if (resp < 0) {
        rd_fail(r, RE_MALFORMED, "SOAP Body without an element");
        return sp_fail(L, r);
    }
    if (rd_is(r, r->nodes[resp].name, ens, "Fault")) {
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
            if (!rd_is(r, r->nodes[c].name, NS_RPC12, "result"))
                break;
    lua_pushboolean(L, 1);
    if (c < 0) {
        lua_pushnil(L); /* an operation without a result */
        return 2;
    }
    sp_value(L, r, c, 1);
    if (r->err != RE_NONE)
        return sp_fail(L, r);
    return 2;
}

static const luaL_Reg funcs[] = {
    {"soap_request", l_soap_request},
    {"soap_response", l_soap_response},
    {NULL, NULL}
};

void egoi_soap_open(lua_State *L)
{
    luaL_newmetatable(L, RD_MT);
    lua_pushcfunction(L, rd_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    egoi_setfuncs(L, funcs, 0);
}
