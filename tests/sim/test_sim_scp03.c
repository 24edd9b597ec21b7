/*
 * The card side of SCP03: (1) replay of the recorded public traces of
 * tests/vectors/scp03.json with the card forced to the recorded keys, key
 * diversification data, i, sequence counter and (where it cannot be
 * derived) card challenge, against the library's host with the recorded
 * host challenges: both ends must produce the recorded bytes; (2) the
 * card's behaviour at every level, PUT KEY (putkey.json, and the parser of
 * its key data), KDF3 keys (kdf3.json), and the fault switches.
 *
 * The host is the library's (sim_rig.h). What the library never sends (a
 * spoiled C-MAC, a wrong host cryptogram, commands out of order) goes to
 * the card raw, spoiled on its way by the rig, or built by
 * ea_with_wrong_cryptogram from the card's own session key.
 */
#include "scp03.h"
#include "sim_internal.h"
#include "sim_rig.h"

static uint8_t R[SIM_MAX_RESP];
static size_t RL;
static const char *SELECT_ADF = "00A4040C0CA000000063504B43532D3135";
static const uint8_t GP[16] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                               0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F};
static const uint8_t PKCS15_AID[12] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                       0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};

static scb_sim_t *make(const char *json)
{
    scb_sim_t *sim = NULL;
    char detail[256];
    if (scb_sim_new_from_json(&sim, json, detail, sizeof(detail)) != 0) {
        fprintf(stderr, "profile rejected: %s\n", detail);
        abort();
    }
    return sim;
}

/* The INITIALIZE UPDATE response data of the last handshake on r. */
static const uint8_t *last_iu(const rig_t *r, size_t *len)
{
    for (unsigned back = 0; back < RIG_KEEP && back < r->exchanges; back++) {
        const rig_exchange_t *x = rig_last(r, back);
        if (x->cl > 2 && (x->c[0] & 0x80) && x->c[1] == 0x50) {
            *len = x->rl >= 2 ? x->rl - 2 : 0;
            return x->r;
        }
    }
    abort();
}

/* ---- (1) recorded traces ---- */

typedef struct hook_ctx {
    uint8_t plain_c[600], plain_r[600];
    size_t plain_c_len, plain_r_len;
    int calls;
} hook_ctx_t;

/* Stands in for the application behind the Security Domain: checks that
 * the card unwrapped the command to the recorded plaintext and answers
 * with the recorded plaintext response. */
static int replay_hook(void *user, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
    hook_ctx_t *h = user;
    h->calls++;
    TK_EQ_MEM(cmd, len, h->plain_c, h->plain_c_len);
    if (*resp_len < h->plain_r_len)
        abort();
    memcpy(resp, h->plain_r, h->plain_r_len);
    *resp_len = h->plain_r_len;
    return SCB_SIM_HOOK_ANSWER;
}

static void check_session_keys(scb_sim_t *sim, json_object *e)
{
    const sim_session_t *s = &sim->ch[0].scp;
    static const char *const names[3] = {"s_enc", "s_mac", "s_rmac"};
    const uint8_t *keys[3] = {s->s_enc, s->s_mac, s->s_rmac};
    json_object *sess = json_object_object_get(e, "session");
    for (int i = 0; i < 3; i++)
        TK_EQ_HEX(keys[i], s->key_len, tk_json_str(sess, names[i]));
}

static void replay_session(json_object *e, bool overpad_where_recorded)
{
    json_object *ex = json_object_object_get(e, "exchanges");
    const size_t n = json_object_array_length(ex);
    const uint8_t level = (uint8_t)tk_json_int(e, "level", 0);
    fprintf(stderr, "  replay %s%s\n", tk_json_str(e, "name"),
            overpad_where_recorded ? " (card over-pads)" : "");
    rig_t r;
    rig_attach_vector(&r, e, NULL);
    TK_EQ_RC(scb_scp03_open(r.card, r.keys, r.opts), SCB_OK);
    rig_check_handshake(&r, e); /* both ends as recorded */
    TK_EQ_INT(scb_sim_session_level(r.sim, 0), level);
    check_session_keys(r.sim, e);

    /* from here the card hands unwrapped commands to the hook */
    hook_ctx_t hc = {.calls = 0};
    scb_sim_set_cmd_hook(r.sim, replay_hook, &hc);
    for (size_t k = 2; k < n; k++) {
        json_object *x = json_object_array_get_idx(ex, k);
        uint8_t plain[600];
        const bool overpadded = json_object_object_get(x, "renc_padded_len") != NULL;
        hc.plain_c_len = tk_unhex(tk_json_str(x, "plain_c"), hc.plain_c, sizeof(hc.plain_c));
        hc.plain_r_len = tk_unhex(tk_json_str(x, "plain_r"), hc.plain_r, sizeof(hc.plain_r));
        scb_sim_faults_t f;
        scb_sim_get_faults(r.sim, &f);
        f.renc_overpad = overpadded && overpad_where_recorded;
        scb_sim_set_faults(r.sim, &f);
        size_t pl = sizeof(plain);
        int rc = scb_card_transmit(r.card, hc.plain_c, hc.plain_c_len, plain, &pl);
        TK_EQ_RC(rc, SCB_OK);
        const rig_exchange_t *w = rig_last(&r, 0);
        /* the wire command as recorded: MCV and counter follow the session */
        TK_EQ_HEX(w->c, w->cl, tk_json_str(x, "c"));
        if (!overpadded || overpad_where_recorded)
            TK_EQ_HEX(w->r, w->rl, tk_json_str(x, "r"));
        else /* minimal padding: 11 bytes + 80 + zeros = 16, where the recorded card sent 32 */
            TK_EQ_INT(w->rl, 16 + 8 + 2);
        if (rc == SCB_OK)
            TK_EQ_MEM(plain, pl, hc.plain_r, hc.plain_r_len);
    }
    TK_EQ_INT(hc.calls, (int)n - 2);
    rig_close(&r);
}

/* gppro issue #98: keys 40..4F, KVN 0 asked, i = 10, seq 000001: the
 * pseudo-random challenge, both cryptograms and the session keys. */
