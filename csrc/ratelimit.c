/*
 * ratelimit.c - exact rolling-window rate limiter for egoi.core.
 *
 *   core.now()                 wall-clock seconds (CLOCK_REALTIME) as a double
 *   core.sleep(seconds[, interruptible])  nanosleep, restarted on EINTR; with
 *                              interruptible = true it returns "SIGINT"/"SIGTERM" at once
 *                              when core.signals_catch() caught one (before or during it)
 *   core.key_id(apikey)        16 lowercase hex chars naming per-key state
 *   core.user_dir(path, create) true | nil, message: a directory only we can change
 *   core.euid()                the effective user id
 *   core.ratelimit{ calls = 150, window = 3600, path = nil }
 *
 * The state is the account's history of call times on this host: a set of
 * records { time, id }. A limiter with budget `calls` per `window` admits a
 * call at `now` when fewer than `calls` recorded times lie in
 * (now - window, now], and records the call with a fresh id. No token
 * bucket: the state is the exact list of times, so no rolling window of
 * length `window` ever holds more than `calls` stamps.
 *
 * Processes with different budgets share one history, each applying its
 * own budget to it. The history keeps the newest `cap` records, cap being
 * the largest `calls` of any limiter that has used the file: the decision
 * of a limiter with budget N only depends on the N newest stamps, so no
 * limiter loses what it needs when a full history drops its oldest record
 * for a new one.
 *
 * block(now, seconds) refuses every reservation before now + seconds (the
 * server answered 429); the block lives in the state, so every process
 * sharing it honours it. A later block may extend it, never shorten it.
 *
 * The caller passes `now` into every method (the Lua side injects the
 * clock). Recorded times later than `now` (the clock went backwards) are
 * clamped down to `now` and written back, and a block that starts after
 * `now` is moved back with its length kept, so a backwards jump delays a
 * caller by at most one window (or one block).
 *
 * With `path`, the state lives in a host-local file shared by every process
 * that opens it. Each method takes flock(LOCK_EX) on it, reads the whole
 * state, updates it, writes it back with pwrite and unlocks: the lock is
 * never held while the HTTP exchange runs. File layout, version 2 (host
 * byte order, so the file is meant for one host only):
 *
 *   offset  0  magic       "EGOIRL\0\1"     8 bytes
 *   offset  8  version     u32 (2)
 *   offset 12  cap         u32   records in the file, 1..100000
 *   offset 16  count       u32   records in use, 0..cap: records[0..count)
 *   offset 20  flags       u32   0
 *   offset 24  next_id     u64   id of the next reservation, 1..2^53
 *   offset 32  block_from  double  the current block started here...
 *   offset 40  block_until double  ...and ends here (0, 0: none)
 *   offset 48  sum         u64   FNV-1a 64 of the file with this field zero
 *   offset 56  reserved    u64   0
 *   offset 64  records     { double time; u64 id }[cap]  (unused: zero)
 *
 * What is found at the path decides:
 *   - nothing, or an empty file: a new state;
 *   - a valid version 2 state: used (and grown to our `calls` if smaller);
 *   - a valid version 1 state (a ring of one limiter's times, written by
 *     older lua-egoi): migrated, its recorded times kept;
 *   - the magic with a damaged state (bad checksum, torn write, impossible
 *     fields): reset to the empty state, with a warning ("corrupt");
 *   - anything else (no magic: a user's file at a mistyped path, another
 *     version, more than one hard link): refused with STATE_FILE_ERROR and
 *     never written, truncated or otherwise touched.
 *
 * reserve() hands out the record's id as the slot number; ids are unique
 * per file (next_id lives in the state), so commit() finds its record
 * wherever it is and knows when it has been replaced. Each object also
 * remembers the ids it handed out (the last `calls`), so a slot is only
 * meaningful to the object that reserved it. The file descriptor is opened
 * lazily, reopened when the file was removed/replaced (st_nlink == 0) or
 * after fork(), and refused unless it is a regular file of our own.
 *
 * Everything that touches the file runs between lock and unlock without
 * calling into Lua; results are pushed only after the unlock, so no Lua
 * error (not even out-of-memory) can leave the file locked. The state
 * buffers are malloc'd and owned by the userdata (freed by its one
 * idempotent cleanup).
 */
#include "egoi.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define RL_MT "egoi.core.ratelimit"
#define RL_MAX_CALLS 100000
#define RL_VERSION 2u
#define RL_HDR 64
#define RL_REC 16
#define RL_V1_HDR 32
#define RL_MAGIC "EGOIRL\0\1"
#define RL_MAX_SIZE ((size_t)RL_HDR + (size_t)RL_REC * RL_MAX_CALLS)

/* Longest block (seconds): block() refuses more, a state holding more is damaged. */
#define RL_MAX_BLOCK 1e9

/* Largest id / slot number: slot numbers stay exact in a double. */
#define RL_MAX_ID 9007199254740992.0

#define RL_CORRUPT_MSG "rate-limit state file was corrupt and has been reset"
#define RL_HINT "; point rate_limit.state_file at a file of its own"

struct rl_hdr {
    char magic[8];
    uint32_t version;
    uint32_t cap;
    uint32_t count;
    uint32_t flags;
    uint64_t next_id;
    double block_from;
    double block_until;
    uint64_t sum;
    uint64_t reserved;
};

