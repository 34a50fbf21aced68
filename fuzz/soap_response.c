/*
 * soap_response.c - libFuzzer harness: core.soap_response(bytes[, max]) returns
 * true, value | false, fault table | nil, code, message, and never raises (hostile
 * envelopes: href/id graphs, SOAP 1.1 and 1.2, namespaces, DOCTYPE). The first byte
 * picks a max_bytes limit now and then, so TOO_LARGE is reached too.
 */
#include "fuzz_lua.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    lua_State *L = fuzz_state();
    fuzz_parse(L, "soap_response", data, size,
               (size > 0 && data[0] == 'M') ? (lua_Integer)(size / 2) : -1, 3);
    if (lua_isnil(L, 1)) {
        if (lua_type(L, 2) != LUA_TSTRING || lua_type(L, 3) != LUA_TSTRING)
            fuzz_die(L, "soap_response: nil without code and message");
    } else if (!lua_isboolean(L, 1)) {
        fuzz_die(L, "soap_response: first result neither nil nor boolean");
    } else if (!lua_toboolean(L, 1) && !lua_istable(L, 2)) {
        fuzz_die(L, "soap_response: a fault that is not a table");
    }
    return 0;
}
