/*
 * buffer.c - one growable byte buffer, one number formatter and one key
 * sorter for the whole core (see buffer.h). Nothing here touches the Lua
 * API but egoi_buf_push, and nothing here raises.
 */
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"

#define BUF_MT "egoi.core.buffer"

/* ---------------------------------------------------------------- buffer */

void egoi_buf_init(egoi_buf *b)
{
    b->p = NULL;
    b->len = b->cap = 0;
}

void egoi_buf_free(egoi_buf *b)
{
    free(b->p);
    egoi_buf_init(b);
}

int egoi_buf_reserve_within(egoi_buf *b, size_t extra, size_t first, size_t limit)
{
    size_t need, ncap;
    char *np;
    if (b->cap - b->len >= extra)
        return 1;
    if (extra > SIZE_MAX - b->len)
        return 0;
    need = b->len + extra;
    ncap = b->cap > first ? b->cap : (first > 0 ? first : 1);
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    if (ncap > limit)
        ncap = limit > need ? limit : need;
    np = (char *)realloc(b->p, ncap);
    if (np == NULL)
        return 0;
    b->p = np;
    b->cap = ncap;
    return 1;
}

int egoi_buf_reserve(egoi_buf *b, size_t extra)
{
    return (b->cap - b->len >= extra) ? 1 : egoi_buf_reserve_within(b, extra, 256, SIZE_MAX);
}

int egoi_buf_add(egoi_buf *b, const char *s, size_t n)
{
    if (n == 0) /* b->p may be NULL: no NULL + 0, no memcpy(NULL, ...) */
        return 1;
    if (!egoi_buf_reserve(b, n))
        return 0;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 1;
}

int egoi_buf_addc(egoi_buf *b, char c)
{
    if (!egoi_buf_reserve(b, 1))
        return 0;
    b->p[b->len++] = c;
    return 1;
}

static int buf_gc(lua_State *L)
{
    egoi_buf *b = (egoi_buf *)lua_touserdata(L, 1);
    if (b != NULL)
        egoi_buf_free(b);
    return 0;
}

egoi_buf *egoi_buf_push(lua_State *L)
{
    egoi_buf *b = (egoi_buf *)lua_newuserdata(L, sizeof *b);
    egoi_buf_init(b);
    if (luaL_newmetatable(L, BUF_MT)) {
        lua_pushcfunction(L, buf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

/* ------------------------------------------------------ percent-encoding */

/* bit 1 (EGOI_PCT_VALUE): RFC 3986 unreserved; bit 2 (EGOI_PCT_NAME):
 * unreserved plus [ ] */
static const unsigned char pct_class[256] = {
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

static const char hex_digit[16] = {
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'
};

int egoi_buf_add_pct(egoi_buf *b, const char *s, size_t n, unsigned keep)
{
    const unsigned char *src = (const unsigned char *)s;
    const unsigned char *end = src + n;
    char *d;
    if (n == 0) /* a fresh buffer has p == NULL: no NULL + 0 */
        return 1;
    if (n > (SIZE_MAX - b->len) / 3 || !egoi_buf_reserve(b, 3 * n))
        return 0;
    d = b->p + b->len;
    for (; src < end; src++) {
        unsigned c = *src;
        if (pct_class[c] & keep) {
            *d++ = (char)c;
        } else {
            d[0] = '%';
            d[1] = hex_digit[c >> 4];
            d[2] = hex_digit[c & 15];
            d += 3;
        }
    }
    b->len = (size_t)(d - b->p);
    return 1;
}

/* ------------------------------------------------------------------- XML */

int egoi_xml_char_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return (c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D) ? -1 : 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF))
            return -1;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

int egoi_buf_add_xml(egoi_buf *b, const char *s, size_t n, size_t *at)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        const char *rep = NULL;
        size_t replen = 0;
        int cl = egoi_xml_char_len(u + i, n - i);
        if (cl <= 0) {
            *at = i;
            return cl == 0 ? EGOI_XML_BADUTF8 : EGOI_XML_BADCHAR;
        }
        switch (u[i]) {
        case '&': rep = "&amp;"; replen = 5; break;
        case '<': rep = "&lt;"; replen = 4; break;
        case '>': rep = "&gt;"; replen = 4; break;
        case '\r': rep = "&#13;"; replen = 5; break;
        default: break;
        }
        if (rep != NULL) {
            if (!egoi_buf_add(b, s + run, i - run) || !egoi_buf_add(b, rep, replen))
                return EGOI_XML_NOMEM;
            run = ++i;
        } else {
            i += (size_t)cl;
        }
    }
    return egoi_buf_add(b, s + run, n - run) ? EGOI_XML_OK : EGOI_XML_NOMEM;
}

