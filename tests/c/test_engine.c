/*
 * The APDU engine through the scripted transport: cases 1-4, 61xx GET
 * RESPONSE, 6Cxx resend, logical channels, SELECT, READ/UPDATE BINARY
 * loops, READ RECORD, hostile responses and every error path.
 */
#include "internal.h"
#include "testkit.h"

static int xmit(scb_card_t *card, const char *hex, uint8_t *resp, size_t *rlen)
{
    uint8_t cmd[600];
    size_t n = tk_unhex(hex, cmd, sizeof(cmd));
    return scb_card_transmit(card, cmd, n, resp, rlen);
}

static void test_cases_and_sw(void)
{
    tk_script_t *s = tk_script_new();
    tk_script_add(s, "00A40000", "9000");
    tk_script_add(s, "00B0000004", "010203049000");
    tk_script_add(s, "00D6000002AABB", "6A82");
    tk_script_add(s, "00A4040402AABB00", "6F0284009000");
    scb_card_t *c = tk_card(s);
    uint8_t r[300];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A40000", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "9000");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000004", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "010203049000");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00D6000002AABB", r, &rl), SCB_OK); /* any SW is success here */
    TK_EQ_HEX(r, rl, "6A82");
    TK_EQ_INT(scb_card_last_sw(c), 0x6A82);
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4040402AABB00", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "6F0284009000");
    TK_CHECK(tk_script_complete(s));
    TK_EQ_INT(scb_card_apdu_count(c), 4);
    /* malformed command bytes are refused before the wire */
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4040C05AA", r, &rl), SCB_E_INVALID_ARG);
    TK_EQ_INT(scb_card_apdu_count(c), 4);
    scb_card_free(&c);
    TK_CHECK(c == NULL);
    scb_card_free(&c); /* NULL-safe */
    scb_card_free(NULL);
    tk_script_free(s);
}

static void test_get_response(void)
{
    tk_script_t *s = tk_script_new();
    /* T=0 style case 4: 61xx then GET RESPONSE, twice, data concatenated */
    tk_script_add(s, "00A4040402A0B100", "6105");
    tk_script_add(s, "00C0000005", "01020304056103");
    tk_script_add(s, "00C0000003", "0607089000");
    scb_card_t *c = tk_card(s);
    uint8_t r[300];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4040402A0B100", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "0102030405060708 9000");
    TK_CHECK(tk_script_complete(s));
    TK_EQ_INT(scb_card_apdu_count(c), 3);
    scb_card_free(&c);
    tk_script_free(s);
}

static void test_get_response_on_channel(void)
{
    tk_script_t *s = tk_script_new();
    tk_script_add(s, "0070000001", "039000");
    tk_script_add(s, "03B0000000", "6100");          /* 61 00 = 256 more */
    char big[2 * 256 + 5];
    for (int i = 0; i < 256; i++)
        sprintf(big + 2 * i, "%02X", i);
    strcat(big, "9000");
    tk_script_add(s, "03C0000000", big);           /* GET RESPONSE on channel 3 */
    tk_script_add(s, "00708003", "9000");          /* the channel left open, closed at free */
    scb_card_t *c = tk_card(s);
    uint8_t ch = 0;
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_INT(ch, 3);
    uint8_t r[300];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000000", r, &rl), SCB_OK);
    TK_EQ_INT(rl, 258);
    TK_EQ_INT(r[255], 255);
    scb_card_free(&c);
    TK_CHECK(tk_script_complete(s));
    tk_script_free(s);
}

static void test_6c_resend(void)
{
    tk_script_t *s = tk_script_new();
    tk_script_add(s, "00B0000000", "6C10");
    tk_script_add(s, "00B0000010", "000102030405060708090A0B0C0D0E0F9000");
    scb_card_t *c = tk_card(s);
    uint8_t r[300];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000000", r, &rl), SCB_OK);
    TK_EQ_INT(rl, 18);
    TK_CHECK(tk_script_complete(s));
    scb_card_free(&c);
    tk_script_free(s);
}

