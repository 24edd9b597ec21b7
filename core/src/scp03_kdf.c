/*
 * SCP03 key derivation (Amd D 4.1.5, NIST SP 800-108 counter mode with
 * PRF = AES-CMAC): session keys, card and host cryptograms, and the
 * pseudo-random card challenge (docs/scp03.md "Keys and derivation").
 *
 * The PRF runs where the key is: a session key is a host AES context, a
 * static key is an operation of its key set (memory or token).
 */
#include "scp03.h"

#include <string.h>

typedef int (*prf_fn)(const void *ctx, int type, const uint8_t *msg, size_t len, uint8_t mac[16],
                      char *detail, size_t detail_len);

/* Derivation data = label (11 x 00) || constant || 00 (separator) ||
 * L (2 bytes, bits, big-endian) || i (1 byte, from 01) || context. */
static int kdf(prf_fn prf, const void *ctx, int type, uint8_t constant, const uint8_t *context,
               size_t context_len, size_t out_len, uint8_t *out, char *detail, size_t detail_len)
{
    if (out == NULL || out_len == 0 || out_len > 32 || context_len > SCB__KEYS_MSG_MAX - 16 ||
        (context == NULL && context_len != 0))
        return SCB_E_INVALID_ARG;
    uint8_t msg[SCB__KEYS_MSG_MAX] = {0};
    uint8_t block[16];
    size_t bits = out_len * 8;
    msg[11] = constant;
    msg[13] = (uint8_t)(bits >> 8);
    msg[14] = (uint8_t)bits;
    if (context_len > 0)
        memcpy(msg + 16, context, context_len);
    int rc = SCB_OK;
    for (size_t done = 0, i = 1; rc == SCB_OK && done < out_len; i++) {
        msg[15] = (uint8_t)i;
        rc = prf(ctx, type, msg, 16 + context_len, block, detail, detail_len);
        if (rc == SCB_OK) {
            size_t n = out_len - done < 16 ? out_len - done : 16;
            memcpy(out + done, block, n);
            done += n;
        }
    }
    scb__cleanse(block, sizeof(block));
    return rc;
}

static int prf_aes(const void *ctx, int type, const uint8_t *msg, size_t len, uint8_t mac[16],
                   char *detail, size_t detail_len)
{
    (void)type, (void)detail, (void)detail_len;
    return scb__cmac((scb_aes_t *)ctx, msg, len, mac);
}

static int prf_keys(const void *ctx, int type, const uint8_t *msg, size_t len, uint8_t mac[16],
                    char *detail, size_t detail_len)
{
    return scb__keys_cmac(ctx, type, msg, len, mac, detail, detail_len);
}

int scb__scp03_kdf(scb_aes_t *key, uint8_t constant, const uint8_t *context, size_t context_len,
                   size_t out_len, uint8_t *out)
{
    if (key == NULL)
        return SCB_E_INVALID_ARG;
    return kdf(prf_aes, key, 0, constant, context, context_len, out_len, out, NULL, 0);
}

int scb__scp03_kdf_keys(const scb_keys_t *keys, int type, uint8_t constant,
                        const uint8_t *context, size_t context_len, size_t out_len, uint8_t *out,
                        char *detail, size_t detail_len)
{
    if (keys == NULL)
        return SCB_E_INVALID_ARG;
    return kdf(prf_keys, keys, type, constant, context, context_len, out_len, out, detail,
               detail_len);
}

