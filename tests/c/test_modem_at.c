/*
 * The modem transport's AT handling over a scripted AT channel: the open
 * sequence, +CSIM framing, echo, unsolicited result codes anywhere, lines
 * split across reads, every failure of the modem mapped to its code and a
 * detail that names it (and never carries APDU bytes), timeouts with
 * resynchronisation, and a modem that goes away.
 */
#include "at_script.h"
#include "internal.h"
#include "testkit.h"

#include <time.h>

#define CHECK_MSG(text, needle) check_msg(__FILE__, __LINE__, text, needle)
static void check_msg(const char *file, int line, const char *text, const char *needle)
{
    tk_checks++;
    if (text == NULL || strstr(text, needle) == NULL) {
        tk_failures++;
        fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", file, line,
                text ? text : "(null)", needle);
    }
}
#define CHECK_NO_MSG(text, needle) check_no_msg(__FILE__, __LINE__, text, needle)
static void check_no_msg(const char *file, int line, const char *text, const char *needle)
{
    tk_checks++;
    if (text != NULL && strstr(text, needle) != NULL) {
        tk_failures++;
        fprintf(stderr, "%s:%d: message \"%s\" must not contain \"%s\"\n", file, line, text,
                needle);
    }
}

/* Modem options: a per-command timeout (0: the default) and one more
 * option (id 0: none). */
static scb_opts_t *modem_opts(int timeout_ms, int id, long long value)
{
    scb_opts_t *o = NULL;
    TK_EQ_RC(scb_opts_new(&o), SCB_OK);
    if (timeout_ms > 0)
        TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_MODEM_TIMEOUT_MS, timeout_ms), SCB_OK);
    if (id != 0)
        TK_EQ_RC(scb_opts_set_int(o, id, value), SCB_OK);
    return o;
}

static int xmit(scb_card_t *card, const char *hex, uint8_t *resp, size_t *rlen)
{
    uint8_t cmd[700];
    size_t n = tk_unhex(hex, cmd, sizeof(cmd));
    return scb_card_transmit(card, cmd, n, resp, rlen);
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

#define SELECT_MF "AT+CSIM=14,\"00A4000C023F00\""

/* ------------------------------------------------------------------------ */
static void test_open_and_csim(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, SELECT_MF, "\r\n+CSIM: 4,\"9000\"\r\n\r\nOK\r\n");
    as_add(s, "AT+CSIM=10,\"00B0000004\"", "\r\n+CSIM: 12,\"c0ffee119000\"\r\n\r\nOK\r\n");
    scb_card_t *c = as_card(s, NULL);
    TK_EQ_INT(scb_card_modem_channels(c), SCB_MODEM_CH_AUTO);
    uint8_t r[300];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "9000");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000004", r, &rl), SCB_OK); /* lower-case hex accepted */
    TK_EQ_HEX(r, rl, "C0FFEE119000");
    TK_EQ_INT(scb_card_modem_cme(c), -1);
    TK_EQ_INT(scb_card_apdu_count(c), 2);
    TK_CHECK(as_complete(s));
    scb_card_free(&c);
    TK_EQ_INT(s->closes, 1);
    as_free(s);
}

/* Echo on (the modem ignores ATE0), unsolicited result codes and blank
 * lines before, between and after, CR-only and LF-only line ends. */
static void test_echo_and_urcs(void)
{
    at_script_t *s = as_new();
    s->echo = true;
    as_add(s, "AT", "\r\n^SYSSTART\r\n\r\nOK\r\n");
    as_add(s, "ATE0V1", "\r\nOK\r\n");
    as_add(s, "AT+CMEE=1", "\r\n+CREG: 1\r\nOK\r\n");
    as_add(s, SELECT_MF,
           "\r\nRING\r\n\r\n+CEREG: 5,\"1A2B\",\"01C2D3E4\",7\r\n+CSIM: 4,\"9000\"\r\n"
           "\r\n+CMTI: \"SM\",3\r\n\r\nOK\r\n\r\nRING\r\n");
    as_add(s, SELECT_MF, "\n+CSIM: 4,\"6A82\"\n\n+CREG: 5\nOK\n");
    as_add(s, SELECT_MF, "\r+CSIM: 4,\"9000\"\r\rOK\r");
    scb_card_t *c = as_card(s, NULL);
    uint8_t r[300];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "9000");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "6A82");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "9000");
    TK_CHECK(as_complete(s));
    scb_card_free(&c);
    as_free(s);
}

