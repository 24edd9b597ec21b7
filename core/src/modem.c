/*
 * The modem transport: APDUs to the UICC inside a cellular modem through
 * its AT interface (3GPP TS 27.007 8.17 +CSIM; 8.45-8.47 +CCHO, +CCHC,
 * +CGLA). The logical-channel strategy (pass MANAGE CHANNEL through +CSIM,
 * or emulate it with +CCHO/+CGLA/+CCHC) is described in scboot.h.
 *
 * Nothing here writes APDU bytes anywhere but to the modem: messages name
 * the command and what was wrong with the answer, never its content.
 */
#include "at.h"
#include "crypto.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEM_MAX_CHANNEL 19u
#define MODEM_SHORT_CMD_MAX (4 + 1 + 255 + 1)   /* case 4, short */
#define MODEM_SHORT_RESP_MAX (256 + 2)
#define MODEM_EXT_RESP_MAX (65536 + 2)
/* around the hex: AT+CGLA=<session>,<length>,"" / +CSIM: <length>,"" */
#define MODEM_LINE_EXTRA 64

/* What the transport knows about each logical channel number. */
enum vch_state {
    VCH_FREE = 0,
    VCH_CSIM,     /* opened by a MANAGE CHANNEL the modem passed through +CSIM */
    VCH_PENDING,  /* MANAGE CHANNEL answered by emulation; +CCHO waits for the AID */
    VCH_SESSION   /* emulated: +CCHO gave a session, commands go through +CGLA */
};

typedef struct modem_tp {
    scb_at_t *at;
    scb_card_t *card;             /* for trace notes; set once the handle exists */
    int channels;                 /* SCB_MODEM_CH_*: in force (AUTO = not decided yet) */
    uint8_t vch[MODEM_MAX_CHANNEL + 1];
    long session[MODEM_MAX_CHANNEL + 1];
    size_t max_cmd;               /* longest command APDU carried */
    size_t max_resp;
    char *cmd;                    /* the AT command line being sent */
    char *info;                   /* the information response received */
    size_t line_cap;
    char detail[256];             /* why the last transmit failed (card->tp_detail) */
    int cme;                      /* +CME ERROR number that failed the last transmit, -1 */
} modem_tp_t;

static int fail(modem_tp_t *m, int rc, const char *fmt, ...) SCB_PRINTF(3, 4);
static int fail(modem_tp_t *m, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->detail, sizeof(m->detail), fmt, ap);
    va_end(ap);
    return rc;
}

/* An AT command failed: its detail becomes the transport's. */
static int at_fail(modem_tp_t *m, int rc)
{
    if (rc == SCB_E_CARD_REMOVED)
        memset(m->vch, 0, sizeof(m->vch)); /* the modem and its channels are gone */
    m->cme = scb__at_cme(m->at);
    return fail(m, rc, "%s", scb__at_detail(m->at));
}

#define NOTE(m, ...)                                                                   \
    do {                                                                               \
        if ((m)->card != NULL)                                                         \
            scb__note((m)->card, __VA_ARGS__);                                         \
    } while (0)

/* ISO 7816-4 5.4.1: channel number from CLA (inverse of scb__cla_for_channel). */
static uint8_t cla_channel(uint8_t cla)
{
    if (cla == 0xFF)
        return 0;
    if ((cla & 0x40) != 0)
        return (uint8_t)(4 + (cla & 0x0F));
    return cla & 0x03;
}

static bool sw_ok(uint16_t sw)
{
    return sw == 0x9000 || (sw & 0xFF00) == 0x9100 || (sw & 0xFF00) == 0x9200;
}

static int answer(const uint8_t *bytes, size_t n, uint8_t *resp, size_t *resp_len)
{
    if (*resp_len < n)
        return SCB_E_BUFFER_TOO_SMALL;
    memcpy(resp, bytes, n);
    *resp_len = n;
    return SCB_OK;
}

static int answer_sw(uint16_t sw, uint8_t *resp, size_t *resp_len)
{
    const uint8_t b[2] = {(uint8_t)(sw >> 8), (uint8_t)sw};
    return answer(b, 2, resp, resp_len);
}

/* ------------------------------------------------------------------------ */
/* +CSIM / +CGLA                                                             */
/* ------------------------------------------------------------------------ */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* "<prefix> <length>,\"<hex>\"" (27.007 8.17 / 8.43: length counts the hex
 * characters). Quotes are optional; everything else is checked. */
