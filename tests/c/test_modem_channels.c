/*
 * Logical channels through the modem transport: MANAGE CHANNEL through
 * +CSIM like any command; the transport's channel operations (+CCHO /
 * +CGLA / +CCHC) when the modem refuses MANAGE CHANNEL (ERROR, +CME ERROR,
 * SW 6D00 / 6E00) or when "modem_channels" is cgla. What the engine sends
 * reaches the modem as it is (no CLA rewriting, no answers of the
 * transport's own); what the trace shows and the count counts is what the
 * modem was given; +CCHO / +CCHC are notes, not APDUs.
 */
#include "at_script.h"
#include "internal.h"
#include "testkit.h"

static const uint8_t PKCS15_AID[12] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                       0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};
#define AID_HEX "A000000063504B43532D3135"
#define OK "\r\nOK\r\n"
#define CH0 SCB_CHANNEL_UNNUMBERED

#define CHECK_MSG(text, needle) check_msg(__FILE__, __LINE__, text, needle)
static void check_msg(const char *file, int line, const char *text, const char *needle)
{
    tk_checks++;
    if (strstr(text, needle) == NULL) {
        tk_failures++;
        fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", file, line, text, needle);
    }
}

static scb_card_t *card_with(at_script_t *s, int channels)
{
    scb_opts_t *o = NULL;
    TK_EQ_RC(scb_opts_new(&o), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_MODEM_TIMEOUT_MS, 200), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_MODEM_CHANNELS, channels), SCB_OK);
    scb_card_t *card = as_card(s, o);
    scb_opts_free(&o);
    return card;
}

static int xmit(scb_card_t *card, const char *hex, uint8_t *resp, size_t *rlen)
{
    uint8_t cmd[300];
    size_t n = tk_unhex(hex, cmd, sizeof(cmd));
    return scb_card_transmit(card, cmd, n, resp, rlen);
}

static int read4(scb_card_t *c, uint8_t out[4])
{
    size_t len = 4;
    return scb_read_binary(c, 4, out, &len);
}

static int open_app(scb_card_t *c, uint8_t *ch)
{
    return scb_channel_open_app(c, PKCS15_AID, sizeof(PKCS15_AID), ch);
}

/* "A>> 00 A4 .." -> "00A4.."; NULL for other lines. */
static const char *cmd_hex(const char *line, char *out, size_t cap)
{
    if (strncmp(line, "A>> ", 4) != 0)
        return NULL;
    size_t o = 0;
    for (const char *p = line + 4; *p && o + 1 < cap; p++)
        if (*p != ' ')
            out[o++] = *p;
    out[o] = 0;
    return out;
}

/* The hex an AT+CSIM / AT+CGLA line carried, NULL for other lines. */
static const char *at_payload(const char *line, char *out, size_t cap)
{
    if (strncmp(line, "AT+CSIM=", 8) != 0 && strncmp(line, "AT+CGLA=", 8) != 0)
        return NULL;
    const char *q = strchr(line, '"');
    if (q == NULL)
        return NULL;
    snprintf(out, cap, "%s", q + 1);
    char *end = strchr(out, '"');
    if (end != NULL)
        *end = 0;
    return out;
}

/* The commands the trace shows are those the modem received, in order,
 * and the count counts exactly them. */
static void check_trace_is_wire(const tk_trace_t *t, const at_script_t *s, const scb_card_t *c)
{
    char a[700], b[700];
    size_t ti = 0, si = 0, wire = 0;
    for (;;) {
        while (ti < t->n && cmd_hex(t->lines[ti], a, sizeof(a)) == NULL)
            ti++;
        while (si < s->logged && at_payload(s->log[si], b, sizeof(b)) == NULL)
            si++;
        if (ti == t->n || si == s->logged)
            break;
        cmd_hex(t->lines[ti++], a, sizeof(a));
        at_payload(s->log[si++], b, sizeof(b));
        TK_CHECK(strcmp(a, b) == 0);
        if (strcmp(a, b) != 0)
            fprintf(stderr, "  trace %s, modem got %s\n", a, b);
        wire++;
    }
    TK_EQ_INT(ti, t->n);
    TK_EQ_INT(si, s->logged);
    TK_EQ_INT(scb_card_apdu_count(c), wire);
}

