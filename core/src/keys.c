/*
 * SCP03 static key sets: ENC, MAC, optional DEK and a key version number,
 * behind one handle whatever holds the keys (keys_backend.h): bytes in
 * memory (this file, through the crypto facade) or objects in a PKCS#11
 * token (keys_pkcs11.c). KCVs, KDF3 diversification and PUT KEY key data
 * are built here from the operations a backend offers, so both backends
 * share them. Memory key bytes are wiped on free.
 */
#include "keys_backend.h"
#include "scp03.h"

#include <stdlib.h>
#include <string.h>

struct scb_keys {
    const scb__keys_ops_t *ops;
    void *be;
    size_t len; /* 16, 24 or 32 */
    bool has_dek;
    uint8_t kvn;
};

static bool valid_aes_len(size_t len)
{
    return len == 16 || len == 24 || len == 32;
}

static bool valid_type(int type)
{
    return type == SCB_KEY_ENC || type == SCB_KEY_MAC || type == SCB_KEY_DEK;
}

/* ------------------------------------------------------------------------ */
/* The memory backend                                                        */
/* ------------------------------------------------------------------------ */
typedef struct mem_keys {
    uint8_t key[3][32]; /* ENC, MAC, DEK (index type - 1) */
    bool present[3];
    size_t len;
} mem_keys_t;

static const uint8_t *mem_key(const mem_keys_t *m, int type)
{
    return valid_type(type) && m->present[type - 1] ? m->key[type - 1] : NULL;
}

static int mem_missing(int type, char *detail, size_t detail_len)
{
    return scb__detail(detail, detail_len, SCB_E_SCP_KEY, "the key set has no %s key",
                       type == SCB_KEY_DEK ? "DEK" : type == SCB_KEY_MAC ? "MAC" : "ENC");
}

/* Each operation keys a fresh AES context and drops it: a key set holds no
 * cipher state, so one set can serve several handshakes in several threads. */
static int mem_aes(const mem_keys_t *m, int type, scb_aes_t **aes, char *detail,
                   size_t detail_len)
{
    const uint8_t *k = mem_key(m, type);
    if (k == NULL)
        return mem_missing(type, detail, detail_len);
    int rc = scb__aes_new(aes, k, m->len);
    return rc == SCB_OK ? rc : scb__detail(detail, detail_len, rc, "AES key set-up failed");
}

static int mem_cmac(void *be, int type, const uint8_t *msg, size_t len, uint8_t mac[16],
                    char *detail, size_t detail_len)
{
    scb_aes_t *aes = NULL;
    int rc = mem_aes(be, type, &aes, detail, detail_len);
    if (rc == SCB_OK && (rc = scb__cmac(aes, msg, len, mac)) != SCB_OK)
        scb__detail(detail, detail_len, rc, "AES-CMAC failed");
    scb__aes_free(&aes);
    return rc;
}

static int mem_ecb(void *be, int type, const uint8_t in[16], uint8_t out[16], char *detail,
                   size_t detail_len)
{
    scb_aes_t *aes = NULL;
    int rc = mem_aes(be, type, &aes, detail, detail_len);
    if (rc == SCB_OK && (rc = scb__aes_ecb_block(aes, in, out)) != SCB_OK)
        scb__detail(detail, detail_len, rc, "AES-ECB failed");
    scb__aes_free(&aes);
    return rc;
}

static int mem_cbc(void *be, int type, const uint8_t *in, size_t len, uint8_t *out, char *detail,
                   size_t detail_len)
{
    static const uint8_t zero_iv[16];
    scb_aes_t *aes = NULL;
    int rc = mem_aes(be, type, &aes, detail, detail_len);
    if (rc == SCB_OK && (rc = scb__aes_cbc_encrypt(aes, zero_iv, in, len, out)) != SCB_OK)
        scb__detail(detail, detail_len, rc, "AES-CBC failed");
    scb__aes_free(&aes);
    return rc;
}

/* A key as PUT KEY encrypts it: zero-padded to whole blocks. An AES-192 key
 * is not a whole number of blocks and becomes 32 bytes (GlobalPlatformPro
 * pads with random bytes; the card keeps only the first key-length bytes
 * either way, and zeros keep the output reproducible). */
static size_t pad_key(const uint8_t *key, size_t key_len, uint8_t plain[32])
{
    memset(plain, 0, 32);
    memcpy(plain, key, key_len);
    return (key_len + 15) / 16 * 16;
}

static int mem_put_key(void *be, int type, const scb_keys_t *dek, uint8_t out[32],
                       size_t *out_len, uint8_t kcv[3], char *detail, size_t detail_len)
{
    const mem_keys_t *m = be;
    const uint8_t *k = mem_key(m, type);
    if (k == NULL)
        return mem_missing(type, detail, detail_len);
    uint8_t plain[32];
    size_t padded = pad_key(k, m->len, plain);
    int rc = scb_kcv(k, m->len, kcv);
    if (rc == SCB_OK)
        rc = scb__keys_cbc(dek, SCB_KEY_DEK, plain, padded, out, detail, detail_len);
    scb__cleanse(plain, sizeof(plain));
    if (rc == SCB_OK)
        *out_len = padded;
    return rc;
}

