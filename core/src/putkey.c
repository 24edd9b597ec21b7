/*
 * PUT KEY for an SCP03 key set (GPCS 11.8, Amd D 7.2: sensitive data under
 * the DEK), the host side (scb_put_keys).
 *
 * Key data per key: 88 | L+1 | L | <key under DEK, AES-CBC zero IV> | 03 | KCV.
 * Some hosts send the short form 88 | 10 | <16 encrypted bytes> without
 * KCV; this host always sends the full form, because only with KCVs does
 * the card's answer prove that it decrypted the keys it was meant to get.
 */
#include "scp03.h"

#include <stdio.h>
#include <string.h>

#define KEY_TYPE_AES        0x88u
#define PUT_KEY_P2_MULTIPLE 0x81u /* b8: several keys; key identifier 01 */

/* One component, from wherever the new key and the DEK are held: a token
 * key is wrapped in the token and only its ciphertext and KCV come out. */
static int build_key(const scb_keys_t *new_keys, int type, const scb_keys_t *dek, uint8_t *out,
                     size_t *pos, uint8_t kcv[3], char *detail, size_t detail_len)
{
    size_t p = *pos, enc_len = 0;
    int rc = scb__keys_put_key(new_keys, type, dek, out + p + 3, &enc_len, kcv, detail,
                               detail_len);
    if (rc != SCB_OK)
        return rc;
    size_t key_len = scb_keys_length(new_keys);
    out[p] = KEY_TYPE_AES;
    out[p + 1] = (uint8_t)(1 + enc_len);
    out[p + 2] = (uint8_t)key_len;
    p += 3 + enc_len;
    out[p++] = 3;
    memcpy(out + p, kcv, 3);
    *pos = p + 3;
    return SCB_OK;
}

int scb__put_keys(scb_card_t *card, const scb_keys_t *new_keys, uint8_t replace_kvn)
{
    if (new_keys == NULL)
        return scb__fail(card, SCB_E_INVALID_ARG, "PUT KEY: no key set");
    if (!scb_scp03_is_open(card))
        return scb__fail(card, SCB_E_SCP_NO_SESSION,
                         "PUT KEY needs an open SCP03 session on this channel");
    scb__scp03_session_t *sess = card->sm_state;
    if (!(scb__scp03_session_level(sess) & SCB_SL_CMAC))
        return scb__fail(card, SCB_E_SCP_LEVEL, "PUT KEY needs at least C-MAC (session level %02X)",
                         scb__scp03_session_level(sess));
    const scb_keys_t *dek = scb__scp03_session_dek(sess);
    if (dek == NULL)
        return scb__fail(card, SCB_E_SCP_KEY, "PUT KEY: the session's key set has no DEK");
    if (!scb_keys_has_dek(new_keys))
        return scb__fail(card, SCB_E_SCP_KEY, "PUT KEY: the new key set has no DEK");
    uint8_t new_kvn = scb_keys_kvn(new_keys);
    if (new_kvn == 0)
        return scb__fail(card, SCB_E_INVALID_ARG, "PUT KEY: the new key set needs a key version");

    /* new KVN || ENC || MAC || DEK, each 88 L+1 L <enc> 03 <KCV> */
    static const int types[3] = {SCB_KEY_ENC, SCB_KEY_MAC, SCB_KEY_DEK};
    uint8_t data[1 + 3 * (3 + 32 + 4)];
    uint8_t kcvs[3][3];
    size_t len = 0;
    int rc = SCB_OK;
    data[len++] = new_kvn;
    char why[200] = "";
    for (size_t i = 0; i < 3 && rc == SCB_OK; i++)
        rc = build_key(new_keys, types[i], dek, data, &len, kcvs[i], why, sizeof(why));
    if (rc != SCB_OK) {
        scb__cleanse(data, sizeof(data));
        return scb__fail(card, rc, "PUT KEY: cannot encrypt the new keys: %s", why);
    }

    scb_apdu_t a = {.cla = 0x80,
                    .ins = 0xD8,
                    .p1 = replace_kvn,
                    .p2 = PUT_KEY_P2_MULTIPLE,
                    .data = data,
                    .lc = len,
                    .ne = 256,
                    .has_le = true,
                    .flags = SCB__APDU_SENSITIVE_CMD};
    uint8_t resp[64];
    size_t rlen = sizeof(resp);
    uint16_t sw = 0;
    rc = scb__transmit(card, &a, resp, &rlen, &sw);
    scb__cleanse(data, sizeof(data));
    if (rc == SCB_E_BUFFER_TOO_SMALL)
        return scb__fail(card, SCB_E_BAD_RESPONSE, "PUT KEY response longer than %zu bytes",
                         sizeof(resp));
    if (rc != SCB_OK)
        return rc;
    /* GPCS 11.8.3: 6A88 to a replacement names no existing key set; 6A80
     * to an addition most often means the version exists already. */
    if (sw == 0x6A88 && replace_kvn != 0)
        return scb__fail(card, SCB_E_NOT_FOUND,
                         "PUT KEY: the card has no key set with version 0x%02X to replace (%04X)",
                         replace_kvn, sw);
    if (sw == 0x6A80 && replace_kvn == 0)
        return scb__fail(card, SCB_E_STATUS,
                         "PUT KEY: card answered 6A80 (incorrect values in the data field): a key "
                         "set with version 0x%02X may exist already: replace it (replace_kvn "
                         "0x%02X) or choose another version", new_kvn, new_kvn);
    if (sw != 0x9000)
        return scb__sw_error(card, sw, "PUT KEY");
    /* Response: KVN || KCV(ENC) || KCV(MAC) || KCV(DEK). */
    if (rlen != 10)
        return scb__fail(card, SCB_E_SCP_KCV,
                         "PUT KEY response has %zu bytes, expected key version and 3 KCVs (10)",
                         rlen);
    if (resp[0] != new_kvn)
        return scb__fail(card, SCB_E_SCP_KCV, "PUT KEY response names key version 0x%02X, sent 0x%02X",
                         resp[0], new_kvn);
    static const char *const names[3] = {"ENC", "MAC", "DEK"};
    for (size_t i = 0; i < 3; i++)
        if (!scb__ct_equal(resp + 1 + 3 * i, kcvs[i], 3))
            return scb__fail(card, SCB_E_SCP_KCV,
                             "PUT KEY: the card's KCV of the new %s key does not match", names[i]);
    scb__note(card, "PUT KEY: key version 0x%02X %s", new_kvn, replace_kvn ? "replaced" : "added");
    return SCB_OK;
}

int scb_put_keys(scb_card_t *card, const scb_keys_t *new_keys, uint8_t replace_kvn)
{
    SCB__ENTER(card);
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = scb__put_keys(card, new_keys, replace_kvn);
    scb__end(card);
    return rc;
}
