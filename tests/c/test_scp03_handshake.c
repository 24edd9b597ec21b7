/*
 * The SCP03 handshake on recorded sessions (scp03.json), changed one field
 * at a time: each bad answer gets its own error code, sends nothing more
 * than it must, leaves no session, refuses secured transmits afterwards,
 * and never puts key bytes into the error detail. Also: options, the
 * RNG hook, the key probe, the sequence counter rule and a re-open.
 */
#include "internal.h"
#include "scp03_testdata.h"

static json_object *vectors;

/* A handshake set-up from a recorded entry. */
typedef struct hs {
    json_object *e;
    scb_keys_t *keys;
    scb_opts_t *p;
    uint8_t hc[16], aid[16];
    tk_script_t *s;
    scb_card_t *card;
} hs_t;

static void hs_init(hs_t *h, const char *name, bool with_aid)
{
    memset(h, 0, sizeof(*h));
    h->e = scp03_entry(vectors, name);
    uint8_t enc[16], mac[16], dek[16], iu[20];
    tk_unhex(scp03_field(h->e, "keys", "enc"), enc, 16);
    tk_unhex(scp03_field(h->e, "keys", "mac"), mac, 16);
    tk_unhex(scp03_field(h->e, "keys", "dek"), dek, 16);
    tk_unhex(scp03_exchange(h->e, 0, "c"), iu, sizeof(iu));
    TK_EQ_RC(scb_keys_new(&h->keys, enc, mac, dek, 16, iu[2]), SCB_OK);
    TK_EQ_RC(scb_opts_new(&h->p), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(h->p, SCB_OPT_LEVEL, tk_json_int(h->e, "level", 0)), SCB_OK);
    size_t n = tk_unhex(tk_json_str(h->e, "host_challenge"), h->hc, 16);
    TK_EQ_RC(scb_opts_set_bytes(h->p, SCB_OPT_HOST_CHALLENGE, h->hc, n), SCB_OK);
    if (with_aid && tk_json_str(h->e, "sd_aid") != NULL) {
        n = tk_unhex(tk_json_str(h->e, "sd_aid"), h->aid, 16);
        TK_EQ_RC(scb_opts_set_bytes(h->p, SCB_OPT_SD_AID, h->aid, n), SCB_OK);
    }
    h->s = tk_script_new();
    h->card = tk_card(h->s);
}

static void hs_free(hs_t *h)
{
    scb_card_free(&h->card);
    scb_keys_free(&h->keys);
    scb_opts_free(&h->p);
    tk_script_free(h->s);
}

/* The recorded IU response with byte i xor-ed (or, with i < 0, the whole
 * hex replaced). */
static void iu_with(hs_t *h, int i, uint8_t x, char *out, size_t cap)
{
    uint8_t r[64];
    size_t n = tk_unhex(scp03_exchange(h->e, 0, "r"), r, sizeof(r));
    if (i >= 0)
        r[i] ^= x;
    tk_hex(r, n, out, cap);
}

/* What every failed handshake must leave behind. */
static void check_failed(hs_t *h, int rc, int want, unsigned long apdus)
{
    TK_EQ_RC(rc, want);
    TK_EQ_INT(scb_card_apdu_count(h->card), apdus);
    TK_CHECK(!scb_scp03_is_open(h->card));
    TK_EQ_INT(scb_scp03_level(h->card), -1);
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", scb_card_errmsg(h->card));
    TK_CHECK(strlen(msg) > 10);
    uint8_t r[64];
    size_t rl = sizeof(r);
    TK_EQ_RC(scb_card_transmit(h->card, (const uint8_t *)"\x80\xCA\x00\x66\x00", 5, r, &rl),
             SCB_E_SCP_NO_SESSION);
    TK_EQ_INT(scb_card_apdu_count(h->card), apdus);
    /* no key bytes in the detail: neither static nor session keys */
    static const char *const secret[][2] = {{"keys", "enc"},      {"keys", "mac"},
                                            {"keys", "dek"},      {"session", "s_enc"},
                                            {"session", "s_mac"}, {"session", "s_rmac"}};
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
        char head[7];
        snprintf(head, sizeof(head), "%s", scp03_field(h->e, secret[i][0], secret[i][1]));
        TK_CHECK(strstr(msg, head) == NULL);
    }
}

