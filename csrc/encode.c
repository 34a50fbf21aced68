/*
 * encode.c - PHP-style application/x-www-form-urlencoded encoding of nested
 * Lua tables (functionOptions[a][b]=v), as read by PHP's $_POST / $_GET.
 *
 * The whole body is written into one growing C buffer. Field names are
 * built incrementally in a second buffer (one "[key]" segment per level),
 * and the keys of each map are collected into a shared C array (the key
 * strings stay anchored by their table) and sorted with qsort, so bodies
 * are deterministic. All malloc'd memory hangs off a userdata with __gc, so
 * even a memory error raised by the Lua API cannot leak it; on our own
 * errors the memory is released before the error is raised.
 */
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egoi.h"

#define ENC_MAX_DEPTH 32

/* Byte classes: bit 1 = kept raw in keys and values (RFC 3986 unreserved),
 * bit 2 = kept raw in a caller-supplied name prefix (unreserved + [ ]). */
#define ENC_RAW_VALUE 1
#define ENC_RAW_NAME 2

static const unsigned char enc_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x10 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 0,  /* 0x20 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0,  /* 0x30 */
    0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,  /* 0x40 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 0, 2, 0, 3,  /* 0x50 */
    0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,  /* 0x60 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 3, 0,  /* 0x70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xA0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xB0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xC0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xD0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xE0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xF0 */
};

static const char enc_hex[16] = {
    '0', '1', '2', '3', '4', '5', '6', '7',
    '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'
};

typedef struct {
    char *p;
    size_t len, cap;
} enc_buf;

/* One table key: an integer, or a string anchored by its table. */
typedef struct {
    const char *s;
    size_t len;
    lua_Integer i;
    int is_int;
} enc_key;

/* The userdata that owns every allocation of one encoding call. */
typedef struct {
    enc_buf out;      /* the body */
    enc_buf name;     /* the field name of the current level */
    enc_key *keys;    /* stack of collected keys, one segment per level */
    size_t nkeys, capkeys;
    int busy;         /* the shared box (see box_get) is in use */
} enc_box;

enum {
    ENC_OK = 0,
    ENC_ENOMEM,
    ENC_EDEPTH,
    ENC_EVALUE,     /* value of a type we cannot send */
    ENC_ENONFINITE, /* NaN or infinity */
    ENC_EKEYTYPE,   /* key of a type we cannot send */
    ENC_EBRACKET,   /* string key containing [ or ] */
    ENC_EKEYNUL,    /* string key containing a NUL byte */
    ENC_EKEYEMPTY   /* empty string key (PHP reads [] as "append") */
};

typedef struct {
    lua_State *L;
    enc_box *box;
    int has_prefix;              /* name buffer starts with a prefix */
    int err;                     /* ENC_* */
    int errtype;                 /* Lua type for ENC_EVALUE / ENC_EKEYTYPE */
    int pathlen;                 /* valid entries of path[] for the error */
    enc_key badkey;              /* the key for ENC_EBRACKET / ENC_EKEY* */
    enc_key path[ENC_MAX_DEPTH + 1];
} enc_ctx;

/* ---------------------------------------------------------------- buffers */

static int buf_grow(enc_buf *b, size_t extra)
{
    size_t need, ncap;
    char *np;
    if (extra > SIZE_MAX - b->len)
        return 0;
    need = b->len + extra;
    ncap = b->cap ? b->cap : 256;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    np = (char *)realloc(b->p, ncap);
    if (np == NULL)
        return 0;
    b->p = np;
    b->cap = ncap;
    return 1;
}

static inline int buf_reserve(enc_buf *b, size_t extra)
{
    return (b->cap - b->len >= extra) ? 1 : buf_grow(b, extra);
}

static inline int buf_add(enc_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return 0;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 1;
}

static inline int buf_addc(enc_buf *b, char c)
{
    if (!buf_reserve(b, 1))
        return 0;
    b->p[b->len++] = c;
    return 1;
}

