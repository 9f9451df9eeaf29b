/* stuck.c - a library whose constructor never returns: the thread that
 * dlopens it holds the dynamic loader's lock for good (tests/attach). */
#include <unistd.h>

__attribute__((constructor)) static void stuck_ctor(void)
{
    static const char msg[] = "stuck: in the constructor\n";

    (void)!write(2, msg, sizeof(msg) - 1);
    for (;;)
        pause();
}
