/*
 * t_cxx.cpp - C++ new/delete in their forms; each in its own site function.
 * Sizes are what operator new is asked for (sizeof, or the array size plus
 * the 8-byte cookie for a type with a destructor).
 */
#include <cstdlib>
#include <new>

#define SITE __attribute__((noinline, noclone, used))

void *volatile t_sink;
template <class T> static T *sink(T *p)
{
    t_sink = p;
    __asm__ volatile("" ::: "memory");
    return p;
}

struct Obj {
    char bytes[48];
};
struct Dtor {
    long v;
    ~Dtor() { t_sink = this; }
};
struct alignas(64) Wide {
    char bytes[128];
};

SITE Obj *site_new_obj() { return sink(new Obj()); }
SITE char *site_new_array(std::size_t n) { return sink(new char[n]); }
SITE Dtor *site_new_cookie() { return sink(new Dtor[10]); }
SITE Wide *site_new_aligned() { return sink(new Wide()); }
SITE char *site_new_nothrow() { return sink(new (std::nothrow) char[77]); }

int main()
{
    Obj *o[5];
    for (auto &p : o)
        p = site_new_obj();
    delete o[0];
    delete o[1];

    char *arr[3];
    for (auto &p : arr)
        p = site_new_array(1000);
    delete[] arr[2];

    Dtor *d1 = site_new_cookie();
    Dtor *d2 = site_new_cookie();
    delete[] d1;
    (void)d2;

    Wide *w1 = site_new_aligned();
    site_new_aligned();
    delete w1;

    site_new_nothrow();
    return 0;
}