struct rl_rec {
    double t;
    uint64_t id;
};

/* The on-disk header is exactly 64 bytes and a record 16, with no padding. */
typedef char rl_hdr_is_64_bytes[(sizeof(struct rl_hdr) == RL_HDR) ? 1 : -1];
typedef char rl_rec_is_16_bytes[(sizeof(struct rl_rec) == RL_REC) ? 1 : -1];

typedef struct {
    int fd;             /* state file, -1 when not (yet) open */
    int closed;
    int is_file;        /* path given (kept after close, for tostring) */
    uint32_t calls;     /* this limiter's budget... */
    double window;      /* ...per window */
    struct rl_hdr *hdr; /* state: header then bufcap records (malloc) */
    uint32_t bufcap;
    double *scratch;    /* bufcap doubles, for the wait computation (malloc) */
    uint64_t *mine;     /* calls entries: ids this object handed out, 0 = none (malloc) */
    uint32_t mine_next; /* ring position in mine[] */
    char *path;         /* NULL in memory mode (malloc) */
    pid_t pid;          /* process that opened fd (a forked child reopens) */
} rl_t;

/* Outcome of one locked operation, pushed after the unlock. */
enum { RL_OK = 0, RL_IOERR = 1 };

typedef struct {
    int status;
    int reset;         /* the file was corrupt and has been reset */
    char msg[512];     /* I/O error message */
} rl_io;

#define RL_RECS(rl) ((struct rl_rec *)(void *)((char *)(rl)->hdr + RL_HDR))

/* ------------------------------------------------------------------ */
/* clock, sleep, key_id                                                 */

static int rl_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* Sleeps until the monotonic deadline or until a signal caught by
 * core.signals_catch() is pending. SIGINT and SIGTERM are blocked while
 * the flag is checked and unblocked atomically by pselect, so a signal
 * arriving between the check and the wait still ends the wait. Returns
 * the pending signal, 0 when the full time passed. */
static int sleep_interruptible(const struct timespec *deadline)
{
    sigset_t block, old;
    int sig = 0;

    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &block, &old) != 0)
        sigprocmask(SIG_SETMASK, NULL, &old); /* cannot block: wait with the mask as it is */
    for (;;) {
        struct timespec now, left;
        if ((sig = egoi_signals_pending()) != 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left.tv_sec = deadline->tv_sec - now.tv_sec;
        left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_nsec += 1000000000L;
            left.tv_sec -= 1;
        }
        if (left.tv_sec < 0)
            break;
        if (pselect(0, NULL, NULL, NULL, &left, &old) == 0)
            break; /* the time passed */
        /* EINTR: a handler ran; look at the flag again */
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return sig;
}

static int rl_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    int interruptible = lua_toboolean(L, 2);
    struct timespec req, rem;
    if (!isfinite(s))
        return luaL_argerror(L, 1, "seconds must be a finite number");
    if (s > 1e9)
        s = 1e9;
    if (s < 0)
        s = 0;
    req.tv_sec = (time_t)s;
    req.tv_nsec = (long)((s - (lua_Number)req.tv_sec) * 1e9);
    if (req.tv_nsec >= 1000000000L)
        req.tv_nsec = 999999999L;
    if (req.tv_nsec < 0)
        req.tv_nsec = 0;
    if (interruptible) {
        struct timespec deadline;
        int sig;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += req.tv_sec;
        deadline.tv_nsec += req.tv_nsec;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_nsec -= 1000000000L;
            deadline.tv_sec += 1;
        }
        sig = sleep_interruptible(&deadline);
        if (sig == SIGINT)
            lua_pushliteral(L, "SIGINT");
        else if (sig == SIGTERM)
            lua_pushliteral(L, "SIGTERM");
        else
            return 0;
        return 1;
    }
    if (s <= 0)
        return 0;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
    return 0;
}

/* FNV-1a 64 over a fixed salt and the key, then a 64-bit finaliser so that
 * every output bit depends on every input byte. Not a cryptographic hash:
 * it only keeps the key out of file names and logs. */