/* ------------------------------------------------------------------------ */
/* The modem passes MANAGE CHANNEL: everything through +CSIM as sent. */
static void test_passthrough(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CSIM: 6,\"019000\"" OK);
    as_add(s, "AT+CSIM=34,\"01A4040C0C" AID_HEX "\"", "\r\n+CSIM: 4,\"9000\"" OK);
    as_add(s, "AT+CSIM=14,\"01A4000C025031\"", "\r\n+CSIM: 4,\"9000\"" OK);
    as_add(s, "AT+CSIM=10,\"01B0000004\"", "\r\n+CSIM: 12,\"A70630049000\"" OK);
    as_add(s, "AT+CSIM=8,\"00708001\"", "\r\n+CSIM: 4,\"9000\"" OK);
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CSIM: 6,\"029000\"" OK);
    as_add(s, "AT+CSIM=8,\"00708002\"", "\r\n+CSIM: 4,\"9000\"" OK);
    scb_card_t *c = card_with(s, SCB_MODEM_CH_AUTO);
    TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_AUTO);
    uint8_t ch = 0, d[4];
    TK_EQ_RC(open_app(c, &ch), SCB_OK);
    TK_EQ_INT(ch, 1);
    TK_EQ_INT(scb_card_channel(c), 1);
    TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CSIM);
    TK_EQ_RC(scb_select_fid(c, 0x5031, SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(read4(c, d), SCB_OK);
    TK_EQ_HEX(d, 4, "A7063004");
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    /* a channel without an application, the card's way */
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_INT(ch, 2);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    TK_CHECK(as_complete(s));
    scb_card_free(&c); /* nothing left to close */
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* The acceptance flow in small: the modem refuses MANAGE CHANNEL in +CSIM
 * (+CME ERROR: 3) and has +CCHO / +CGLA: the application is opened with
 * +CCHO, its commands go through +CGLA exactly as the engine built them
 * (CLA channel bits 0: the MT sets them, 27.007 8.45), and the trace and
 * the count show what the modem was given. */
static void test_fallback_after_refusal(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CME ERROR: 3\r\n");
    as_add(s, "AT+CCHO=?", OK);
    as_add(s, "AT+CGLA=?", OK);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 3\r\n" OK);
    as_add(s, "AT+CGLA=3,14,\"00A4000C025031\"", "\r\n+CGLA: 4,\"9000\"" OK);
    as_add(s, "AT+CGLA=3,10,\"00B0000004\"", "\r\n+CGLA: 12,\"A70630049000\"" OK);
    as_add(s, "AT+CCHC=3", OK);
    /* second round: decided, no MANAGE CHANNEL, no probe; +CCHO answers a
     * bare session id (27.007 8.45); a SELECT with FCP on the channel */
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n1\r\n" OK);
    as_add(s, "AT+CGLA=1,36,\"00A404040C" AID_HEX "00\"",
           "\r\n+CGLA: 44,\"621282027821840C" AID_HEX "9000\"" OK);
    as_add(s, "AT+CSIM=14,\"00A4000C023F00\"", "\r\n+CSIM: 4,\"9000\"" OK);
    as_add(s, "AT+CCHC=1", OK); /* at free */
    scb_card_t *c = card_with(s, SCB_MODEM_CH_AUTO);
    static tk_trace_t t;
    tk_trace_on(c, &t);
    uint8_t ch = 0, d[4];
    TK_EQ_RC(open_app(c, &ch), SCB_OK);
    TK_EQ_INT(ch, CH0);
    TK_EQ_INT(scb_card_channel(c), CH0);
    TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CGLA);
    TK_EQ_INT(scb_card_modem_cme(c), -1);
    TK_EQ_RC(scb_select_fid(c, 0x5031, SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(read4(c, d), SCB_OK);
    TK_EQ_HEX(d, 4, "A7063004");
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    TK_EQ_INT(scb_card_channel(c), 0);
    TK_CHECK(tk_traced(&t, "# +CCHO " AID_HEX " -> session 3"));
    TK_CHECK(tk_traced(&t, "# +CCHC session 3"));
    TK_CHECK(tk_traced(&t, "A>> 00 70 00 00 01")); /* given to the modem, refused there */
    check_trace_is_wire(&t, s, c);

    TK_EQ_RC(open_app(c, &ch), SCB_OK);
    TK_EQ_INT(ch, CH0);
    scb_fcp_t fcp;
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_FCP, &fcp), SCB_OK);
    TK_EQ_MEM(fcp.aid, fcp.aid_len, PKCS15_AID, 12);
    /* the basic channel still goes through +CSIM */
    TK_EQ_RC(scb_channel_select(c, 0), SCB_OK);
    TK_EQ_RC(scb_select_fid(c, 0x3F00, SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(scb_card_set_trace(c, NULL), SCB_OK);
    scb_card_free(&c); /* the open session is closed */
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* Refusals by ERROR and by SW 6D00 / 6E00 lead there too. */
static void test_refusal_kinds(void)
{
    const char *refusals[] = {"\r\nERROR\r\n", "\r\n+CSIM: 4,\"6D00\"" OK,
                              "\r\n+CSIM: 4,\"6E00\"" OK};
    for (size_t i = 0; i < 3; i++) {
        at_script_t *s = as_new();
        as_add_init(s);
        as_add(s, "AT+CSIM=10,\"0070000001\"", refusals[i]);
        as_add(s, "AT+CCHO=?", OK);
        as_add(s, "AT+CGLA=?", OK);
        as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 7\r\n" OK);
        as_add(s, "AT+CCHC=7", OK);
        scb_card_t *c = card_with(s, SCB_MODEM_CH_AUTO);
        uint8_t ch = 0;
        TK_EQ_RC(open_app(c, &ch), SCB_OK);
        TK_EQ_INT(ch, CH0);
        TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CGLA);
        TK_EQ_RC(scb_channel_close(c), SCB_OK);
        scb_card_free(&c);
        TK_CHECK(as_complete(s));
        as_free(s);
    }
}

/* Refused and no +CCHO/+CGLA: the refusal is the answer, with a hint; the
 * +CME number is the refusal's, not the test command's. Decided once. A
 * channel without an application cannot go the transport's way. */
static void test_refused_without_alternative(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CME ERROR: 3\r\n");
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CME ERROR: 3\r\n");
    as_add(s, "AT+CCHO=?", "\r\n+CME ERROR: 4\r\n");
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CME ERROR: 3\r\n"); /* no second probe */
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CSIM: 4,\"6D00\"" OK);
    scb_card_t *c = card_with(s, SCB_MODEM_CH_AUTO);
    uint8_t ch = 0;
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_E_MODEM_CME);
    CHECK_MSG(scb_card_errmsg(c), "scb_channel_open_app");
    TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_AUTO); /* not decided by that */
    TK_EQ_RC(open_app(c, &ch), SCB_E_MODEM_CME);
    TK_EQ_INT(scb_card_modem_cme(c), 3);
    CHECK_MSG(scb_card_errmsg(c), "AT+CSIM: modem answered +CME ERROR: 3");
    CHECK_MSG(scb_card_errmsg(c), "no AT+CCHO");
    CHECK_MSG(scb_card_errmsg(c), "no_logical_channel");
    TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CSIM);
    TK_EQ_INT(scb_card_channel(c), 0);
    TK_EQ_RC(open_app(c, &ch), SCB_E_MODEM_CME);
    TK_EQ_RC(open_app(c, &ch), SCB_E_STATUS); /* a card status word stays one */
    TK_EQ_INT(scb_card_last_sw(c), 0x6D00);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);

    /* forced +CSIM: no +CCHO at all */
    s = as_new();
    as_add_init(s);
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\nERROR\r\n");
    c = card_with(s, SCB_MODEM_CH_CSIM);
    TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CSIM);
    TK_EQ_RC(open_app(c, &ch), SCB_E_MODEM);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* Forced +CCHO: no MANAGE CHANNEL, no test commands; whatever the session
 * id, the commands reach the modem exactly as the engine built them. */
