/*
 * egoi.h - internal declarations shared by the C files of egoi.core.
 * Nothing here is exported from the shared object: every symbol but
 * luaopen_egoi_core has hidden visibility (see Makefile, EGOI_API).
 */
#ifndef EGOI_H
#define EGOI_H

#include <lua.h>
#include <lauxlib.h>

#include "egoi_compat.h"

#define EGOI_VERSION "0.1.0"

#if defined(__GNUC__)
#define EGOI_API __attribute__((visibility("default")))
#else
#define EGOI_API
#endif

/* Internal functions are hidden even when a build (e.g. LuaRocks' builtin
 * backend) does not pass -fvisibility=hidden: only luaopen_egoi_core is
 * exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* Each concern adds its functions to the module table on top of the stack
 * and leaves the stack as it found it. */
void egoi_errors_open(lua_State *L);
void egoi_encode_open(lua_State *L);
void egoi_decode_open(lua_State *L);
void egoi_xmlrpc_open(lua_State *L);
void egoi_soap_open(lua_State *L);
void egoi_xmlread_open(lua_State *L);
void egoi_transport_open(lua_State *L);
void egoi_ratelimit_open(lua_State *L);
void egoi_redis_open(lua_State *L);
void egoi_signals_open(lua_State *L);
void egoi_filecheck_open(lua_State *L);

/* errors.c: symbolic name of a libcurl result code ("COULDNT_CONNECT",
 * "TIMEOUT", ...). Whether a failed request may have reached the server is
 * decided in transport.c, which has the transfer's details. */
const char *egoi_errors_curl_name(int curlcode);

/* signals.c: the signal caught since core.signals_catch() (SIGINT or
 * SIGTERM), 0 when none was or catch() is not in effect. Async-signal
 * safe to read; for libcurl callbacks and sleeps, which must not call Lua. */
int egoi_signals_pending(void);

/* core.c: leaves the metatable `name` on the stack, creating it on first
 * use with __index = methods, __gc = __close = cleanup (one idempotent
 * cleanup per type), __tostring when given, and __name. */
void egoi_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction cleanup,
                lua_CFunction tostring);

/* encode.c: the bytes of a core.form_buffer at stack index idx (no copy),
 * or NULL when that value is not one. Lets the transport send a bulk body
 * straight from the buffer it was packed into. */
const char *egoi_encode_buffer_view(lua_State *L, int idx, size_t *len);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