/* The same answers delivered 1, 2, 3 and 7 bytes per read. */
static void test_split_reads(void)
{
    const size_t chunks[] = {1, 2, 3, 7};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        at_script_t *s = as_new();
        s->chunk = chunks[i];
        s->echo = (i % 2) == 1;
        as_add_init(s);
        as_add(s, SELECT_MF, "\r\n+CREG: 1\r\n+CSIM: 8,\"6F009000\"\r\n\r\nOK\r\n");
        scb_card_t *c = as_card(s, NULL);
        uint8_t r[300];
        size_t rl = sizeof(r);
        TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
        TK_EQ_HEX(r, rl, "6F009000");
        TK_CHECK(as_complete(s));
        scb_card_free(&c);
        as_free(s);
    }
}

/* ERROR, +CME ERROR numeric and verbose, +CMS ERROR, vendor ERROR. */
static void test_modem_errors(void)
{
    struct {
        const char *reply;
        int rc;
        int cme;
        const char *msg;
    } cases[] = {
        {"\r\nERROR\r\n", SCB_E_MODEM, -1, "AT+CSIM: modem answered ERROR"},
        {"\r\n+CME ERROR: 13\r\n", SCB_E_MODEM_CME, 13, "+CME ERROR: 13 (SIM failure)"},
        {"\r\n+CME ERROR: 10\r\n", SCB_E_MODEM_CME, 10, "SIM not inserted"},
        {"\r\n+CME ERROR: 999\r\n", SCB_E_MODEM_CME, 999, "+CME ERROR: 999"},
        {"\r\n+CME ERROR: SIM busy\r\n", SCB_E_MODEM_CME, 14, "SIM busy (error 14)"},
        {"\r\n+CME ERROR: operation NOT allowed\r\n", SCB_E_MODEM_CME, 3, "(error 3)"},
        {"\r\n+CME ERROR: vendor\x01 thing\r\n", SCB_E_MODEM_CME, -1, "vendor? thing"},
        {"\r\n+CMS ERROR: 500\r\n", SCB_E_MODEM, -1, "+CMS ERROR: 500"},
        {"\r\nCOMMAND NOT SUPPORT\r\n", SCB_E_MODEM, -1, "answered ERROR"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        at_script_t *s = as_new();
        as_add_init(s);
        as_add(s, SELECT_MF, cases[i].reply);
        as_add(s, SELECT_MF, "\r\n+CSIM: 4,\"9000\"\r\n\r\nOK\r\n");
        scb_card_t *c = as_card(s, NULL);
        uint8_t r[300];
        size_t rl = sizeof(r);
        TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), cases[i].rc);
        TK_EQ_INT(scb_card_modem_cme(c), cases[i].cme);
        CHECK_MSG(scb_card_errmsg(c), cases[i].msg);
        CHECK_NO_MSG(scb_card_errmsg(c), "3F00");
        /* the next command is unaffected, and the number is cleared */
        rl = sizeof(r);
        TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
        TK_EQ_INT(scb_card_modem_cme(c), -1);
        TK_CHECK(as_complete(s));
        scb_card_free(&c);
        as_free(s);
    }
}

