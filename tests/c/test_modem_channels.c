/*
 * Logical channels through the modem transport (strategy in scboot.h):
 * MANAGE CHANNEL passed through +CSIM, emulated with +CCHO/+CGLA/+CCHC
 * after a refusal (ERROR, +CME ERROR, SW 6D00) or when forced, the CLA
 * channel bits for session ids, +CCHO failures, SELECT answers, GET
 * RESPONSE on an emulated channel, and channels closed at free.
 */
#include "at_script.h"
#include "internal.h"
#include "testkit.h"

static const uint8_t PKCS15_AID[12] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                       0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};
#define AID_HEX "A000000063504B43532D3135"
#define OK "\r\nOK\r\n"

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
    scb_card_t *c = card_with(s, SCB_MODEM_CH_AUTO);
    uint8_t ch = 0, d[4];
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_INT(ch, 1);
    TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CSIM);
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(scb_select_fid(c, 0x5031, SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(read4(c, d), SCB_OK);
    TK_EQ_HEX(d, 4, "A7063004");
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    TK_CHECK(as_complete(s));
    scb_card_free(&c); /* nothing left to close */
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* Refused with +CME ERROR: 3, the modem has +CCHO/+CGLA: emulate. */
static void test_emulated_after_refusal(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CME ERROR: 3\r\n");
    as_add(s, "AT+CCHO=?", OK);
    as_add(s, "AT+CGLA=?", OK);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 1\r\n" OK);
    as_add(s, "AT+CGLA=1,14,\"01A4000C025031\"", "\r\n+CGLA: 4,\"9000\"" OK);
    as_add(s, "AT+CGLA=1,10,\"01B0000004\"", "\r\n+CGLA: 12,\"A70630049000\"" OK);
    as_add(s, "AT+CCHC=1", OK);
    /* second round: no probe, no +CSIM; SELECT with FCP sent again on the
     * channel; +CCHO answers a bare session id (27.007 8.45) */
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n1\r\n" OK);
    as_add(s, "AT+CGLA=1,36,\"01A404040C" AID_HEX "00\"",
           "\r\n+CGLA: 44,\"621282027821840C" AID_HEX "9000\"" OK);
    as_add(s, "AT+CSIM=14,\"00A4000C023F00\"", "\r\n+CSIM: 4,\"9000\"" OK);
    as_add(s, "AT+CCHC=1", OK); /* at free */
    scb_card_t *c = card_with(s, SCB_MODEM_CH_AUTO);
    uint8_t ch = 0, d[4];
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_INT(ch, 1);
    TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CGLA);
    TK_EQ_INT(scb_card_modem_cme(c), -1);
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(scb_select_fid(c, 0x5031, SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(read4(c, d), SCB_OK);
    TK_EQ_HEX(d, 4, "A7063004");
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    TK_EQ_INT(scb_card_channel(c), 0);

    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_INT(ch, 1);
    scb_fcp_t fcp;
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_FCP, &fcp), SCB_OK);
    TK_EQ_MEM(fcp.aid, fcp.aid_len, PKCS15_AID, 12);
    /* the basic channel still goes through +CSIM */
    TK_EQ_RC(scb_channel_select(c, 0), SCB_OK);
    TK_EQ_RC(scb_select_fid(c, 0x3F00, SCB_SEL_NO_RESP, NULL), SCB_OK);
    scb_card_free(&c); /* the open session is closed */
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* Refusals by ERROR and by SW 6D00 / 6E00 lead to emulation too. */
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
        scb_card_t *c = card_with(s, SCB_MODEM_CH_AUTO);
        uint8_t ch = 0;
        TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
        TK_EQ_INT(ch, 1);
        TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CGLA);
        TK_EQ_RC(scb_channel_close(c), SCB_OK); /* pending: nothing reaches the modem */
        scb_card_free(&c);
        TK_CHECK(as_complete(s));
        as_free(s);
    }
}

/* Refused and no +CCHO/+CGLA: the refusal is the answer, with a hint; the
 * +CME number is the refusal's, not the probe's. Decided once. */
