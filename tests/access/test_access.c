/*
 * The bootstrap job against the virtual card, in process: the read flow as
 * the LwM2M appendix lays it out, its APDU budget (cold <= 12, warm <= 8), every fallback (no EF.DIR, mis-encoded OID, paths), the
 * channel closed after errors, faults, writing and key rotation.
 */
#include "internal.h"
#include "scboot_json.h"
#include "scboot_sim.h"
#include "testkit.h"

typedef struct {
    scb_sim_t *sim;   /* owned by the card */
    scb_card_t *card;
    scb_keys_t *keys;
} rig_t;

static rig_t rig(const char *profile_json)
{
    rig_t r = {0};
    char detail[256] = "";
    int rc = scb_sim_new_from_json(&r.sim, profile_json, detail, sizeof(detail));
    if (rc != 0) {
        fprintf(stderr, "profile: %s\n", detail);
        abort();
    }
    TK_EQ_RC(scb_sim_host_keys(r.sim, &r.keys), SCB_OK);
    TK_EQ_RC(scb_card_open_sim_owned(&r.card, r.sim), SCB_OK);
    return r;
}

static void rig_free(rig_t *r)
{
    scb_card_free(&r->card);
    scb_keys_free(&r->keys);
}

/* The options and keys of the next job (one object at a time, freed by
 * the next call and at the end). */
static scb_opts_t *g_opts;
static const scb_keys_t *g_keys;
static scb_opts_t *opts(const scb_keys_t *keys)
{
    scb_opts_free(&g_opts);
    TK_EQ_RC(scb_opts_new(&g_opts), SCB_OK);
    g_keys = keys;
    return g_opts;
}

/* After any operation the card has no logical channel open but the basic
 * one: MANAGE CHANNEL open must give channel 1 again. */
static void check_channels_closed(scb_card_t *card)
{
    uint8_t ch = 0;
    TK_EQ_INT(scb_card_channel(card), 0);
    TK_EQ_RC(scb_channel_open(card, &ch), SCB_OK);
    TK_EQ_INT(ch, 1);
    TK_EQ_RC(scb_channel_close(card), SCB_OK);
}

static void test_cold_and_warm_read(void)
{
    rig_t r = rig(NULL);
    scb_opts_t *o = opts(r.keys);
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_OK);
    fprintf(stderr, "  cold read: %lu APDUs\n", info.apdus);
    TK_CHECK(info.apdus <= 12);
    TK_EQ_INT(info.used_efdir, 1);
    TK_EQ_INT(info.channel, 1);
    TK_EQ_INT(info.scp_level, 0x33);
    TK_EQ_INT(info.oid_form, SCB_OID_DO_ID);
    TK_EQ_HEX(info.path, info.path_len, "6432");
    TK_EQ_HEX(info.aid, info.aid_len, "A000000063504B43532D3135");
    TK_EQ_INT(info.ef_size, 1024);
    TK_CHECK(strcmp(info.label, "LwM2M Bootstrap") == 0);
    TK_EQ_INT(scb_bootstrap_security_count(bs), 2);
    TK_EQ_INT(scb_bootstrap_server_count(bs), 1);
    scb_server_t sv;
    TK_EQ_RC(scb_bootstrap_server(bs, 0, &sv), SCB_OK);
    TK_EQ_INT(sv.lifetime, 86400);
    /* the raw bytes are the meaningful bytes: header + size, no padding */
    const uint8_t *raw;
    size_t rawlen;
    TK_EQ_RC(scb_bootstrap_raw(bs, &raw, &rawlen), SCB_OK);
    TK_EQ_INT(rawlen, 4 + (raw[2] << 8 | raw[3]));
    uint8_t file[1024];
    size_t flen = sizeof(file);
    const uint8_t p[] = {0x50, 0x15, 0x64, 0x32};
    TK_EQ_RC(scb_sim_read_file(r.sim, p, sizeof(p), file, &flen), SCB_OK);
    TK_EQ_MEM(raw, rawlen, file, rawlen);
    check_channels_closed(r.card);

    /* warm: the path and AID remembered from the first read */
    TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_PATH, info.path, info.path_len), SCB_OK);
    TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_AID, info.aid, info.aid_len), SCB_OK);
    scb_bootstrap_t *bs2 = NULL;
    scb_access_info_t info2;
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs2, &info2), SCB_OK);
    fprintf(stderr, "  warm read: %lu APDUs\n", info2.apdus);
    TK_CHECK(info2.apdus <= 8);
    uint8_t d1[32], d2[32];
    scb_bootstrap_digest(bs, d1);
    scb_bootstrap_digest(bs2, d2);
    TK_EQ_MEM(d1, 32, d2, 32);
    scb_bootstrap_free(&bs);
    scb_bootstrap_free(&bs2);
    rig_free(&r);
}

