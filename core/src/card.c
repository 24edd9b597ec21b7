/*
 * The card handle and the single transmit path.
 *
 *   scb__transmit: plain APDU -> [SM wrap] -> channel CLA -> encode
 *                  -> scb__wire (+ 61xx GET RESPONSE / 6Cxx resend)
 *                  -> [SM unwrap] -> plain response
 *   scb__wire:     trace, count, transport, transport errors
 *
 * Everything the library sends goes through here, so tracing, counting,
 * fault handling and the secure channel each live in exactly one place.
 */
#include "crypto.h"
#include "internal.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Handle lifecycle                                                          */
/* ------------------------------------------------------------------------ */
int scb_card_open_transport(scb_card_t **out, const scb_transport_t *tp)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (tp == NULL || (tp->version != 1 && tp->version != SCB_TRANSPORT_VERSION) ||
        tp->transmit == NULL)
        return SCB_E_INVALID_ARG;
    /* A version-1 struct ends at close: read no further. */
    scb_transport_t t = {0};
    memcpy(&t, tp, tp->version == 1 ? offsetof(scb_transport_t, channel_open) : sizeof(t));
    const int chan_ops = (t.channel_open != NULL) + (t.channel_transmit != NULL) +
                         (t.channel_close != NULL);
    if (chan_ops != 0 && chan_ops != 3)
        return SCB_E_INVALID_ARG;
    scb_card_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SCB_E_NOMEM;
    c->cmdbuf = malloc(SCB__CMD_MAX);
    c->smbuf = malloc(SCB__CMD_MAX);
    c->rbuf = malloc(SCB__RESP_MAX);
    if (c->cmdbuf == NULL || c->smbuf == NULL || c->rbuf == NULL) {
        free(c->cmdbuf);
        free(c->smbuf);
        free(c->rbuf);
        free(c);
        return SCB_E_NOMEM;
    }
    c->tp = t;
    c->timeout_ms = SCB_DEFAULT_TIMEOUT_MS;
    *out = c;
    return SCB_OK;
}

void scb_card_free(scb_card_t **card)
{
    if (card == NULL || *card == NULL)
        return;
    scb_card_t *c = *card;
    scb__sm_close(c);
    /* Channels left open would stay open on the card (and in a modem) until
     * its next reset: close them (best effort; the transport may be gone). */
    if (scb__channels_left(c) && scb__begin(c) == SCB_OK) {
        scb__channels_close_all(c);
        scb__end(c);
    }
    if (c->tp.close != NULL)
        c->tp.close(c->tp.user);
    /* The work buffers held wrapped and plain APDUs: wipe them. */
    scb__cleanse(c->cmdbuf, SCB__CMD_MAX);
    scb__cleanse(c->smbuf, SCB__CMD_MAX);
    scb__cleanse(c->rbuf, SCB__RESP_MAX);
    free(c->cmdbuf);
    free(c->smbuf);
    free(c->rbuf);
    scb__cleanse(c, sizeof(*c));
    free(c);
    *card = NULL;
}

const char *scb_card_errmsg(const scb_card_t *card)
{
    return card != NULL ? card->errmsg : "";
}

uint16_t scb_card_last_sw(const scb_card_t *card)
{
    return card != NULL ? card->last_sw : 0;
}

unsigned long scb_card_apdu_count(const scb_card_t *card)
{
    return card != NULL ? card->apdu_count : 0;
}

const char *scb_card_reader_name(const scb_card_t *card)
{
    return card != NULL ? card->reader_name : NULL;
}

uint8_t scb_card_channel(const scb_card_t *card)
{
    return card != NULL ? card->channel : 0;
}

int scb_card_set_trace(scb_card_t *card, const scb_trace_t *trace)
{
    SCB__ENTER(card);
    if (trace == NULL) {
        card->has_trace = false;
        memset(&card->trace, 0, sizeof(card->trace));
        return SCB_OK;
    }
    if (trace->version != SCB_TRACE_VERSION || trace->event == NULL)
        return SCB_E_INVALID_ARG;
    card->trace = *trace;
    card->has_trace = true;
    return SCB_OK;
}

int scb_card_set_rng(scb_card_t *card, scb_rng_fn fn, void *user)
{
    SCB__ENTER(card);
    card->rng = fn;
    card->rng_user = user;
    return SCB_OK;
}