/* Appends s percent-encoded: bytes whose class has bit `keep` stay raw. */
static int buf_add_escaped(enc_buf *b, const char *s, size_t n, unsigned keep)
{
    const unsigned char *src = (const unsigned char *)s;
    const unsigned char *end = src + n;
    char *d;
    if (n > (SIZE_MAX - b->len) / 3 || !buf_reserve(b, 3 * n))
        return 0;
    d = b->p + b->len;
    for (; src < end; src++) {
        unsigned c = *src;
        if (enc_class[c] & keep) {
            *d++ = (char)c;
        } else {
            d[0] = '%';
            d[1] = enc_hex[c >> 4];
            d[2] = enc_hex[c & 15];
            d += 3;
        }
    }
    b->len = (size_t)(d - b->p);
    return 1;
}

/* --------------------------------------------------------------- numbers */

/* Decimal form of v into dst (>= 24 bytes); returns the length. */
static size_t fmt_integer(char *dst, lua_Integer v)
{
    char tmp[24];
    size_t n = 0, k = 0;
    unsigned long long u = (v < 0) ? 0ULL - (unsigned long long)v
                                   : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0);
    if (v < 0)
        dst[k++] = '-';
    while (n > 0)
        dst[k++] = tmp[--n];
    return k;
}

/* Shortest of %.15g / %.16g / %.17g that reads back as d; always with a
 * '.' decimal point whatever the C locale. dst holds >= 32 bytes. */
static size_t fmt_float(char *dst, double d)
{
    int prec, n = 0;
    char point;
    for (prec = 15; prec <= 17; prec++) {
        n = snprintf(dst, 32, "%.*g", prec, d);
        if (prec == 17 || strtod(dst, NULL) == d)
            break;
    }
    if (n < 0)
        n = 0;
    else if (n > 31)
        n = 31;
    point = localeconv()->decimal_point[0];
    if (point != '.' && point != '\0') {
        int i;
        for (i = 0; i < n; i++)
            if (dst[i] == point)
                dst[i] = '.';
    }
    return (size_t)n;
}

/* --------------------------------------------------------------- encoding */

static int enc_table(enc_ctx *c, int t, int level);

/* Writes "&name=" to the body (the caller appends the value). */
static inline int enc_leaf_start(enc_ctx *c)
{
    enc_buf *out = &c->box->out;
    enc_buf *name = &c->box->name;
    if (!buf_reserve(out, name->len + 2))
        return 0;
    if (out->len > 0)
        out->p[out->len++] = '&';
    memcpy(out->p + out->len, name->p, name->len);
    out->len += name->len;
    out->p[out->len++] = '=';
    return 1;
}

/* Appends the name segment of key k ("[k]", or bare "k" at the top level
 * without prefix). */
static int enc_push_name(enc_ctx *c, const enc_key *k, int level)
{
    enc_buf *name = &c->box->name;
    int bare = (level == 0 && !c->has_prefix);
    if (!bare && !buf_addc(name, '['))
        return 0;
    if (k->is_int) {
        char num[24];
        if (!buf_add(name, num, fmt_integer(num, k->i)))
            return 0;
    } else if (!buf_add_escaped(name, k->s, k->len, ENC_RAW_VALUE)) {
        return 0;
    }
    return bare ? 1 : buf_addc(name, ']');
}

static int enc_fail(enc_ctx *c, int err, int pathlen)
{
    c->err = err;
    c->pathlen = pathlen;
    return err;
}

/* Encodes the value at stack index idx whose key path has `level` entries
 * (the name buffer already holds its name). */
