/*
 * pad.h - included before t_tools.c (-include) to make a second build of it:
 * this code comes first in .text, so every function of t_tools.c moves to a
 * new address while its file and lines stay the same.
 */
__attribute__((noinline, used)) int pad_a(int x)
{
    volatile int v = x;
    for (int i = 0; i < 100; i++)
        v = v * 31 + i;
    return v;
}

__attribute__((noinline, used)) int pad_b(int x)
{
    volatile int v = x;
    for (int i = 0; i < 200; i++)
        v = v * 17 + pad_a(i);
    return v;
}
