/*
 * The vpcd client against a fake vpcd driver (a listening socket in this
 * test): control codes, ATR, APDUs, frames split into pieces, hostile
 * frames, the stop flag, a disconnect fault and a broken connection.
 */
#include "sim_internal.h"
#include "sim_rig.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct server {
    scb_sim_t *sim;
    uint16_t port;
    volatile int stop;
    int rc;
    pthread_t thread;
} server_t;

static void *serve(void *arg)
{
    server_t *s = arg;
    s->rc = scb_sim_serve_vpcd(s->sim, "127.0.0.1", s->port, &s->stop);
    return NULL;
}

static int listen_any(uint16_t *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        abort();
    *port = ntohs(a.sin_port);
    return fd;
}

static void start(server_t *s, scb_sim_t *sim, uint16_t port)
{
    s->sim = sim;
    s->port = port;
    s->stop = 0;
    s->rc = 1;
    if (pthread_create(&s->thread, NULL, serve, s) != 0)
        abort();
}

static void put(int fd, const char *hex)
{
    uint8_t b[70000];
    size_t n = tk_unhex(hex, b, sizeof(b));
    TK_EQ_INT(send(fd, b, n, 0), (long)n);
}

/* Read one frame; returns payload length or -1 on EOF/timeout. */
static long get(int fd, uint8_t *out, size_t cap)
{
    uint8_t h[2];
    size_t got = 0;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (got < 2) {
        ssize_t r = recv(fd, h + got, 2 - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    size_t n = (size_t)h[0] << 8 | h[1];
    if (n > cap)
        abort();
    for (got = 0; got < n;) {
        ssize_t r = recv(fd, out + got, n - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return (long)n;
}

/* Nothing arrives within 100 ms. */
static bool quiet(int fd)
{
    uint8_t b[4];
    struct timeval tv = {0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return recv(fd, b, sizeof(b), 0) < 0;
}

static void test_protocol(void)
{
    uint16_t port;
    int lfd = listen_any(&port), fd;
    scb_sim_t *sim = NULL;
    server_t s;
    uint8_t buf[70000];
    TK_EQ_RC(scb_sim_new_from_json(&sim, NULL, NULL, 0), SCB_OK);
    start(&s, sim, port);
    fd = accept(lfd, NULL, NULL);
    TK_CHECK(fd >= 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    put(fd, "0001 01"); /* power on: no answer */
    TK_CHECK(quiet(fd));
    put(fd, "0001 04"); /* ATR */
    long n = get(fd, buf, sizeof(buf));
    TK_EQ_HEX(buf, (size_t)n, "3B878131FE458031E073FE211F6E");
    put(fd, "0007 00A4000C023F00");
    n = get(fd, buf, sizeof(buf));
    TK_EQ_HEX(buf, (size_t)n, "9000");
    /* a frame in pieces, and two frames in one segment */
    put(fd, "00");
    nanosleep(&(struct timespec){0, 20000000L}, NULL);
    put(fd, "0500");
    nanosleep(&(struct timespec){0, 20000000L}, NULL);
    put(fd, "70000001");
    n = get(fd, buf, sizeof(buf));
    TK_EQ_HEX(buf, (size_t)n, "019000");
    put(fd, "0004 00A4030C 0007 01A4000C022F00");
    n = get(fd, buf, sizeof(buf));
    TK_EQ_HEX(buf, (size_t)n, "6A82"); /* channel 0 is on the MF */
    n = get(fd, buf, sizeof(buf));
    TK_EQ_HEX(buf, (size_t)n, "9000");
    /* hostile: empty frame, unknown control code, 2-byte and 3-byte APDUs,
     * the largest frame the protocol can carry */
    put(fd, "0000 0001 07");
    TK_CHECK(quiet(fd));
    put(fd, "0002 00A4");
    n = get(fd, buf, sizeof(buf));
    TK_EQ_HEX(buf, (size_t)n, "6700");
    buf[0] = 0xFF;
    buf[1] = 0xFF;
    memset(buf + 2, 0x5A, 0xFFFF);
    TK_EQ_INT(send(fd, buf, 0xFFFF + 2, 0), 0xFFFF + 2);
    n = get(fd, buf, sizeof(buf));
    TK_EQ_HEX(buf, (size_t)n, "6700");
    /* reset from the reader: channel 1 closed again */
    put(fd, "0001 02");
    put(fd, "0007 01A4000C022F00");
    n = get(fd, buf, sizeof(buf));
    TK_EQ_HEX(buf, (size_t)n, "6881");
    /* stop flag */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    s.stop = 1;
    pthread_join(s.thread, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    TK_EQ_RC(s.rc, SCB_OK);
    TK_CHECK(t1.tv_sec - t0.tv_sec < 2);
    close(fd);

    /* the peer closes in the middle of a frame: a broken connection */
    start(&s, sim, port);
    fd = accept(lfd, NULL, NULL);
    put(fd, "0010 00A4");
    close(fd);
    pthread_join(s.thread, NULL);
    TK_EQ_RC(s.rc, SCB_E_TRANSPORT);
    TK_CHECK(strstr(scb_sim_errmsg(sim), "broken") != NULL);
    /* the peer closes between frames: a normal end */
    start(&s, sim, port);
    fd = accept(lfd, NULL, NULL);
    close(fd);
    pthread_join(s.thread, NULL);
    TK_EQ_RC(s.rc, SCB_OK);
    scb_sim_free(&sim);
    close(lfd);

    /* nobody listening */
    TK_EQ_RC(scb_sim_new_from_json(&sim, NULL, NULL, 0), SCB_OK);
    TK_EQ_RC(scb_sim_serve_vpcd(sim, "127.0.0.1", port, NULL), SCB_E_TRANSPORT);
    TK_CHECK(strstr(scb_sim_errmsg(sim), "connect") != NULL);
    TK_EQ_RC(scb_sim_serve_vpcd(sim, "no.such.host.invalid", port, NULL), SCB_E_TRANSPORT);
    TK_EQ_RC(scb_sim_serve_vpcd(sim, "127.0.0.1", 0, NULL), SCB_E_INVALID_ARG);
    scb_sim_free(&sim);
}

static void test_disconnect_fault(void)
{
    uint16_t port;
    int lfd = listen_any(&port);
    scb_sim_t *sim = NULL;
    server_t s;
    uint8_t buf[300];
    TK_EQ_RC(scb_sim_new_from_json(&sim, "{\"faults\": {\"disconnect_after\": 2}}", NULL, 0),
             SCB_OK);
    start(&s, sim, port);
    int fd = accept(lfd, NULL, NULL);
    for (int i = 0; i < 2; i++) {
        put(fd, "0007 00A4000C023F00");
        long n = get(fd, buf, sizeof(buf));
        TK_EQ_HEX(buf, (size_t)n, "9000");
    }
    put(fd, "0007 00A4000C023F00");
    TK_EQ_INT(get(fd, buf, sizeof(buf)), -1); /* the card left */
    pthread_join(s.thread, NULL);
    TK_EQ_RC(s.rc, SCB_OK);
    close(fd);
    /* power on again (what sim_vpcd's reconnect does): the card is back */
    scb_sim_reset(sim);
    start(&s, sim, port);
    fd = accept(lfd, NULL, NULL);
    put(fd, "0007 00A4000C023F00");
    long n = get(fd, buf, sizeof(buf));
    TK_EQ_HEX(buf, (size_t)n, "9000");
    s.stop = 1;
    pthread_join(s.thread, NULL);
    close(fd);
    close(lfd);
    scb_sim_free(&sim);
}

int main(void)
{
    TK_RUN(test_protocol);
    TK_RUN(test_disconnect_fault);
    return tk_done();
}