void egoi_xml_text_error(char *msg, size_t cap, int rc, const char *s, size_t at,
                         const char *what)
{
    if (rc == EGOI_XML_BADCHAR)
        snprintf(msg, cap, "control character 0x%02X in %s (byte %zu) cannot be carried by XML",
                 (unsigned)(unsigned char)s[at], what, at + 1);
    else if (rc == EGOI_XML_BADUTF8)
        snprintf(msg, cap, "invalid UTF-8 in %s (byte %zu)", what, at + 1);
    else
        snprintf(msg, cap, "not enough memory");
}

/* --------------------------------------------------------------- numbers */

size_t egoi_fmt_integer(char *dst, lua_Integer v)
{
    char tmp[24];
    size_t n = 0, k = 0;
    unsigned long long u = (v < 0) ? 0ULL - (unsigned long long)v : (unsigned long long)v;
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

size_t egoi_fmt_float(char *dst, double d)
{
    const char *point;
    size_t plen;
    int prec, n = 0;
    /* snprintf and strtod both follow LC_NUMERIC: the round trip holds in
     * any locale; its decimal point is replaced by '.' afterwards */
    for (prec = 15; prec <= 17; prec++) {
        n = snprintf(dst, EGOI_NUM_MAX, "%.*g", prec, d);
        if (prec == 17 || strtod(dst, NULL) == d)
            break;
    }
    if (n < 0)
        n = 0;
    else if (n > EGOI_NUM_MAX - 1)
        n = EGOI_NUM_MAX - 1;
    dst[n] = '\0';
    point = localeconv()->decimal_point;
    plen = point != NULL ? strlen(point) : 0;
    if (plen > 0 && !(plen == 1 && point[0] == '.')) {
        char *at = strstr(dst, point);
        if (at != NULL) {
            *at = '.';
            memmove(at + 1, at + plen, (size_t)n - (size_t)(at - dst) - plen + 1);
            n -= (int)(plen - 1);
        }
    }
    return (size_t)n;
}

/* ------------------------------------------------------------------ keys */

int egoi_key_cmp(const void *a, const void *b)
{
    const egoi_key *x = (const egoi_key *)a;
    const egoi_key *y = (const egoi_key *)b;
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

/* insertion sort for the usual handful of fields of one record, qsort for
 * big maps */
void egoi_keys_sort(egoi_key *k, size_t n)
{
    size_t i, j;
    if (n > 16) {
        qsort(k, n, sizeof(egoi_key), egoi_key_cmp);
        return;
    }
    for (i = 1; i < n; i++) {
        egoi_key cur = k[i];
        for (j = i; j > 0 && egoi_key_cmp(&k[j - 1], &cur) > 0; j--)
            k[j] = k[j - 1];
        k[j] = cur;
    }
}

int egoi_keys_as_strings(lua_State *L, int t, size_t n, egoi_key **out, int *info)
{
    int ks, ko, i = 0, j;
    egoi_key *keys;
    *out = NULL;
    lua_createtable(L, (int)n, 0); /* string form of each key */
    ks = lua_gettop(L);
    lua_createtable(L, (int)n, 0); /* the original keys */
    ko = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        lua_Integer k;
        lua_pop(L, 1);
        if (++i > (int)n) { /* grown by a finalizer */
            lua_pop(L, 1);
            break;
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, ko, i);
        if (lua_type(L, -1) == LUA_TSTRING) {
            lua_pushvalue(L, -1);
        } else if (lua_type(L, -1) == LUA_TNUMBER && egoi_isinteger(L, -1, &k)) {
            char tmp[EGOI_NUM_MAX];
            lua_pushlstring(L, tmp, egoi_fmt_integer(tmp, k));
        } else {
            *info = lua_type(L, -1);
            return EGOI_KEYS_BADTYPE;
        }
        lua_rawseti(L, ks, i);
    }
    /* lua_pushlstring above may run a GC step, so a __gc finalizer, which
     * may have removed (or added) fields of t since they were counted */
    lua_pushvalue(L, ko); /* the third value, replaced below */
    if (i != (int)n)
        return EGOI_KEYS_CHANGED;
    lua_pop(L, 1);
    keys = (egoi_key *)lua_newuserdata(L, n * sizeof *keys);
    for (j = 1; j <= (int)n; j++) {
        lua_rawgeti(L, ks, j);
        keys[j - 1].s = lua_tolstring(L, -1, &keys[j - 1].len); /* anchored in ks */
        keys[j - 1].i = 0;
        keys[j - 1].is_int = 0; /* all sort as strings */
        keys[j - 1].slot = j;
        lua_pop(L, 1);
    }
    egoi_keys_sort(keys, n);
    *out = keys;
    /* refused before any value is written, so the error does not depend on
     * the order of the two */
    for (j = 1; j < (int)n; j++) {
        if (egoi_key_cmp(&keys[j - 1], &keys[j]) == 0) {
            *info = j;
            return EGOI_KEYS_DUP;
        }
    }
    return EGOI_KEYS_OK;
}
