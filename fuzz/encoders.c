/*
 * encoders.c - libFuzzer harness for the encoders. The input bytes build a nested Lua
 * table (strings of any bytes, integers, floats with NaN/inf, booleans, functions,
 * subtables, sequences, references back to earlier tables: shared subtables and cycles,
 * keys PHP folds together, and garbage objects whose finalizer empties the root table and
 * closes the form_buffer being filled), which then goes through form_encode, form_request,
 * form_buffer:add, xmlrpc_request, soap_request and normalize. Encoding errors are Lua errors by
 * contract and fine; findings are crashes, sanitizer reports, an error that is not a
 * string, a failed fb:add that changed the buffer, form_encode and fb:add disagreeing,
 * and normalize raising.
 */
#include <string.h>

#include "fuzz_lua.h"

#define MAX_TABLES 64
#define MAX_NODES 4000
#define MAX_DEPTH 40

typedef struct {
    lua_State *L;
    const unsigned char *p, *end;
    int reg;     /* stack slot: array of the tables made so far */
    int ntables;
    int nodes;
    int evil;    /* finalizer objects made */
} builder;

static unsigned next_byte(builder *b)
{
    return b->p < b->end ? *b->p++ : 0;
}

static void push_bytes(builder *b, size_t maxlen)
{
    size_t n = next_byte(b) % (maxlen + 1);
    if (n > (size_t)(b->end - b->p))
        n = (size_t)(b->end - b->p);
    lua_pushlstring(b->L, (const char *)b->p, n);
    b->p += n;
}

static void take8(builder *b, unsigned char out[8])
{
    int i;
    for (i = 0; i < 8; i++)
        out[i] = (unsigned char)next_byte(b);
}

/* The finalizer of the "evil" objects: empties the root table and closes the buffer. */
static int evil_gc(lua_State *L)
{
    int keys, n = 0, i;
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_evil");
    if (!lua_toboolean(L, -1))
        return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_root");
    if (lua_istable(L, -1)) {
        int root = lua_gettop(L);
        lua_newtable(L);
        keys = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, root)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_rawseti(L, keys, ++n);
        }
        for (i = 1; i <= n; i++) {
            lua_rawgeti(L, keys, i);
            lua_pushnil(L);
            lua_rawset(L, root);
        }
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_fb");
    if (lua_isuserdata(L, -1)) {
        lua_getfield(L, -1, "close");
        lua_pushvalue(L, -2);
        lua_pcall(L, 1, 0, 0);
    }
    return 0;
}

static void build_value(builder *b, int depth);

static void build_key(builder *b)
{
    static const char alpha[] = "a._ 5-0[]";
    lua_State *L = b->L;
    unsigned op = next_byte(b);
    switch (op % 6) {
    case 0:
    case 1:
        push_bytes(b, 12);
        break;
    case 2: { /* a short name from characters PHP treats specially */
        char s[4];
        size_t i, n = 1 + (op >> 3) % 3;
        for (i = 0; i < n; i++)
            s[i] = alpha[next_byte(b) % (sizeof alpha - 1)];
        lua_pushlstring(L, s, n);
        break;
    }
    case 3:
        lua_pushinteger(L, (lua_Integer)(op >> 3) - 8);
        break;
    case 4:
        lua_pushnumber(L, (op & 8) ? 0.5 : 3.0);
        break;
    default: /* digits that may equal an integer key */
        lua_pushfstring(L, "%d", (int)(op >> 3) - 8);
        break;
    }
}

static void build_table(builder *b, int depth)
{
    lua_State *L = b->L;
    unsigned n = next_byte(b);
    int t, i;
    lua_newtable(L);
    t = lua_gettop(L);
    if (b->ntables < MAX_TABLES) {
        lua_pushvalue(L, t);
        lua_rawseti(L, b->reg, ++b->ntables);
    }
    if (depth >= MAX_DEPTH)
        return;
    if (n & 0x80) { /* a sequence */
        for (i = 1; i <= (int)(n % 9); i++) {
            build_value(b, depth + 1);
            lua_rawseti(L, t, i);
        }
        return;
    }
    for (i = 0; i < (int)(n % 9); i++) {
        build_key(b);
        build_value(b, depth + 1);
        lua_rawset(L, t);
    }
}

