/*
 * The AT command layer: one command line out, lines in until the final
 * result code (ITU-T V.250 5.7, 3GPP TS 27.007 9.2), bounded in time and
 * in line length. Lines are classified, not positioned: an echo of the
 * command, a blank line or an unsolicited result code may come before,
 * between or after the information response, in any number.
 */
#include "at.h"
#include "crypto.h"
#include "internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AT_RX_CHUNK 512
#define AT_DRAIN_MAX_READS 64   /* bytes waiting before a command: at most 64 chunks */
#define AT_QUIET_MS 100         /* resync: the port must be silent this long */

struct scb_at {
    scb_at_channel_t ch;
    unsigned timeout_ms;
    char *line;                 /* the line being assembled, line_cap bytes with the NUL */
    size_t line_cap;
    size_t line_len;
    bool line_long;             /* the current line overflowed: its tail was dropped */
    bool line_done;             /* line holds a complete line: start a new one next */
    uint8_t rx[AT_RX_CHUNK];
    size_t rx_pos, rx_len;
    bool gone;                  /* the channel reported end of file */
    bool desync;                /* a command timed out: its late answer may still come */
    int cme;
    char detail[224];
};

/* 3GPP TS 27.007 9.2.1: the general +CME error numbers a SIM access can
 * meet, to name numeric codes and to number verbose ones (AT+CMEE=2). */
