/* Key-set and SCP03 binding glue: flat arguments for scb_keys_new and
 * scb_scp03_open (see scb_bind.h). */
#include "scb_bind.h"

int scb_bind_keys_new(scb_keys_t **out, const uint8_t *enc, size_t enc_len, const uint8_t *mac,
                      size_t mac_len, const uint8_t *dek, size_t dek_len, int kvn)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    /* One length for the whole set; the core checks that it is an AES size. */
    if (enc == NULL || mac == NULL || enc_len != mac_len || (dek != NULL && dek_len != enc_len) ||
        kvn < 0 || kvn > 0xFF)
        return SCB_E_INVALID_ARG;
    return scb_keys_new(out, enc, mac, dek, enc_len, (uint8_t)kvn);
}

int scb_bind_scp03_open(scb_card_t *card, const scb_keys_t *keys, int level, int kvn,
                        unsigned flags, const uint8_t *host_challenge, size_t host_challenge_len,
                        const uint8_t *sd_aid, size_t sd_aid_len)
{
    if (level < 0 || level > 0xFF || kvn < -1 || kvn > 0xFF)
        return SCB_E_INVALID_ARG;
    scb_scp03_params_t p;
    scb_scp03_params_init(&p);
    p.level = (uint8_t)level;
    p.kvn = kvn < 0 ? 0 : (uint8_t)kvn;
    p.flags = flags;
    p.host_challenge = host_challenge;
    p.host_challenge_len = host_challenge_len;
    p.sd_aid = sd_aid;
    p.sd_aid_len = sd_aid_len;
    return scb_scp03_open(card, keys, &p);
}
