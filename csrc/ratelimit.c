/*
 * ratelimit.c - exact rolling-window rate limiter for egoi.core.
 *
 *   core.now()                 wall-clock seconds (CLOCK_REALTIME) as a double
 *   core.sleep(seconds)        nanosleep, restarted on EINTR
 *   core.key_id(apikey)        16 lowercase hex chars naming per-key state
 *   core.ratelimit{ calls = 150, window = 3600, path = nil }
 *
 * The limiter records the times of the last `calls` admitted calls in a
 * fixed array of slots. A call is admitted when a slot is empty or when the
 * oldest recorded time is at least `window` seconds old; that slot is then
 * stamped with the caller's `now`. No token bucket: the state is the exact
 * list of times, so no rolling window of length `window` ever holds more
 * than `calls` stamps.
 *
 * The caller passes `now` into every method (the Lua side injects the
 * clock). Recorded times later than `now` (the clock went backwards) are
 * clamped down to `now` and written back, so a backwards jump delays a
 * caller by at most one window.
 *
 * With `path`, the state lives in a host-local file shared by every process
 * that opens it. Each method takes flock(LOCK_EX) on it, reads the whole
 * state, updates it, writes it back with pwrite and unlocks: the lock is
 * never held while the HTTP exchange runs. File layout (host byte order,
 * so the file is meant for one host only):
 *
 *   offset  0  magic   "EGOIRL\0\1"       8 bytes
 *   offset  8  version u32 (1)
 *   offset 12  calls   u32
 *   offset 16  window  double
 *   offset 24  count   u32   slots in use, 0..calls
 *   offset 28  head    u32   ring position, 0..calls-1
 *   offset 32  times   double[calls]
 *
 * While the ring fills, new stamps go to (head + count) % calls. Once it is
 * full, the slot with the smallest (clamped) time is reused, searching from
 * head so that ties go to the oldest ring position, and head moves just past
 * it. A file that does not match this layout for our calls/window is reset
 * to the empty state and the method returns an extra warning string.
 *
 * reserve() hands out slot numbers pos + 1 + calls * n (n counts this
 * object's reservations), so commit() can tell its own outstanding
 * reservation from a later one at the same position; a slot is only
 * meaningful to the object that reserved it. The file descriptor is opened
 * lazily, reopened when the file was removed/replaced (st_nlink == 0) or
 * after fork(), and refused unless it is a regular file.
 *
 * Everything that touches the file runs between lock and unlock without
 * calling into Lua; results are pushed only after the unlock, so no Lua
 * error (not even out-of-memory) can leave the file locked.
 */
#include "egoi.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define RL_MT "egoi.core.ratelimit"
#define RL_MAX_CALLS 100000
#define RL_VERSION 1u
#define RL_HDR 32
#define RL_MAGIC "EGOIRL\0\1"

#define RL_CORRUPT_MSG "rate-limit state file was corrupt and has been reset"

struct rl_hdr {
    char magic[8];
    uint32_t version;
    uint32_t calls;
    double window;
    uint32_t count;
    uint32_t head;
};

/* The on-disk header is exactly 32 bytes with no padding. */
typedef char rl_hdr_is_32_bytes[(sizeof(struct rl_hdr) == RL_HDR) ? 1 : -1];

typedef struct {
    int fd;           /* state file, -1 when not (yet) open */
    int closed;
    uint32_t calls;
    double window;
    size_t size;      /* RL_HDR + 8 * calls */
    struct rl_hdr *hdr; /* state (memory mode) or read buffer (file mode) */
    double *times;    /* == (double *)((char *)hdr + RL_HDR) */
    double *pending;  /* per slot: the stamp this object reserved, NaN if none */
    uint64_t *pending_id; /* per slot: the slot number handed out for it */
    uint64_t seq;     /* reservations made by this object (wraps) */
    char *path;       /* NULL in memory mode */
    pid_t pid;        /* process that opened fd (a forked child reopens) */
} rl_t;

/* Outcome of one locked operation, pushed after the unlock. */
enum { RL_OK = 0, RL_IOERR = 1 };

typedef struct {
    int status;
    int reset;         /* the file was corrupt and has been reset */
    char msg[256];     /* I/O error message */
} rl_io;

/* ------------------------------------------------------------------ */
/* clock, sleep, key_id                                                 */