static void test_cgla_as_built(void)
{
    const char *sessions[] = {"1", "2", "5", "27"};
    for (size_t i = 0; i < SCB_ARRAY_LEN(sessions); i++) {
        at_script_t *s = as_new();
        as_add_init(s);
        char line[96], reply[64];
        snprintf(reply, sizeof(reply), "\r\n+CCHO: %s\r\n" OK, sessions[i]);
        as_add(s, "AT+CCHO=\"" AID_HEX "\"", reply);
        snprintf(line, sizeof(line), "AT+CGLA=%s,10,\"00B0000004\"", sessions[i]);
        as_add(s, line, "\r\n+CGLA: 12,\"010203049000\"" OK);
        snprintf(line, sizeof(line), "AT+CGLA=%s,10,\"80CA006600\"", sessions[i]);
        as_add(s, line, "\r\n+CGLA: 4,\"6A88\"" OK);
        snprintf(line, sizeof(line), "AT+CGLA=%s,10,\"84CA006600\"", sessions[i]);
        as_add(s, line, "\r\n+CGLA: 4,\"6982\"" OK);
        /* a MANAGE CHANNEL of the caller's is an APDU like any: +CGLA */
        snprintf(line, sizeof(line), "AT+CGLA=%s,10,\"0070000001\"", sessions[i]);
        as_add(s, line, "\r\n+CGLA: 4,\"6881\"" OK);
        snprintf(line, sizeof(line), "AT+CCHC=%s", sessions[i]);
        as_add(s, line, OK);
        scb_card_t *c = card_with(s, SCB_MODEM_CH_CGLA);
        TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CGLA);
        uint8_t ch = 0, r[64];
        /* without an application the modem has no way to open a channel */
        TK_EQ_RC(scb_channel_open(c, &ch), SCB_E_UNSUPPORTED);
        CHECK_MSG(scb_card_errmsg(c), "scb_channel_open_app");
        TK_EQ_INT(s->commands, 3);
        TK_EQ_RC(open_app(c, &ch), SCB_OK);
        size_t rl = sizeof(r);
        TK_EQ_RC(xmit(c, "00B0000004", r, &rl), SCB_OK);
        TK_EQ_HEX(r, rl, "010203049000");
        rl = sizeof(r);
        TK_EQ_RC(xmit(c, "80CA006600", r, &rl), SCB_OK);
        TK_EQ_HEX(r, rl, "6A88");
        rl = sizeof(r);
        TK_EQ_RC(scb_card_transmit_plain(c, (const uint8_t *)"\x84\xCA\x00\x66\x00", 5, r,
                                         &rl), SCB_OK);
        TK_EQ_HEX(r, rl, "6982");
        rl = sizeof(r);
        TK_EQ_RC(xmit(c, "0070000001", r, &rl), SCB_OK);
        TK_EQ_HEX(r, rl, "6881"); /* the card's answer, not the transport's */
        TK_EQ_RC(scb_channel_close(c), SCB_OK);
        scb_card_free(&c);
        TK_CHECK(as_complete(s));
        as_free(s);
    }
}

