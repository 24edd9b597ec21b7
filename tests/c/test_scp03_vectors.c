/*
 * Replays SCP03 session traces byte for byte through the scripted transport
 * with pinned host challenges: every wire command must equal the recorded
 * one and every response must unwrap to the recorded plaintext.
 *
 *   test_scp03_vectors            the recorded public traces (scp03.json),
 *                                 also moved onto logical channels
 *   test_scp03_vectors FILE.json  traces in the same format from elsewhere
 *                                 (tests/pyhost builds S16 / AES-192/256 /
 *                                 every-level traces with the independent
 *                                 Python host and replays them here)
 *   test_scp03_vectors --pkcs11 BASE QUERY [FILE.json]
 *                                 the same with the static keys in a PKCS#11
 *                                 token: entry NAME's keys are the objects of
 *                                 BASE;object=NAME?QUERY (tests/pkcs11 imports
 *                                 them); every entry's recorded session keys,
 *                                 cryptograms and pseudo-random card challenge
 *                                 are derived from the token keys too
 *
 * Optional entry fields beyond scp03.json (used by generated traces):
 * "channel" (logical channel the session runs on), "scb_flags" (names of
 * boolean secure-channel options in capitals: S16, KDF3, MAC_CLA_AS_SENT,
 * COUNT_DATA_ONLY), "transport_extended" (bool),
 * "open_error" (error name scb_scp03_open must return) and, per exchange,
 * "expect_error" (error name that transmit must return; the replay then
 * checks that the handle refuses secured transmits).
 */
#include "scp03.h"
#include "testkit.h"

#include <ctype.h>

#include <stdint.h>

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* The boolean option a "scb_flags" name stands for ("MAC_CLA_AS_SENT" is
 * the option "mac_cla_as_sent"). */