/* Malformed +CSIM lines: each is refused with what is wrong and where. */
static void test_bad_csim_lines(void)
{
    struct {
        const char *line;
        const char *msg;
    } cases[] = {
        {"+CSIM: 6,\"9000\"", "length field says 6 characters, the response has 4"},
        {"+CSIM: 2,\"9000\"", "length field says 2 characters, the response has 4"},
        {"+CSIM: 4,\"90G0\"", "invalid hex character at position 3"},
        {"+CSIM: 4,90G0", "invalid hex character at position 3"},
        {"+CSIM: 5,\"90001\"", "odd number of hex characters (5)"},
        {"+CSIM: 2,\"90\"", "response of 1 byte(s) has no status word"},
        {"+CSIM: 0,\"\"", "response of 0 byte(s) has no status word"},
        {"+CSIM: 4,\"9000", "no closing quote"},
        {"+CSIM: 4 \"9000\"", "no comma after the length"},
        {"+CSIM: ,\"9000\"", "no length field"},
        {"+CSIM: 12345678,\"9000\"", "overlong length field"},
        {"+CSIM: 4,\"9000\" x", "unexpected text after the response"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        at_script_t *s = as_new();
        as_add_init(s);
        char reply[200];
        snprintf(reply, sizeof(reply), "\r\n%s\r\n\r\nOK\r\n", cases[i].line);
        as_add(s, SELECT_MF, reply);
        scb_card_t *c = as_card(s, NULL);
        uint8_t r[300];
        size_t rl = sizeof(r);
        TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_BAD_RESPONSE);
        CHECK_MSG(scb_card_errmsg(c), cases[i].msg);
        CHECK_MSG(scb_card_errmsg(c), "+CSIM: line");
        TK_CHECK(as_complete(s));
        scb_card_free(&c);
        as_free(s);
    }
    /* unquoted hex is accepted */
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, SELECT_MF, "\r\n+CSIM: 4,9000\r\nOK\r\n");
    scb_card_t *c = as_card(s, NULL);
    uint8_t r[300];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "9000");
    scb_card_free(&c);
    as_free(s);
}

/* OK without a +CSIM line, two +CSIM lines, an overlong +CSIM line, an
 * overlong unsolicited line (ignored), a response larger than a short APDU
 * allows. */
static void test_framing(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, SELECT_MF, "\r\nOK\r\n");
    as_add(s, SELECT_MF, "\r\n+CSIM: 4,\"9000\"\r\n+CSIM: 4,\"6A82\"\r\nOK\r\n");
    /* 1200 hex characters: longer than any short-APDU line */
    static char big[1400];
    int o = snprintf(big, sizeof(big), "\r\n+CSIM: 1200,\"");
    for (int i = 0; i < 1200; i++)
        big[o++] = 'A';
    snprintf(big + o, sizeof(big) - (size_t)o, "\"\r\nOK\r\n");
    as_add(s, SELECT_MF, big);
    static char urc[1400];
    o = snprintf(urc, sizeof(urc), "\r\n+QIND: ");
    for (int i = 0; i < 1200; i++)
        urc[o++] = 'x';
    snprintf(urc + o, sizeof(urc) - (size_t)o, "\r\n+CSIM: 4,\"9000\"\r\nOK\r\n");
    as_add(s, SELECT_MF, urc);
    static char large[700];
    o = snprintf(large, sizeof(large), "\r\n+CSIM: 520,\"");
    for (int i = 0; i < 520; i++)
        large[o++] = '0';
    snprintf(large + o, sizeof(large) - (size_t)o, "\"\r\nOK\r\n");
    as_add(s, SELECT_MF, large);
    /* a stray final result code after the answer is not the next answer */
    as_add(s, SELECT_MF, "\r\n+CSIM: 4,\"9000\"\r\nOK\r\n\r\nOK\r\n\r\n+CSIM: 4,\"6A");
    as_add(s, SELECT_MF, "\r\n+CSIM: 4,\"6A82\"\r\nOK\r\n");
    scb_card_t *c = as_card(s, NULL);
    uint8_t r[700];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_BAD_RESPONSE);
    CHECK_MSG(scb_card_errmsg(c), "AT+CSIM: modem answered OK without a +CSIM: line");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_BAD_RESPONSE);
    CHECK_MSG(scb_card_errmsg(c), "two +CSIM: lines");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_BAD_RESPONSE);
    CHECK_MSG(scb_card_errmsg(c), "the +CSIM: line is longer than");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "9000");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_BAD_RESPONSE);
    CHECK_MSG(scb_card_errmsg(c), "response of 260 bytes exceeds 258");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "9000");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "6A82");
    TK_CHECK(as_complete(s));
    scb_card_free(&c);
    as_free(s);
}

/* A silent modem: SCB_E_TIMEOUT after the configured time; the late answer
 * is recognised and skipped when the next command resynchronises. */