/* +CCHO failures: 22 (not found) is "no such application" from the
 * channel open, not a status word; others are the modem's; a malformed
 * session id is a bad response. Nothing stays open after any of them. */
static void test_ccho_failures(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CCHO=\"A0000000871002\"", "\r\n+CME ERROR: 22\r\n");
    as_add(s, "AT+CCHO=\"A0000000871004\"", "\r\n+CME ERROR: 4\r\n");
    as_add(s, "AT+CCHO=\"A0000000871005\"", "\r\n+CCHO: one\r\n" OK);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 3\r\n" OK);
    as_add(s, "AT+CCHC=3", OK);
    scb_card_t *c = card_with(s, SCB_MODEM_CH_CGLA);
    static tk_trace_t t;
    tk_trace_on(c, &t);
    uint8_t ch = 0x55;
    const uint8_t usim2[7] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02};
    TK_EQ_RC(scb_channel_open_app(c, usim2, 7, &ch), SCB_E_NOT_FOUND);
    CHECK_MSG(scb_card_errmsg(c), "AID A0000000871002: AT+CCHO: modem answered +CME ERROR: "
                                  "22 (not found)");
    TK_EQ_INT(scb_card_last_sw(c), 0); /* no card status word was invented */
    TK_EQ_INT(scb_card_modem_cme(c), 22);
    TK_EQ_INT(scb_card_channel(c), 0);
    TK_EQ_INT(ch, 0);
    const uint8_t usim4[7] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x04};
    TK_EQ_RC(scb_channel_open_app(c, usim4, 7, &ch), SCB_E_MODEM_CME);
    TK_EQ_INT(scb_card_modem_cme(c), 4);
    CHECK_MSG(scb_card_errmsg(c), "logical channel open: AT+CCHO: modem answered +CME ERROR: 4");
    const uint8_t usim5[7] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x05};
    TK_EQ_RC(scb_channel_open_app(c, usim5, 7, &ch), SCB_E_BAD_RESPONSE);
    CHECK_MSG(scb_card_errmsg(c), "AT+CCHO: the session id is not a number");
    TK_EQ_INT(scb_card_channel(c), 0);
    TK_EQ_RC(open_app(c, &ch), SCB_OK);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    TK_CHECK(tk_traced(&t, "# +CCHO A0000000871002 failed (SCB_E_NOT_FOUND)"));
    TK_EQ_INT(scb_card_apdu_count(c), 0); /* channel operations are not APDUs */
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* Answers on a +CGLA channel are the card's or the modem's, never made up:
 * a modem that refuses SELECT through +CGLA fails the SELECT; a T=0 card's
 * 61xx is followed by GET RESPONSE on the channel. */