typedef struct {
    int code;
    const char *text;
} cme_entry_t;
static const cme_entry_t cme_table[] = {
    {0, "phone failure"},
    {1, "no connection to phone"},
    {2, "phone-adaptor link reserved"},
    {3, "operation not allowed"},
    {4, "operation not supported"},
    {5, "PH-SIM PIN required"},
    {6, "PH-FSIM PIN required"},
    {7, "PH-FSIM PUK required"},
    {10, "SIM not inserted"},
    {11, "SIM PIN required"},
    {12, "SIM PUK required"},
    {13, "SIM failure"},
    {14, "SIM busy"},
    {15, "SIM wrong"},
    {16, "incorrect password"},
    {17, "SIM PIN2 required"},
    {18, "SIM PUK2 required"},
    {20, "memory full"},
    {21, "invalid index"},
    {22, "not found"},
    {23, "memory failure"},
    {24, "text string too long"},
    {25, "invalid characters in text string"},
    {26, "dial string too long"},
    {27, "invalid characters in dial string"},
    {30, "no network service"},
    {31, "network timeout"},
    {32, "network not allowed - emergency calls only"},
    {50, "incorrect parameters"},
    {100, "unknown"},
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(scb_at_t *at, int rc, const char *fmt, ...) SCB_PRINTF(3, 4);
static int fail(scb_at_t *at, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(at->detail, sizeof(at->detail), fmt, ap);
    va_end(ap);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */
int scb__at_new(scb_at_t **out, const scb_at_channel_t *ch, unsigned timeout_ms,
                size_t line_cap)
{
    *out = NULL;
    scb_at_t *at = calloc(1, sizeof(*at));
    if (at == NULL)
        return SCB_E_NOMEM;
    at->line = malloc(line_cap);
    if (at->line == NULL) {
        free(at);
        return SCB_E_NOMEM;
    }
    at->ch = *ch;
    at->timeout_ms = timeout_ms;
    at->line_cap = line_cap;
    at->cme = -1;
    *out = at;
    return SCB_OK;
}

void scb__at_free(scb_at_t **at, bool close_channel)
{
    if (at == NULL || *at == NULL)
        return;
    scb_at_t *a = *at;
    if (close_channel && a->ch.close != NULL)
        a->ch.close(a->ch.user);
    scb__cleanse(a->line, a->line_cap);
    scb__cleanse(a->rx, sizeof(a->rx));
    free(a->line);
    free(a);
    *at = NULL;
}

const char *scb__at_detail(const scb_at_t *at)
{
    return at->detail;
}

int scb__at_cme(const scb_at_t *at)
{
    return at->cme;
}

bool scb__at_gone(const scb_at_t *at)
{
    return at->gone;
}

int scb__at_begin(scb_at_t *at)
{
    return at->ch.begin != NULL ? at->ch.begin(at->ch.user) : SCB_OK;
}

int scb__at_end(scb_at_t *at)
{
    return at->ch.end != NULL ? at->ch.end(at->ch.user) : SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* Bytes and lines                                                           */
/* ------------------------------------------------------------------------ */
/* A channel's own code, kept when it is one a transport may return. */
static int channel_rc(int rc)
{
    if (rc == SCB_E_CARD_REMOVED || rc == SCB_E_TIMEOUT || rc == SCB_E_NOMEM)
        return rc;
    return SCB_E_TRANSPORT;
}

/* Refill rx, waiting up to wait_ms: 1 bytes came, 0 none, < 0 failure. */
static int fill(scb_at_t *at, int wait_ms, const char *what)
{
    at->rx_pos = at->rx_len = 0;
    int n = at->ch.read(at->ch.user, at->rx, sizeof(at->rx), wait_ms);
    if (n == SCB_E_TIMEOUT)
        return 0; /* a channel may say "nothing in time" this way too */
    if (n < 0) {
        int rc = channel_rc(n);
        if (rc == SCB_E_CARD_REMOVED) {
            at->gone = true;
            return fail(at, rc, "%s: the modem went away (end of file or I/O error on its port)",
                        what);
        }
        return fail(at, rc, "%s: reading from the modem failed (%s)", what, scb_strerror(n));
    }
    if ((size_t)n > sizeof(at->rx))
        return fail(at, SCB_E_TRANSPORT, "%s: the AT channel returned %d bytes for %zu asked",
                    what, n, sizeof(at->rx));
    at->rx_len = (size_t)n;
    return n > 0;
}

static void line_reset(scb_at_t *at)
{
    at->line_len = 0;
    at->line_long = false;
    at->line_done = false;
    at->line[0] = 0;
}

/* The next non-blank line before the deadline into at->line (trailing
 * blanks trimmed). CR and LF both end a line (V.250 S3/S4; modems differ). */
static int next_line(scb_at_t *at, int64_t deadline, const char *what)
{
    if (at->line_done)
        line_reset(at);
    for (;;) {
        while (at->rx_pos < at->rx_len) {
            const uint8_t c = at->rx[at->rx_pos++];
            if (c == '\r' || c == '\n') {
                while (at->line_len > 0 &&
                       (at->line[at->line_len - 1] == ' ' || at->line[at->line_len - 1] == '\t'))
                    at->line_len--;
                if (at->line_len == 0 && !at->line_long)
                    continue;
                at->line[at->line_len] = 0;
                at->line_done = true;
                return SCB_OK;
            }
            if (c == 0)
                continue; /* NULs from a modem that is powering up */
            if (at->line_len + 1 < at->line_cap)
                at->line[at->line_len++] = (char)c;
            else
                at->line_long = true;
        }
        const int64_t left = deadline - now_ms();
        if (left <= 0)
            return fail(at, SCB_E_TIMEOUT, "%s: no final result code within %u ms", what,
                        at->timeout_ms);
        int rc = fill(at, left > INT_MAX ? INT_MAX : (int)left, what);
        if (rc < 0)
            return rc;
    }
}

/* Throw away what arrived before the command: it cannot be its answer. */
static int drain(scb_at_t *at, const char *what)
{
    for (int i = 0; i < AT_DRAIN_MAX_READS; i++) {
        int rc = fill(at, 0, what);
        if (rc <= 0) {
            line_reset(at);
            return rc;
        }
    }
    at->rx_pos = at->rx_len = 0;
    line_reset(at);
    return SCB_OK;
}

static int send_line(scb_at_t *at, const char *cmd, const char *what)
{
    int rc = at->ch.write(at->ch.user, (const uint8_t *)cmd, strlen(cmd));
    if (rc == 0)
        rc = at->ch.write(at->ch.user, (const uint8_t *)"\r", 1);
    if (rc == 0)
        return SCB_OK;
    rc = channel_rc(rc);
    if (rc == SCB_E_CARD_REMOVED) {
        at->gone = true;
        return fail(at, rc, "%s: the modem went away (writing to its port failed)", what);
    }
    if (rc == SCB_E_TIMEOUT)
        return fail(at, rc, "%s: the modem does not take the command within %u ms (flow "
                            "control?)", what, at->timeout_ms);
    return fail(at, rc, "%s: writing to the modem failed (%s)", what, scb_strerror(rc));
}

/* ------------------------------------------------------------------------ */
/* Line classification                                                       */
/* ------------------------------------------------------------------------ */
static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool all_digits(const char *l)
{
    if (*l == 0)
        return false;
    for (; *l; l++)
        if (*l < '0' || *l > '9')
            return false;
    return true;
}

enum final_kind { FINAL_NONE, FINAL_OK, FINAL_ERROR, FINAL_CME, FINAL_CMS };

static int final_kind(const char *l, unsigned flags)
{
    if (strcmp(l, "OK") == 0)
        return FINAL_OK;
    if (strcmp(l, "ERROR") == 0 || strcmp(l, "COMMAND NOT SUPPORT") == 0)
        return FINAL_ERROR; /* the second: some vendors' ERROR for unknown commands */
    if (starts_with(l, "+CME ERROR:"))
        return FINAL_CME;
    if (starts_with(l, "+CMS ERROR:"))
        return FINAL_CMS;
    if ((flags & SCB__AT_NUMERIC_OK) != 0) {
        if (strcmp(l, "0") == 0)
            return FINAL_OK;
        if (strcmp(l, "4") == 0)
            return FINAL_ERROR;
    }
    return FINAL_NONE;
}

/* Printable ASCII copy of modem text for a message (bounded). */
static void sanitize(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 1 < cap; in++)
        out[o++] = (*in >= 0x20 && *in < 0x7F) ? *in : '?';
    out[o] = 0;
}

static bool same_text(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b + 32) : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

static const char *cme_text(int code)
{
    for (size_t i = 0; i < SCB_ARRAY_LEN(cme_table); i++)
        if (cme_table[i].code == code)
            return cme_table[i].text;
    return NULL;
}

/* "+CME ERROR: 13" or "+CME ERROR: SIM failure" (CMEE=1 / CMEE=2). */
static int cme_error(scb_at_t *at, const char *l, const char *what)
{
    const char *p = l + strlen("+CME ERROR:");
    while (*p == ' ')
        p++;
    if (all_digits(p) && strlen(p) <= 5) {
        at->cme = atoi(p);
        const char *t = cme_text(at->cme);
        return fail(at, SCB_E_MODEM_CME, "%s: modem answered +CME ERROR: %d%s%s%s", what,
                    at->cme, t ? " (" : "", t ? t : "", t ? ")" : "");
    }
    char text[72];
    sanitize(p, text, sizeof(text));
    at->cme = -1;
    for (size_t i = 0; i < SCB_ARRAY_LEN(cme_table); i++)
        if (same_text(text, cme_table[i].text))
            at->cme = cme_table[i].code;
    if (at->cme >= 0)
        return fail(at, SCB_E_MODEM_CME, "%s: modem answered +CME ERROR: %s (error %d)", what,
                    text, at->cme);
    return fail(at, SCB_E_MODEM_CME, "%s: modem answered +CME ERROR: %s", what, text);
}

/* "AT+CSIM=10,..." -> "AT+CSIM": the name only, never the arguments. */
static void command_name(const char *cmd, char *out, size_t cap)
{
    size_t o = 0;
    for (; cmd[o] && cmd[o] != '=' && cmd[o] != '?' && o + 1 < cap; o++)
        out[o] = cmd[o];
    out[o] = 0;
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                  */
/* ------------------------------------------------------------------------ */
typedef struct collect {
    const char *prefix;         /* information response prefix, NULL: none expected */
    unsigned flags;
    char *info;
    size_t info_cap;
    const char *what;
    bool resync;                /* answers of an earlier, timed-out command may come first */
} collect_t;

static bool is_info(const char *l, const char *prefix, unsigned flags)
{
    return (prefix != NULL && starts_with(l, prefix)) ||
           ((flags & SCB__AT_BARE_NUMBER) != 0 && all_digits(l));
}

static int collect(scb_at_t *at, int64_t deadline, const collect_t *c)
{
    bool have = false, too_long = false, twice = false, stale = false;
    for (;;) {
        int rc = next_line(at, deadline, c->what);
        if (rc != SCB_OK)
            return rc;
        const char *l = at->line;
        const int kind = at->line_long ? FINAL_NONE : final_kind(l, c->flags);
        if (kind != FINAL_NONE && stale) {
            stale = false; /* the final result of the late information response */
            continue;
        }
        switch (kind) {
        case FINAL_OK:
            if (twice)
                return fail(at, SCB_E_BAD_RESPONSE, "%s: modem sent two %s lines", c->what,
                            c->prefix);
            if (c->prefix != NULL && !have) {
                if (too_long)
                    return fail(at, SCB_E_BAD_RESPONSE,
                                "%s: the %s line is longer than %zu characters", c->what,
                                c->prefix, at->line_cap - 1);
                return fail(at, SCB_E_BAD_RESPONSE, "%s: modem answered OK without a %s line",
                            c->what, c->prefix);
            }
            return SCB_OK;
        case FINAL_ERROR:
            return fail(at, SCB_E_MODEM, "%s: modem answered ERROR", c->what);
        case FINAL_CME:
            return cme_error(at, l, c->what);
        case FINAL_CMS: {
            char text[72];
            sanitize(l + strlen("+CMS ERROR:"), text, sizeof(text));
            return fail(at, SCB_E_MODEM, "%s: modem answered +CMS ERROR:%s", c->what, text);
        }
        default:
            break;
        }
        if (c->resync) {
            /* "AT" has no information response: one here is a late answer,
             * and the final result code after it is late too. */
            if (starts_with(l, "+CSIM:") || starts_with(l, "+CGLA:") ||
                starts_with(l, "+CCHO:") || all_digits(l))
                stale = true;
            continue;
        }
        if (is_info(l, c->prefix, c->flags)) {
            if (at->line_long)
                too_long = true;
            else if (have)
                twice = true;
            else if (at->line_len < c->info_cap) {
                memcpy(c->info, l, at->line_len + 1);
                have = true;
            } else {
                too_long = true;
            }
            continue;
        }
        /* anything else is the echo of the command line or an unsolicited
         * result code: not ours */
    }
}

/* After a timeout: wait for the port to fall silent, then "AT" until its
 * own OK. A late answer still in flight is recognised and skipped. Silence
 * is only the time spent waiting for bytes that did not come: time this
 * thread was not running between two reads proves nothing. */
static int resync(scb_at_t *at, const char *what)
{
    const int64_t deadline = now_ms() + at->timeout_ms;
    int64_t quiet = 0;
    while (quiet < AT_QUIET_MS) {
        if (now_ms() >= deadline)
            return fail(at, SCB_E_TIMEOUT, "%s: the modem keeps talking; cannot resynchronise "
                                           "after the earlier timeout", what);
        const int64_t t0 = now_ms();
        int rc = fill(at, (int)(AT_QUIET_MS - quiet), what);
        if (rc < 0)
            return rc;
        quiet = rc > 0 ? 0 : quiet + (now_ms() - t0);
    }
    at->rx_pos = at->rx_len = 0;
    line_reset(at);
    int rc = send_line(at, "AT", what);
    if (rc != SCB_OK)
        return rc;
    collect_t c = {NULL, 0, NULL, 0, what, true};
    rc = collect(at, now_ms() + at->timeout_ms, &c);
    if (rc != SCB_OK) {
        char inner[sizeof(at->detail)];
        memcpy(inner, at->detail, sizeof(inner));
        return fail(at, rc, "resynchronising after an earlier timeout: %s", inner);
    }
    at->desync = false;
    return SCB_OK;
}

int scb__at_command(scb_at_t *at, const char *cmd, const char *info_prefix, unsigned flags,
                    char *info, size_t info_cap)
{
    char what[24];
    command_name(cmd, what, sizeof(what));
    at->detail[0] = 0;
    at->cme = -1;
    if (at->gone)
        return fail(at, SCB_E_CARD_REMOVED, "%s: the modem went away earlier", what);
    int rc = at->desync ? resync(at, what) : SCB_OK;
    if (rc == SCB_OK)
        rc = drain(at, what);
    if (rc == SCB_OK)
        rc = send_line(at, cmd, what);
    if (rc == SCB_OK) {
        collect_t c = {info_prefix, flags, info, info_cap, what, false};
        rc = collect(at, now_ms() + at->timeout_ms, &c);
    }
    if (rc == SCB_E_TIMEOUT)
        at->desync = true;
    return rc;
}