static int rl_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

static int rl_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    struct timespec req, rem;
    if (!isfinite(s))
        return luaL_argerror(L, 1, "seconds must be a finite number");
    if (s <= 0)
        return 0;
    if (s > 1e9)
        s = 1e9;
    req.tv_sec = (time_t)s;
    req.tv_nsec = (long)((s - (lua_Number)req.tv_sec) * 1e9);
    if (req.tv_nsec >= 1000000000L)
        req.tv_nsec = 999999999L;
    if (req.tv_nsec < 0)
        req.tv_nsec = 0;
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

/* ------------------------------------------------------------------ */
/* ring state (pure computation on rl->hdr / rl->times)                 */

static void rl_state_init(rl_t *rl)
{
    memset(rl->hdr, 0, rl->size);
    memcpy(rl->hdr->magic, RL_MAGIC, 8);
    rl->hdr->version = RL_VERSION;
    rl->hdr->calls = rl->calls;
    rl->hdr->window = rl->window;
    rl->hdr->count = 0;
    rl->hdr->head = 0;
}

/* Does the buffer hold a valid state for this limiter? */
static int rl_state_valid(const rl_t *rl)
{
    const struct rl_hdr *h = rl->hdr;
    uint32_t i;
    if (memcmp(h->magic, RL_MAGIC, 8) != 0 || h->version != RL_VERSION)
        return 0;
    if (h->calls != rl->calls || !(h->window == rl->window))
        return 0;
    if (h->count > rl->calls || h->head >= rl->calls)
        return 0;
    for (i = 0; i < rl->calls; i++)
        if (!isfinite(rl->times[i]))
            return 0;
    return 1;
}

/* Ring position of the i-th recorded stamp (0 = first written). */
static uint32_t rl_pos(const rl_t *rl, uint32_t i)
{
    return (uint32_t)(((uint64_t)rl->hdr->head + i) % rl->calls);
}

/* Clamp recorded times later than now down to now. Returns 1 if any moved. */
static int rl_clamp(rl_t *rl, double now)
{
    uint32_t i;
    int changed = 0;
    for (i = 0; i < rl->hdr->count; i++) {
        uint32_t p = rl_pos(rl, i);
        if (rl->times[p] > now) {
            rl->times[p] = now;
            changed = 1;
        }
    }
    return changed;
}

/* Position of the oldest recorded stamp (ring must be non-empty); ties go
 * to the earliest ring position counted from head. */
static uint32_t rl_oldest(const rl_t *rl)
{
    uint32_t i, best = rl_pos(rl, 0);
    for (i = 1; i < rl->hdr->count; i++) {
        uint32_t p = rl_pos(rl, i);
        if (rl->times[p] < rl->times[best])
            best = p;
    }
    return best;
}

/* Seconds until a stamp at `t` is a full window old, as seen from `now`:
 * the smallest w >= window - (now - t) with (now + w) - t >= window, so a
 * caller that sleeps w and retries with now + w is admitted. */
static double rl_wait_for(const rl_t *rl, double t, double now)
{
    double w = rl->window - (now - t);
    int i;
    if (w < 0)
        return 0;
    /* Rounding: step now + w up one representable value at a time. */
    for (i = 0; i < 64 && (now + w) - t < rl->window; i++) {
        double target = nextafter(now + w, INFINITY);
        double w2 = target - now;
        w = (w2 > w) ? w2 : nextafter(w, INFINITY);
    }
    return w;
}

/* Largest slot number handed out: slot numbers stay exact in a double. */
#define RL_MAX_SLOT 9007199254740992.0

/* Try to admit a call at now. On admission stores the slot number in
 * *slot and returns 1; otherwise stores the wait in *wait and returns 0.
 * Slot numbers are pos + 1 + calls * seq: they name the ring position
 * ((slot - 1) % calls) and, through seq, this particular reservation. */