static int rl_key_id(lua_State *L)
{
    static const char salt[] = "lua-egoi/ratelimit/key-id/v1";
    size_t len, i;
    const char *key = luaL_checklstring(L, 1, &len);
    uint64_t h = 14695981039346656037ULL;
    char out[17];
    static const char hex[] = "0123456789abcdef";
    for (i = 0; i < sizeof salt; i++) {       /* includes the NUL separator */
        h ^= (unsigned char)salt[i];
        h *= 1099511628211ULL;
    }
    for (i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    for (i = 0; i < 16; i++)
        out[i] = hex[(h >> (60 - 4 * i)) & 0xf];
    out[16] = '\0';
    lua_pushlstring(L, out, 16);
    return 1;
}

/* core.user_dir(path, create) -> true | nil, message
 * Is path a directory only this user can change? It must be owned by the
 * effective uid and writable by it, and not writable by group or others.
 * With create it is made (mode 0700) when missing, must not be a symlink
 * and must give group and others no access at all. */
static int rl_user_dir(lua_State *L)
{
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len);
    int create = lua_toboolean(L, 2);
    struct stat st;
    char msg[600];
    if (len == 0 || strlen(path) != len)
        return luaL_argerror(L, 1, "path must be a non-empty string without NUL bytes");
    if (create && mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(msg, sizeof msg, "cannot create %s: %s", path, strerror(errno));
        goto fail;
    }
    if ((create ? lstat(path, &st) : stat(path, &st)) != 0) {
        snprintf(msg, sizeof msg, "cannot use %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(msg, sizeof msg, "%s is not a directory", path);
        goto fail;
    }
    if (st.st_uid != geteuid()) {
        snprintf(msg, sizeof msg, "%s is owned by uid %lu, not by this user (uid %lu)", path,
                 (unsigned long)st.st_uid, (unsigned long)geteuid());
        goto fail;
    }
    if ((st.st_mode & (create ? 077 : 022)) != 0) {
        snprintf(msg, sizeof msg, "%s has mode %03o; only its owner may have access (0700)", path,
                 (unsigned)(st.st_mode & 0777));
        goto fail;
    }
    if (access(path, W_OK | X_OK) != 0) {
        snprintf(msg, sizeof msg, "%s is not writable: %s", path, strerror(errno));
        goto fail;
    }
    lua_pushboolean(L, 1);
    return 1;
fail:
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

/* core.euid() -> the effective user id (names the per-user directory) */
static int rl_euid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)geteuid());
    return 1;
}

/* ------------------------------------------------------------------ */
/* state (pure computation on rl->hdr and its records)                  */

static size_t rl_size(uint32_t cap)
{
    return (size_t)RL_HDR + (size_t)RL_REC * cap;
}

/* Make room for cap records (never shrinks). 0, or -1 when out of memory
 * (the old buffers stay valid). */
static int rl_ensure(rl_t *rl, uint32_t cap)
{
    void *p;
    if (cap <= rl->bufcap)
        return 0;
    p = realloc(rl->hdr, rl_size(cap));
    if (p == NULL)
        return -1;
    rl->hdr = (struct rl_hdr *)p;
    p = realloc(rl->scratch, sizeof(double) * cap);
    if (p == NULL)
        return -1;
    rl->scratch = (double *)p;
    rl->bufcap = cap;
    return 0;
}

static uint64_t rl_fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Checksum of the state as stored (the sum field counted as zero). */
static uint64_t rl_sum(const rl_t *rl)
{
    struct rl_hdr h = *rl->hdr;
    uint64_t s;
    h.sum = 0;
    s = rl_fnv(14695981039346656037ULL, &h, RL_HDR);
    return rl_fnv(s, RL_RECS(rl), (size_t)RL_REC * rl->hdr->cap);
}

/* The empty state with room for cap (<= bufcap) records. */
static void rl_state_init(rl_t *rl, uint32_t cap)
{
    memset(rl->hdr, 0, rl_size(cap));
    memcpy(rl->hdr->magic, RL_MAGIC, 8);
    rl->hdr->version = RL_VERSION;
    rl->hdr->cap = cap;
    rl->hdr->next_id = 1;
}

/* Is the version 2 state in the buffer sound (header cap already checked
 * against the file size)? */
static int rl_state_valid(const rl_t *rl)
{
    const struct rl_hdr *h = rl->hdr;
    const struct rl_rec *r = RL_RECS(rl);
    uint32_t i;
    if (h->count > h->cap || h->flags != 0 || h->reserved != 0)
        return 0;
    if (h->next_id < 1 || (double)h->next_id > RL_MAX_ID)
        return 0;
    if (!isfinite(h->block_from) || !isfinite(h->block_until) || !(h->block_from <= h->block_until)
        || h->block_until - h->block_from > RL_MAX_BLOCK)
        return 0;
    for (i = 0; i < h->count; i++)
        if (!isfinite(r[i].t) || r[i].id < 1 || (double)r[i].id > RL_MAX_ID)
            return 0;
    for (; i < h->cap; i++)
        if (r[i].t != 0 || r[i].id != 0)
            return 0;
    return rl_sum(rl) == h->sum;
}

static uint64_t rl_take_id(rl_t *rl)
{
    uint64_t id = rl->hdr->next_id;
    rl->hdr->next_id = ((double)(id + 1) > RL_MAX_ID) ? 1 : id + 1;
    return id;
}

/* A version 1 file (one limiter's ring: calls u32 @12, window double @16,
 * count u32 @24, head u32 @28, times double[calls] @32) into the empty
 * history, keeping its recorded times. 1 done, 0 not a sound version 1
 * state, -1 out of memory. */
