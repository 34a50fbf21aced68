/*
 * decode.c - E-goi REST JSON: a one-pass decoder (json_decode) and the
 * normalisation of already decoded tables (normalize).
 *
 * The server renders PHP lists as objects keyed key_0, key_1, ... (and
 * id-keyed arrays as key_<id>). normalize() turns every table whose keys
 * are exactly key_0 .. key_<n-1> into a Lua array (numeric order) and
 * leaves everything else as it is, recursing into values. Tables that keep
 * their shape are fixed up in place (only changed children are stored
 * back), so the common case costs one traversal and no re-hashing.
 */
#include <stdio.h>
#include <string.h>

#include "egoi.h"

#define DEC_MAX_DEPTH 200
#define DEC_MAX_DIGITS 9 /* key_999999999: fits an int on every ABI */

/* Position encoded in a "key_<digits>" string (canonical decimal, no
 * leading zeros), or -1. */
static lua_Integer dec_key_index(const char *s, size_t len)
{
    lua_Integer v = 0;
    size_t i;
    if (len < 5 || len > 4 + DEC_MAX_DIGITS || memcmp(s, "key_", 4) != 0)
        return -1;
    if (s[4] == '0')
        return len == 5 ? 0 : -1;
    for (i = 4; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return -1;
        v = v * 10 + (lua_Integer)d;
    }
    return v;
}

/* How normalize() walks: with memo == 0 it counts entries against budget
 * (4M: more than a 100,000-record answer holds; a bigger one just costs a
 * second walk). A table reached through many paths (a DAG: {a = t, b = t}
 * at every level) exhausts it, and the walk is then redone with memo, the
 * stack index of a table mapping each table normalised so far to its
 * result, so each table is normalised once and its result shared. Redoing
 * is safe: normalising a normalised table changes nothing. */
typedef struct {
    int memo;
    long budget;
} dec_walk;

#define DEC_BUDGET (1L << 22)
#define DEC_DEEP 0
#define DEC_OVER -1

/* Normalises the table at stack index t (depth counts from 1; with w ==
 * NULL only t itself is looked at). On success pushes the result (t itself
 * or a new array) and returns 1; returns DEC_DEEP when the nesting is
 * deeper than DEC_MAX_DEPTH (cycles end there too) and DEC_OVER when the
 * budget ran out, with the stack as found. */
static int dec_table(lua_State *L, int t, int depth, dec_walk *w)
{
    size_t n = 0;
    lua_Integer maxi = -1;
    int positional = 1;
    int a;

    if (depth > DEC_MAX_DEPTH)
        return DEC_DEEP;
    luaL_checkstack(L, 6, "normalize");
    lua_pushnil(L);
    while (lua_next(L, t)) {
        /* key at -2, value at -1 */
        if (w != NULL && w->memo == 0 && --w->budget < 0) {
            lua_pop(L, 2);
            return DEC_OVER;
        }
        if (w != NULL && lua_type(L, -1) == LUA_TTABLE) {
            int v = lua_gettop(L), rc;
            lua_pushnil(L);
            if (w->memo != 0) {
                lua_pop(L, 1);
                lua_pushvalue(L, v);
                lua_rawget(L, w->memo);
            }
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                rc = dec_table(L, v, depth + 1, w);
                if (rc != 1) {
                    lua_pop(L, 2);
                    return rc;
                }
                if (w->memo != 0) {
                    lua_pushvalue(L, v);
                    lua_pushvalue(L, -2);
                    lua_rawset(L, w->memo); /* memo[v] = its result */
                }
            }
            if (!lua_rawequal(L, -1, v)) {
                /* replacing an existing field keeps lua_next valid */
                lua_pushvalue(L, v - 1);
                lua_insert(L, -2);
                lua_rawset(L, t);
            } else {
                lua_pop(L, 1);
            }
        }
        if (positional) {
            lua_Integer ix = -1;
            if (lua_type(L, -2) == LUA_TSTRING) {
                size_t len;
                const char *s = lua_tolstring(L, -2, &len);
                ix = dec_key_index(s, len);
            }
            if (ix < 0)
                positional = 0;
            else if (ix > maxi)
                maxi = ix;
        }
        n++;
        lua_pop(L, 1);
    }
    /* n distinct canonical positions, all <= n-1: exactly 0..n-1 */
    if (!positional || n == 0 || maxi != (lua_Integer)n - 1) {
        lua_pushvalue(L, t);
        return 1;
    }
    lua_createtable(L, (int)n, 0);
    a = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        size_t len;
        const char *s = lua_tolstring(L, -2, &len);
        lua_rawseti(L, a, (int)dec_key_index(s, len) + 1);
    }
    return 1;
}

