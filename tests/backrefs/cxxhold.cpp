/*
 * cxxhold.cpp - a C++ program (g++ -O2 -g) whose jobs stay alive through a
 * namespace's static vector, as a service's registry keeps them: the chain
 * of the first job is job <- the vector's buffer <- global jobs::g_done.
 * Prints "ready p0=ADDR" (the first job) and sleeps until killed.
 */
#include <cstdio>
#include <unistd.h>
#include <vector>

namespace jobs {
struct Job {
    int id;
    char payload[60];
};

static std::vector<Job *> g_done;

struct Registry {
    __attribute__((noinline)) Job *add(int id)
    {
        Job *j = new Job{id, {}};
        g_done.push_back(j);
        return j;
    }
};
} // namespace jobs

int main()
{
    jobs::Registry r;
    for (int i = 0; i < 8; i++)
        r.add(i);
    std::printf("ready p0=%p\n", (void *)jobs::g_done[0]);
    std::fflush(stdout);
    for (;;)
        pause();
}
