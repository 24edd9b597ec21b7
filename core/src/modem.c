/*
 * The modem transport: APDUs to the UICC inside a cellular modem through
 * its AT interface (3GPP TS 27.007 8.17 +CSIM; 8.45 +CCHO, 8.46 +CCHC, 8.43
 * +CGLA). It formats AT command lines and parses what the modem answers,
 * nothing more: the APDUs it is given go to the modem as they are, the
 * modem's answers come back as they are, and every failure of the modem is
 * a transport code with a detail. Logical channels are the channel layer's
 * (channel.c): MANAGE CHANNEL through +CSIM like any command, or the
 * transport's channel operations (+CCHO / +CGLA / +CCHC), as the
 * "modem_channels" option says (answered to SCB_TPQ_CHANNELS). What goes on
 * the line is described in docs/modem.md.
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

#define MODEM_SHORT_CMD_MAX (4 + 1 + 255 + 1)   /* case 4, short */
#define MODEM_SHORT_RESP_MAX (256 + 2)
#define MODEM_EXT_RESP_MAX (65536 + 2)
/* around the hex: AT+CGLA=<session>,<length>,"" / +CSIM: <length>,"" */
#define MODEM_LINE_EXTRA 64
#define MODEM_AID_MAX 16                         /* 27.007 8.45: DF name, 1..16 bytes */

typedef struct modem_tp {
    scb_at_t *at;
    int channels;                 /* SCB_MODEM_CH_*, the option */
    int has_ccho;                 /* AUTO: +CCHO and +CGLA pass their test commands (-1: unasked) */
    size_t max_cmd;               /* longest command APDU carried */
    size_t max_resp;
    char *cmd;                    /* the AT command line being sent */
    char *info;                   /* the information response received */
    size_t line_cap;
    char detail[256];             /* why the last operation failed (card->tp_detail) */
    int cme;                      /* +CME ERROR number that failed the last operation, -1 */
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
    m->cme = scb__at_cme(m->at);
    return fail(m, rc, "%s", scb__at_detail(m->at));
}