static int rl_migrate_v1(rl_t *rl, const unsigned char *raw, size_t size)
{
    uint32_t calls1, count, head, i, cap;
    double window1;
    struct rl_rec *r;
    if (size < RL_V1_HDR)
        return 0;
    memcpy(&calls1, raw + 12, 4);
    memcpy(&window1, raw + 16, 8);
    memcpy(&count, raw + 24, 4);
    memcpy(&head, raw + 28, 4);
    if (calls1 < 1 || calls1 > RL_MAX_CALLS || size != RL_V1_HDR + (size_t)8 * calls1)
        return 0;
    if (!(window1 > 0) || !isfinite(window1) || count > calls1 || head >= calls1)
        return 0;
    for (i = 0; i < calls1; i++) {
        double t;
        memcpy(&t, raw + RL_V1_HDR + (size_t)8 * i, 8);
        if (!isfinite(t))
            return 0;
    }
    cap = calls1 > rl->calls ? calls1 : rl->calls;
    if (rl_ensure(rl, cap) != 0)
        return -1;
    rl_state_init(rl, cap);
    r = RL_RECS(rl);
    for (i = 0; i < count; i++) {
        uint32_t pos = (uint32_t)(((uint64_t)head + i) % calls1);
        memcpy(&r[i].t, raw + RL_V1_HDR + (size_t)8 * pos, 8);
        r[i].id = rl_take_id(rl);
    }
    rl->hdr->count = count;
    return 1;
}

/* Clamp recorded times later than now down to now, move a block that
 * starts after now back to now (keeping its length), and drop a block
 * that is over. Returns 1 if anything changed. */
static int rl_clamp(rl_t *rl, double now)
{
    struct rl_hdr *h = rl->hdr;
    struct rl_rec *r = RL_RECS(rl);
    uint32_t i;
    int changed = 0;
    for (i = 0; i < h->count; i++) {
        if (r[i].t > now) {
            r[i].t = now;
            changed = 1;
        }
    }
    if (h->block_until != 0 || h->block_from != 0) {
        if (h->block_until <= now) {
            h->block_from = h->block_until = 0;
            changed = 1;
        } else if (h->block_from > now) {
            double len = h->block_until - h->block_from;
            h->block_from = now;
            h->block_until = now + len;
            changed = 1;
        }
    }
    return changed;
}

/* The smallest w >= target - now with now + w >= target, so a caller that
 * sleeps w and retries with now + w is past target. */
static double rl_wait_until(double target, double now)
{
    double w = target - now;
    int i;
    if (w <= 0)
        return 0;
    /* Rounding: step w up one representable value at a time. */
    for (i = 0; i < 64 && now + w < target; i++) {
        double w2 = nextafter(now + w, INFINITY) - now;
        w = (w2 > w) ? w2 : nextafter(w, INFINITY);
    }
    return w;
}

/* Seconds until a stamp at `t` is a full window old, as seen from `now`:
 * the smallest w >= window - (now - t) with (now + w) - t >= window. */
static double rl_wait_for(const rl_t *rl, double t, double now)
{
    double w = rl->window - (now - t);
    int i;
    if (w < 0)
        return 0;
    for (i = 0; i < 64 && (now + w) - t < rl->window; i++) {
        double target = nextafter(now + w, INFINITY);
        double w2 = target - now;
        w = (w2 > w) ? w2 : nextafter(w, INFINITY);
    }
    return w;
}

static int rl_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Stamps inside this limiter's window as of now (*used) and how long
 * until fewer than `calls` are: 0 when fewer already are, else until the
 * calls-th newest of them is a window old. */
static double rl_window_wait(const rl_t *rl, double now, uint32_t *used)
{
    const struct rl_rec *r = RL_RECS(rl);
    uint32_t i, n = 0;
    for (i = 0; i < rl->hdr->count; i++)
        if (now - r[i].t < rl->window)
            rl->scratch[n++] = r[i].t;
    *used = n;
    if (n < rl->calls)
        return 0;
    qsort(rl->scratch, n, sizeof(double), rl_cmp_double);
    return rl_wait_for(rl, rl->scratch[n - rl->calls], now);
}

static double rl_block_wait(const rl_t *rl, double now)
{
    return now < rl->hdr->block_until ? rl_wait_until(rl->hdr->block_until, now) : 0;
}

/* Remember an id this object handed out (the last `calls` of them). */
static void rl_mine_add(rl_t *rl, uint64_t id)
{
    rl->mine[rl->mine_next] = id;
    rl->mine_next = (rl->mine_next + 1) % rl->calls;
}

/* Forget an id handed out by this object; 1 if it was one. */
static int rl_mine_take(rl_t *rl, uint64_t id)
{
    uint32_t i;
    for (i = 0; i < rl->calls; i++) {
        if (rl->mine[i] == id) {
            rl->mine[i] = 0;
            return 1;
        }
    }
    return 0;
}

/* Try to admit a call at now (state already clamped). On admission
 * records it, stores its id in *slot and returns 1; otherwise stores the
 * wait in *wait and returns 0. A full history drops its oldest record
 * (ties: the older id). */
static int rl_state_reserve(rl_t *rl, double now, uint64_t *slot, double *wait)
{
    struct rl_hdr *h = rl->hdr;
    struct rl_rec *r = RL_RECS(rl);
    uint32_t used, p, i;
    double ww = rl_window_wait(rl, now, &used), bw = rl_block_wait(rl, now);
    if (ww > 0 || bw > 0) {
        *wait = ww > bw ? ww : bw;
        return 0;
    }
    if (h->count < h->cap) {
        p = h->count++;
    } else {
        p = 0;
        for (i = 1; i < h->count; i++)
            if (r[i].t < r[p].t || (r[i].t == r[p].t && r[i].id < r[p].id))
                p = i;
    }
    r[p].t = now;
    r[p].id = rl_take_id(rl);
    *slot = r[p].id;
    rl_mine_add(rl, *slot);
    return 1;
}

