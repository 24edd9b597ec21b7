/*
 * Fuzz the modem transport's reading of the modem (core/src/at.c line
 * assembly, final result codes, +CME/+CMS errors, echoes and unsolicited
 * codes, resynchronisation after a timeout; core/src/modem.c +CSIM/+CGLA
 * response parsing, +CCHO session ids and failures; core/src/channel.c
 * choosing between MANAGE CHANNEL and +CCHO) through scb_card_open_at and
 * a handful of APDUs, over an AT channel whose bytes are the fuzz input.
 *
 * Input: mode:1, then chunks the channel's read() returns, each a header
 * byte and maybe bytes:
 *   00        nothing arrived within the wait (the clock moves on)
 *   FF        end of file (the modem went away)      FE  a read error
 *   FD        a read that claims more bytes than asked
 *   FC n ..   n bytes delivered even to a read that does not wait (stale
 *             output already in the port before a command)
 *   n ..      n (1..FB) bytes, for a read that waits
 * A read that does not wait gets nothing unless the next chunk is FC.
 * mode: bits 0-1 channel strategy (auto, CSIM, CGLA), bit 2
 * modem_no_init, bit 3 extended_length, bits 4-7 which APDU script runs
 * (run_script: 1 a channel to the PKCS#15 AID, 2 then SELECT it with FCP
 * on the channel, 4 READ BINARY, 8 a channel without an AID).
 *
 * Time is virtual while the harness runs (clock_gettime is wrapped at link
 * time): an "nothing arrived" chunk moves it by the wait asked, so AT
 * timeouts and the resynchronisation after them cost no real time.
 */
#include "fuzzed_card.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- virtual time ---- */
static _Thread_local bool virtual_time;
static _Thread_local long long offset_ms;

int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
    int rc = __real_clock_gettime(id, ts);
    if (rc == 0 && virtual_time) {
        long long ns = (long long)ts->tv_nsec + (offset_ms % 1000) * 1000000LL;
        ts->tv_sec += (time_t)(offset_ms / 1000 + ns / 1000000000LL);
        ts->tv_nsec = (long)(ns % 1000000000LL);
    }
    return rc;
}

/* ---- the AT channel ---- */
typedef struct {
    const uint8_t *in;
    size_t len, pos;
    size_t written;
} chan_t;

static int ch_write(void *user, const uint8_t *d, size_t n)
{
    chan_t *c = user;
    if (d == NULL && n > 0)
        abort();
    c->written += n;
    return 0;
}

static int ch_read(void *user, uint8_t *buf, size_t cap, int timeout_ms)
{
    chan_t *c = user;
    if (c->pos >= c->len)
        return SCB_E_CARD_REMOVED;
    const uint8_t h = c->in[c->pos];
    if (timeout_ms <= 0 && h != 0xFC)
        return 0;
    c->pos++;
    size_t n;
    switch (h) {
    case 0x00:
        offset_ms += timeout_ms > 0 ? timeout_ms : 1;
        return 0;
    case 0xFF: return SCB_E_CARD_REMOVED;
    case 0xFE: return SCB_E_TRANSPORT;
    case 0xFD: return (int)cap + 1;
    case 0xFC:
        n = c->pos < c->len ? c->in[c->pos++] : 0;
        break;
    default:
        n = h;
        break;
    }
    if (n > c->len - c->pos)
        n = c->len - c->pos;
    if (n > cap)
        n = cap;
    memcpy(buf, c->in + c->pos, n);
    c->pos += n;
    return (int)n;
}

static void apdu(scb_card_t *card, const char *bytes, size_t len)
{
    uint8_t r[300];
    size_t rl = sizeof(r);
    int rc = scb_card_transmit(card, (const uint8_t *)bytes, len, r, &rl);
    fz_check_rc(card, rc);
    if (rc == SCB_OK && (rl < 2 || rl > sizeof(r)))
        abort();
}

static void run_script(scb_card_t *card, unsigned script)
{
    static const uint8_t aid[12] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                    0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};
    uint8_t ch = 0, buf[64];
    size_t len;
    int rc;
    apdu(card, "\x00\xA4\x00\x04\x02\x3F\x00\x00", 8);
    if (script & 1) {
        rc = scb_channel_open_app(card, aid, sizeof(aid), &ch);
        fz_check_rc(card, rc);
        if (rc == SCB_OK && (ch == 0 || ch != scb_card_channel(card)))
            abort();
        if (rc != SCB_OK && ch != 0)
            abort(); /* a failed open names no channel */
        if (rc == SCB_OK && (script & 2))
            fz_check_rc(card, scb_select_aid(card, aid, sizeof(aid), SCB_SEL_FCP, NULL));
    }
    if (script & 4) {
        len = sizeof(buf);
        rc = scb_read_binary(card, 16, buf, &len);
        fz_check_rc(card, rc);
    }
    if (ch != 0 && scb_card_channel(card) == ch)
        fz_check_rc(card, scb_channel_close(card));
    if (script & 8) {
        /* the card's way only: refused without a transmit where the modem
         * opens channels only to an application; left open for free */
        const unsigned long before = scb_card_apdu_count(card);
        rc = scb_channel_open(card, &ch);
        fz_check_rc(card, rc);
        if (rc == SCB_E_UNSUPPORTED && scb_card_apdu_count(card) != before)
            abort();
    }
    if (scb_card_modem_channels(card) < SCB_MODEM_CH_AUTO ||
        scb_card_modem_channels(card) > SCB_MODEM_CH_CGLA || scb_card_modem_cme(card) < -1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t mode = data[0];
    chan_t c = {data + 1, size - 1, 0, 0};
    scb_at_channel_t ch = {SCB_AT_CHANNEL_VERSION, &c, ch_write, ch_read, NULL, NULL, NULL};
    scb_opts_t *o = fz_opts_new();
    fz_opt_int(o, SCB_OPT_MODEM_CHANNELS, (mode & 3) % 3);
    if (mode & 4)
        fz_opt_int(o, SCB_OPT_MODEM_NO_INIT, 1);
    if (mode & 8)
        fz_opt_int(o, SCB_OPT_EXTENDED_LENGTH, 1);
    fz_opt_int(o, SCB_OPT_MODEM_TIMEOUT_MS, 50);
    virtual_time = true;
    offset_ms = 0;
    scb_card_t *card = NULL;
    char detail[256] = "";
    int rc = scb_card_open_at(&card, &ch, o, detail, sizeof(detail));
    scb_opts_free(&o);
    if (rc > 0 || strcmp(scb_error_name(rc), "SCB_E_UNKNOWN") == 0)
        abort();
    if (rc == SCB_OK) {
        fz_trace_install(card, 128);
        run_script(card, mode >> 4);
        scb_card_free(&card);
    } else if (card != NULL || detail[0] == 0) {
        abort(); /* a failed open says why and leaves no handle */
    }
    virtual_time = false;
    return 0;
}