static int enc_value(enc_ctx *c, int idx, int level)
{
    lua_State *L = c->L;
    enc_buf *out = &c->box->out;
    int type = lua_type(L, idx);
    switch (type) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (!enc_leaf_start(c) || !buf_add_escaped(out, s, len, ENC_RAW_VALUE))
            return enc_fail(c, ENC_ENOMEM, level);
        return ENC_OK;
    }
    case LUA_TBOOLEAN:
        if (!enc_leaf_start(c) || !buf_addc(out, lua_toboolean(L, idx) ? '1' : '0'))
            return enc_fail(c, ENC_ENOMEM, level);
        return ENC_OK;
    case LUA_TNUMBER: {
        char num[32];
        size_t n;
        lua_Integer i;
        lua_Number d;
        if (egoi_isinteger(L, idx, &i)) {
            n = fmt_integer(num, i);
        } else {
            d = lua_tonumber(L, idx);
            if (d != d || d - d != 0) /* NaN or +-inf */
                return enc_fail(c, ENC_ENONFINITE, level);
            n = fmt_float(num, (double)d);
        }
        /* a float may carry '+' (1e+300): escape it like any value */
        if (!enc_leaf_start(c) || !buf_add_escaped(out, num, n, ENC_RAW_VALUE))
            return enc_fail(c, ENC_ENOMEM, level);
        return ENC_OK;
    }
    case LUA_TTABLE:
        if (level >= ENC_MAX_DEPTH)
            return enc_fail(c, ENC_EDEPTH, level);
        return enc_table(c, idx, level);
    default:
        c->errtype = type;
        return enc_fail(c, ENC_EVALUE, level);
    }
}

static int enc_key_cmp(const void *a, const void *b)
{
    const enc_key *x = (const enc_key *)a;
    const enc_key *y = (const enc_key *)b;
    size_t m;
    int r;
    if (x->is_int != y->is_int)
        return x->is_int ? -1 : 1;
    if (x->is_int)
        return (x->i > y->i) - (x->i < y->i);
    m = x->len < y->len ? x->len : y->len;
    r = m ? memcmp(x->s, y->s, m) : 0;
    if (r != 0)
        return r;
    return (x->len > y->len) - (x->len < y->len);
}

/* Sorts n keys: insertion sort for the usual handful of fields of one
 * record, qsort for big maps. */
static void enc_sort(enc_key *k, size_t n)
{
    size_t i, j;
    if (n > 16) {
        qsort(k, n, sizeof(enc_key), enc_key_cmp);
        return;
    }
    for (i = 1; i < n; i++) {
        enc_key cur = k[i];
        for (j = i; j > 0 && enc_key_cmp(&k[j - 1], &cur) > 0; j--)
            k[j] = k[j - 1];
        k[j] = cur;
    }
}

static int keys_push(enc_box *box, const enc_key *k)
{
    if (box->nkeys == box->capkeys) {
        size_t ncap = box->capkeys ? box->capkeys * 2 : 64;
        enc_key *nk;
        if (ncap > SIZE_MAX / sizeof(enc_key))
            return 0;
        nk = (enc_key *)realloc(box->keys, ncap * sizeof(enc_key));
        if (nk == NULL)
            return 0;
        box->keys = nk;
        box->capkeys = ncap;
    }
    box->keys[box->nkeys++] = *k;
    return 1;
}

/* Collects the keys of the table at t (path has `level` entries so far)
 * onto the key stack; sets *seq when they are exactly 1..n. */
static int enc_collect(enc_ctx *c, int t, int level, size_t *count, int *seq)
{
    lua_State *L = c->L;
    size_t n = 0;
    lua_Integer maxk = 0;
    int ok_seq = 1;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        enc_key k;
        int err = ENC_OK;
        lua_pop(L, 1); /* the value */
        k.s = NULL;
        k.len = 0;
        k.i = 0;
        k.is_int = 0;
        switch (lua_type(L, -1)) {
        case LUA_TSTRING:
            k.s = lua_tolstring(L, -1, &k.len);
            ok_seq = 0;
            if (k.len == 0)
                err = ENC_EKEYEMPTY;
            else if (memchr(k.s, '[', k.len) || memchr(k.s, ']', k.len))
                err = ENC_EBRACKET;
            else if (memchr(k.s, '\0', k.len))
                err = ENC_EKEYNUL;
            break;
        case LUA_TNUMBER:
            if (egoi_isinteger(L, -1, &k.i)) {
                k.is_int = 1;
                if (k.i < 1)
                    ok_seq = 0;
                else if (k.i > maxk)
                    maxk = k.i;
            } else {
                c->errtype = LUA_TNUMBER;
                err = ENC_EKEYTYPE;
            }
            break;
        default:
            c->errtype = lua_type(L, -1);
            err = ENC_EKEYTYPE;
            break;
        }
        if (err != ENC_OK) {
            lua_pop(L, 1);
            c->badkey = k; /* anchored by the table */
            return enc_fail(c, err, level);
        }
        if (!keys_push(c->box, &k)) {
            lua_pop(L, 1);
            return enc_fail(c, ENC_ENOMEM, level);
        }
        n++;
    }
    *count = n;
    *seq = ok_seq && n > 0 && (lua_Integer)n == maxk;
    return ENC_OK;
}

