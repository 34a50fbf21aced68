/* decode.c - placeholder; filled in by its owner. */
#include "egoi.h"

void egoi_decode_open(lua_State *L)
{
    (void)L;
}