static void replay_session_only(json_object *e)
{
    json_object *sess = json_object_object_get(e, "session");
    char json[256];
    fprintf(stderr, "  replay %s (handshake only)\n", tk_json_str(e, "name"));
    snprintf(json, sizeof(json),
             "{\"scp03\": {\"keys\": {\"kvn\": 1}, \"i\": %d, \"sd_aid\": \"%s\","
             " \"sequence_counter\": \"0x%s\"}}",
             (int)tk_json_int(e, "i", 0), tk_json_str(e, "sd_aid"), tk_json_str(e, "seq"));
    rig_t r;
    rig_open(&r, json, GP, 16, 0x00); /* KVN 00 in INITIALIZE UPDATE = the first key set */
    uint8_t hc[8], aid[16];
    tk_unhex(tk_json_str(e, "host_challenge"), hc, sizeof(hc));
    size_t alen = tk_unhex(tk_json_str(e, "sd_aid"), aid, sizeof(aid));
    TK_EQ_RC(scb_opts_set_bytes(r.opts, SCB_OPT_HOST_CHALLENGE, hc, sizeof(hc)), SCB_OK);
    TK_EQ_RC(scb_opts_set_bytes(r.opts, SCB_OPT_SD_AID, aid, alen), SCB_OK);
    TK_EQ_RC(rig_session(&r, false, 0x01), SCB_OK);
    size_t n;
    const uint8_t *iu = last_iu(&r, &n);
    TK_EQ_INT(n, 10 + 3 + 8 + 8 + 3);
    TK_EQ_HEX(iu + 10, 3, "010310");
    TK_EQ_HEX(iu + 13, 8, tk_json_str(e, "card_challenge"));
    TK_EQ_HEX(iu + 21, 8, tk_json_str(sess, "card_cryptogram"));
    TK_EQ_HEX(iu + 29, 3, tk_json_str(e, "seq"));
    check_session_keys(r.sim, e);
    TK_EQ_INT(scb_sim_session_level(r.sim, 0), 0x01);
    TK_EQ_INT(scb_sim_sequence_counter(r.sim), 2);
    rig_close(&r);
}

static void test_replay_vectors(void)
{
    json_object *v = tk_load_vectors("scp03.json");
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *e = json_object_array_get_idx(v, i);
        json_object *ex = json_object_object_get(e, "exchanges");
        if (json_object_array_length(ex) == 0) {
            replay_session_only(e);
            continue;
        }
        replay_session(e, false);
        replay_session(e, true);
    }
    json_object_put(v);
}

/* ---- (2) behaviour ---- */

/* Read the bootstrap EF under the session in chunks; returns the SW. */
static uint16_t read_bootstrap(rig_t *r, uint8_t *out, size_t *out_len)
{
    size_t got = 0;
    uint16_t sw = rig_send(r, "00A4000C026432", R, &RL, NULL);
    if (sw != 0x9000)
        return sw;
    while (got < 1024) {
        char cmd[32];
        int rc;
        snprintf(cmd, sizeof(cmd), "00B0%04X00", (unsigned)got);
        sw = rig_send(r, cmd, R, &RL, &rc);
        TK_EQ_RC(rc, SCB_OK);
        if (sw != 0x9000 || rc != SCB_OK)
            return sw;
        memcpy(out + got, R, RL);
        got += RL;
    }
    *out_len = got;
    return sw;
}

static void test_levels(void)
{
    static const uint8_t levels[] = {0x00, 0x01, 0x03, 0x11, 0x13, 0x33};
    for (size_t i = 0; i < sizeof(levels); i++) {
        rig_t r;
        uint8_t bs[1024];
        size_t n = 0;
        rig_open(&r, NULL, NULL, 0, 0);
        TK_EQ_RC(rig_session(&r, true, levels[i]), SCB_OK);
        const uint8_t chn = scb_card_channel(r.card);
        TK_EQ_INT(chn, 1);
        TK_EQ_INT(scb_sim_session_level(r.sim, chn), levels[i]);
        TK_EQ_INT(scb_sim_session_level(r.sim, 0), -1);
        if (levels[i] == 0x00) {
            /* level 00: no secure messaging after the handshake */
            TK_EQ_INT(rig_send_plain(&r, "00A4000C026432", R, &RL, NULL), 0x9000);
            TK_EQ_INT(rig_send_plain(&r, "00B0000000", R, &RL, NULL), 0x6982);
        } else if (levels[i] == 0x33) {
            TK_EQ_INT(read_bootstrap(&r, bs, &n), 0x9000);
            TK_EQ_INT(n, 1024);
            TK_EQ_MEM(bs, sim_default_bootstrap_len, sim_default_bootstrap,
                      sim_default_bootstrap_len);
            /* R-ENC + R-MAC: Le 00 gives 239 bytes, an explicit Le that
             * cannot fit is refused (6700), without R-MAC */
            TK_EQ_INT(rig_send(&r, "00B0000000", R, &RL, NULL), 0x9000);
            TK_EQ_INT(RL, 239);
            TK_EQ_INT(rig_send(&r, "00B00000F0", R, &RL, NULL), 0x6700);
            TK_EQ_INT(RL, 0);
            TK_EQ_INT(rig_last(&r, 0)->rl, 2);
            TK_EQ_INT(rig_send(&r, "00B00000EF", R, &RL, NULL), 0x9000);
            TK_EQ_INT(RL, 239);
            /* a warning carries data and R-MAC; an error carries neither */
            TK_EQ_INT(rig_send(&r, "00B003F820", R, &RL, NULL), 0x6282);
            TK_EQ_INT(RL, 8);
            TK_EQ_INT(rig_last(&r, 0)->rl, 16 + 8 + 2);
            TK_EQ_INT(rig_send(&r, "00B0040000", R, &RL, NULL), 0x6B00);
            TK_EQ_INT(rig_last(&r, 0)->rl, 2);
            /* C-DEC: an UPDATE BINARY after commands without data */
            TK_EQ_INT(rig_send(&r, "00D6000004DEADBEEF", R, &RL, NULL), 0x9000);
            TK_EQ_INT(rig_send(&r, "00B0000004", R, &RL, NULL), 0x9000);
            TK_EQ_HEX(R, RL, "DEADBEEF");
            uint8_t path[4] = {0x50, 0x15, 0x64, 0x32}, f[1024];
            size_t fn = sizeof(f);
            scb_sim_read_file(r.sim, path, 4, f, &fn);
            TK_EQ_HEX(f, 4, "DEADBEEF");
            /* the same EF in the clear on this channel: refused, session kept */
            TK_EQ_INT(rig_send_plain(&r, "00B0000000", R, &RL, NULL), 0x6982);
            TK_EQ_INT(scb_sim_session_level(r.sim, chn), 0x33);
        } else {
            /* below the required 33: the EF stays closed */
            TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, NULL), 0x9000);
            TK_EQ_INT(rig_send(&r, "00B0000000", R, &RL, NULL), 0x6982);
            TK_EQ_INT(rig_send(&r, "00A4000C025031", R, &RL, NULL), 0x9000);
            int rc;
            TK_EQ_INT(rig_send(&r, "00B0000000", R, &RL, &rc), 0x9000);
            TK_EQ_RC(rc, SCB_OK);
            TK_EQ_HEX(R, 8, "A706300404026430");
        }
        rig_close(&r);
    }

    /* level_required 13: 13 and 33 (a superset) pass, 11 does not */
    static const struct {
        uint8_t level;
        uint16_t sw;
    } cases[] = {{0x13, 0x9000}, {0x33, 0x9000}, {0x11, 0x6982}, {0x03, 0x6982}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rig_t r;
        rig_open(&r, "{\"scp03\": {\"level_required\": \"0x13\"}}", NULL, 0, 0);
        TK_EQ_RC(rig_session(&r, true, cases[i].level), SCB_OK);
        TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, NULL), 0x9000);
        TK_EQ_INT(rig_send(&r, "00B0000010", R, &RL, NULL), cases[i].sw);
        rig_close(&r);
    }
}

