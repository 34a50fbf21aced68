/*
 * xmlread.h - the expat-driven document reader shared by the XML-RPC
 * (xmlrpc.c) and SOAP (soap.c) answer parsers and the callback reader
 * (core.xml_flat). Internal: hidden like everything of egoi.h.
 *
 * egoi_xr_parse() turns a document into a compact tree in malloc'd arrays
 * owned by a userdata (egoi_xr_push; its __gc frees everything, so a
 * converter may raise a Lua memory error at any point). Expat callbacks
 * never touch the Lua API: they record the first problem and stop the
 * parser. Converters then walk the tree and build Lua values.
 *
 * Guards: the caller's byte limit, an element depth cap (<= 256), at most
 * 4M elements and 1M distinct names (64 MiB of them), namespace URIs of at
 * most 1024 bytes, 1024 namespace declarations in scope,
 * name hashes seeded per document, DOCTYPE and entity declarations refused
 * (no entity is ever expanded, no external entity ever fetched).
 */
#ifndef EGOI_XMLREAD_H
#define EGOI_XMLREAD_H

#if !defined(XML_DTD) && !defined(EGOI_NO_EXPAT_DTD)
/* Debian's (and upstream's default) libexpat is built with XML_DTD; the
 * public header only declares the billion-laughs API when the including
 * code defines it too. Build with -DEGOI_NO_EXPAT_DTD for an expat built
 * without DTD support. */
#define XML_DTD 1
#endif
#include <expat.h>

#include "buffer.h"

#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

#define EGOI_XR_MAX_DEPTH 256     /* element levels */
#define EGOI_XR_MAX_NODES 4000000 /* elements */
#define EGOI_XR_MAX_NAMES 1000000 /* distinct element/attribute/type names */
#define EGOI_XR_MAX_BINDS 1024    /* namespace declarations in scope */
#define EGOI_XR_MAX_NAME_BYTES (64 * 1024 * 1024) /* all distinct names together */
#define EGOI_XR_MAX_URI 1024      /* bytes of one namespace URI */
#define EGOI_XR_SEP '\x01'        /* between namespace URI and local name */

/* egoi_xr_parse flags */
#define EGOI_XR_NS 1 /* namespaces: names are "uri\1local", xsi:type resolved */

/* error codes (egoi_xr_code_name gives the string a caller returns) */
enum { EGOI_XR_NONE, EGOI_XR_MALFORMED, EGOI_XR_DEEP, EGOI_XR_DOCTYPE, EGOI_XR_NOMEM, EGOI_XR_LARGE };

typedef struct {
    int first, next;         /* first child, next sibling; -1 for none */
    int name;                /* interned: "uri\1local" (namespace mode) or the name as written */
    int type;                /* namespace mode: interned resolved xsi:type; -1 none, -2 unresolvable */
    int attr;                /* first attribute, -1 */
    unsigned int toff, tlen; /* leaf text (an element without children) in text */
    unsigned int line : 31;  /* line of the start tag */
    unsigned int mixed : 1;  /* has children and non-whitespace text beside them */
} egoi_xnode;

typedef struct {
    int name, next;
    unsigned int voff, vlen; /* value in text */
} egoi_xattr;

typedef struct {
    unsigned int off, len; /* in names */
} egoi_xname;

typedef struct {
    int prefix; /* interned prefix (-1: the default namespace) */
    int uri;    /* interned uri */
} egoi_xbind;

typedef struct {
    XML_Parser parser; /* only while parsing */
    int flags, max_depth;
    egoi_xnode *nodes;
    size_t nnodes, capnodes;
    egoi_xattr *attrs;
    size_t nattrs, capattrs;
    egoi_buf text;  /* leaf texts and attribute values */
    egoi_buf names; /* interned names, each NUL-terminated */
    egoi_xname *nm;
    size_t nnm, capnm;
    int *hash; /* open addressing over nm, capacity hcap (a power of 2) */
    size_t hcap;
    egoi_xbind *binds;
    size_t nbinds, capbinds;
    egoi_buf tb; /* text of the innermost open element */
    int stack[EGOI_XR_MAX_DEPTH];
    int lastkid[EGOI_XR_MAX_DEPTH]; /* last child of each open element */
    int depth;
    int q_xsi_type;
    size_t seed;
    int err;
    char msg[256];
} egoi_xr;

/* A userdata on top of the stack owning an empty reader (freed by __gc). */
egoi_xr *egoi_xr_push(lua_State *L);
/* Parses body into r: flags (EGOI_XR_NS), at most max bytes, elements
 * nested at most max_depth (<= EGOI_XR_MAX_DEPTH) levels. 0, or -1 with
 * r->err / r->msg set. Never raises. */
int egoi_xr_parse(egoi_xr *r, const char *body, size_t len, size_t max, int flags, int max_depth);

/* Records the first problem (code, printf message); " at line N" of node
 * (>= 0) follows, or " at line N, column M" of the parser's position while
 * parsing. Never raises. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void egoi_xr_fail(egoi_xr *r, int code, int node, const char *fmt, ...);
/* Pushes nil, code, message (3 values). */
int egoi_xr_push_error(lua_State *L, const egoi_xr *r);
const char *egoi_xr_code_name(int code);

/* the id of an interned name, or -1 when the document has no such name */
int egoi_xr_find(const egoi_xr *r, const char *s, size_t n);
const char *egoi_xr_name(const egoi_xr *r, int id, size_t *len);
/* the local part of an interned name (the whole name without namespaces) */
const char *egoi_xr_local(const egoi_xr *r, int id);
/* 1 when interned name id is uri + local (uri NULL: a name without one) */
int egoi_xr_is(const egoi_xr *r, int id, const char *uri, const char *local);
/* the value of attribute `name` (an interned id) of node n, or NULL */
const char *egoi_xr_attr(const egoi_xr *r, int n, int name, size_t *len);
/* the leaf text of node n; when *len > 0 it is the tree's own bytes, which a
 * converter may decode in place (when 0 it may be a constant "": never write) */
char *egoi_xr_text(egoi_xr *r, int n, size_t *len);
/* 1 when the leaf text of n is empty or whitespace and n is not mixed */
int egoi_xr_blank(const egoi_xr *r, int n);
/* a hash of s[0..n) seeded for this document (for converters' tables) */
size_t egoi_xr_hash(const egoi_xr *r, const char *s, size_t n);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