static void build_value(builder *b, int depth)
{
    lua_State *L = b->L;
    unsigned op = next_byte(b);
    unsigned char raw[8];
    luaL_checkstack(L, 8, "fuzz");
    if (++b->nodes > MAX_NODES || b->p >= b->end) {
        lua_pushinteger(L, (lua_Integer)op);
        return;
    }
    switch (op % 10) {
    case 0:
    case 1:
        push_bytes(b, 40);
        break;
    case 2: {
        unsigned long long u;
        take8(b, raw);
        memcpy(&u, raw, 8);
        lua_pushinteger(L, (lua_Integer)u);
        break;
    }
    case 3: {
        double d;
        take8(b, raw);
        memcpy(&d, raw, 8);
        lua_pushnumber(L, (lua_Number)d);
        break;
    }
    case 4:
        lua_pushboolean(L, (op & 16) != 0);
        break;
    case 5:
    case 6:
        build_table(b, depth);
        break;
    case 7:
        if (b->ntables > 0)
            lua_rawgeti(L, b->reg, (int)(next_byte(b) % (unsigned)b->ntables) + 1);
        else
            lua_newtable(L);
        break;
    case 8:
        lua_pushinteger(L, (lua_Integer)(op >> 4) - 4);
        break;
    default:
        if (op & 16) { /* a value no encoder can send */
            lua_pushcfunction(L, evil_gc);
        } else { /* garbage with a finalizer, and a string in its place */
            lua_newuserdata(L, 1);
            lua_createtable(L, 0, 1);
            lua_pushcfunction(L, evil_gc);
            lua_setfield(L, -2, "__gc");
            lua_setmetatable(L, -2);
            lua_pop(L, 1);
            b->evil++;
            lua_pushliteral(L, "x");
        }
        break;
    }
}

/* Calls core[name] or a method (self at fidx) with the values at the given slots. */
static int try_call(lua_State *L, int nargs)
{
    int rc = lua_pcall(L, nargs, 1, 0);
    if (rc != LUA_OK && lua_type(L, -1) != LUA_TSTRING)
        fuzz_die(L, "an encoder raised a non-string error");
    return rc == LUA_OK;
}

static size_t fb_len(lua_State *L, int fb)
{
    size_t n;
    lua_getfield(L, fb, "len");
    lua_pushvalue(L, fb);
    lua_call(L, 1, 1);
    n = (size_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return n;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    lua_State *L = fuzz_state();
    builder b;
    int root, fb, ok1, ok2;
    size_t before;

    lua_newtable(L);
    b.L = L;
    b.p = data;
    b.end = data + size;
    b.reg = lua_gettop(L);
    b.ntables = 0;
    b.nodes = 0;
    b.evil = 0;
    build_table(&b, 0);
    root = lua_gettop(L);
    lua_pushvalue(L, root);
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_root");
    fuzz_core(L, "form_buffer");
    lua_call(L, 0, 1);
    fb = lua_gettop(L);
    lua_pushvalue(L, fb);
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_fb");
    if (b.evil) {
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_evil");
        lua_gc(L, LUA_GCINC, 1, 1000, 0); /* finalizers run while we encode */
    }

    /* form_encode and fb:add agree */
    fuzz_core(L, "form_encode");
    lua_pushvalue(L, root);
    lua_pushliteral(L, "p");
    ok1 = try_call(L, 2);
    before = fb_len(L, fb);
    lua_getfield(L, fb, "add");
    lua_pushvalue(L, fb);
    lua_pushvalue(L, root);
    lua_pushliteral(L, "p");
    ok2 = try_call(L, 3);
    if (!b.evil) {
        if (!ok2 && fb_len(L, fb) != before)
            fuzz_die(L, "a failed fb:add changed the buffer");
        if (ok1 != ok2)
            fuzz_die(L, "form_encode and fb:add disagree");
        if (ok1) {
            size_t n1, n2;
            const char *s1 = lua_tolstring(L, -2, &n1), *s2;
            lua_getfield(L, fb, "string");
            lua_pushvalue(L, fb);
            lua_call(L, 1, 1);
            s2 = lua_tolstring(L, -1, &n2);
            if (n1 != n2 || memcmp(s1, s2, n1) != 0)
                fuzz_die(L, "form_encode and fb:add wrote different bodies");
            lua_pop(L, 1);
        }
    }
    lua_settop(L, fb);

    fuzz_core(L, "form_encode");
    lua_pushvalue(L, root);
    try_call(L, 1);
    fuzz_core(L, "form_request");
    lua_pushliteral(L, "m");
    lua_pushvalue(L, root);
    try_call(L, 2);
    lua_getfield(L, fb, "add");
    lua_pushvalue(L, fb);
    lua_pushvalue(L, root);
    lua_pushliteral(L, "q");
    lua_pushinteger(L, (lua_Integer)size << 33);
    try_call(L, 4);
    fuzz_core(L, "xmlrpc_request");
    lua_pushliteral(L, "m");
    lua_pushvalue(L, root);
    try_call(L, 2);
    fuzz_core(L, "soap_request");
    lua_pushliteral(L, "urn:m");
    lua_pushliteral(L, "m");
    lua_pushvalue(L, root);
    try_call(L, 3);
    fuzz_core(L, "normalize"); /* last: it changes the table in place */
    lua_pushvalue(L, root);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        fuzz_die(L, "normalize raised");
    lua_settop(L, fb);

    if (b.evil) { /* every finalizer of this run runs now, with its root still set */
        lua_gc(L, LUA_GCCOLLECT, 0);
        lua_pushboolean(L, 0);
        lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_evil");
        lua_gc(L, LUA_GCINC, 200, 100, 0);
    }
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_root");
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_fb");
    return 0;
}