/* EXTERNAL AUTHENTICATE (level 33) after the INITIALIZE UPDATE the card
 * last answered on channel chn: a wrong host cryptogram (01..08) under a
 * valid C-MAC. No host sends that; it is built here from the session key
 * the card derived, so that the card's check of the cryptogram itself is
 * what answers. */
static uint16_t ea_with_wrong_cryptogram(scb_sim_t *sim, uint8_t chn)
{
    const sim_session_t *s = &sim->ch[chn].scp;
    uint8_t ea[21] = {(uint8_t)(0x84 | chn), 0x82, 0x33, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t mac[16], cla = 0x84, zero[16] = {0};
    TK_EQ_INT(s->state, SIM_SCP_INIT);
    /* CMAC(S-MAC, MCV 0 || CLA' INS P1 P2 Lc || cryptogram), CLA' without the channel */
    const uint8_t *parts[4] = {zero, &cla, ea + 1, ea + 5};
    const size_t lens[4] = {16, 1, 4, 8};
    TK_EQ_INT(sim_cmac(sim->crypto, s->s_mac, s->key_len, 4, parts, lens, mac), 0);
    memcpy(ea + 13, mac, 8);
    return rig_rawb(sim, ea, sizeof(ea), R, &RL);
}

static void test_handshake_rules(void)
{
    rig_t r;
    uint8_t ch = 0;
    rig_open(&r, NULL, GP, 16, 0x31);
    TK_EQ_RC(scb_channel_open(r.card, &ch), SCB_OK);
    TK_EQ_RC(scb_select_aid(r.card, PKCS15_AID, sizeof(PKCS15_AID), SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_INT(scb_sim_sequence_counter(r.sim), 1);
    TK_EQ_RC(scb_scp03_open(r.card, r.keys, r.opts), SCB_E_SCP_NO_KEYSET); /* no such key set */
    TK_EQ_INT(scb_card_last_sw(r.card), 0x6A88);
    TK_EQ_INT(scb_sim_sequence_counter(r.sim), 1);
    TK_EQ_INT(rig_send_plain(&r, "8050300004 01020304 00", R, &RL, NULL), 0x6700);
    TK_EQ_INT(rig_send_plain(&r, "8050300108 0102030405060708 00", R, &RL, NULL), 0x6A86);
    TK_EQ_INT(rig_send_plain(&r, "8482330010 00000000000000000000000000000000", R, &RL, NULL),
              0x6985);
    /* pseudo-random challenge: KDF(Key-ENC, 02, 64, seq || SD AID), seq counts up */
    scb_keys_free(&r.keys);
    TK_EQ_RC(scb_keys_new(&r.keys, GP, GP, GP, 16, 0x30), SCB_OK);
    TK_EQ_RC(scb_scp03_open(r.card, r.keys, r.opts), SCB_OK);
    scb_scp03_info_t info;
    TK_EQ_RC(scb_scp03_info(r.card, &info), SCB_OK);
    TK_EQ_INT(info.challenge_verified, 1);
    size_t n;
    const uint8_t *iu = last_iu(&r, &n);
    uint8_t chal[8];
    TK_EQ_RC(scb__scp03_card_challenge(GP, 16, (const uint8_t *)"\x00\x00\x01", PKCS15_AID,
                                       sizeof(PKCS15_AID), 8, chal),
             SCB_OK);
    TK_EQ_MEM(iu + 13, 8, chal, 8);
    TK_EQ_HEX(iu, 10, "988803000000000010F3"); /* KDD: the ICCID bytes */
    TK_EQ_HEX(iu + 10, 3, "300370");
    TK_EQ_HEX(iu + 29, 3, "000001");
    TK_EQ_RC(scb_scp03_open(r.card, r.keys, r.opts), SCB_OK);
    iu = last_iu(&r, &n);
    TK_EQ_HEX(iu + 29, 3, "000002");
    TK_EQ_INT(scb_sim_sequence_counter(r.sim), 3);

    /* a bad C-MAC closes the session (6982, no R-MAC); so does the next try
     * (after one good command: a 6982 to the first encrypted command of a
     * session the library itself reports as the card refusing the channel) */
    TK_EQ_INT(rig_send(&r, "00A4000C025031", R, &RL, NULL), 0x9000);
    r.spoil_at = -1; /* the last byte of the C-MAC */
    int rc;
    TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, &rc), 0x6982);
    TK_EQ_RC(rc, SCB_OK);
    TK_EQ_INT(rig_last(&r, 0)->rl, 2);
    TK_EQ_INT(scb_sim_session_level(r.sim, ch), -1);
    TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, NULL), 0x6982);

    /* EXTERNAL AUTHENTICATE with a bad C-MAC after a fresh IU: 6982 */
    TK_EQ_INT(rig_send_plain(&r, "8050300008 0102030405060708 00", R, &RL, NULL), 0x9000);
    TK_EQ_INT(rig_send_plain(&r, "8482330010 00000000000000000000000000000000", R, &RL, NULL),
              0x6982);
    rig_close(&r);

    /* IU then another command then EA: the handshake is gone */
    scb_sim_t *sim = make(NULL);
    TK_EQ_INT(rig_raw(sim, SELECT_ADF, R, &RL), 0x9000);
    TK_EQ_INT(rig_raw(sim, "8050300008 0102030405060708 00", R, &RL), 0x9000);
    TK_EQ_INT(rig_raw(sim, "00A4000C025031", R, &RL), 0x9000);
    TK_EQ_INT(rig_raw(sim, "8482330010 00000000000000000000000000000000", R, &RL), 0x6985);
    scb_sim_free(&sim);

    /* level beyond i: i = 10 (no R-MAC / R-ENC) refuses 33, 13 and a level
     * that is none (07) before it looks at the C-MAC; 03 opens */
    rig_open(&r, "{\"scp03\": {\"i\": \"0x10\"}}", NULL, 0, 0);
    TK_EQ_INT(rig_raw(r.sim, SELECT_ADF, R, &RL), 0x9000);
    static const char *const beyond[] = {"8482330010", "8482130010", "8482070010"};
    for (size_t i = 0; i < 3; i++) {
        char ea[80];
        TK_EQ_INT(rig_raw(r.sim, "8050300008 0102030405060708 00", R, &RL), 0x9000);
        snprintf(ea, sizeof(ea), "%s 00000000000000000000000000000000", beyond[i]);
        TK_EQ_INT(rig_raw(r.sim, ea, R, &RL), 0x6A86);
    }
    TK_EQ_RC(scb_opts_set_int(r.opts, SCB_OPT_LEVEL, 0x03), SCB_OK);
    TK_EQ_RC(scb_scp03_open(r.card, r.keys, r.opts), SCB_OK);
    TK_EQ_INT(scb_sim_session_level(r.sim, 0), 0x03);
    rig_close(&r);

    /* i without 10: random challenge and no sequence counter */
    rig_open(&r, "{\"scp03\": {\"i\": \"0x60\"}}", NULL, 0, 0);
    TK_EQ_RC(scb_opts_unset(r.opts, SCB_OPT_SD_AID), SCB_OK);
    TK_EQ_RC(rig_session(&r, false, 0x33), SCB_OK);
    last_iu(&r, &n);
    TK_EQ_INT(n, 29);
    TK_EQ_RC(scb_scp03_info(r.card, &info), SCB_OK);
    TK_EQ_INT(info.has_seq_counter, 0);
    /* IU on the MF: no Security Domain there */
    TK_EQ_INT(rig_raw(r.sim, "00A4000C023F00", R, &RL), 0x9000);
    TK_EQ_INT(scb_sim_session_level(r.sim, 0), -1); /* selecting a DF ended the session */
    TK_EQ_INT(rig_raw(r.sim, "8050300008 0102030405060708 00", R, &RL), 0x6D00);
    rig_close(&r);
}