static void test_cgla_answers(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 1\r\n" OK);
    as_add(s, "AT+CGLA=1,36,\"00A404040C" AID_HEX "00\"", "\r\n+CME ERROR: 4\r\n");
    as_add(s, "AT+CGLA=1,10,\"00B0000004\"", "\r\n+CGLA: 12,\"A70630049000\"" OK);
    as_add(s, "AT+CCHC=1", OK);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 1\r\n" OK);
    as_add(s, "AT+CGLA=1,36,\"00A404040C" AID_HEX "00\"", "\r\n+CGLA: 4,\"6114\"" OK);
    as_add(s, "AT+CGLA=1,10,\"00C0000014\"",
           "\r\n+CGLA: 44,\"621282027821840C" AID_HEX "9000\"" OK);
    as_add(s, "AT+CCHC=1", OK);
    scb_card_t *c = card_with(s, SCB_MODEM_CH_CGLA);
    uint8_t ch = 0, d[4];
    scb_fcp_t fcp;
    TK_EQ_RC(open_app(c, &ch), SCB_OK);
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_FCP, &fcp), SCB_E_MODEM_CME);
    TK_EQ_INT(scb_card_modem_cme(c), 4);
    CHECK_MSG(scb_card_errmsg(c), "AT+CGLA: modem answered +CME ERROR: 4");
    TK_EQ_RC(read4(c, d), SCB_OK); /* the application +CCHO selected is still there */
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    TK_EQ_RC(open_app(c, &ch), SCB_OK);
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_FCP, &fcp), SCB_OK);
    TK_EQ_MEM(fcp.aid, fcp.aid_len, PKCS15_AID, 12);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* Two +CCHO channels at once, by their names on the handle; a close for a
 * channel that is not the handle's goes to the card. */
static void test_two_channels(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 11\r\n" OK);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 12\r\n" OK);
    as_add(s, "AT+CGLA=12,10,\"00B0000004\"", "\r\n+CGLA: 12,\"0A0B0C0D9000\"" OK);
    as_add(s, "AT+CGLA=11,10,\"00B0000004\"", "\r\n+CGLA: 12,\"010203049000\"" OK);
    as_add(s, "AT+CCHC=12", OK);
    as_add(s, "AT+CSIM=8,\"00708003\"", "\r\n+CSIM: 4,\"6881\"" OK);
    as_add(s, "AT+CCHC=11", OK);
    scb_card_t *c = card_with(s, SCB_MODEM_CH_CGLA);
    uint8_t ch1 = 0, ch2 = 0, r[64];
    TK_EQ_RC(open_app(c, &ch1), SCB_OK);
    TK_EQ_RC(scb_channel_select(c, 0), SCB_OK);
    TK_EQ_RC(open_app(c, &ch2), SCB_OK);
    TK_EQ_INT(ch1, CH0);
    TK_EQ_INT(ch2, CH0 + 1);
    TK_EQ_RC(scb_channel_select(c, CH0 + 2), SCB_E_INVALID_ARG); /* not open */
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000004", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "0A0B0C0D9000");
    TK_EQ_RC(scb_channel_select(c, ch1), SCB_OK);
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000004", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "010203049000");
    TK_EQ_RC(scb_channel_select(c, ch2), SCB_OK);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    TK_EQ_RC(scb_channel_select(c, 3), SCB_OK);
    TK_EQ_RC(scb_channel_close(c), SCB_E_NO_CHANNEL);
    TK_EQ_RC(scb_channel_select(c, ch1), SCB_OK);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* Channels the handle left open are closed at free (MANAGE CHANNEL close
 * through +CSIM for the card's, +CCHC for the transport's); not when the
 * modem is gone, and only one wait when it stopped answering. */
