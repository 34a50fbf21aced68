/*
 * decode.c - normalisation of decoded E-goi REST JSON.
 *
 * The server renders PHP lists as objects keyed key_0, key_1, ... (and
 * id-keyed arrays as key_<id>). normalize() turns every table whose keys
 * are exactly key_0 .. key_<n-1> into a Lua array (numeric order) and
 * leaves everything else as it is, recursing into values. Tables that keep
 * their shape are fixed up in place (only changed children are stored
 * back), so the common case costs one traversal and no re-hashing.
 */
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

/* Normalises the table at stack index t (depth counts from 1). On success
 * pushes the result (t itself or a new array) and returns 1; returns 0
 * with the stack as found when the nesting is deeper than DEC_MAX_DEPTH. */
static int dec_table(lua_State *L, int t, int depth)
{
    size_t n = 0;
    lua_Integer maxi = -1;
    int positional = 1;
    int a;

    if (depth > DEC_MAX_DEPTH)
        return 0;
    luaL_checkstack(L, 6, "normalize");
    lua_pushnil(L);
    while (lua_next(L, t)) {
        /* key at -2, value at -1 */
        if (lua_type(L, -1) == LUA_TTABLE) {
            int v = lua_gettop(L);
            if (!dec_table(L, v, depth + 1)) {
                lua_pop(L, 2);
                return 0;
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

/* normalize(value) -> value | nil, "TOO_DEEP", message */
static int l_normalize(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    if (lua_type(L, 1) != LUA_TTABLE)
        return 1;
    if (!dec_table(L, 1, 1)) {
        lua_pushnil(L);
        lua_pushliteral(L, "TOO_DEEP");
        lua_pushfstring(L, "response nested deeper than %d levels", DEC_MAX_DEPTH);
        return 3;
    }
    return 1;
}

void egoi_decode_open(lua_State *L)
{
    lua_pushcfunction(L, l_normalize);
    lua_setfield(L, -2, "normalize");
}