static void test_no_efdir_and_oid_forms(void)
{
    static const struct {
        const char *profile;
        int form;
        int efdir;
    } cases[] = {
        {"{\"efdir\": false}", SCB_OID_DO_ID, 0},
        {"{\"dodf\": {\"oid_form\": \"oid_do_misencoded\"}}", SCB_OID_DO_ID_MISENCODED, 1},
        {"{\"dodf\": {\"oid_form\": \"application_oid\"}}", SCB_OID_APPLICATION_OID, 1},
        {"{\"dodf\": {\"oid_form\": \"application_oid_misencoded\"}}",
         SCB_OID_APPLICATION_OID_MISENCODED, 1},
        {"{\"efdir\": {\"record_len\": 40, \"extra_records\": 3}}", SCB_OID_DO_ID, 1},
        {"{\"t0\": true}", SCB_OID_DO_ID, 1},
        {"{\"extended_length\": true}", SCB_OID_DO_ID, 1},
        {"{\"scp03\": {\"i\": \"0x71\"}}", SCB_OID_DO_ID, 1},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(cases); i++) {
        rig_t r = rig(cases[i].profile);
        scb_opts_t *o = opts(r.keys);
        if (strstr(cases[i].profile, "0x71") != NULL)
            scb_opts_set_int(o, SCB_OPT_S16, 1);
        scb_bootstrap_t *bs = NULL;
        scb_access_info_t info;
        int rc = scb_read_bootstrap(r.card, g_keys, o, &bs, &info);
        TK_EQ_RC(rc, SCB_OK);
        if (rc != SCB_OK)
            fprintf(stderr, "  %s: %s\n", cases[i].profile, scb_card_errmsg(r.card));
        TK_EQ_INT(info.oid_form, cases[i].form);
        TK_EQ_INT(info.used_efdir, cases[i].efdir);
        /* T=0: every command with data costs a GET RESPONSE; no EF.DIR: the
         * SFI read and the SELECT 2F00 both answer 6A82 before the fallback */
        TK_CHECK(info.apdus <= (strstr(cases[i].profile, "t0") != NULL ? 20u : 13u));
        fprintf(stderr, "  %-60s %lu APDUs\n", cases[i].profile, info.apdus);
        TK_EQ_INT(scb_bootstrap_security_count(bs), 2);
        scb_bootstrap_free(&bs);
        check_channels_closed(r.card);
        rig_free(&r);
    }
}

static void test_path_forms(void)
{
    static const char *paths[] = {"6432", "7FFF6432", "3F0050156432"};
    for (size_t i = 0; i < SCB_ARRAY_LEN(paths); i++) {
        char profile[200];
        snprintf(profile, sizeof(profile), "{\"dodf\": {\"path\": \"%s\"}}", paths[i]);
        rig_t r = rig(profile);
        scb_opts_t *o = opts(r.keys);
        scb_bootstrap_t *bs = NULL;
        scb_access_info_t info;
        int rc = scb_read_bootstrap(r.card, g_keys, o, &bs, &info);
        TK_EQ_RC(rc, SCB_OK);
        if (rc != SCB_OK)
            fprintf(stderr, "  path %s: %s\n", paths[i], scb_card_errmsg(r.card));
        TK_EQ_HEX(info.path, info.path_len, paths[i]);
        scb_bootstrap_free(&bs);
        rig_free(&r);
    }
}