static void test_close_at_free(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CSIM: 6,\"019000\"" OK);
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CSIM: 6,\"029000\"" OK);
    as_add(s, "AT+CSIM=8,\"00708001\"", "\r\n+CSIM: 4,\"9000\"" OK);
    as_add(s, "AT+CSIM=8,\"00708002\"", "\r\n+CSIM: 4,\"9000\"" OK);
    scb_card_t *c = card_with(s, SCB_MODEM_CH_AUTO);
    uint8_t ch = 0;
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_RC(scb_channel_select(c, 0), SCB_OK);
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);

    /* gone: nothing is sent at free */
    s = as_new();
    as_add_init(s);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 1\r\n" OK);
    as_add_error(s, "AT+CGLA=1,10,\"00B0000004\"", "", SCB_E_CARD_REMOVED);
    c = card_with(s, SCB_MODEM_CH_CGLA);
    uint8_t r[64];
    TK_EQ_RC(open_app(c, &ch), SCB_OK);
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000004", r, &rl), SCB_E_CARD_REMOVED);
    TK_EQ_INT(scb_card_channel(c), 0); /* the engine forgot the channel */
    unsigned long writes = s->writes;
    scb_card_free(&c);
    TK_EQ_INT(s->writes, writes);
    TK_CHECK(as_complete(s));
    as_free(s);

    /* silent: one timeout, not one per channel */
    s = as_new();
    as_add_init(s);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 1\r\n" OK);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 2\r\n" OK);
    as_add(s, "AT+CCHC=1", NULL);
    c = card_with(s, SCB_MODEM_CH_CGLA);
    TK_EQ_RC(open_app(c, &ch), SCB_OK);
    TK_EQ_RC(open_app(c, &ch), SCB_OK);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* mac_cla_as_sent puts the CLA's channel bits into the MAC: on a channel
 * whose number only the modem knows, refused before anything is sent. */
static void test_mac_cla_as_sent_unknown_channel(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 4\r\n" OK);
    as_add(s, "AT+CCHC=4", OK);
    scb_card_t *c = card_with(s, SCB_MODEM_CH_CGLA);
    uint8_t ch = 0;
    TK_EQ_RC(open_app(c, &ch), SCB_OK);
    const uint8_t k[16] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                           0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F};
    scb_keys_t *keys = NULL;
    TK_EQ_RC(scb_keys_new(&keys, k, k, k, 16, 0x30), SCB_OK);
    scb_opts_t *o = NULL;
    TK_EQ_RC(scb_opts_new(&o), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_MAC_CLA_AS_SENT, 1), SCB_OK);
    const unsigned long before = s->commands;
    TK_EQ_RC(scb_scp03_open(c, keys, o), SCB_E_UNSUPPORTED);
    CHECK_MSG(scb_card_errmsg(c), "mac_cla_as_sent");
    TK_EQ_INT(s->commands, before);
    TK_EQ_INT(scb_card_apdu_count(c), 0);
    scb_opts_free(&o);
    scb_keys_free(&keys);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

int main(void)
{
    TK_RUN(test_passthrough);
    TK_RUN(test_fallback_after_refusal);
    TK_RUN(test_refusal_kinds);
    TK_RUN(test_refused_without_alternative);
    TK_RUN(test_cgla_as_built);
    TK_RUN(test_ccho_failures);
    TK_RUN(test_cgla_answers);
    TK_RUN(test_two_channels);
    TK_RUN(test_close_at_free);
    TK_RUN(test_mac_cla_as_sent_unknown_channel);
    return tk_done();
}
