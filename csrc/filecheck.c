/*
 * filecheck.c - what the bulk importer needs to know about the files a user names.
 *
 *   core.file_kind(path)  -> "file" | "directory" | "fifo" | "char" | "block" | "socket" | "other"
 *                            | nil, message, "ENOENT"|"EACCES"|... (stat(2), symlinks followed)
 *   core.digest()         -> userdata egoi.core.digest: a running FNV-1a 64 over bytes
 *     d:update(s)           add the bytes of s (strings are hashed as one stream: updating
 *                           with "ab" or with "a" then "b" gives the same digest)
 *     d:mark()              remember the current state (a record boundary)
 *     d:hex([marked])       16 hex digits of the current (or the marked) state, finalised
 *     d:reset()             back to the empty stream
 *
 * The digest detects accidental changes to an import file between runs (a row fixed in
 * place, a file replaced under the same name); it is not a cryptographic hash.
 */
#include "egoi.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#define DIGEST_MT "egoi.core.digest"
#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

typedef struct {
    uint64_t h;
    uint64_t mark;
} digest_t;

static int fc_file_kind(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        lua_pushnil(L);
        lua_pushstring(L, strerror(e));
        lua_pushstring(L, e == ENOENT ? "ENOENT" : e == EACCES ? "EACCES" : e == ENOTDIR ? "ENOTDIR" : "ERROR");
        return 3;
    }
    if (S_ISREG(st.st_mode)) lua_pushliteral(L, "file");
    else if (S_ISDIR(st.st_mode)) lua_pushliteral(L, "directory");
    else if (S_ISFIFO(st.st_mode)) lua_pushliteral(L, "fifo");
    else if (S_ISCHR(st.st_mode)) lua_pushliteral(L, "char");
    else if (S_ISBLK(st.st_mode)) lua_pushliteral(L, "block");
    else if (S_ISSOCK(st.st_mode)) lua_pushliteral(L, "socket");
    else lua_pushliteral(L, "other");
    return 1;
}

static digest_t *check_digest(lua_State *L)
{
    return (digest_t *)luaL_checkudata(L, 1, DIGEST_MT);
}

static int dg_new(lua_State *L)
{
    digest_t *d = (digest_t *)lua_newuserdata(L, sizeof *d);
    d->h = FNV_OFFSET;
    d->mark = FNV_OFFSET;
    luaL_getmetatable(L, DIGEST_MT);
    lua_setmetatable(L, -2);
    return 1;
}

static int dg_update(lua_State *L)
{
    digest_t *d = check_digest(L);
    size_t len, i;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 2, &len);
    uint64_t h = d->h;
    for (i = 0; i < len; i++) {
        h ^= s[i];
        h *= FNV_PRIME;
    }
    d->h = h;
    return 0;
}

static int dg_mark(lua_State *L)
{
    digest_t *d = check_digest(L);
    d->mark = d->h;
    return 0;
}

static int dg_hex(lua_State *L)
{
    digest_t *d = check_digest(L);
    uint64_t h = lua_toboolean(L, 2) ? d->mark : d->h;
    static const char hex[] = "0123456789abcdef";
    char out[16];
    int i;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    for (i = 0; i < 16; i++)
        out[i] = hex[(h >> (60 - 4 * i)) & 0xf];
    lua_pushlstring(L, out, 16);
    return 1;
}

static int dg_reset(lua_State *L)
{
    digest_t *d = check_digest(L);
    d->h = FNV_OFFSET;
    d->mark = FNV_OFFSET;
    return 0;
}

static int dg_cleanup(lua_State *L)
{
    (void)L; /* nothing owned: plain memory in the userdata */
    return 0;
}

void egoi_filecheck_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"update", dg_update},
        {"mark", dg_mark},
        {"hex", dg_hex},
        {"reset", dg_reset},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"file_kind", fc_file_kind},
        {"digest", dg_new},
        {NULL, NULL}
    };
    egoi_class(L, DIGEST_MT, methods, dg_cleanup, NULL);
    lua_pop(L, 1);
    egoi_setfuncs(L, funcs, 0);
}
