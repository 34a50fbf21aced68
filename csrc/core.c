/*
 * core.c - module entry point of egoi.core. Each concern lives in its own
 * file and contributes its functions through egoi_<area>_open().
 */
#include "egoi.h"

EGOI_API int luaopen_egoi_core(lua_State *L);

void egoi_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction cleanup,
                lua_CFunction tostring)
{
    if (luaL_newmetatable(L, name)) {
        lua_newtable(L);
        egoi_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, cleanup);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, cleanup);
        lua_setfield(L, -2, "__close");
        if (tostring != NULL) {
            lua_pushcfunction(L, tostring);
            lua_setfield(L, -2, "__tostring");
        }
        lua_pushstring(L, name);
        lua_setfield(L, -2, "__name");
    }
}

EGOI_API int luaopen_egoi_core(lua_State *L)
{
    lua_newtable(L);
    egoi_errors_open(L);
    egoi_encode_open(L);
    egoi_decode_open(L);
    egoi_xmlread_open(L);
    egoi_xmlrpc_open(L);
    egoi_soap_open(L);
    egoi_transport_open(L);
    egoi_ratelimit_open(L);
    egoi_redis_open(L);
    egoi_signals_open(L);
    egoi_filecheck_open(L);
    lua_pushliteral(L, EGOI_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