/* Encodes every entry of the table at index t; `level` path entries lead
 * to it (its depth is level + 1). */
static int enc_table(enc_ctx *c, int t, int level)
{
    lua_State *L = c->L;
    enc_box *box = c->box;
    size_t base = box->nkeys, n, i;
    size_t name_len = box->name.len;
    int seq, rc;

    luaL_checkstack(L, 4, "form encoding");
    rc = enc_collect(c, t, level, &n, &seq);
    if (rc != ENC_OK || n == 0)
        return rc;
    if (seq) {
        box->nkeys = base; /* positions are implied */
        for (i = 0; i < n; i++) {
            enc_key k;
            k.s = NULL;
            k.len = 0;
            k.i = (lua_Integer)i;
            k.is_int = 1;
            c->path[level] = k;
            if (!enc_push_name(c, &k, level))
                return enc_fail(c, ENC_ENOMEM, level + 1);
            lua_rawgeti(L, t, (int)(i + 1));
            rc = enc_value(c, lua_gettop(L), level + 1);
            lua_pop(L, 1);
            if (rc != ENC_OK)
                return rc;
            box->name.len = name_len;
        }
        return ENC_OK;
    }
    enc_sort(box->keys + base, n);
    for (i = 0; i < n; i++) {
        /* copy: deeper levels may move the key stack */
        enc_key k = box->keys[base + i];
        c->path[level] = k;
        if (!enc_push_name(c, &k, level))
            return enc_fail(c, ENC_ENOMEM, level + 1);
        if (k.is_int)
            lua_pushinteger(L, k.i);
        else
            lua_pushlstring(L, k.s, k.len);
        lua_rawget(L, t);
        rc = enc_value(c, lua_gettop(L), level + 1);
        lua_pop(L, 1);
        if (rc != ENC_OK)
            return rc;
        box->name.len = name_len;
    }
    box->nkeys = base;
    return ENC_OK;
}

/* ------------------------------------------------------------ Lua glue */

static void box_release(enc_box *box)
{
    free(box->out.p);
    free(box->name.p);
    free(box->keys);
    memset(box, 0, sizeof *box);
}

static int box_gc(lua_State *L)
{
    enc_box *box = (enc_box *)lua_touserdata(L, 1);
    if (box != NULL) {
        box_release(box);
        /* a finalizer running after this one (at lua_close) must not take
         * the collected shared box: busy sends it to a box of its own */
        box->busy = 1;
    }
    return 0;
}

/* New owner userdata on top of the stack; its metatable is upvalue 1. */
static enc_box *box_new(lua_State *L)
{
    enc_box *box = (enc_box *)lua_newuserdata(L, sizeof(enc_box));
    memset(box, 0, sizeof *box);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setmetatable(L, -2);
    return box;
}

/* The owner for one form_request/form_encode call, on top of the stack:
 * the box shared by the functions of this Lua state (upvalue 2), whose
 * buffers are kept between calls, so a small call allocates nothing and
 * leaves no finalizer to run. Encoding runs no Lua code, but an allocation
 * can run a __gc finalizer that encodes too: when the shared box is busy a
 * new one is made. (A memory error raised mid-call leaves it marked busy;
 * later calls then use new boxes: slower, still correct.) */
static enc_box *box_get(lua_State *L)
{
    enc_box *box = (enc_box *)lua_touserdata(L, lua_upvalueindex(2));
    if (box == NULL || box->busy)
        return box_new(L);
    box->busy = 1;
    box->out.len = box->name.len = 0;
    box->nkeys = 0;
    lua_pushvalue(L, lua_upvalueindex(2));
    return box;
}

