/*
 * json_decode.c - libFuzzer harness: core.json_decode(bytes) must return a value or
 * nil, "MALFORMED_JSON" | "TOO_DEEP", "... at byte N" (N within the input), never raise.
 */
#include <string.h>

#include "fuzz_lua.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    lua_State *L = fuzz_state();
    fuzz_parse(L, "json_decode", data, size, -1, 3);
    if (lua_isnil(L, 1) && lua_type(L, 2) == LUA_TSTRING) {
        const char *code = lua_tostring(L, 2), *msg = lua_tostring(L, 3), *at;
        unsigned long pos;
        if (strcmp(code, "MALFORMED_JSON") != 0 && strcmp(code, "TOO_DEEP") != 0)
            fuzz_die(L, "json_decode: unknown code");
        if (msg == NULL || (at = strstr(msg, " at byte ")) == NULL ||
            sscanf(at + 9, "%lu", &pos) != 1 || pos < 1 || pos > size + 1)
            fuzz_die(L, "json_decode: message without a byte position in the input");
    } else if (lua_isnil(L, 1) && !lua_isnil(L, 2)) {
        fuzz_die(L, "json_decode: nil with a non-string code");
    }
    return 0;
}