static void test_hostile(void)
{
    uint8_t r[300];
    size_t rl;
    /* 61xx forever: bounded, own error code */
    tk_script_t *s = tk_script_new();
    s->quiet = true;
    tk_script_add(s, "00B0000000", "6101");
    for (int i = 0; i < SCB__MAX_GET_RESPONSE_ROUNDS + 5; i++)
        tk_script_add(s, NULL, "AA6101");
    scb_card_t *c = tk_card(s);
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000000", r, &rl), SCB_E_GET_RESPONSE_LIMIT);
    TK_CHECK(strstr(scb_card_errmsg(c), "61xx") != NULL);
    TK_EQ_INT(scb_card_apdu_count(c), SCB__MAX_GET_RESPONSE_ROUNDS + 1);
    scb_card_free(&c);
    tk_script_free(s);

    /* 6Cxx loop: bounded */
    s = tk_script_new();
    s->quiet = true;
    for (int i = 0; i < 10; i++)
        tk_script_add(s, NULL, "6C05");
    c = tk_card(s);
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000000", r, &rl), SCB_E_GET_RESPONSE_LIMIT);
    TK_EQ_INT(scb_card_apdu_count(c), 1 + SCB__MAX_6C_RESENDS);
    scb_card_free(&c);
    tk_script_free(s);

    /* responses without a status word */
    s = tk_script_new();
    tk_script_add(s, NULL, "");
    tk_script_add(s, NULL, "90");
    c = tk_card(s);
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000000", r, &rl), SCB_E_BAD_RESPONSE);
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000000", r, &rl), SCB_E_BAD_RESPONSE);
    scb_card_free(&c);
    tk_script_free(s);

    /* GET RESPONSE growing past the engine bound */
    s = tk_script_new();
    s->quiet = true;
    char big[2 * 255 + 5];
    for (int i = 0; i < 255; i++)
        sprintf(big + 2 * i, "%02X", 0x55);
    strcat(big, "6100");
    tk_script_add(s, NULL, "6100");
    for (int i = 0; i < SCB__MAX_GET_RESPONSE_ROUNDS + 10; i++)
        tk_script_add(s, NULL, big);
    c = tk_card(s);
    uint8_t *huge = malloc(SCB__RESP_MAX);
    rl = SCB__RESP_MAX;
    int rc = xmit(c, "00B0000000", huge, &rl);
    TK_CHECK(rc == SCB_E_BAD_RESPONSE || rc == SCB_E_GET_RESPONSE_LIMIT);
    free(huge);
    scb_card_free(&c);
    tk_script_free(s);

    /* response larger than the caller's buffer */
    s = tk_script_new();
    tk_script_add(s, NULL, "0102030405069000");
    c = tk_card(s);
    rl = 4;
    TK_EQ_RC(xmit(c, "00B0000000", r, &rl), SCB_E_BUFFER_TOO_SMALL);
    TK_EQ_INT(rl, 8);
    scb_card_free(&c);
    tk_script_free(s);
}