static int parse_apdu_response(modem_tp_t *m, const char *prefix, uint8_t *resp,
                               size_t *resp_len)
{
    const char *what = prefix; /* "+CSIM:" */
    const char *p = m->info + strlen(prefix);
    while (*p == ' ')
        p++;
    size_t declared = 0, digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 7; p++, digits++)
        declared = declared * 10 + (size_t)(*p - '0');
    if (digits == 0 || (*p >= '0' && *p <= '9'))
        return fail(m, SCB_E_BAD_RESPONSE, "%s line: %s length field", what,
                    digits == 0 ? "no" : "overlong");
    while (*p == ' ')
        p++;
    if (*p != ',')
        return fail(m, SCB_E_BAD_RESPONSE, "%s line: no comma after the length", what);
    p++;
    while (*p == ' ')
        p++;
    const bool quoted = *p == '"';
    if (quoted)
        p++;
    const char *hex = p;
    while (hex_value(*p) >= 0)
        p++;
    const size_t hex_len = (size_t)(p - hex);
    if (quoted) {
        if (*p != '"')
            return fail(m, SCB_E_BAD_RESPONSE, *p == 0 ? "%s line: no closing quote"
                                                       : "%s line: invalid hex character at "
                                                         "position %zu",
                        what, hex_len + 1);
        p++;
    }
    while (*p == ' ')
        p++;
    if (*p != 0)
        return fail(m, SCB_E_BAD_RESPONSE,
                    quoted ? "%s line: unexpected text after the response"
                           : "%s line: invalid hex character at position %zu",
                    what, hex_len + 1);
    if (declared != hex_len)
        return fail(m, SCB_E_BAD_RESPONSE,
                    "%s line: length field says %zu characters, the response has %zu", what,
                    declared, hex_len);
    if (hex_len % 2 != 0)
        return fail(m, SCB_E_BAD_RESPONSE, "%s line: odd number of hex characters (%zu)", what,
                    hex_len);
    const size_t n = hex_len / 2;
    if (n < 2)
        return fail(m, SCB_E_BAD_RESPONSE, "%s line: response of %zu byte(s) has no status word",
                    what, n);
    if (n > m->max_resp || n > *resp_len)
        return fail(m, SCB_E_BAD_RESPONSE, "%s line: response of %zu bytes exceeds %zu", what, n,
                    m->max_resp < *resp_len ? m->max_resp : *resp_len);
    for (size_t i = 0; i < n; i++)
        resp[i] = (uint8_t)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    *resp_len = n;
    return SCB_OK;
}

/* One APDU through AT+CSIM (session < 0) or AT+CGLA=<session>, with cla
 * in place of cmd[0]. */
static int exchange(modem_tp_t *m, long session, uint8_t cla, const uint8_t *cmd, size_t len,
                    uint8_t *resp, size_t *resp_len)
{
    int o = session < 0 ? snprintf(m->cmd, m->line_cap, "AT+CSIM=%zu,\"", 2 * len)
                        : snprintf(m->cmd, m->line_cap, "AT+CGLA=%ld,%zu,\"", session, 2 * len);
    if (o < 0 || (size_t)o + 2 * len + 2 > m->line_cap)
        return fail(m, SCB_E_INTERNAL, "AT command line buffer too small");
    size_t w = (size_t)o;
    w += scb__hex(&cla, 1, m->cmd + w, m->line_cap - w, false);
    w += scb__hex(cmd + 1, len - 1, m->cmd + w, m->line_cap - w, false);
    m->cmd[w++] = '"';
    m->cmd[w] = 0;
    const char *prefix = session < 0 ? "+CSIM:" : "+CGLA:";
    int rc = scb__at_command(m->at, m->cmd, prefix, 0, m->info, m->line_cap);
    if (rc != SCB_OK)
        return at_fail(m, rc);
    return parse_apdu_response(m, prefix, resp, resp_len);
}

static int csim(modem_tp_t *m, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
    return exchange(m, -1, cmd[0], cmd, len, resp, resp_len);
}

/* A command on an emulated channel. 27.007 8.45 leaves the CLA channel
 * bits to the modem; when the session id is a channel number they are set
 * to it, so a modem that sends the CLA as it is still hits the channel. */
static int cgla(modem_tp_t *m, uint8_t ch, const uint8_t *cmd, size_t len, uint8_t *resp,
                size_t *resp_len)
{
    const long s = m->session[ch];
    const uint8_t cla = (s >= 1 && s <= (long)MODEM_MAX_CHANNEL)
                            ? scb__cla_for_channel(cmd[0], (uint8_t)s)
                            : cmd[0];
    return exchange(m, s, cla, cmd, len, resp, resp_len);
}

