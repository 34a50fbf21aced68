/* encode.c - placeholder; filled in by its owner. */
#include "egoi.h"

void egoi_encode_open(lua_State *L)
{
    (void)L;
}
