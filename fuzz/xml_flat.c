/*
 * xml_flat.c - libFuzzer harness: core.xml_flat(bytes) returns root, table |
 * nil, code, message, and never raises.
 */
#include "fuzz_lua.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    lua_State *L = fuzz_state();
    fuzz_parse(L, "xml_flat", data, size, -1, 3);
    if (lua_isnil(L, 1)) {
        if (lua_type(L, 2) != LUA_TSTRING || lua_type(L, 3) != LUA_TSTRING)
            fuzz_die(L, "xml_flat: nil without code and message");
    } else if (lua_type(L, 1) != LUA_TSTRING || !lua_istable(L, 2)) {
        fuzz_die(L, "xml_flat: not root, table");
    }
    return 0;
}
