/*
 * egoi_compat.h - the few Lua C API differences between Lua 5.4 and the
 * Lua 5.1 ABI of LuaJIT, behind egoi_-prefixed names. Everything here is
 * static (file-local), so nothing leaks out of the shared object.
 */
#ifndef EGOI_COMPAT_H
#define EGOI_COMPAT_H

#include <lua.h>
#include <lauxlib.h>
#include <math.h>

#if LUA_VERSION_NUM >= 502
#define egoi_rawlen(L, i) lua_rawlen((L), (i))
#define egoi_setfuncs(L, l, n) luaL_setfuncs((L), (l), (n))
#define egoi_testudata(L, i, tn) luaL_testudata((L), (i), (tn))
#else
#define egoi_rawlen(L, i) lua_objlen((L), (i))

static inline void egoi_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}

static inline void *egoi_testudata(lua_State *L, int i, const char *tname)
{
    void *p = lua_touserdata(L, i);
    if (p != NULL && lua_getmetatable(L, i)) {
        luaL_getmetatable(L, tname);
        if (!lua_rawequal(L, -1, -2))
            p = NULL;
        lua_pop(L, 2);
        return p;
    }
    return NULL;
}
#endif

/* Is the value at index i a number with an exact integer value that fits a
 * lua_Integer?  On 5.4 only real integers (subtype) and integral floats
 * count; on 5.1 every number is a double. */
static inline int egoi_isinteger(lua_State *L, int i, lua_Integer *out)
{
#if LUA_VERSION_NUM >= 503
    if (lua_isinteger(L, i)) {
        *out = lua_tointeger(L, i);
        return 1;
    }
#endif
    {
        lua_Number n = lua_tonumber(L, i);
        if (n >= -9007199254740992.0 && n <= 9007199254740992.0 && floor(n) == n) {
            *out = (lua_Integer)n;
            return 1;
        }
    }
    return 0;
}

#endif