static void test_transport_errors(void)
{
    static const int codes[] = {SCB_E_CARD_REMOVED, SCB_E_NO_SERVICE, SCB_E_TIMEOUT,
                                SCB_E_CARD_RESET, SCB_E_TRANSPORT};
    for (size_t i = 0; i < SCB_ARRAY_LEN(codes); i++) {
        tk_script_t *s = tk_script_new();
        tk_script_add(s, "0070000001", "019000");
        tk_script_add_error(s, NULL, codes[i]);
        const bool lost = codes[i] == SCB_E_CARD_RESET || codes[i] == SCB_E_CARD_REMOVED;
        if (!lost)
            tk_script_add(s, "00708001", "9000"); /* still open: closed at free */
        scb_card_t *c = tk_card(s);
        uint8_t ch;
        TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
        uint8_t r[16];
        size_t rl = sizeof(r);
        TK_EQ_RC(xmit(c, "00B0000000", r, &rl), codes[i]);
        TK_CHECK(strlen(scb_card_errmsg(c)) > 0);
        /* reset/removal: the card lost its channels */
        if (lost)
            TK_EQ_INT(scb_card_channel(c), 0);
        else
            TK_EQ_INT(scb_card_channel(c), 1);
        scb_card_free(&c);
        TK_CHECK(tk_script_complete(s)); /* a lost channel is not closed */
        tk_script_free(s);
    }
    /* a transport returning a nonsense code is normalised */
    tk_script_t *s = tk_script_new();
    tk_script_add_error(s, NULL, 7);
    scb_card_t *c = tk_card(s);
    uint8_t r[16];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000000", r, &rl), SCB_E_TRANSPORT);
    scb_card_free(&c);
    tk_script_free(s);
}

static void test_channels(void)
{
    tk_script_t *s = tk_script_new();
    tk_script_add(s, "0070000001", "059000");    /* channel 5: further interindustry */
    tk_script_add(s, "41A4040C02AABB", "9000");   /* 00 -> 41 on channel 5 */
    tk_script_add(s, "C1CA006600", "019000");     /* 80 -> C1 */
    tk_script_add(s, "00708005", "9000");         /* close from channel 0: case 1 */
    tk_script_add(s, "0070000001", "6A81");       /* none left */
    tk_script_add(s, "0070000001", "009000");     /* channel 0 is not a valid answer */
    tk_script_add(s, "0070000001", "01029000");   /* two bytes: not a channel number */
    scb_card_t *c = tk_card(s);
    uint8_t ch = 0;
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_OK);
    TK_EQ_INT(ch, 5);
    TK_EQ_INT(scb_card_channel(c), 5);
    const uint8_t aid[] = {0xAA, 0xBB};
    TK_EQ_RC(scb_select_aid(c, aid, 2, SCB_SEL_NO_RESP, NULL), SCB_OK);
    uint8_t r[16];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "80CA006600", r, &rl), SCB_OK);
    TK_EQ_RC(scb_channel_close(c), SCB_OK);
    TK_EQ_INT(scb_card_channel(c), 0);
    TK_EQ_RC(scb_channel_close(c), SCB_E_STATE);
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_E_NO_CHANNEL);
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_E_BAD_RESPONSE);
    TK_EQ_RC(scb_channel_open(c, &ch), SCB_E_BAD_RESPONSE);
    TK_CHECK(tk_script_complete(s));
    TK_EQ_RC(scb_channel_select(c, 20), SCB_E_INVALID_ARG);
    scb_card_free(&c);
    tk_script_free(s);
}

