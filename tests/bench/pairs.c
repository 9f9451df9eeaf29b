/*
 * pairs.c - the target of tests/bench/hookcost.sh: N malloc/free pairs over
 * a window of 256 blocks, sizes 8 to 1007 bytes from a fixed xorshift seed
 * (the same calls on every run), nothing else.
 *
 * usage: pairs [N]   (default 1000000)
 */
#include <stdint.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    static void *win[256];
    uint64_t r = 88172645463325252ull;

    for (long i = 0; i < n; i++) {
        unsigned s;

        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        s = r & 255;
        free(win[s]);
        win[s] = malloc(8 + (r >> 8) % 1000);
    }
    for (int s = 0; s < 256; s++)
        free(win[s]);
    return 0;
}