/* ------------------------------------------------------------------------ */
/* Logical channels                                                          */
/* ------------------------------------------------------------------------ */
/* AUTO, once the modem refused MANAGE CHANNEL: can it do +CCHO/+CGLA? */
static bool modem_has_cgla(modem_tp_t *m)
{
    return scb__at_command(m->at, "AT+CCHO=?", NULL, 0, NULL, 0) == SCB_OK &&
           scb__at_command(m->at, "AT+CGLA=?", NULL, 0, NULL, 0) == SCB_OK;
}

static int emulated_open(modem_tp_t *m, uint8_t p2, uint8_t *resp, size_t *resp_len)
{
    if (p2 != 0)
        return answer_sw(0x6A81, resp, resp_len); /* a given channel number: not emulated */
    for (uint8_t n = 1; n <= MODEM_MAX_CHANNEL; n++)
        if (m->vch[n] == VCH_FREE) {
            const uint8_t r[3] = {n, 0x90, 0x00};
            int rc = answer(r, sizeof(r), resp, resp_len);
            if (rc == SCB_OK)
                m->vch[n] = VCH_PENDING;
            return rc;
        }
    return answer_sw(0x6881, resp, resp_len);
}

static int close_session(modem_tp_t *m, uint8_t n)
{
    char cmd[40];
    snprintf(cmd, sizeof(cmd), "AT+CCHC=%ld", m->session[n]);
    m->vch[n] = VCH_FREE;
    int rc = scb__at_command(m->at, cmd, NULL, 0, NULL, 0);
    if (rc != SCB_OK)
        return at_fail(m, rc);
    NOTE(m, "AT+CCHC: modem session %ld (logical channel %u) closed", m->session[n],
         (unsigned)n);
    return SCB_OK;
}

/* MANAGE CHANNEL (ISO 7816-4 11.1.2): P1 00 open (P2 00: the card picks),
 * P1 80 close channel P2 (00: the channel in CLA). */
static int manage_channel(modem_tp_t *m, const uint8_t *cmd, size_t len, uint8_t *resp,
                          size_t *resp_len)
{
    const uint8_t p1 = cmd[2], p2 = cmd[3];
    const bool open = p1 == 0x00, close = p1 == 0x80;
    const uint8_t target = p2 != 0 ? p2 : cla_channel(cmd[0]);
    if (m->channels == SCB_MODEM_CH_CGLA) {
        if (open)
            return emulated_open(m, p2, resp, resp_len);
        if (close && target <= MODEM_MAX_CHANNEL && m->vch[target] == VCH_PENDING) {
            m->vch[target] = VCH_FREE; /* never reached the modem */
            return answer_sw(0x9000, resp, resp_len);
        }
        if (close && target <= MODEM_MAX_CHANNEL && m->vch[target] == VCH_SESSION) {
            int rc = close_session(m, target);
            return rc != SCB_OK ? rc : answer_sw(0x9000, resp, resp_len);
        }
        return csim(m, cmd, len, resp, resp_len); /* not one of ours: the card decides */
    }
    size_t cap = *resp_len;
    int rc = csim(m, cmd, len, resp, resp_len);
    uint16_t sw = rc == SCB_OK ? (uint16_t)(resp[*resp_len - 2] << 8 | resp[*resp_len - 1]) : 0;
    /* A UICC implements MANAGE CHANNEL (TS 102 221 11.1.17): "ERROR" or
     * "instruction / class not supported" come from the modem's filter. */
    const bool refused = rc == SCB_E_MODEM || rc == SCB_E_MODEM_CME ||
                         (rc == SCB_OK && (sw == 0x6D00 || sw == 0x6E00));
    if (open && refused && m->channels == SCB_MODEM_CH_AUTO) {
        if (modem_has_cgla(m)) {
            m->channels = SCB_MODEM_CH_CGLA;
            NOTE(m, "modem refuses MANAGE CHANNEL through +CSIM: logical channels emulated "
                    "with AT+CCHO/+CGLA/+CCHC");
            m->detail[0] = 0;
            m->cme = -1;
            *resp_len = cap;
            return emulated_open(m, p2, resp, resp_len);
        }
        m->channels = SCB_MODEM_CH_CSIM;
        if (rc != SCB_OK) {
            const size_t used = strlen(m->detail);
            snprintf(m->detail + used, sizeof(m->detail) - used,
                     "; the modem offers no AT+CCHO/+CGLA either: use the basic channel "
                     "(the no_logical_channel option)");
        }
        return rc; /* the modem's refusal, or the card's status word as it came */
    }
    if (rc != SCB_OK)
        return rc;
    if (open && m->channels == SCB_MODEM_CH_AUTO)
        m->channels = SCB_MODEM_CH_CSIM;
    if (open && p2 == 0 && sw_ok(sw) && *resp_len == 3 && resp[0] >= 1 &&
        resp[0] <= MODEM_MAX_CHANNEL)
        m->vch[resp[0]] = VCH_CSIM;
    else if (open && p2 >= 1 && p2 <= MODEM_MAX_CHANNEL && sw_ok(sw))
        m->vch[p2] = VCH_CSIM;
    else if (close && target >= 1 && target <= MODEM_MAX_CHANNEL && sw_ok(sw))
        m->vch[target] = VCH_FREE;
    return SCB_OK;
}