static void mem_release(void *be)
{
    if (be != NULL) {
        scb__cleanse(be, sizeof(mem_keys_t));
        free(be);
    }
}

static const scb__keys_ops_t mem_ops = {
    .name = "memory",
    .cmac = mem_cmac,
    .ecb = mem_ecb,
    .cbc = mem_cbc,
    .put_key = mem_put_key,
    .retain = NULL, /* a memory set is copied, never shared */
    .release = mem_release,
};

/* A memory key set; any of the three keys may be NULL (ENC and MAC are
 * checked by the public constructor). */
static int mem_new(scb_keys_t **out, const uint8_t *const keys[3], size_t key_len, uint8_t kvn)
{
    mem_keys_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return SCB_E_NOMEM;
    for (int i = 0; i < 3; i++) {
        if (keys[i] != NULL) {
            memcpy(m->key[i], keys[i], key_len);
            m->present[i] = true;
        }
    }
    m->len = key_len;
    int rc = scb__keys_wrap_backend(out, &mem_ops, m, key_len, m->present[2], kvn);
    if (rc != SCB_OK)
        mem_release(m);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The handle                                                                */
/* ------------------------------------------------------------------------ */
int scb__keys_wrap_backend(scb_keys_t **out, const scb__keys_ops_t *ops, void *be,
                           size_t key_len, bool has_dek, uint8_t kvn)
{
    *out = NULL;
    scb_keys_t *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return SCB_E_NOMEM;
    k->ops = ops;
    k->be = be;
    k->len = key_len;
    k->has_dek = has_dek;
    k->kvn = kvn;
    *out = k;
    return SCB_OK;
}

const scb__keys_ops_t *scb__keys_backend(const scb_keys_t *keys, void **be)
{
    if (be != NULL)
        *be = keys != NULL ? keys->be : NULL;
    return keys != NULL ? keys->ops : NULL;
}

int scb_keys_new(scb_keys_t **out, const uint8_t *enc, const uint8_t *mac, const uint8_t *dek,
                 size_t key_len, uint8_t kvn)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (enc == NULL || mac == NULL || !valid_aes_len(key_len))
        return SCB_E_INVALID_ARG;
    const uint8_t *const keys[3] = {enc, mac, dek};
    return mem_new(out, keys, key_len, kvn);
}

void scb_keys_free(scb_keys_t **keys)
{
    if (keys == NULL || *keys == NULL)
        return;
    (*keys)->ops->release((*keys)->be);
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

int scb_keys_in_token(const scb_keys_t *keys)
{
    return keys != NULL && keys->ops != &mem_ops;
}

const uint8_t *scb__keys_key(const scb_keys_t *keys, int type)
{
    if (keys == NULL || keys->ops != &mem_ops)
        return NULL;
    return mem_key(keys->be, type);
}

int scb__keys_cmac(const scb_keys_t *keys, int type, const uint8_t *msg, size_t len,
                   uint8_t mac[16], char *detail, size_t detail_len)
{
    if (keys == NULL || !valid_type(type) || (msg == NULL && len != 0) ||
        len > SCB__KEYS_MSG_MAX || mac == NULL)
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG, "bad CMAC request");
    return keys->ops->cmac(keys->be, type, msg, len, mac, detail, detail_len);
}

int scb__keys_cbc(const scb_keys_t *keys, int type, const uint8_t *in, size_t len, uint8_t *out,
                  char *detail, size_t detail_len)
{
    if (keys == NULL || !valid_type(type) || in == NULL || out == NULL || len == 0 ||
        len % 16 != 0 || len > 32)
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG, "bad CBC request");
    return keys->ops->cbc(keys->be, type, in, len, out, detail, detail_len);
}

int scb__keys_put_key(const scb_keys_t *keys, int type, const scb_keys_t *dek, uint8_t out[32],
                      size_t *out_len, uint8_t kcv[3], char *detail, size_t detail_len)
{
    if (keys == NULL || dek == NULL || !valid_type(type) || out == NULL || out_len == NULL ||
        kcv == NULL)
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG, "bad PUT KEY request");
    if (!dek->has_dek)
        return scb__detail(detail, detail_len, SCB_E_SCP_KEY, "the current key set has no DEK");
    return keys->ops->put_key(keys->be, type, dek, out, out_len, kcv, detail, detail_len);
}

/* KCV = first 3 bytes of AES-ECB(key, 16 x 01) (Amd D 7.2.2; docs/scp03.md). */
static const uint8_t kcv_block[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

int scb__keys_kcv_detail(const scb_keys_t *keys, int type, uint8_t kcv[3], char *detail,
                         size_t detail_len)
{
    if (keys == NULL || kcv == NULL || !valid_type(type))
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG, "bad KCV request");
    if (type == SCB_KEY_DEK && !keys->has_dek)
        return scb__detail(detail, detail_len, SCB_E_SCP_KEY, "the key set has no DEK");
    uint8_t block[16];
    int rc = keys->ops->ecb(keys->be, type, kcv_block, block, detail, detail_len);
    if (rc == SCB_OK)
        memcpy(kcv, block, 3);
    scb__cleanse(block, sizeof(block));
    return rc;
}

