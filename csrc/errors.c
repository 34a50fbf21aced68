/* errors.c - placeholder; filled in by its owner. */
#include "egoi.h"

void egoi_errors_open(lua_State *L)
{
    (void)L;
}

const char *egoi_errors_curl_name(int curlcode)
{
    (void)curlcode;
    return "UNKNOWN";
}