/* Wrong host cryptogram with a valid C-MAC: 6300. */
static void test_bad_host_cryptogram(void)
{
    scb_sim_t *sim = make(NULL);
    TK_EQ_INT(rig_raw(sim, SELECT_ADF, R, &RL), 0x9000);
    TK_EQ_INT(rig_raw(sim, "8050300008A0A1A2A3A4A5A6A700", R, &RL), 0x9000);
    TK_EQ_INT(ea_with_wrong_cryptogram(sim, 0), 0x6300);
    TK_EQ_INT(scb_sim_session_level(sim, 0), -1);
    /* the same on a logical channel, after the library's INITIALIZE UPDATE */
    rig_t r;
    rig_attach(&r, sim, true, NULL);
    uint8_t ch;
    TK_EQ_RC(scb_channel_open(r.card, &ch), SCB_OK);
    TK_EQ_RC(scb_select_aid(r.card, PKCS15_AID, sizeof(PKCS15_AID), SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(scb_scp03_probe(r.card, r.keys, r.opts, NULL), SCB_OK);
    TK_EQ_INT(ea_with_wrong_cryptogram(sim, ch), 0x6300);
    TK_EQ_INT(scb_sim_session_level(sim, ch), -1);
    rig_close(&r);
}

static void test_channels_and_cla(void)
{
    /* sessions are per channel: two handles, one card */
    rig_t a, b;
    rig_open(&a, NULL, NULL, 0, 0);
    rig_attach(&b, a.sim, false, NULL);
    TK_EQ_RC(rig_session(&a, true, 0x33), SCB_OK);
    TK_EQ_RC(rig_session(&b, true, 0x13), SCB_OK);
    TK_EQ_INT(scb_card_channel(a.card), 1);
    TK_EQ_INT(scb_card_channel(b.card), 2);
    TK_EQ_INT(rig_send(&a, "00A4000C026432", R, &RL, NULL), 0x9000);
    TK_EQ_INT(rig_send(&b, "00A4000C026432", R, &RL, NULL), 0x9000);
    TK_EQ_INT(rig_send(&a, "00B0000004", R, &RL, NULL), 0x9000);
    TK_EQ_HEX(R, RL, "000200BF");
    TK_EQ_INT(rig_send(&b, "00B0000004", R, &RL, NULL), 0x6982); /* 13 < 33 */
    /* closing channel 1 ends its session only */
    TK_EQ_INT(rig_raw(a.sim, "0070800100", R, &RL), 0x9000);
    TK_EQ_INT(scb_sim_session_level(a.sim, 1), -1);
    TK_EQ_INT(scb_sim_session_level(a.sim, 2), 0x13);
    /* SELECT of a DF under SM ends the session; the answer goes out plain
     * (which the host must refuse: a 9000 without its R-MAC) */
    int rc;
    rig_send(&b, "00A4000C023F00", R, &RL, &rc);
    TK_EQ_RC(rc, SCB_E_SCP_RMAC);
    TK_EQ_HEX(rig_last(&b, 0)->r, rig_last(&b, 0)->rl, "9000");
    TK_EQ_INT(scb_sim_session_level(a.sim, 2), -1);
    rig_close(&b);
    rig_close(&a);

    /* MAC over the CLA: cleared channel bits (default), as sent, either;
     * channels 1 (CLA 84|01) and 5 (CLA E0|01, MACed as E0 when cleared) */
    static const struct {
        const char *mode;
        bool host_as_sent;
        bool ok;
    } m[] = {{"cleared", false, true}, {"cleared", true, false}, {"as_sent", true, true},
             {"as_sent", false, false}, {"either", true, true}, {"either", false, true}};
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        for (uint8_t chn = 1; chn <= 5; chn += 4) {
            char json[96], open[16];
            snprintf(json, sizeof(json), "{\"scp03\": {\"mac_cla\": \"%s\"}}", m[i].mode);
            rig_open(&a, json, NULL, 0, 0);
            snprintf(open, sizeof(open), "007000%02X00", chn);
            TK_EQ_INT(rig_raw(a.sim, open, R, &RL), 0x9000);
            TK_EQ_RC(scb_channel_select(a.card, chn), SCB_OK);
            if (m[i].host_as_sent)
                TK_EQ_RC(scb_opts_set_int(a.opts, SCB_OPT_MAC_CLA_AS_SENT, 1), SCB_OK);
            rc = rig_session(&a, false, 0x33);
            TK_EQ_INT(rc == SCB_OK, m[i].ok);
            TK_EQ_INT(rig_last(&a, 0)->c[0], chn < 4 ? 0x84 | chn : 0xE0 | (chn - 4));
            if (m[i].ok) {
                TK_EQ_INT(rig_send(&a, "00A4000C026432", R, &RL, NULL), 0x9000);
                TK_EQ_INT(rig_send(&a, "00B0000002", R, &RL, &rc), 0x9000);
                TK_EQ_RC(rc, SCB_OK);
                TK_EQ_HEX(R, RL, "0002");
            } else {
                TK_EQ_INT(scb_card_last_sw(a.card), 0x6982);
            }
            rig_close(&a);
        }
    }
}

static void test_counter_modes(void)
{
    /* counter_data_only: at level 13 a host that counts every command fails
     * C-DEC of the first command with data that follows one without data
     * (the card answers 6982); at 33 the R-ENC of the answer to the command
     * without data already tells (the host finds no padding). The host
     * challenge is fixed (the card's is pseudo-random, from its sequence
     * counter): a wrong counter decrypts to bytes that are valid padding by
     * chance about once in 256 sessions, and the test must give the same
     * verdict every run. */
    static const uint8_t host_ch[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    for (int card_mode = 0; card_mode < 2; card_mode++) {
        for (int host_mode = 0; host_mode < 2; host_mode++) {
            const bool same = card_mode == host_mode;
            rig_t r;
            int rc;
            rig_open(&r, card_mode ? "{\"scp03\": {\"counter_data_only\": true}}" : NULL, NULL, 0,
                     0);
            if (host_mode)
                TK_EQ_RC(scb_opts_set_int(r.opts, SCB_OPT_COUNT_DATA_ONLY, 1), SCB_OK);
            TK_EQ_RC(scb_opts_set_bytes(r.opts, SCB_OPT_HOST_CHALLENGE, host_ch, 8), SCB_OK);
            TK_EQ_RC(rig_session(&r, false, 0x13), SCB_OK);
            TK_EQ_INT(rig_send(&r, "00A4000C025031", R, &RL, NULL), 0x9000);
            TK_EQ_INT(rig_send(&r, "00B0000002", R, &RL, NULL), 0x9000);
            TK_EQ_INT(rig_send(&r, "00A4000C025031", R, &RL, NULL), same ? 0x9000 : 0x6982);
            TK_EQ_RC(rig_session(&r, false, 0x33), SCB_OK);
            TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, NULL), 0x9000);
            rig_send(&r, "00B0000002", R, &RL, &rc);
            TK_EQ_RC(rc, same ? SCB_OK : SCB_E_SCP_PADDING);
            if (same)
                TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, NULL), 0x9000);
            rig_close(&r);
        }
    }
}