static void test_failures_close_the_channel(void)
{
    /* wrong keys: card cryptogram mismatch, nothing left open */
    rig_t r = rig(NULL);
    scb_opts_t *o = NULL;
    uint8_t k[16];
    memset(k, 0x11, sizeof(k));
    scb_keys_t *wrong = NULL;
    TK_EQ_RC(scb_keys_new(&wrong, k, k, k, 16, 0x30), SCB_OK);
    o = opts(wrong);
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_SCP_CARD_CRYPTOGRAM);
    TK_CHECK(bs == NULL);
    TK_CHECK(strstr(scb_card_errmsg(r.card), "cryptogram") != NULL);
    check_channels_closed(r.card);
    scb_keys_free(&wrong);

    /* no keys and no explicit choice */
    o = opts(NULL);
    unsigned long sent = scb_card_apdu_count(r.card);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_INVALID_ARG);
    TK_EQ_INT(scb_card_apdu_count(r.card), sent); /* refused before the card */
    check_channels_closed(r.card);
    /* without the secure channel the card protects the EF */
    scb_opts_set_int(o, SCB_OPT_NO_SECURE_CHANNEL, 1);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_SECURITY_STATUS);
    TK_EQ_INT(scb_card_last_sw(r.card), 0x6982);
    check_channels_closed(r.card);
    /* a level below the profile's requirement */
    o = opts(r.keys);
    scb_opts_set_int(o, SCB_OPT_LEVEL, 0x13);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_SECURITY_STATUS);
    check_channels_closed(r.card);
    /* an option that does not apply to a read is refused before any APDU */
    o = opts(r.keys);
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_PAD, 1), SCB_OK);
    unsigned long apdus = scb_card_apdu_count(r.card);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_INVALID_ARG);
    TK_CHECK(strstr(scb_card_errmsg(r.card), "'pad' does not apply to a read") != NULL);
    TK_EQ_INT(scb_card_apdu_count(r.card), apdus);
    rig_free(&r);

    /* a card whose EF is readable in clear, read by explicit choice */
    r = rig("{\"bootstrap\": {\"read\": \"always\"}}");
    o = opts(NULL);
    scb_opts_set_int(o, SCB_OPT_NO_SECURE_CHANNEL, 1);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_OK);
    TK_EQ_INT(info.scp_level, -1);
    scb_bootstrap_free(&bs);
    rig_free(&r);

    /* faults at every APDU of a cold read: own error, channel closed, no hang */
    for (unsigned long at = 1; at <= 12; at++) {
        char profile[200];
        snprintf(profile, sizeof(profile), "{\"faults\": {\"sw_at\": %lu, \"sw\": \"0x6F00\"}}", at);
        r = rig(profile);
        o = opts(r.keys);
        int rc = scb_read_bootstrap(r.card, g_keys, o, &bs, &info);
        /* APDU 1 is EF.DIR through its SFI: 6F00 there means "not reachable
         * that way" and the read goes on through SELECT 2F00. APDU 12 is
         * MANAGE CHANNEL close: the data was read, the read succeeds (and
         * the card keeps its channel). Every other step fails with the SW. */
        if (at == 1 || at == 12) {
            TK_EQ_RC(rc, SCB_OK);
        } else if (at == 4 || at == 5) {
            /* inside the handshake: the secure channel's own codes */
            TK_EQ_RC(rc, at == 4 ? SCB_E_SCP_PROTOCOL : SCB_E_SCP_AUTH_REJECTED);
            TK_CHECK(bs == NULL);
        } else {
            TK_EQ_RC(rc, SCB_E_STATUS);
            TK_CHECK(bs == NULL);
            TK_CHECK(strstr(scb_card_errmsg(r.card), "6F00") != NULL);
        }
        scb_bootstrap_free(&bs);
        scb_sim_faults_t f;
        scb_sim_get_faults(r.sim, &f);
        f.sw_at = 0;
        scb_sim_set_faults(r.sim, &f);
        if (at != 12)
            check_channels_closed(r.card);
        rig_free(&r);
    }
    /* R-MAC corrupted on the ODF read (APDU 7): own error, session gone */
    r = rig("{\"faults\": {\"corrupt_rmac_at\": 7}}");
    o = opts(r.keys);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_SCP_RMAC);
    check_channels_closed(r.card);
    rig_free(&r);
    r = rig("{\"faults\": {\"bad_padding_at\": 11}}");
    o = opts(r.keys);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_SCP_PADDING);
    rig_free(&r);
    /* the card disappears */
    r = rig("{\"faults\": {\"disconnect_after\": 5}}");
    o = opts(r.keys);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_CARD_REMOVED);
    rig_free(&r);
}

static void test_dodf_problems(void)
{
    rig_t r = rig("{\"dodf\": {\"hex\": \"A1 30 30 00\"}}");
    scb_opts_t *o = opts(r.keys);
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_PARSE);
    TK_CHECK(strstr(scb_card_errmsg(r.card), "DODF") != NULL);
    check_channels_closed(r.card);
    rig_free(&r);
    r = rig("{\"dodf\": {\"hex\": \"FFFFFFFF\"}}");
    o = opts(r.keys);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_NO_BOOTSTRAP);
    rig_free(&r);
    /* size field larger than the EF */
    r = rig("{\"bootstrap\": {\"size\": 16, \"hex\": \"0001 0100 0000 00 0000 FFFFFFFFFFFFFF\"}}");
    o = opts(r.keys);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_PARSE);
    TK_CHECK(strstr(scb_card_errmsg(r.card), "size field") != NULL);
    rig_free(&r);
}

static void test_private_entry(void)
{
    rig_t r = rig("{\"dodf\": {\"private\": true}, \"pin\": {\"ref\": 1, \"value\": \"1234\"}}");
    scb_opts_t *o = opts(r.keys);
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_PIN_REQUIRED);
    check_channels_closed(r.card);
    TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_PIN, (const uint8_t *)"1234", 4), SCB_OK);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_OK);
    scb_bootstrap_free(&bs);
    TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_PIN, (const uint8_t *)"9999", 4), SCB_OK);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_E_PIN_WRONG);
    rig_free(&r);
}

/* Counts VERIFY commands on the wire (the INS byte goes in the clear). */
static void count_verify(void *user, const scb_trace_event_t *ev)
{
    unsigned *n = user;
    if (ev->kind == SCB_TRACE_WIRE_CMD && ev->len >= 2 && ev->data[1] == 0x20)
        (*n)++;
}

/* The message and status word of the last read_with_pin. */
static char g_msg[256];
static uint16_t g_sw;

/* One read with the given PIN (NULL: none, pin_ref < 0: the default);
 * *verifies counts the VERIFY commands sent. */