/* normalize(value[, shallow]) -> value | nil, "TOO_DEEP", message
 * shallow: only the table itself (its values are already normal). */
static int l_normalize(lua_State *L)
{
    int shallow = lua_toboolean(L, 2), rc;
    dec_walk w;
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    if (lua_type(L, 1) != LUA_TTABLE)
        return 1;
    w.memo = 0;
    w.budget = DEC_BUDGET;
    rc = dec_table(L, 1, 1, shallow ? NULL : &w);
    if (rc == DEC_OVER) { /* a DAG: again, each table once */
        lua_newtable(L);
        w.memo = lua_gettop(L);
        rc = dec_table(L, 1, 1, &w);
    }
    if (rc != 1) {
        lua_pushnil(L);
        lua_pushliteral(L, "TOO_DEEP");
        lua_pushfstring(L, "response nested deeper than %d levels", DEC_MAX_DEPTH);
        return 3;
    }
    return 1;
}

/* --- json_decode --------------------------------------------------------
 *
 * core.json_decode(s) -> value | nil, "MALFORMED_JSON" | "TOO_DEEP", message
 *
 * One pass from the answer's bytes to Lua values, with normalize()'s rule
 * applied while parsing: an object whose distinct keys are exactly
 * key_0 .. key_<n-1> becomes an array. Equal in result to
 * normalize(cjson.decode(s)), except that integer literals become Lua
 * integers (5.3+) and the grammar is strict RFC 8259 (no NaN, hex, raw
 * control characters in strings, ...).
 * null is a light userdata NULL, the same value as cjson.null.
 *
 * Why it is faster than cjson + normalize on E-goi answers: a container's
 * items are collected on the Lua stack and moved into a table created with
 * its final size (no rehash as it grows); strings without escapes are
 * pushed straight from the input (no copy through a scratch buffer); key_N
 * objects become arrays without an intermediate hash; no second walk.
 *
 * Stack use is bounded whatever the input: a container moves its pending
 * items into its table every JSON_CHUNK items, and before nesting once the
 * stack is above JSON_STACK_SOFT slots (LuaJIT allows ~8000 per C call).
 * Nothing here owns malloc'd memory: a memory error raised by the Lua API
 * leaks nothing. Scratch space for long escaped strings is a userdata kept
 * at a fixed stack slot. */

#define JSON_MAX_DEPTH DEC_MAX_DEPTH
#define JSON_CHUNK 128
#define JSON_STACK_SOFT 2000
#define JSON_SHORT 256 /* escaped strings up to this many raw bytes use the C stack */
/* RFC 8259 section 7: U+0000..U+001F must be escaped inside a string */
#define JSON_CTRL "unescaped control character in string"

typedef struct {
    lua_State *L;
    const unsigned char *s, *p, *end;
    int depth;
    int scratch;        /* stack slot of the scratch userdata (nil until needed) */
    size_t scratch_len;
    const char *code;   /* set on failure */
    const char *what;
    const unsigned char *at;
} jdec;

/* Records a failure and returns 0; the caller unwinds. */
static int jfail(jdec *d, const char *code, const char *what, const unsigned char *at)
{
    d->code = code;
    d->what = what;
    d->at = at;
    return 0;
}

static int jbad(jdec *d, const unsigned char *at)
{
    return jfail(d, "MALFORMED_JSON", at < d->end ? "unexpected character" : "unexpected end of input", at);
}

static const unsigned char *jskip(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static int jvalue(jdec *d);

static int jhex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned c = p[i], x;
        if (c >= '0' && c <= '9')
            x = c - '0';
        else if (c >= 'a' && c <= 'f')
            x = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            x = c - 'A' + 10;
        else
            return 0;
        v = v * 16 + x;
    }
    *out = v;
    return 1;
}