/* used, remaining, reset_in as of now (state already clamped). While a
 * block lasts nothing remains, and reset_in is the later of its end and
 * the window's next free place. */
static void rl_state_status(const rl_t *rl, double now, uint32_t *used, uint32_t *remaining,
                            double *reset_in)
{
    double ww = rl_window_wait(rl, now, used), bw = rl_block_wait(rl, now);
    *remaining = *used < rl->calls ? rl->calls - *used : 0;
    if (bw > 0)
        *remaining = 0;
    *reset_in = ww > bw ? ww : bw;
}

/* Move the record of this object's reservation `slot` forward to now if
 * it is still in the history. */
static int rl_state_commit(rl_t *rl, uint64_t slot, double now)
{
    struct rl_rec *r = RL_RECS(rl);
    uint32_t i;
    if (!rl_mine_take(rl, slot))
        return 0;          /* not an outstanding reservation of ours */
    for (i = 0; i < rl->hdr->count; i++) {
        if (r[i].id == slot) {
            if (now > r[i].t) {
                r[i].t = now;
                return 1;
            }
            return 0;
        }
    }
    return 0;              /* dropped from the history, or the file was reset */
}

/* No reservation before now + seconds; a later block only extends. */
static int rl_state_block(rl_t *rl, double now, double seconds)
{
    struct rl_hdr *h = rl->hdr;
    double until = now + seconds;
    if (!(until > h->block_until) || !(until > now))
        return 0;
    h->block_from = now;
    h->block_until = until;
    return 1;
}

/* ------------------------------------------------------------------ */
/* state file                                                           */

static void rl_ioerr(rl_io *io, const rl_t *rl, const char *what, int err)
{
    io->status = RL_IOERR;
    snprintf(io->msg, sizeof io->msg, "%s %s: %s", what, rl->path, strerror(err));
}

static void rl_refuse(rl_io *io, const rl_t *rl, const char *why)
{
    io->status = RL_IOERR;
    snprintf(io->msg, sizeof io->msg, "%s %s; refusing to use or overwrite it" RL_HINT, rl->path, why);
}

static void rl_close_fd(rl_t *rl)
{
    if (rl->fd >= 0) {
        close(rl->fd);
        rl->fd = -1;
    }
}

/* Open (creating, mode 0600, never through a symlink) the state file. */
static int rl_open_file(rl_t *rl, rl_io *io)
{
    struct stat st;
    int fd;
    do {
        fd = open(rl->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        rl_ioerr(io, rl, "cannot open", errno);
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        rl_ioerr(io, rl, "cannot stat", errno);
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        io->status = RL_IOERR;
        snprintf(io->msg, sizeof io->msg, "%s is not a regular file" RL_HINT, rl->path);
        close(fd);
        return -1;
    }
    /* The window decides when this process may call: a file another user
     * owns, or one others may write, would let them stall us (e.g. a file
     * planted under /tmp before first use). Refuse it. */
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        io->status = RL_IOERR;
        snprintf(io->msg, sizeof io->msg,
                 "%s is owned by another user or writable by others; refusing to use it" RL_HINT,
                 rl->path);
        close(fd);
        return -1;
    }
    rl->fd = fd;
    rl->pid = getpid();
    return 0;
}

static int rl_flock(int fd, int op)
{
    int r;
    do {
        r = flock(fd, op);
    } while (r != 0 && errno == EINTR);
    return r;
}

/* pread up to n bytes at off into dst; *got = bytes read. 0, or -1 (io
 * filled in). */
