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
        TK_EQ_RC(scb__scp03_card_challenge(enc, klen, seq, aid, aid_len, chal_len, expect), SCB_OK);
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

/* The PRF: AES-CMAC, NIST SP 800-38B appendix D examples for 128/192/256-bit
 * keys and 0/16/40/64-byte messages, fed whole and in uneven pieces. */
static void test_cmac_prf(void)
{
    static const char *const msg =
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
    static const struct {
        const char *key;
        const char *mac[4];
    } v[] = {
        {"2b7e151628aed2a6abf7158809cf4f3c",
         {"bb1d6929e95937287fa37d129b756746", "070a16b46b4d4144f79bdd9dd04a287c",
          "dfa66747de9ae63030ca32611497c827", "51f0bebf7e3b9d92fc49741779363cfe"}},
        {"8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
         {"d17ddf46adaacde531cac483de7a9367", "9e99a7bf31e710900662f65e617c5184",
          "8a1de5be2eb31aad089a82e6ee908b0e", "a1d5df0eed790f794d77589659f39a11"}},
        {"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
         {"028962f61b7bf89efc6b551f4667d983", "28a7023f452e8f82bd4bf28d8c37c35c",
          "aaf3d8f1de5640c232f5b169b9c911e6", "e1992190549f6ed5696a2c056c315410"}},
    };
    static const size_t lens[4] = {0, 16, 40, 64};
    uint8_t m[64], key[32], mac[16];
    tk_unhex(msg, m, sizeof(m));
    for (size_t i = 0; i < 3; i++) {
        size_t kl = tk_unhex(v[i].key, key, sizeof(key));
        scb_aes_t *aes = NULL;
        TK_EQ_RC(scb__aes_new(&aes, key, kl), SCB_OK);
        for (size_t j = 0; j < 4; j++) {
            TK_EQ_RC(scb__cmac(aes, m, lens[j], mac), SCB_OK);
            TK_EQ_HEX(mac, 16, v[i].mac[j]);
            /* the same message in pieces of every size */
            for (size_t step = 1; step <= 33; step += 4) {
                TK_EQ_RC(scb__cmac_begin(aes), SCB_OK);
                for (size_t at = 0; at < lens[j]; at += step)
                    TK_EQ_RC(
                        scb__cmac_update(aes, m + at, lens[j] - at < step ? lens[j] - at : step),
                        SCB_OK);
                TK_EQ_RC(scb__cmac_end(aes, mac), SCB_OK);
                TK_EQ_HEX(mac, 16, v[i].mac[j]);
            }
        }
        scb__aes_free(&aes);
    }
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
    TK_RUN(test_cmac_prf);
    TK_RUN(test_vectors);
    TK_RUN(test_kdf_arguments);
    return tk_done();
}