static size_t jutf8(unsigned char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string with escapes: q points at the first backslash. Decoded text
 * is never longer than its raw form (\uXXXX -> at most 3 bytes, a
 * surrogate pair's 12 -> 4), so the raw length sizes the output. */
static int jstring_escaped(jdec *d, const unsigned char *start, const unsigned char *q)
{
    lua_State *L = d->L;
    const unsigned char *close = q, *end = d->end;
    unsigned char local[JSON_SHORT], *out, *o;
    size_t raw;

    while (close < end && *close != '"')
        close += *close == '\\' && end - close > 1 ? 2 : 1; /* never past end */
    if (close >= end)
        return jfail(d, "MALFORMED_JSON", "unterminated string", start - 1);
    raw = (size_t)(close - start);
    if (raw <= sizeof local) {
        out = local;
    } else {
        if (raw > d->scratch_len) {
            lua_newuserdata(L, raw);
            lua_replace(L, d->scratch);
            d->scratch_len = raw;
        }
        out = (unsigned char *)lua_touserdata(L, d->scratch);
    }
    memcpy(out, start, (size_t)(q - start));
    o = out + (q - start);
    while (q < close) {
        unsigned cp;
        if (*q != '\\') {
            if (*q < 0x20)
                return jfail(d, "MALFORMED_JSON", JSON_CTRL, q);
            *o++ = *q++;
            continue;
        }
        switch (q[1]) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            if (close - q < 6 || !jhex4(q + 2, &cp))
                return jfail(d, "MALFORMED_JSON", "invalid \\u escape", q);
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return jfail(d, "MALFORMED_JSON", "lone UTF-16 surrogate", q);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (close - q < 12 || q[6] != '\\' || q[7] != 'u' || !jhex4(q + 8, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return jfail(d, "MALFORMED_JSON", "lone UTF-16 surrogate", q);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            }
            o += jutf8(o, cp);
            q += 6;
            continue;
        default:
            return jfail(d, "MALFORMED_JSON", "invalid escape", q);
        }
        q += 2;
    }
    lua_pushlstring(L, (const char *)out, (size_t)(o - out));
    d->p = close + 1;
    return 1;
}

/* *d->p == '"': pushes the string. */
static int jstring(jdec *d)
{
    const unsigned char *start = d->p + 1, *q = start, *end = d->end;
    while (q < end && *q != '"' && *q != '\\' && *q >= 0x20)
        q++;
    if (q < end && *q == '"') {
        lua_pushlstring(d->L, (const char *)start, (size_t)(q - start));
        d->p = q + 1;
        return 1;
    }
    if (q >= end)
        return jfail(d, "MALFORMED_JSON", "unterminated string", d->p);
    if (*q < 0x20)
        return jfail(d, "MALFORMED_JSON", JSON_CTRL, q);
    return jstring_escaped(d, start, q);
}

static int isdigit_(unsigned c)
{
    return c - '0' < 10u;
}

/* One or more digits from q: the end of them, or NULL when there is none. */
static const unsigned char *jdigits(const unsigned char *q, const unsigned char *end)
{
    if (q >= end || !isdigit_(*q))
        return NULL;
    while (q < end && isdigit_(*q))
        q++;
    return q;
}

#define JSON_SIG_DIGITS 40
#define JSON_MAX_ORDER 99999

/* The valid JSON number [p, q) as "[-]0.<at most 40 significant digits>e<order>"
 * in out (64 bytes): short, and with an exponent every Lua converts. Used
 * only when Lua's conversion refuses the text itself: LuaJIT gives up on
 * exponents past ~2^20 (1e2147483647, or 1000...0e-1100000 whose digits
 * offset the exponent), Lua 5.4 under a comma-decimal locale on numbers
 * longer than 200 characters. The order saturates at +-99999 (inf / 0). */
static void jshort_number(const unsigned char *p, const unsigned char *q, char *out)
{
    const unsigned char *r = p;
    size_t n = 0, sig = 0;
    long long order = 0, e = 0;
    int point = 0, started = 0;

    if (*r == '-')
        out[n++] = *r++;
    out[n++] = '0';
    out[n++] = '.';
    for (; r < q && *r != 'e' && *r != 'E'; r++) {
        if (*r == '.') {
            point = 1;
            continue;
        }
        if (!started && *r == '0') { /* leading zeros */
            if (point)
                order--;
            continue;
        }
        started = 1;
        if (!point)
            order++;
        if (sig < JSON_SIG_DIGITS) {
            out[n++] = (char)*r;
            sig++;
        }
    }
    if (!started) { /* a zero */
        strcpy(out + n, "0");
        return;
    }
    if (r < q) { /* the exponent */
        int neg = r[1] == '-';
        for (r++; r < q; r++)
            if (*r >= '0' && *r <= '9' && e < 1000000000000000LL)
                e = e * 10 + (*r - '0');
        order += neg ? -e : e;
    }
    if (order > JSON_MAX_ORDER)
        order = JSON_MAX_ORDER;
    if (order < -JSON_MAX_ORDER)
        order = -JSON_MAX_ORDER;
    snprintf(out + n, 16, "e%lld", order);
}

/* Converts the string on top of the stack in place; 0 when Lua refuses it. */
static int jconvert_top(lua_State *L)
{
#if LUA_VERSION_NUM >= 503
    if (lua_stringtonumber(L, lua_tostring(L, -1)) == 0)
        return 0;
    lua_remove(L, -2);
#else
    lua_Number n;
    if (!lua_isnumber(L, -1))
        return 0;
    n = lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_pushnumber(L, n);
#endif
    return 1;
}

static int jnumber(jdec *d)
{
    lua_State *L = d->L;
    const unsigned char *p = d->p, *q = p, *end = d->end, *digits, *int_end;
    int integral;

    if (*q == '-')
        q++;
    digits = q;
    if (q < end && *q == '0')
        q++;
    else if (q < end && *q >= '1' && *q <= '9')
        while (q < end && isdigit_(*q))
            q++;
    else
        return jfail(d, "MALFORMED_JSON", "invalid number", p);
    int_end = q;
    if (q < end && *q == '.' && (q = jdigits(q + 1, end)) == NULL)
        return jfail(d, "MALFORMED_JSON", "invalid number", p);
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if ((q = jdigits(q, end)) == NULL)
            return jfail(d, "MALFORMED_JSON", "invalid number", p);
    }
    integral = q - digits == int_end - digits;
    if (integral && q - digits <= 15) {
        /* exact in both a lua_Integer and a double */
        long long v = 0;
        const unsigned char *r;
        for (r = digits; r < q; r++)
            v = v * 10 + (*r - '0');
#if LUA_VERSION_NUM >= 503
        lua_pushinteger(L, (lua_Integer)(*p == '-' ? -v : v));
#else
        lua_pushnumber(L, *p == '-' ? -(lua_Number)v : (lua_Number)v); /* keeps -0 */
#endif
    } else {
        /* rare: let Lua convert (locale-independent, integer when it fits) */
        lua_pushlstring(L, (const char *)p, (size_t)(q - p));
        if (!jconvert_top(L)) {
            char buf[64];
            lua_pop(L, 1);
            jshort_number(p, q, buf);
            lua_pushstring(L, buf);
            if (!jconvert_top(L))
                return jfail(d, "MALFORMED_JSON", "invalid number", p);
        }
    }
    d->p = q;
    return 1;
}

static int jliteral(jdec *d, const char *word, size_t n)
{
    size_t have = (size_t)(d->end - d->p), i;
    for (i = 0; i < n; i++)
        if (i >= have || d->p[i] != (unsigned char)word[i])
            return jbad(d, d->p + i); /* "tru" ends early; "trux" has a bad byte */
    d->p += n;
    return 1;
}

/* Moves the array items at slots base+2 .. top into the table at base+1
 * (created with room for them when it does not exist yet). */
static void jarray_flush(lua_State *L, int base, int *made, lua_Integer *n)
{
    int top = lua_gettop(L), i;
    if (!*made) {
        lua_createtable(L, top - base - 1, 0);
        lua_replace(L, base + 1);
        *made = 1;
    }
    for (i = base + 2; i <= top; i++) {
        lua_pushvalue(L, i);
        lua_rawseti(L, base + 1, ++*n);
    }
    lua_settop(L, base + 1);
}

static int jarray(jdec *d)
{
    lua_State *L = d->L;
    int base = lua_gettop(L), made = 0, k = 0;
    lua_Integer n = 0;

    if (++d->depth > JSON_MAX_DEPTH)
        return jfail(d, "TOO_DEEP", "nested deeper than 200 levels", d->p);
    d->p = jskip(d->p + 1, d->end);
    lua_pushnil(L); /* base+1: the table, once made */
    if (d->p < d->end && *d->p == ']') {
        d->p++;
    } else {
        if (!lua_checkstack(L, JSON_CHUNK + 8))
            return jfail(d, "TOO_DEEP", "out of Lua stack space", d->p);
        for (;;) {
            if (k >= JSON_CHUNK || (k > 0 && lua_gettop(L) > JSON_STACK_SOFT)) {
                jarray_flush(L, base, &made, &n);
                k = 0;
            }
            if (!jvalue(d))
                return 0;
            k++;
            d->p = jskip(d->p, d->end);
            if (d->p < d->end && *d->p == ',') {
                d->p++;
                continue;
            }
            if (d->p < d->end && *d->p == ']') {
                d->p++;
                break;
            }
            return jbad(d, d->p);
        }
    }
    if (!made) {
        int i;
        lua_createtable(L, k, 0);
        lua_replace(L, base + 1);
        for (i = k; i >= 1; i--)
            lua_rawseti(L, base + 1, i); /* pops the top item, item i */
    } else {
        jarray_flush(L, base, &made, &n);
    }
    d->depth--;
    return 1;
}

/* Object state between flushes. */
typedef struct {
    int base;          /* slot base+1 holds the table (nil until made) */
    int mode;          /* 0 not made, 1 made as an array, 2 made as an object */
    int positional;    /* every key so far is a canonical key_N */
    int in_order;      /* ... and the i-th key (from 0) was key_i */
    lua_Integer maxi;  /* the largest N seen */
    lua_Integer count; /* pairs seen, duplicates included */
    lua_Integer stored; /* items already moved into an array-mode table */
} jobj;

/* The pending pairs (key, value at base+2 ..) into an object table. */
static void jobj_set_pairs(lua_State *L, int base)
{
    int top = lua_gettop(L), i;
    for (i = base + 2; i < top; i += 2) {
        lua_pushvalue(L, i);
        lua_pushvalue(L, i + 1);
        lua_rawset(L, base + 1);
    }
    lua_settop(L, base + 1);
}

/* An array-mode table becomes an object with key_<i-1> keys (a key came
 * out of order after the first flush: rare). */
static void jobj_to_object(lua_State *L, jobj *o)
{
    lua_Integer i;
    int top = lua_gettop(L);
    lua_createtable(L, 0, (int)o->stored + (top - o->base - 1) / 2);
    for (i = 1; i <= o->stored; i++) {
        char key[32];
        snprintf(key, sizeof key, "key_%lld", (long long)(i - 1));
        lua_pushstring(L, key);
        lua_rawgeti(L, o->base + 1, i);
        lua_rawset(L, -3);
    }
    lua_replace(L, o->base + 1);
    o->mode = 2;
}

static void jobj_flush(lua_State *L, jobj *o)
{
    int base = o->base, top = lua_gettop(L), i;
    if (o->mode == 0) {
        o->mode = o->in_order ? 1 : 2;
        if (o->mode == 1)
            lua_createtable(L, (top - base - 1) / 2, 0);
        else
            lua_createtable(L, 0, (top - base - 1) / 2);
        lua_replace(L, base + 1);
    } else if (o->mode == 1 && !o->in_order) {
        jobj_to_object(L, o);
    }
    if (o->mode == 1) {
        for (i = base + 3; i <= top; i += 2) {
            lua_pushvalue(L, i);
            lua_rawseti(L, base + 1, ++o->stored);
        }
        lua_settop(L, base + 1);
    } else {
        jobj_set_pairs(L, base);
    }
}

/* End of an object that was never flushed: all its k pairs are on the
 * stack. Leaves the result at base+1. */
static void jobj_finish_small(lua_State *L, jobj *o, int k)
{
    int base = o->base, i;
    if (o->positional && o->in_order) {
        /* key_0 .. key_<k-1> in order: an array, no duplicates possible */
        lua_createtable(L, k, 0);
        lua_replace(L, base + 1);
        for (i = k; i >= 1; i--) {
            lua_rawseti(L, base + 1, i); /* value of pair i */
            lua_pop(L, 1);               /* its key */
        }
        return;
    }
    if (o->positional && o->maxi < k) {
        /* key_N keys out of order or repeated: an array if the distinct
         * positions are exactly 0 .. maxi */
        int top = lua_gettop(L), full = 1;
        lua_Integer j;
        lua_createtable(L, (int)o->maxi + 1, 0);
        for (i = base + 2; i < top; i += 2) {
            size_t len;
            const char *s = lua_tolstring(L, i, &len);
            lua_pushvalue(L, i + 1);
            lua_rawseti(L, -2, (int)dec_key_index(s, len) + 1);
        }
        for (j = 1; j <= o->maxi + 1 && full; j++) {
            lua_rawgeti(L, -1, (int)j);
            full = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        if (full) {
            lua_replace(L, base + 1);
            lua_settop(L, base + 1);
            return;
        }
        lua_pop(L, 1);
    }
    lua_createtable(L, 0, k);
    lua_replace(L, base + 1);
    jobj_set_pairs(L, base);
}

static int jobject(jdec *d)
{
    lua_State *L = d->L;
    int k = 0;
    jobj o;

    if (++d->depth > JSON_MAX_DEPTH)
        return jfail(d, "TOO_DEEP", "nested deeper than 200 levels", d->p);
    o.base = lua_gettop(L);
    o.mode = 0;
    o.positional = 1;
    o.in_order = 1;
    o.maxi = -1;
    o.count = 0;
    o.stored = 0;
    d->p = jskip(d->p + 1, d->end);
    lua_pushnil(L); /* base+1: the table, once made */
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        lua_createtable(L, 0, 0);
        lua_replace(L, o.base + 1);
        d->depth--;
        return 1;
    }
    if (!lua_checkstack(L, 2 * JSON_CHUNK + 8))
        return jfail(d, "TOO_DEEP", "out of Lua stack space", d->p);
    for (;;) {
        if (k >= JSON_CHUNK || (k > 0 && lua_gettop(L) > JSON_STACK_SOFT)) {
            jobj_flush(L, &o);
            k = 0;
        }
        if (d->p >= d->end || *d->p != '"')
            return jbad(d, d->p);
        if (!jstring(d))
            return 0;
        if (o.positional) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            lua_Integer ix = dec_key_index(s, len);
            if (ix < 0) {
                o.positional = o.in_order = 0;
            } else {
                if (ix != o.count)
                    o.in_order = 0;
                if (ix > o.maxi)
                    o.maxi = ix;
            }
        }
        o.count++;
        d->p = jskip(d->p, d->end);
        if (d->p >= d->end || *d->p != ':')
            return jbad(d, d->p);
        d->p = jskip(d->p + 1, d->end);
        if (!jvalue(d))
            return 0;
        k++;
        d->p = jskip(d->p, d->end);
        if (d->p < d->end && *d->p == ',') {
            d->p = jskip(d->p + 1, d->end);
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            break;
        }
        return jbad(d, d->p);
    }
    if (o.mode == 0) {
        jobj_finish_small(L, &o, k);
    } else {
        jobj_flush(L, &o);
        if (o.mode == 2 && o.positional && o.maxi < o.count) {
            /* a big key_N object that came out of order: fold it now */
            dec_table(L, o.base + 1, 1, NULL);
            lua_replace(L, o.base + 1);
        }
    }
    d->depth--;
    return 1;
}

