/*
 * OpenSSL 3 EVP behind the crypto facade. Contexts are created and keyed
 * once in scb__aes_new; later calls only re-initialise IVs / MAC state.
 */
#include "crypto.h"

#include "scboot.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

struct scb_aes {
    size_t key_len;
    EVP_CIPHER_CTX *ecb;
    EVP_CIPHER_CTX *cbc_enc;
    EVP_CIPHER_CTX *cbc_dec;
    EVP_MAC_CTX *cmac;
};

static const EVP_CIPHER *cipher_ecb(size_t key_len)
{
    switch (key_len) {
    case 16: return EVP_aes_128_ecb();
    case 24: return EVP_aes_192_ecb();
    case 32: return EVP_aes_256_ecb();
    default: return NULL;
    }
}

static const EVP_CIPHER *cipher_cbc(size_t key_len)
{
    switch (key_len) {
    case 16: return EVP_aes_128_cbc();
    case 24: return EVP_aes_192_cbc();
    case 32: return EVP_aes_256_cbc();
    default: return NULL;
    }
}

static const char *cmac_cipher_name(size_t key_len)
{
    switch (key_len) {
    case 16: return "AES-128-CBC";
    case 24: return "AES-192-CBC";
    default: return "AES-256-CBC";
    }
}

void scb__aes_free(scb_aes_t **aes)
{
    if (aes == NULL || *aes == NULL)
        return;
    /* EVP_*_free cleanse the key schedules they own. */
    EVP_CIPHER_CTX_free((*aes)->ecb);
    EVP_CIPHER_CTX_free((*aes)->cbc_enc);
    EVP_CIPHER_CTX_free((*aes)->cbc_dec);
    EVP_MAC_CTX_free((*aes)->cmac);
    OPENSSL_cleanse(*aes, sizeof(**aes));
    free(*aes);
    *aes = NULL;
}

int scb__aes_new(scb_aes_t **out, const uint8_t *key, size_t key_len)
{
    if (out == NULL || key == NULL || cipher_ecb(key_len) == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    scb_aes_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return SCB_E_NOMEM;
    a->key_len = key_len;
    a->ecb = EVP_CIPHER_CTX_new();
    a->cbc_enc = EVP_CIPHER_CTX_new();
    a->cbc_dec = EVP_CIPHER_CTX_new();
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    if (mac != NULL) {
        a->cmac = EVP_MAC_CTX_new(mac);
        EVP_MAC_free(mac);
    }
    if (a->ecb == NULL || a->cbc_enc == NULL || a->cbc_dec == NULL || a->cmac == NULL)
        goto fail;
    static const uint8_t zero_iv[16];
    if (EVP_EncryptInit_ex(a->ecb, cipher_ecb(key_len), NULL, key, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(a->ecb, 0) != 1 ||
        EVP_EncryptInit_ex(a->cbc_enc, cipher_cbc(key_len), NULL, key, zero_iv) != 1 ||
        EVP_CIPHER_CTX_set_padding(a->cbc_enc, 0) != 1 ||
        EVP_DecryptInit_ex(a->cbc_dec, cipher_cbc(key_len), NULL, key, zero_iv) != 1 ||
        EVP_CIPHER_CTX_set_padding(a->cbc_dec, 0) != 1)
        goto fail;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
                                                 (char *)cmac_cipher_name(key_len), 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(a->cmac, key, key_len, params) != 1)
        goto fail;
    *out = a;
    return SCB_OK;
fail:
    scb__aes_free(&a);
    return SCB_E_CRYPTO;
}

size_t scb__aes_key_len(const scb_aes_t *aes)
{
    return aes != NULL ? aes->key_len : 0;
}

int scb__aes_ecb_block(scb_aes_t *aes, const uint8_t in[16], uint8_t out[16])
{
    int n = 0;
    if (EVP_EncryptUpdate(aes->ecb, out, &n, in, 16) != 1 || n != 16)
        return SCB_E_CRYPTO;
    return SCB_OK;
}

static int cbc(EVP_CIPHER_CTX *ctx, int enc, const uint8_t iv[16], const uint8_t *in,
               size_t len, uint8_t *out)
{
    if (len % 16 != 0 || len > (size_t)INT32_MAX)
        return SCB_E_INVALID_ARG;
    int n = 0;
    /* NULL cipher and key: keep the schedule, only reset the IV. */
    if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc) != 1)
        return SCB_E_CRYPTO;
    if (len == 0)
        return SCB_OK;
    if (EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1 || (size_t)n != len)
        return SCB_E_CRYPTO;
    return SCB_OK;
}

int scb__aes_cbc_encrypt(scb_aes_t *aes, const uint8_t iv[16], const uint8_t *in, size_t len,
                         uint8_t *out)
{
    return cbc(aes->cbc_enc, 1, iv, in, len, out);
}

int scb__aes_cbc_decrypt(scb_aes_t *aes, const uint8_t iv[16], const uint8_t *in, size_t len,
                         uint8_t *out)
{
    return cbc(aes->cbc_dec, 0, iv, in, len, out);
}

int scb__cmac_begin(scb_aes_t *aes)
{
    /* NULL key: restart with the key set in scb__aes_new. */
    return EVP_MAC_init(aes->cmac, NULL, 0, NULL) == 1 ? SCB_OK : SCB_E_CRYPTO;
}

int scb__cmac_update(scb_aes_t *aes, const uint8_t *data, size_t len)
{
    if (len == 0)
        return SCB_OK;
    return EVP_MAC_update(aes->cmac, data, len) == 1 ? SCB_OK : SCB_E_CRYPTO;
}

int scb__cmac_end(scb_aes_t *aes, uint8_t mac[16])
{
    size_t n = 0;
    if (EVP_MAC_final(aes->cmac, mac, &n, 16) != 1 || n != 16)
        return SCB_E_CRYPTO;
    return SCB_OK;
}

int scb__cmac(scb_aes_t *aes, const uint8_t *data, size_t len, uint8_t mac[16])
{
    int rc = scb__cmac_begin(aes);
    if (rc == SCB_OK)
        rc = scb__cmac_update(aes, data, len);
    if (rc == SCB_OK)
        rc = scb__cmac_end(aes, mac);
    return rc;
}

int scb__sha256(const uint8_t *data, size_t len, uint8_t digest[32])
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return SCB_E_CRYPTO;
    return SCB_OK;
}

int scb__rand_bytes(uint8_t *buf, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return SCB_E_INVALID_ARG;
    return RAND_bytes(buf, (int)len) == 1 ? SCB_OK : SCB_E_CRYPTO;
}

void scb__cleanse(void *p, size_t len)
{
    if (p != NULL && len > 0)
        OPENSSL_cleanse(p, len);
}

bool scb__ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
