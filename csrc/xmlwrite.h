/*
 * xmlwrite.h - the machinery the two XML request writers share (xmlrpc.c's
 * methodCall, soap.c's envelope): the key path of the value being written,
 * errors that name it, raising byte output into an egoi_buf, escaped text,
 * element open/close, a table's keys sorted as strings.
 * Internal: hidden like everything of egoi.h; no Lua function of its own.
 *
 * Everything here may raise a Lua error, prefixed "<fn>: ". The buffer
 * must be owned by a userdata (egoi_buf_push), so raising leaks nothing;
 * a writer holds no other malloc'd memory.
 */
#ifndef EGOI_XMLWRITE_H
#define EGOI_XMLWRITE_H

#include <stddef.h>

#include "buffer.h"

#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* Table nesting a request may have; deeper is "tables nested deeper than
 * 32 levels (cycle?)". */
#define EGOI_XW_MAX_DEPTH 32

typedef struct {
    const char *s; /* key (anchored on the Lua stack), or NULL for a list position */
    size_t len;
    lua_Integer idx;
} egoi_xw_seg;

typedef struct {
    lua_State *L;
    egoi_buf *b;
    const char *fn;   /* "xmlrpc_request": the prefix of every message */
    const char *root; /* the path while it is empty: "params" */
    int npath;
    egoi_xw_seg path[EGOI_XW_MAX_DEPTH + 2]; /* a key per level, one more for a duplicate */
} egoi_xw;

void egoi_xw_init(egoi_xw *w, lua_State *L, egoi_buf *b, const char *fn, const char *root);

/* The key path: a key or a list position per level entered. */
void egoi_xw_push_key(egoi_xw *w, const char *s, size_t len);
void egoi_xw_push_index(egoi_xw *w, lua_Integer i);
void egoi_xw_pop(egoi_xw *w);

/* Raises "<fn>: <what> at <path>": keys joined by '.', positions as
 * "[i]", each key cut at 64 bytes, bytes outside printable ASCII as \xNN;
 * the root name for an empty path. egoi_xw_failf formats what. */
int egoi_xw_fail(egoi_xw *w, const char *what);
int egoi_xw_failf(egoi_xw *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Before writing a table of nesting level depth (the outermost being 1):
 * refuses depth > EGOI_XW_MAX_DEPTH and makes room on the Lua stack. */
void egoi_xw_nest(egoi_xw *w, int depth);

/* Raw bytes; "<fn>: not enough memory" when the buffer cannot grow. */
void egoi_xw_put(egoi_xw *w, const char *s, size_t n);
void egoi_xw_str(egoi_xw *w, const char *s);
#define egoi_xw_lit(w, s) egoi_xw_put((w), "" s, sizeof(s) - 1)

/* s as XML character data (egoi_buf_add_xml); invalid UTF-8 or a character
 * XML 1.0 cannot carry raises, naming what ("string", "key") and the byte. */
void egoi_xw_text(egoi_xw *w, const char *s, size_t n, const char *what);

/* "<tag" (attributes and ">" or "/>" follow) and "</tag>". */
void egoi_xw_open(egoi_xw *w, const char *tag);
void egoi_xw_close(egoi_xw *w, const char *tag);

/* The n keys (0 < n <= INT_MAX, counted by the caller) of the table at
 * absolute index t, as strings, sorted (egoi_keys_as_strings). Pushes
 * three values (pop them when done); *orig = the index of the table of the
 * original keys: lua_rawgeti(L, *orig, keys[j].slot) pushes key j. Raises
 * on a key that is neither a string nor an integer, a table changed
 * meanwhile, a number key beside the same string key; `what` names a key
 * in those messages ("struct member name", "Map key"). */
egoi_key *egoi_xw_keys(egoi_xw *w, int t, size_t n, const char *what, int *orig);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