int scb__random(scb_card_t *card, uint8_t *buf, size_t len)
{
    if (card->rng != NULL) {
        int rc = card->rng(card->rng_user, buf, len);
        return rc == 0 ? SCB_OK : scb__fail(card, SCB_E_CRYPTO, "random source failed");
    }
    int rc = scb__rand_bytes(buf, len);
    return rc == SCB_OK ? SCB_OK : scb__fail(card, rc, "OpenSSL RAND_bytes failed");
}

/* ------------------------------------------------------------------------ */
/* Errors and trace                                                          */
/* ------------------------------------------------------------------------ */
int scb__fail(scb_card_t *card, int rc, const char *fmt, ...)
{
    if (card != NULL && fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(card->errmsg, sizeof(card->errmsg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

void scb__clear_error(scb_card_t *card)
{
    card->errmsg[0] = 0;
}

void scb__trace(scb_card_t *card, int kind, const uint8_t *data, size_t len, bool masked)
{
    if (!card->has_trace)
        return;
    scb_trace_event_t ev = {0};
    ev.kind = kind;
    ev.len = len;
    ev.full_len = len;
    ev.masked = masked;
    /* A masked event keeps what is not secret: the header of a command,
     * the status word of a response. */
    if (!masked) {
        ev.data = data;
    } else if (kind == SCB_TRACE_WIRE_CMD || kind == SCB_TRACE_PLAIN_CMD) {
        ev.data = data;
        ev.len = len < 5 ? len : 5;
    } else {
        ev.data = len >= 2 ? data + len - 2 : data;
        ev.len = len >= 2 ? 2 : 0;
    }
    card->trace.event(card->trace.user, &ev);
}

void scb__note(scb_card_t *card, const char *fmt, ...)
{
    if (!card->has_trace)
        return;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    scb_trace_event_t ev = {0};
    ev.kind = SCB_TRACE_NOTE;
    ev.text = text;
    card->trace.event(card->trace.user, &ev);
}

int scb__sw_error(scb_card_t *card, uint16_t sw, const char *what)
{
    int rc;
    switch (sw) {
    case 0x6A82:
    case 0x6A88:
    case 0x6A83:
        rc = SCB_E_NOT_FOUND;
        break;
    case 0x6982:
        rc = SCB_E_SECURITY_STATUS;
        break;
    case 0x6700:
        rc = SCB_E_WRONG_LENGTH;
        break;
    case 0x6881:
        rc = SCB_E_NO_CHANNEL;
        break;
    case 0x6983:
        rc = SCB_E_PIN_WRONG;
        break;
    default:
        rc = (sw & 0xFFF0) == 0x63C0 ? SCB_E_PIN_WRONG : SCB_E_STATUS;
        break;
    }
    /* With a session in force, 6982 means the file's access rule asks more
     * than the session's level (ISO 7816-4 security attributes). */
    const int level = scb__sm_level(card);
    if (sw == 0x6982 && level >= 0)
        return scb__fail(card, rc, "%s: card answered 6982 (security status not satisfied): "
                         "the card's access rule asks more than the session's level 0x%02X",
                         what, (unsigned)level);
    return scb__fail(card, rc, "%s: card answered %04X (%s)", what, sw, scb_sw_text(sw));
}

/* ------------------------------------------------------------------------ */
/* The wire                                                                  */
/* ------------------------------------------------------------------------ */
/* A transport reports its own failures (transport codes; the modem
 * transport adds a malformed +CSIM line and what it cannot carry). Anything
 * else it returns - a positive value, "buffer too small" (which would tell
 * the caller to grow a buffer that was big enough), a card's or the secure
 * channel's verdict - is a transport failure. */
static int transport_code(int rc)
{
    if (scb_error_family(rc) == SCB_FAMILY_TRANSPORT || rc == SCB_E_BAD_RESPONSE ||
        rc == SCB_E_NOMEM || rc == SCB_E_INVALID_ARG || rc == SCB_E_UNSUPPORTED ||
        rc == SCB_E_INTERNAL)
        return rc;
    return SCB_E_TRANSPORT;
}

int scb__wire(scb_card_t *card, const uint8_t *cmd, size_t cmd_len, bool mask_cmd,
              uint8_t *resp, size_t *resp_len, bool mask_resp)
{
    const char *step = cmd_len >= 2 ? scb__ins_name(cmd[1]) : NULL;
    if (card->timeout_ms != 0 && scb__remaining_ms(card) == 0) {
        /* the operation's time is up: the next command would outlive it */
        *resp_len = 0;
        return scb__fail(card, SCB_E_TIMEOUT, "%s: not sent: the operation took longer than %u "
                         "ms (the card answers too slowly?)", step != NULL ? step : "command",
                         card->timeout_ms);
    }
    scb__trace(card, SCB_TRACE_WIRE_CMD, cmd, cmd_len, mask_cmd);
    const size_t cap = *resp_len;
    size_t n = cap;
    /* On a channel the transport opened, the command goes to that channel
     * as it is (the transport puts it on the channel). */
    const scb__tp_channel_t *tc = scb__tp_channel(card);
    int rc = tc != NULL ? card->tp.channel_transmit(card->tp.user, tc->session, cmd, cmd_len,
                                                    resp, &n)
                        : card->tp.transmit(card->tp.user, cmd, cmd_len, resp, &n);
    card->apdu_count++;
    if (rc != 0) {
        rc = transport_code(rc);
        if (rc == SCB_E_CARD_RESET || rc == SCB_E_CARD_REMOVED) {
            /* The card lost all volatile state: sessions and channels. */
            scb__sm_abort(card);
            scb__channels_lost(card);
        }
        *resp_len = 0;
        /* name the step the failure interrupted */
        char what[48];
        if (step != NULL)
            snprintf(what, sizeof(what), "%s", step);
        else
            snprintf(what, sizeof(what), "command %02X", cmd_len >= 2 ? cmd[1] : 0);
        const char *hint = rc == SCB_E_CARD_REMOVED ? " (the card went away)" : "";
        if (card->tp_detail != NULL && card->tp_detail[0] != 0)
            return scb__fail(card, rc, "%s: %s%s", what, card->tp_detail, hint);
        return scb__fail(card, rc, "%s: %s%s", what, scb_strerror(rc), hint);
    }
    if (n > cap)
        return scb__fail(card, SCB_E_BAD_RESPONSE, "transport returned more than the buffer");
    if (n < 2) {
        *resp_len = 0;
        return scb__fail(card, SCB_E_BAD_RESPONSE,
                         "response of %zu byte(s): no status word", n);
    }
    *resp_len = n;
    scb__trace(card, SCB_TRACE_WIRE_RESP, resp, n, mask_resp);
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* Secure-messaging plumbing                                                 */
/* ------------------------------------------------------------------------ */
void scb__sm_install(scb_card_t *card, const scb_sm_ops_t *ops, void *state)
{
    scb__sm_close(card);
    card->sm = ops;
    card->sm_state = state;
    card->sm_channel = card->channel;
    card->sm_broken = false;
}

static void sm_destroy(scb_card_t *card)
{
    if (card->sm != NULL && card->sm_state != NULL)
        card->sm->destroy(card->sm_state);
    card->sm = NULL;
    card->sm_state = NULL;
}

void scb__sm_abort(scb_card_t *card)
{
    if (card->sm_state != NULL) {
        sm_destroy(card);
        card->sm_broken = true;
        scb__note(card, "secure channel closed after a failure; session keys wiped");
    }
}

void scb__sm_close(scb_card_t *card)
{
    sm_destroy(card);
    card->sm_broken = false;
}

static bool sm_active(const scb_card_t *card)
{
    return card->sm_state != NULL && card->sm_channel == card->channel;
}

int scb__sm_level(const scb_card_t *card)
{
    return sm_active(card) ? card->sm->level(card->sm_state) : -1;
}

size_t scb__max_read_chunk(const scb_card_t *card)
{
    if (sm_active(card))
        return card->sm->max_plain_resp(card->sm_state);
    return (card->tp.flags & SCB_TP_EXTENDED_LENGTH) ? 4096 : 256;
}

size_t scb__max_write_chunk(const scb_card_t *card)
{
    if (sm_active(card))
        return card->sm->max_plain_cmd(card->sm_state);
    return (card->tp.flags & SCB_TP_EXTENDED_LENGTH) ? 4096 : 255;
}

/* ------------------------------------------------------------------------ */
/* The APDU engine                                                           */
/* ------------------------------------------------------------------------ */

/* Send the encoded command in card->cmdbuf; collect the full response
 * (data + final SW) in card->rbuf, following 61xx and 6Cxx. */
static int exchange(scb_card_t *card, scb_apdu_t *w, size_t *rlen, bool mask_cmd,
                    bool mask_resp, bool resend_6c)
{
    size_t clen = SCB__CMD_MAX;
    int rc = scb__apdu_encode(w, card->cmdbuf, &clen);
    if (rc != SCB_OK)
        return scb__fail(card, rc, "cannot encode the command APDU");

    size_t n = SCB__RESP_MAX;
    rc = scb__wire(card, card->cmdbuf, clen, mask_cmd, card->rbuf, &n, mask_resp);
    if (rc != SCB_OK)
        return rc;

    /* 6Cxx: wrong Le, resend with Le = xx (ISO 7816-4 5.1.3, TS 102 221
     * 7.3.1.1.5). Here only when the command goes out as it is: in clear,
     * or on T=0, where 6Cxx is the transmission protocol's answer and the
     * card's application never saw the command (resent unchanged but Le). */
    for (int resend = 0; resend_6c && card->rbuf[n - 2] == 0x6C; resend++) {
        if (resend >= SCB__MAX_6C_RESENDS)
            return scb__fail(card, SCB_E_GET_RESPONSE_LIMIT,
                             "card keeps answering 6Cxx after %d resends", resend);
        uint8_t xx = card->rbuf[n - 1];
        w->has_le = true;
        w->ne = xx == 0 ? 256 : xx;
        w->extended = false;
        clen = SCB__CMD_MAX;
        rc = scb__apdu_encode(w, card->cmdbuf, &clen);
        if (rc != SCB_OK)
            return scb__fail(card, rc, "cannot encode the resent APDU");
        n = SCB__RESP_MAX;
        rc = scb__wire(card, card->cmdbuf, clen, mask_cmd, card->rbuf, &n, mask_resp);
        if (rc != SCB_OK)
            return rc;
    }

    /* 61xx: more data, fetch with GET RESPONSE on the same channel, in
     * clear (T=0 transport level, below secure messaging). */
    size_t have = n - 2;
    int rounds = 0;
    while (card->rbuf[have] == 0x61) {
        if (++rounds > SCB__MAX_GET_RESPONSE_ROUNDS)
            return scb__fail(card, SCB_E_GET_RESPONSE_LIMIT,
                             "card keeps answering 61xx after %d GET RESPONSE rounds",
                             rounds - 1);
        uint8_t xx = card->rbuf[have + 1];
        size_t ne = xx == 0 ? 256 : xx;
        if (have + ne + 2 > SCB__RESP_MAX)
            return scb__fail(card, SCB_E_BAD_RESPONSE,
                             "response exceeds %u bytes over GET RESPONSE",
                             (unsigned)SCB__RESP_MAX - 2);
        uint8_t gr[5] = {scb__cla_for_channel(0x00, scb__cla_channel(card)), 0xC0, 0x00, 0x00,
                         xx};
        size_t m = SCB__RESP_MAX - have;
        rc = scb__wire(card, gr, sizeof(gr), false, card->rbuf + have, &m, mask_resp);
        if (rc != SCB_OK)
            return rc;
        have += m - 2;
    }
    *rlen = have + 2;
    return SCB_OK;
}

/* The command as it goes on the wire: wrapped when use_sm, channel in CLA,
 * refused when it needs extended length the transport lacks. */
static int wrap_command(scb_card_t *card, const scb_apdu_t *a, scb_apdu_t *w, bool use_sm,
                        bool mask_cmd)
{
    *w = *a;
    if (use_sm) {
        /* Trace the plain command (as the caller built it). */
        if (card->has_trace) {
            size_t plen = SCB__CMD_MAX;
            if (scb__apdu_encode(a, card->cmdbuf, &plen) == SCB_OK)
                scb__trace(card, SCB_TRACE_PLAIN_CMD, card->cmdbuf, plen, mask_cmd);
        }
        int rc = card->sm->wrap(card, card->sm_state, a, w, card->smbuf, SCB__CMD_MAX);
        if (rc != SCB_OK) {
            if (rc != SCB_E_SCP_TOO_LONG && rc != SCB_E_INVALID_ARG)
                scb__sm_abort(card);
            return rc;
        }
    }
    if ((a->flags & SCB__APDU_RAW_CLA) == 0)
        w->cla = scb__cla_for_channel(w->cla, scb__cla_channel(card));
    const bool ext = w->extended || w->lc > 255 || (w->has_le && w->ne > 256);
    if (ext && (card->tp.flags & SCB_TP_EXTENDED_LENGTH) == 0) {
        if (use_sm)
            scb__sm_abort(card); /* the MAC chain advanced for a command never sent */
        return scb__fail(card, use_sm ? SCB_E_SCP_TOO_LONG : SCB_E_UNSUPPORTED,
                         "command needs extended length (Lc %zu, Ne %zu), which this "
                         "transport does not carry", w->lc, w->has_le ? w->ne : 0);
    }
    return SCB_OK;
}

int scb__command(scb_card_t *card, const scb_apdu_t *a, uint8_t *resp, size_t *resp_len,
                 const char *what)
{
    uint16_t sw = 0;
    int rc = scb__transmit(card, a, resp, resp_len, &sw);
    if (rc != SCB_OK)
        return rc;
    return scb__sw_ok(sw) ? SCB_OK : scb__sw_error(card, sw, what);
}

int scb__transmit(scb_card_t *card, const scb_apdu_t *a, uint8_t *resp, size_t *resp_len,
                  uint16_t *sw)
{
    if (card == NULL || a == NULL || resp_len == NULL || (resp == NULL && *resp_len > 0))
        return SCB_E_INVALID_ARG;
    const bool want_sm = (a->flags & SCB__APDU_NO_SM) == 0;
    if (want_sm && card->sm_broken && card->sm_channel == card->channel)
        return scb__fail(card, SCB_E_SCP_NO_SESSION,
                         "secure channel was closed after a failure; open a new one");
    const bool use_sm = want_sm && sm_active(card);
    const bool mask_cmd = (a->flags & SCB__APDU_SENSITIVE_CMD) != 0;
    const bool mask_resp = (a->flags & SCB__APDU_SENSITIVE_RESP) != 0;

    /* Under secure messaging on T=1 a 6Cxx comes from a card that verified
     * the command's C-MAC and chained it (GP Amd D 6.2.4): the command is
     * wrapped again with Le = xx, as the next command of the session. */
    const bool resend_as_is = !use_sm || (card->tp.flags & SCB_TP_T0) != 0;
    scb_apdu_t plain = *a;
    scb_apdu_t w;
    size_t rlen = 0;
    for (int rewrap = 0;; rewrap++) {
        int rc = wrap_command(card, &plain, &w, use_sm, mask_cmd);
        if (rc != SCB_OK)
            return rc;
        rc = exchange(card, &w, &rlen, mask_cmd, mask_resp, resend_as_is);
        if (rc != SCB_OK) {
            if (use_sm && sm_active(card))
                scb__sm_abort(card); /* the card's MAC chain is now unknown */
            return rc;
        }
        if (resend_as_is || card->rbuf[rlen - 2] != 0x6C)
            break;
        if (rewrap >= SCB__MAX_6C_RESENDS) {
            scb__sm_abort(card);
            return scb__fail(card, SCB_E_GET_RESPONSE_LIMIT,
                             "card keeps answering 6Cxx after %d resends", rewrap);
        }
        const uint8_t xx = card->rbuf[rlen - 1];
        plain.has_le = true;
        plain.ne = xx == 0 ? 256 : xx;
        plain.extended = false;
    }
    const uint16_t rsw = (uint16_t)(card->rbuf[rlen - 2] << 8 | card->rbuf[rlen - 1]);
    const size_t dlen = rlen - 2;

    if (use_sm) {
        /* Unwrap into the handle's buffer: decryption needs room for the
         * whole ciphertext, which is longer than the plaintext the caller
         * sized its buffer for; an empty plaintext needs no caller buffer. */
        size_t plen = SCB__CMD_MAX;
        int rc = card->sm->unwrap(card, card->sm_state, card->rbuf, dlen, rsw, card->smbuf, &plen);
        if (rc != SCB_OK) {
            card->last_sw = rsw; /* what the card answered, though it is not trusted */
            scb__sm_abort(card);
            return rc;
        }
        if (plen > *resp_len) {
            scb__cleanse(card->smbuf, plen);
            *resp_len = plen;
            return scb__fail(card, SCB_E_BUFFER_TOO_SMALL, "response buffer too small (%zu needed)",
                             plen);
        }
        if (plen > 0)
            memcpy(resp, card->smbuf, plen);
        *resp_len = plen;
        if (card->has_trace && plen + 2 <= SCB__CMD_MAX) {
            card->smbuf[plen] = (uint8_t)(rsw >> 8);
            card->smbuf[plen + 1] = (uint8_t)rsw;
            scb__trace(card, SCB_TRACE_PLAIN_RESP, card->smbuf, plen + 2, mask_resp);
        }
        scb__cleanse(card->smbuf, plen + 2); /* plaintext may be secret */
    } else {
        if (dlen > *resp_len) {
            *resp_len = dlen;
            return scb__fail(card, SCB_E_BUFFER_TOO_SMALL,
                             "response of %zu bytes does not fit the buffer", dlen);
        }
        if (dlen > 0)
            memcpy(resp, card->rbuf, dlen);
        *resp_len = dlen;
    }
    card->last_sw = rsw;
    if (sw != NULL)
        *sw = rsw;
    return SCB_OK;
}

/* Public raw transmit: parse the caller's bytes, run the engine, append SW. */
static int transmit_bytes(scb_card_t *card, const uint8_t *apdu, size_t apdu_len,
                          uint8_t *resp, size_t *resp_len, unsigned flags)
{
    SCB__ENTER(card);
    if (apdu == NULL || resp == NULL || resp_len == NULL)
        return scb__fail(card, SCB_E_INVALID_ARG, "transmit: no command or no response buffer");
    scb_apdu_t a;
    if (scb__apdu_parse(apdu, apdu_len, &a) != SCB_OK)
        return scb__fail(card, SCB_E_INVALID_ARG,
                         "not a valid command APDU (%zu bytes): check Lc/Le", apdu_len);
    a.flags = flags;
    if (*resp_len < 2) {
        *resp_len = 2;
        return SCB_E_BUFFER_TOO_SMALL;
    }
    size_t cap = *resp_len - 2;
    uint16_t sw = 0;
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = scb__transmit(card, &a, resp, &cap, &sw);
    scb__end(card);
    if (rc != SCB_OK) {
        if (rc == SCB_E_BUFFER_TOO_SMALL)
            *resp_len = cap + 2;
        return rc;
    }
    resp[cap] = (uint8_t)(sw >> 8);
    resp[cap + 1] = (uint8_t)sw;
    *resp_len = cap + 2;
    return SCB_OK;
}

int scb_card_transmit(scb_card_t *card, const uint8_t *apdu, size_t apdu_len, uint8_t *resp,
                      size_t *resp_len)
{
    return transmit_bytes(card, apdu, apdu_len, resp, resp_len, 0);
}

int scb_card_transmit_plain(scb_card_t *card, const uint8_t *apdu, size_t apdu_len,
                            uint8_t *resp, size_t *resp_len)
{
    return transmit_bytes(card, apdu, apdu_len, resp, resp_len, SCB__APDU_NO_SM);
}

/* ------------------------------------------------------------------------ */
/* Transactions                                                              */
/* ------------------------------------------------------------------------ */
/* Milliseconds on a clock that never jumps. */
static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

unsigned scb__remaining_ms(const scb_card_t *card)
{
    if (card->timeout_ms == 0)
        return UINT_MAX;
    const uint64_t deadline = card->txn_depth > 0 ? card->deadline_ms
                                                  : now_ms() + card->timeout_ms;
    const uint64_t now = now_ms();
    return deadline > now ? (unsigned)(deadline - now) : 0;
}

int scb__begin(scb_card_t *card)
{
    /* The operation's bound starts with its outermost transaction. */
    if (card->txn_depth == 0)
        card->deadline_ms = now_ms() + card->timeout_ms;
    if (card->txn_depth++ > 0 || card->tp.begin == NULL)
        return SCB_OK;
    int rc = card->tp.begin(card->tp.user);
    if (rc != 0) {
        card->txn_depth--;
        if (rc == SCB_E_CARD_RESET || rc == SCB_E_CARD_REMOVED) {
            scb__sm_abort(card);
            scb__channels_lost(card);
        }
        rc = rc < 0 ? rc : SCB_E_TRANSPORT;
        if (card->tp_detail != NULL && card->tp_detail[0] != 0)
            return scb__fail(card, rc, "cannot take the card: %s", card->tp_detail);
        return scb__fail(card, rc, "cannot take the card: %s", scb_strerror(rc));
    }
    return SCB_OK;
}

int scb_card_set_timeout(scb_card_t *card, unsigned ms)
{
    SCB__ENTER(card);
    card->timeout_ms = ms;
    return SCB_OK;
}

unsigned scb_card_timeout(const scb_card_t *card)
{
    return card != NULL ? card->timeout_ms : 0;
}

void scb__end(scb_card_t *card)
{
    if (card->txn_depth <= 0)
        return;
    if (--card->txn_depth == 0 && card->tp.end != NULL)
        card->tp.end(card->tp.user);
}

int scb_card_begin(scb_card_t *card)
{
    SCB__ENTER(card);
    return scb__begin(card);
}

int scb_card_end(scb_card_t *card)
{
    SCB__ENTER(card);
    if (card->txn_depth <= 0)
        return scb__fail(card, SCB_E_STATE, "scb_card_end without scb_card_begin");
    scb__end(card);
    return SCB_OK;
}