static void test_timeout_and_resync(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    /* timeline (ms): CSIM at 0 times out at 400; the next command first
     * waits for 100 ms of quiet and sends "AT" at ~500; the late answer to
     * CSIM comes at 650, the AT's own OK at ~800 (taking the late OK for it
     * would hand the next command this OK instead of its answer); the READ
     * answer at ~1000. */
    as_add(s, SELECT_MF, "");
    as_late(s, "\r\n+CSIM: 4,\"6A82\"\r\n\r\nOK\r\n", 650);
    as_add(s, "AT", "");
    as_late(s, "\r\nOK\r\n", 300);
    as_add(s, "AT+CSIM=10,\"00B0000001\"", "");
    as_late(s, "\r\n+CSIM: 6,\"5A9000\"\r\n\r\nOK\r\n", 200);
    scb_opts_t *slow = modem_opts(400, 0, 0);
    scb_card_t *c = as_card(s, slow);
    scb_opts_free(&slow);
    uint8_t r[300];
    size_t rl = sizeof(r);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_TIMEOUT);
    long ms = elapsed_ms(&t0);
    TK_CHECK(ms >= 390 && ms < 1000);
    CHECK_MSG(scb_card_errmsg(c), "AT+CSIM: no final result code within 400 ms");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00B0000001", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "5A9000"); /* its own answer, not the late 6A82 */
    TK_CHECK(as_complete(s));
    scb_card_free(&c);
    as_free(s);

    /* resync that fails (the modem stays silent) is reported as such */
    s = as_new();
    as_add_init(s);
    as_add(s, SELECT_MF, NULL);
    as_add(s, "AT", NULL);
    c = as_card(s, NULL);
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_TIMEOUT);
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_TIMEOUT);
    CHECK_MSG(scb_card_errmsg(c), "resynchronising after an earlier timeout");
    TK_CHECK(as_complete(s));
    scb_card_free(&c);
    as_free(s);

    /* a modem that never stops talking still ends at the deadline */
    s = as_new();
    as_add_init(s);
    as_add(s, SELECT_MF, "");
    c = as_card(s, NULL);
    s->babble = "\r\n+CREG: 1";
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_TIMEOUT);
    ms = elapsed_ms(&t0);
    TK_CHECK(ms >= 190 && ms < 1000);
    /* and the resync refuses to talk into the babble */
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_TIMEOUT);
    CHECK_MSG(scb_card_errmsg(c), "the modem keeps talking");
    scb_card_free(&c);
    as_free(s);
}

/* End of file on the port: SCB_E_CARD_REMOVED, then again without I/O. */
static void test_modem_gone(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add_error(s, SELECT_MF, "\r\n+CSIM: 4,", SCB_E_CARD_REMOVED);
    scb_card_t *c = as_card(s, NULL);
    uint8_t r[300];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_CARD_REMOVED);
    CHECK_MSG(scb_card_errmsg(c), "AT+CSIM: the modem went away");
    unsigned long writes = s->writes;
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_CARD_REMOVED);
    CHECK_MSG(scb_card_errmsg(c), "went away earlier");
    TK_EQ_INT(s->writes, writes);
    scb_card_free(&c); /* nothing sent to a gone modem */
    TK_EQ_INT(s->writes, writes);
    TK_EQ_INT(s->closes, 1);
    as_free(s);

    /* write side: gone, or another failure */
    s = as_new();
    as_add_init(s);
    c = as_card(s, NULL);
    s->write_error = SCB_E_CARD_REMOVED;
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_CARD_REMOVED);
    CHECK_MSG(scb_card_errmsg(c), "writing to its port failed");
    scb_card_free(&c);
    as_free(s);

    s = as_new();
    as_add_init(s);
    c = as_card(s, NULL);
    s->write_error = SCB_E_INVALID_ARG; /* a channel's odd code becomes a transport failure */
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_TRANSPORT);
    CHECK_MSG(scb_card_errmsg(c), "writing to the modem failed");
    s->write_error = 0;
    as_add(s, SELECT_MF, "\r\n+CSIM: 4,\"9000\"\r\nOK\r\n");
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
    scb_card_free(&c);
    as_free(s);

    /* a read that fails (not end of file) */
    s = as_new();
    as_add_init(s);
    as_add_error(s, SELECT_MF, "", SCB_E_TRANSPORT);
    c = as_card(s, NULL);
    rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_E_TRANSPORT);
    CHECK_MSG(scb_card_errmsg(c), "reading from the modem failed");
    scb_card_free(&c);
    as_free(s);
}

