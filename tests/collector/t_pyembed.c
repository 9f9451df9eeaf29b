/*
 * t_pyembed.c - a plugin host: loads libpython with dlopen(RTLD_LOCAL) after
 * start-up (as uwsgi loads its python plugin), waits a moment, then runs
 * Python code that keeps 40 bytearrays of 777 bytes made on one line, and
 * leaves with _exit(0) so they are live at the end of the recording.
 *
 * usage: t_pyembed LIBPYTHON
 */
#include <dlfcn.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char code[] = "def embedded():\n"
                           "    return [bytearray(777) for i in range(40)]\n"
                           "keep = embedded()\n";

int main(int argc, char **argv)
{
    struct timespec ts = {0, 200 * 1000000L};
    void *py;
    void (*init)(int);
    int (*run)(const char *);

    if (argc != 2) {
        fprintf(stderr, "usage: t_pyembed LIBPYTHON\n");
        return 2;
    }
    py = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!py) {
        fprintf(stderr, "t_pyembed: %s\n", dlerror());
        return 1;
    }
    init = (void (*)(int))dlsym(py, "Py_InitializeEx");
    run = (int (*)(const char *))dlsym(py, "PyRun_SimpleString");
    if (!init || !run)
        return 1;
    nanosleep(&ts, NULL); /* Python frames start within a tick of the dlopen */
    init(0);
    if (run(code) != 0)
        return 1;
    fflush(stdout);
    _exit(0);
}