int scb_kcv(const uint8_t *key, size_t key_len, uint8_t kcv[3])
{
    if (key == NULL || kcv == NULL || !valid_aes_len(key_len))
        return SCB_E_INVALID_ARG;
    uint8_t block[16];
    scb_aes_t *aes = NULL;
    int rc = scb__aes_new(&aes, key, key_len);
    if (rc == SCB_OK)
        rc = scb__aes_ecb_block(aes, kcv_block, block);
    if (rc == SCB_OK)
        memcpy(kcv, block, 3);
    scb__aes_free(&aes);
    scb__cleanse(block, sizeof(block));
    return rc;
}

int scb_keys_kcv(const scb_keys_t *keys, int type, uint8_t kcv[3])
{
    return scb__keys_kcv_detail(keys, type, kcv, NULL, 0);
}

int scb__keys_dek_only(const scb_keys_t *keys, scb_keys_t **out)
{
    *out = NULL;
    if (keys == NULL || !keys->has_dek)
        return SCB_OK;
    if (keys->ops == &mem_ops) {
        const uint8_t *const only[3] = {NULL, NULL, mem_key(keys->be, SCB_KEY_DEK)};
        return mem_new(out, only, keys->len, keys->kvn);
    }
    void *be = keys->ops->retain(keys->be);
    if (be == NULL)
        return SCB_E_NOMEM;
    int rc = scb__keys_wrap_backend(out, keys->ops, be, keys->len, true, keys->kvn);
    if (rc != SCB_OK)
        keys->ops->release(be);
    return rc;
}

/* KDF3 (GlobalPlatformPro, vectors kdf3.json): block i =
 * AES-CMAC(master, i || 00 00 00 || t || 00 || KDD), t = 01 ENC, 02 MAC,
 * 03 DEK; blocks 1, 2 concatenated and truncated to the master's length.
 * The CMAC runs wherever the master key is (memory or token); the
 * diversified keys are host values of one card, made and wiped per
 * handshake. */
static int kdf3_one(const scb_keys_t *master, int type, const uint8_t kdd[10], uint8_t *out,
                    char *detail, size_t detail_len)
{
    uint8_t msg[16] = {0};
    uint8_t block[16];
    msg[4] = (uint8_t)type;
    memcpy(msg + 6, kdd, 10);
    int rc = SCB_OK;
    for (size_t done = 0, i = 1; rc == SCB_OK && done < master->len; i++) {
        msg[0] = (uint8_t)i;
        rc = scb__keys_cmac(master, type, msg, sizeof(msg), block, detail, detail_len);
        if (rc == SCB_OK) {
            size_t n = master->len - done < 16 ? master->len - done : 16;
            memcpy(out + done, block, n);
            done += n;
        }
    }
    scb__cleanse(block, sizeof(block));
    return rc;
}

int scb__keys_diversify_kdf3(const scb_keys_t *master, const uint8_t kdd[10], scb_keys_t **out,
                             char *detail, size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (master == NULL || kdd == NULL)
        return SCB_E_INVALID_ARG;
    uint8_t k[3][32];
    int rc = kdf3_one(master, SCB_KEY_ENC, kdd, k[0], detail, detail_len);
    if (rc == SCB_OK)
        rc = kdf3_one(master, SCB_KEY_MAC, kdd, k[1], detail, detail_len);
    if (rc == SCB_OK && master->has_dek)
        rc = kdf3_one(master, SCB_KEY_DEK, kdd, k[2], detail, detail_len);
    if (rc == SCB_OK) {
        const uint8_t *const keys[3] = {k[0], k[1], master->has_dek ? k[2] : NULL};
        rc = mem_new(out, keys, master->len, master->kvn);
    }
    scb__cleanse(k, sizeof(k));
    return rc;
}

int scb_keys_diversify_kdf3(const scb_keys_t *master, const uint8_t kdd[10], scb_keys_t **out)
{
    return scb__keys_diversify_kdf3(master, kdd, out, NULL, 0);
}

int scb_dek_encrypt(const uint8_t *dek, size_t dek_len, const uint8_t *key, size_t key_len,
                    uint8_t *out)
{
    static const uint8_t zero_iv[16];
    if (dek == NULL || key == NULL || out == NULL || !valid_aes_len(dek_len) ||
        !valid_aes_len(key_len))
        return SCB_E_INVALID_ARG;
    uint8_t plain[32];
    size_t padded = pad_key(key, key_len, plain);
    scb_aes_t *aes = NULL;
    int rc = scb__aes_new(&aes, dek, dek_len);
    if (rc == SCB_OK)
        rc = scb__aes_cbc_encrypt(aes, zero_iv, plain, padded, out);
    scb__aes_free(&aes);
    scb__cleanse(plain, sizeof(plain));
    return rc;
}