static void test_iu_answer_field_by_field(void)
{
    static const struct {
        const char *what;
        const char *name;
        int byte; /* in the IU response; -1: see hex */
        uint8_t x;
        int rc;
    } cases[] = {
        {"card cryptogram", "kaoh_get_status", 21 + 7, 0x01, SCB_E_SCP_CARD_CRYPTOGRAM},
        {"card cryptogram", "samsung_aes128_s8_sl33", 21, 0x80, SCB_E_SCP_CARD_CRYPTOGRAM},
        {"key version", "samsung_aes128_s8_sl33", 10, 0x01, SCB_E_SCP_KVN},
        {"SCP id 02", "kaoh_get_status", 11, 0x01, SCB_E_SCP_PROTOCOL},
        {"i says S16", "kaoh_get_status", 12, 0x01, SCB_E_SCP_MODE},
        {"pseudo-random challenge", "kaoh_get_status", 13, 0x04, SCB_E_SCP_CHALLENGE},
        {"sequence counter", "kaoh_get_status", 29 + 2, 0x01, SCB_E_SCP_CHALLENGE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hs_t h;
        hs_init(&h, cases[i].name, true);
        char r[200];
        iu_with(&h, cases[i].byte, cases[i].x, r, sizeof(r));
        tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), r);
        int before = tk_failures;
        check_failed(&h, scb_scp03_open(h.card, h.keys, h.p), cases[i].rc, 1);
        if (tk_failures != before)
            fprintf(stderr, "  case %s: %s\n", cases[i].what, scb_card_errmsg(h.card));
        scb_scp03_info_t info;
        TK_EQ_RC(scb_scp03_info(h.card, &info), SCB_OK); /* for diagnosis */
        hs_free(&h);
    }
}

static void test_iu_answer_length(void)
{
    /* 29/32 bytes in S8 (sequence counter iff i has 10), 45/48 in S16 */
    static const char *const bad[] = {
        "00000000000000000000300370B6E362D0F90F8101C34B7B21A745532000009000",       /* 31 */
        "00000000000000000000300370B6E362D0F90F8101C34B7B21A745532000002500009000", /* 33 */
        "000000000000000000003003609000",                                           /* 13 */
        "00000000000000000000309000",                                               /* 11 */
        "9000",                                                                     /* none */
        /* i without 10 but a sequence counter present */
        "00000000000000000000300360B6E362D0F90F8101C34B7B21A74553200000259000",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hs_t h;
        hs_init(&h, "kaoh_get_status", false);
        tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), bad[i]);
        int rc = scb_scp03_open(h.card, h.keys, h.p);
        TK_CHECK(strstr(scb_card_errmsg(h.card), "INITIALIZE UPDATE") != NULL);
        check_failed(&h, rc, SCB_E_SCP_PROTOCOL, 1);
        hs_free(&h);
    }
}

static void test_sequence_counter_only_with_i10(void)
{
    /* Same card answer with i = 60 and no sequence counter: the crypto does
     * not cover i, so the recorded session still opens; nothing to verify
     * the challenge against. */
    hs_t h;
    hs_init(&h, "kaoh_get_status", true);
    tk_script_add(h.s, scp03_exchange(h.e, 0, "c"),
                  "00000000000000000000300360B6E362D0F90F8101C34B7B21A74553209000");
    tk_script_add(h.s, scp03_exchange(h.e, 1, "c"), "9000");
    TK_EQ_RC(scb_scp03_open(h.card, h.keys, h.p), SCB_OK);
    scb_scp03_info_t info;
    TK_EQ_RC(scb_scp03_info(h.card, &info), SCB_OK);
    TK_EQ_INT(info.has_seq_counter, 0);
    TK_EQ_INT(info.challenge_verified, 0);
    TK_EQ_INT(info.i_param, 0x60);
    TK_CHECK(tk_script_complete(h.s));
    hs_free(&h);
}

static void test_mode_mismatch_host_s16(void)
{
    hs_t h;
    hs_init(&h, "kaoh_get_status", false);
    uint8_t hc16[16] = {0};
    TK_EQ_RC(scb_opts_set_int(h.p, SCB_OPT_S16, 1), SCB_OK);
    TK_EQ_RC(scb_opts_set_bytes(h.p, SCB_OPT_HOST_CHALLENGE, hc16, 16), SCB_OK);
    tk_script_add(h.s, "80500000100000000000000000000000000000000000", scp03_exchange(h.e, 0, "r"));
    check_failed(&h, scb_scp03_open(h.card, h.keys, h.p), SCB_E_SCP_MODE, 1);
    TK_CHECK(tk_script_complete(h.s)); /* Lc 10 with a 16-byte challenge */
    hs_free(&h);
}

