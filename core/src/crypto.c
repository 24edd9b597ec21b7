/*
 * OpenSSL 3 EVP behind the crypto facade. Contexts are created and keyed
 * once in scb__aes_new; later calls allocate nothing.
 *
 * Speed (bench/bench_scp03: an SCP03 APDU is ~35 CMAC blocks and ~30 CBC
 * blocks, and the budget is 1.5 us per wrap + unwrap):
 *  - AES-CMAC (NIST SP 800-38B) is a CBC-MAC over a keyed EVP CBC context
 *    with the two subkeys made once; OpenSSL 3's EVP_MAC "CMAC" runs its
 *    cipher one 16-byte block per EVP call.
 *  - A CBC context is never re-initialised for a new IV (EVP_CipherInit_ex
 *    costs more than the AES work of an APDU): the context keeps its
 *    chaining value (the last ciphertext block) and the new IV is applied
 *    by xoring IV ^ chaining value into the first block (encrypt) or the
 *    first plaintext block (decrypt). After a failed update the context is
 *    re-initialised, since its chaining value is then unknown.
 * Checked against the SP 800-38A/38B examples for all three key sizes and
 * mixed operation sequences (tests/c/test_scp03_crypto.c, test_scp03_kdf.c),
 * and through every SCP03 derivation and trace against the recorded vectors.
 */
#include "crypto.h"

#include "scboot.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

/* A failed OpenSSL call leaves entries in the calling thread's error
 * queue; the caller of the library gets a code, so the queue is cleared
 * rather than handed on to code that did not cause it. */
static int crypto_failed(void)
{
    ERR_clear_error();
    return SCB_E_CRYPTO;
}

/* A keyed CBC context and the chaining value it holds. */
typedef struct cbc_chain {
    EVP_CIPHER_CTX *ctx;
    uint8_t state[16]; /* the context's chaining value: last ciphertext block */
    int enc;           /* 1 encrypt, 0 decrypt */
    bool known;        /* false: re-initialise before use */
} cbc_chain_t;

