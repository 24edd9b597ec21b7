/*
 * An open SCP03 session on the APDU path: responses that must be refused
 * (flipped R-MAC, flipped ciphertext, bad padding, error status with data,
 * short response), what an error status looks like under R-MAC, and PUT
 * KEY. Starts from the recorded Samsung session (level 33, scp03.json):
 * the virtual card holds its keys and card challenge, so the handshake is
 * the recorded one on both sides; after it the card's hook answers, with
 * data the card seals (or spoils) under the session.
 * Every failure must leave no session and refuse secured transmits.
 */
#include "internal.h"
#include "scp03_testdata.h"
#include "sim_rig.h"

static json_object *vectors;

/* What answers the commands after the handshake. */
typedef struct session session_t;
typedef int (*answer_fn)(session_t *x, const uint8_t *cmd, size_t len, uint8_t *resp,
                         size_t *resp_len);
struct session {
    rig_t r;
    answer_fn answer;
    void *user;
    int answered; /* commands that reached the answer (each passed its C-MAC) */
};

static int hook(void *user, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
    session_t *x = user;
    x->answered++;
    return x->answer(x, cmd, len, resp, resp_len);
}

/* A card handle with the Samsung session (level 33) open, answered by answer.
 * dek_hex: the host's static DEK (not part of the handshake). */
static scb_card_t *open_samsung(session_t *x, answer_fn answer, const char *dek_hex)
{
    json_object *e = scp03_entry(vectors, "samsung_aes128_s8_sl33");
    uint8_t dek[16];
    memset(x, 0, sizeof(*x));
    x->answer = answer;
    if (dek_hex != NULL)
        tk_unhex(dek_hex, dek, sizeof(dek));
    rig_attach_vector(&x->r, e, dek_hex != NULL ? dek : NULL);
    TK_EQ_RC(scb_scp03_open(x->r.card, x->r.keys, x->r.opts), SCB_OK);
    TK_EQ_INT(scb_scp03_level(x->r.card), 0x33);
    rig_check_handshake(&x->r, e); /* both ends followed the recording */
    scb_sim_set_cmd_hook(x->r.sim, hook, x);
    return x->r.card;
}

static void close_samsung(session_t *x)
{
    rig_close(&x->r);
}

static int send_hex(scb_card_t *card, const char *hex, uint8_t *resp, size_t *rlen)
{
    uint8_t cmd[300];
    size_t n = tk_unhex(hex, cmd, sizeof(cmd));
    return scb_card_transmit(card, cmd, n, resp, rlen);
}

/* After a failure: no session, no APDU goes out for a secured transmit,
 * and the detail never holds the session's key bytes. */
static void check_torn_down(scb_card_t *card, int rc, int want)
{
    TK_EQ_RC(rc, want);
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", scb_card_errmsg(card));
    TK_CHECK(!scb_scp03_is_open(card));
    TK_EQ_INT(scb_scp03_level(card), -1);
    unsigned long sent = scb_card_apdu_count(card);
    uint8_t r[300];
    size_t rl = sizeof(r);
    TK_EQ_RC(send_hex(card, "80F28000024F00", r, &rl), SCB_E_SCP_NO_SESSION);
    TK_EQ_INT(scb_card_apdu_count(card), sent);
    TK_CHECK(strlen(msg) > 10);
    json_object *e = scp03_entry(vectors, "samsung_aes128_s8_sl33");
    static const char *const secret[][2] = {{"session", "s_enc"},
                                            {"session", "s_mac"},
                                            {"session", "s_rmac"},
                                            {"keys", "enc"},
                                            {"keys", "mac"}};
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
        char head[9];
        snprintf(head, sizeof(head), "%s", scp03_field(e, secret[i][0], secret[i][1]));
        TK_CHECK(strstr(msg, head) == NULL);
    }
}

/* ---- answers ---- */
static const char *const GET_STATUS_PLAIN =
    "08A00000015141434C010010A0000002202003010101000000000006010010A00000022020030101010000"
    "00000011010005A0000002480100";