static int jvalue(jdec *d)
{
    d->p = jskip(d->p, d->end);
    if (d->p >= d->end)
        return jbad(d, d->p);
    switch (*d->p) {
    case '{': return jobject(d);
    case '[': return jarray(d);
    case '"': return jstring(d);
    case 't':
        if (!jliteral(d, "true", 4))
            return 0;
        lua_pushboolean(d->L, 1);
        return 1;
    case 'f':
        if (!jliteral(d, "false", 5))
            return 0;
        lua_pushboolean(d->L, 0);
        return 1;
    case 'n':
        if (!jliteral(d, "null", 4))
            return 0;
        lua_pushlightuserdata(d->L, NULL);
        return 1;
    default:
        if (*d->p == '-' || isdigit_(*d->p))
            return jnumber(d);
        return jbad(d, d->p);
    }
}

static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    jdec d;
    int ok;

    lua_settop(L, 1);
    lua_pushnil(L); /* slot 2: scratch space for long escaped strings */
    d.L = L;
    d.s = d.p = (const unsigned char *)s;
    d.end = d.s + len;
    d.depth = 0;
    d.scratch = 2;
    d.scratch_len = 0;
    d.code = d.what = NULL;
    d.at = NULL;
    ok = jvalue(&d);
    if (ok) {
        d.p = jskip(d.p, d.end);
        if (d.p != d.end)
            ok = jbad(&d, d.p);
    }
    if (!ok) {
        char msg[96];
        const unsigned char *at = d.at;
        lua_settop(L, 2);
        lua_pushnil(L);
        lua_pushstring(L, d.code);
        if (at < d.end && *at >= 0x21 && *at < 0x7F && strcmp(d.what, "unexpected character") == 0)
            snprintf(msg, sizeof msg, "%s '%c' at byte %lu", d.what, *at, (unsigned long)(at - d.s) + 1);
        else
            snprintf(msg, sizeof msg, "%s at byte %lu", d.what, (unsigned long)(at - d.s) + 1);
        lua_pushstring(L, msg);
        return 3;
    }
    return 1;
}

void egoi_decode_open(lua_State *L)
{
    lua_pushcfunction(L, l_normalize);
    lua_setfield(L, -2, "normalize");
    lua_pushcfunction(L, l_json_decode);
    lua_setfield(L, -2, "json_decode");
}
