/*
 * An open SCP03 session on the APDU path: responses that must be refused
 * (flipped R-MAC, flipped ciphertext, bad padding, error status with data,
 * short response), what an error status looks like under R-MAC, and PUT
 * KEY. Starts from the recorded Samsung session (level 33, scp03.json); a
 * test-side card oracle (scp03_card_oracle.h) answers later commands.
 * Every failure must leave no session and refuse secured transmits.
 */
#include "internal.h"
#include "scp03_card_oracle.h"

static json_object *vectors;

/* A card handle with the Samsung session (level 33) open, answered by o.
 * dek_hex: the static DEK to put in the key set (not part of the handshake). */
static scb_card_t *open_samsung(tk_script_t *s, oracle_t *o, oracle_answer_fn answer,
                                const char *dek_hex, scb_keys_t **keys_out)
{
    json_object *e = scp03_entry(vectors, "samsung_aes128_s8_sl33");
    oracle_init(o, e, 0x33);
    o->answer = answer;
    s->responder = oracle_responder;
    s->user = o;
    uint8_t enc[16], mac[16], dek[16], hc[8];
    tk_unhex(scp03_field(e, "keys", "enc"), enc, 16);
    tk_unhex(scp03_field(e, "keys", "mac"), mac, 16);
    tk_unhex(dek_hex != NULL ? dek_hex : scp03_field(e, "keys", "dek"), dek, 16);
    tk_unhex(tk_json_str(e, "host_challenge"), hc, 8);
    scb_keys_t *keys = NULL;
    TK_EQ_RC(scb_keys_new(&keys, enc, mac, dek, 16, 0x30), SCB_OK);
    scb_opts_t *p = NULL;
    TK_EQ_RC(scb_opts_new(&p), SCB_OK);
    TK_EQ_RC(scb_opts_set_bytes(p, SCB_OPT_HOST_CHALLENGE, hc, 8), SCB_OK);
    scb_card_t *card = tk_card(s);
    TK_EQ_RC(scb_scp03_open(card, keys, p), SCB_OK);
    scb_opts_free(&p);
    TK_EQ_INT(scb_scp03_level(card), 0x33);
    if (keys_out != NULL)
        *keys_out = keys;
    else
        scb_keys_free(&keys);
    return card;
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

static size_t answer_ok(oracle_t *o, const uint8_t *hdr, const uint8_t *plain, size_t n,
                        uint8_t *resp)
{
    (void)hdr, (void)plain, (void)n;
    uint8_t data[200];
    size_t dl = tk_unhex(GET_STATUS_PLAIN, data, sizeof(data));
    return oracle_respond(o, data, dl, 0x9000, resp);
}

static size_t answer_flip_rmac(oracle_t *o, const uint8_t *hdr, const uint8_t *plain, size_t n,
                               uint8_t *resp)
{
    size_t len = answer_ok(o, hdr, plain, n, resp);
    resp[len - 3] ^= 0x01; /* last R-MAC byte */
    return len;
}

static size_t answer_flip_data(oracle_t *o, const uint8_t *hdr, const uint8_t *plain, size_t n,
                               uint8_t *resp)
{
    size_t len = answer_ok(o, hdr, plain, n, resp);
    resp[3] ^= 0x80; /* ciphertext */
    return len;
}

static size_t answer_no_marker(oracle_t *o, const uint8_t *hdr, const uint8_t *plain, size_t n,
                               uint8_t *resp)
{
    (void)hdr, (void)plain, (void)n;
    uint8_t padded[32];
    memset(padded, 0x11, 16); /* 16 data bytes, no 80 00.. */
    memset(padded + 16, 0x00, 16);
    oracle_encrypt(o, padded, 32, resp);
    return oracle_seal(o, resp, 32, 0x9000);
}

static size_t answer_odd_length(oracle_t *o, const uint8_t *hdr, const uint8_t *plain, size_t n,
                                uint8_t *resp)
{
    (void)hdr, (void)plain, (void)n;
    memset(resp, 0x5A, 17); /* authentic, but not whole blocks */
    return oracle_seal(o, resp, 17, 0x9000);
}

static size_t answer_error_sw(oracle_t *o, const uint8_t *hdr, const uint8_t *plain, size_t n,
                              uint8_t *resp)
{
    (void)o, (void)hdr, (void)plain, (void)n;
    resp[0] = 0x6A;
    resp[1] = 0x88; /* error: no R-MAC, no data */
    return 2;
}

static size_t answer_error_sw_with_data(oracle_t *o, const uint8_t *hdr, const uint8_t *plain,
                                        size_t n, uint8_t *resp)
{
    (void)hdr, (void)plain, (void)n;
    uint8_t padded[16] = {0x01, 0x80};
    oracle_encrypt(o, padded, 16, resp);
    return oracle_seal(o, resp, 16, 0x6A88); /* sealed, but an error status */
}

static size_t answer_warning(oracle_t *o, const uint8_t *hdr, const uint8_t *plain, size_t n,
                             uint8_t *resp)
{
    (void)hdr, (void)plain, (void)n;
    static const uint8_t d[3] = {0xCA, 0xFE, 0x01};
    return oracle_respond(o, d, 3, 0x6283, resp); /* warnings carry R-MAC and R-ENC */
}

static size_t answer_empty(oracle_t *o, const uint8_t *hdr, const uint8_t *plain, size_t n,
                           uint8_t *resp)
{
    (void)hdr, (void)plain, (void)n;
    return oracle_respond(o, NULL, 0, 0x9000, resp); /* no data: R-MAC only */
}

static size_t answer_short(oracle_t *o, const uint8_t *hdr, const uint8_t *plain, size_t n,
                           uint8_t *resp)
{
    (void)o, (void)hdr, (void)plain, (void)n;
    memcpy(resp, "\x01\x02\x03\x90\x00", 5); /* 3 bytes cannot hold an 8-byte R-MAC */
    return 5;
}

/* ---- tests ---- */
static void test_good_exchange(void)
{
    tk_script_t *s = tk_script_new();
    oracle_t o;
    scb_card_t *card = open_samsung(s, &o, answer_ok, NULL, NULL);
    uint8_t r[300];
    size_t rl = sizeof(r);
    for (int i = 0; i < 3; i++) { /* counter and MCV advance together */
        rl = sizeof(r);
        TK_EQ_RC(send_hex(card, "80F22000024F00", r, &rl), SCB_OK);
        TK_EQ_INT(rl, strlen(GET_STATUS_PLAIN) / 2 + 2);
        TK_EQ_INT(r[rl - 2] << 8 | r[rl - 1], 0x9000);
    }
    TK_EQ_INT(o.bad_cmac, 0);
    /* the engine sizes READ BINARY chunks from the level in force */
    TK_EQ_INT(scb__max_read_chunk(card), 239);
    TK_EQ_INT(scb__max_write_chunk(card), 239);
    scb_card_free(&card);
    oracle_free(&o);
    tk_script_free(s);
}

static void test_refused_responses(void)
{
    static const struct {
        const char *what;
        oracle_answer_fn answer;
        int rc;
    } cases[] = {
        {"flipped R-MAC", answer_flip_rmac, SCB_E_SCP_RMAC},
        {"flipped ciphertext", answer_flip_data, SCB_E_SCP_RMAC},
        {"no padding marker", answer_no_marker, SCB_E_SCP_PADDING},
        {"ciphertext not whole blocks", answer_odd_length, SCB_E_SCP_PADDING},
        {"error status with data", answer_error_sw_with_data, SCB_E_SCP_RMAC},
        {"too short for an R-MAC", answer_short, SCB_E_SCP_RMAC},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tk_script_t *s = tk_script_new();
        oracle_t o;
        scb_card_t *card = open_samsung(s, &o, cases[i].answer, NULL, NULL);
        uint8_t r[300];
        size_t rl = sizeof(r);
        int rc = send_hex(card, "80F22000024F00", r, &rl);
        if (rc != cases[i].rc)
            fprintf(stderr, "  case: %s (%s)\n", cases[i].what, scb_card_errmsg(card));
        check_torn_down(card, rc, cases[i].rc);
        /* the raw path still works, explicitly in clear */
        s->responder = NULL;
        tk_script_add(s, "00A4040000", "9000");
        s->pos = s->count - 1;
        rl = sizeof(r);
        TK_EQ_RC(scb_card_transmit_plain(card, (const uint8_t *)"\x00\xA4\x04\x00\x00", 5, r, &rl),
                 SCB_OK);
        scb_card_free(&card);
        oracle_free(&o);
        tk_script_free(s);
    }
}

static void test_statuses_passed_on(void)
{
    static const struct {
        oracle_answer_fn answer;
        const char *plain;
    } cases[] = {
        {answer_error_sw, "6A88"},
        {answer_warning, "CAFE016283"},
        {answer_empty, "9000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tk_script_t *s = tk_script_new();
        oracle_t o;
        scb_card_t *card = open_samsung(s, &o, cases[i].answer, NULL, NULL);
        uint8_t r[300];
        size_t rl = sizeof(r);
        TK_EQ_RC(send_hex(card, "80F22000024F00", r, &rl), SCB_OK);
        TK_EQ_HEX(r, rl, cases[i].plain);
        TK_CHECK(scb_scp03_is_open(card)); /* the session goes on */
        o.answer = answer_ok;
        rl = sizeof(r);
        TK_EQ_RC(send_hex(card, "80F22000024F00", r, &rl), SCB_OK);
        TK_EQ_INT(o.bad_cmac, 0);
        scb_card_free(&card);
        oracle_free(&o);
        tk_script_free(s);
    }
}

/* ---- PUT KEY ---- */
typedef struct putkey_case {
    const char *expect_plain; /* the command data the card must decrypt */
    const char *answer;       /* plain response data + SW */
    int masked_events;        /* trace events marked masked */
    int plain_cmd_events;
} putkey_case_t;

static size_t answer_putkey(oracle_t *o, const uint8_t *hdr, const uint8_t *plain, size_t n,
                            uint8_t *resp)
{
    putkey_case_t *pk = o->user;
    TK_EQ_HEX(hdr, 4, "84D83081"); /* replace key version 30, several keys */
    TK_EQ_HEX(plain, n, pk->expect_plain);
    uint8_t a[64];
    size_t al = tk_unhex(pk->answer, a, sizeof(a));
    return oracle_respond(o, a, al - 2, (uint16_t)(a[al - 2] << 8 | a[al - 1]), resp);
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
    tk_script_t *s = tk_script_new();
    oracle_t o;
    scb_card_t *card = open_samsung(s, &o, answer_putkey, dek, NULL);
    o.user = pk;
    scb_trace_t tr = {.version = SCB_TRACE_VERSION, .user = pk, .event = count_events};
    TK_EQ_RC(scb_card_set_trace(card, &tr), SCB_OK);
    uint8_t k1[16], k2[16], k3[16];
    tk_unhex("404142434445464748494A4B4C4D4E4F", k1, 16);
    tk_unhex("505152535455565758595A5B5C5D5E5F", k2, 16);
    tk_unhex("606162636465666768696A6B6C6D6E6F", k3, 16);
    scb_keys_t *nk = NULL;
    TK_EQ_RC(scb_keys_new(&nk, k1, k2, k3, 16, 0x31), SCB_OK);
    int rc = scb_put_keys(card, nk, 0x30);
    TK_EQ_INT(o.bad_cmac, 0);
    TK_EQ_INT(o.commands, 3);
    scb_keys_free(&nk);
    scb_card_free(&card);
    oracle_free(&o);
    tk_script_free(s);
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
    s = tk_script_new();
    oracle_t o;
    card = open_samsung(s, &o, answer_ok, NULL, NULL);
    unsigned long sent = scb_card_apdu_count(card);
    TK_EQ_RC(scb_put_keys(card, no_dek, 0), SCB_E_SCP_KEY);
    scb_keys_t *v0 = NULL;
    TK_EQ_RC(scb_keys_new(&v0, k, k, k, 16, 0), SCB_OK);
    TK_EQ_RC(scb_put_keys(card, v0, 0), SCB_E_INVALID_ARG);
    TK_EQ_INT(scb_card_apdu_count(card), sent);
    TK_CHECK(scb_scp03_is_open(card)); /* refusing locally is no session failure */
    scb_keys_free(&v0);
    scb_card_free(&card);
    oracle_free(&o);
    tk_script_free(s);
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
