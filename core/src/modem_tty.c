/*
 * A serial device (USB CDC-ACM / UART / pseudo-terminal) as an AT channel:
 * raw mode, 8N1, CLOCAL, optional RTS/CTS, non-blocking I/O with poll().
 * The line settings found at open are restored at close.
 */
#define _DEFAULT_SOURCE /* glibc: CRTSCTS and the baud rates above 38400 */
#include "at.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

typedef struct tty_chan {
    int fd;
    struct termios saved;
    unsigned write_timeout_ms;
} tty_chan_t;

static bool baud_constant(unsigned baud, speed_t *out)
{
    static const struct {
        unsigned baud;
        speed_t speed;
    } rates[] = {
        {9600, B9600},       {19200, B19200},     {38400, B38400},     {57600, B57600},
        {115200, B115200},   {230400, B230400},   {460800, B460800},   {500000, B500000},
        {576000, B576000},   {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
        {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000},
        {3500000, B3500000}, {4000000, B4000000},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(rates); i++)
        if (rates[i].baud == baud) {
            *out = rates[i].speed;
            return true;
        }
    return false;
}

/* errno of a dead port: the device was unplugged or the other end hung up. */
static bool port_gone(int err)
{
    return err == EIO || err == ENXIO || err == ENODEV || err == EPIPE;
}

static int tty_read(void *user, uint8_t *buf, size_t cap, int timeout_ms)
{
    tty_chan_t *t = user;
    struct pollfd p = {t->fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : SCB_E_TRANSPORT; /* the caller keeps its own deadline */
    if (r == 0)
        return 0;
    if ((p.revents & POLLNVAL) != 0)
        return SCB_E_TRANSPORT;
    ssize_t n = read(t->fd, buf, cap > INT_MAX ? INT_MAX : cap);
    if (n > 0)
        return (int)n;
    if (n == 0)
        return SCB_E_CARD_REMOVED; /* end of file: hang-up */
    if (errno == EAGAIN || errno == EINTR)
        return 0;
    return port_gone(errno) ? SCB_E_CARD_REMOVED : SCB_E_TRANSPORT;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int tty_write(void *user, const uint8_t *data, size_t len)
{
    tty_chan_t *t = user;
    const int64_t deadline = now_ms() + t->write_timeout_ms;
    while (len > 0) {
        ssize_t n = write(t->fd, data, len);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            return port_gone(errno) ? SCB_E_CARD_REMOVED : SCB_E_TRANSPORT;
        /* the output queue is full (flow control): wait for room */
        const int64_t left = deadline - now_ms();
        if (left <= 0)
            return SCB_E_TIMEOUT;
        struct pollfd p = {t->fd, POLLOUT, 0};
        if (poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left) < 0 && errno != EINTR)
            return SCB_E_TRANSPORT;
        if ((p.revents & (POLLERR | POLLHUP)) != 0)
            return SCB_E_CARD_REMOVED;
    }
    return SCB_OK;
}

static void tty_close(void *user)
{
    tty_chan_t *t = user;
    tcsetattr(t->fd, TCSANOW, &t->saved);
#ifdef TIOCNXCL
    ioctl(t->fd, TIOCNXCL);
#endif
    close(t->fd); /* also drops the flock */
    free(t);
}

static int open_errno(const char *device, int err, char *detail, size_t detail_len)
{
    char msg[96] = "";
    if (strerror_r(err, msg, sizeof(msg)) != 0)
        msg[0] = 0;
    switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
        return scb__detail(detail, detail_len, SCB_E_NO_READER,
                           "modem device %s: %s (is the modem attached?)", device, msg);
    case EACCES:
    case EPERM:
        return scb__detail(detail, detail_len, SCB_E_TRANSPORT,
                           "modem device %s: %s (is the user in the device's group, e.g. "
                           "dialout?)", device, msg);
    case EBUSY:
        return scb__detail(detail, detail_len, SCB_E_SHARING,
                           "modem device %s: %s (in exclusive use by another program)", device,
                           msg);
    default:
        return scb__detail(detail, detail_len, SCB_E_TRANSPORT, "modem device %s: %s", device,
                           msg);
    }
}

int scb__tty_channel_open(scb_at_channel_t *out, const char *device, unsigned baud, bool rtscts,
                          unsigned write_timeout_ms, char *detail, size_t detail_len)
{
    speed_t speed;
    if (!baud_constant(baud, &speed))
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG,
                           "baud rate %u is not one the serial driver offers (9600, 19200, "
                           "38400, 57600, 115200, ... 4000000)", baud);
    tty_chan_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return SCB_E_NOMEM;
    t->write_timeout_ms = write_timeout_ms;
    t->fd = open(device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (t->fd < 0) {
        int err = errno;
        free(t);
        return open_errno(device, err, detail, detail_len);
    }
    if (!isatty(t->fd) || tcgetattr(t->fd, &t->saved) != 0) {
        close(t->fd);
        free(t);
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG,
                           "modem device %s is not a serial port (terminal)", device);
    }
    /* One program at a time on the AT port: two interleaving AT dialogues
     * corrupt both. flock is the advisory lock other serial tools honour
     * (and it binds root too); TIOCEXCL makes the kernel refuse further
     * opens by unprivileged programs that do not look for locks. A plugin
     * that shares the port with its owner uses an AT channel callback. */
    if (flock(t->fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(t->fd);
        free(t);
        return open_errno(device, err == EWOULDBLOCK ? EBUSY : err, detail, detail_len);
    }
#ifdef TIOCEXCL
    ioctl(t->fd, TIOCEXCL);
#endif
    struct termios tio = t->saved;
    tio.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
                               IXON | IXOFF | IXANY | INPCK);
    tio.c_oflag &= ~(tcflag_t)OPOST;
    tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS);
    tio.c_cflag |= CS8 | CREAD | CLOCAL | (rtscts ? CRTSCTS : 0);
    tio.c_cc[VMIN] = 0; /* reads never block: poll() waits */
    tio.c_cc[VTIME] = 0;
    if (cfsetispeed(&tio, speed) != 0 || cfsetospeed(&tio, speed) != 0 ||
        tcsetattr(t->fd, TCSANOW, &tio) != 0) {
        int err = errno;
        close(t->fd);
        free(t);
        char msg[96] = "";
        if (strerror_r(err, msg, sizeof(msg)) != 0)
            msg[0] = 0;
        return scb__detail(detail, detail_len, SCB_E_TRANSPORT,
                           "modem device %s: cannot set the line to %u 8N1: %s", device, baud,
                           msg);
    }
    tcflush(t->fd, TCIOFLUSH); /* nothing from before we came is ours */
    memset(out, 0, sizeof(*out));
    out->version = SCB_AT_CHANNEL_VERSION;
    out->user = t;
    out->write = tty_write;
    out->read = tty_read;
    out->close = tty_close;
    return SCB_OK;
}