static void test_level_against_i(void)
{
    static const struct {
        uint8_t i, level;
        int rc;
    } cases[] = {
        {0x10, 0x11, SCB_E_SCP_LEVEL},                                /* no R-MAC */
        {0x10, 0x33, SCB_E_SCP_LEVEL}, {0x30, 0x33, SCB_E_SCP_LEVEL}, /* R-MAC, no R-ENC */
        {0x50, 0x33, SCB_E_SCP_LEVEL}, /* 40 without 20 is not R-ENC support */
        {0x30, 0x13, SCB_OK},          {0x10, 0x03, SCB_OK},          {0x70, 0x33, SCB_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hs_t h;
        hs_init(&h, "kaoh_get_status", true);
        TK_EQ_RC(scb_opts_set_int(h.p, SCB_OPT_LEVEL, cases[i].level), SCB_OK);
        char r[200];
        iu_with(&h, 12, (uint8_t)(0x70 ^ cases[i].i), r, sizeof(r));
        tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), r);
        if (cases[i].rc == SCB_OK) {
            tk_script_add(h.s, NULL, "9000"); /* EA's MAC covers the level */
            TK_EQ_RC(scb_scp03_open(h.card, h.keys, h.p), SCB_OK);
            TK_EQ_INT(scb_scp03_level(h.card), cases[i].level);
            TK_CHECK(tk_script_complete(h.s));
        } else {
            /* refused before EXTERNAL AUTHENTICATE goes out */
            check_failed(&h, scb_scp03_open(h.card, h.keys, h.p), cases[i].rc, 1);
        }
        hs_free(&h);
    }
}

static void test_status_words(void)
{
    static const struct {
        const char *iu_r, *ea_r;
        int rc;
        unsigned long apdus;
    } cases[] = {
        {"6A88", NULL, SCB_E_SCP_NO_KEYSET, 1},     {"6982", NULL, SCB_E_SCP_PROTOCOL, 1},
        {NULL, "6300", SCB_E_SCP_AUTH_REJECTED, 2}, {NULL, "6982", SCB_E_SCP_AUTH_REJECTED, 2},
        {NULL, "01029000", SCB_E_SCP_PROTOCOL, 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hs_t h;
        hs_init(&h, "kaoh_get_status", true);
        tk_script_add(h.s, scp03_exchange(h.e, 0, "c"),
                      cases[i].iu_r ? cases[i].iu_r : scp03_exchange(h.e, 0, "r"));
        if (cases[i].ea_r != NULL)
            tk_script_add(h.s, scp03_exchange(h.e, 1, "c"), cases[i].ea_r);
        check_failed(&h, scb_scp03_open(h.card, h.keys, h.p), cases[i].rc, cases[i].apdus);
        TK_CHECK(tk_script_complete(h.s));
        hs_free(&h);
    }
    /* 6A88: the card has no key set with that version, a code of its own */
    hs_t h;
    hs_init(&h, "samsung_aes128_s8_sl33", false);
    tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), "6A88");
    TK_EQ_RC(scb_scp03_open(h.card, h.keys, h.p), SCB_E_SCP_NO_KEYSET);
    TK_CHECK(strstr(scb_card_errmsg(h.card), "no key set with version") != NULL);
    TK_CHECK(strstr(scb_card_errmsg(h.card), "6A88") != NULL);
    TK_CHECK(strstr(scb_card_errmsg(h.card), "key") != NULL);
    TK_EQ_INT(scb_card_last_sw(h.card), 0x6A88);
    hs_free(&h);
}

static void test_transport_failure(void)
{
    hs_t h;
    hs_init(&h, "kaoh_get_status", true);
    tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), scp03_exchange(h.e, 0, "r"));
    tk_script_add_error(h.s, scp03_exchange(h.e, 1, "c"), SCB_E_CARD_REMOVED);
    check_failed(&h, scb_scp03_open(h.card, h.keys, h.p), SCB_E_CARD_REMOVED, 2);
    hs_free(&h);
}