static int rl_state_reserve(rl_t *rl, double now, uint64_t *slot, double *wait)
{
    struct rl_hdr *h = rl->hdr;
    uint32_t p;
    if (h->count < rl->calls) {
        p = rl_pos(rl, h->count);
        h->count++;
    } else {
        p = rl_oldest(rl);
        if (now - rl->times[p] < rl->window) {
            *wait = rl_wait_for(rl, rl->times[p], now);
            return 0;
        }
        h->head = (p + 1) % rl->calls;
    }
    rl->times[p] = now;
    rl->pending[p] = now;
    if ((double)rl->seq * rl->calls + rl->calls >= RL_MAX_SLOT)
        rl->seq = 0;
    *slot = (uint64_t)p + 1 + (uint64_t)rl->calls * rl->seq;
    rl->seq++;
    rl->pending_id[p] = *slot;
    return 1;
}

/* used, remaining, reset_in as of now (state already clamped). */
static void rl_state_status(const rl_t *rl, double now, uint32_t *used, double *reset_in)
{
    uint32_t i, n = 0;
    for (i = 0; i < rl->hdr->count; i++)
        if (now - rl->times[rl_pos(rl, i)] < rl->window)
            n++;
    *used = n;
    if (n < rl->calls)
        *reset_in = 0;
    else
        *reset_in = rl_wait_for(rl, rl->times[rl_oldest(rl)], now);
}

/* Move the slot forward to now if it still holds this reservation. This
 * object's own later reservations get other slot numbers; a reuse by
 * another process (or a fill) wrote a later stamp than the one we
 * reserved, so "not later than ours" means "still ours" (a stamp clamped
 * down by a backwards clock reading is still ours too). */
static int rl_state_commit(rl_t *rl, uint64_t slot, double now)
{
    uint32_t p = (uint32_t)((slot - 1) % rl->calls);
    double mine = rl->pending[p];
    uint32_t off = (uint32_t)(((uint64_t)p + rl->calls - rl->hdr->head) % rl->calls);
    if (rl->pending_id[p] != slot)
        return 0;          /* not an outstanding reservation of ours */
    rl->pending[p] = NAN;
    rl->pending_id[p] = 0;
    if (off >= rl->hdr->count)
        return 0;          /* the ring was reset since: the slot is empty */
    if (rl->times[p] <= mine && now > rl->times[p]) {
        rl->times[p] = now;
        return 1;
    }
    return 0;
}

static void rl_state_fill(rl_t *rl, double now)
{
    uint32_t i;
    rl->hdr->count = rl->calls;
    rl->hdr->head = 0;
    for (i = 0; i < rl->calls; i++)
        rl->times[i] = now;
}

/* ------------------------------------------------------------------ */
/* state file                                                           */

static void rl_ioerr(rl_io *io, const rl_t *rl, const char *what, int err)
{
    io->status = RL_IOERR;
    snprintf(io->msg, sizeof io->msg, "%s %s: %s", what, rl->path, strerror(err));
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
        snprintf(io->msg, sizeof io->msg, "%s is not a regular file", rl->path);
        close(fd);
        return -1;
    }
    /* The window decides when this process may call: a file another user
     * owns, or one others may write, would let them stall us (e.g. a file
     * planted under /tmp before first use). Refuse it. */
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        io->status = RL_IOERR;
        snprintf(io->msg, sizeof io->msg,
                 "%s is owned by another user or writable by others; refusing to use it", rl->path);
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

/* Lock the file and read the state into rl->hdr. Returns 0 with the lock
 * held, or -1 (io filled in) with no lock held. Sets io->reset and writes
 * a fresh state when the content is not a valid state. */