/* Done with a box: the shared one keeps buffers up to 64 kB. */
static void box_done(lua_State *L, enc_box *box)
{
    if (box != (enc_box *)lua_touserdata(L, lua_upvalueindex(2))) {
        box_release(box);
        return;
    }
    if (box->out.cap > 65536 || box->name.cap > 65536 || box->capkeys > 4096)
        box_release(box);
    box->busy = 0;
}

static const char *enc_message(int err)
{
    switch (err) {
    case ENC_EDEPTH: return "tables nested deeper than 32 levels (cycle?)";
    case ENC_ENONFINITE: return "cannot encode NaN or infinity";
    case ENC_EBRACKET: return " contains '[' or ']', which PHP form names cannot express";
    case ENC_EKEYNUL: return " contains a NUL byte, which PHP form names cannot express";
    case ENC_EKEYEMPTY: return " is empty (PHP would read [] as an append)";
    default: return "not enough memory";
    }
}

/* Raises the error recorded in c after releasing every allocation. The
 * key strings of the path stay anchored by their tables (still reachable
 * from the arguments) while the message is built. */
static int enc_raise(enc_ctx *c, const char *prefix, size_t plen, int release)
{
    lua_State *L = c->L;
    luaL_Buffer b;
    int i;
    if (release)
        box_release(c->box);
    if (c->err == ENC_ENOMEM)
        return luaL_error(L, "form encoding: not enough memory");
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, prefix, plen);
    for (i = 0; i < c->pathlen; i++) {
        const enc_key *k = &c->path[i];
        int bare = (i == 0 && plen == 0);
        if (!bare)
            luaL_addchar(&b, '[');
        if (k->is_int) {
            char num[24];
            luaL_addlstring(&b, num, fmt_integer(num, k->i));
        } else {
            luaL_addlstring(&b, k->s, k->len);
        }
        if (!bare)
            luaL_addchar(&b, ']');
    }
    if (plen > 0 || c->pathlen > 0)
        luaL_addstring(&b, ": ");
    if (c->err == ENC_EVALUE) {
        luaL_addstring(&b, "cannot encode a ");
        luaL_addstring(&b, lua_typename(L, c->errtype));
    } else if (c->err == ENC_EKEYTYPE) {
        luaL_addstring(&b, "cannot encode a ");
        luaL_addstring(&b, c->errtype == LUA_TNUMBER ? "non-integer number"
                                                      : lua_typename(L, c->errtype));
        luaL_addstring(&b, " key");
    } else if (c->err == ENC_EBRACKET || c->err == ENC_EKEYEMPTY) {
        luaL_addstring(&b, "key \"");
        luaL_addlstring(&b, c->badkey.s, c->badkey.len);
        luaL_addchar(&b, '"');
        luaL_addstring(&b, enc_message(c->err));
    } else if (c->err == ENC_EKEYNUL) {
        luaL_addstring(&b, "a key");
        luaL_addstring(&b, enc_message(c->err));
    } else {
        luaL_addstring(&b, enc_message(c->err));
    }
    luaL_pushresult(&b);
    return lua_error(L);
}

/* Pushes the body as the result and releases the buffers. */
static int enc_finish(enc_ctx *c, int rc, const char *prefix, size_t plen)
{
    if (rc != ENC_OK)
        return enc_raise(c, prefix, plen, 1);
    lua_pushlstring(c->L, c->box->out.p ? c->box->out.p : "", c->box->out.len);
    box_done(c->L, c->box);
    return 1;
}

static void ctx_init(enc_ctx *c, lua_State *L, enc_box *box)
{
    c->L = L;
    c->box = box;
    c->has_prefix = 0;
    c->err = ENC_OK;
    c->errtype = LUA_TNIL;
    c->pathlen = 0;
    c->badkey.s = NULL;
    c->badkey.len = 0;
    c->badkey.i = 0;
    c->badkey.is_int = 0;
}

