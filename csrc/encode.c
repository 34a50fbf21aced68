/*
 * encode.c - PHP-style application/x-www-form-urlencoded encoding of nested
 * Lua tables (functionOptions[a][b]=v), as read by PHP's $_POST / $_GET.
 *
 * The whole body is written into one growing C buffer (buffer.h, shared
 * by the core's encoders). Field names are built incrementally in a second
 * buffer (one "[key]" segment per level), and the keys of each map are
 * collected into a shared C array and sorted with egoi_keys_sort, so
 * bodies are deterministic. All malloc'd memory hangs off a
 * userdata with __gc, so even a memory error raised by the Lua API cannot
 * leak it; on our own errors the memory is released before the error is
 * raised.
 *
 * Nothing a __gc finalizer can reach is held by pointer across the walk:
 * every string key is anchored in a scratch table on the Lua stack (the
 * walk looks values up through that table, never by pushing a new string),
 * the walk itself never runs a GC step (it only reads tables and sets
 * fields of the scratch table; no lua_push*string, no table creation), and
 * fb:add encodes into the call's own scratch box and appends the finished
 * row to the form_buffer in one step at the end. So a finalizer that edits
 * the table being encoded or closes/fills the buffer cannot make us read
 * freed memory.
 *
 * Work is bounded: the hash part of the scratch table records the tables
 * already walked, and fields walked again inside a table reached through a
 * second path (a shared subtable) count against ENC_MAX_REPEAT, so a DAG
 * whose paths multiply ({a = t, b = t} at each of 32 levels) fails fast.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"

#define ENC_MAX_DEPTH 32
#if defined(LUA_MAXINTEGER)
#define ENC_MAXINT LUA_MAXINTEGER
#else
#define ENC_MAXINT PTRDIFF_MAX /* LuaJIT: lua_Integer is ptrdiff_t */
#endif
#define ENC_MAX_REPEAT 100000 /* fields walked again through shared subtables */

/* One table key: an integer, or a string anchored at index `slot` of the
 * call's scratch table. */
typedef egoi_key enc_key;

/* The userdata that owns every allocation of one encoding call. */
typedef struct {
    egoi_buf out;      /* the body */
    egoi_buf name;     /* the field name of the current level */
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
    ENC_EKEYEMPTY,  /* empty string key (PHP reads [] as "append") */
    ENC_EKEYBLANK,  /* top-level key of spaces only (PHP drops the field) */
    ENC_ECOLLIDE,   /* two keys PHP reads as the same field name */
    ENC_ESHARED     /* ENC_MAX_REPEAT exceeded (paths through shared tables) */
};

typedef struct {
    lua_State *L;
    enc_box *box;
    int has_prefix;              /* name buffer starts with a prefix */
    int scratch;                 /* stack index of the scratch table */
    int slots;                   /* highest anchor slot used in it */
    int marked;                  /* tables recorded in its hash part */
    int revisit;                 /* > 0: inside a table walked before */
    long spare;                  /* fields left of ENC_MAX_REPEAT */
    int err;                     /* ENC_* */
    int errtype;                 /* Lua type for ENC_EVALUE / ENC_EKEYTYPE */
    int pathlen;                 /* valid entries of path[] for the error */
    int fold;                    /* ENC_ECOLLIDE came from PHP's top-level folding */
    int shared;                  /* the box and scratch table are the shared ones */
    enc_key badkey;              /* the key for ENC_EBRACKET / ENC_EKEY* / ENC_ECOLLIDE */
    enc_key badkey2;             /* the other key for ENC_ECOLLIDE */
    enc_key path[ENC_MAX_DEPTH + 1];
} enc_ctx;

/* --------------------------------------------------------------- encoding */

static int enc_table(enc_ctx *c, int t, int level);