static void test_refused_without_alternative(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CME ERROR: 3\r\n");
    as_add(s, "AT+CCHO=?", "\r\n+CME ERROR: 4\r\n");
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CME ERROR: 3\r\n"); /* no second probe */
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\n+CSIM: 4,\"6D00\"" OK);
    scb_card_t *c = card_with(s, SCB_MODEM_CH_AUTO);
    uint8_t ch = 0;
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_E_MODEM_CME);
    TK_EQ_INT(scb_card_modem_cme(c), 3);
    CHECK_MSG(scb_card_errmsg(c), "AT+CSIM: modem answered +CME ERROR: 3");
    CHECK_MSG(scb_card_errmsg(c), "no_logical_channel");
    TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CSIM);
    TK_EQ_INT(scb_card_channel(c), 0);
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_E_MODEM_CME);
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_E_STATUS); /* a card status word stays one */
    TK_EQ_INT(scb_card_last_sw(c), 0x6D00);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);

    /* forced +CSIM: no probe at all */
    s = as_new();
    as_add_init(s);
    as_add(s, "AT+CSIM=10,\"0070000001\"", "\r\nERROR\r\n");
    c = card_with(s, SCB_MODEM_CH_CSIM);
    TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CSIM);
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_E_MODEM);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* Forced emulation; the session id decides the CLA channel bits. */
static void test_session_ids_and_cla(void)
{
    struct {
        const char *session;
        const char *cgla_read;   /* READ BINARY as sent for a CLA 00 command */
        const char *cgla_gp;     /* 80 CA 00 66 00 (GP class) */
        const char *cgla_sm;     /* 84 ... (GP class with SM indication) */
    } cases[] = {
        {"1", "AT+CGLA=1,10,\"01B0000004\"", "AT+CGLA=1,10,\"81CA006600\"",
         "AT+CGLA=1,10,\"85CA006600\""},
        {"2", "AT+CGLA=2,10,\"02B0000004\"", "AT+CGLA=2,10,\"82CA006600\"",
         "AT+CGLA=2,10,\"86CA006600\""},
        {"5", "AT+CGLA=5,10,\"41B0000004\"", "AT+CGLA=5,10,\"C1CA006600\"",
         "AT+CGLA=5,10,\"E1CA006600\""},
        /* not a channel number: the CLA goes as the engine built it */
        {"27", "AT+CGLA=27,10,\"01B0000004\"", "AT+CGLA=27,10,\"81CA006600\"",
         "AT+CGLA=27,10,\"85CA006600\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        at_script_t *s = as_new();
        as_add_init(s);
        char reply[64];
        snprintf(reply, sizeof(reply), "\r\n+CCHO: %s\r\n" OK, cases[i].session);
        as_add(s, "AT+CCHO=\"" AID_HEX "\"", reply);
        as_add(s, cases[i].cgla_read, "\r\n+CGLA: 12,\"010203049000\"" OK);
        as_add(s, cases[i].cgla_gp, "\r\n+CGLA: 4,\"6A88\"" OK);
        as_add(s, cases[i].cgla_sm, "\r\n+CGLA: 4,\"6982\"" OK);
        char cchc[32];
        snprintf(cchc, sizeof(cchc), "AT+CCHC=%s", cases[i].session);
        as_add(s, cchc, OK);
        scb_card_t *c = card_with(s, SCB_MODEM_CH_CGLA);
        TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_CGLA);
        uint8_t ch = 0, r[64];
        TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
        TK_EQ_INT(ch, 1);
        TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_NO_RESP, NULL), SCB_OK);
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
        TK_EQ_RC(scb_channel_close(c), SCB_OK);
        scb_card_free(&c);
        TK_CHECK(as_complete(s));
        as_free(s);
    }
}

/* +CCHO failures: 22 (not found) is the card's 6A82; others are the
 * modem's; a malformed session id is a bad response. The channel stays
 * waiting for a SELECT that works. */
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
    uint8_t ch = 0;
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    const uint8_t usim2[7] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02};
    TK_EQ_RC(scb_select_aid(c, usim2, 7, SCB_SEL_NO_RESP, NULL), SCB_E_NOT_FOUND);
    TK_EQ_INT(scb_card_last_sw(c), 0x6A82);
    const uint8_t usim4[7] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x04};
    TK_EQ_RC(scb_select_aid(c, usim4, 7, SCB_SEL_NO_RESP, NULL), SCB_E_MODEM_CME);
    TK_EQ_INT(scb_card_modem_cme(c), 4);
    CHECK_MSG(scb_card_errmsg(c), "AT+CCHO: modem answered +CME ERROR: 4");
    const uint8_t usim5[7] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x05};
    TK_EQ_RC(scb_select_aid(c, usim5, 7, SCB_SEL_NO_RESP, NULL), SCB_E_BAD_RESPONSE);
    CHECK_MSG(scb_card_errmsg(c), "AT+CCHO: the session id is not a number");
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* What a pending channel cannot do, and SELECT variants on it. */
static void test_pending_channel_rules(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    scb_card_t *c = card_with(s, SCB_MODEM_CH_CGLA);
    uint8_t ch = 0, r[64];
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_RC(scb_select_fid(c, 0x5031, SCB_SEL_NO_RESP, NULL), SCB_E_UNSUPPORTED);
    CHECK_MSG(scb_card_errmsg(c), "the first command on it must be SELECT by AID");
    size_t rl = sizeof(r);
    /* next occurrence: nothing to continue */
    TK_EQ_RC(xmit(c, "00A4040E0CA000000063504B43532D3135", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "6A86");
    /* AID longer than 16 bytes */
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4040C11A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "6700");
    /* MANAGE CHANNEL for a given number: not emulated */
    rl = sizeof(r);
    TK_EQ_RC(scb_card_transmit(c, (const uint8_t *)"\x00\x70\x00\x02", 4, r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "6A81");
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    TK_EQ_INT(s->commands, 3); /* only the open sequence reached the modem */
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* SELECT with FCP: the modem refuses SELECT through +CGLA (the application
 * is selected, no FCP), or the card is T=0 (61xx, GET RESPONSE on the
 * channel through +CGLA). */
static void test_select_answers(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 1\r\n" OK);
    as_add(s, "AT+CGLA=1,36,\"01A404040C" AID_HEX "00\"", "\r\n+CME ERROR: 4\r\n");
    as_add(s, "AT+CGLA=1,10,\"01B0000004\"", "\r\n+CGLA: 12,\"A70630049000\"" OK);
    as_add(s, "AT+CCHC=1", OK);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 1\r\n" OK);
    as_add(s, "AT+CGLA=1,36,\"01A404040C" AID_HEX "00\"", "\r\n+CGLA: 4,\"6114\"" OK);
    as_add(s, "AT+CGLA=1,10,\"01C0000014\"",
           "\r\n+CGLA: 44,\"621282027821840C" AID_HEX "9000\"" OK);
    as_add(s, "AT+CCHC=1", OK);
    scb_card_t *c = card_with(s, SCB_MODEM_CH_CGLA);
    uint8_t ch = 0, d[4];
    scb_fcp_t fcp;
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_FCP, &fcp), SCB_OK);
    TK_EQ_INT(fcp.aid_len, 0);
    TK_EQ_INT(scb_card_last_sw(c), 0x9000);
    TK_EQ_RC(read4(c, d), SCB_OK);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_FCP, &fcp), SCB_OK);
    TK_EQ_MEM(fcp.aid, fcp.aid_len, PKCS15_AID, 12);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* Two emulated channels at once; a close for a channel that is not ours
 * goes to the card. */
