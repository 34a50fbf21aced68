/*
 * errors.c - symbolic names for the libcurl result codes a client meets.
 *
 * egoi_errors_curl_name(code) gives the CURLE_ name without its prefix
 * ("COULDNT_CONNECT", "PARTIAL_FILE", ...), except CURLE_OPERATION_TIMEDOUT
 * which is "TIMEOUT". Codes without a name here come back as "CURL_<n>"
 * from a constant table (no formatting into mutable storage).
 *
 * Lua: core.curl_code_name(n) -> string (used by the specs).
 */
#include <curl/curl.h>

#include "egoi.h"

/* "CURL_0" .. "CURL_129" for codes that have no symbolic name below. */
#define EGOI_DECADE(d) \
    "CURL_" #d "0", "CURL_" #d "1", "CURL_" #d "2", "CURL_" #d "3", "CURL_" #d "4", \
    "CURL_" #d "5", "CURL_" #d "6", "CURL_" #d "7", "CURL_" #d "8", "CURL_" #d "9"

static const char *const numbered_names[] = {
    EGOI_DECADE(), EGOI_DECADE(1), EGOI_DECADE(2), EGOI_DECADE(3),
    EGOI_DECADE(4), EGOI_DECADE(5), EGOI_DECADE(6), EGOI_DECADE(7),
    EGOI_DECADE(8), EGOI_DECADE(9), EGOI_DECADE(10), EGOI_DECADE(11),
    EGOI_DECADE(12)
};

#undef EGOI_DECADE

#define NUMBERED_COUNT ((int)(sizeof numbered_names / sizeof numbered_names[0]))