static void test_s16_and_key_lengths(void)
{
    static const char *profiles[] = {
        "{\"scp03\": {\"s16\": true}}",
        "{\"scp03\": {\"i\": \"0x71\", \"keys\": {\"enc\": \"000102030405060708090A0B0C0D0E0F1011121314151617\","
        " \"mac\": \"101112131415161718191A1B1C1D1E1F2021222324252627\","
        " \"dek\": \"202122232425262728292A2B2C2D2E2F3031323334353637\"}}}",
        "{\"scp03\": {\"keys\": {\"kvn\": 1,"
        " \"enc\": \"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\","
        " \"mac\": \"101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F\","
        " \"dek\": \"202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F\"}}}",
    };
    static const char *enc[] = {"404142434445464748494A4B4C4D4E4F", "000102030405060708090A0B0C0D0E0F1011121314151617",
                                "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"};
    static const char *mac[] = {"404142434445464748494A4B4C4D4E4F", "101112131415161718191A1B1C1D1E1F2021222324252627",
                                "101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F"};
    static const bool s16[] = {true, true, false};
    static const uint8_t kvn[] = {0x30, 0x30, 0x01};
    for (size_t i = 0; i < 3; i++) {
        uint8_t e[32], m[32], bs[1024];
        size_t kl = tk_unhex(enc[i], e, sizeof(e)), n = 0;
        tk_unhex(mac[i], m, sizeof(m));
        scb_keys_t *keys = NULL;
        TK_EQ_RC(scb_keys_new(&keys, e, m, e, kl, kvn[i]), SCB_OK);
        rig_t r;
        rig_attach(&r, make(profiles[i]), true, keys);
        if (s16[i])
            TK_EQ_RC(scb_opts_set_int(r.opts, SCB_OPT_S16, 1), SCB_OK);
        TK_EQ_RC(rig_session(&r, true, 0x33), SCB_OK);
        last_iu(&r, &n);
        TK_EQ_INT(n, s16[i] ? 48u : 32u);
        TK_EQ_INT(read_bootstrap(&r, bs, &n), 0x9000);
        TK_EQ_MEM(bs, sim_default_bootstrap_len, sim_default_bootstrap, sim_default_bootstrap_len);
        TK_EQ_INT(rig_send(&r, "00B0000000", R, &RL, NULL), 0x9000);
        TK_EQ_INT(RL, 239); /* S16: 256 - 16 MAC = 240 -> 15 blocks, 239 plain */
        rig_close(&r);
    }
}