static int rl_read(rl_t *rl, rl_io *io, void *dst, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t r = pread(rl->fd, (char *)dst + *got, n - *got, (off_t)*got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rl_ioerr(io, rl, "cannot read", errno);
            return -1;
        }
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

/* Read the file (fsize bytes, lock held) into the state buffer. Returns
 * 0 (a sound current state), 1 (a new, migrated or reset state: write it
 * back) or -1 (io filled in: refused or failed; the file is left as it
 * is). */
static int rl_load(rl_t *rl, rl_io *io, off_t fsize)
{
    unsigned char first[RL_HDR];
    size_t want, got, size;
    uint32_t version, cap, hcap;
    if (fsize == 0) {
        rl_state_init(rl, rl->calls);   /* new file */
        return 1;
    }
    want = fsize < RL_HDR ? (size_t)fsize : RL_HDR;
    if (rl_read(rl, io, first, want, &got) != 0)
        return -1;
    if (got < 8 || memcmp(first, RL_MAGIC, 8) != 0) {
        rl_refuse(io, rl, "is not a rate-limit state file (no EGOIRL magic)");
        return -1;
    }
    if (got < 12)
        goto corrupt;
    memcpy(&version, first + 8, 4);
    if (version == RL_VERSION) {
        if (fsize < RL_HDR || (uintmax_t)fsize > RL_MAX_SIZE || (fsize - RL_HDR) % RL_REC != 0)
            goto corrupt;
        size = (size_t)fsize;
        cap = (uint32_t)((size - RL_HDR) / RL_REC);
        memcpy(&hcap, first + 12, 4);
        if (cap == 0 || hcap != cap)
            goto corrupt;
        if (rl_ensure(rl, cap) != 0) {
            rl_ioerr(io, rl, "cannot load", ENOMEM);
            return -1;
        }
        if (rl_read(rl, io, rl->hdr, size, &got) != 0)
            return -1;
        if (got != size || !rl_state_valid(rl))
            goto corrupt;
        return 0;
    }
    if (version == 1) {
        unsigned char *raw;
        int r;
        if ((uintmax_t)fsize > RL_V1_HDR + (uintmax_t)8 * RL_MAX_CALLS)
            goto corrupt;
        size = (size_t)fsize;
        raw = (unsigned char *)malloc(size);
        if (raw == NULL) {
            rl_ioerr(io, rl, "cannot load", ENOMEM);
            return -1;
        }
        if (rl_read(rl, io, raw, size, &got) != 0) {
            free(raw);
            return -1;
        }
        r = rl_migrate_v1(rl, raw, got);
        free(raw);
        if (r < 0) {
            rl_ioerr(io, rl, "cannot load", ENOMEM);
            return -1;
        }
        if (r == 0)
            goto corrupt;
        return 1;
    }
    {
        char why[96];
        snprintf(why, sizeof why, "is a rate-limit state of format version %lu, unknown to this lua-egoi",
                 (unsigned long)version);
        rl_refuse(io, rl, why);
        return -1;
    }
corrupt:
    rl_state_init(rl, rl->calls);
    io->reset = 1;
    return 1;
}

/* Lock the file and read the state into rl->hdr. Returns 0 with the lock
 * held, or -1 (io filled in) with no lock held. *fsize is the file's size
 * as found. */
static double rl_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Take the lock; *waited += the seconds spent waiting for another holder
 * (0 when it was free at once, so an injected clock stays exact). */
static int rl_lock(int fd, double *waited)
{
    double t0;
    int r;
    do {
        r = flock(fd, LOCK_EX | LOCK_NB);
    } while (r != 0 && errno == EINTR);
    if (r == 0 || errno != EWOULDBLOCK)
        return r;
    t0 = rl_mono();
    r = rl_flock(fd, LOCK_EX);
    *waited += rl_mono() - t0;
    return r;
}

static int rl_file_begin(rl_t *rl, rl_io *io, int *dirty, off_t *fsize, double *waited)
{
    int attempt;
    *dirty = 0;
    for (attempt = 0; attempt < 3; attempt++) {
        struct stat st;
        int r;
        if (rl->fd >= 0 && rl->pid != getpid()) {
            /* After fork() parent and child would share one open file
             * description, and so one flock: give the child its own. */
            close(rl->fd);
            rl->fd = -1;
        }
        if (rl->fd < 0 && rl_open_file(rl, io) != 0)
            return -1;
        if (rl_lock(rl->fd, waited) != 0) {
            rl_ioerr(io, rl, "cannot lock", errno);
            rl_close_fd(rl);
            return -1;
        }
        if (fstat(rl->fd, &st) != 0) {
            rl_ioerr(io, rl, "cannot stat", errno);
            rl_close_fd(rl);   /* closing drops the lock */
            return -1;
        }
        if (st.st_nlink == 0) {
            /* Removed or replaced since we opened it: use the one at path. */
            rl_close_fd(rl);
            continue;
        }
        if (st.st_nlink > 1) {
            /* a hard link to some other file (ours never has one) */
            rl_refuse(io, rl, "has other hard links");
            rl_close_fd(rl);
            return -1;
        }
        *fsize = st.st_size;
        r = rl_load(rl, io, st.st_size);
        if (r < 0) {
            rl_close_fd(rl);
            return -1;
        }
        if (rl->hdr->cap < rl->calls) {
            /* room for our budget: the history keeps the newest `cap` */
            if (rl_ensure(rl, rl->calls) != 0) {
                rl_ioerr(io, rl, "cannot load", ENOMEM);
                rl_close_fd(rl);
                return -1;
            }
            memset(RL_RECS(rl) + rl->hdr->cap, 0, (size_t)RL_REC * (rl->calls - rl->hdr->cap));
            rl->hdr->cap = rl->calls;
            r = 1;
        }
        *dirty = r;
        return 0;
    }
    io->status = RL_IOERR;
    snprintf(io->msg, sizeof io->msg, "%s keeps being replaced", rl->path);
    return -1;
}

/* Write back (if dirty) and unlock. Returns 0 or -1 (io filled in). */
static int rl_file_end(rl_t *rl, rl_io *io, int dirty, off_t fsize)
{
    int rc = 0;
    if (dirty) {
        size_t put = 0, size = rl_size(rl->hdr->cap);
        rl->hdr->sum = rl_sum(rl);
        while (put < size) {
            ssize_t n = pwrite(rl->fd, (char *)rl->hdr + put, size - put, (off_t)put);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rl_ioerr(io, rl, "cannot write", n < 0 ? errno : EIO);
                rc = -1;
                break;
            }
            put += (size_t)n;
        }
        /* Drop the rest of a longer (reset or migrated) state of ours. */
        if (rc == 0 && fsize > (off_t)size && ftruncate(rl->fd, (off_t)size) != 0) {
            rl_ioerr(io, rl, "cannot truncate", errno);
            rc = -1;
        }
    }
    if (rl_flock(rl->fd, LOCK_UN) != 0 && rc == 0) {
        rl_ioerr(io, rl, "cannot unlock", errno);
        rc = -1;
    }
    if (rc != 0)
        rl_close_fd(rl);   /* also releases the lock in every case */
    return rc;
}