static void test_probe(void)
{
    /* right keys: cryptogram verified, nothing else sent, no session, and
     * the handle is not marked broken (nothing failed) */
    hs_t h;
    hs_init(&h, "kaoh_get_status", true);
    tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), scp03_exchange(h.e, 0, "r"));
    tk_script_add(h.s, "80CA006600", "9000");
    scb_scp03_info_t pinfo;
    TK_EQ_RC(scb_scp03_probe(h.card, h.keys, h.p, &pinfo), SCB_OK);
    TK_EQ_INT(pinfo.challenge_verified, 1);
    TK_CHECK(!scb_scp03_is_open(h.card));
    TK_EQ_INT(scb_card_apdu_count(h.card), 1);
    uint8_t r[16];
    size_t rl = sizeof(r);
    TK_EQ_RC(scb_card_transmit(h.card, (const uint8_t *)"\x80\xCA\x00\x66\x00", 5, r, &rl), SCB_OK);
    TK_CHECK(tk_script_complete(h.s));
    hs_free(&h);

    /* wrong keys: the card cryptogram says so without touching the card's
     * retry counter (EXTERNAL AUTHENTICATE is never sent) */
    hs_init(&h, "kaoh_get_status", false);
    scb_keys_free(&h.keys);
    uint8_t wrong[16] = {0x40};
    TK_EQ_RC(scb_keys_new(&h.keys, wrong, wrong, wrong, 16, 0), SCB_OK);
    tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), scp03_exchange(h.e, 0, "r"));
    tk_script_add(h.s, "80CA006600", "9000");
    TK_EQ_RC(scb_scp03_probe(h.card, h.keys, h.p, NULL), SCB_E_SCP_CARD_CRYPTOGRAM);
    TK_CHECK(strstr(scb_card_errmsg(h.card), "card cryptogram does not verify") != NULL);
    /* a probe asks for no session: a failed one leaves the channel usable in
     * clear, as a successful one does (another key set may be tried next) */
    TK_CHECK(!scb_scp03_is_open(h.card));
    rl = sizeof(r);
    TK_EQ_RC(scb_card_transmit(h.card, (const uint8_t *)"\x80\xCA\x00\x66\x00", 5, r, &rl), SCB_OK);
    TK_CHECK(tk_script_complete(h.s));
    hs_free(&h);
}

typedef struct wire_log {
    uint8_t cmd[4][64];
    size_t len[4];
    size_t count;
} wire_log_t;

static void log_wire(void *user, const scb_trace_event_t *ev)
{
    wire_log_t *log = user;
    if (ev->kind != SCB_TRACE_WIRE_CMD || log->count >= 4 || ev->len > 64)
        return;
    memcpy(log->cmd[log->count], ev->data, ev->len);
    log->len[log->count++] = ev->len;
}

static int pinned_rng(void *user, uint8_t *buf, size_t len)
{
    const uint8_t *hc = user;
    memcpy(buf, hc, len);
    return 0;
}

static int failing_rng(void *user, uint8_t *buf, size_t len)
{
    (void)user, (void)buf, (void)len;
    return -1;
}

static void test_host_challenge_from_rng(void)
{
    hs_t h;
    hs_init(&h, "samsung_aes128_s8_sl33", false);
    TK_EQ_RC(scb_opts_unset(h.p, SCB_OPT_HOST_CHALLENGE), SCB_OK);
    TK_EQ_RC(scb_card_set_rng(h.card, pinned_rng, h.hc), SCB_OK);
    tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), scp03_exchange(h.e, 0, "r"));
    tk_script_add(h.s, scp03_exchange(h.e, 1, "c"), scp03_exchange(h.e, 1, "r"));
    TK_EQ_RC(scb_scp03_open(h.card, h.keys, h.p), SCB_OK);
    TK_CHECK(tk_script_complete(h.s));
    TK_CHECK(scb_scp03_is_open(h.card));
    TK_EQ_RC(scb_scp03_close(h.card), SCB_OK);
    TK_CHECK(!scb_scp03_is_open(h.card));
    TK_EQ_RC(scb_card_set_rng(h.card, failing_rng, NULL), SCB_OK);
    check_failed(&h, scb_scp03_open(h.card, h.keys, h.p), SCB_E_CRYPTO, 2);
    hs_free(&h);

    /* OpenSSL's RAND by default: two handshakes, two different challenges */
    tk_script_t *s = tk_script_new();
    tk_script_add(s, NULL, "6A88");
    tk_script_add(s, NULL, "6A88");
    scb_card_t *card = tk_card(s);
    wire_log_t log = {0};
    scb_trace_t tr = {.version = SCB_TRACE_VERSION, .user = &log, .event = log_wire};
    TK_EQ_RC(scb_card_set_trace(card, &tr), SCB_OK);
    uint8_t k[16] = {0};
    scb_keys_t *keys = NULL;
    TK_EQ_RC(scb_keys_new(&keys, k, k, NULL, 16, 0), SCB_OK);
    TK_EQ_RC(scb_scp03_open(card, keys, NULL), SCB_E_SCP_NO_KEYSET);
    TK_EQ_RC(scb_scp03_open(card, keys, NULL), SCB_E_SCP_NO_KEYSET);
    TK_EQ_INT(log.count, 2);
    TK_EQ_INT(log.len[0], 14);
    TK_EQ_INT(log.len[1], 14);
    TK_EQ_HEX(log.cmd[0], 5, "8050000008");
    TK_CHECK(memcmp(log.cmd[0] + 5, log.cmd[1] + 5, 8) != 0);
    scb_card_free(&card);
    scb_keys_free(&keys);
    tk_script_free(s);
}