/* "+CCHO: <n>" or a bare "<n>" (27.007 8.45 answers "<sessionid>"). */
static int parse_session(modem_tp_t *m, long *session)
{
    const char *p = m->info;
    if (strncmp(p, "+CCHO:", 6) == 0)
        p += 6;
    while (*p == ' ')
        p++;
    long s = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
        s = s * 10 + (*p - '0');
    while (*p == ' ')
        p++;
    if (digits == 0 || *p != 0)
        return fail(m, SCB_E_BAD_RESPONSE, "AT+CCHO: the session id is not a number");
    *session = s;
    return SCB_OK;
}

/* The first command on an emulated channel must be SELECT by DF name: its
 * AID goes to AT+CCHO, which opens the channel and selects it. */
static int open_session(modem_tp_t *m, uint8_t ch, const uint8_t *cmd, size_t len, uint8_t *resp,
                        size_t *resp_len)
{
    const uint8_t ins = cmd[1], p1 = cmd[2], p2 = cmd[3];
    if (ins != 0xA4 || p1 != 0x04)
        return fail(m, SCB_E_UNSUPPORTED,
                    "logical channel %u is emulated with AT+CCHO, which needs an application: "
                    "the first command on it must be SELECT by AID", (unsigned)ch);
    const size_t lc = len >= 5 ? cmd[4] : 0;
    if (lc < 1 || lc > 16 || len < 5 + lc || len > 6 + lc)
        return answer_sw(0x6700, resp, resp_len);
    if ((p2 & 0x03) != 0)
        return answer_sw(0x6A86, resp, resp_len); /* next occurrence: no session to continue */
    char cmdline[64];
    int o = snprintf(cmdline, sizeof(cmdline), "AT+CCHO=\"");
    o += (int)scb__hex(cmd + 5, lc, cmdline + o, sizeof(cmdline) - (size_t)o, false);
    snprintf(cmdline + o, sizeof(cmdline) - (size_t)o, "\"");
    int rc = scb__at_command(m->at, cmdline, "+CCHO:", SCB__AT_BARE_NUMBER, m->info, m->line_cap);
    if (rc == SCB_E_MODEM_CME && scb__at_cme(m->at) == 22) {
        NOTE(m, "AT+CCHO: +CME ERROR: 22 (not found), answered as 6A82");
        return answer_sw(0x6A82, resp, resp_len);
    }
    if (rc != SCB_OK)
        return at_fail(m, rc);
    long s = 0;
    rc = parse_session(m, &s);
    if (rc != SCB_OK)
        return rc;
    m->vch[ch] = VCH_SESSION;
    m->session[ch] = s;
    NOTE(m, "AT+CCHO: modem session %ld for logical channel %u", s, (unsigned)ch);
    if ((p2 & 0x0C) == 0x0C)
        return answer_sw(0x9000, resp, resp_len); /* no response data asked: +CCHO said it */
    /* FCP/FCI wanted: select again on the channel to get it from the card. */
    const size_t cap = *resp_len;
    rc = cgla(m, ch, cmd, len, resp, resp_len);
    if (rc == SCB_E_MODEM || rc == SCB_E_MODEM_CME) {
        NOTE(m, "modem refuses SELECT through AT+CGLA; the application is selected, no FCP");
        m->detail[0] = 0;
        *resp_len = cap;
        return answer_sw(0x9000, resp, resp_len);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Transport callbacks                                                       */
/* ------------------------------------------------------------------------ */
static int modem_transmit(void *user, const uint8_t *cmd, size_t len, uint8_t *resp,
                          size_t *resp_len)
{
    modem_tp_t *m = user;
    m->detail[0] = 0;
    m->cme = -1;
    if (len < 4 || len > m->max_cmd)
        return fail(m, SCB_E_INVALID_ARG, "command APDU of %zu bytes: the modem takes 4..%zu",
                    len, m->max_cmd);
    const uint8_t ch = cla_channel(cmd[0]);
    if ((cmd[0] & 0x80) == 0 && cmd[1] == 0x70)
        return manage_channel(m, cmd, len, resp, resp_len);
    if (ch != 0 && m->vch[ch] == VCH_PENDING)
        return open_session(m, ch, cmd, len, resp, resp_len);
    if (ch != 0 && m->vch[ch] == VCH_SESSION)
        return cgla(m, ch, cmd, len, resp, resp_len);
    return csim(m, cmd, len, resp, resp_len);
}

static int modem_begin(void *user)
{
    modem_tp_t *m = user;
    return scb__at_begin(m->at);
}

static int modem_end(void *user)
{
    modem_tp_t *m = user;
    return scb__at_end(m->at);
}

static void modem_free(modem_tp_t *m, bool close_channel)
{
    scb__at_free(&m->at, close_channel);
    if (m->cmd != NULL)
        scb__cleanse(m->cmd, m->line_cap);
    if (m->info != NULL)
        scb__cleanse(m->info, m->line_cap);
    free(m->cmd);
    free(m->info);
    free(m);
}

/* Channels left open would stay open in the modem until it restarts. */
static void modem_close(void *user)
{
    modem_tp_t *m = user;
    m->card = NULL;
    for (uint8_t n = 1; n <= MODEM_MAX_CHANNEL && !scb__at_gone(m->at); n++) {
        int rc = SCB_OK;
        if (m->vch[n] == VCH_SESSION) {
            rc = close_session(m, n);
        } else if (m->vch[n] == VCH_CSIM) {
            const uint8_t close[4] = {0x00, 0x70, 0x80, n};
            uint8_t r[MODEM_SHORT_RESP_MAX];
            size_t rl = sizeof(r);
            rc = csim(m, close, sizeof(close), r, &rl);
        }
        if (rc == SCB_E_TIMEOUT)
            break; /* a silent modem: do not wait once per channel */
    }
    modem_free(m, true);
}

/* Make sure the modem answers, then switch echo off, verbose result codes
 * on and +CME errors numeric. Only "AT" itself must succeed: the rest is
 * tolerated either way by the parser. */
static int modem_init(modem_tp_t *m, bool no_init)
{
    int rc = scb__at_command(m->at, "AT", NULL, SCB__AT_NUMERIC_OK, NULL, 0);
    if (rc == SCB_E_MODEM || rc == SCB_E_MODEM_CME) /* a half line left in the modem */
        rc = scb__at_command(m->at, "AT", NULL, SCB__AT_NUMERIC_OK, NULL, 0);
    if (rc != SCB_OK)
        return fail(m, rc, "the modem does not answer AT: %s", scb__at_detail(m->at));
    if (no_init)
        return SCB_OK;
    const char *const setup[] = {"ATE0V1", "AT+CMEE=1"};
    for (size_t i = 0; i < SCB_ARRAY_LEN(setup); i++) {
        rc = scb__at_command(m->at, setup[i], NULL, SCB__AT_NUMERIC_OK, NULL, 0);
        if (rc == SCB_E_TIMEOUT || rc == SCB_E_CARD_REMOVED || rc == SCB_E_TRANSPORT)
            return fail(m, rc, "modem set-up: %s", scb__at_detail(m->at));
    }
    return SCB_OK;
}

static int modem_open(scb_card_t **out, const scb_at_channel_t *ch, const scb_opts_t *opts,
                      bool own_channel, char *detail, size_t detail_len)
{
    const bool ext = scb__opt_bool(opts, SCB_OPT_EXTENDED_LENGTH);
    modem_tp_t *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        if (own_channel && ch->close != NULL)
            ch->close(ch->user);
        return SCB_E_NOMEM;
    }
    m->channels = (int)scb__opt_int(opts, SCB_OPT_MODEM_CHANNELS);
    m->cme = -1;
    m->max_cmd = ext ? SCB__CMD_MAX : MODEM_SHORT_CMD_MAX;
    m->max_resp = ext ? MODEM_EXT_RESP_MAX : MODEM_SHORT_RESP_MAX;
    m->line_cap = 2 * (m->max_cmd > m->max_resp ? m->max_cmd : m->max_resp) + MODEM_LINE_EXTRA;
    m->cmd = malloc(m->line_cap);
    m->info = malloc(m->line_cap);
    const unsigned timeout = (unsigned)scb__opt_int(opts, SCB_OPT_MODEM_TIMEOUT_MS);
    int rc = m->cmd != NULL && m->info != NULL ? scb__at_new(&m->at, ch, timeout, m->line_cap)
                                               : SCB_E_NOMEM;
    if (rc != SCB_OK) {
        if (own_channel && ch->close != NULL)
            ch->close(ch->user);
        modem_free(m, false);
        return rc;
    }
    rc = modem_init(m, scb__opt_bool(opts, SCB_OPT_MODEM_NO_INIT));
    if (rc == SCB_OK) {
        scb_transport_t tp = {0};
        tp.version = SCB_TRANSPORT_VERSION;
        tp.user = m;
        tp.flags = ext ? SCB_TP_EXTENDED_LENGTH : 0;
        tp.transmit = modem_transmit;
        tp.begin = ch->begin != NULL ? modem_begin : NULL;
        tp.end = ch->end != NULL ? modem_end : NULL;
        tp.close = modem_close;
        rc = scb_card_open_transport(out, &tp);
    }
    if (rc != SCB_OK) {
        if (m->detail[0] != 0)
            scb__detail(detail, detail_len, rc, "%s", m->detail);
        modem_free(m, own_channel);
        return rc;
    }
    m->card = *out;
    (*out)->tp_detail = m->detail;
    return SCB_OK;
}

int scb_card_open_at(scb_card_t **out, const scb_at_channel_t *channel, const scb_opts_t *opts,
                     char *detail, size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (channel == NULL || channel->version != SCB_AT_CHANNEL_VERSION || channel->write == NULL ||
        channel->read == NULL || (channel->begin == NULL) != (channel->end == NULL))
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG,
                           "AT channel: version %u expected, write and read required, begin and "
                           "end both or neither", SCB_AT_CHANNEL_VERSION);
    int rc = scb__opts_scope(opts, SCB_SCOPE_MODEM, "a modem", detail, detail_len);
    if (rc == SCB_OK && (scb_opts_is_set(opts, SCB_OPT_BAUD) || scb_opts_is_set(opts, SCB_OPT_RTSCTS)))
        rc = scb__detail(detail, detail_len, SCB_E_INVALID_ARG,
                         "options 'baud' and 'rtscts' apply to a serial device, not to an AT "
                         "channel");
    if (rc != SCB_OK)
        return rc;
    return modem_open(out, channel, opts, false, detail, detail_len);
}

