/*
 * The crypto facade as SCP03 drives it (crypto.c keeps its CBC contexts
 * keyed and applies each new IV through the held chaining value instead of
 * re-initialising): NIST SP 800-38A CBC examples for the three key sizes,
 * in place and out of place, and long mixed sequences of ECB / CBC
 * encrypt / CBC decrypt / CMAC on one key object against a fresh object
 * per operation.
 */
#include "crypto.h"
#include "testkit.h"

static const char *const PLAIN = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
                                 "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

static const struct {
    const char *key, *cipher;
} CBC[] = {
    {"2b7e151628aed2a6abf7158809cf4f3c",
     "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
     "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"},
    {"8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
     "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a"
     "571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd"},
    {"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
     "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
     "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"},
};

static void test_sp800_38a_cbc(void)
{
    uint8_t key[32], p[64], c[64], iv[16], buf[64];
    tk_unhex(PLAIN, p, sizeof(p));
    for (int i = 0; i < 16; i++)
        iv[i] = (uint8_t)i;
    for (size_t k = 0; k < 3; k++) {
        size_t kl = tk_unhex(CBC[k].key, key, sizeof(key));
        tk_unhex(CBC[k].cipher, c, sizeof(c));
        scb_aes_t *aes = NULL;
        TK_EQ_RC(scb__aes_new(&aes, key, kl), SCB_OK);
        TK_EQ_INT(scb__aes_key_len(aes), kl);
        for (int round = 0; round < 3; round++) { /* repeated: the chain state moves on */
            TK_EQ_RC(scb__aes_cbc_encrypt(aes, iv, p, 64, buf), SCB_OK);
            TK_EQ_MEM(buf, 64, c, 64);
            TK_EQ_RC(scb__aes_cbc_decrypt(aes, iv, c, 64, buf), SCB_OK);
            TK_EQ_MEM(buf, 64, p, 64);
            memcpy(buf, p, 64); /* in place */
            TK_EQ_RC(scb__aes_cbc_encrypt(aes, iv, buf, 64, buf), SCB_OK);
            TK_EQ_MEM(buf, 64, c, 64);
            TK_EQ_RC(scb__aes_cbc_decrypt(aes, iv, buf, 64, buf), SCB_OK);
            TK_EQ_MEM(buf, 64, p, 64);
            /* a suffix with the previous ciphertext block as IV */
            TK_EQ_RC(scb__aes_cbc_encrypt(aes, c + 16, p + 32, 32, buf), SCB_OK);
            TK_EQ_MEM(buf, 32, c + 32, 32);
            TK_EQ_RC(scb__aes_cbc_decrypt(aes, c + 16, c + 32, 32, buf), SCB_OK);
            TK_EQ_MEM(buf, 32, p + 32, 32);
        }
        TK_EQ_RC(scb__aes_cbc_encrypt(aes, iv, p, 0, buf), SCB_OK);
        TK_EQ_RC(scb__aes_cbc_encrypt(aes, iv, p, 15, buf), SCB_E_INVALID_ARG);
        TK_EQ_RC(scb__aes_cbc_decrypt(aes, iv, p, 17, buf), SCB_E_INVALID_ARG);
        scb__aes_free(&aes);
        TK_CHECK(aes == NULL);
    }
    scb__aes_free(NULL);
    TK_EQ_INT(scb__aes_key_len(NULL), 0);
    scb_aes_t *aes = NULL;
    TK_EQ_RC(scb__aes_new(&aes, iv, 20), SCB_E_INVALID_ARG);
}

/* A small deterministic generator for the mixed sequences. */
static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void test_mixed_sequences(void)
{
    uint32_t seed = 12345;
    for (size_t k = 0; k < 3; k++) {
        uint8_t key[32];
        size_t kl = tk_unhex(CBC[k].key, key, sizeof(key));
        scb_aes_t *one = NULL;
        TK_EQ_RC(scb__aes_new(&one, key, kl), SCB_OK);
        for (int op = 0; op < 400; op++) {
            uint8_t iv[16], in[320], a[320], b[320];
            for (int i = 0; i < 16; i++)
                iv[i] = (uint8_t)next_rand(&seed);
            size_t len = (next_rand(&seed) % 20) * 16;
            for (size_t i = 0; i < len; i++)
                in[i] = (uint8_t)next_rand(&seed);
            scb_aes_t *fresh = NULL;
            TK_EQ_RC(scb__aes_new(&fresh, key, kl), SCB_OK);
            switch (next_rand(&seed) % 4) {
            case 0:
                TK_EQ_RC(scb__aes_cbc_encrypt(one, iv, in, len, a), SCB_OK);
                TK_EQ_RC(scb__aes_cbc_encrypt(fresh, iv, in, len, b), SCB_OK);
                break;
            case 1:
                TK_EQ_RC(scb__aes_cbc_decrypt(one, iv, in, len, a), SCB_OK);
                TK_EQ_RC(scb__aes_cbc_decrypt(fresh, iv, in, len, b), SCB_OK);
                break;
            case 2:
                TK_EQ_RC(scb__aes_ecb_block(one, iv, a), SCB_OK);
                TK_EQ_RC(scb__aes_ecb_block(fresh, iv, b), SCB_OK);
                len = 16;
                break;
            default: {
                /* CMAC of len + (0..15) bytes, fed in two uneven parts */
                size_t n = len + next_rand(&seed) % 16, cut = n ? next_rand(&seed) % n : 0;
                TK_EQ_RC(scb__cmac_begin(one), SCB_OK);
                TK_EQ_RC(scb__cmac_update(one, in, cut), SCB_OK);
                TK_EQ_RC(scb__cmac_update(one, in + cut, n - cut), SCB_OK);
                TK_EQ_RC(scb__cmac_end(one, a), SCB_OK);
                TK_EQ_RC(scb__cmac(fresh, in, n, b), SCB_OK);
                len = 16;
                break;
            }
            }
            TK_EQ_MEM(a, len, b, len);
            scb__aes_free(&fresh);
        }
        scb__aes_free(&one);
    }
}

static void test_cmac_end_needs_begin(void)
{
    uint8_t key[16] = {0}, mac[16];
    scb_aes_t *aes = NULL;
    TK_EQ_RC(scb__aes_new(&aes, key, 16), SCB_OK);
    TK_EQ_RC(scb__cmac(aes, key, 16, mac), SCB_OK);
    TK_EQ_RC(scb__cmac_end(aes, mac), SCB_E_CRYPTO); /* no begin(): refused */
    TK_EQ_RC(scb__cmac_update(aes, key, 3), SCB_E_CRYPTO);
    scb__aes_free(&aes);
}

int main(void)
{
    TK_RUN(test_sp800_38a_cbc);
    TK_RUN(test_mixed_sequences);
    TK_RUN(test_cmac_end_needs_begin);
    return tk_done();
}