static int read_with_pin(rig_t *r, const char *pin, int pin_ref, unsigned *verifies)
{
    *verifies = 0;
    scb_trace_t t = {SCB_TRACE_VERSION, verifies, count_verify};
    TK_EQ_RC(scb_card_set_trace(r->card, &t), SCB_OK);
    scb_opts_t *o = opts(r->keys);
    if (pin != NULL)
        TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_PIN, (const uint8_t *)pin, strlen(pin)), SCB_OK);
    if (pin_ref >= 0)
        TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_PIN_REF, pin_ref), SCB_OK);
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    int rc = scb_read_bootstrap(r->card, g_keys, o, &bs, &info);
    snprintf(g_msg, sizeof(g_msg), "%s", scb_card_errmsg(r->card));
    g_sw = scb_card_last_sw(r->card);
    TK_CHECK((rc == SCB_OK) == (bs != NULL));
    scb_bootstrap_free(&bs);
    scb_card_set_trace(r->card, NULL);
    check_channels_closed(r->card);
    return rc;
}

static void check_msg(const char *want)
{
    tk_checks++;
    if (strstr(g_msg, want) == NULL) {
        tk_failures++;
        fprintf(stderr, "message '%s' lacks '%s'\n", g_msg, want);
    }
}

/* The PIN object of EF.AODF (the entry's authId names it) decides before
 * VERIFY: a PIN outside its bounds never reaches the card (a try saved);
 * its reference, pad character and stored length shape the VERIFY. */
static void test_pin_object(void)
{
    unsigned v;
    rig_t r = rig("{\"pin\": {\"value\": \"1234\", \"tries\": 3}, \"dodf\": {\"private\": true},"
                  " \"bootstrap\": {\"read\": \"pin\"}}");
    TK_EQ_RC(read_with_pin(&r, "12", -1, &v), SCB_E_INVALID_ARG);
    TK_EQ_INT(v, 0);
    TK_EQ_INT(scb_error_family(SCB_E_INVALID_ARG), SCB_FAMILY_USAGE);
    check_msg("the PIN has 2 characters; the card's PIN 'PIN1' (EF.AODF, authId 01) "
                      "takes 4 to 8 (no VERIFY was sent");
    TK_EQ_RC(read_with_pin(&r, "123456789", -1, &v), SCB_E_INVALID_ARG);
    TK_EQ_INT(v, 0);
    check_msg("the PIN has 9 characters");
    TK_CHECK(strstr(g_msg, "123456789") == NULL); /* sized, never shown */
    TK_EQ_RC(read_with_pin(&r, "12a4", -1, &v), SCB_E_INVALID_ARG);
    TK_EQ_INT(v, 0);
    check_msg("is ascii-numeric: digits only");
    TK_EQ_RC(read_with_pin(&r, NULL, -1, &v), SCB_E_PIN_REQUIRED);
    check_msg("a PIN must be verified first: the card's PIN 'PIN1' (EF.AODF, authId 01), "
                      "4 to 8 characters, reference 01");
    /* no try was spent: three wrong ones are still needed to block it */
    TK_EQ_RC(read_with_pin(&r, "1234", -1, &v), SCB_OK);
    TK_EQ_INT(v, 1);
    rig_free(&r);

    /* a local PIN 81 of 6..10 digits stored in 12 bytes padded with 00 */
    static const char *local =
        "{\"pin\": {\"ref\": 129, \"value\": \"123456\"}, \"dodf\": {\"private\": true},"
        " \"bootstrap\": {\"read\": \"pin\"}, \"aodf\": {\"label\": \"LwM2M\", \"min_length\": 6,"
        " \"max_length\": 10, \"stored_length\": 12, \"pad_char\": 0}}";
    r = rig(local);
    TK_EQ_RC(read_with_pin(&r, "12345", -1, &v), SCB_E_INVALID_ARG);
    check_msg("the card's PIN 'LwM2M' (EF.AODF, authId 01) takes 6 to 10");
    TK_EQ_RC(read_with_pin(&r, "12345678901", -1, &v), SCB_E_INVALID_ARG);
    TK_EQ_INT(v, 0);
    TK_EQ_RC(read_with_pin(&r, "123456", -1, &v), SCB_OK);
    TK_EQ_INT(v, 1);
    /* the option pin_ref, when set, wins over the card's object */
    TK_EQ_RC(read_with_pin(&r, "123456", 1, &v), SCB_E_NOT_FOUND);
    TK_EQ_INT(v, 1);
    rig_free(&r);

    /* a card that describes no PIN object: the UICC rule, as before */
    r = rig("{\"pin\": {\"value\": \"1234\"}, \"dodf\": {\"private\": true}, \"aodf\": false,"
            " \"bootstrap\": {\"read\": \"pin\"}}");
    TK_EQ_RC(read_with_pin(&r, "123456789", -1, &v), SCB_E_INVALID_ARG);
    TK_EQ_INT(v, 0);
    check_msg("a UICC PIN (TS 102 221 9.5.1) takes 1 to 8, and the card describes no PIN "
                      "object for the entry");
    TK_EQ_RC(read_with_pin(&r, "12", -1, &v), SCB_E_PIN_WRONG);
    TK_EQ_INT(v, 1);
    TK_EQ_RC(read_with_pin(&r, NULL, -1, &v), SCB_E_PIN_REQUIRED);
    check_msg("the bootstrap object is private: a PIN must be verified first");
    rig_free(&r);
    /* an AODF without the entry's authId, or named by the ODF but absent */
    static const char *const none[] = {
        "{\"pin\": {\"value\": \"1234\"}, \"dodf\": {\"private\": true, \"auth_id\": \"07\"}}",
        "{\"pin\": {\"value\": \"1234\"}, \"dodf\": {\"private\": true, \"auth_id\": \"01\"},"
        " \"odf\": {\"hex\": \"A706300404026430 A806300404024499\"}}",
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(none); i++) {
        r = rig(none[i]);
        TK_EQ_RC(read_with_pin(&r, "123456789", -1, &v), SCB_E_INVALID_ARG);
        check_msg("takes 1 to 8, and the card describes no PIN object");
        TK_EQ_RC(read_with_pin(&r, "1234", -1, &v), SCB_OK);
        rig_free(&r);
    }

    /* a PIN coded in a way scboot does not send, a malformed AODF */
    r = rig("{\"pin\": {\"value\": \"1234\"}, \"dodf\": {\"private\": true},"
            " \"aodf\": {\"pin_type\": \"bcd\"}}");
    TK_EQ_RC(read_with_pin(&r, "1234", -1, &v), SCB_E_UNSUPPORTED);
    TK_EQ_INT(v, 0);
    check_msg("has pinType 0");
    rig_free(&r);
    r = rig("{\"pin\": {\"value\": \"1234\"}, \"dodf\": {\"private\": true},"
            " \"aodf\": {\"hex\": \"3009 3000 3003 040101 A100\"}}");
    TK_EQ_RC(read_with_pin(&r, "1234", -1, &v), SCB_E_PARSE);
    TK_EQ_INT(v, 0);
    check_msg("EF.AODF: AODF entry 1 at offset 9: empty typeAttributes");
    /* with no PIN given, a broken AODF does not hide that one is needed */
    TK_EQ_RC(read_with_pin(&r, NULL, -1, &v), SCB_E_PIN_REQUIRED);
    check_msg("the bootstrap object is private: a PIN must be verified first");
    rig_free(&r);
}