static void test_select(void)
{
    tk_script_t *s = tk_script_new();
    tk_script_add(s, "00A4000402643200", "621C82024121830264 32A506C00100DE01008A01058B036F06018002040 09000");
    tk_script_add(s, "00A4080C022F00", "9000");           /* path from MF, 3F00 stripped */
    tk_script_add(s, "00A4090C047FFF6432", "9000");       /* path from current DF */
    tk_script_add(s, "00A40004023F0000", "6A82");
    tk_script_add(s, "00A4040602A0B100", "9000");         /* next occurrence, no FCP data */
    tk_script_add(s, "00A4000402643200", "6205 820141 9000"); /* hostile FCP */
    scb_card_t *c = tk_card(s);
    scb_fcp_t f;
    TK_EQ_RC(scb_select_fid(c, 0x6432, SCB_SEL_FCP, &f), SCB_OK);
    TK_EQ_INT(f.file_size, 1024);
    const uint8_t p1[] = {0x3F, 0x00, 0x2F, 0x00};
    TK_EQ_RC(scb_select_path(c, p1, 4, 1, SCB_SEL_NO_RESP, NULL), SCB_OK);
    const uint8_t p2[] = {0x7F, 0xFF, 0x64, 0x32};
    TK_EQ_RC(scb_select_path(c, p2, 4, 0, SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(scb_select_fid(c, 0x3F00, SCB_SEL_FCP, &f), SCB_E_NOT_FOUND);
    TK_CHECK(strstr(scb_card_errmsg(c), "6A82") != NULL);
    const uint8_t aid[] = {0xA0, 0xB1};
    TK_EQ_RC(scb_select_aid(c, aid, 2, SCB_SEL_NEXT, &f), SCB_OK);
    TK_EQ_RC(scb_select_fid(c, 0x6432, SCB_SEL_FCP, &f), SCB_E_PARSE);
    TK_CHECK(tk_script_complete(s));
    const uint8_t odd[] = {0x3F};
    TK_EQ_RC(scb_select_path(c, odd, 1, 1, 0, NULL), SCB_E_INVALID_ARG);
    scb_card_free(&c);
    tk_script_free(s);
}

static char *hexrun(int start, int n, const char *sw)
{
    char *h = malloc((size_t)n * 2 + 8);
    for (int i = 0; i < n; i++)
        sprintf(h + 2 * i, "%02X", (start + i) & 0xFF);
    strcpy(h + 2 * n, sw);
    return h;
}

static void test_read_binary(void)
{
    /* 600 bytes of known size: 256 + 256 + 88 */
    tk_script_t *s = tk_script_new();
    char *h;
    tk_script_add(s, "00B0000000", h = hexrun(0, 256, "9000")); free(h);
    tk_script_add(s, "00B0010000", h = hexrun(256, 256, "9000")); free(h);
    tk_script_add(s, "00B0020058", h = hexrun(512, 88, "9000")); free(h);
    scb_card_t *c = tk_card(s);
    uint8_t buf[SCB_MAX_FILE_SIZE];
    size_t len = sizeof(buf);
    TK_EQ_RC(scb_read_binary(c, 600, buf, &len), SCB_OK);
    TK_EQ_INT(len, 600);
    TK_EQ_INT(buf[599], (599 & 0xFF));
    TK_CHECK(tk_script_complete(s));
    scb_card_free(&c);
    tk_script_free(s);

    /* unknown size: read until 6282 / 6B00 / short chunk */
    s = tk_script_new();
    tk_script_add(s, "00B0000000", h = hexrun(0, 256, "9000")); free(h);
    tk_script_add(s, "00B0010000", h = hexrun(0, 10, "6282")); free(h);
    c = tk_card(s);
    len = sizeof(buf);
    TK_EQ_RC(scb_read_binary(c, 0, buf, &len), SCB_OK);
    TK_EQ_INT(len, 266);
    scb_card_free(&c);
    tk_script_free(s);

    s = tk_script_new();
    tk_script_add(s, "00B0000000", h = hexrun(0, 256, "9000")); free(h);
    tk_script_add(s, "00B0010000", "6B00");
    c = tk_card(s);
    len = sizeof(buf);
    TK_EQ_RC(scb_read_binary(c, 0, buf, &len), SCB_OK);
    TK_EQ_INT(len, 256);
    scb_card_free(&c);
    tk_script_free(s);

    /* errors: security status, card sends more than asked, no data */
    s = tk_script_new();
    tk_script_add(s, "00B0000010", "6982");
    tk_script_add(s, "00B0000004", "01020304059000");
    tk_script_add(s, "00B0000004", "9000");
    c = tk_card(s);
    len = sizeof(buf);
    TK_EQ_RC(scb_read_binary(c, 16, buf, &len), SCB_E_SECURITY_STATUS);
    len = sizeof(buf);
    TK_EQ_RC(scb_read_binary(c, 4, buf, &len), SCB_E_BAD_RESPONSE);
    len = sizeof(buf);
    TK_EQ_RC(scb_read_binary(c, 4, buf, &len), SCB_E_BAD_RESPONSE);
    len = sizeof(buf);
    TK_EQ_RC(scb_read_binary(c, SCB_MAX_FILE_SIZE + 1, buf, &len), SCB_E_FILE_TOO_LARGE);
    len = 10;
    TK_EQ_RC(scb_read_binary(c, 20, buf, &len), SCB_E_BUFFER_TOO_SMALL);
    TK_EQ_INT(len, 20);
    scb_card_free(&c);
    tk_script_free(s);

}

static int ext_responder(tk_script_t *s, const uint8_t *cmd, size_t len, uint8_t *resp,
                         size_t *resp_len)
{
    scb_apdu_t a;
    if (scb__apdu_parse(cmd, len, &a) != 0 || a.ins != 0xB0)
        return SCB_E_TRANSPORT;
    size_t off = (size_t)a.p1 << 8 | a.p2;
    s->pos++;
    if (*resp_len < a.ne + 2)
        return SCB_E_BUFFER_TOO_SMALL;
    for (size_t i = 0; i < a.ne; i++)
        resp[i] = (uint8_t)((off + i) * 7);
    resp[a.ne] = 0x90;
    resp[a.ne + 1] = 0x00;
    *resp_len = a.ne + 2;
    return 0;
}

static void test_read_binary_extended(void)
{
    tk_script_t *s = tk_script_new();
    s->flags = SCB_TP_EXTENDED_LENGTH;
    s->responder = ext_responder;
    scb_card_t *c = tk_card(s);
    static uint8_t buf[SCB_MAX_FILE_SIZE];
    size_t len = sizeof(buf);
    TK_EQ_RC(scb_read_binary(c, SCB_MAX_FILE_SIZE, buf, &len), SCB_OK);
    TK_EQ_INT(len, SCB_MAX_FILE_SIZE);
    TK_EQ_INT(s->pos, SCB_MAX_FILE_SIZE / 4096);
    TK_EQ_INT(buf[32767], (uint8_t)(32767 * 7));
    scb_card_free(&c);
    tk_script_free(s);
}

static void test_read_record_update(void)
{
    tk_script_t *s = tk_script_new();
    tk_script_add(s, "00B2010400", "61104F0CA000000063504B43532D3135FFFF9000");
    tk_script_add(s, "00B2050400", "6A83");
    char *h = hexrun(0, 255, "");
    char cmd[600];
    sprintf(cmd, "00D60000FF%s", h);
    tk_script_add(s, cmd, "9000");
    free(h);
    tk_script_add(s, "00D600FF0301020 3", "9000");
    tk_script_add(s, "00D6000001AA", "6982");
    scb_card_t *c = tk_card(s);
    uint8_t r[256];
    size_t rl = sizeof(r);
    TK_EQ_RC(scb_read_record(c, 1, r, &rl), SCB_OK);
    TK_EQ_INT(rl, 18);
    rl = sizeof(r);
    TK_EQ_RC(scb_read_record(c, 5, r, &rl), SCB_E_NOT_FOUND);
    uint8_t data[258];
    for (int i = 0; i < 258; i++)
        data[i] = (uint8_t)i;
    data[255] = 1; data[256] = 2; data[257] = 3;
    TK_EQ_RC(scb_update_binary(c, 0, data, 258), SCB_OK);
    TK_EQ_RC(scb_update_binary(c, 0, data + 170, 1), SCB_E_SECURITY_STATUS);
    TK_CHECK(tk_script_complete(s));
    TK_EQ_RC(scb_update_binary(c, SCB_MAX_FILE_SIZE - 1, data, 2), SCB_E_FILE_TOO_LARGE);
    scb_card_free(&c);
    tk_script_free(s);
}

static void test_verify(void)
{
    tk_script_t *s = tk_script_new();
    tk_script_add(s, "0020000108 31323334FFFFFFFF", "9000");
    tk_script_add(s, "0020000108 31323335FFFFFFFF", "63C2");
    tk_script_add(s, "0020000108 31323335FFFFFFFF", "63C1");
    tk_script_add(s, "0020000108 31323335FFFFFFFF", "63C0");
    tk_script_add(s, "0020000108 31323335FFFFFFFF", "6983");
    scb_card_t *c = tk_card(s);
    TK_EQ_RC(scb_verify_pin(c, 1, (const uint8_t *)"1234", 4), SCB_OK);
    TK_EQ_RC(scb_verify_pin(c, 1, (const uint8_t *)"1235", 4), SCB_E_PIN_WRONG);
    TK_CHECK(strstr(scb_card_errmsg(c), "2 tries left") != NULL);
    TK_EQ_RC(scb_verify_pin(c, 1, (const uint8_t *)"1235", 4), SCB_E_PIN_WRONG);
    TK_CHECK(strstr(scb_card_errmsg(c), "1 try left") != NULL);
    /* the last try (63C0) and every VERIFY after it (6983): blocked */
    static const char blocked[] =
        "VERIFY: the PIN is blocked (no tries left): unblock it with the PUK";
    TK_EQ_RC(scb_verify_pin(c, 1, (const uint8_t *)"1235", 4), SCB_E_PIN_WRONG);
    TK_CHECK(strcmp(scb_card_errmsg(c), blocked) == 0);
    TK_EQ_RC(scb_verify_pin(c, 1, (const uint8_t *)"1235", 4), SCB_E_PIN_WRONG);
    TK_CHECK(strcmp(scb_card_errmsg(c), blocked) == 0);
    TK_EQ_INT(scb_card_last_sw(c), 0x6983);
    scb_card_free(&c);
    tk_script_free(s);
}

/* ---- trace ---- */
typedef struct {
    char lines[16][400];
    int n;
} trace_log_t;

static void on_trace(void *user, const scb_trace_event_t *ev)
{
    trace_log_t *t = user;
    if (t->n < 16)
        scb_trace_format(ev, t->lines[t->n++], sizeof(t->lines[0]));
}

static void test_trace(void)
{
    tk_script_t *s = tk_script_new();
    tk_script_add(s, "00A4040002A0B1", "6F009000");
    tk_script_add(s, "0020000108 31323334FFFFFFFF", "9000");
    scb_card_t *c = tk_card(s);
    trace_log_t log = {0};
    scb_trace_t tr = {SCB_TRACE_VERSION, &log, on_trace};
    TK_EQ_RC(scb_card_set_trace(c, &tr), SCB_OK);
    uint8_t r[16];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4040002A0B1", r, &rl), SCB_OK);
    TK_EQ_RC(scb_verify_pin(c, 1, (const uint8_t *)"1234", 4), SCB_OK);
    TK_EQ_INT(log.n, 4);
    TK_CHECK(strcmp(log.lines[0], "A>> 00 A4 04 00 02 A0 B1") == 0);
    TK_CHECK(strcmp(log.lines[1], "A<< 6F 00 (9000)") == 0);
    /* the PIN never reaches the trace */
    TK_CHECK(strcmp(log.lines[2], "A>> 00 20 00 01 08 [data masked]") == 0);
    TK_CHECK(strstr(log.lines[2], "31") == NULL);
    fprintf(stderr, "  %s\n  %s\n  %s\n  %s\n", log.lines[0], log.lines[1], log.lines[2], log.lines[3]);
    scb_trace_event_t note = {SCB_TRACE_NOTE, NULL, 0, 0, 0, "hello"};
    char line[8];
    TK_CHECK(scb_trace_format(&note, line, sizeof(line)) > 0);
    TK_CHECK(strcmp(line, "# hello") == 0);
    /* truncation is safe */
    scb_trace_event_t big = {SCB_TRACE_WIRE_CMD, r, sizeof(r), 0, sizeof(r), NULL};
    TK_EQ_INT(scb_trace_format(&big, line, sizeof(line)), 6);
    TK_EQ_INT(strlen(line), 6);
    TK_EQ_RC(scb_card_set_trace(c, NULL), SCB_OK);
    scb_trace_t badv = {99, NULL, on_trace};
    TK_EQ_RC(scb_card_set_trace(c, &badv), SCB_E_INVALID_ARG);
    scb_card_free(&c);
    tk_script_free(s);
}

/* ---- transactions ---- */
typedef struct {
    int begins, ends;
    tk_script_t *s;
} txn_t;

static int txn_begin(void *u)
{
    ((txn_t *)u)->begins++;
    return 0;
}
static int txn_end(void *u)
{
    ((txn_t *)u)->ends++;
    return 0;
}
static int txn_xmit(void *u, const uint8_t *c, size_t n, uint8_t *r, size_t *rl)
{
    (void)c;
    (void)n;
    (void)u;
    r[0] = 0x90;
    r[1] = 0x00;
    *rl = 2;
    return 0;
}

static void test_transactions(void)
{
    txn_t t = {0};
    scb_transport_t tp = {0};
    tp.version = SCB_TRANSPORT_VERSION;
    tp.user = &t;
    tp.transmit = txn_xmit;
    tp.begin = txn_begin;
    tp.end = txn_end;
    scb_card_t *c = NULL;
    TK_EQ_RC(scb_card_open_transport(&c, &tp), SCB_OK);
    TK_EQ_RC(scb_card_begin(c), SCB_OK);
    uint8_t r[8];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A40000", r, &rl), SCB_OK);
    TK_EQ_RC(scb_card_end(c), SCB_OK);
    TK_EQ_INT(t.begins, 1);  /* nested: one PC/SC transaction */
    TK_EQ_INT(t.ends, 1);
    TK_EQ_RC(scb_card_end(c), SCB_E_STATE);
    scb_card_free(&c);
    /* bad transports are refused */
    scb_transport_t bad = tp;
    bad.transmit = NULL;
    TK_EQ_RC(scb_card_open_transport(&c, &bad), SCB_E_INVALID_ARG);
    bad = tp;
    bad.version = SCB_TRANSPORT_VERSION + 1;
    TK_EQ_RC(scb_card_open_transport(&c, &bad), SCB_E_INVALID_ARG);
    TK_CHECK(c == NULL);
}

static void test_errors_table(void)
{
    /* every code has a name and a text; unknown codes too */
    for (int rc = 0; rc >= -70; rc--) {
        TK_CHECK(scb_strerror(rc) != NULL);
        TK_CHECK(scb_error_name(rc) != NULL);
    }
    TK_CHECK(strcmp(scb_error_name(SCB_E_SCP_RMAC), "SCB_E_SCP_RMAC") == 0);
    TK_CHECK(strcmp(scb_error_name(-999), "SCB_E_UNKNOWN") == 0);
    TK_CHECK(strcmp(scb_sw_text(0x6982), "security status not satisfied") == 0);
    TK_CHECK(strcmp(scb_sw_text(0x63C3), "verification failed, retries left in low nibble") == 0);
    TK_CHECK(strcmp(scb_sw_text(0x1234), "unknown status") == 0);
}

int main(void)
{
    TK_RUN(test_cases_and_sw);
    TK_RUN(test_get_response);
    TK_RUN(test_get_response_on_channel);
    TK_RUN(test_6c_resend);
    TK_RUN(test_hostile);
    TK_RUN(test_transport_errors);
    TK_RUN(test_channels);
    TK_RUN(test_select);
    TK_RUN(test_read_binary);
    TK_RUN(test_read_binary_extended);
    TK_RUN(test_read_record_update);
    TK_RUN(test_verify);
    TK_RUN(test_trace);
    TK_RUN(test_transactions);
    TK_RUN(test_errors_table);
    return tk_done();
}
