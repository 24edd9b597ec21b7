/*
 * Static key sets: construction and wiping, KCVs, KDF3 diversification,
 * DEK encryption (putkey.json, kdf3.json), and the card-side parser of
 * PUT KEY data in both the full and the short form.
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
    /* scp03.md: KCV(404142..4F) = 50 4A 77 */
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

/* PUT KEY data as the card reads it (putkey.json keys under its DEK). */
static const char *const PK_DEK = "000102030405060708090A0B0C0D0E0F";
static const char *const PK_FULL = "31"
                                   "881110D533E59B45A153ED7E5E9C5DFCFD4AAA03504A77"
                                   "8811103EF0B1A5E3059DAB21FCE23A7B61C4CA03F2A8DF"
                                   "881110ADDE68F7AD497268D31A0DDD5C74B08F03D7D0E4";

static int parse_hex(const char *hex, uint8_t *kvn, scb__put_key_entry_t e[3], size_t *count,
                     char *detail, size_t dlen)
{
    uint8_t dek[16], data[200];
    unhex_exact(PK_DEK, dek, 16);
    size_t n = tk_unhex(hex, data, sizeof(data));
    return scb__put_key_parse(data, n, dek, 16, kvn, e, count, detail, dlen);
}

static void test_put_key_parse(void)
{
    scb__put_key_entry_t e[3];
    uint8_t kvn = 0;
    size_t count = 9;
    char detail[200] = "";
    TK_EQ_RC(parse_hex(PK_FULL, &kvn, e, &count, detail, sizeof(detail)), SCB_OK);
    TK_EQ_INT(kvn, 0x31);
    TK_EQ_INT(count, 3);
    TK_EQ_HEX(e[0].key, e[0].key_len, "404142434445464748494A4B4C4D4E4F");
    TK_EQ_HEX(e[1].key, e[1].key_len, "505152535455565758595A5B5C5D5E5F");
    TK_EQ_HEX(e[2].key, e[2].key_len, "606162636465666768696A6B6C6D6E6F");
    TK_CHECK(e[0].has_kcv && e[1].has_kcv && e[2].has_kcv);

    /* short form 88 10 <16 bytes>, no KCV, as some hosts send it */
    TK_EQ_RC(parse_hex("31"
                       "8810D533E59B45A153ED7E5E9C5DFCFD4AAA"
                       "88103EF0B1A5E3059DAB21FCE23A7B61C4CA",
                       &kvn, e, &count, detail, sizeof(detail)),
             SCB_OK);
    TK_EQ_INT(count, 2);
    TK_EQ_HEX(e[1].key, e[1].key_len, "505152535455565758595A5B5C5D5E5F");
    TK_CHECK(!e[0].has_kcv && !e[1].has_kcv);
    /* short form followed by a KCV length of 00 or a KCV */
    TK_EQ_RC(parse_hex("31 8810D533E59B45A153ED7E5E9C5DFCFD4AAA 00"
                       " 8810D533E59B45A153ED7E5E9C5DFCFD4AAA 03504A77",
                       &kvn, e, &count, detail, sizeof(detail)),
             SCB_OK);
    TK_EQ_INT(count, 2);
    TK_CHECK(!e[0].has_kcv && e[1].has_kcv);

    /* wrong KCV: its own code, nothing returned */
    TK_EQ_RC(parse_hex("31 881110D533E59B45A153ED7E5E9C5DFCFD4AAA03504A78", &kvn, e, &count, detail,
                       sizeof(detail)),
             SCB_E_SCP_KCV);
    TK_EQ_INT(count, 0);
    /* malformed: each names where */
    static const char *const bad[] = {
        "",                                                  /* no KVN */
        "31 88",                                             /* truncated header */
        "31 801110D533E59B45A153ED7E5E9C5DFCFD4AAA03504A77", /* not AES */
        "31 881110D533E59B45A153ED7E5E9C5DFCFD4A",           /* component overruns */
        "31 881118D533E59B45A153ED7E5E9C5DFCFD4AAA03504A77", /* length byte 24, 16 bytes */
        "31 881110D533E59B45A153ED7E5E9C5DFCFD4AAA02504A",   /* KCV length 2 */
        "31 881110D533E59B45A153ED7E5E9C5DFCFD4AAA035041",   /* KCV cut */
        "31 8800",                                           /* empty component */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        detail[0] = 0;
        TK_EQ_RC(parse_hex(bad[i], &kvn, e, &count, detail, sizeof(detail)), SCB_E_PARSE);
        TK_CHECK(strlen(detail) > 10);
        TK_EQ_INT(count, 0);
    }
    /* more than three components */
    char four[400];
    snprintf(four, sizeof(four), "%s%s", PK_FULL, "881110D533E59B45A153ED7E5E9C5DFCFD4AAA03504A77");
    TK_EQ_RC(parse_hex(four, &kvn, e, &count, detail, sizeof(detail)), SCB_E_PARSE);
    TK_CHECK(strstr(detail, "more than 3") != NULL);
}

int main(void)
{
    TK_RUN(test_new_and_free);
    TK_RUN(test_kcv);
    TK_RUN(test_putkey_vectors);
    TK_RUN(test_dek_encrypt_lengths);
    TK_RUN(test_kdf3_vectors);
    TK_RUN(test_put_key_parse);
    return tk_done();
}