/* 61xx is the card's, the engine fetches the rest through +CSIM too. */
static void test_get_response(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CSIM=16,\"00A4000402500100\"", "\r\n+CSIM: 4,\"6104\"\r\nOK\r\n");
    as_add(s, "AT+CSIM=10,\"00C0000004\"", "\r\n+CSIM: 12,\"620083019000\"\r\nOK\r\n");
    scb_card_t *c = as_card(s, NULL);
    uint8_t r[300];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000402500100", r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "620083019000");
    TK_CHECK(as_complete(s));
    scb_card_free(&c);
    as_free(s);
}

/* Extended length only when asked for; then one long +CSIM line. */
static void test_extended_length(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    scb_card_t *c = as_card(s, NULL);
    uint8_t cmd[4 + 3 + 300], r[700];
    memset(cmd, 0x11, sizeof(cmd));
    cmd[0] = 0x00;
    cmd[1] = 0xD6;
    cmd[2] = cmd[3] = 0x00;
    cmd[4] = 0x00;
    cmd[5] = 0x01;
    cmd[6] = 0x2C; /* Lc 300 */
    size_t rl = sizeof(r);
    TK_EQ_RC(scb_card_transmit(c, cmd, sizeof(cmd), r, &rl), SCB_E_UNSUPPORTED);
    TK_EQ_INT(s->commands, 3); /* refused before the modem */
    scb_card_free(&c);
    as_free(s);

    s = as_new();
    as_add_init(s);
    as_add(s, "AT+CSIM=614,\"00D6000000012C1111*", "\r\n+CSIM: 4,\"9000\"\r\nOK\r\n");
    scb_opts_t *o = modem_opts(200, SCB_OPT_EXTENDED_LENGTH, 1);
    c = as_card(s, o);
    scb_opts_free(&o);
    rl = sizeof(r);
    TK_EQ_RC(scb_card_transmit(c, cmd, sizeof(cmd), r, &rl), SCB_OK);
    TK_EQ_HEX(r, rl, "9000");
    TK_CHECK(as_complete(s));
    scb_card_free(&c);
    as_free(s);
}

/* The transport's own words never carry APDU bytes: errors, notes. */
static void trace_collect(void *user, const scb_trace_event_t *ev)
{
    if (ev->kind == SCB_TRACE_NOTE) {
        char *all = user;
        strncat(all, ev->text, 4000 - strlen(all) - 1);
        strncat(all, "\n", 4000 - strlen(all) - 1);
    }
}

static void test_no_apdu_bytes_in_messages(void)
{
    at_script_t *s = as_new();
    as_add_init(s);
    as_add(s, "AT+CSIM=*", "\r\n+CSIM: 12,\"C0FFEE9000\"\r\nOK\r\n"); /* length mismatch */
    as_add(s, "AT+CSIM=*", "\r\n+CSIM: 10,\"C0FFEGEE9000\"\r\nOK\r\n");
    as_add(s, "AT+CSIM=*", "\r\n+CME ERROR: 4\r\n");
    as_add(s, "AT+CSIM=*", NULL);
    scb_card_t *c = as_card(s, NULL);
    static char notes[4000];
    notes[0] = 0;
    scb_trace_t tr = {SCB_TRACE_VERSION, notes, trace_collect};
    scb_card_set_trace(c, &tr);
    for (int i = 0; i < 4; i++) {
        uint8_t r[300];
        size_t rl = sizeof(r);
        TK_CHECK(xmit(c, "80E2000004DEADBEEF", r, &rl) != SCB_OK);
        CHECK_NO_MSG(scb_card_errmsg(c), "DEADBEEF");
        CHECK_NO_MSG(scb_card_errmsg(c), "DE AD");
        CHECK_NO_MSG(scb_card_errmsg(c), "C0FFEE");
    }
    CHECK_NO_MSG(notes, "DEADBEEF");
    CHECK_NO_MSG(notes, "C0FFEE");
    scb_card_free(&c);
    as_free(s);
}