/* ------------------------------------------------------------------ */
/* Lua methods                                                          */

static rl_t *rl_check(lua_State *L)
{
    rl_t *rl = (rl_t *)luaL_checkudata(L, 1, RL_MT);
    if (rl->closed)
        luaL_error(L, "ratelimit is closed");
    return rl;
}

static double rl_check_now(lua_State *L, int arg)
{
    lua_Number now = luaL_checknumber(L, arg);
    if (!isfinite(now))
        luaL_argerror(L, arg, "now must be a finite number");
    return (double)now;
}

/* One locked operation: the state of this limiter, read and clamped. */
typedef struct {
    rl_io io;
    int dirty;
    off_t fsize;
} rl_op;

/* Run the common prologue: lock+read (file) and clamp. Returns 0, or -1
 * when an I/O error was recorded in op->io. The caller's *now was read
 * before waiting for the lock: it is moved on by that wait, so a stale
 * time never stamps the past nor clamps another process's newer stamps. */
static int rl_begin(rl_t *rl, rl_op *op, double *now)
{
    double waited = 0;
    memset(op, 0, sizeof *op);
    if (rl->path != NULL && rl_file_begin(rl, &op->io, &op->dirty, &op->fsize, &waited) != 0)
        return -1;
    *now += waited;
    if (rl_clamp(rl, *now))
        op->dirty = 1;
    return 0;
}

static int rl_end(rl_t *rl, rl_op *op)
{
    if (rl->path != NULL)
        return rl_file_end(rl, &op->io, op->dirty, op->fsize);
    return 0;
}

static int rl_push_ioerr(lua_State *L, const rl_io *io)
{
    lua_pushnil(L);
    lua_pushliteral(L, "STATE_FILE_ERROR");
    lua_pushstring(L, io->msg);
    return 3;
}

/* Push the warning (or nothing); returns the number of values pushed. */
static int rl_push_warning(lua_State *L, const rl_io *io)
{
    if (!io->reset)
        return 0;
    lua_pushliteral(L, RL_CORRUPT_MSG);
    return 1;
}

/* lim:reserve(now) -> true, slot[, warning] | false, wait[, warning]
 *                   | nil, "STATE_FILE_ERROR", message */
static int rl_reserve(lua_State *L)
{
    rl_t *rl = rl_check(L);
    double now = rl_check_now(L, 2);
    rl_op op;
    int ok;
    uint64_t slot = 0;
    double wait = 0;
    if (rl_begin(rl, &op, &now) != 0)
        return rl_push_ioerr(L, &op.io);
    ok = rl_state_reserve(rl, now, &slot, &wait);
    if (ok)
        op.dirty = 1;
    if (rl_end(rl, &op) != 0) {
        if (ok)
            rl_mine_take(rl, slot);
        return rl_push_ioerr(L, &op.io);
    }
    lua_pushboolean(L, ok);
    if (ok)
        lua_pushinteger(L, (lua_Integer)slot);
    else
        lua_pushnumber(L, wait);
    return 2 + rl_push_warning(L, &op.io);
}

/* lim:commit(slot, now) -> true, moved[, warning] | nil, "STATE_FILE_ERROR", message */
static int rl_commit(lua_State *L)
{
    rl_t *rl = rl_check(L);
    lua_Integer slot = 0;
    double now;
    rl_op op;
    int moved;
    if (lua_type(L, 2) != LUA_TNUMBER || !egoi_isinteger(L, 2, &slot)
        || slot < 1 || (double)slot > RL_MAX_ID)
        return luaL_argerror(L, 2, "slot must be a slot number returned by reserve");
    now = rl_check_now(L, 3);
    if (rl_begin(rl, &op, &now) != 0)
        return rl_push_ioerr(L, &op.io);
    moved = rl_state_commit(rl, (uint64_t)slot, now);
    if (moved)
        op.dirty = 1;
    if (rl_end(rl, &op) != 0)
        return rl_push_ioerr(L, &op.io);
    lua_pushboolean(L, 1);
    lua_pushboolean(L, moved);
    return 2 + rl_push_warning(L, &op.io);
}

/* lim:status(now) -> used, remaining, reset_in[, warning] | nil, code, message */
static int rl_status(lua_State *L)
{
    rl_t *rl = rl_check(L);
    double now = rl_check_now(L, 2);
    rl_op op;
    uint32_t used = 0, remaining = 0;
    double reset_in = 0;
    if (rl_begin(rl, &op, &now) != 0)
        return rl_push_ioerr(L, &op.io);
    rl_state_status(rl, now, &used, &remaining, &reset_in);
    if (rl_end(rl, &op) != 0)
        return rl_push_ioerr(L, &op.io);
    lua_pushinteger(L, (lua_Integer)used);
    lua_pushinteger(L, (lua_Integer)remaining);
    lua_pushnumber(L, reset_in);
    return 3 + rl_push_warning(L, &op.io);
}

