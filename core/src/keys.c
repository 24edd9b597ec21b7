/*
 * SCP03 static key sets: ENC, MAC, optional DEK and a key version number;
 * KCVs, KDF3 diversification and key encryption under a DEK.
 * Key bytes live only here and in the secure-channel session; they are
 * wiped on free.
 */
#include "scp03.h"

#include <stdlib.h>
#include <string.h>

struct scb_keys {
    uint8_t enc[32];
    uint8_t mac[32];
    uint8_t dek[32];
    size_t len; /* 16, 24 or 32 */
    bool has_dek;
    uint8_t kvn;
};

static bool valid_aes_len(size_t len)
{
    return len == 16 || len == 24 || len == 32;
}

int scb_keys_new(scb_keys_t **out, const uint8_t *enc, const uint8_t *mac, const uint8_t *dek,
                 size_t key_len, uint8_t kvn)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (enc == NULL || mac == NULL || !valid_aes_len(key_len))
        return SCB_E_INVALID_ARG;
    scb_keys_t *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return SCB_E_NOMEM;
    memcpy(k->enc, enc, key_len);
    memcpy(k->mac, mac, key_len);
    if (dek != NULL) {
        memcpy(k->dek, dek, key_len);
        k->has_dek = true;
    }
    k->len = key_len;
    k->kvn = kvn;
    *out = k;
    return SCB_OK;
}

void scb_keys_free(scb_keys_t **keys)
{
    if (keys == NULL || *keys == NULL)
        return;
    scb__cleanse(*keys, sizeof(**keys));
    free(*keys);
    *keys = NULL;
}

uint8_t scb_keys_kvn(const scb_keys_t *keys)
{
    return keys != NULL ? keys->kvn : 0;
}

size_t scb_keys_length(const scb_keys_t *keys)
{
    return keys != NULL ? keys->len : 0;
}

int scb_keys_has_dek(const scb_keys_t *keys)
{
    return keys != NULL && keys->has_dek;
}

const uint8_t *scb__keys_key(const scb_keys_t *keys, int type)
{
    if (keys == NULL)
        return NULL;
    switch (type) {
    case SCB_KEY_ENC: return keys->enc;
    case SCB_KEY_MAC: return keys->mac;
    case SCB_KEY_DEK: return keys->has_dek ? keys->dek : NULL;
    default: return NULL;
    }
}

/* KCV = first 3 bytes of AES-ECB(key, 16 x 01) (Amd D 7.2.2; scp03.md). */
int scb_kcv(const uint8_t *key, size_t key_len, uint8_t kcv[3])
{
    if (key == NULL || kcv == NULL || !valid_aes_len(key_len))
        return SCB_E_INVALID_ARG;
    static const uint8_t ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    uint8_t block[16];
    scb_aes_t *aes = NULL;
    int rc = scb__aes_new(&aes, key, key_len);
    if (rc == SCB_OK)
        rc = scb__aes_ecb_block(aes, ones, block);
    if (rc == SCB_OK)
        memcpy(kcv, block, 3);
    scb__aes_free(&aes);
    scb__cleanse(block, sizeof(block));
    return rc;
}

int scb_keys_kcv(const scb_keys_t *keys, int type, uint8_t kcv[3])
{
    if (keys == NULL || kcv == NULL ||
        (type != SCB_KEY_ENC && type != SCB_KEY_MAC && type != SCB_KEY_DEK))
        return SCB_E_INVALID_ARG;
    const uint8_t *key = scb__keys_key(keys, type);
    if (key == NULL)
        return SCB_E_SCP_KEY; /* no DEK in this set */
    return scb_kcv(key, keys->len, kcv);
}

/* KDF3 (GlobalPlatformPro, vectors kdf3.json): block i =
 * AES-CMAC(master, i || 00 00 00 || t || 00 || KDD), t = 01 ENC, 02 MAC,
 * 03 DEK; blocks 1, 2 concatenated and truncated to the master's length. */
static int kdf3_one(const uint8_t *master, size_t len, uint8_t type, const uint8_t kdd[10],
                    uint8_t *out)
{
    uint8_t msg[16] = {0};
    uint8_t block[16];
    scb_aes_t *aes = NULL;
    int rc = scb__aes_new(&aes, master, len);
    msg[4] = type;
    memcpy(msg + 6, kdd, 10);
    for (size_t done = 0, i = 1; rc == SCB_OK && done < len; i++) {
        msg[0] = (uint8_t)i;
        rc = scb__cmac(aes, msg, sizeof(msg), block);
        if (rc == SCB_OK) {
            size_t n = len - done < 16 ? len - done : 16;
            memcpy(out + done, block, n);
            done += n;
        }
    }
    scb__aes_free(&aes);
    scb__cleanse(block, sizeof(block));
    return rc;
}

int scb_keys_diversify_kdf3(const scb_keys_t *master, const uint8_t kdd[10], scb_keys_t **out)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (master == NULL || kdd == NULL)
        return SCB_E_INVALID_ARG;
    scb_keys_t *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return SCB_E_NOMEM;
    k->len = master->len;
    k->kvn = master->kvn;
    k->has_dek = master->has_dek;
    int rc = kdf3_one(master->enc, master->len, SCB_KEY_ENC, kdd, k->enc);
    if (rc == SCB_OK)
        rc = kdf3_one(master->mac, master->len, SCB_KEY_MAC, kdd, k->mac);
    if (rc == SCB_OK && master->has_dek)
        rc = kdf3_one(master->dek, master->len, SCB_KEY_DEK, kdd, k->dek);
    if (rc != SCB_OK) {
        scb_keys_free(&k);
        return rc;
    }
    *out = k;
    return SCB_OK;
}

/* AES-CBC with a zero IV under the DEK (Amd D 7.2.1; putkey.json). An
 * AES-192 key is not a whole number of blocks: it is padded with zeros to
 * 32 bytes (GlobalPlatformPro pads with random bytes; the card keeps only
 * the first key-length bytes either way, and zeros keep the output
 * reproducible). */
int scb__dek_encrypt_key(scb_aes_t *dek, const uint8_t *key, size_t key_len, uint8_t *out,
                         size_t *out_len)
{
    if (dek == NULL || key == NULL || out == NULL || !valid_aes_len(key_len))
        return SCB_E_INVALID_ARG;
    static const uint8_t zero_iv[16];
    uint8_t plain[32] = {0};
    size_t padded = (key_len + 15) / 16 * 16;
    memcpy(plain, key, key_len);
    int rc = scb__aes_cbc_encrypt(dek, zero_iv, plain, padded, out);
    scb__cleanse(plain, sizeof(plain));
    if (rc == SCB_OK && out_len != NULL)
        *out_len = padded;
    return rc;
}

int scb_dek_encrypt(const uint8_t *dek, size_t dek_len, const uint8_t *key, size_t key_len,
                    uint8_t *out)
{
    if (dek == NULL || key == NULL || out == NULL || !valid_aes_len(dek_len) ||
        !valid_aes_len(key_len))
        return SCB_E_INVALID_ARG;
    scb_aes_t *aes = NULL;
    int rc = scb__aes_new(&aes, dek, dek_len);
    if (rc == SCB_OK)
        rc = scb__dek_encrypt_key(aes, key, key_len, out, NULL);
    scb__aes_free(&aes);
    return rc;
}
