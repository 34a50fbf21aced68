/* xmlrpc.c - placeholder; filled in by its owner. */
#include "egoi.h"

void egoi_xmlrpc_open(lua_State *L)
{
    (void)L;
}