static void test_params(void)
{
    hs_t h;
    hs_init(&h, "samsung_aes128_s8_sl33", false);
    tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), scp03_exchange(h.e, 0, "r"));
    tk_script_add(h.s, scp03_exchange(h.e, 1, "c"), scp03_exchange(h.e, 1, "r"));
    TK_EQ_RC(scb_scp03_open(h.card, h.keys, h.p), SCB_OK);
    TK_CHECK(scb_scp03_is_open(h.card));

    /* values the options refuse: nothing reaches the card */
    static const uint8_t bad_levels[] = {0x02, 0x10, 0x12, 0x31, 0x21, 0xFF};
    for (size_t i = 0; i < sizeof(bad_levels); i++) {
        TK_EQ_RC(scb_opts_set_int(h.p, SCB_OPT_LEVEL, bad_levels[i]), SCB_E_INVALID_ARG);
        TK_CHECK(strstr(scb_opts_errmsg(h.p), "is not one of 0x00 0x01 0x03 0x11 0x13 0x33") != NULL);
    }
    TK_EQ_RC(scb_opts_set_bytes(h.p, SCB_OPT_SD_AID, h.aid, 3), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_opts_set_bytes(h.p, SCB_OPT_HOST_CHALLENGE, h.hc, 9), SCB_E_INVALID_ARG);
    scb_opts_t *p = NULL;
    TK_EQ_RC(scb_opts_new(&p), SCB_OK);
    /* a 16-byte challenge with S8 forced */
    TK_EQ_RC(scb_opts_set_bytes(p, SCB_OPT_HOST_CHALLENGE, h.hc, 16), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(p, SCB_OPT_S16, 0), SCB_OK);
    TK_EQ_RC(scb_scp03_open(h.card, h.keys, p), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_opts_unset(p, SCB_OPT_S16), SCB_OK);
    /* an option that is not the secure channel's */
    TK_EQ_RC(scb_opts_unset(p, SCB_OPT_HOST_CHALLENGE), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(p, SCB_OPT_PAD, 1), SCB_OK);
    TK_EQ_RC(scb_scp03_open(h.card, h.keys, p), SCB_E_INVALID_ARG);
    TK_CHECK(strstr(scb_card_errmsg(h.card), "'pad' does not apply to a secure channel") != NULL);
    TK_EQ_RC(scb_scp03_probe(h.card, h.keys, p, NULL), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_scp03_open(h.card, NULL, h.p), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_scp03_open(NULL, h.keys, h.p), SCB_E_INVALID_ARG);
    /* refused arguments touch neither the card nor the open session */
    TK_EQ_INT(scb_card_apdu_count(h.card), 2);
    TK_EQ_INT(scb_scp03_level(h.card), 0x33);

    /* defaults of a new options object */
    scb_opts_free(&p);
    TK_EQ_RC(scb_opts_new(&p), SCB_OK);
    long long v = -1;
    TK_EQ_RC(scb_opts_get_int(p, SCB_OPT_LEVEL, &v), SCB_OK);
    TK_EQ_INT(v, 0x33);
    TK_EQ_RC(scb_opts_get_int(p, SCB_OPT_KVN, &v), SCB_OK);
    TK_EQ_INT(v, 0);
    TK_EQ_RC(scb_opts_get_int(NULL, SCB_OPT_LEVEL, &v), SCB_OK);
    TK_EQ_INT(v, 0x33);
    TK_CHECK(!scb_opts_is_set(p, SCB_OPT_HOST_CHALLENGE) && !scb_opts_is_set(p, SCB_OPT_SD_AID));
    scb_opts_free(&p);
    scb_opts_free(&p); /* NULL-safe */
    scb_scp03_info_t info;
    TK_EQ_RC(scb_scp03_info(NULL, &info), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_scp03_close(NULL), SCB_E_INVALID_ARG);
    TK_CHECK(!scb_scp03_is_open(NULL));
    hs_free(&h);

    /* no handshake yet: no info */
    hs_init(&h, "samsung_aes128_s8_sl33", false);
    TK_EQ_RC(scb_scp03_info(h.card, &info), SCB_E_STATE);
    hs_free(&h);
}

