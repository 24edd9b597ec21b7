/* OpenSSL 3 EVP behind the small interface of sim_crypto.h. */
#include "sim_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

struct sim_crypto {
    EVP_CIPHER *ecb[3];   /* AES-128/192/256-ECB */
    EVP_CIPHER *cbc[3];
    EVP_MAC *cmac;
    EVP_CIPHER_CTX *cctx;
    EVP_MAC_CTX *mctx;
};

static int key_index(size_t key_len)
{
    switch (key_len) {
    case 16: return 0;
    case 24: return 1;
    case 32: return 2;
    default: return -1;
    }
}

int sim_crypto_new(sim_crypto_t **out)
{
    static const char *const ecb_names[3] = {"AES-128-ECB", "AES-192-ECB", "AES-256-ECB"};
    static const char *const cbc_names[3] = {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"};
    sim_crypto_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    for (int i = 0; i < 3; i++) {
        c->ecb[i] = EVP_CIPHER_fetch(NULL, ecb_names[i], NULL);
        c->cbc[i] = EVP_CIPHER_fetch(NULL, cbc_names[i], NULL);
        if (c->ecb[i] == NULL || c->cbc[i] == NULL)
            goto fail;
    }
    c->cmac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    c->cctx = EVP_CIPHER_CTX_new();
    if (c->cmac == NULL || c->cctx == NULL)
        goto fail;
    c->mctx = EVP_MAC_CTX_new(c->cmac);
    if (c->mctx == NULL)
        goto fail;
    *out = c;
    return 0;
fail:
    sim_crypto_free(&c);
    return -1;
}

void sim_crypto_free(sim_crypto_t **pc)
{
    if (pc == NULL || *pc == NULL)
        return;
    sim_crypto_t *c = *pc;
    for (int i = 0; i < 3; i++) {
        EVP_CIPHER_free(c->ecb[i]);
        EVP_CIPHER_free(c->cbc[i]);
    }
    EVP_MAC_CTX_free(c->mctx);
    EVP_MAC_free(c->cmac);
    EVP_CIPHER_CTX_free(c->cctx);
    free(c);
    *pc = NULL;
}

static int run_cipher(sim_crypto_t *c, const EVP_CIPHER *cipher, bool encrypt, const uint8_t *key,
                      const uint8_t *iv, const uint8_t *in, size_t len, uint8_t *out)
{
    int outl = 0, finl = 0;
    if (len % 16 != 0 || len > (size_t)INT32_MAX)
        return -1;
    if (EVP_CipherInit_ex2(c->cctx, cipher, key, iv, encrypt ? 1 : 0, NULL) != 1)
        return -1;
    EVP_CIPHER_CTX_set_padding(c->cctx, 0);
    int ok = EVP_CipherUpdate(c->cctx, out, &outl, in, (int)len) == 1 &&
             EVP_CipherFinal_ex(c->cctx, out + outl, &finl) == 1 &&
             (size_t)(outl + finl) == len;
    /* Drop the key schedule from the reusable context. */
    EVP_CIPHER_CTX_reset(c->cctx);
    return ok ? 0 : -1;
}

int sim_aes_ecb(sim_crypto_t *c, const uint8_t *key, size_t key_len, const uint8_t in[16],
                uint8_t out[16])
{
    int k = key_index(key_len);
    if (k < 0)
        return -1;
    return run_cipher(c, c->ecb[k], true, key, NULL, in, 16, out);
}

int sim_aes_cbc(sim_crypto_t *c, bool encrypt, const uint8_t *key, size_t key_len,
                const uint8_t iv[16], const uint8_t *in, size_t len, uint8_t *out)
{
    int k = key_index(key_len);
    if (k < 0)
        return -1;
    if (len == 0)
        return 0;
    return run_cipher(c, c->cbc[k], encrypt, key, iv, in, len, out);
}

int sim_cmac(sim_crypto_t *c, const uint8_t *key, size_t key_len, size_t n,
             const uint8_t *const parts[], const size_t lens[], uint8_t mac[16])
{
    static const char *const names[3] = {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"};
    int k = key_index(key_len);
    size_t maclen = 0;
    if (k < 0)
        return -1;
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)names[k], 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(c->mctx, key, key_len, params) != 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] != 0 && EVP_MAC_update(c->mctx, parts[i], lens[i]) != 1)
            return -1;
    }
    if (EVP_MAC_final(c->mctx, mac, &maclen, 16) != 1 || maclen != 16)
        return -1;
    return 0;
}

int sim_random(uint8_t *buf, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return -1;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

void sim_cleanse(void *p, size_t len)
{
    if (p != NULL && len != 0)
        OPENSSL_cleanse(p, len);
}

bool sim_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
