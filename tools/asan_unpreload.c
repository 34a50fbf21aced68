/*
 * asan_unpreload.c - preloaded after the ASan runtime by tools/asan.sh: removes LD_PRELOAD
 * from the environment as the interpreter starts, so the servers the specs start (php -S,
 * python, nginx) run without the sanitizer runtime (php's opcache cannot load under it).
 */
#include <stdlib.h>

__attribute__((constructor)) static void asan_unpreload(void)
{
    unsetenv("LD_PRELOAD");
}
