/*
 * Static key sets: construction and wiping, KCVs, KDF3 diversification,
 * DEK encryption (putkey.json, kdf3.json). The card's side of PUT KEY is
 * the virtual card's (tests/sim/test_sim_scp03.c).
 */
#include "scp03.h"
#include "testkit.h"

static void unhex_exact(const char *hex, uint8_t *out, size_t want)
{
    TK_EQ_INT(tk_unhex(hex, out, want), want);
}

static void test_new_and_free(void)
{
    uint8_t k[32] = {1}, m[32] = {2}, d[32] = {3};
    scb_keys_t *keys = (scb_keys_t *)&keys; /* must be reset on failure */
    TK_EQ_RC(scb_keys_new(&keys, k, m, d, 20, 1), SCB_E_INVALID_ARG);
    TK_CHECK(keys == NULL);
    TK_EQ_RC(scb_keys_new(&keys, NULL, m, d, 16, 1), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_keys_new(&keys, k, NULL, d, 16, 1), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_keys_new(NULL, k, m, d, 16, 1), SCB_E_INVALID_ARG);
    for (size_t len = 16; len <= 32; len += 8) {
        TK_EQ_RC(scb_keys_new(&keys, k, m, d, len, 0x30), SCB_OK);
        TK_EQ_INT(scb_keys_length(keys), len);
        TK_EQ_INT(scb_keys_kvn(keys), 0x30);
        TK_CHECK(scb_keys_has_dek(keys));
        TK_EQ_MEM(scb__keys_key(keys, SCB_KEY_ENC), len, k, len);
        TK_EQ_MEM(scb__keys_key(keys, SCB_KEY_MAC), len, m, len);
        TK_EQ_MEM(scb__keys_key(keys, SCB_KEY_DEK), len, d, len);
        TK_CHECK(scb__keys_key(keys, 7) == NULL);
        scb_keys_free(&keys);
        TK_CHECK(keys == NULL);
    }
    /* without DEK: no DEK KCV, no DEK key */
    TK_EQ_RC(scb_keys_new(&keys, k, m, NULL, 16, 0), SCB_OK);
    TK_CHECK(!scb_keys_has_dek(keys));
    TK_CHECK(scb__keys_key(keys, SCB_KEY_DEK) == NULL);
    uint8_t kcv[3];
    TK_EQ_RC(scb_keys_kcv(keys, SCB_KEY_DEK, kcv), SCB_E_SCP_KEY);
    TK_EQ_RC(scb_keys_kcv(keys, 0, kcv), SCB_E_INVALID_ARG);
    scb_keys_free(&keys);
    scb_keys_free(&keys); /* NULL-safe */
    scb_keys_free(NULL);
    TK_EQ_INT(scb_keys_kvn(NULL), 0);
    TK_EQ_INT(scb_keys_length(NULL), 0);
    TK_CHECK(!scb_keys_has_dek(NULL));
}

static void test_kcv(void)
{
    /* docs/scp03.md "Keys and derivation": KCV(404142..4F) = 50 4A 77 */
    uint8_t key[16], kcv[3];
    unhex_exact("404142434445464748494A4B4C4D4E4F", key, 16);
    TK_EQ_RC(scb_kcv(key, 16, kcv), SCB_OK);
    TK_EQ_HEX(kcv, 3, "504A77");
    TK_EQ_RC(scb_kcv(key, 15, kcv), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_kcv(NULL, 16, kcv), SCB_E_INVALID_ARG);
}

static void test_putkey_vectors(void)
{
    json_object *v = tk_load_vectors("putkey.json");
    json_object *list = NULL;
    TK_CHECK(json_object_object_get_ex(v, "vectors", &list));
    size_t n = json_object_array_length(list);
    TK_CHECK(n >= 3);
    for (size_t i = 0; i < n; i++) {
        json_object *x = json_object_array_get_idx(list, i);
        uint8_t dek[32], key[32], enc[32], kcv[3];
        size_t dl = tk_unhex(tk_json_str(x, "dek"), dek, sizeof(dek));
        size_t kl = tk_unhex(tk_json_str(x, "key"), key, sizeof(key));
        TK_EQ_RC(scb_dek_encrypt(dek, dl, key, kl, enc), SCB_OK);
        TK_EQ_HEX(enc, kl, tk_json_str(x, "encrypted"));
        TK_EQ_RC(scb_kcv(key, kl, kcv), SCB_OK);
        TK_EQ_HEX(kcv, 3, tk_json_str(x, "kcv"));
        /* the key set's own KCV agrees */
        scb_keys_t *ks = NULL;
        TK_EQ_RC(scb_keys_new(&ks, key, key, key, kl, 1), SCB_OK);
        for (int t = SCB_KEY_ENC; t <= SCB_KEY_DEK; t++) {
            TK_EQ_RC(scb_keys_kcv(ks, t, kcv), SCB_OK);
            TK_EQ_HEX(kcv, 3, tk_json_str(x, "kcv"));
        }
        scb_keys_free(&ks);
    }
    json_object_put(v);
}