static void test_kvn_param_overrides_key_set(void)
{
    hs_t h;
    hs_init(&h, "samsung_aes128_s8_sl33", false);
    scb_keys_free(&h.keys);
    uint8_t enc[16], mac[16];
    tk_unhex(scp03_field(h.e, "keys", "enc"), enc, 16);
    tk_unhex(scp03_field(h.e, "keys", "mac"), mac, 16);
    TK_EQ_RC(scb_keys_new(&h.keys, enc, mac, NULL, 16, 0x01), SCB_OK);
    /* asked in INITIALIZE UPDATE instead of the set's 01 */
    TK_EQ_RC(scb_opts_set_int(h.p, SCB_OPT_KVN, 0x30), SCB_OK);
    tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), scp03_exchange(h.e, 0, "r"));
    tk_script_add(h.s, scp03_exchange(h.e, 1, "c"), scp03_exchange(h.e, 1, "r"));
    TK_EQ_RC(scb_scp03_open(h.card, h.keys, h.p), SCB_OK);
    scb_scp03_info_t info;
    TK_EQ_RC(scb_scp03_info(h.card, &info), SCB_OK);
    TK_EQ_INT(info.kvn, 0x30);
    TK_CHECK(tk_script_complete(h.s));
    hs_free(&h);
}

static void test_reopen_after_failure(void)
{
    hs_t h;
    hs_init(&h, "kaoh_get_status", true);
    char r[200];
    iu_with(&h, 25, 0x10, r, sizeof(r));
    tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), r);
    TK_EQ_RC(scb_scp03_open(h.card, h.keys, h.p), SCB_E_SCP_CARD_CRYPTOGRAM);
    /* a new session clears the refusal */
    tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), scp03_exchange(h.e, 0, "r"));
    tk_script_add(h.s, scp03_exchange(h.e, 1, "c"), scp03_exchange(h.e, 1, "r"));
    tk_script_add(h.s, scp03_exchange(h.e, 2, "c"), scp03_exchange(h.e, 2, "r"));
    TK_EQ_RC(scb_scp03_open(h.card, h.keys, h.p), SCB_OK);
    uint8_t cmd[64], resp[600];
    size_t cl = tk_unhex(scp03_exchange(h.e, 2, "plain_c"), cmd, sizeof(cmd));
    size_t rl = sizeof(resp);
    TK_EQ_RC(scb_card_transmit(h.card, cmd, cl, resp, &rl), SCB_OK);
    TK_EQ_HEX(resp, rl, scp03_exchange(h.e, 2, "plain_r"));
    TK_CHECK(tk_script_complete(h.s));
    /* a second open replaces the session (INITIALIZE UPDATE in clear) */
    tk_script_add(h.s, scp03_exchange(h.e, 0, "c"), "6A88");
    TK_EQ_RC(scb_scp03_open(h.card, h.keys, h.p), SCB_E_SCP_NO_KEYSET);
    TK_CHECK(!scb_scp03_is_open(h.card));
    TK_CHECK(tk_script_complete(h.s));
    hs_free(&h);
}

int main(void)
{
    vectors = tk_load_vectors("scp03.json");
    TK_RUN(test_iu_answer_field_by_field);
    TK_RUN(test_iu_answer_length);
    TK_RUN(test_sequence_counter_only_with_i10);
    TK_RUN(test_mode_mismatch_host_s16);
    TK_RUN(test_level_against_i);
    TK_RUN(test_status_words);
    TK_RUN(test_transport_failure);
    TK_RUN(test_probe);
    TK_RUN(test_host_challenge_from_rng);
    TK_RUN(test_params);
    TK_RUN(test_kvn_param_overrides_key_set);
    TK_RUN(test_reopen_after_failure);
    json_object_put(vectors);
    return tk_done();
}
