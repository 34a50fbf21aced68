/*
 * signals.c - graceful interruption for long jobs (the CLI's import).
 *
 *   core.signals_catch()    install handlers for SIGINT and SIGTERM -> true
 *   core.signals_caught()   "SIGINT" | "SIGTERM" | nil: the first one caught since catch()
 *   core.signals_release()  restore the default dispositions and forget what was caught
 *
 * The first signal only sets a flag that Lua polls at safe points (between rows, after a
 * call has returned and been journaled). A second SIGINT/SIGTERM while the flag is set
 * restores the default disposition and re-raises itself: the process ends at once, as if
 * no handler had been installed (the journal covers that case like a SIGKILL).
 *
 * C reads the flag through egoi_signals_pending() (egoi.h), never Lua: transport.c's
 * progress callback ends a read (an idempotent request) in flight once it is set, and
 * core.sleep(s, true) (ratelimit.c) returns early. A write is never cut: it runs to its
 * end (bounded by its timeout) so that its outcome is known. Without catch() no handler
 * is installed, the flag stays 0 and neither changes anything (nginx, plain scripts).
 *
 * The flag is the one mutable global of the C module, and it has to be: a signal handler
 * receives no pointer to per-state data, and the only object C allows a handler to write
 * is a `volatile sig_atomic_t` with static storage duration. It is process-wide on
 * purpose (signals are), written by the handler and read or cleared by the functions above.
 * SA_RESTART keeps interrupted system calls going; libcurl treats an EINTR from poll()
 * as "no event yet" and calls the progress callback again at once.
 */
#include "egoi.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t caught_signal = 0;

static void on_signal(int sig)
{
    if (caught_signal != 0) {
        /* second signal: abort now. signal() and raise() are async-signal-safe. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    caught_signal = sig;
}

static int set_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = fn == SIG_DFL ? 0 : SA_RESTART;
    return sigaction(sig, &sa, NULL);
}

static int sig_catch(lua_State *L)
{
    caught_signal = 0;
    if (set_handler(SIGINT, on_signal) != 0 || set_handler(SIGTERM, on_signal) != 0) {
        set_handler(SIGINT, SIG_DFL);
        set_handler(SIGTERM, SIG_DFL);
        lua_pushnil(L);
        lua_pushliteral(L, "cannot install signal handlers");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int sig_caught(lua_State *L)
{
    int sig = caught_signal;
    if (sig == SIGINT)
        lua_pushliteral(L, "SIGINT");
    else if (sig == SIGTERM)
        lua_pushliteral(L, "SIGTERM");
    else
        lua_pushnil(L);
    return 1;
}

static int sig_release(lua_State *L)
{
    set_handler(SIGINT, SIG_DFL);
    set_handler(SIGTERM, SIG_DFL);
    caught_signal = 0;
    (void)L;
    return 0;
}

int egoi_signals_pending(void)
{
    return (int)caught_signal;
}

void egoi_signals_open(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"signals_catch", sig_catch},
        {"signals_caught", sig_caught},
        {"signals_release", sig_release},
        {NULL, NULL}
    };
    egoi_setfuncs(L, funcs, 0);
}