static int rl_file_begin(rl_t *rl, rl_io *io, int *dirty)
{
    int attempt;
    *dirty = 0;
    for (attempt = 0; attempt < 3; attempt++) {
        struct stat st;
        size_t got = 0;
        if (rl->fd >= 0 && rl->pid != getpid()) {
            /* After fork() parent and child would share one open file
             * description, and so one flock: give the child its own. */
            close(rl->fd);
            rl->fd = -1;
        }
        if (rl->fd < 0 && rl_open_file(rl, io) != 0)
            return -1;
        if (rl_flock(rl->fd, LOCK_EX) != 0) {
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
        while (got < rl->size) {
            ssize_t n = pread(rl->fd, (char *)rl->hdr + got, rl->size - got, (off_t)got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rl_ioerr(io, rl, "cannot read", errno);
                rl_close_fd(rl);
                return -1;
            }
            if (n == 0)
                break;
            got += (size_t)n;
        }
        if (got == 0 && st.st_size == 0) {
            rl_state_init(rl);             /* new file */
            *dirty = 1;
        } else if (got < rl->size || !rl_state_valid(rl)) {
            rl_state_init(rl);
            io->reset = 1;
            *dirty = 1;
        }
        return 0;
    }
    io->status = RL_IOERR;
    snprintf(io->msg, sizeof io->msg, "%s keeps being replaced", rl->path);
    return -1;
}

/* Write back (if dirty) and unlock. Returns 0 or -1 (io filled in). */
static int rl_file_end(rl_t *rl, rl_io *io, int dirty)
{
    int rc = 0;
    if (dirty) {
        size_t put = 0;
        while (put < rl->size) {
            ssize_t n = pwrite(rl->fd, (char *)rl->hdr + put, rl->size - put, (off_t)put);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rl_ioerr(io, rl, "cannot write", n < 0 ? errno : EIO);
                rc = -1;
                break;
            }
            put += (size_t)n;
        }
        if (rc == 0 && io->reset) {
            /* Drop trailing garbage of a corrupt file. */
            struct stat st;
            if (fstat(rl->fd, &st) == 0 && st.st_size > (off_t)rl->size
                && ftruncate(rl->fd, (off_t)rl->size) != 0) {
                rl_ioerr(io, rl, "cannot truncate", errno);
                rc = -1;
            }
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

/* Run the common prologue: lock+read (file) and clamp. Returns 0, or -1
 * when an I/O error was recorded in io. */
static int rl_begin(rl_t *rl, rl_io *io, double now, int *dirty)
{
    memset(io, 0, sizeof *io);
    *dirty = 0;
    if (rl->path != NULL && rl_file_begin(rl, io, dirty) != 0)
        return -1;
    if (rl_clamp(rl, now))
        *dirty = 1;
    return 0;
}

static int rl_end(rl_t *rl, rl_io *io, int dirty)
{
    if (rl->path != NULL)
        return rl_file_end(rl, io, dirty);
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
    rl_io io;
    int dirty, ok;
    uint64_t slot = 0;
    double wait = 0;
    if (rl_begin(rl, &io, now, &dirty) != 0)
        return rl_push_ioerr(L, &io);
    ok = rl_state_reserve(rl, now, &slot, &wait);
    if (ok)
        dirty = 1;
    if (rl_end(rl, &io, dirty) != 0) {
        if (ok) {
            uint32_t p = (uint32_t)((slot - 1) % rl->calls);
            rl->pending[p] = NAN;
            rl->pending_id[p] = 0;
        }
        return rl_push_ioerr(L, &io);
    }
    lua_pushboolean(L, ok);
    if (ok)
        lua_pushinteger(L, (lua_Integer)slot);
    else
        lua_pushnumber(L, wait);
    return 2 + rl_push_warning(L, &io);
}

/* lim:commit(slot, now) -> true, moved[, warning] | nil, "STATE_FILE_ERROR", message */
static int rl_commit(lua_State *L)
{
    rl_t *rl = rl_check(L);
    lua_Integer slot = 0;
    double now;
    rl_io io;
    int dirty, moved;
    if (lua_type(L, 2) != LUA_TNUMBER || !egoi_isinteger(L, 2, &slot)
        || slot < 1 || (double)slot > RL_MAX_SLOT)
        return luaL_argerror(L, 2, "slot must be a slot number returned by reserve");
    now = rl_check_now(L, 3);
    if (rl_begin(rl, &io, now, &dirty) != 0)
        return rl_push_ioerr(L, &io);
    if (io.reset) {
        /* the reservation was wiped with the rest of the corrupt file */
        uint32_t p = (uint32_t)(((uint64_t)slot - 1) % rl->calls);
        if (rl->pending_id[p] == (uint64_t)slot) {
            rl->pending[p] = NAN;
            rl->pending_id[p] = 0;
        }
        moved = 0;
    } else {
        moved = rl_state_commit(rl, (uint64_t)slot, now);
    }
    if (moved)
        dirty = 1;
    if (rl_end(rl, &io, dirty) != 0)
        return rl_push_ioerr(L, &io);
    lua_pushboolean(L, 1);
    lua_pushboolean(L, moved);
    return 2 + rl_push_warning(L, &io);
}

/* lim:status(now) -> used, remaining, reset_in[, warning] | nil, code, message */
static int rl_status(lua_State *L)
{
    rl_t *rl = rl_check(L);
    double now = rl_check_now(L, 2);
    rl_io io;
    int dirty;
    uint32_t used = 0;
    double reset_in = 0;
    if (rl_begin(rl, &io, now, &dirty) != 0)
        return rl_push_ioerr(L, &io);
    rl_state_status(rl, now, &used, &reset_in);
    if (rl_end(rl, &io, dirty) != 0)
        return rl_push_ioerr(L, &io);
    lua_pushinteger(L, (lua_Integer)used);
    lua_pushinteger(L, (lua_Integer)(rl->calls - used));
    lua_pushnumber(L, reset_in);
    return 3 + rl_push_warning(L, &io);
}

/* lim:fill(now) -> true[, warning] | nil, "STATE_FILE_ERROR", message */
static int rl_fill(lua_State *L)
{
    rl_t *rl = rl_check(L);
    double now = rl_check_now(L, 2);
    rl_io io;
    int dirty;
    if (rl_begin(rl, &io, now, &dirty) != 0)
        return rl_push_ioerr(L, &io);
    rl_state_fill(rl, now);
    if (rl_end(rl, &io, 1) != 0)
        return rl_push_ioerr(L, &io);
    lua_pushboolean(L, 1);
    return 1 + rl_push_warning(L, &io);
}

/* close / __gc / __close: idempotent. */
static int rl_close(lua_State *L)
{
    rl_t *rl = (rl_t *)luaL_checkudata(L, 1, RL_MT);
    if (!rl->closed) {
        rl->closed = 1;
        rl_close_fd(rl);
    }
    return 0;
}

static int rl_tostring(lua_State *L)
{
    rl_t *rl = (rl_t *)luaL_checkudata(L, 1, RL_MT);
    char buf[96];
    snprintf(buf, sizeof buf, RL_MT " (%lu/%.14gs, %s%s)", (unsigned long)rl->calls,
             rl->window, rl->path ? "file" : "memory", rl->closed ? ", closed" : "");
    lua_pushstring(L, buf);
    return 1;
}

/* core.ratelimit{ calls = 150, window = 3600, path = nil } */
static int rl_new(lua_State *L)
{
    lua_Integer calls = 150;
    double window = 3600;
    const char *path = NULL;
    size_t pathlen = 0, size, total, i;
    rl_t *rl;
    char *p;

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

    size = RL_HDR + sizeof(double) * (size_t)calls;
    /* rl_t, then the state buffer, pending[], pending_id[], the path. */
    total = sizeof(rl_t) + 7 + size + (sizeof(double) + sizeof(uint64_t)) * (size_t)calls
            + (path ? pathlen + 1 : 0);
    rl = (rl_t *)lua_newuserdata(L, total);
    memset(rl, 0, sizeof *rl);
    rl->fd = -1;
    rl->closed = 1;          /* until fully initialised */
    rl->calls = (uint32_t)calls;
    rl->window = window;
    rl->size = size;
    p = (char *)(rl + 1);
    p += (8 - ((uintptr_t)p & 7)) & 7;   /* 8-byte align the doubles */
    rl->hdr = (struct rl_hdr *)(void *)p;
    rl->times = (double *)(void *)(p + RL_HDR);
    rl->pending = rl->times + calls;
    rl->pending_id = (uint64_t *)(void *)(rl->pending + calls);
    for (i = 0; i < (size_t)calls; i++) {
        rl->pending[i] = NAN;
        rl->pending_id[i] = 0;
    }
    if (path) {
        rl->path = (char *)(rl->pending_id + calls);
        memcpy(rl->path, path, pathlen + 1);
    }
    rl_state_init(rl);
    rl->closed = 0;
    luaL_getmetatable(L, RL_MT);
    lua_setmetatable(L, -2);
    return 1;
}

void egoi_ratelimit_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"reserve", rl_reserve},
        {"commit", rl_commit},
        {"status", rl_status},
        {"fill", rl_fill},
        {"close", rl_close},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"now", rl_now},
        {"sleep", rl_sleep},
        {"key_id", rl_key_id},
        {"ratelimit", rl_new},
        {NULL, NULL}
    };
    egoi_class(L, RL_MT, methods, rl_close, rl_tostring);
    lua_pop(L, 1);
    egoi_setfuncs(L, funcs, 0);
}