/* The last try: 63C0 and then 6983 both say the PIN is blocked. */
static void test_pin_blocked(void)
{
    unsigned v;
    rig_t r = rig("{\"pin\": {\"value\": \"1234\", \"tries\": 2}, \"dodf\": {\"private\": true},"
                  " \"bootstrap\": {\"read\": \"pin\"}}");
    TK_EQ_RC(read_with_pin(&r, "9999", -1, &v), SCB_E_PIN_WRONG);
    check_msg("VERIFY: PIN rejected, 1 try left");
    TK_EQ_INT(g_sw, 0x63C1);
    TK_EQ_RC(read_with_pin(&r, "9999", -1, &v), SCB_E_PIN_WRONG);
    check_msg("VERIFY: the PIN is blocked (no tries left): unblock it with the PUK");
    TK_EQ_INT(g_sw, 0x63C0);
    TK_EQ_RC(read_with_pin(&r, "1234", -1, &v), SCB_E_PIN_WRONG);
    check_msg("VERIFY: the PIN is blocked (no tries left): unblock it with the PUK");
    TK_EQ_INT(g_sw, 0x6983);
    TK_EQ_INT(scb_error_family(SCB_E_PIN_WRONG), SCB_FAMILY_CARD);
    rig_free(&r);
}

static void encode_json(const char *json, uint8_t *buf, size_t *len)
{
    scb_bootstrap_t *bs = NULL;
    char detail[200] = "";
    int rc = scbj_bootstrap_from_json(json, &bs, detail, sizeof(detail));
    if (rc != SCB_OK)
        fprintf(stderr, "json: %s\n", detail);
    TK_EQ_RC(rc, SCB_OK);
    TK_EQ_RC(scb_bootstrap_encode(bs, buf, len), SCB_OK);
    scb_bootstrap_free(&bs);
}

static const char *new_accounts =
    "{\"security\": [{\"instance\": 0, \"server_uri\": \"coaps://bs.new.example:5684\","
    " \"bootstrap_server\": true, \"security_mode\": 0,"
    " \"public_key_or_identity\": \"6964\", \"secret_key\": \"00112233445566778899aabbccddeeff\"}],"
    " \"servers\": [{\"instance\": 0, \"short_server_id\": 7, \"lifetime\": 300, \"binding\": \"U\"}]}";

