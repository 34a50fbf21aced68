/*
 * core.c - module entry point of egoi.core. Each concern lives in its own
 * file and contributes its functions through egoi_<area>_open().
 */
#include "egoi.h"

EGOI_API int luaopen_egoi_core(lua_State *L);

EGOI_API int luaopen_egoi_core(lua_State *L)
{
    lua_newtable(L);
    egoi_errors_open(L);
    egoi_encode_open(L);
    egoi_decode_open(L);
    egoi_xmlrpc_open(L);
    egoi_transport_open(L);
    egoi_ratelimit_open(L);
    lua_pushliteral(L, EGOI_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
