/*
 * buffer.h - the byte buffer, number formatter and key sorter shared by the
 * encoders (encode.c, xmlrpc.c, soap.c) and the transport (transport.c).
 * Internal: hidden like everything of egoi.h.
 *
 * An egoi_buf never raises: every call that may allocate returns 1 on
 * success and 0 when memory is exhausted or a size would overflow (the
 * buffer is then unchanged), so an owner can free what it holds before it
 * raises. A zeroed struct is an empty buffer.
 */
#ifndef EGOI_BUFFER_H
#define EGOI_BUFFER_H

#include <stddef.h>

#include "egoi.h"

#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

typedef struct {
    char *p;    /* NULL while nothing was ever reserved */
    size_t len, cap;
} egoi_buf;

void egoi_buf_init(egoi_buf *b);
void egoi_buf_free(egoi_buf *b); /* back to empty; idempotent */

/* Room for `extra` more bytes; the capacity starts at `first` and doubles
 * but never exceeds `limit` (the caller checked len + extra <= limit). */
int egoi_buf_reserve_within(egoi_buf *b, size_t extra, size_t first, size_t limit);
int egoi_buf_reserve(egoi_buf *b, size_t extra); /* from 256, no limit */
int egoi_buf_add(egoi_buf *b, const char *s, size_t n);
int egoi_buf_addc(egoi_buf *b, char c);
#define egoi_buf_lit(b, s) egoi_buf_add((b), "" s, sizeof(s) - 1)

/* Percent-encoding: bytes whose class (egoi_pct_class) has a bit of
 * `keep` stay raw, others become %XX. */
#define EGOI_PCT_VALUE 1 /* RFC 3986 unreserved: keys and values */
#define EGOI_PCT_NAME 2  /* unreserved plus [ ]: a caller-supplied field name */
int egoi_buf_add_pct(egoi_buf *b, const char *s, size_t n, unsigned keep);

/* XML character data: & < > escaped, CR as &#13; (so it survives line-end
 * normalisation), after checking that s is UTF-8 made of characters XML
 * 1.0 can carry. Returns EGOI_XML_OK, or an error with *at = the offset
 * of the offending byte (the buffer then holds a partial escape). */
enum { EGOI_XML_OK = 0, EGOI_XML_NOMEM, EGOI_XML_BADUTF8, EGOI_XML_BADCHAR };
int egoi_buf_add_xml(egoi_buf *b, const char *s, size_t n, size_t *at);
/* The message for an EGOI_XML_BADUTF8/BADCHAR of egoi_buf_add_xml on s:
 * "invalid UTF-8 in <what> (byte N)" or "control character 0xXX in <what>
 * (byte N) cannot be carried by XML". */
void egoi_xml_text_error(char *msg, size_t cap, int rc, const char *s, size_t at,
                         const char *what);

/* Length of the XML 1.0 character (UTF-8) at s[0] (n > 0 bytes left): 0
 * for invalid UTF-8 (overlong, surrogate, > U+10FFFF, truncated), -1 for
 * a character XML 1.0 forbids (C0 controls but TAB/LF/CR, U+FFFE/U+FFFF). */
int egoi_xml_char_len(const unsigned char *s, size_t n);

/* Another userdata on top of the stack owning an empty egoi_buf, freed by
 * its __gc: memory a caller may hold across Lua calls that can raise. */
egoi_buf *egoi_buf_push(lua_State *L);

/* Numbers as every encoder writes them. EGOI_NUM_MAX bytes suffice. */
#define EGOI_NUM_MAX 32
/* decimal digits, '-' for negatives */
size_t egoi_fmt_integer(char *dst, lua_Integer v);
/* a finite double: the shortest of %.15g/%.16g/%.17g that reads back as
 * d (so an integral float has no ".0"), always with '.' as the decimal
 * point whatever LC_NUMERIC says. The caller refuses NaN and infinities. */
size_t egoi_fmt_float(char *dst, double d);

/* A table key for sorting: an integer (is_int) or the bytes s[0..len);
 * slot is the caller's (where the key is anchored). */
typedef struct {
    const char *s;
    size_t len;
    lua_Integer i;
    int is_int;
    int slot;
} egoi_key;

/* Integer keys first in numeric order, then strings bytewise (a prefix
 * first). 0 means the same key. */
int egoi_key_cmp(const void *a, const void *b);
/* Sorts n keys in egoi_key_cmp order (deterministic bodies). */
void egoi_keys_sort(egoi_key *k, size_t n);

/* For the XML writers, which name every key by its string form: the n
 * (counted by the caller, 0 < n <= INT_MAX) keys of the table at
 * absolute index t as strings (integer keys as decimals), sorted. Pushes
 * three values: a table of those strings (anchoring keys[i].s), a table of
 * the original keys (keys[i].slot indexes it) and the egoi_key array
 * (userdata), stored in *out. May raise a Lua memory error (it owns no
 * malloc'd memory). Returns EGOI_KEYS_OK; EGOI_KEYS_BADTYPE with *info =
 * the key's Lua type (LUA_TNUMBER: a non-integer number); EGOI_KEYS_CHANGED
 * (a __gc finalizer run by an allocation changed the table); EGOI_KEYS_DUP
 * with *info = j, keys[j] equal to keys[j - 1] (a number key beside the
 * same string key). The caller raises on any error. */
enum { EGOI_KEYS_OK = 0, EGOI_KEYS_BADTYPE, EGOI_KEYS_CHANGED, EGOI_KEYS_DUP };
int egoi_keys_as_strings(lua_State *L, int t, size_t n, egoi_key **out, int *info);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
