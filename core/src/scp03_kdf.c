/*
 * SCP03 key derivation (Amd D 4.1.5, NIST SP 800-108 counter mode with
 * PRF = AES-CMAC): session keys, card and host cryptograms, and the
 * pseudo-random card challenge (scp03.md "Keys and derivation").
 */
#include "scp03.h"

#include <string.h>

/* Derivation data = label (11 x 00) || constant || 00 (separator) ||
 * L (2 bytes, bits, big-endian) || i (1 byte, from 01) || context. */
int scb__scp03_kdf(scb_aes_t *key, uint8_t constant, const uint8_t *context, size_t context_len,
                   size_t out_len, uint8_t *out)
{
    if (key == NULL || out == NULL || out_len == 0 || out_len > 32 ||
        (context == NULL && context_len != 0))
        return SCB_E_INVALID_ARG;
    uint8_t prefix[16] = {0};
    uint8_t block[16];
    size_t bits = out_len * 8;
    prefix[11] = constant;
    prefix[13] = (uint8_t)(bits >> 8);
    prefix[14] = (uint8_t)bits;
    int rc = SCB_OK;
    for (size_t done = 0, i = 1; rc == SCB_OK && done < out_len; i++) {
        prefix[15] = (uint8_t)i;
        rc = scb__cmac_begin(key);
        if (rc == SCB_OK)
            rc = scb__cmac_update(key, prefix, sizeof(prefix));
        if (rc == SCB_OK)
            rc = scb__cmac_update(key, context, context_len);
        if (rc == SCB_OK)
            rc = scb__cmac_end(key, block);
        if (rc == SCB_OK) {
            size_t n = out_len - done < 16 ? out_len - done : 16;
            memcpy(out + done, block, n);
            done += n;
        }
    }
    scb__cleanse(block, sizeof(block));
    return rc;
}

int scb__scp03_derive(const uint8_t *enc, const uint8_t *mac, size_t key_len,
                      const uint8_t *host_challenge, const uint8_t *card_challenge, size_t chal_len,
                      scb__scp03_derived_t *out)
{
    if (enc == NULL || mac == NULL || host_challenge == NULL || card_challenge == NULL ||
        out == NULL || (chal_len != 8 && chal_len != 16))
        return SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    out->key_len = key_len;
    out->cryptogram_len = chal_len;
    /* Context = host challenge || card challenge. */
    uint8_t context[32];
    memcpy(context, host_challenge, chal_len);
    memcpy(context + chal_len, card_challenge, chal_len);
    size_t ctx_len = 2 * chal_len;

    scb_aes_t *k_enc = NULL, *k_mac = NULL, *s_mac = NULL;
    int rc = scb__aes_new(&k_enc, enc, key_len);
    if (rc == SCB_OK)
        rc = scb__aes_new(&k_mac, mac, key_len);
    if (rc == SCB_OK)
        rc = scb__scp03_kdf(k_enc, SCB__DC_S_ENC, context, ctx_len, key_len, out->s_enc);
    if (rc == SCB_OK)
        rc = scb__scp03_kdf(k_mac, SCB__DC_S_MAC, context, ctx_len, key_len, out->s_mac);
    if (rc == SCB_OK)
        rc = scb__scp03_kdf(k_mac, SCB__DC_S_RMAC, context, ctx_len, key_len, out->s_rmac);
    /* Cryptograms come from S-MAC, L = 64 (S8) or 128 (S16). */
    if (rc == SCB_OK)
        rc = scb__aes_new(&s_mac, out->s_mac, key_len);
    if (rc == SCB_OK)
        rc = scb__scp03_kdf(s_mac, SCB__DC_CARD_CRYPTOGRAM, context, ctx_len, chal_len,
                            out->card_cryptogram);
    if (rc == SCB_OK)
        rc = scb__scp03_kdf(s_mac, SCB__DC_HOST_CRYPTOGRAM, context, ctx_len, chal_len,
                            out->host_cryptogram);
    scb__aes_free(&k_enc);
    scb__aes_free(&k_mac);
    scb__aes_free(&s_mac);
    if (rc != SCB_OK)
        scb__cleanse(out, sizeof(*out));
    return rc;
}

int scb__scp03_card_challenge(const uint8_t *enc, size_t key_len, const uint8_t seq[3],
                              const uint8_t *aid, size_t aid_len, size_t chal_len, uint8_t *out)
{
    if (enc == NULL || seq == NULL || aid == NULL || out == NULL || aid_len > 16 ||
        (chal_len != 8 && chal_len != 16))
        return SCB_E_INVALID_ARG;
    /* Context = 3-byte sequence counter || Security Domain AID. */
    uint8_t context[3 + 16];
    memcpy(context, seq, 3);
    memcpy(context + 3, aid, aid_len);
    scb_aes_t *k_enc = NULL;
    int rc = scb__aes_new(&k_enc, enc, key_len);
    if (rc == SCB_OK)
        rc = scb__scp03_kdf(k_enc, SCB__DC_CARD_CHALLENGE, context, 3 + aid_len, chal_len, out);
    scb__aes_free(&k_enc);
    return rc;
}