/* PUT KEY with the putkey.json encryptions (DEK 00..0F, keys 40.., 50.., 60..). */
static void test_put_key(void)
{
    json_object *v = tk_load_vectors("putkey.json");
    json_object *vec = json_object_object_get(v, "vectors");
    char cmd[400];
    const char *e[3], *kcv[3], *key[3];
    uint8_t k[3][16];
    for (int i = 0; i < 3; i++) {
        json_object *x = json_object_array_get_idx(vec, (size_t)i);
        e[i] = tk_json_str(x, "encrypted");
        kcv[i] = tk_json_str(x, "kcv");
        key[i] = tk_json_str(x, "key");
        TK_EQ_INT(tk_unhex(key[i], k[i], 16), 16);
    }
    scb_keys_t *keys = NULL;
    uint8_t dek[16];
    tk_unhex("000102030405060708090A0B0C0D0E0F", dek, 16);
    TK_EQ_RC(scb_keys_new(&keys, GP, GP, dek, 16, 0x30), SCB_OK);
    rig_t r;
    rig_attach(&r,
               make("{\"scp03\": {\"keys\": {\"dek\": \"000102030405060708090A0B0C0D0E0F\","
                    " \"enc\": \"404142434445464748494A4B4C4D4E4F\","
                    " \"mac\": \"404142434445464748494A4B4C4D4E4F\"}}}"),
               true, keys);
    uint8_t ch;
    TK_EQ_RC(scb_channel_open(r.card, &ch), SCB_OK);
    TK_EQ_RC(scb_select_aid(r.card, PKCS15_AID, sizeof(PKCS15_AID), SCB_SEL_NO_RESP, NULL), SCB_OK);
    /* in the clear: refused */
    snprintf(cmd, sizeof(cmd), "80D8008146 31 8811 10%s 03%s 8811 10%s 03%s 8811 10%s 03%s", e[0],
             kcv[0], e[1], kcv[1], e[2], kcv[2]);
    TK_EQ_INT(rig_send_plain(&r, cmd, R, &RL, NULL), 0x6982);
    TK_EQ_RC(scb_opts_set_int(r.opts, SCB_OPT_LEVEL, 0x03), SCB_OK);
    TK_EQ_RC(scb_scp03_open(r.card, r.keys, r.opts), SCB_OK);
    TK_EQ_INT(rig_send(&r, cmd, R, &RL, NULL), 0x9000);
    char expect[32];
    snprintf(expect, sizeof(expect), "31%s%s%s", kcv[0], kcv[1], kcv[2]);
    TK_EQ_HEX(R, RL, expect);
    /* the same KVN again: 6A80; a wrong KCV: 6A80; a bad key type: 6A80 */
    TK_EQ_INT(rig_send(&r, cmd, R, &RL, NULL), 0x6A80);
    snprintf(cmd, sizeof(cmd), "80D8008146 32 8811 10%s 03000000 8811 10%s 03%s 8811 10%s 03%s",
             e[0], e[1], kcv[1], e[2], kcv[2]);
    TK_EQ_INT(rig_send(&r, cmd, R, &RL, NULL), 0x6A80);
    snprintf(cmd, sizeof(cmd), "80D8008146 32 8011 10%s 03%s 8811 10%s 03%s 8811 10%s 03%s", e[0],
             kcv[0], e[1], kcv[1], e[2], kcv[2]);
    TK_EQ_INT(rig_send(&r, cmd, R, &RL, NULL), 0x6A80);
    /* a key version without keys, two keys only: no key set */
    TK_EQ_INT(rig_send(&r, "80D800810132", R, &RL, NULL), 0x6A80);
    snprintf(cmd, sizeof(cmd), "80D8008127 32 8810%s 00 8810%s 00", e[0], e[1]);
    TK_EQ_INT(rig_send(&r, cmd, R, &RL, NULL), 0x6A80);
    TK_EQ_INT(rig_send(&r, "80D8008001 32", R, &RL, NULL), 0x6A86);
    /* replace 30 by 32, short key form 88 10 <16> with a KCV length of 00 */
    snprintf(cmd, sizeof(cmd), "80D830813A 32 8810%s 00 8810%s 00 8810%s 00", e[0], e[1], e[2]);
    TK_EQ_INT(rig_send(&r, cmd, R, &RL, NULL), 0x9000);
    snprintf(expect, sizeof(expect), "32%s%s%s", kcv[0], kcv[1], kcv[2]);
    TK_EQ_HEX(R, RL, expect);
    snprintf(cmd, sizeof(cmd), "80D830813A 33 8810%s 00 8810%s 00 8810%s 00", e[0], e[1], e[2]);
    TK_EQ_INT(rig_send(&r, cmd, R, &RL, NULL), 0x6A88); /* 30 is gone */
    /* new sessions with the new key sets: 31 and 32 hold (40.., 50.., 60..) */
    TK_EQ_RC(scb_scp03_close(r.card), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(r.opts, SCB_OPT_LEVEL, 0x33), SCB_OK);
    TK_EQ_RC(scb_opts_unset(r.opts, SCB_OPT_SD_AID), SCB_OK); /* the challenge is from new keys */
    for (uint8_t kv = 0x31; kv <= 0x32; kv++) {
        scb_keys_free(&r.keys);
        TK_EQ_RC(scb_keys_new(&r.keys, k[0], k[1], k[2], 16, kv), SCB_OK);
        TK_EQ_RC(scb_select_aid(r.card, PKCS15_AID, sizeof(PKCS15_AID), SCB_SEL_NO_RESP, NULL),
                 SCB_OK);
        TK_EQ_RC(scb_scp03_open(r.card, r.keys, r.opts), SCB_OK);
        TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, NULL), 0x9000);
        TK_EQ_INT(rig_send(&r, "00B0000002", R, &RL, NULL), 0x9000);
        TK_EQ_HEX(R, RL, "0002");
        TK_EQ_RC(scb_scp03_close(r.card), SCB_OK);
    }
    scb_keys_free(&r.keys);
    TK_EQ_RC(scb_keys_new(&r.keys, GP, GP, GP, 16, 0x30), SCB_OK);
    TK_EQ_RC(scb_scp03_open(r.card, r.keys, r.opts), SCB_E_SCP_NO_KEYSET);
    TK_EQ_INT(scb_card_last_sw(r.card), 0x6A88);
    /* PUT KEY needs at least C-MAC: a level 00 session refuses it (clear) */
    scb_keys_free(&r.keys);
    TK_EQ_RC(scb_keys_new(&r.keys, k[0], k[1], k[2], 16, 0x31), SCB_OK);
    TK_EQ_RC(scb_scp03_close(r.card), SCB_OK); /* the failed open refuses transmits until then */
    TK_EQ_RC(scb_select_aid(r.card, PKCS15_AID, sizeof(PKCS15_AID), SCB_SEL_NO_RESP, NULL), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(r.opts, SCB_OPT_LEVEL, 0x00), SCB_OK);
    TK_EQ_RC(scb_scp03_open(r.card, r.keys, r.opts), SCB_OK);
    TK_EQ_INT(scb_sim_session_level(r.sim, ch), 0x00);
    TK_EQ_INT(rig_send_plain(&r, "80D8008101 34", R, &RL, NULL), 0x6982);
    rig_close(&r);
    json_object_put(v);
}

/* PUT KEY data as the card reads it (putkey.json keys under its DEK). */
static const char *const PK_FULL = "31"
                                   "881110D533E59B45A153ED7E5E9C5DFCFD4AAA03504A77"
                                   "8811103EF0B1A5E3059DAB21FCE23A7B61C4CA03F2A8DF"
                                   "881110ADDE68F7AD497268D31A0DDD5C74B08F03D7D0E4";

static uint16_t parse_hex(scb_sim_t *sim, const char *hex, sim_put_key_t *pk, const char **why)
{
    uint8_t dek[16], data[200];
    tk_unhex("000102030405060708090A0B0C0D0E0F", dek, 16);
    size_t n = tk_unhex(hex, data, sizeof(data));
    *why = NULL;
    return sim_put_key_parse(sim, dek, 16, data, n, pk, why);
}