/* Every operation starts with no failure on record. */
static void op_begin(modem_tp_t *m)
{
    m->detail[0] = 0;
    m->cme = -1;
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

/* One APDU, as it is, through AT+CSIM (session < 0) or AT+CGLA=<session>. */
static int exchange(modem_tp_t *m, long session, const uint8_t *cmd, size_t len, uint8_t *resp,
                    size_t *resp_len)
{
    op_begin(m);
    if (len < 4 || len > m->max_cmd)
        return fail(m, SCB_E_INVALID_ARG, "command APDU of %zu bytes: the modem takes 4..%zu",
                    len, m->max_cmd);
    int o = session < 0 ? snprintf(m->cmd, m->line_cap, "AT+CSIM=%zu,\"", 2 * len)
                        : snprintf(m->cmd, m->line_cap, "AT+CGLA=%ld,%zu,\"", session, 2 * len);
    if (o < 0 || (size_t)o + 2 * len + 2 > m->line_cap)
        return fail(m, SCB_E_INTERNAL, "AT command line buffer too small");
    size_t w = (size_t)o;
    w += scb__hex(cmd, len, m->cmd + w, m->line_cap - w, false);
    m->cmd[w++] = '"';
    m->cmd[w] = 0;
    const char *prefix = session < 0 ? "+CSIM:" : "+CGLA:";
    int rc = scb__at_command(m->at, m->cmd, prefix, 0, m->info, m->line_cap);
    if (rc != SCB_OK)
        return at_fail(m, rc);
    return parse_apdu_response(m, prefix, resp, resp_len);
}

/* ------------------------------------------------------------------------ */
/* +CCHO / +CCHC                                                             */
/* ------------------------------------------------------------------------ */
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

/* In AUTO the channel layer turns to +CCHO after the modem refused MANAGE
 * CHANNEL in +CSIM: whether the modem has +CCHO and +CGLA at all is asked
 * once, with their test commands (V.250 5.4.3.3), so that "the modem has
 * none" is told apart from "+CCHO failed". */
static bool modem_has_ccho(modem_tp_t *m)
{
    if (m->has_ccho < 0)
        m->has_ccho = scb__at_command(m->at, "AT+CCHO=?", NULL, 0, NULL, 0) == SCB_OK &&
                      scb__at_command(m->at, "AT+CGLA=?", NULL, 0, NULL, 0) == SCB_OK;
    return m->has_ccho != 0;
}

/* AT+CCHO="<DF name>": the MT opens a logical channel and selects the
 * application on it (27.007 8.45). The channel number the UICC gave stays
 * in the MT, which also sets it in the CLA of every +CGLA command. */
static int modem_channel_open(void *user, const uint8_t *aid, size_t aid_len, long *session,
                              int *number)
{
    modem_tp_t *m = user;
    *number = -1;
    /* Without +CCHO the refusal that brought the library here stays the
     * failure on record (its +CME ERROR number too). */
    if (m->channels == SCB_MODEM_CH_AUTO && !modem_has_ccho(m))
        return fail(m, SCB_E_UNSUPPORTED, "the modem has no AT+CCHO / AT+CGLA");
    op_begin(m);
    if (aid_len < 1 || aid_len > MODEM_AID_MAX)
        return fail(m, SCB_E_INVALID_ARG, "AT+CCHO: an AID of 1..%d bytes", MODEM_AID_MAX);
    char line[sizeof("AT+CCHO=\"\"") + 2 * MODEM_AID_MAX];
    int o = snprintf(line, sizeof(line), "AT+CCHO=\"");
    o += (int)scb__hex(aid, aid_len, line + o, sizeof(line) - (size_t)o, false);
    snprintf(line + o, sizeof(line) - (size_t)o, "\"");
    int rc = scb__at_command(m->at, line, "+CCHO:", SCB__AT_BARE_NUMBER, m->info, m->line_cap);
    if (rc == SCB_E_MODEM_CME && scb__at_cme(m->at) == 22)
        rc = SCB_E_NOT_FOUND; /* 27.007 9.2.1: 22 "not found": no such application */
    if (rc != SCB_OK)
        return at_fail(m, rc);
    return parse_session(m, session);
}

static int modem_channel_transmit(void *user, long session, const uint8_t *cmd, size_t len,
                                  uint8_t *resp, size_t *resp_len)
{
    return exchange(user, session, cmd, len, resp, resp_len);
}

static int modem_channel_close(void *user, long session)
{
    modem_tp_t *m = user;
    op_begin(m);
    char line[40];
    snprintf(line, sizeof(line), "AT+CCHC=%ld", session);
    int rc = scb__at_command(m->at, line, NULL, 0, NULL, 0);
    return rc == SCB_OK ? SCB_OK : at_fail(m, rc);
}

/* ------------------------------------------------------------------------ */
/* Transport callbacks                                                       */
/* ------------------------------------------------------------------------ */
static int modem_transmit(void *user, const uint8_t *cmd, size_t len, uint8_t *resp,
                          size_t *resp_len)
{
    return exchange(user, -1, cmd, len, resp, resp_len);
}

static int modem_query(void *user, int what, long *value)
{
    const modem_tp_t *m = user;
    switch (what) {
    case SCB_TPQ_CHANNELS:
        *value = m->channels;
        return SCB_OK;
    case SCB_TPQ_LAST_CME:
        *value = m->cme;
        return SCB_OK;
    default:
        return SCB_E_UNSUPPORTED;
    }
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

/* The library closed the channels it opened before it calls this. */
static void modem_close(void *user)
{
    modem_free(user, true);
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
    m->has_ccho = -1;
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
        tp.channel_open = modem_channel_open;
        tp.channel_transmit = modem_channel_transmit;
        tp.channel_close = modem_channel_close;
        tp.query = modem_query;
        tp.channel_open_name = "+CCHO";
        tp.channel_close_name = "+CCHC";
        rc = scb_card_open_transport(out, &tp);
    }
    if (rc != SCB_OK) {
        if (m->detail[0] != 0)
            scb__detail(detail, detail_len, rc, "%s", m->detail);
        modem_free(m, own_channel);
        return rc;
    }
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

/* What any transport may say about itself (SCB_TPQ_*): the modem's
 * answers, or those of a caller's transport in front of a modem. */
int scb_card_modem_cme(const scb_card_t *card)
{
    long v = -1;
    return card != NULL && scb__tp_query(card, SCB_TPQ_LAST_CME, &v) == SCB_OK ? (int)v : -1;
}

int scb_card_modem_channels(const scb_card_t *card)
{
    long v = 0;
    if (card == NULL || scb__tp_query(card, SCB_TPQ_CHANNELS, &v) != SCB_OK)
        return -1;
    return scb__channel_route(card);
}