/* Opening: what is sent, what is tolerated, what fails and how. */
static void test_open_variants(void)
{
    char detail[256];
    scb_card_t *c = NULL;
    scb_opts_t *o = modem_opts(100, 0, 0);

    /* modem still in ATV0 (numeric result codes), and a half line left in
     * it that makes the first AT an ERROR */
    at_script_t *s = as_new();
    as_add(s, "AT", "\r\nERROR\r\n");
    as_add(s, "AT", "0\r");
    as_add(s, "ATE0V1", "0\r");
    as_add(s, "AT+CMEE=1", "\r\nERROR\r\n"); /* tolerated: verbose errors still parse */
    scb_at_channel_t ch = as_channel(s, true);
    TK_EQ_RC(scb_card_open_at(&c, &ch, o, detail, sizeof(detail)), SCB_OK);
    TK_CHECK(as_complete(s));
    /* begin/end reach the channel */
    TK_EQ_RC(scb_card_begin(c), SCB_OK);
    TK_EQ_RC(scb_card_end(c), SCB_OK);
    TK_EQ_INT(s->begins, 1);
    TK_EQ_INT(s->ends, 1);
    scb_card_free(&c);
    TK_EQ_INT(s->closes, 1);
    as_free(s);

    /* SCB_MODEM_NO_INIT: only AT */
    s = as_new();
    as_add(s, "AT", "\r\nOK\r\n");
    as_add(s, SELECT_MF, "\r\n+CSIM: 4,\"9000\"\r\nOK\r\n");
    scb_opts_set_int(o, SCB_OPT_MODEM_NO_INIT, 1);
    ch = as_channel(s, false);
    TK_EQ_RC(scb_card_open_at(&c, &ch, o, detail, sizeof(detail)), SCB_OK);
    uint8_t r[300];
    size_t rl = sizeof(r);
    TK_EQ_RC(xmit(c, "00A4000C023F00", r, &rl), SCB_OK);
    TK_CHECK(as_complete(s));
    scb_card_free(&c);
    as_free(s);
    scb_opts_unset(o, SCB_OPT_MODEM_NO_INIT);

    /* a silent modem: timeout, the caller keeps its channel (no close) */
    s = as_new();
    as_add(s, "AT", NULL);
    ch = as_channel(s, false);
    detail[0] = 0;
    TK_EQ_RC(scb_card_open_at(&c, &ch, o, detail, sizeof(detail)), SCB_E_TIMEOUT);
    TK_CHECK(c == NULL);
    CHECK_MSG(detail, "the modem does not answer AT: AT: no final result code within 100 ms");
    TK_EQ_INT(s->closes, 0);
    as_free(s);

    /* a modem that keeps refusing AT */
    s = as_new();
    as_add(s, "AT", "\r\n+CME ERROR: 100\r\n");
    as_add(s, "AT", "\r\n+CME ERROR: 100\r\n");
    ch = as_channel(s, false);
    TK_EQ_RC(scb_card_open_at(&c, &ch, o, detail, sizeof(detail)), SCB_E_MODEM_CME);
    CHECK_MSG(detail, "+CME ERROR: 100 (unknown)");
    as_free(s);

    /* the port is gone during set-up */
    s = as_new();
    as_add(s, "AT", "\r\nOK\r\n");
    as_add_error(s, "ATE0V1", "", SCB_E_CARD_REMOVED);
    ch = as_channel(s, false);
    TK_EQ_RC(scb_card_open_at(&c, &ch, o, detail, sizeof(detail)), SCB_E_CARD_REMOVED);
    CHECK_MSG(detail, "modem set-up: ATE0V1: the modem went away");
    TK_EQ_INT(s->closes, 0);
    as_free(s);

    /* argument checks */
    s = as_new();
    ch = as_channel(s, false);
    TK_EQ_RC(scb_card_open_at(NULL, &ch, o, detail, sizeof(detail)), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_card_open_at(&c, NULL, o, detail, sizeof(detail)), SCB_E_INVALID_ARG);
    scb_at_channel_t bad = ch;
    bad.read = NULL;
    TK_EQ_RC(scb_card_open_at(&c, &bad, o, detail, sizeof(detail)), SCB_E_INVALID_ARG);
    bad = ch;
    bad.version = 2;
    TK_EQ_RC(scb_card_open_at(&c, &bad, o, NULL, 0), SCB_E_INVALID_ARG);
    bad = ch;
    bad.begin = as_channel(s, true).begin; /* begin without end */
    TK_EQ_RC(scb_card_open_at(&c, &bad, o, detail, sizeof(detail)), SCB_E_INVALID_ARG);
    /* options: a strategy that does not exist, a serial option, a job's option */
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_MODEM_CHANNELS, 7), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_opts_set_text(o, SCB_OPT_MODEM_CHANNELS, "usb"), SCB_E_INVALID_ARG);
    CHECK_MSG(scb_opts_errmsg(o), "not one of auto|csim|cgla");
    scb_opts_t *bado = modem_opts(100, SCB_OPT_BAUD, 9600);
    TK_EQ_RC(scb_card_open_at(&c, &ch, bado, detail, sizeof(detail)), SCB_E_INVALID_ARG);
    CHECK_MSG(detail, "apply to a serial device");
    scb_opts_free(&bado);
    bado = modem_opts(100, SCB_OPT_KVN, 0x30);
    TK_EQ_RC(scb_card_open_at(&c, &ch, bado, detail, sizeof(detail)), SCB_E_INVALID_ARG);
    CHECK_MSG(detail, "option 'kvn' does not apply to a modem");
    scb_opts_free(&bado);
    TK_EQ_INT(s->commands, 0);
    as_free(s);

    /* getters on handles that are not modem handles */
    TK_EQ_INT(scb_card_modem_cme(NULL), -1);
    TK_EQ_INT(scb_card_modem_channels(NULL), -1);
    tk_script_t *ts = tk_script_new();
    scb_card_t *plain = tk_card(ts);
    TK_EQ_INT(scb_card_modem_cme(plain), -1);
    TK_EQ_INT(scb_card_modem_channels(plain), -1);
    scb_card_free(&plain);
    tk_script_free(ts);
    scb_opts_free(&o);
}

