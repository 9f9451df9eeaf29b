/*
 * t_libcdup.c - a program with frame pointers whose allocations are made by
 * libc (strdup, asprintf: code without frame pointers) at call depths 1 to 7:
 * the frame-pointer walk cannot finish these stacks and hands them to the
 * table walk. Exact figures: 100000 strdup of 8 bytes ("s%06d"), 1000 of them
 * kept; 100000 asprintf, each freed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *kept[1000];

__attribute__((noinline)) static char *site_strdup(int i)
{
    char b[16];

    snprintf(b, sizeof(b), "s%06d", i % 1000000);
    return strdup(b);
}

__attribute__((noinline)) static char *site_asprintf(int i)
{
    char *s = NULL;

    if (asprintf(&s, "a%07d", i % 10000000) < 0)
        abort();
    return s;
}

__attribute__((noinline)) static void deep(int d, int i)
{
    if (d > 0) {
        deep(d - 1, i);
        return;
    }
    char *s = site_strdup(i);
    if (i < 1000)
        kept[i] = s;
    else
        free(s);
    free(site_asprintf(i));
}

int main(void)
{
    for (int i = 0; i < 100000; i++)
        deep(i % 7, i);
    printf("%s\n", (char *)kept[999]);
    return 0;
}
