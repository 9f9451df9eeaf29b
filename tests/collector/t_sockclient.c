/*
 * t_sockclient.c - connect to a collector socket and report what happened,
 * as one word on stdout: "accepted" (the collector sent bytes within 2 s),
 * "refused-connect" (connect(2) failed: errno follows), "refused-closed"
 * (connected, then closed or reset without a byte) or "silent" (connected,
 * nothing within 2 s).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "t_common.h"

int main(int argc, char **argv)
{
    T_ASSERT(argc == 2);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        printf("refused-connect %s\n", strerror(errno));
        return 0;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 2000) <= 0) {
        printf("silent\n");
        return 0;
    }
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0)
        printf("accepted %zd\n", n);
    else
        printf("refused-closed %s\n", n < 0 ? strerror(errno) : "eof");
    return 0;
}
