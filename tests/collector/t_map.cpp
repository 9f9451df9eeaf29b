/*
 * t_map.cpp - C++ containers built -O2 -g: libstdc++'s allocator code is
 * inlined into the program's functions, so the machine stack holds one frame
 * where a reader sees seven. Expected at the end (nothing is freed):
 *   main@25 (new map)                     1 x 48 bytes
 *   main@26 (new vector)                  1 x 24 bytes
 *   fill_map@20 (m[i * 7] = i)            1000 x 48 bytes (a node: 32 + pair<int, long>)
 *   main@29 (v->push_back(i), grows 2x)   11 allocations, 4 * (2^11 - 1) = 8188 bytes,
 *                                         the last, 4096 bytes, live
 * Each site is the program's own line; its stack names every inlined level.
 */
#include <map>
#include <vector>

#define SITE __attribute__((noinline, noclone, used))

SITE void fill_map(std::map<int, long> &m, int n)
{
    for (int i = 0; i < n; i++)
        m[i * 7] = i;
}

int main()
{
    std::map<int, long> *m = new std::map<int, long>;
    std::vector<int> *v = new std::vector<int>;
    fill_map(*m, 1000);
    for (int i = 0; i < 1000; i++)
        v->push_back(i);
    return m->size() == 1000 && v->size() == 1000 ? 0 : 1;
}