/* form_encode(tbl[, prefix]) -> string */
static int l_form_encode(lua_State *L)
{
    enc_ctx c;
    enc_box *box;
    size_t plen = 0;
    const char *prefix;
    int rc = ENC_OK;

    luaL_checktype(L, 1, LUA_TTABLE);
    prefix = luaL_optlstring(L, 2, "", &plen);
    lua_settop(L, 2);
    box = box_get(L);
    ctx_init(&c, L, box);
    if (plen > 0) {
        c.has_prefix = 1;
        if (!buf_add_escaped(&box->name, prefix, plen, ENC_RAW_NAME))
            rc = enc_fail(&c, ENC_ENOMEM, 0);
    }
    if (rc == ENC_OK)
        rc = enc_table(&c, 1, 0);
    return enc_finish(&c, rc, prefix, plen);
}

/* form_request(method, options|nil[, type="json"]) -> string */
static int l_form_request(lua_State *L)
{
    static const char fo[] = "functionOptions";
    enc_ctx c;
    enc_box *box;
    size_t mlen, tlen;
    const char *method = luaL_checklstring(L, 1, &mlen);
    const char *type;
    int rc = ENC_OK;

    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    type = luaL_optlstring(L, 3, "json", &tlen);
    lua_settop(L, 3);
    box = box_get(L);
    ctx_init(&c, L, box);
    c.has_prefix = 1;
    if (!buf_add(&box->out, "method=", 7)
        || !buf_add_escaped(&box->out, method, mlen, ENC_RAW_VALUE)
        || !buf_add(&box->out, "&type=", 6)
        || !buf_add_escaped(&box->out, type, tlen, ENC_RAW_VALUE)
        || !buf_add(&box->name, fo, sizeof fo - 1))
        rc = enc_fail(&c, ENC_ENOMEM, 0);
    if (rc == ENC_OK && lua_istable(L, 2))
        rc = enc_table(&c, 2, 0);
    return enc_finish(&c, rc, fo, sizeof fo - 1);
}

/* ------------------------------------------------------- form_buffer */

/* A reusable body buffer for bulk packing: rows are appended one at a time
 * (each encoded exactly once, straight into the buffer), the caller reads
 * the running size to decide where a chunk ends, can drop the last row
 * again, and takes the chunk as one string. No per-row Lua strings. */
#define FB_MT "egoi.core.form_buffer"

static enc_box *fb_check(lua_State *L)
{
    enc_box *box = (enc_box *)luaL_checkudata(L, 1, FB_MT);
    return box;
}

/* fb:add(tbl, prefix[, index]) -> new length. With index the names are
 * prefix[index][...]. On an encoding error the buffer is left as it was
 * before the call and the error is raised. */
static int fb_add(lua_State *L)
{
    enc_ctx c;
    enc_box *box = fb_check(L);
    size_t plen = 0, mark;
    const char *prefix;
    int rc = ENC_OK;

    luaL_checktype(L, 2, LUA_TTABLE);
    prefix = luaL_optlstring(L, 3, "", &plen);
    lua_settop(L, 4);
    mark = box->out.len;
    box->name.len = 0;
    box->nkeys = 0;
    ctx_init(&c, L, box);
    if (plen > 0 || !lua_isnil(L, 4)) {
        c.has_prefix = 1;
        if (!buf_add_escaped(&box->name, prefix, plen, ENC_RAW_NAME))
            rc = enc_fail(&c, ENC_ENOMEM, 0);
    }
    if (rc == ENC_OK && !lua_isnil(L, 4)) {
        char num[24];
        lua_Integer idx;
        if (!egoi_isinteger(L, 4, &idx))
            return luaL_argerror(L, 4, "index must be an integer");
        if (!buf_addc(&box->name, '[') || !buf_add(&box->name, num, fmt_integer(num, idx))
            || !buf_addc(&box->name, ']'))
            rc = enc_fail(&c, ENC_ENOMEM, 0);
    }
    if (rc == ENC_OK)
        rc = enc_table(&c, 2, 0);
    if (rc != ENC_OK) {
        box->out.len = mark;
        if (!lua_isnil(L, 4)) { /* name the row: prefix[index] */
            lua_Integer idx = 0;
            egoi_isinteger(L, 4, &idx);
            prefix = lua_pushfstring(L, "%s[%d]", prefix, (int)idx);
            plen = strlen(prefix);
        }
        return enc_raise(&c, prefix, plen, 0);
    }
    lua_pushinteger(L, (lua_Integer)box->out.len);
    return 1;
}