static void test_put_key_parse(void)
{
    scb_sim_t *sim = make(NULL);
    sim_put_key_t pk;
    const char *why;
    TK_EQ_INT(parse_hex(sim, PK_FULL, &pk, &why), 0);
    TK_EQ_INT(pk.new_kvn, 0x31);
    TK_EQ_INT(pk.count, 3);
    TK_EQ_INT(pk.key_len, 16);
    TK_EQ_HEX(pk.key[0], 16, "404142434445464748494A4B4C4D4E4F");
    TK_EQ_HEX(pk.key[1], 16, "505152535455565758595A5B5C5D5E5F");
    TK_EQ_HEX(pk.key[2], 16, "606162636465666768696A6B6C6D6E6F");
    TK_EQ_HEX(pk.kcv[0], 3, "504A77");
    TK_CHECK(pk.had_kcv[0] && pk.had_kcv[1] && pk.had_kcv[2]);

    /* short form 88 10 <16 bytes>, no KCV, as some hosts send it */
    TK_EQ_INT(parse_hex(sim,
                        "31"
                        "8810D533E59B45A153ED7E5E9C5DFCFD4AAA"
                        "88103EF0B1A5E3059DAB21FCE23A7B61C4CA",
                        &pk, &why),
              0);
    TK_EQ_INT(pk.count, 2);
    TK_EQ_HEX(pk.key[1], 16, "505152535455565758595A5B5C5D5E5F");
    TK_CHECK(!pk.had_kcv[0] && !pk.had_kcv[1]);
    /* short form followed by a KCV length of 00 or a KCV */
    TK_EQ_INT(parse_hex(sim,
                        "31 8810D533E59B45A153ED7E5E9C5DFCFD4AAA 00"
                        " 8810D533E59B45A153ED7E5E9C5DFCFD4AAA 03504A77",
                        &pk, &why),
              0);
    TK_EQ_INT(pk.count, 2);
    TK_CHECK(!pk.had_kcv[0] && pk.had_kcv[1]);

    /* refused, each saying what is wrong, nothing kept */
    static const struct {
        const char *data, *why;
    } bad[] = {
        {"", "no key version"},
        {"31 881110D533E59B45A153ED7E5E9C5DFCFD4AAA03504A78", "KCV does not match"},
        {"31 88", "truncated"},
        {"31 801110D533E59B45A153ED7E5E9C5DFCFD4AAA03504A77", "not AES"},
        {"31 881110D533E59B45A153ED7E5E9C5DFCFD4A", "longer than the data"},
        {"31 881118D533E59B45A153ED7E5E9C5DFCFD4AAA03504A77", "stated length"}, /* 24, 16 bytes */
        {"31 881110D533E59B45A153ED7E5E9C5DFCFD4AAA02504A", "KCV length"},
        {"31 881110D533E59B45A153ED7E5E9C5DFCFD4AAA035041", "KCV cut"},
        {"31 8800", "empty"},
        {"31 8810D533E59B45A153ED7E5E9C5DFCFD4AAA"
         " 8820D533E59B45A153ED7E5E9C5DFCFD4AAA3EF0B1A5E3059DAB21FCE23A7B61C4CA",
         "different lengths"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        TK_EQ_INT(parse_hex(sim, bad[i].data, &pk, &why), 0x6A80);
        TK_CHECK(why != NULL && strstr(why, bad[i].why) != NULL);
        if (why == NULL || strstr(why, bad[i].why) == NULL)
            fprintf(stderr, "  %s: %s\n", bad[i].data, why ? why : "(no reason)");
        TK_EQ_INT(pk.count, 0);
    }
    /* more than three components */
    char four[400];
    snprintf(four, sizeof(four), "%s%s", PK_FULL, "881110D533E59B45A153ED7E5E9C5DFCFD4AAA03504A77");
    TK_EQ_INT(parse_hex(sim, four, &pk, &why), 0x6A80);
    TK_CHECK(why != NULL && strstr(why, "more than 3") != NULL);
    scb_sim_free(&sim);
}

/* KDF3 master keys: the card's static keys are derived with its KDD. */
static void test_kdf3(void)
{
    json_object *v = tk_load_vectors("kdf3.json");
    json_object *x = json_object_array_get_idx(json_object_object_get(v, "vectors"), 0);
    json_object *d = json_object_object_get(x, "derived");
    char json[256];
    snprintf(json, sizeof(json),
             "{\"scp03\": {\"kdd\": \"%s\", \"keys\": {\"master\": \"%s\", \"diversify\": \"kdf3\"}}}",
             tk_json_str(x, "kdd"), tk_json_str(x, "master"));
    uint8_t k[3][16];
    tk_unhex(tk_json_str(d, "enc"), k[0], 16);
    tk_unhex(tk_json_str(d, "mac"), k[1], 16);
    tk_unhex(tk_json_str(d, "dek"), k[2], 16);
    scb_keys_t *keys = NULL;
    TK_EQ_RC(scb_keys_new(&keys, k[0], k[1], k[2], 16, 0x30), SCB_OK);
    rig_t r;
    rig_attach(&r, make(json), true, keys);
    TK_EQ_RC(rig_session(&r, false, 0x33), SCB_OK);
    scb_scp03_info_t info;
    TK_EQ_RC(scb_scp03_info(r.card, &info), SCB_OK);
    TK_EQ_HEX(info.kdd, 10, tk_json_str(x, "kdd"));
    TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, NULL), 0x9000);
    /* KCVs of the derived keys as the source lists them */
    uint8_t kcv[3];
    json_object *kc = json_object_object_get(x, "kcv");
    TK_EQ_INT(sim_scp_kcv(r.sim, k[2], 16, kcv), 0);
    TK_EQ_HEX(kcv, 3, tk_json_str(kc, "dek"));
    rig_close(&r);
    json_object_put(v);
}

static void test_faults(void)
{
    rig_t r;
    int rc;
    scb_sim_faults_t f;
    rig_open(&r, NULL, NULL, 0, 0);
    TK_EQ_RC(rig_session(&r, false, 0x33), SCB_OK);
    TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, NULL), 0x9000);
    /* a corrupt R-MAC, then (in a new session) bad padding: the host refuses each */
    scb_sim_get_faults(r.sim, &f);
    f.corrupt_rmac_at = scb_sim_apdu_count(r.sim) + 1;
    scb_sim_set_faults(r.sim, &f);
    rig_send(&r, "00B0000010", R, &RL, &rc);
    TK_EQ_RC(rc, SCB_E_SCP_RMAC);
    TK_EQ_RC(rig_session(&r, false, 0x33), SCB_OK);
    TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, NULL), 0x9000);
    f.bad_padding_at = scb_sim_apdu_count(r.sim) + 1;
    scb_sim_set_faults(r.sim, &f);
    rig_send(&r, "00B0000010", R, &RL, &rc);
    TK_EQ_RC(rc, SCB_E_SCP_PADDING);
    TK_EQ_INT(rig_last(&r, 0)->rl, 32 + 8 + 2); /* 16 data bytes, a pad block spoiled */
    TK_EQ_RC(rig_session(&r, false, 0x33), SCB_OK);
    TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, NULL), 0x9000);
    TK_EQ_INT(rig_send(&r, "00B0000010", R, &RL, &rc), 0x9000);
    TK_EQ_RC(rc, SCB_OK);
    TK_EQ_INT(RL, 16);
    /* over-padding: 16 bytes of data travel as 48 (one extra block) */
    f.renc_overpad = 1;
    f.rmac_on_error = 1;
    scb_sim_set_faults(r.sim, &f);
    TK_EQ_INT(rig_send(&r, "00B0000010", R, &RL, &rc), 0x9000);
    TK_EQ_RC(rc, SCB_OK);
    TK_EQ_INT(rig_last(&r, 0)->rl, 48 + 8 + 2);
    TK_EQ_INT(RL, 16);
    /* an error status with an R-MAC (a deviation some cards show), which
     * the host refuses as an error status carrying data */
    rig_send(&r, "00B0040010", R, &RL, &rc);
    TK_EQ_HEX(rig_last(&r, 0)->r + 8, 2, "6B00");
    TK_EQ_INT(rig_last(&r, 0)->rl, 8 + 2);
    TK_EQ_RC(rc, SCB_E_SCP_RMAC);
    rig_close(&r);

    /* handshake faults, seen by the host */
    rig_open(&r, "{\"faults\": {\"bad_card_cryptogram\": true}}", NULL, 0, 0);
    TK_EQ_RC(rig_session(&r, false, 0x33), SCB_E_SCP_CARD_CRYPTOGRAM);
    rig_close(&r);
    rig_open(&r, "{\"faults\": {\"kvn_mismatch\": true}}", NULL, 0, 0);
    TK_EQ_RC(rig_session(&r, false, 0x33), SCB_E_SCP_KVN);
    size_t n;
    TK_EQ_INT(last_iu(&r, &n)[10], 0x31);
    rig_close(&r);
    /* a challenge off the counter: the cryptograms follow the challenge sent,
     * so only a host that checks the challenge (against the SD AID) sees it */
    rig_open(&r, "{\"faults\": {\"bad_challenge\": true}}", NULL, 0, 0);
    TK_EQ_RC(rig_session(&r, false, 0x33), SCB_E_SCP_CHALLENGE);
    uint8_t chal[8];
    TK_EQ_RC(scb__scp03_card_challenge(GP, 16, (const uint8_t *)"\x00\x00\x01", PKCS15_AID,
                                       sizeof(PKCS15_AID), 8, chal),
             SCB_OK);
    TK_CHECK(memcmp(last_iu(&r, &n) + 13, chal, 8) != 0);
    TK_EQ_RC(scb_opts_unset(r.opts, SCB_OPT_SD_AID), SCB_OK);
    TK_EQ_RC(rig_session(&r, false, 0x33), SCB_OK);
    rig_close(&r);
}

