/*
 * SCP03 derivation against every entry of scp03.json: S-ENC, S-MAC,
 * S-RMAC, card and host cryptograms, and the pseudo-random card challenge
 * KDF(Key-ENC, 02, seq || SD AID) where the entry names the SD AID.
 * (AES-192/256 and S16 derivations are cross-checked against the
 * independent Python host in tests/pyhost.)
 */
#include "scp03.h"
#include "testkit.h"

static void check_entry(json_object *e)
{
    const char *name = tk_json_str(e, "name");
    int before = tk_failures;
    json_object *k = NULL, *s = NULL, *ex = NULL;
    TK_CHECK(json_object_object_get_ex(e, "keys", &k));
    TK_CHECK(json_object_object_get_ex(e, "session", &s));
    uint8_t enc[32], mac[32], hc[16], cc[16], seq[3], aid[16];
    size_t klen = tk_unhex(tk_json_str(k, "enc"), enc, sizeof(enc));
    TK_EQ_INT(tk_unhex(tk_json_str(k, "mac"), mac, sizeof(mac)), klen);
    size_t chal_len = tk_unhex(tk_json_str(e, "host_challenge"), hc, sizeof(hc));

    /* card challenge and sequence counter: from the INITIALIZE UPDATE
     * response when there is one, else given (session-only entry) */
    if (json_object_object_get_ex(e, "exchanges", &ex) && json_object_array_length(ex) > 0) {
        uint8_t r[64];
        size_t rl = tk_unhex(tk_json_str(json_object_array_get_idx(ex, 0), "r"), r, sizeof(r));
        TK_CHECK(rl >= 13 + 2 * chal_len + 3 + 2);
        memcpy(cc, r + 13, chal_len);
        memcpy(seq, r + 13 + 2 * chal_len, 3);
    } else {
        TK_EQ_INT(tk_unhex(tk_json_str(e, "card_challenge"), cc, sizeof(cc)), chal_len);
        TK_EQ_INT(tk_unhex(tk_json_str(e, "seq"), seq, sizeof(seq)), 3);
    }

    scb__scp03_derived_t d;
    TK_EQ_RC(scb__scp03_derive(enc, mac, klen, hc, cc, chal_len, &d), SCB_OK);
    TK_EQ_INT(d.key_len, klen);
    TK_EQ_INT(d.cryptogram_len, chal_len);
    TK_EQ_HEX(d.s_enc, klen, tk_json_str(s, "s_enc"));
    TK_EQ_HEX(d.s_mac, klen, tk_json_str(s, "s_mac"));
    TK_EQ_HEX(d.s_rmac, klen, tk_json_str(s, "s_rmac"));
    TK_EQ_HEX(d.card_cryptogram, chal_len, tk_json_str(s, "card_cryptogram"));
    TK_EQ_HEX(d.host_cryptogram, chal_len, tk_json_str(s, "host_cryptogram"));

    if (tk_json_str(e, "sd_aid") != NULL) {
        size_t aid_len = tk_unhex(tk_json_str(e, "sd_aid"), aid, sizeof(aid));
        uint8_t expect[16];
        TK_EQ_RC(scb__scp03_card_challenge(enc, klen, seq, aid, aid_len, chal_len, expect),
                 SCB_OK);
        TK_EQ_MEM(expect, chal_len, cc, chal_len);
    }
    fprintf(stderr, "%s %s\n", tk_failures == before ? "ok  " : "FAIL", name);
}

static void test_vectors(void)
{
    json_object *v = tk_load_vectors("scp03.json");
    size_t n = json_object_array_length(v);
    TK_CHECK(n >= 6);
    for (size_t i = 0; i < n; i++)
        check_entry(json_object_array_get_idx(v, i));
    json_object_put(v);
}

static void test_kdf_arguments(void)
{
    uint8_t key[16] = {0}, out[33], ctx[4] = {0};
    scb_aes_t *aes = NULL;
    TK_EQ_RC(scb__aes_new(&aes, key, 16), SCB_OK);
    TK_EQ_RC(scb__scp03_kdf(aes, 0x04, ctx, 4, 33, out), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb__scp03_kdf(aes, 0x04, ctx, 4, 0, out), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb__scp03_kdf(aes, 0x04, NULL, 4, 16, out), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb__scp03_kdf(NULL, 0x04, ctx, 4, 16, out), SCB_E_INVALID_ARG);
    /* L is part of the derivation data: a 256-bit output does not start
     * with the 128-bit one */
    uint8_t a[32], b[16];
    TK_EQ_RC(scb__scp03_kdf(aes, 0x04, ctx, 4, 32, a), SCB_OK);
    TK_EQ_RC(scb__scp03_kdf(aes, 0x04, ctx, 4, 16, b), SCB_OK);
    TK_CHECK(memcmp(a, b, 16) != 0);
    scb__aes_free(&aes);

    scb__scp03_derived_t d;
    uint8_t k[16] = {0}, ch[16] = {0};
    TK_EQ_RC(scb__scp03_derive(k, k, 16, ch, ch, 12, &d), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb__scp03_derive(k, k, 20, ch, ch, 8, &d), SCB_E_INVALID_ARG);
    uint8_t aid[17] = {0};
    TK_EQ_RC(scb__scp03_card_challenge(k, 16, ch, aid, 17, 8, out), SCB_E_INVALID_ARG);
}

int main(void)
{
    TK_RUN(test_vectors);
    TK_RUN(test_kdf_arguments);
    return tk_done();
}