static int get_status(uint8_t *data)
{
    return (int)tk_unhex(GET_STATUS_PLAIN, data, 200);
}

static int answer_ok(session_t *x, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *rl)
{
    (void)x, (void)cmd, (void)len;
    uint8_t data[200];
    return rig_answer(resp, rl, data, (size_t)get_status(data), 0x9000);
}

/* The rig's spoiled answers (x->user: which), around the GET STATUS answer. */
static int answer_bad(session_t *x, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *rl)
{
    (void)cmd, (void)len;
    uint8_t data[200];
    size_t n = (size_t)get_status(data);
    return rig_bad_answer(x->r.sim, *(const int *)x->user, data, n, resp, rl);
}

static int answer_error_sw(session_t *x, const uint8_t *cmd, size_t len, uint8_t *resp,
                           size_t *rl)
{
    (void)x, (void)cmd, (void)len;
    return rig_answer(resp, rl, NULL, 0, 0x6A88); /* error: no R-MAC, no data */
}

static int answer_warning(session_t *x, const uint8_t *cmd, size_t len, uint8_t *resp,
                          size_t *rl)
{
    (void)x, (void)cmd, (void)len;
    static const uint8_t d[3] = {0xCA, 0xFE, 0x01};
    return rig_answer(resp, rl, d, 3, 0x6283); /* warnings carry R-MAC and R-ENC */
}

static int answer_empty(session_t *x, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *rl)
{
    (void)x, (void)cmd, (void)len;
    return rig_answer(resp, rl, NULL, 0, 0x9000); /* no data: R-MAC only */
}

/* ---- tests ---- */
static void test_good_exchange(void)
{
    session_t x;
    scb_card_t *card = open_samsung(&x, answer_ok, NULL);
    uint8_t r[300];
    size_t rl = sizeof(r);
    for (int i = 0; i < 3; i++) { /* counter and MCV advance together */
        rl = sizeof(r);
        TK_EQ_RC(send_hex(card, "80F22000024F00", r, &rl), SCB_OK);
        TK_EQ_INT(rl, strlen(GET_STATUS_PLAIN) / 2 + 2);
        TK_EQ_INT(r[rl - 2] << 8 | r[rl - 1], 0x9000);
    }
    TK_EQ_INT(x.answered, 3); /* every C-MAC verified on the card */
    TK_EQ_INT(scb_sim_session_level(x.r.sim, 0), 0x33);
    /* the engine sizes READ BINARY chunks from the level in force */
    TK_EQ_INT(scb__max_read_chunk(card), 239);
    TK_EQ_INT(scb__max_write_chunk(card), 239);
    close_samsung(&x);
}

static void test_refused_responses(void)
{
    static const struct {
        const char *what;
        int bad;
        int rc;
    } cases[] = {
        {"flipped R-MAC", RIG_FLIP_RMAC, SCB_E_SCP_RMAC},
        {"flipped ciphertext", RIG_FLIP_DATA, SCB_E_SCP_RMAC},
        {"no padding marker", RIG_NO_MARKER, SCB_E_SCP_PADDING},
        {"ciphertext not whole blocks", RIG_NOT_BLOCKS, SCB_E_SCP_PADDING},
        {"error status with data", RIG_ERROR_WITH_DATA, SCB_E_SCP_RMAC},
        {"too short for an R-MAC", RIG_TOO_SHORT, SCB_E_SCP_RMAC},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        session_t x;
        scb_card_t *card = open_samsung(&x, answer_bad, NULL);
        x.user = (void *)&cases[i].bad;
        uint8_t r[300];
        size_t rl = sizeof(r);
        int rc = send_hex(card, "80F22000024F00", r, &rl);
        if (rc != cases[i].rc)
            fprintf(stderr, "  case: %s (%s)\n", cases[i].what, scb_card_errmsg(card));
        check_torn_down(card, rc, cases[i].rc);
        /* the raw path still works, explicitly in clear */
        scb_sim_set_cmd_hook(x.r.sim, NULL, NULL);
        rl = sizeof(r);
        TK_EQ_RC(scb_card_transmit_plain(card, (const uint8_t *)"\x00\xA4\x00\x0C\x02\x50\x31", 7,
                                         r, &rl),
                 SCB_OK);
        TK_EQ_HEX(rig_last(&x.r, 0)->c, rig_last(&x.r, 0)->cl, "00A4000C025031");
        TK_EQ_HEX(r, rl, "9000");
        close_samsung(&x);
    }
}