int scb_card_open_modem(scb_card_t **out, const char *device, const scb_opts_t *opts,
                        char *detail, size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (detail != NULL && detail_len > 0)
        detail[0] = 0;
    if (device == NULL || *device == 0)
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG, "no modem device given");
    int rc = scb__opts_scope(opts, SCB_SCOPE_MODEM, "a modem", detail, detail_len);
    if (rc != SCB_OK)
        return rc;
    scb_at_channel_t ch;
    rc = scb__tty_channel_open(&ch, device, (unsigned)scb__opt_int(opts, SCB_OPT_BAUD),
                               scb__opt_bool(opts, SCB_OPT_RTSCTS),
                               (unsigned)scb__opt_int(opts, SCB_OPT_MODEM_TIMEOUT_MS), detail,
                               detail_len);
    if (rc != SCB_OK)
        return rc;
    rc = modem_open(out, &ch, opts, true, detail, detail_len);
    if (rc != SCB_OK && detail != NULL && detail_len > 0 && detail[0] != 0) {
        /* name the device in front of what went wrong */
        char inner[256];
        snprintf(inner, sizeof(inner), "%s", detail);
        scb__detail(detail, detail_len, rc, "modem %s: %s", device, inner);
    }
    return rc;
}

static modem_tp_t *modem_of(const scb_card_t *card)
{
    return card != NULL && card->tp.transmit == modem_transmit ? card->tp.user : NULL;
}

int scb_card_modem_cme(const scb_card_t *card)
{
    const modem_tp_t *m = modem_of(card);
    return m != NULL ? m->cme : -1;
}

int scb_card_modem_channels(const scb_card_t *card)
{
    const modem_tp_t *m = modem_of(card);
    return m != NULL ? m->channels : -1;
}
