/* transport.c - placeholder; filled in by its owner. */
#include "egoi.h"

void egoi_transport_open(lua_State *L)
{
    (void)L;
}