static void test_statuses_passed_on(void)
{
    static const struct {
        answer_fn answer;
        const char *plain;
    } cases[] = {
        {answer_error_sw, "6A88"},
        {answer_warning, "CAFE016283"},
        {answer_empty, "9000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        session_t x;
        scb_card_t *card = open_samsung(&x, cases[i].answer, NULL);
        uint8_t r[300];
        size_t rl = sizeof(r);
        TK_EQ_RC(send_hex(card, "80F22000024F00", r, &rl), SCB_OK);
        TK_EQ_HEX(r, rl, cases[i].plain);
        TK_CHECK(scb_scp03_is_open(card)); /* the session goes on */
        x.answer = answer_ok;
        rl = sizeof(r);
        TK_EQ_RC(send_hex(card, "80F22000024F00", r, &rl), SCB_OK);
        TK_EQ_INT(x.answered, 2);
        TK_EQ_INT(scb_sim_session_level(x.r.sim, 0), 0x33);
        close_samsung(&x);
    }
}

/* ---- PUT KEY ---- */
typedef struct putkey_case {
    const char *expect_plain; /* the command data the card must decrypt */
    const char *answer;       /* plain response data + SW */
    int masked_events;        /* trace events marked masked */
    int plain_cmd_events;
} putkey_case_t;

static int answer_putkey(session_t *x, const uint8_t *cmd, size_t len, uint8_t *resp,
                         size_t *rl)
{
    putkey_case_t *pk = x->user;
    /* replace key version 30, several keys; under C-MAC and C-DEC on the wire */
    TK_EQ_HEX(rig_last(&x->r, 0)->c, 4, "84D83081");
    TK_EQ_HEX(cmd, 4, "80D83081");
    TK_CHECK(len > 5 && cmd[4] == len - 6); /* Lc, data, Le */
    TK_EQ_HEX(cmd + 5, cmd[4], pk->expect_plain);
    uint8_t a[64];
    size_t al = tk_unhex(pk->answer, a, sizeof(a));
    return rig_answer(resp, rl, a, al - 2, (uint16_t)(a[al - 2] << 8 | a[al - 1]));
}

static void count_events(void *user, const scb_trace_event_t *ev)
{
    putkey_case_t *pk = user;
    if (ev->masked)
        pk->masked_events++;
    if (ev->kind == SCB_TRACE_PLAIN_CMD) {
        pk->plain_cmd_events++;
        TK_CHECK(ev->masked && ev->len <= 5); /* only the header of PUT KEY is shown */
    }
}

static int run_put_keys(putkey_case_t *pk)
{
    /* putkey.json: DEK 000102..0F; new keys 404142.., 505152.., 606162.. */
    static const char *const dek = "000102030405060708090A0B0C0D0E0F";
    session_t x;
    scb_card_t *card = open_samsung(&x, answer_putkey, dek);
    x.user = pk;
    scb_trace_t tr = {.version = SCB_TRACE_VERSION, .user = pk, .event = count_events};
    TK_EQ_RC(scb_card_set_trace(card, &tr), SCB_OK);
    uint8_t k1[16], k2[16], k3[16];
    tk_unhex("404142434445464748494A4B4C4D4E4F", k1, 16);
    tk_unhex("505152535455565758595A5B5C5D5E5F", k2, 16);
    tk_unhex("606162636465666768696A6B6C6D6E6F", k3, 16);
    scb_keys_t *nk = NULL;
    TK_EQ_RC(scb_keys_new(&nk, k1, k2, k3, 16, 0x31), SCB_OK);
    int rc = scb_put_keys(card, nk, 0x30);
    TK_EQ_INT(x.answered, 1);
    TK_EQ_INT(x.r.exchanges, 3); /* INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, PUT KEY */
    scb_keys_free(&nk);
    close_samsung(&x);
    return rc;
}

static void test_put_keys(void)
{
    static const char *const data = "31"
                                    "881110D533E59B45A153ED7E5E9C5DFCFD4AAA03504A77"
                                    "8811103EF0B1A5E3059DAB21FCE23A7B61C4CA03F2A8DF"
                                    "881110ADDE68F7AD497268D31A0DDD5C74B08F03D7D0E4";
    putkey_case_t ok = {data, "31504A77F2A8DFD7D0E49000", 0, 0};
    TK_EQ_RC(run_put_keys(&ok), SCB_OK);
    TK_EQ_INT(ok.plain_cmd_events, 1);
    TK_CHECK(ok.masked_events >= 2); /* plain and wire command */

    putkey_case_t bad_kcv = {data, "31504A77F2A8DFD7D0E59000", 0, 0};
    TK_EQ_RC(run_put_keys(&bad_kcv), SCB_E_SCP_KCV);
    putkey_case_t bad_kvn = {data, "32504A77F2A8DFD7D0E49000", 0, 0};
    TK_EQ_RC(run_put_keys(&bad_kvn), SCB_E_SCP_KCV);
    putkey_case_t no_kcvs = {data, "319000", 0, 0};
    TK_EQ_RC(run_put_keys(&no_kcvs), SCB_E_SCP_KCV);
    putkey_case_t refused = {data, "6A80", 0, 0};
    TK_EQ_RC(run_put_keys(&refused), SCB_E_STATUS);
}

static void test_put_keys_preconditions(void)
{
    uint8_t k[16] = {1};
    scb_keys_t *nk = NULL, *no_dek = NULL;
    TK_EQ_RC(scb_keys_new(&nk, k, k, k, 16, 0x31), SCB_OK);
    TK_EQ_RC(scb_keys_new(&no_dek, k, k, NULL, 16, 0x31), SCB_OK);
    tk_script_t *s = tk_script_new();
    scb_card_t *card = tk_card(s);
    TK_EQ_RC(scb_put_keys(card, nk, 0), SCB_E_SCP_NO_SESSION);
    TK_EQ_RC(scb_put_keys(card, NULL, 0), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_put_keys(NULL, nk, 0), SCB_E_INVALID_ARG);
    TK_EQ_INT(scb_card_apdu_count(card), 0);
    scb_card_free(&card);
    tk_script_free(s);

    /* an open session: the new set needs a DEK and a version */
    session_t x;
    card = open_samsung(&x, answer_ok, NULL);
    unsigned long sent = scb_card_apdu_count(card);
    TK_EQ_RC(scb_put_keys(card, no_dek, 0), SCB_E_SCP_KEY);
    scb_keys_t *v0 = NULL;
    TK_EQ_RC(scb_keys_new(&v0, k, k, k, 16, 0), SCB_OK);
    TK_EQ_RC(scb_put_keys(card, v0, 0), SCB_E_INVALID_ARG);
    TK_EQ_INT(scb_card_apdu_count(card), sent);
    TK_CHECK(scb_scp03_is_open(card)); /* refusing locally is no session failure */
    scb_keys_free(&v0);
    close_samsung(&x);
    scb_keys_free(&nk);
    scb_keys_free(&no_dek);
}

int main(void)
{
    vectors = tk_load_vectors("scp03.json");
    TK_RUN(test_good_exchange);
    TK_RUN(test_refused_responses);
    TK_RUN(test_statuses_passed_on);
    TK_RUN(test_put_keys);
    TK_RUN(test_put_keys_preconditions);
    json_object_put(vectors);
    return tk_done();
}