/* fb:add_raw(s) -> new length: appends an already encoded piece (with the
 * "&" separator when the buffer is not empty). */
static int fb_add_raw(lua_State *L)
{
    enc_box *box = fb_check(L);
    size_t n;
    const char *piece = luaL_checklstring(L, 2, &n);
    if (n > 0) {
        if ((box->out.len > 0 && !buf_addc(&box->out, '&')) || !buf_add(&box->out, piece, n))
            return luaL_error(L, "form encoding: not enough memory");
    }
    lua_pushinteger(L, (lua_Integer)box->out.len);
    return 1;
}

/* For transport.c: the bytes of a form_buffer at stack index idx, without
 * copying (valid while the userdata is alive and not modified), or NULL
 * when the value is not a form_buffer. */
const char *egoi_encode_buffer_view(lua_State *L, int idx, size_t *len)
{
    enc_box *box = (enc_box *)egoi_testudata(L, idx, FB_MT);
    if (box == NULL)
        return NULL;
    *len = box->out.len;
    return box->out.p != NULL ? box->out.p : "";
}

/* fb:string() -> the contents as a string, leaving the buffer as it is */
static int fb_string(lua_State *L)
{
    enc_box *box = fb_check(L);
    lua_pushlstring(L, box->out.p ? box->out.p : "", box->out.len);
    return 1;
}

static int fb_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)fb_check(L)->out.len);
    return 1;
}

/* fb:truncate(n): drop everything after the first n bytes */
static int fb_truncate(lua_State *L)
{
    enc_box *box = fb_check(L);
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n < 0 || (size_t)n > box->out.len)
        return luaL_argerror(L, 2, "length out of range");
    box->out.len = (size_t)n;
    return 0;
}

/* fb:take() -> string; the buffer is empty afterwards (its memory is
 * released when large, so a finished chunk does not stay resident). */
static int fb_take(lua_State *L)
{
    enc_box *box = fb_check(L);
    lua_pushlstring(L, box->out.p ? box->out.p : "", box->out.len);
    box->out.len = 0;
    if (box->out.cap > (size_t)1 << 20) {
        free(box->out.p);
        box->out.p = NULL;
        box->out.cap = 0;
    }
    return 1;
}

static int fb_close(lua_State *L)
{
    box_release(fb_check(L));
    return 0;
}

static int fb_new(lua_State *L)
{
    enc_box *box = (enc_box *)lua_newuserdata(L, sizeof(enc_box));
    memset(box, 0, sizeof *box);
    luaL_getmetatable(L, FB_MT);
    lua_setmetatable(L, -2);
    return 1;
}

static void fb_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"add", fb_add},
        {"add_raw", fb_add_raw},
        {"string", fb_string},
        {"len", fb_len},
        {"truncate", fb_truncate},
        {"take", fb_take},
        {"close", fb_close},
        {NULL, NULL}
    };
    egoi_class(L, FB_MT, methods, fb_close, NULL);
    lua_pop(L, 1);
}

void egoi_encode_open(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"form_encode", l_form_encode},
        {"form_request", l_form_request},
        {NULL, NULL}
    };
    fb_register(L);
    lua_pushcfunction(L, fb_new);
    lua_setfield(L, -2, "form_buffer");
    /* upvalue 1: metatable of the buffer owners; upvalue 2: the shared box */
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    memset(lua_newuserdata(L, sizeof(enc_box)), 0, sizeof(enc_box));
    lua_pushvalue(L, -2);
    lua_setmetatable(L, -2);
    egoi_setfuncs(L, funcs, 2);
}
