/* bench/curl_floor.c - the C floor for one E-goi REST call: libcurl easy handle, the same
 * form body as client:call("getLists"), the answer collected into a buffer (no parsing).
 *   curl_floor URL N keepalive(0|1)  ->  "cpu_us_per_call calls_per_s" */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct buf { char *p; size_t n, cap; };

static size_t on_data(char *d, size_t sz, size_t nm, void *ud)
{
    struct buf *b = ud;
    size_t len = sz * nm;
    if (b->n + len > b->cap) {
        size_t cap = (b->n + len) * 2;
        char *p = realloc(b->p, cap);
        if (!p) return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, len);
    b->n += len;
    return len;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: curl_floor URL N keepalive\n"); return 2; }
    const char *url = argv[1];
    long n = atol(argv[2]);
    int keep = atoi(argv[3]);
    const char *body = "method=getLists&type=json&functionOptions[apikey]=0123456789abcdef0123456789abcdef01234567";
    struct buf b = { NULL, 0, 0 };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    double c0 = cpu_seconds(), w0 = wall_seconds();
    for (long i = 0; i < n; i++) {
        b.n = 0;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, keep ? 0L : 1L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        CURLcode rc = curl_easy_perform(c);
        long st = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        if (rc != CURLE_OK || st != 200 || b.n == 0) { fprintf(stderr, "call failed: %d %ld\n", rc, st); return 1; }
    }
    double cpu = cpu_seconds() - c0, wall = wall_seconds() - w0;
    printf("%.1f %.0f\n", cpu / n * 1e6, n / wall);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(b.p);
    curl_global_cleanup();
    return 0;
}