struct scb_aes {
    size_t key_len;
    EVP_CIPHER_CTX *ecb;
    cbc_chain_t cbc_enc;
    cbc_chain_t cbc_dec;
    cbc_chain_t cmac_cbc;   /* CBC-MAC chain of the CMAC in progress */
    uint8_t k1[16], k2[16]; /* CMAC subkeys */
    uint8_t part[256];      /* CMAC input not yet chained (a whole APDU fits, */
    size_t part_len;        /* so it goes through EVP in one call at end()) */
    size_t part_used;       /* high-water mark of part since begin(): wiped at end() */
    bool cmac_fresh;        /* no block chained yet since begin() */
    bool cmac_ok;           /* false after a failed update: end() fails */
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

/* SP 800-38B 6.1: doubling in GF(2^128), R = 0x87. */
void scb__cmac_double(const uint8_t in[16], uint8_t out[16])
{
    uint8_t carry = (uint8_t)(in[0] >> 7);
    for (int i = 0; i < 15; i++)
        out[i] = (uint8_t)(in[i] << 1 | in[i + 1] >> 7);
    out[15] = (uint8_t)(in[15] << 1);
    out[15] ^= (uint8_t)(0x87 & (0 - carry)); /* no branch on key-dependent data */
}

static bool chain_init(cbc_chain_t *c, const EVP_CIPHER *cipher, const uint8_t *key)
{
    static const uint8_t zero_iv[16];
    memset(c->state, 0, sizeof(c->state));
    c->known = EVP_CipherInit_ex(c->ctx, cipher, NULL, key, zero_iv, c->enc) == 1 &&
               EVP_CIPHER_CTX_set_padding(c->ctx, 0) == 1;
    return c->known;
}

/* CBC over whole blocks with the given IV, in and out the same or disjoint.
 * Encrypt: C1 = E(P1 ^ IV) = E((P1 ^ IV ^ S) ^ S), S the held chaining value.
 * Decrypt: the context yields D(C1) ^ S; xor S ^ IV to get D(C1) ^ IV. */
static bool chain_run(cbc_chain_t *c, const uint8_t iv[16], const uint8_t *in, size_t len,
                      uint8_t *out)
{
    if (!c->known && !chain_init(c, NULL, NULL))
        return false;
    if (len == 0)
        return true;
    uint8_t fix[16], next[16] = {0};
    for (int i = 0; i < 16; i++)
        fix[i] = (uint8_t)(iv[i] ^ c->state[i]);
    if (out != in)
        memmove(out, in, len);
    if (c->enc) {
        for (int i = 0; i < 16; i++)
            out[i] ^= fix[i];
    } else {
        memcpy(next, out + len - 16, 16); /* the last ciphertext block */
    }
    int n = 0;
    if (EVP_CipherUpdate(c->ctx, out, &n, out, (int)len) != 1 || (size_t)n != len) {
        c->known = false;
        return false;
    }
    if (c->enc) {
        memcpy(c->state, out + len - 16, 16);
    } else {
        for (int i = 0; i < 16; i++)
            out[i] ^= fix[i];
        memcpy(c->state, next, 16);
    }
    return true;
}

void scb__aes_free(scb_aes_t **aes)
{
    if (aes == NULL || *aes == NULL)
        return;
    /* EVP_*_free cleanse the key schedules they own. */
    EVP_CIPHER_CTX_free((*aes)->ecb);
    EVP_CIPHER_CTX_free((*aes)->cbc_enc.ctx);
    EVP_CIPHER_CTX_free((*aes)->cbc_dec.ctx);
    EVP_CIPHER_CTX_free((*aes)->cmac_cbc.ctx);
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
    a->cbc_enc.ctx = EVP_CIPHER_CTX_new();
    a->cbc_dec.ctx = EVP_CIPHER_CTX_new();
    a->cmac_cbc.ctx = EVP_CIPHER_CTX_new();
    if (a->ecb == NULL || a->cbc_enc.ctx == NULL || a->cbc_dec.ctx == NULL ||
        a->cmac_cbc.ctx == NULL) {
        /* EVP_CIPHER_CTX_new fails only for want of memory */
        scb__aes_free(&a);
        return SCB_E_NOMEM;
    }
    a->cbc_enc.enc = a->cmac_cbc.enc = 1;
    static const uint8_t zero_iv[16];
    if (EVP_EncryptInit_ex(a->ecb, cipher_ecb(key_len), NULL, key, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(a->ecb, 0) != 1 ||
        !chain_init(&a->cbc_enc, cipher_cbc(key_len), key) ||
        !chain_init(&a->cbc_dec, cipher_cbc(key_len), key) ||
        !chain_init(&a->cmac_cbc, cipher_cbc(key_len), key))
        goto fail;
    /* Subkeys: L = AES(K, 0^128), K1 = dbl(L), K2 = dbl(K1). */
    uint8_t l[16];
    if (scb__aes_ecb_block(a, zero_iv, l) != SCB_OK)
        goto fail;
    scb__cmac_double(l, a->k1);
    scb__cmac_double(a->k1, a->k2);
    OPENSSL_cleanse(l, sizeof(l));
    *out = a;
    return SCB_OK;
fail:
    scb__aes_free(&a);
    return crypto_failed();
}

size_t scb__aes_key_len(const scb_aes_t *aes)
{
    return aes != NULL ? aes->key_len : 0;
}

int scb__aes_ecb_block(scb_aes_t *aes, const uint8_t in[16], uint8_t out[16])
{
    int n = 0;
    if (EVP_EncryptUpdate(aes->ecb, out, &n, in, 16) != 1 || n != 16)
        return crypto_failed();
    return SCB_OK;
}

int scb__aes_cbc_encrypt(scb_aes_t *aes, const uint8_t iv[16], const uint8_t *in, size_t len,
                         uint8_t *out)
{
    if (len % 16 != 0 || len > (size_t)INT32_MAX)
        return SCB_E_INVALID_ARG;
    return chain_run(&aes->cbc_enc, iv, in, len, out) ? SCB_OK : crypto_failed();
}

int scb__aes_cbc_decrypt(scb_aes_t *aes, const uint8_t iv[16], const uint8_t *in, size_t len,
                         uint8_t *out)
{
    if (len % 16 != 0 || len > (size_t)INT32_MAX)
        return SCB_E_INVALID_ARG;
    return chain_run(&aes->cbc_dec, iv, in, len, out) ? SCB_OK : crypto_failed();
}

int scb__cmac_begin(scb_aes_t *aes)
{
    aes->part_len = 0;
    aes->cmac_fresh = true;
    aes->cmac_ok = true;
    return SCB_OK;
}

/* Chain n whole blocks of CMAC input (encrypted in place in buf): the first
 * block since begin() starts from a zero chaining value. */
static bool cmac_chain(scb_aes_t *aes, uint8_t *buf, size_t n)
{
    static const uint8_t zero[16];
    uint8_t iv[16];
    memcpy(iv, aes->cmac_fresh ? zero : aes->cmac_cbc.state, 16);
    aes->cmac_fresh = false;
    return chain_run(&aes->cmac_cbc, iv, buf, n, buf);
}

int scb__cmac_update(scb_aes_t *aes, const uint8_t *data, size_t len)
{
    if (!aes->cmac_ok)
        return SCB_E_CRYPTO;
    /* Input is held in part; a full part is chained only once more input
     * follows, because the last block needs the subkey. */
    while (len > 0) {
        if (aes->part_len == sizeof(aes->part)) {
            aes->part_used = sizeof(aes->part);
            bool ok = cmac_chain(aes, aes->part, sizeof(aes->part));
            aes->part_len = 0;
            if (!ok) {
                aes->cmac_ok = false;
                return crypto_failed();
            }
        }
        size_t room = sizeof(aes->part) - aes->part_len;
        size_t n = len < room ? len : room;
        memcpy(aes->part + aes->part_len, data, n);
        aes->part_len += n;
        data += n;
        len -= n;
    }
    return SCB_OK;
}

int scb__cmac_end(scb_aes_t *aes, uint8_t mac[16])
{
    /* Last block (1..16 held bytes, or none for an empty message):
     * complete -> XOR K1; partial -> pad 80 00.. and XOR K2. Chained
     * together with the held blocks before it in one call. */
    size_t n = aes->part_len;
    size_t head = n == 0 ? 0 : (n - 1) / 16 * 16;
    size_t tail = n - head;
    uint8_t *last = aes->part + head;
    const uint8_t *k = tail == 16 ? aes->k1 : aes->k2;
    if (tail < 16) {
        last[tail] = 0x80;
        memset(last + tail + 1, 0, 16 - tail - 1);
    }
    for (int i = 0; i < 16; i++)
        last[i] ^= k[i];
    bool ok = aes->cmac_ok && cmac_chain(aes, aes->part, head + 16);
    if (ok)
        memcpy(mac, last, 16);
    OPENSSL_cleanse(aes->part, head + 16 > aes->part_used ? head + 16 : aes->part_used);
    aes->part_len = aes->part_used = 0;
    aes->cmac_ok = false; /* begin() again before the next MAC */
    return ok ? SCB_OK : crypto_failed();
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
        return crypto_failed();
    return SCB_OK;
}

int scb__rand_bytes(uint8_t *buf, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return SCB_E_INVALID_ARG;
    return RAND_bytes(buf, (int)len) == 1 ? SCB_OK : crypto_failed();
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