static void test_dek_encrypt_lengths(void)
{
    /* AES-192 keys are zero-padded to two blocks; decrypting gives the key
     * followed by 8 zero bytes. AES-256: two blocks, no padding. */
    uint8_t dek[32], key[32], enc[32], back[32];
    for (int i = 0; i < 32; i++) {
        dek[i] = (uint8_t)(0xA0 + i);
        key[i] = (uint8_t)i;
    }
    static const uint8_t zero_iv[16];
    for (size_t kl = 16; kl <= 32; kl += 8) {
        memset(enc, 0xEE, sizeof(enc));
        TK_EQ_RC(scb_dek_encrypt(dek, 16, key, kl, enc), SCB_OK);
        size_t padded = kl == 16 ? 16 : 32;
        scb_aes_t *aes = NULL;
        TK_EQ_RC(scb__aes_new(&aes, dek, 16), SCB_OK);
        TK_EQ_RC(scb__aes_cbc_decrypt(aes, zero_iv, enc, padded, back), SCB_OK);
        scb__aes_free(&aes);
        TK_EQ_MEM(back, kl, key, kl);
        for (size_t i = kl; i < padded; i++)
            TK_EQ_INT(back[i], 0);
        if (padded == 16)
            TK_EQ_INT(enc[16], 0xEE); /* nothing written past the ciphertext */
    }
    TK_EQ_RC(scb_dek_encrypt(dek, 17, key, 16, enc), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_dek_encrypt(dek, 16, key, 8, enc), SCB_E_INVALID_ARG);
}

static void test_kdf3_vectors(void)
{
    json_object *v = tk_load_vectors("kdf3.json");
    json_object *list = NULL;
    TK_CHECK(json_object_object_get_ex(v, "vectors", &list));
    TK_CHECK(json_object_array_length(list) >= 1);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *x = json_object_array_get_idx(list, i);
        json_object *derived = NULL, *kcvs = NULL;
        TK_CHECK(json_object_object_get_ex(x, "derived", &derived));
        TK_CHECK(json_object_object_get_ex(x, "kcv", &kcvs));
        uint8_t master[32], kdd[10];
        size_t ml = tk_unhex(tk_json_str(x, "master"), master, sizeof(master));
        unhex_exact(tk_json_str(x, "kdd"), kdd, 10);
        scb_keys_t *m = NULL, *d = NULL;
        TK_EQ_RC(scb_keys_new(&m, master, master, master, ml, 0x30), SCB_OK);
        TK_EQ_RC(scb_keys_diversify_kdf3(m, kdd, &d), SCB_OK);
        TK_EQ_INT(scb_keys_kvn(d), 0x30);
        TK_EQ_INT(scb_keys_length(d), ml);
        static const char *const names[] = {"enc", "mac", "dek"};
        for (int t = SCB_KEY_ENC; t <= SCB_KEY_DEK; t++) {
            uint8_t kcv[3];
            TK_EQ_HEX(scb__keys_key(d, t), ml, tk_json_str(derived, names[t - 1]));
            TK_EQ_RC(scb_keys_kcv(d, t, kcv), SCB_OK);
            TK_EQ_HEX(kcv, 3, tk_json_str(kcvs, names[t - 1]));
        }
        scb_keys_free(&d);
        scb_keys_free(&m);
    }
    json_object_put(v);
    scb_keys_t *d = (scb_keys_t *)&d;
    uint8_t kdd[10] = {0};
    TK_EQ_RC(scb_keys_diversify_kdf3(NULL, kdd, &d), SCB_E_INVALID_ARG);
    TK_CHECK(d == NULL);
}

int main(void)
{
    TK_RUN(test_new_and_free);
    TK_RUN(test_kcv);
    TK_RUN(test_putkey_vectors);
    TK_RUN(test_dek_encrypt_lengths);
    TK_RUN(test_kdf3_vectors);
    return tk_done();
}
