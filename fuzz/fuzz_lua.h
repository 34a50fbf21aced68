/*
 * fuzz_lua.h - shared by the libFuzzer harnesses fuzz/<name>.c (built by `make fuzz`, linked
 * with all of csrc/ and Debian's liblua5.4). One Lua state per fuzzing process, made on
 * first use, with egoi.core opened into it; fuzz_core() pushes one of its functions.
 * A harness aborts (a finding for libFuzzer) when a function breaks its contract, e.g.
 * raises where it must return nil, code, message.
 */
#ifndef FUZZ_LUA_H
#define FUZZ_LUA_H

#include <stdio.h>
#include <stdlib.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_egoi_core(lua_State *L);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static lua_State *fuzz_state(void)
{
    static lua_State *L = NULL;
    static unsigned long runs = 0;
    if (L == NULL) {
        L = luaL_newstate();
        if (L == NULL)
            abort();
        luaL_openlibs(L);
        luaL_requiref(L, "egoi.core", luaopen_egoi_core, 0);
        lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_core");
    }
    lua_settop(L, 0);
    if (++runs % 256 == 0) /* frees what earlier runs left: use-after-free shows up */
        lua_gc(L, LUA_GCCOLLECT, 0);
    return L;
}

/* Pushes core[name]. */
static void fuzz_core(lua_State *L, const char *name)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_core");
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
}

/* A contract broken: say what and abort (libFuzzer keeps the input). */
static void fuzz_die(lua_State *L, const char *what)
{
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    fprintf(stderr, "fuzz: %s: %s\n", what, msg);
    abort();
}

/* core[name](bytes[, limit]) with nres results on the stack (limit < 0: none); a raise
 * breaks the contract of every parser. */
static inline void fuzz_parse(lua_State *L, const char *name, const unsigned char *data, size_t size,
                       lua_Integer limit, int nres)
{
    fuzz_core(L, name);
    lua_pushlstring(L, (const char *)data, size);
    if (limit >= 0)
        lua_pushinteger(L, limit);
    if (lua_pcall(L, limit >= 0 ? 2 : 1, nres, 0) != LUA_OK)
        fuzz_die(L, "a parser raised");
}

#endif
