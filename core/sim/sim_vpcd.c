/*
 * vsmartcard's vpcd protocol, card side: the card connects to the vpcd
 * driver inside pcscd (TCP, loopback); every frame is a 2-byte big-endian
 * length and a payload. A 1-byte payload is a control code (00 power off,
 * 01 power on, 02 reset, 04 get ATR: answered with the ATR); anything
 * longer is a command APDU, answered with the response APDU.
 *
 * Latency: TCP_NODELAY is set and every answer (length + payload) leaves in
 * one send(), so Nagle never holds a response of ours. The vpcd driver
 * (vsmartcard 3.3) writes the length and the payload of a command in two
 * send()s without TCP_NODELAY: its payload then waits for our ACK of the
 * length, which Linux delays by ~40 ms. TCP_QUICKACK, re-armed after every
 * read (the kernel clears it), makes us ACK at once: measured median round
 * trip through pcscd 48 ms without it, well under a millisecond with it.
 * Input is bounded by the 16-bit length; partial reads/writes and EINTR are
 * handled; a stop flag is polled every 100 ms.
 */
#include "sim_internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define VPCD_CTRL_OFF 0x00
#define VPCD_CTRL_ON 0x01
#define VPCD_CTRL_RESET 0x02
#define VPCD_CTRL_ATR 0x04
#define VPCD_MAX_FRAME 0xFFFFu
#define POLL_MS 100

enum { IO_OK = 0, IO_CLOSED = 1, IO_STOPPED = 2, IO_ERROR = -1 };

#if defined(__GNUC__)
static int vfail(scb_sim_t *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
static int vfail(scb_sim_t *sim, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sim->errmsg, sizeof(sim->errmsg), fmt, ap);
    va_end(ap);
    return SCB_E_TRANSPORT;
}

static bool stopped(const volatile int *stop)
{
    return stop != NULL && *stop != 0;
}

static void quickack(int fd, bool on)
{
#ifdef TCP_QUICKACK
    int one = 1;
    if (on)
        setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
    (void)fd;
    (void)on;
#endif
}

/* Read exactly n bytes. IO_CLOSED only when the peer closed before the
 * first byte (at a frame boundary when called for a header). */
static int read_full(int fd, uint8_t *buf, size_t n, const volatile int *stop, bool qa)
{
    size_t got = 0;
    while (got < n) {
        if (stopped(stop))
            return IO_STOPPED;
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, POLL_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return IO_ERROR;
        if (pr == 0)
            continue;
        ssize_t r = recv(fd, buf + got, n - got, 0);
        quickack(fd, qa);
        if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (r < 0)
            return IO_ERROR;
        if (r == 0)
            return got == 0 ? IO_CLOSED : IO_ERROR;
        got += (size_t)r;
    }
    return IO_OK;
}

static int write_full(int fd, const uint8_t *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t w = send(fd, buf + put, n - put, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {fd, POLLOUT, 0};
            poll(&p, 1, POLL_MS);
            continue;
        }
        if (w <= 0)
            return IO_ERROR;
        put += (size_t)w;
    }
    return IO_OK;
}

/* frame = 2-byte length || payload, built in place (payload at out + 2) */
static int send_frame(int fd, uint8_t *out, size_t payload_len)
{
    out[0] = (uint8_t)(payload_len >> 8);
    out[1] = (uint8_t)payload_len;
    return write_full(fd, out, payload_len + 2);
}

static int connect_to(scb_sim_t *sim, const char *host, uint16_t port, int *fd_out)
{
    struct addrinfo hints, *res = NULL;
    char service[8];
    int fd = -1, err = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0)
        return vfail(sim, "vpcd %s:%u: %s", host, (unsigned)port, gai_strerror(gai));
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINTR) {
            /* the connection goes on in the background: wait for it */
            struct pollfd p = {fd, POLLOUT, 0};
            socklen_t sl = sizeof(err);
            while (poll(&p, 1, -1) < 0 && errno == EINTR)
                ;
            rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0 ? 0 : -1;
            errno = err;
        }
        if (rc != 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return vfail(sim, "vpcd %s:%u: connect: %s", host, (unsigned)port, strerror(err));
    int one = sim->tcp_nodelay ? 1 : 0;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    quickack(fd, sim->tcp_quickack);
    *fd_out = fd;
    return 0;
}

int scb_sim_serve_vpcd(scb_sim_t *sim, const char *host, uint16_t port, const volatile int *stop)
{
    int fd = -1, rc = 0;
    if (sim == NULL || host == NULL || port == 0)
        return SCB_E_INVALID_ARG;
    sim->errmsg[0] = '\0';
    uint8_t *in = malloc(VPCD_MAX_FRAME);
    uint8_t *out = malloc(2 + SIM_MAX_RESP);
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        return SCB_E_NOMEM;
    }
    rc = connect_to(sim, host, port, &fd);
    while (rc == 0) {
        uint8_t hdr[2];
        int io = read_full(fd, hdr, 2, stop, sim->tcp_quickack);
        if (io == IO_CLOSED || io == IO_STOPPED)
            break;
        if (io == IO_OK) {
            size_t len = (size_t)hdr[0] << 8 | hdr[1];
            io = read_full(fd, in, len, stop, sim->tcp_quickack);
            if (io == IO_STOPPED)
                break;
            if (io == IO_OK && len == 1) {
                switch (in[0]) {
                case VPCD_CTRL_OFF:
                case VPCD_CTRL_ON:
                case VPCD_CTRL_RESET:
                    scb_sim_reset(sim); /* no answer */
                    break;
                case VPCD_CTRL_ATR:
                    io = send_frame(fd, out, scb_sim_atr(sim, out + 2));
                    break;
                default:
                    break; /* unknown control code: ignored */
                }
            } else if (io == IO_OK && len >= 2) {
                size_t n = SIM_MAX_RESP;
                int prc = scb_sim_process(sim, in, len, out + 2, &n);
                if (prc == SCB_E_CARD_REMOVED)
                    break; /* disconnect fault: the card leaves the reader */
                if (prc != 0 || n > VPCD_MAX_FRAME) {
                    out[2] = 0x6F; /* cannot be framed: no precise diagnosis */
                    out[3] = 0x00;
                    n = 2;
                }
                io = send_frame(fd, out, n);
            }
            /* len 0: an empty frame carries nothing to answer */
        }
        if (io == IO_ERROR)
            rc = vfail(sim, "vpcd %s:%u: connection broken: %s", host, (unsigned)port,
                       strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    sim_cleanse(in, VPCD_MAX_FRAME);
    sim_cleanse(out, 2 + SIM_MAX_RESP);
    free(in);
    free(out);
    return rc;
}