static int rl_do_block(lua_State *L, rl_t *rl, double now, double seconds)
{
    rl_op op;
    if (rl_begin(rl, &op, &now) != 0)
        return rl_push_ioerr(L, &op.io);
    if (rl_state_block(rl, now, seconds))
        op.dirty = 1;
    if (rl_end(rl, &op) != 0)
        return rl_push_ioerr(L, &op.io);
    lua_pushboolean(L, 1);
    return 1 + rl_push_warning(L, &op.io);
}

/* lim:block(now, seconds) -> true[, warning] | nil, "STATE_FILE_ERROR", message */
static int rl_block(lua_State *L)
{
    rl_t *rl = rl_check(L);
    double now = rl_check_now(L, 2);
    lua_Number s = luaL_checknumber(L, 3);
    if (!isfinite(s) || s < 0 || s > RL_MAX_BLOCK)
        return luaL_argerror(L, 3, "seconds must be a number from 0 to 1e9");
    return rl_do_block(L, rl, now, (double)s);
}

/* lim:fill(now): the server said "too many" and named no time; kept for
 * compatibility: block(now, window). */
static int rl_fill(lua_State *L)
{
    rl_t *rl = rl_check(L);
    double now = rl_check_now(L, 2);
    return rl_do_block(L, rl, now, rl->window);
}

/* close / __gc / __close: idempotent; frees what the userdata owns. */
static int rl_close(lua_State *L)
{
    rl_t *rl = (rl_t *)luaL_checkudata(L, 1, RL_MT);
    rl->closed = 1;
    rl_close_fd(rl);
    free(rl->hdr);
    free(rl->scratch);
    free(rl->mine);
    free(rl->path);
    rl->hdr = NULL;
    rl->scratch = NULL;
    rl->mine = NULL;
    rl->path = NULL;
    rl->bufcap = 0;
    return 0;
}

static int rl_tostring(lua_State *L)
{
    rl_t *rl = (rl_t *)luaL_checkudata(L, 1, RL_MT);
    char buf[96];
    snprintf(buf, sizeof buf, RL_MT " (%lu/%.14gs, %s%s)", (unsigned long)rl->calls,
             rl->window, rl->is_file ? "file" : "memory", rl->closed ? ", closed" : "");
    lua_pushstring(L, buf);
    return 1;
}

/* core.ratelimit{ calls = 150, window = 3600, path = nil } */
static int rl_new(lua_State *L)
{
    lua_Integer calls = 150;
    double window = 3600;
    const char *path = NULL;
    size_t pathlen = 0;
    rl_t *rl;

    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_getfield(L, 1, "calls");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TNUMBER || !egoi_isinteger(L, -1, &calls)
                || calls < 1 || calls > RL_MAX_CALLS)
                return luaL_error(L, "ratelimit: option 'calls' must be an integer from 1 to %d",
                                  RL_MAX_CALLS);
        }
        lua_pop(L, 1);
        lua_getfield(L, 1, "window");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TNUMBER)
                return luaL_error(L, "ratelimit: option 'window' must be a positive number");
            window = (double)lua_tonumber(L, -1);
            if (!(window > 0) || !isfinite(window))
                return luaL_error(L, "ratelimit: option 'window' must be a positive number");
        }
        lua_pop(L, 1);
        lua_getfield(L, 1, "path");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "ratelimit: option 'path' must be a string");
            path = lua_tolstring(L, -1, &pathlen);
            if (pathlen == 0 || strlen(path) != pathlen)
                return luaL_error(L, "ratelimit: option 'path' must be a non-empty file name without NUL bytes");
        }
        /* keep the path string on the stack until it is copied */
    }

    rl = (rl_t *)lua_newuserdata(L, sizeof(rl_t));
    memset(rl, 0, sizeof *rl);
    rl->fd = -1;
    rl->closed = 1;          /* until fully initialised */
    rl->calls = (uint32_t)calls;
    rl->window = window;
    rl->is_file = path != NULL;
    luaL_getmetatable(L, RL_MT);
    lua_setmetatable(L, -2);
    /* From here the userdata owns (and its __gc frees) every buffer. */
    rl->mine = (uint64_t *)calloc((size_t)calls, sizeof(uint64_t));
    if (rl->mine == NULL || rl_ensure(rl, (uint32_t)calls) != 0)
        return luaL_error(L, "ratelimit: out of memory");
    if (path) {
        rl->path = (char *)malloc(pathlen + 1);
        if (rl->path == NULL)
            return luaL_error(L, "ratelimit: out of memory");
        memcpy(rl->path, path, pathlen + 1);
    }
    rl_state_init(rl, (uint32_t)calls);
    rl->closed = 0;
    return 1;
}

void egoi_ratelimit_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"reserve", rl_reserve},
        {"commit", rl_commit},
        {"status", rl_status},
        {"block", rl_block},
        {"fill", rl_fill},
        {"close", rl_close},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"now", rl_now},
        {"sleep", rl_sleep},
        {"key_id", rl_key_id},
        {"user_dir", rl_user_dir},
        {"euid", rl_euid},
        {"ratelimit", rl_new},
        {NULL, NULL}
    };
    egoi_class(L, RL_MT, methods, rl_close, rl_tostring);
    lua_pop(L, 1);
    egoi_setfuncs(L, funcs, 0);
}
