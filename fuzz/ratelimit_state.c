/*
 * fuzz/ratelimit_state.c - libFuzzer harness for the rate limiter's
 * state-file reader (csrc/ratelimit.c).
 *
 * Each input is written to a fresh private file (mkstemp: mode 0600, ours)
 * and opened as core.ratelimit{ path = file } with a budget taken from the
 * input's last byte; then reserve, commit, status, block, fill run on it.
 * When that byte's top bit is set, the harness first writes a correct
 * checksum into a version 2 header (FNV-1a 64 at offset 48), so mutations
 * reach the checks behind it.
 * Checked besides the sanitizers:
 *   - a refused file (STATE_FILE_ERROR) is left byte for byte as it was;
 *   - once a file was accepted (or reset), it is a sound state: later calls
 *     give no error and no "corrupt" warning, and their results are sane.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icsrc -I/usr/include/lua5.4 \
 *     fuzz/ratelimit_state.c csrc/(all .c) -llua5.4 -lcurl -lexpat -lm -o build/fuzz-ratelimit_state
 *   build/fuzz-ratelimit_state fuzz/corpus/ratelimit_state
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_egoi_core(lua_State *L);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CHUNK[] =
    "local core, path, calls = ...\n"
    "local lim = core.ratelimit{ calls = calls, window = 60, path = path }\n"
    "local ok, a, b = lim:reserve(1000)\n"
    "if ok == nil then\n"
    "  assert(a == 'STATE_FILE_ERROR' and type(b) == 'string')\n"
    "  lim:close()\n"
    "  return 'refused'\n"
    "end\n"
    "if ok then assert(math.type == nil or math.type(a) == 'integer') end\n"
    "local function sound(...)\n"
    "  local r = { ... }\n"
    "  assert(r[1] ~= nil, tostring(r[3]))\n"
    "  for i = 1, 4 do assert(r[i] ~= 'rate-limit state file was corrupt and has been reset') end\n"
    "  return ...\n"
    "end\n"
    "if ok then sound(lim:commit(a, 1001)) end\n"
    "local used, remaining, reset_in = sound(lim:status(1002))\n"
    "assert(used >= 0 and remaining >= 0 and remaining <= calls and reset_in >= 0)\n"
    "sound(lim:block(1002, 5))\n"
    "local ok2, w = sound(lim:reserve(1003))\n"
    "assert(ok2 == false and w >= 4 and w <= 1e9 + 60)\n"
    "sound(lim:fill(1003))\n"
    "sound(lim:reserve(5000))\n"
    "used, remaining = sound(lim:status(5000))\n"
    "assert(used >= 1 and remaining == calls - used)\n"
    "lim:close()\n"
    "return 'used'\n";

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = (unsigned char *)malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The state file's checksum: FNV-1a 64 of the file with its sum field zero. */
static void fix_sum(unsigned char *buf, size_t size)
{
    uint64_t h = 14695981039346656037ULL;
    size_t i;
    memset(buf + 48, 0, 8);
    for (i = 0; i < size; i++) {
        h ^= buf[i];
        h *= 1099511628211ULL;
    }
    memcpy(buf + 48, &h, 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy = NULL;
    char path[] = "/tmp/egoi-fuzz-rl.XXXXXX";
    int fd = mkstemp(path);
    lua_State *L;
    const char *verdict;
    int calls = size > 0 ? 1 + data[size - 1] % 64 : 3;
    if (fd < 0)
        abort();
    if (size >= 64 && (data[size - 1] & 0x80) != 0) {
        copy = (unsigned char *)malloc(size);
        if (copy == NULL)
            abort();
        memcpy(copy, data, size);
        fix_sum(copy, size);
        data = copy;
    }
    if (size > 0 && write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);

    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "egoi.core", luaopen_egoi_core, 0);
    if (luaL_loadstring(L, CHUNK) != LUA_OK)
        abort();
    lua_pushvalue(L, -2);
    lua_pushstring(L, path);
    lua_pushinteger(L, calls);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        fprintf(stderr, "ratelimit_state: %s\n", lua_tostring(L, -1));
        abort();
    }
    verdict = lua_tostring(L, -1);
    if (verdict != NULL && strcmp(verdict, "refused") == 0) {
        size_t len = 0;
        unsigned char *now = slurp(path, &len);
        if (now == NULL || len != size || (size > 0 && memcmp(now, data, size) != 0)) {
            fprintf(stderr, "ratelimit_state: a refused state file was changed\n");
            abort();
        }
        free(now);
    }
    lua_close(L);
    unlink(path);
    free(copy);
    return 0;
}