static int flag_named(const char *name)
{
    char lower[64];
    size_t i = 0;
    for (; name[i] != 0 && i + 1 < sizeof(lower); i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    lower[i] = 0;
    int id = scb_opt_find(lower);
    scb_opt_info_t info;
    if (id <= 0 || scb_opt_info(id, &info) != SCB_OK || info.type != SCB_OPT_T_BOOL) {
        fprintf(stderr, "unknown flag name '%s'\n", name);
        abort();
    }
    return id;
}

static bool on(const scb_opts_t *p, int id)
{
    long long v = 0;
    return scb_opts_get_int(p, id, &v) == SCB_OK && v != 0;
}

/* Rewrite the channel bits of a recorded channel-0 command's CLA. */
static void move_to_channel(char *hex, uint8_t channel)
{
    uint8_t cla = (uint8_t)strtoul((char[]){hex[0], hex[1], 0}, NULL, 16);
    uint8_t moved;
    if (channel < 4)
        moved = (uint8_t)((cla & 0xFC) | channel);
    else
        moved = (uint8_t)((cla & 0x80) | 0x40 | ((cla & 0x0C) ? 0x20 : 0) | (channel - 4));
    char two[3];
    snprintf(two, sizeof(two), "%02X", moved);
    hex[0] = two[0];
    hex[1] = two[1];
}

/* --pkcs11: where the token key sets are (NULL: keys from the entry). */
static const char *p11_base, *p11_query;

/* The entry's key set asking for key version kvn: its hex keys, or the
 * token objects named after the entry. */
static scb_keys_t *entry_keys(json_object *e, uint8_t kvn)
{
    scb_keys_t *keys = NULL;
    if (p11_base != NULL) {
        char uri[1024], detail[300] = "";
        snprintf(uri, sizeof(uri), "%s;object=%s?%s", p11_base, tk_json_str(e, "name"),
                 p11_query);
        int rc = scb_keys_open_pkcs11(&keys, uri, kvn, NULL, 0, detail, sizeof(detail));
        TK_EQ_RC(rc, SCB_OK);
        if (rc != SCB_OK)
            fprintf(stderr, "  %s: %s\n", tk_json_str(e, "name"), detail);
        else
            TK_CHECK(scb_keys_in_token(keys));
        return keys;
    }
    json_object *k = get(e, "keys");
    uint8_t enc[32], mac[32], dek[32];
    size_t klen = tk_unhex(tk_json_str(k, "enc"), enc, sizeof(enc));
    TK_EQ_INT(tk_unhex(tk_json_str(k, "mac"), mac, sizeof(mac)), klen);
    TK_EQ_INT(tk_unhex(tk_json_str(k, "dek"), dek, sizeof(dek)), klen);
    TK_EQ_RC(scb_keys_new(&keys, enc, mac, dek, klen, kvn), SCB_OK);
    return keys;
}

/* The recorded session (keys, cryptograms) and pseudo-random card
 * challenge, derived from the entry's key set (token keys with --pkcs11). */
static void check_session(json_object *e)
{
    json_object *sess = get(e, "session");
    json_object *exchanges = get(e, "exchanges");
    if (sess == NULL)
        return;
    int before = tk_failures;
    uint8_t hc[16], cc[16], iu[300];
    size_t chal_len = tk_unhex(tk_json_str(e, "host_challenge"), hc, sizeof(hc));
    if (exchanges != NULL && json_object_array_length(exchanges) > 0) {
        size_t n = tk_unhex(tk_json_str(json_object_array_get_idx(exchanges, 0), "r"), iu,
                            sizeof(iu));
        TK_CHECK(n >= 13 + 2 * chal_len);
        memcpy(cc, iu + 13, chal_len);
    } else {
        TK_EQ_INT(tk_unhex(tk_json_str(e, "card_challenge"), cc, sizeof(cc)), chal_len);
    }
    scb_keys_t *keys = entry_keys(e, 0);
    if (keys == NULL)
        return;
    scb__scp03_derived_t d;
    char detail[200] = "";
    TK_EQ_RC(scb__scp03_derive_keys(keys, hc, cc, chal_len, &d, detail, sizeof(detail)), SCB_OK);
    TK_EQ_HEX(d.s_enc, d.key_len, tk_json_str(sess, "s_enc"));
    TK_EQ_HEX(d.s_mac, d.key_len, tk_json_str(sess, "s_mac"));
    TK_EQ_HEX(d.s_rmac, d.key_len, tk_json_str(sess, "s_rmac"));
    TK_EQ_HEX(d.card_cryptogram, chal_len, tk_json_str(sess, "card_cryptogram"));
    TK_EQ_HEX(d.host_cryptogram, chal_len, tk_json_str(sess, "host_cryptogram"));
    const char *seq_hex = tk_json_str(e, "seq");
    if (seq_hex != NULL && tk_json_str(e, "sd_aid") != NULL) {
        uint8_t seq[3], aid[16], expect[16];
        TK_EQ_INT(tk_unhex(seq_hex, seq, sizeof(seq)), 3);
        size_t aid_len = tk_unhex(tk_json_str(e, "sd_aid"), aid, sizeof(aid));
        TK_EQ_RC(scb__scp03_card_challenge_keys(keys, seq, aid, aid_len, chal_len, expect, detail,
                                                sizeof(detail)),
                 SCB_OK);
        TK_EQ_MEM(expect, chal_len, cc, chal_len);
    }
    scb__cleanse(&d, sizeof(d));
    scb_keys_free(&keys);
    fprintf(stderr, "%s %s: session derived from %s keys\n", tk_failures == before ? "ok  " : "FAIL",
            tk_json_str(e, "name"), p11_base != NULL ? "token" : "memory");
}

typedef struct replay_opts {
    int channel;          /* -1: from the entry (default 0) */
    int extra_opt;        /* a boolean option added to the entry's (0: none) */
    bool move_cla;        /* rewrite recorded CLAs for the channel */
    bool expect_mismatch; /* the wire must differ from the recording */
} replay_opts_t;

/* Replays one entry; returns true when it has exchanges. */
static bool replay(json_object *e, const replay_opts_t *o)
{
    json_object *exchanges = get(e, "exchanges");
    size_t n = exchanges != NULL ? json_object_array_length(exchanges) : 0;
    if (n == 0)
        return false;
    const char *name = tk_json_str(e, "name");
    int before = tk_failures;

    int channel = o->channel >= 0 ? o->channel : (int)tk_json_int(e, "channel", 0);
    tk_script_t *s = tk_script_new();
    s->quiet = o->expect_mismatch;
    json_object *te = get(e, "transport_extended");
    if (te != NULL && json_object_get_boolean(te))
        s->flags |= SCB_TP_EXTENDED_LENGTH;
    for (size_t i = 0; i < n; i++) {
        json_object *x = json_object_array_get_idx(exchanges, i);
        char c[2 * 600 + 1];
        snprintf(c, sizeof(c), "%s", tk_json_str(x, "c"));
        if (o->move_cla)
            move_to_channel(c, (uint8_t)channel);
        tk_script_add(s, c, tk_json_str(x, "r"));
    }

    /* The key set asks for the KVN that INITIALIZE UPDATE's P1 recorded
     * (0 = the card's default). */
    scb_keys_t *keys = entry_keys(e, s->steps[0].cmd[2]);

    scb_opts_t *p = NULL;
    TK_EQ_RC(scb_opts_new(&p), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(p, SCB_OPT_LEVEL, tk_json_int(e, "level", 0x33)), SCB_OK);
    json_object *s16 = get(e, "s16");
    if (s16 != NULL && json_object_get_boolean(s16))
        TK_EQ_RC(scb_opts_set_int(p, SCB_OPT_S16, 1), SCB_OK);
    json_object *fl = get(e, "scb_flags");
    for (size_t i = 0; fl != NULL && i < json_object_array_length(fl); i++)
        TK_EQ_RC(scb_opts_set_int(p, flag_named(json_object_get_string(
                                         json_object_array_get_idx(fl, i))), 1), SCB_OK);
    if (o->extra_opt != 0)
        TK_EQ_RC(scb_opts_set_int(p, o->extra_opt, 1), SCB_OK);
    uint8_t hc[16], aid[16];
    size_t hlen = tk_unhex(tk_json_str(e, "host_challenge"), hc, sizeof(hc));
    TK_EQ_RC(scb_opts_set_bytes(p, SCB_OPT_HOST_CHALLENGE, hc, hlen), SCB_OK);
    const bool with_aid = tk_json_str(e, "sd_aid") != NULL;
    if (with_aid) {
        size_t alen = tk_unhex(tk_json_str(e, "sd_aid"), aid, sizeof(aid));
        TK_EQ_RC(scb_opts_set_bytes(p, SCB_OPT_SD_AID, aid, alen), SCB_OK);
    }
    scb_card_t *card = tk_card(s);
    TK_EQ_RC(scb_channel_select(card, (uint8_t)channel), SCB_OK);
    int rc = scb_scp03_open(card, keys, p);
    const char *open_error = tk_json_str(e, "open_error");
    if (open_error != NULL) {
        TK_CHECK(strcmp(scb_error_name(rc), open_error) == 0);
        if (strcmp(scb_error_name(rc), open_error) != 0)
            fprintf(stderr, "  %s: open returned %s, expected %s (%s)\n", name, scb_error_name(rc),
                    open_error, scb_card_errmsg(card));
        TK_CHECK(!scb_scp03_is_open(card));
    } else if (!o->expect_mismatch) {
        TK_EQ_RC(rc, SCB_OK);
        if (rc != SCB_OK)
            fprintf(stderr, "  %s: %s\n", name, scb_card_errmsg(card));
        TK_EQ_INT(scb_scp03_level(card), tk_json_int(e, "level", 0x33));
        scb_scp03_info_t info;
        TK_EQ_RC(scb_scp03_info(card, &info), SCB_OK);
        TK_EQ_INT(info.s16, on(p, SCB_OPT_S16));
        TK_EQ_INT(info.challenge_verified, with_aid && info.has_seq_counter);
    }

    for (size_t i = 2; rc == SCB_OK && i < n; i++) {
        json_object *x = json_object_array_get_idx(exchanges, i);
        uint8_t cmd[600], resp[700];
        size_t clen = tk_unhex(tk_json_str(x, "plain_c"), cmd, sizeof(cmd));
        size_t rlen = sizeof(resp);
        rc = scb_card_transmit(card, cmd, clen, resp, &rlen);
        const char *expect_error = tk_json_str(x, "expect_error");
        if (expect_error != NULL) {
            TK_CHECK(strcmp(scb_error_name(rc), expect_error) == 0);
            if (strcmp(scb_error_name(rc), expect_error) != 0)
                fprintf(stderr, "  %s exchange %zu: %s, expected %s (%s)\n", name, i,
                        scb_error_name(rc), expect_error, scb_card_errmsg(card));
            /* the session is gone and nothing goes out in clear */
            TK_CHECK(!scb_scp03_is_open(card));
            unsigned long sent = scb_card_apdu_count(card);
            rlen = sizeof(resp);
            TK_EQ_RC(scb_card_transmit(card, cmd, clen, resp, &rlen), SCB_E_SCP_NO_SESSION);
            TK_EQ_INT(scb_card_apdu_count(card), sent);
            break;
        }
        if (o->expect_mismatch)
            continue;
        TK_EQ_RC(rc, SCB_OK);
        if (rc != SCB_OK)
            fprintf(stderr, "  %s exchange %zu: %s\n", name, i, scb_card_errmsg(card));
        else
            TK_EQ_HEX(resp, rlen, tk_json_str(x, "plain_r"));
    }
    if (o->expect_mismatch)
        TK_CHECK(s->mismatches > 0);
    else
        TK_CHECK(tk_script_complete(s));
    scb_card_free(&card);
    scb_keys_free(&keys);
    tk_script_free(s);
    fprintf(stderr, "%s %s (channel %d%s)\n", tk_failures == before ? "ok  " : "FAIL", name,
            channel, on(p, SCB_OPT_MAC_CLA_AS_SENT) ? ", CLA as sent" : "");
    scb_opts_free(&p);
    return true;
}

static size_t replay_all(json_object *entries, const replay_opts_t *o)
{
    size_t replayed = 0;
    for (size_t i = 0; i < json_object_array_length(entries); i++)
        replayed += replay(json_object_array_get_idx(entries, i), o);
    return replayed;
}

int main(int argc, char **argv)
{
    replay_opts_t plain = {.channel = -1};
    if (argc > 3 && strcmp(argv[1], "--pkcs11") == 0) {
        p11_base = argv[2];
        p11_query = argv[3];
        argc -= 3;
        argv += 3;
        json_object *v = argc > 1 ? json_object_from_file(argv[1]) : tk_load_vectors("scp03.json");
        if (v == NULL)
            return 2;
        for (size_t i = 0; i < json_object_array_length(v); i++)
            check_session(json_object_array_get_idx(v, i));
        size_t replayed = replay_all(v, &plain);
        TK_CHECK(replayed > 0);
        if (argc == 1)
            TK_EQ_INT(replayed, 5); /* every recorded trace */
        json_object_put(v);
        return tk_done();
    }
    if (argc > 1) {
        json_object *v = json_object_from_file(argv[1]);
        if (v == NULL) {
            fprintf(stderr, "cannot read %s: %s\n", argv[1], json_util_get_last_err());
            return 2;
        }
        TK_CHECK(replay_all(v, &plain) > 0);
        json_object_put(v);
        return tk_done();
    }

    json_object *v = tk_load_vectors("scp03.json");
    /* Every recorded trace, as recorded (channel 0). */
    TK_EQ_INT(replay_all(v, &plain), 5);
    /* On channel 0 the two CLA choices agree: the recording verifies both ways. */
    replay_opts_t as_sent0 = {.channel = 0, .extra_opt = SCB_OPT_MAC_CLA_AS_SENT};
    TK_EQ_INT(replay_all(v, &as_sent0), 5);
    /* On channels 1..3 and 4..19 the default (channel bits cleared in the
     * MAC, as GlobalPlatform specifies) keeps the recorded MACs valid once
     * only the wire CLA carries the channel (84 -> 85..87) ... */
    for (int ch = 1; ch <= 3; ch++) {
        replay_opts_t moved = {.channel = ch, .move_cla = true};
        TK_EQ_INT(replay_all(v, &moved), 5);
    }
    /* ... whereas MACing the CLA as sent cannot reproduce them. */
    replay_opts_t as_sent2 = {.channel = 2,
                              .extra_opt = SCB_OPT_MAC_CLA_AS_SENT,
                              .move_cla = true,
                              .expect_mismatch = true};
    TK_EQ_INT(replay_all(v, &as_sent2), 5);
    json_object_put(v);
    return tk_done();
}
