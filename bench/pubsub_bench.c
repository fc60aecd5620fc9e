/* PUBLISH fan-out benchmark (see bench/run_pubsub.sh), for tidekv and redis-server alike:
 *   pubsub_bench PORT SUBSCRIBERS PUBLISHERS PIPELINE SECONDS PAYLOAD-BYTES
 * SUBSCRIBERS connections subscribe to one channel; PUBLISHERS connections publish to it, each
 * keeping PIPELINE PUBLISHes in flight. After a second of warm-up, it counts for SECONDS the
 * messages the subscribers receive and prints "delivered/s <n> published/s <n>". Messages have
 * a fixed size, so the subscribers count bytes instead of parsing. One thread drives every
 * connection (poll), so the client takes one core at most, the same for either server. The
 * publishers wait while the subscribers have more than BACKLOG messages left to read: a server
 * that publishes faster than this client reads would otherwise fill the subscribers' output
 * buffers up to client-output-buffer-limit and have them closed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define CHANNEL "bench-channel"
#define BACKLOG 100000

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Reads exactly n bytes (a reply whose length is known). */
static void read_exactly(int fd, size_t n) {
    char tmp[256];
    while (n > 0) {
        ssize_t r = read(fd, tmp, n < sizeof(tmp) ? n : sizeof(tmp));
        if (r <= 0) die("read");
        n -= (size_t)r;
    }
}

/* Counts the replies (":<n>\r\n" integers) in a chunk of a publisher's input. */
static long long count_lines(const char *p, ssize_t n) {
    long long lines = 0;
    for (ssize_t i = 0; i < n; i++) lines += p[i] == '\n';
    return lines;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s PORT SUBSCRIBERS PUBLISHERS PIPELINE SECONDS PAYLOAD-BYTES\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), nsubs = atoi(argv[2]), npubs = atoi(argv[3]), pipeline = atoi(argv[4]);
    double seconds = atof(argv[5]);
    int payload_len = atoi(argv[6]);
    char *payload = malloc((size_t)payload_len + 1);
    if (!payload) die("malloc");
    memset(payload, 'p', (size_t)payload_len);
    payload[payload_len] = '\0';

    /* The PUBLISH request and the message each subscriber gets for it. */
    char *request = malloc((size_t)payload_len + 128), *message = malloc((size_t)payload_len + 128);
    if (!request || !message) die("malloc");
    int request_len = sprintf(request, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%d\r\n%s\r\n", strlen(CHANNEL), CHANNEL,
                              payload_len, payload);
    int message_len =
        sprintf(message, "*3\r\n$7\r\nmessage\r\n$%zu\r\n%s\r\n$%d\r\n%s\r\n", strlen(CHANNEL), CHANNEL, payload_len, payload);
    char subscribe[128], subscribed[128];
    int subscribe_len = sprintf(subscribe, "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n", strlen(CHANNEL), CHANNEL);
    int subscribed_len = sprintf(subscribed, "*3\r\n$9\r\nsubscribe\r\n$%zu\r\n%s\r\n:1\r\n", strlen(CHANNEL), CHANNEL);

    int n = nsubs + npubs;
    struct pollfd *fds = calloc((size_t)n, sizeof(*fds));
    long long *in_flight = calloc((size_t)n, sizeof(long long));
    if (!fds || !in_flight) die("calloc");
    for (int i = 0; i < nsubs; i++) {
        fds[i].fd = connect_to(port);
        send_all(fds[i].fd, subscribe, (size_t)subscribe_len);
        read_exactly(fds[i].fd, (size_t)subscribed_len);
        fds[i].events = POLLIN;
    }
    char *batch = malloc((size_t)request_len * (size_t)pipeline);
    if (!batch) die("malloc");
    for (int i = 0; i < pipeline; i++) memcpy(batch + (size_t)i * (size_t)request_len, request, (size_t)request_len);
    for (int i = nsubs; i < n; i++) {
        fds[i].fd = connect_to(port);
        fds[i].events = POLLIN;
        send_all(fds[i].fd, batch, (size_t)request_len * (size_t)pipeline);
        in_flight[i] = pipeline;
    }

    static char buf[1 << 16];
    long long received_bytes = 0, published = 0;
    long long all_received_bytes = 0, all_published = 0; /* since the start, for the backlog */
    int *waiting = calloc((size_t)n, sizeof(int));        /* publishers holding their next batch */
    if (!waiting) die("calloc");
    double start = now_s(), counting_from = start + 1.0, end = counting_from + seconds;
    int counting = 0;
    for (double t = start; t < end; t = now_s()) {
        if (!counting && t >= counting_from) {
            counting = 1;
            received_bytes = published = 0;
        }
        if (poll(fds, (nfds_t)n, 100) < 0 && errno != EINTR) die("poll");
        for (int i = 0; i < n; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = read(fds[i].fd, buf, sizeof(buf));
            if (r <= 0) die("read (the server closed a connection)");
            if (i < nsubs) {
                received_bytes += r;
                all_received_bytes += r;
                continue;
            }
            /* A publisher sends its next batch once it has every reply of the last. */
            long long replies = count_lines(buf, r);
            published += replies;
            all_published += replies;
            in_flight[i] -= replies;
            if (in_flight[i] == 0) waiting[i] = 1;
        }
        long long backlog = all_published * nsubs - all_received_bytes / message_len;
        for (int i = nsubs; i < n && backlog < BACKLOG; i++) {
            if (!waiting[i]) continue;
            send_all(fds[i].fd, batch, (size_t)request_len * (size_t)pipeline);
            in_flight[i] = pipeline;
            waiting[i] = 0;
        }
    }
    double elapsed = now_s() - counting_from;
    printf("delivered/s %.0f published/s %.0f\n", (double)received_bytes / message_len / elapsed, published / elapsed);
    for (int i = 0; i < n; i++) close(fds[i].fd);
    free(fds);
    free(in_flight);
    free(waiting);
    free(batch);
    free(request);
    free(message);
    free(payload);
    return 0;
}