const char *egoi_errors_curl_name(int curlcode)
{
    switch ((CURLcode)curlcode) {
    case CURLE_OK: return "OK";
    case CURLE_UNSUPPORTED_PROTOCOL: return "UNSUPPORTED_PROTOCOL";
    case CURLE_FAILED_INIT: return "FAILED_INIT";
    case CURLE_URL_MALFORMAT: return "URL_MALFORMAT";
    case CURLE_NOT_BUILT_IN: return "NOT_BUILT_IN";
    case CURLE_COULDNT_RESOLVE_PROXY: return "COULDNT_RESOLVE_PROXY";
    case CURLE_COULDNT_RESOLVE_HOST: return "COULDNT_RESOLVE_HOST";
    case CURLE_COULDNT_CONNECT: return "COULDNT_CONNECT";
    case CURLE_WEIRD_SERVER_REPLY: return "WEIRD_SERVER_REPLY";
    case CURLE_HTTP2: return "HTTP2";
    case CURLE_PARTIAL_FILE: return "PARTIAL_FILE";
    case CURLE_HTTP_RETURNED_ERROR: return "HTTP_RETURNED_ERROR";
    case CURLE_WRITE_ERROR: return "WRITE_ERROR";
    case CURLE_UPLOAD_FAILED: return "UPLOAD_FAILED";
    case CURLE_READ_ERROR: return "READ_ERROR";
    case CURLE_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case CURLE_OPERATION_TIMEDOUT: return "TIMEOUT";
    case CURLE_HTTP_POST_ERROR: return "HTTP_POST_ERROR";
    case CURLE_SSL_CONNECT_ERROR: return "SSL_CONNECT_ERROR";
    case CURLE_ABORTED_BY_CALLBACK: return "ABORTED_BY_CALLBACK";
    case CURLE_BAD_FUNCTION_ARGUMENT: return "BAD_FUNCTION_ARGUMENT";
    case CURLE_INTERFACE_FAILED: return "INTERFACE_FAILED";
    case CURLE_TOO_MANY_REDIRECTS: return "TOO_MANY_REDIRECTS";
    case CURLE_UNKNOWN_OPTION: return "UNKNOWN_OPTION";
    case CURLE_GOT_NOTHING: return "GOT_NOTHING";
    case CURLE_SSL_ENGINE_NOTFOUND: return "SSL_ENGINE_NOTFOUND";
    case CURLE_SSL_ENGINE_SETFAILED: return "SSL_ENGINE_SETFAILED";
    case CURLE_SEND_ERROR: return "SEND_ERROR";
    case CURLE_RECV_ERROR: return "RECV_ERROR";
    case CURLE_SSL_CERTPROBLEM: return "SSL_CERTPROBLEM";
    case CURLE_SSL_CIPHER: return "SSL_CIPHER";
    case CURLE_PEER_FAILED_VERIFICATION: return "PEER_FAILED_VERIFICATION";
    case CURLE_BAD_CONTENT_ENCODING: return "BAD_CONTENT_ENCODING";
    case CURLE_FILESIZE_EXCEEDED: return "FILESIZE_EXCEEDED";
    case CURLE_SEND_FAIL_REWIND: return "SEND_FAIL_REWIND";
    case CURLE_SSL_ENGINE_INITFAILED: return "SSL_ENGINE_INITFAILED";
    case CURLE_LOGIN_DENIED: return "LOGIN_DENIED";
    case CURLE_SSL_CACERT_BADFILE: return "SSL_CACERT_BADFILE";
    case CURLE_SSL_SHUTDOWN_FAILED: return "SSL_SHUTDOWN_FAILED";
    case CURLE_AGAIN: return "AGAIN";
    case CURLE_SSL_CRL_BADFILE: return "SSL_CRL_BADFILE";
    case CURLE_SSL_ISSUER_ERROR: return "SSL_ISSUER_ERROR";
    case CURLE_CHUNK_FAILED: return "CHUNK_FAILED";
    case CURLE_NO_CONNECTION_AVAILABLE: return "NO_CONNECTION_AVAILABLE";
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH: return "SSL_PINNEDPUBKEYNOTMATCH";
    case CURLE_SSL_INVALIDCERTSTATUS: return "SSL_INVALIDCERTSTATUS";
    case CURLE_HTTP2_STREAM: return "HTTP2_STREAM";
    case CURLE_RECURSIVE_API_CALL: return "RECURSIVE_API_CALL";
#if LIBCURL_VERSION_NUM >= 0x073d00 /* 7.61.0 */
    case CURLE_AUTH_ERROR: return "AUTH_ERROR";
#endif
#if LIBCURL_VERSION_NUM >= 0x074500 /* 7.69.0 */
    case CURLE_HTTP3: return "HTTP3";
    case CURLE_QUIC_CONNECT_ERROR: return "QUIC_CONNECT_ERROR";
#endif
#if LIBCURL_VERSION_NUM >= 0x074900 /* 7.73.0 */
    case CURLE_PROXY: return "PROXY";
#endif
#if LIBCURL_VERSION_NUM >= 0x074d00 /* 7.77.0 */
    case CURLE_SSL_CLIENTCERT: return "SSL_CLIENTCERT";
#endif
#if LIBCURL_VERSION_NUM >= 0x075400 /* 7.84.0 */
    case CURLE_UNRECOVERABLE_POLL: return "UNRECOVERABLE_POLL";
#endif
    default:
        break;
    }
    if (curlcode >= 0 && curlcode < NUMBERED_COUNT)
        return numbered_names[curlcode];
    return "CURL_UNKNOWN";
}

/* core.curl_code_name(n) -> "COULDNT_CONNECT" | ... | "CURL_<n>" */
static int l_curl_code_name(lua_State *L)
{
    lua_Integer n;
    luaL_checknumber(L, 1);
    if (!egoi_isinteger(L, 1, &n))
        return luaL_argerror(L, 1, "integer expected");
    if (n < 0 || n > 1000000)
        lua_pushliteral(L, "CURL_UNKNOWN");
    else
        lua_pushstring(L, egoi_errors_curl_name((int)n));
    return 1;
}

static const luaL_Reg error_funcs[] = {
    { "curl_code_name", l_curl_code_name },
    { NULL, NULL }
};

void egoi_errors_open(lua_State *L)
{
    egoi_setfuncs(L, error_funcs, 0);
}