static void test_two_channels(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 1\r\n" OK);
    as_add(s, "AT+CCHO=\"" AID_HEX "\"", "\r\n+CCHO: 2\r\n" OK);
    as_add(s, "AT+CGLA=2,10,\"02B0000004\"", "\r\n+CGLA: 12,\"0A0B0C0D9000\"" OK);
    as_add(s, "AT+CGLA=1,10,\"01B0000004\"", "\r\n+CGLA: 12,\"010203049000\"" OK);
    as_add(s, "AT+CCHC=2", OK);
    as_add(s, "AT+CSIM=8,\"00708003\"", "\r\n+CSIM: 4,\"6881\"" OK);
    as_add(s, "AT+CCHC=1", OK);
    scb_card_t *c = card_with(s, SCB_MODEM_CH_CGLA);
    uint8_t ch1 = 0, ch2 = 0, r[64];
    TK_EQ_RC(scb_channel_open(c, &ch1), SCB_OK);
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(scb_channel_select(c, 0), SCB_OK);
    TK_EQ_RC(scb_channel_open(c, &ch2), SCB_OK);
    TK_EQ_INT(ch1, 1);
    TK_EQ_INT(ch2, 2);
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_NO_RESP, NULL), SCB_OK);
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000004", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "0A0B0C0D9000");
    TK_EQ_RC(scb_channel_select(c, 1), SCB_OK);
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000004", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "010203049000");
    TK_EQ_RC(scb_channel_select(c, 2), SCB_OK);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    TK_EQ_RC(scb_channel_select(c, 3), SCB_OK);
    TK_EQ_RC(scb_channel_close(c), SCB_E_NO_CHANNEL);
    TK_EQ_RC(scb_channel_select(c, 1), SCB_OK);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

/* Channels still open at free are closed (+CSIM MANAGE CHANNEL close for
 * passed-through ones, +CCHC for sessions); not when the modem is gone, and
 * only one wait when it stopped answering. */
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
    as_add_error(s, "AT+CGLA=1,10,\"01B0000004\"", "", SCB_E_CARD_REMOVED);
    c = card_with(s, SCB_MODEM_CH_CGLA);
    uint8_t r[64];
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_NO_RESP, NULL), SCB_OK);
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
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(scb_channel_select(c, 0), SCB_OK);
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_RC(scb_select_aid(c, PKCS15_AID, 12, SCB_SEL_NO_RESP, NULL), SCB_OK);
    scb_card_free(&c);
    TK_CHECK(as_complete(s));
    as_free(s);
}

int main(void)
{
    TK_RUN(test_passthrough);
    TK_RUN(test_emulated_after_refusal);
    TK_RUN(test_refusal_kinds);
    TK_RUN(test_refused_without_alternative);
    TK_RUN(test_session_ids_and_cla);
    TK_RUN(test_ccho_failures);
    TK_RUN(test_pending_channel_rules);
    TK_RUN(test_select_answers);
    TK_RUN(test_two_channels);
    TK_RUN(test_close_at_free);
    return tk_done();
}