static void test_reset(void)
{
    rig_t r, b;
    rig_open(&r, NULL, NULL, 0, 0);
    TK_EQ_RC(rig_session(&r, true, 0x33), SCB_OK);
    scb_sim_reset(r.sim);
    TK_EQ_INT(scb_sim_session_level(r.sim, 1), -1);
    TK_EQ_INT(rig_send(&r, "00A4000C026432", R, &RL, NULL), 0x6881); /* channel closed */
    TK_EQ_INT(scb_sim_sequence_counter(r.sim), 2); /* card memory */
    TK_EQ_RC(scb_sim_set_sequence_counter(r.sim, 0xFFFFFF), SCB_OK);
    rig_attach(&b, r.sim, false, NULL); /* a host that knows of the reset */
    TK_EQ_RC(rig_session(&b, false, 0x33), SCB_OK);
    size_t n;
    TK_EQ_HEX(last_iu(&b, &n) + 29, 3, "FFFFFF");
    TK_CHECK(scb_scp03_open(b.card, b.keys, b.opts) != SCB_OK);
    TK_EQ_INT(scb_card_last_sw(b.card), 0x6985); /* counter exhausted */
    TK_EQ_RC(scb_sim_set_sequence_counter(r.sim, 0x1000000), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_sim_set_card_challenge(r.sim, R, 7), SCB_E_INVALID_ARG);
    rig_close(&b);
    rig_close(&r);
}

/* The harness surface: sessions from known keys, sealing, hook answers. */
static int wire_hook(void *user, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
    scb_sim_t *sim = user;
    (void)cmd, (void)len;
    static const uint8_t d[5] = {1, 2, 3, 4, 5};
    TK_EQ_RC(scb_sim_seal(sim, d, sizeof(d), 0x9000, 0, resp, resp_len), SCB_OK);
    return SCB_SIM_HOOK_WIRE;
}

static void test_harness_surface(void)
{
    /* a session installed from keys talks to a library session made from
     * the same keys */
    scb_sim_t *sim = make(NULL);
    scb__scp03_derived_t d;
    memset(&d, 0, sizeof(d));
    memset(d.s_enc, 0x11, 16);
    memset(d.s_mac, 0x22, 16);
    memset(d.s_rmac, 0x33, 16);
    d.key_len = 16;
    d.cryptogram_len = 8;
    TK_EQ_RC(scb_sim_open_session(sim, 0, d.s_enc, d.s_mac, d.s_rmac, 16, 0x33, 0, NULL), SCB_OK);
    TK_EQ_INT(scb_sim_session_level(sim, 0), 0x33);
    TK_EQ_RC(scb_sim_open_session(sim, 1, d.s_enc, d.s_mac, d.s_rmac, 16, 0x33, 0, NULL),
             SCB_E_INVALID_ARG); /* channel 1 is not open */
    TK_EQ_RC(scb_sim_open_session(sim, 0, d.s_enc, d.s_mac, d.s_rmac, 16, 0x07, 0, NULL),
             SCB_E_INVALID_ARG);
    scb__scp03_session_t *s = NULL;
    TK_EQ_RC(scb__scp03_session_new(&s, &d, NULL, 0x33, 0), SCB_OK);
    scb_sim_set_cmd_hook(sim, wire_hook, sim);
    uint8_t data[4] = {9, 8, 7, 6}, buf[300], out[300];
    scb_apdu_t in = {.cla = 0x80, .ins = 0xCA, .data = data, .lc = 4, .ne = 256, .has_le = true};
    scb_apdu_t w;
    char detail[128];
    TK_EQ_RC(scb__scp03_wrap(s, &in, 0x84, false, false, &w, buf, sizeof(buf), detail,
                             sizeof(detail)),
             SCB_OK);
    uint8_t wire[300];
    size_t wl = sizeof(wire);
    TK_EQ_RC(scb__apdu_encode(&w, wire, &wl), SCB_OK);
    size_t rl = sizeof(R);
    TK_EQ_RC(scb_sim_process(sim, wire, wl, R, &rl), SCB_OK);
    TK_EQ_INT(rl, 16 + 8 + 2);
    size_t ol = sizeof(out);
    TK_EQ_RC(scb__scp03_unwrap(s, R, rl - 2, 0x9000, out, &ol, detail, sizeof(detail)), SCB_OK);
    TK_EQ_HEX(out, ol, "0102030405");
    /* a PUT KEY in such a session: no DEK, refused */
    scb_sim_set_cmd_hook(sim, NULL, NULL);
    in.ins = 0xD8;
    in.p2 = 0x81;
    TK_EQ_RC(scb__scp03_wrap(s, &in, 0x84, false, false, &w, buf, sizeof(buf), detail,
                             sizeof(detail)),
             SCB_OK);
    wl = sizeof(wire);
    TK_EQ_RC(scb__apdu_encode(&w, wire, &wl), SCB_OK);
    rl = sizeof(R);
    TK_EQ_RC(scb_sim_process(sim, wire, wl, R, &rl), SCB_OK);
    TK_EQ_HEX(R, rl, "6982");
    scb__scp03_session_free(&s);

    /* sealing without a session: data as given; bad arguments refused */
    rl = sizeof(R);
    TK_EQ_RC(scb_sim_open_session(sim, 0, d.s_enc, d.s_mac, d.s_rmac, 16, 0x00, 0, NULL), SCB_OK);
    TK_EQ_RC(scb_sim_seal(sim, data, 4, 0x9000, 0, R, &rl), SCB_OK);
    TK_EQ_HEX(R, rl, "090807069000");
    rl = 5;
    TK_EQ_RC(scb_sim_seal(sim, data, 4, 0x9000, 0, R, &rl), SCB_E_BUFFER_TOO_SMALL);
    rl = sizeof(R);
    TK_EQ_RC(scb_sim_seal(sim, data, 4, 0x9000, 0x80, R, &rl), SCB_E_INVALID_ARG);
    scb_sim_free(&sim);
}

int main(void)
{
    TK_RUN(test_replay_vectors);
    TK_RUN(test_levels);
    TK_RUN(test_handshake_rules);
    TK_RUN(test_bad_host_cryptogram);
    TK_RUN(test_channels_and_cla);
    TK_RUN(test_counter_modes);
    TK_RUN(test_s16_and_key_lengths);
    TK_RUN(test_put_key);
    TK_RUN(test_put_key_parse);
    TK_RUN(test_kdf3);
    TK_RUN(test_faults);
    TK_RUN(test_reset);
    TK_RUN(test_harness_surface);
    return tk_done();
}