static void test_write(void)
{
    rig_t r = rig(NULL);
    uint8_t data[512];
    size_t len = sizeof(data);
    encode_json(new_accounts, data, &len);
    scb_opts_t *o = opts(r.keys);
    scb_opts_set_int(o, SCB_OPT_PAD, 1);
    scb_access_info_t info;
    TK_EQ_RC(scb_write_bootstrap(r.card, g_keys, o, data, len, &info), SCB_OK);
    fprintf(stderr, "  write + verify: %lu APDUs\n", info.apdus);
    check_channels_closed(r.card);
    uint8_t file[1024];
    size_t flen = sizeof(file);
    const uint8_t p[] = {0x50, 0x15, 0x64, 0x32};
    TK_EQ_RC(scb_sim_read_file(r.sim, p, sizeof(p), file, &flen), SCB_OK);
    TK_EQ_MEM(file, len, data, len);
    TK_EQ_INT(file[1023], 0xFF);
    TK_EQ_INT(file[len], 0xFF);
    /* read back through the library: same bytes */
    scb_bootstrap_t *bs = NULL;
    o = opts(r.keys);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_OK);
    const uint8_t *raw;
    size_t rawlen;
    scb_bootstrap_raw(bs, &raw, &rawlen);
    TK_EQ_MEM(raw, rawlen, data, len);
    scb_bootstrap_free(&bs);

    /* never in clear, never below C-DEC + C-MAC: refused before any APDU */
    unsigned long apdus = scb_card_apdu_count(r.card);
    o = opts(r.keys);
    scb_opts_set_int(o, SCB_OPT_LEVEL, 0x01);
    TK_EQ_RC(scb_write_bootstrap(r.card, g_keys, o, data, len, &info), SCB_E_INVALID_ARG);
    TK_CHECK(strstr(scb_card_errmsg(r.card), "needs a higher secure channel level") != NULL);
    o = opts(r.keys);
    scb_opts_set_int(o, SCB_OPT_NO_SECURE_CHANNEL, 1);
    TK_EQ_RC(scb_write_bootstrap(r.card, g_keys, o, data, len, &info), SCB_E_INVALID_ARG);
    TK_EQ_INT(scb_card_apdu_count(r.card), apdus);
    /* garbage is refused before the card is touched */
    o = opts(r.keys);
    unsigned long before = scb_card_apdu_count(r.card);
    const uint8_t junk[] = {0x00, 0x01, 0x00, 0x09, 0x00, 0x00};
    TK_EQ_RC(scb_write_bootstrap(r.card, g_keys, o, junk, sizeof(junk), &info), SCB_E_VALIDATION);
    TK_EQ_INT(scb_card_apdu_count(r.card), before);
    rig_free(&r);

    /* larger than the EF: refused before writing (the EF is unchanged) */
    r = rig("{\"bootstrap\": {\"size\": 64, \"hex\": \"00000000\"}}");
    o = opts(r.keys);
    flen = sizeof(file);
    TK_EQ_RC(scb_sim_read_file(r.sim, p, sizeof(p), file, &flen), SCB_OK);
    TK_EQ_RC(scb_write_bootstrap(r.card, g_keys, o, data, len, &info), SCB_E_DATA_TOO_LARGE);
    uint8_t after[64];
    size_t alen = sizeof(after);
    TK_EQ_RC(scb_sim_read_file(r.sim, p, sizeof(p), after, &alen), SCB_OK);
    TK_EQ_MEM(after, alen, file, flen);
    rig_free(&r);

}

/* What the bootstrap EF of a sim holds: 0 the old file, 1 the new one, 2 a
 * file the decoder refuses as incomplete, -1 anything else (a mixture). */
static int ef_state(scb_sim_t *sim, const uint8_t old_digest[32], const uint8_t *data,
                    size_t len)
{
    const uint8_t p[] = {0x50, 0x15, 0x64, 0x32};
    uint8_t file[1024];
    size_t flen = sizeof(file);
    TK_EQ_RC(scb_sim_read_file(sim, p, sizeof(p), file, &flen), SCB_OK);
    scb_bootstrap_t *bs = NULL;
    char detail[200] = "";
    int rc = scb_bootstrap_decode(&bs, file, flen, detail, sizeof(detail));
    if (rc != SCB_OK)
        return strstr(detail, "marked incomplete") != NULL ? 2 : -1;
    uint8_t d[32];
    TK_EQ_RC(scb_bootstrap_digest(bs, d), SCB_OK);
    scb_bootstrap_free(&bs);
    if (memcmp(d, old_digest, 32) == 0)
        return 0;
    return flen >= len && memcmp(file, data, len) == 0 ? 1 : -1;
}

/* The card goes away after each APDU of a write, from the first to the
 * last (the read-back included): the card then holds the old file, the new
 * one, or one every reader refuses as incomplete - never a mixture - and
 * the result says which. */