/* Writes "&name=" to the body (the caller appends the value). */
static inline int enc_leaf_start(enc_ctx *c)
{
    egoi_buf *out = &c->box->out;
    egoi_buf *name = &c->box->name;
    if (!egoi_buf_reserve(out, name->len + 2))
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
    egoi_buf *name = &c->box->name;
    int bare = (level == 0 && !c->has_prefix);
    if (!bare && !egoi_buf_addc(name, '['))
        return 0;
    if (k->is_int) {
        char num[EGOI_NUM_MAX];
        if (!egoi_buf_add(name, num, egoi_fmt_integer(num, k->i)))
            return 0;
    } else if (!egoi_buf_add_pct(name, k->s, k->len, EGOI_PCT_VALUE)) {
        return 0;
    }
    return bare ? 1 : egoi_buf_addc(name, ']');
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
    egoi_buf *out = &c->box->out;
    int type = lua_type(L, idx);
    switch (type) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (!enc_leaf_start(c) || !egoi_buf_add_pct(out, s, len, EGOI_PCT_VALUE))
            return enc_fail(c, ENC_ENOMEM, level);
        return ENC_OK;
    }
    case LUA_TBOOLEAN:
        if (!enc_leaf_start(c) || !egoi_buf_addc(out, lua_toboolean(L, idx) ? '1' : '0'))
            return enc_fail(c, ENC_ENOMEM, level);
        return ENC_OK;
    case LUA_TNUMBER: {
        char num[EGOI_NUM_MAX];
        size_t n;
        lua_Integer i;
        lua_Number d;
        if (egoi_isinteger(L, idx, &i)) {
            n = egoi_fmt_integer(num, i);
        } else {
            d = lua_tonumber(L, idx);
            if (d != d || d - d != 0) /* NaN or +-inf */
                return enc_fail(c, ENC_ENONFINITE, level);
            n = egoi_fmt_float(num, (double)d);
        }
        /* a float may carry '+' (1e+300): escape it like any value */
        if (!enc_leaf_start(c) || !egoi_buf_add_pct(out, num, n, EGOI_PCT_VALUE))
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
 * onto the key stack; sets *seq when they are exactly 1..n and *sub when
 * a value is a table. Each string
 * key is anchored in the scratch table first (slot = its place on the key
 * stack + 1), so it stays alive whatever happens to t. */
static int enc_collect(enc_ctx *c, int t, int level, size_t *count, int *seq, int *sub)
{
    lua_State *L = c->L;
    size_t n = 0;
    lua_Integer maxk = 0;
    int ok_seq = 1;
    *sub = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        enc_key k;
        int err = ENC_OK;
        if (lua_type(L, -1) == LUA_TTABLE)
            *sub = 1;
        lua_pop(L, 1); /* the value */
        k.s = NULL;
        k.len = 0;
        k.i = 0;
        k.is_int = 0;
        k.slot = 0;
        switch (lua_type(L, -1)) {
        case LUA_TSTRING:
            if (c->box->nkeys >= (size_t)INT_MAX - 1) {
                lua_pop(L, 1);
                return enc_fail(c, ENC_ENOMEM, level);
            }
            k.slot = (int)c->box->nkeys + 1;
            lua_pushvalue(L, -1);
            lua_rawseti(L, c->scratch, k.slot);
            if (k.slot > c->slots)
                c->slots = k.slot;
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
            c->badkey = k; /* anchored in the scratch table */
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

/* Is s exactly what fmt_integer prints for some integer (no sign on 0, no
 * leading zeros)? That is how PHP tells an integer index from a string. */
static int enc_decimal(const char *s, size_t len, lua_Integer *out)
{
    char num[EGOI_NUM_MAX];
    unsigned long long u = 0;
    size_t i = (len > 0 && s[0] == '-') ? 1 : 0;
    lua_Integer v;
    if (len == i || len - i > 19)
        return 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        u = u * 10 + (unsigned long long)(s[i] - '0');
    }
    if (s[0] == '-') {
        if (u == 0 || u - 1 > (unsigned long long)ENC_MAXINT)
            return 0;
        v = -(lua_Integer)(u - 1) - 1;
    } else {
        if (u > (unsigned long long)ENC_MAXINT)
            return 0;
        v = (lua_Integer)u;
    }
    if (egoi_fmt_integer(num, v) != len || memcmp(num, s, len) != 0)
        return 0;
    *out = v;
    return 1;
}

/* PHP turns '.' and ' ' of a top-level name into '_' (after dropping its
 * leading spaces). */
static unsigned enc_fold(char ch)
{
    return (ch == '.' || ch == ' ') ? (unsigned)'_' : (unsigned)(unsigned char)ch;
}

/* The field name of k as PHP reads it at the top level: the bytes from
 * *s, its length returned (num holds EGOI_NUM_MAX bytes for an integer key). */
static size_t enc_top_name(const enc_key *k, char *num, const char **s)
{
    size_t i = 0;
    if (k->is_int) {
        *s = num;
        return egoi_fmt_integer(num, k->i);
    }
    while (i < k->len && k->s[i] == ' ')
        i++;
    *s = k->s + i;
    return k->len - i;
}

static int enc_fold_cmp(const void *a, const void *b)
{
    char na[EGOI_NUM_MAX], nb[EGOI_NUM_MAX];
    const char *x, *y;
    size_t lx = enc_top_name((const enc_key *)a, na, &x);
    size_t ly = enc_top_name((const enc_key *)b, nb, &y);
    size_t i, m = lx < ly ? lx : ly;
    for (i = 0; i < m; i++) {
        unsigned cx = enc_fold(x[i]), cy = enc_fold(y[i]);
        if (cx != cy)
            return cx < cy ? -1 : 1;
    }
    return (lx > ly) - (lx < ly);
}

/* enc_fold_cmp, ties in the usual key order: a deterministic sort, so the
 * error names the two keys in the same order every time. */
static int enc_fold_sort_cmp(const void *a, const void *b)
{
    int r = enc_fold_cmp(a, b);
    return r != 0 ? r : egoi_key_cmp(a, b);
}

static int enc_collide(enc_ctx *c, const enc_key *a, const enc_key *b, int level)
{
    c->badkey = *a;
    c->badkey2 = *b;
    return enc_fail(c, ENC_ECOLLIDE, level);
}

/* The n sorted keys at base name n distinct PHP fields? An integer key and
 * the string of its digits ({[5] = .., ["5"] = ..}) do not; at the top
 * level of a body without prefix neither do "a.b", "a b", " a_b" and
 * "a_b", and a name of spaces only is dropped by PHP. */
static int enc_check_names(enc_ctx *c, size_t base, size_t n, int level)
{
    enc_box *box = c->box;
    size_t nint = 0, i, lo, hi;
    int top = (level == 0 && !c->has_prefix), fold = 0;

    while (nint < n && box->keys[base + nint].is_int)
        nint++;
    for (i = nint; i < n; i++) {
        const enc_key *k = &box->keys[base + i];
        lua_Integer v;
        if (top) {
            size_t j = 0;
            while (j < k->len && k->s[j] == ' ')
                j++;
            if (j == k->len) {
                c->badkey = *k;
                return enc_fail(c, ENC_EKEYBLANK, level);
            }
            if (memchr(k->s, '.', k->len) || memchr(k->s, ' ', k->len))
                fold = 1;
        }
        if (nint == 0 || !enc_decimal(k->s, k->len, &v))
            continue;
        lo = 0;
        hi = nint;
        while (lo < hi) { /* the integer keys are sorted */
            size_t mid = lo + (hi - lo) / 2;
            if (box->keys[base + mid].i < v)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < nint && box->keys[base + lo].i == v)
            return enc_collide(c, &box->keys[base + lo], k, level);
    }
    if (!fold)
        return ENC_OK;
    /* sort copies by the folded name; equal neighbours collide */
    for (i = 0; i < n; i++) {
        enc_key k = box->keys[base + i];
        if (!keys_push(box, &k)) {
            box->nkeys = base + n;
            return enc_fail(c, ENC_ENOMEM, level);
        }
    }
    qsort(box->keys + base + n, n, sizeof(enc_key), enc_fold_sort_cmp);
    for (i = 1; i < n; i++) {
        const enc_key *x = &box->keys[base + n + i - 1], *y = &box->keys[base + n + i];
        if (enc_fold_cmp(x, y) == 0) {
            c->fold = 1;
            enc_collide(c, x, y, level);
            box->nkeys = base + n;
            return c->err;
        }
    }
    box->nkeys = base + n;
    return ENC_OK;
}

/* Was the table at t (which holds tables) walked before in this call?
 * Records it if not. Tables without subtables need no record: however
 * often one is referenced, the cost stays linear in the input, unless
 * the references come through a shared table, which is recorded. Raw
 * get/set of the scratch table run no GC step. */
static int enc_seen(enc_ctx *c, int t)
{
    lua_State *L = c->L;
    int again;
    lua_pushvalue(L, t);
    lua_rawget(L, c->scratch);
    again = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!again) {
        lua_pushvalue(L, t);
        lua_pushboolean(L, 1);
        lua_rawset(L, c->scratch);
        c->marked = 1;
    }
    return again;
}

static int enc_entries(enc_ctx *c, int t, int level, size_t base, size_t n, int seq);

/* Encodes every entry of the table at index t; `level` path entries lead
 * to it (its depth is level + 1). */
static int enc_table(enc_ctx *c, int t, int level)
{
    size_t base = c->box->nkeys, n;
    int seq, sub, again = 0, rc;

    luaL_checkstack(c->L, 4, "form encoding");
    rc = enc_collect(c, t, level, &n, &seq, &sub);
    if (rc != ENC_OK || n == 0)
        return rc;
    if (sub && level > 0)
        again = enc_seen(c, t);
    if (c->revisit + again > 0) { /* walking a shared table again */
        c->spare -= (long)n;
        if (c->spare < 0)
            return enc_fail(c, ENC_ESHARED, level);
    }
    c->revisit += again;
    rc = enc_entries(c, t, level, base, n, seq);
    c->revisit -= again;
    return rc;
}

/* The n entries of the table at t whose keys were collected at base. */
static int enc_entries(enc_ctx *c, int t, int level, size_t base, size_t n, int seq)
{
    lua_State *L = c->L;
    enc_box *box = c->box;
    size_t name_len = box->name.len, i;
    int rc;

    if (seq) {
        box->nkeys = base; /* positions are implied */
        for (i = 0; i < n; i++) {
            enc_key k;
            k.s = NULL;
            k.len = 0;
            k.i = (lua_Integer)i;
            k.is_int = 1;
            k.slot = 0;
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
    egoi_keys_sort(box->keys + base, n);
    rc = enc_check_names(c, base, n, level);
    if (rc != ENC_OK)
        return rc;
    for (i = 0; i < n; i++) {
        /* copy: deeper levels may move the key stack */
        enc_key k = box->keys[base + i];
        c->path[level] = k;
        if (!enc_push_name(c, &k, level))
            return enc_fail(c, ENC_ENOMEM, level + 1);
        if (k.is_int)
            lua_pushinteger(L, k.i);
        else
            lua_rawgeti(L, c->scratch, k.slot); /* the key itself: no new string */
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
    egoi_buf_free(&box->out);
    egoi_buf_free(&box->name);
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

/* Pushes the call's scratch table (string keys anchored in its array part,
 * tables walked in its hash part): the shared box's own one, kept at [1]
 * of upvalue 3 between calls, else a new one. */
static void scratch_push(enc_ctx *c)
{
    lua_State *L = c->L;
    c->shared = c->box == (enc_box *)lua_touserdata(L, lua_upvalueindex(2));
    if (c->shared) {
        lua_rawgeti(L, lua_upvalueindex(3), 1);
        if (!lua_isnil(L, -1)) {
            c->scratch = lua_gettop(L);
            return;
        }
        lua_pop(L, 1);
    }
    lua_createtable(L, 16, 0);
    if (c->shared) {
        lua_pushvalue(L, -1);
        lua_rawseti(L, lua_upvalueindex(3), 1);
    }
    c->scratch = lua_gettop(L);
}

/* After the call: the shared scratch table is emptied for the next one, or
 * dropped (a new one next time) after an error, when it records tables or
 * when it grew large. */
static void scratch_done(enc_ctx *c, int ok)
{
    lua_State *L = c->L;
    int i;
    if (!c->shared)
        return;
    if (!ok || c->marked || c->slots > 1024) {
        lua_pushnil(L);
        lua_rawseti(L, lua_upvalueindex(3), 1);
        return;
    }
    for (i = 1; i <= c->slots; i++) {
        lua_pushnil(L);
        lua_rawseti(L, c->scratch, i);
    }
}

static const char *enc_message(int err)
{
    switch (err) {
    case ENC_EDEPTH: return "tables nested deeper than 32 levels (cycle?)";
    case ENC_ENONFINITE: return "cannot encode NaN or infinity";
    case ENC_EBRACKET: return " contains '[' or ']', which PHP form names cannot express";
    case ENC_EKEYNUL: return " contains a NUL byte, which PHP form names cannot express";
    case ENC_EKEYEMPTY: return " is empty (PHP would read [] as an append)";
    case ENC_EKEYBLANK: return " is only spaces (PHP drops such a top-level field)";
    case ENC_ESHARED:
        return "a table reached through many paths: more than 100000 fields walked again"
               " (a shared subtable referenced repeatedly?)";
    default: return "not enough memory";
    }
}

/* Appends key k as the message shows it: an integer as digits, a string
 * quoted. */
static void enc_add_key(luaL_Buffer *b, const enc_key *k)
{
    if (k->is_int) {
        char num[EGOI_NUM_MAX];
        luaL_addlstring(b, num, egoi_fmt_integer(num, k->i));
        return;
    }
    luaL_addchar(b, '"');
    luaL_addlstring(b, k->s, k->len);
    luaL_addchar(b, '"');
}

/* Raises the error recorded in c after releasing every allocation. The
 * key strings of the path stay anchored in the scratch table (still on
 * the stack) while the message is built. */
static int enc_raise(enc_ctx *c, const char *prefix, size_t plen)
{
    lua_State *L = c->L;
    luaL_Buffer b;
    int i;
    scratch_done(c, 0);
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
            char num[EGOI_NUM_MAX];
            luaL_addlstring(&b, num, egoi_fmt_integer(num, k->i));
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
    } else if (c->err == ENC_EBRACKET || c->err == ENC_EKEYEMPTY || c->err == ENC_EKEYBLANK) {
        luaL_addstring(&b, "key ");
        enc_add_key(&b, &c->badkey);
        luaL_addstring(&b, enc_message(c->err));
    } else if (c->err == ENC_EKEYNUL) {
        luaL_addstring(&b, "a key");
        luaL_addstring(&b, enc_message(c->err));
    } else if (c->err == ENC_ECOLLIDE) {
        luaL_addstring(&b, "keys ");
        enc_add_key(&b, &c->badkey);
        luaL_addstring(&b, " and ");
        enc_add_key(&b, &c->badkey2);
        luaL_addstring(&b, c->fold ? " are the same field once PHP turns '.' and ' ' of a"
                                     " top-level name into '_' (it would keep only the last)"
                                   : " are the same PHP field name (PHP would keep only the last)");
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
        return enc_raise(c, prefix, plen);
    lua_pushlstring(c->L, c->box->out.p ? c->box->out.p : "", c->box->out.len);
    scratch_done(c, 1);
    box_done(c->L, c->box);
    return 1;
}

static void ctx_init(enc_ctx *c, lua_State *L, enc_box *box)
{
    static const enc_key none = {NULL, 0, 0, 0, 0};
    c->L = L;
    c->box = box;
    c->has_prefix = 0;
    c->scratch = 0;
    c->slots = 0;
    c->marked = 0;
    c->revisit = 0;
    c->spare = ENC_MAX_REPEAT;
    c->err = ENC_OK;
    c->errtype = LUA_TNIL;
    c->pathlen = 0;
    c->fold = 0;
    c->shared = 0;
    c->badkey = none;
    c->badkey2 = none;
    scratch_push(c);
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
        if (!egoi_buf_add_pct(&box->name, prefix, plen, EGOI_PCT_NAME))
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
    if (!egoi_buf_add(&box->out, "method=", 7)
        || !egoi_buf_add_pct(&box->out, method, mlen, EGOI_PCT_VALUE)
        || !egoi_buf_add(&box->out, "&type=", 6)
        || !egoi_buf_add_pct(&box->out, type, tlen, EGOI_PCT_VALUE)
        || !egoi_buf_add(&box->name, fo, sizeof fo - 1))
        rc = enc_fail(&c, ENC_ENOMEM, 0);
    if (rc == ENC_OK && lua_istable(L, 2))
        rc = enc_table(&c, 2, 0);
    return enc_finish(&c, rc, fo, sizeof fo - 1);
}

/* ------------------------------------------------------- form_buffer */

/* A reusable body buffer for bulk packing: rows are appended one at a time
 * (each encoded exactly once), the caller reads the running size to decide
 * where a chunk ends, can drop the last row again, and takes the chunk as
 * one string. No per-row Lua strings. Only `out` of its enc_box is used. */
#define FB_MT "egoi.core.form_buffer"

static enc_box *fb_check(lua_State *L)
{
    enc_box *box = (enc_box *)luaL_checkudata(L, 1, FB_MT);
    return box;
}

/* fb:add(tbl, prefix[, index]) -> new length. With index the names are
 * prefix[index][...]. The row is encoded into the call's own box (as
 * form_encode does) and appended to the buffer in one step when it is
 * complete: on an encoding error the buffer is left as it was and the
 * error is raised, and a finalizer that closes or fills this buffer while
 * we encode cannot pull memory from under us. */
static int fb_add(lua_State *L)
{
    enc_ctx c;
    enc_box *fb = fb_check(L), *box;
    size_t plen = 0, mark;
    const char *prefix;
    lua_Integer idx = 0;
    int rc = ENC_OK, indexed;

    luaL_checktype(L, 2, LUA_TTABLE);
    prefix = luaL_optlstring(L, 3, "", &plen);
    indexed = !lua_isnoneornil(L, 4);
    if (indexed && !egoi_isinteger(L, 4, &idx))
        return luaL_argerror(L, 4, "index must be an integer");
    lua_settop(L, 4);
    box = box_get(L);
    ctx_init(&c, L, box);
    if (plen > 0 || indexed) {
        c.has_prefix = 1;
        if (!egoi_buf_add_pct(&box->name, prefix, plen, EGOI_PCT_NAME))
            rc = enc_fail(&c, ENC_ENOMEM, 0);
    }
    if (rc == ENC_OK && indexed) {
        char num[EGOI_NUM_MAX];
        if (!egoi_buf_addc(&box->name, '[') || !egoi_buf_add(&box->name, num, egoi_fmt_integer(num, idx))
            || !egoi_buf_addc(&box->name, ']'))
            rc = enc_fail(&c, ENC_ENOMEM, 0);
    }
    if (rc == ENC_OK)
        rc = enc_table(&c, 2, 0);
    if (rc != ENC_OK) {
        if (indexed) { /* name the row: prefix[index], whole and exact */
            char num[EGOI_NUM_MAX];
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            luaL_addlstring(&b, prefix, plen);
            luaL_addchar(&b, '[');
            luaL_addlstring(&b, num, egoi_fmt_integer(num, idx));
            luaL_addchar(&b, ']');
            luaL_pushresult(&b);
            prefix = lua_tolstring(L, -1, &plen);
        }
        return enc_raise(&c, prefix, plen);
    }
    mark = fb->out.len;
    if (box->out.len > 0
        && ((fb->out.len > 0 && !egoi_buf_addc(&fb->out, '&'))
            || !egoi_buf_add(&fb->out, box->out.p, box->out.len))) {
        fb->out.len = mark;
        scratch_done(&c, 0);
        box_done(L, box);
        return luaL_error(L, "form encoding: not enough memory");
    }
    scratch_done(&c, 1);
    box_done(L, box);
    lua_pushinteger(L, (lua_Integer)fb->out.len);
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
        if ((box->out.len > 0 && !egoi_buf_addc(&box->out, '&')) || !egoi_buf_add(&box->out, piece, n))
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
        egoi_buf_free(&box->out);
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
    /* upvalue 1: metatable of the buffer owners; upvalue 2: the shared box;
     * upvalue 3: a table holding the shared box's scratch table at [1] */
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    memset(lua_newuserdata(L, sizeof(enc_box)), 0, sizeof(enc_box));
    lua_pushvalue(L, -2);
    lua_setmetatable(L, -2);
    lua_createtable(L, 1, 0);
    /* fb:add shares them: [owner mt, box, holder, fb mt, methods] */
    luaL_getmetatable(L, FB_MT);
    lua_getfield(L, -1, "__index");
    lua_pushvalue(L, -5);
    lua_pushvalue(L, -5);
    lua_pushvalue(L, -5);
    lua_pushcclosure(L, fb_add, 3);
    lua_setfield(L, -2, "add");
    lua_pop(L, 2);
    egoi_setfuncs(L, funcs, 3);
}