int scb__scp03_derive_keys(const scb_keys_t *keys, const uint8_t *host_challenge,
                           const uint8_t *card_challenge, size_t chal_len,
                           scb__scp03_derived_t *out, char *detail, size_t detail_len)
{
    if (keys == NULL || host_challenge == NULL || card_challenge == NULL || out == NULL ||
        (chal_len != 8 && chal_len != 16))
        return SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    size_t key_len = scb_keys_length(keys);
    out->key_len = key_len;
    out->cryptogram_len = chal_len;
    /* Context = host challenge || card challenge. */
    uint8_t context[32];
    memcpy(context, host_challenge, chal_len);
    memcpy(context + chal_len, card_challenge, chal_len);
    size_t ctx_len = 2 * chal_len;

    scb_aes_t *s_mac = NULL;
    int rc = scb__scp03_kdf_keys(keys, SCB_KEY_ENC, SCB__DC_S_ENC, context, ctx_len, key_len,
                                 out->s_enc, detail, detail_len);
    if (rc == SCB_OK)
        rc = scb__scp03_kdf_keys(keys, SCB_KEY_MAC, SCB__DC_S_MAC, context, ctx_len, key_len,
                                 out->s_mac, detail, detail_len);
    if (rc == SCB_OK)
        rc = scb__scp03_kdf_keys(keys, SCB_KEY_MAC, SCB__DC_S_RMAC, context, ctx_len, key_len,
                                 out->s_rmac, detail, detail_len);
    /* Cryptograms come from S-MAC, L = 64 (S8) or 128 (S16). */
    if (rc == SCB_OK)
        rc = scb__aes_new(&s_mac, out->s_mac, key_len);
    if (rc == SCB_OK)
        rc = scb__scp03_kdf(s_mac, SCB__DC_CARD_CRYPTOGRAM, context, ctx_len, chal_len,
                            out->card_cryptogram);
    if (rc == SCB_OK)
        rc = scb__scp03_kdf(s_mac, SCB__DC_HOST_CRYPTOGRAM, context, ctx_len, chal_len,
                            out->host_cryptogram);
    scb__aes_free(&s_mac);
    if (rc != SCB_OK)
        scb__cleanse(out, sizeof(*out));
    return rc;
}

int scb__scp03_derive(const uint8_t *enc, const uint8_t *mac, size_t key_len,
                      const uint8_t *host_challenge, const uint8_t *card_challenge, size_t chal_len,
                      scb__scp03_derived_t *out)
{
    if (enc == NULL || mac == NULL || host_challenge == NULL || card_challenge == NULL ||
        out == NULL || (chal_len != 8 && chal_len != 16))
        return SCB_E_INVALID_ARG;
    scb_keys_t *keys = NULL;
    int rc = scb_keys_new(&keys, enc, mac, NULL, key_len, 0);
    if (rc == SCB_OK)
        rc = scb__scp03_derive_keys(keys, host_challenge, card_challenge, chal_len, out, NULL, 0);
    scb_keys_free(&keys);
    return rc;
}

int scb__scp03_card_challenge_keys(const scb_keys_t *keys, const uint8_t seq[3],
                                   const uint8_t *aid, size_t aid_len, size_t chal_len,
                                   uint8_t *out, char *detail, size_t detail_len)
{
    if (keys == NULL || seq == NULL || aid == NULL || out == NULL || aid_len > 16 ||
        (chal_len != 8 && chal_len != 16))
        return SCB_E_INVALID_ARG;
    /* Context = 3-byte sequence counter || Security Domain AID. */
    uint8_t context[3 + 16];
    memcpy(context, seq, 3);
    memcpy(context + 3, aid, aid_len);
    return scb__scp03_kdf_keys(keys, SCB_KEY_ENC, SCB__DC_CARD_CHALLENGE, context, 3 + aid_len,
                               chal_len, out, detail, detail_len);
}

int scb__scp03_card_challenge(const uint8_t *enc, size_t key_len, const uint8_t seq[3],
                              const uint8_t *aid, size_t aid_len, size_t chal_len, uint8_t *out)
{
    if (enc == NULL)
        return SCB_E_INVALID_ARG;
    scb_keys_t *keys = NULL;
    int rc = scb_keys_new(&keys, enc, enc, NULL, key_len, 0);
    if (rc == SCB_OK)
        rc = scb__scp03_card_challenge_keys(keys, seq, aid, aid_len, chal_len, out, NULL, 0);
    scb_keys_free(&keys);
    return rc;
}