static void test_write_never_tears(void)
{
    uint8_t data[512];
    size_t len = sizeof(data);
    encode_json(new_accounts, data, &len);
    rig_t r = rig(NULL);
    uint8_t old[32];
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    TK_EQ_RC(scb_read_bootstrap(r.card, r.keys, NULL, &bs, &info), SCB_OK);
    TK_EQ_RC(scb_bootstrap_digest(bs, old), SCB_OK);
    scb_bootstrap_free(&bs);
    /* the APDUs of a whole write on a fresh card */
    scb_opts_t *o = opts(r.keys);
    scb_opts_set_int(o, SCB_OPT_PAD, 1);
    TK_EQ_RC(scb_write_bootstrap(r.card, g_keys, o, data, len, &info), SCB_OK);
    const unsigned long total = info.apdus;
    rig_free(&r);
    int seen[3] = {0, 0, 0};
    for (unsigned long at = 1; at < total; at++) {
        char profile[100];
        snprintf(profile, sizeof(profile), "{\"faults\": {\"disconnect_after\": %lu}}", at);
        r = rig(profile);
        o = opts(r.keys);
        scb_opts_set_int(o, SCB_OPT_PAD, 1);
        int rc = scb_write_bootstrap(r.card, g_keys, o, data, len, &info);
        int state = ef_state(r.sim, old, data, len);
        TK_CHECK(state >= 0);
        if (state == 2)
            TK_EQ_RC(rc, SCB_E_WRITE_INCOMPLETE);
        if (state == 1) /* written; the read-back (or only the channel close) lost */
            TK_CHECK(rc == SCB_E_VERIFY_MISMATCH || rc == SCB_OK);
        if (state == 0) /* nothing written, or an UPDATE BINARY lost in flight */
            TK_CHECK(scb_error_family(rc) == SCB_FAMILY_TRANSPORT ||
                     rc == SCB_E_WRITE_INCOMPLETE);
        if (rc == SCB_E_WRITE_INCOMPLETE)
            TK_CHECK(strstr(scb_card_errmsg(r.card), "re-provisioning") != NULL);
        if (rc == SCB_E_VERIFY_MISMATCH)
            TK_CHECK(strstr(scb_card_errmsg(r.card), "not verified") != NULL);
        if (state >= 0)
            seen[state]++;
        else
            fprintf(stderr, "  cut after APDU %lu: the EF holds a mixture (%s)\n", at,
                    scb_error_name(rc));
        rig_free(&r);
    }
    fprintf(stderr, "  %lu cut points: old file %d, incomplete %d, new file %d\n", total - 1,
            seen[0], seen[2], seen[1]);
    TK_CHECK(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
}

static void test_rotate_keys(void)
{
    rig_t r = rig(NULL);
    uint8_t k[3][16];
    for (int i = 0; i < 16; i++) {
        k[0][i] = (uint8_t)(0xA0 + i);
        k[1][i] = (uint8_t)(0xB0 + i);
        k[2][i] = (uint8_t)(0xC0 + i);
    }
    scb_keys_t *fresh = NULL;
    TK_EQ_RC(scb_keys_new(&fresh, k[0], k[1], k[2], 16, 0x31), SCB_OK);
    scb_opts_t *o = opts(r.keys);
    scb_access_info_t info;
    TK_EQ_RC(scb_rotate_keys(r.card, g_keys, fresh, o, &info), SCB_OK);
    check_channels_closed(r.card);
    /* the new set reads the bootstrap data */
    o = opts(fresh);
    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_OK);
    scb_bootstrap_free(&bs);
    /* replacing 0x30 with 0x32 removes the old set */
    scb_keys_t *third = NULL;
    TK_EQ_RC(scb_keys_new(&third, k[2], k[1], k[0], 16, 0x32), SCB_OK);
    o = opts(r.keys);
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_REPLACE_KVN, 0x30), SCB_OK);
    TK_EQ_RC(scb_rotate_keys(r.card, g_keys, third, o, &info), SCB_OK);
    o = opts(r.keys);
    TK_CHECK(scb_read_bootstrap(r.card, g_keys, o, &bs, &info) != SCB_OK);
    o = opts(third);
    TK_EQ_RC(scb_read_bootstrap(r.card, g_keys, o, &bs, &info), SCB_OK);
    scb_bootstrap_free(&bs);
    scb_keys_free(&fresh);
    scb_keys_free(&third);
    rig_free(&r);
}

/* Counts the commands that touch file contents or keys (READ BINARY,
 * UPDATE BINARY, PUT KEY) on the wire. */
static void count_file_commands(void *user, const scb_trace_event_t *ev)
{
    unsigned *n = user;
    if (ev->kind == SCB_TRACE_WIRE_CMD && ev->len >= 2 &&
        (ev->data[1] == 0xB0 || ev->data[1] == 0xD6 || ev->data[1] == 0xD8))
        (*n)++;
}

/* A job runs on a secure channel session at the level asked for, or stops
 * with a secure-channel error before any command reaches a file or a key:
 * wrong keys, a card that rejects EXTERNAL AUTHENTICATE, a card that cannot
 * do the level (no R-ENC), for read, write and rotation alike. */