/* The serial-device constructor's own argument and device checks. */
static void test_open_modem_device_errors(void)
{
    scb_card_t *c = NULL;
    char detail[256] = "";
    TK_EQ_RC(scb_card_open_modem(&c, "/nonexistent/ttyUSB9", NULL, detail, sizeof(detail)),
             SCB_E_NO_READER);
    CHECK_MSG(detail, "modem device /nonexistent/ttyUSB9");
    TK_EQ_RC(scb_card_open_modem(&c, "/dev/null", NULL, detail, sizeof(detail)),
             SCB_E_INVALID_ARG);
    CHECK_MSG(detail, "is not a serial port");
    scb_opts_t *o = modem_opts(0, SCB_OPT_BAUD, 12345);
    TK_EQ_RC(scb_card_open_modem(&c, "/dev/null", o, detail, sizeof(detail)), SCB_E_INVALID_ARG);
    CHECK_MSG(detail, "baud rate 12345");
    scb_opts_free(&o);
    TK_EQ_RC(scb_card_open_modem(&c, "", NULL, detail, sizeof(detail)), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_card_open_modem(&c, NULL, NULL, NULL, 0), SCB_E_INVALID_ARG);
    TK_CHECK(c == NULL);
}

int main(void)
{
    TK_RUN(test_open_and_csim);
    TK_RUN(test_echo_and_urcs);
    TK_RUN(test_split_reads);
    TK_RUN(test_modem_errors);
    TK_RUN(test_bad_csim_lines);
    TK_RUN(test_framing);
    TK_RUN(test_timeout_and_resync);
    TK_RUN(test_modem_gone);
    TK_RUN(test_get_response);
    TK_RUN(test_extended_length);
    TK_RUN(test_no_apdu_bytes_in_messages);
    TK_RUN(test_open_variants);
    TK_RUN(test_open_modem_device_errors);
    return tk_done();
}