static void test_no_job_without_a_session(void)
{
    static const struct {
        const char *profile;
        const char *why;
    } cards[] = {
        {"{\"scp03\": {\"i\": \"0x10\"}}", "no R-MAC / R-ENC for level 0x33"},
        {"{\"faults\": {\"sw_at\": 5, \"sw\": 25344}}", "EXTERNAL AUTHENTICATE "
         "rejected"},
        {"{\"faults\": {\"bad_card_cryptogram\": true}}", "card cryptogram wrong"},
    };
    for (size_t c = 0; c < SCB_ARRAY_LEN(cards); c++) {
        for (int job = 0; job < 3; job++) {
            rig_t r = rig(cards[c].profile);
            unsigned touched = 0;
            scb_trace_t t = {SCB_TRACE_VERSION, &touched, count_file_commands};
            TK_EQ_RC(scb_card_set_trace(r.card, &t), SCB_OK);
            scb_opts_t *o = opts(r.keys);
            scb_access_info_t info;
            scb_bootstrap_t *bs = NULL;
            const uint8_t data[] = {0x00, 0x00, 0x00, 0x00};
            int rc;
            if (job == 0) {
                rc = scb_read_bootstrap(r.card, g_keys, o, &bs, &info);
            } else if (job == 1) {
                rc = scb_write_bootstrap(r.card, g_keys, o, data, sizeof(data), &info);
            } else {
                scb_keys_t *fresh = NULL;
                const uint8_t k[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
                TK_EQ_RC(scb_keys_new(&fresh, k, k, k, 16, 0x31), SCB_OK);
                rc = scb_rotate_keys(r.card, g_keys, fresh, o, &info);
                scb_keys_free(&fresh);
            }
            TK_EQ_INT(scb_error_family(rc), SCB_FAMILY_SECURE);
            TK_EQ_INT(touched, 0);
            TK_EQ_INT(info.scp_level, -1);
            TK_CHECK(bs == NULL);
            if (scb_error_family(rc) != SCB_FAMILY_SECURE || touched != 0)
                fprintf(stderr, "  %s, job %d: %s (%s)\n", cards[c].why, job,
                        scb_error_name(rc), scb_card_errmsg(r.card));
            scb_card_set_trace(r.card, NULL);
            check_channels_closed(r.card);
            rig_free(&r);
        }
    }
}

/* The right MAC key and a wrong ENC key: the handshake succeeds (the card
 * cryptogram is an S-MAC one), the card cannot decrypt the first encrypted
 * command and refuses it: a secure-channel failure that names the ENC key.
 * The host challenge is fixed: with a random one, about one session in 256
 * decrypts to bytes whose padding looks valid, and the card then answers
 * the garbage command (6700) instead of refusing it. */
static void test_wrong_enc_key(void)
{
    static const uint8_t host_ch[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    scb_opts_t *o = NULL;
    TK_EQ_RC(scb_opts_new(&o), SCB_OK);
    TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_HOST_CHALLENGE, host_ch, sizeof(host_ch)), SCB_OK);
    rig_t r = rig(NULL);
    uint8_t gp[16], wrong[16];
    for (int i = 0; i < 16; i++) {
        gp[i] = (uint8_t)(0x40 + i);
        wrong[i] = 0x11;
    }
    scb_keys_t *k = NULL;
    TK_EQ_RC(scb_keys_new(&k, wrong, gp, gp, 16, 0x30), SCB_OK);
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    TK_EQ_RC(scb_read_bootstrap(r.card, k, o, &bs, &info), SCB_E_SCP_REJECTED);
    TK_EQ_INT(scb_error_family(SCB_E_SCP_REJECTED), SCB_FAMILY_SECURE);
    TK_CHECK(strstr(scb_card_errmsg(r.card), "the ENC key is the likely cause") != NULL);
    TK_CHECK(!scb_scp03_is_open(r.card));
    check_channels_closed(r.card);
    scb_opts_free(&o);
    scb_keys_free(&k);
    rig_free(&r);
}

/* Every operation is bounded: a card that answers each APDU 60 ms late
 * cannot drag a read past a 100 ms bound; the step is named, and the same
 * handle works again with a bound that allows the read. */
static void test_operation_bound(void)
{
    rig_t r = rig("{\"faults\": {\"delay_ms\": 60}}");
    TK_EQ_INT(scb_card_timeout(r.card), SCB_DEFAULT_TIMEOUT_MS);
    TK_EQ_RC(scb_card_set_timeout(r.card, 100), SCB_OK);
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    TK_EQ_RC(scb_read_bootstrap(r.card, r.keys, NULL, &bs, &info), SCB_E_TIMEOUT);
    TK_CHECK(strstr(scb_card_errmsg(r.card), "took longer than 100 ms") != NULL);
    TK_CHECK(info.apdus <= 3);
    TK_EQ_RC(scb_card_set_timeout(r.card, 0), SCB_OK); /* no bound */
    TK_EQ_RC(scb_read_bootstrap(r.card, r.keys, NULL, &bs, &info), SCB_OK);
    scb_bootstrap_free(&bs);
    rig_free(&r);
}

static void test_iccid(void)
{
    rig_t r = rig("{\"iccid\": \"8988300000000000013\"}");
    char iccid[21];
    TK_EQ_RC(scb_read_iccid(r.card, iccid, sizeof(iccid)), SCB_OK);
    TK_CHECK(strcmp(iccid, "8988300000000000013") == 0);
    TK_EQ_RC(scb_read_iccid(r.card, iccid, 10), SCB_E_INVALID_ARG);
    rig_free(&r);
}

int main(void)
{
    TK_RUN(test_iccid);
    TK_RUN(test_cold_and_warm_read);
    TK_RUN(test_no_efdir_and_oid_forms);
    TK_RUN(test_path_forms);
    TK_RUN(test_failures_close_the_channel);
    TK_RUN(test_dodf_problems);
    TK_RUN(test_private_entry);
    TK_RUN(test_pin_object);
    TK_RUN(test_pin_blocked);
    TK_RUN(test_write);
    TK_RUN(test_write_never_tears);
    TK_RUN(test_rotate_keys);
    TK_RUN(test_no_job_without_a_session);
    TK_RUN(test_wrong_enc_key);
    TK_RUN(test_operation_bound);
    scb_opts_free(&g_opts);
    return tk_done();
}
