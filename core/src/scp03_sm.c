/*
 * SCP03 secure messaging (Amd D 6.2.4-6.2.7; docs/scp03.md "Secure messaging"):
 * C-MAC with chaining, C-DECRYPTION with the encryption counter, R-MAC and
 * R-ENCRYPTION, and the scb_sm_ops_t hook that puts them on the APDU path.
 *
 * Every cipher context of a session is made once in
 * scb__scp03_session_new, so wrapping and unwrapping allocate nothing.
 */
#include "scp03.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scb__scp03_session {
    scb_aes_t *s_enc;
    scb_aes_t *s_mac;
    scb_aes_t *s_rmac;
    scb_keys_t *dek;  /* static DEK for PUT KEY, may be NULL */
    uint8_t mcv[16];  /* MAC chaining value: full C-MAC of the last command */
    uint64_t counter; /* encryption counter of the last command (0: none yet) */
    uint8_t level;    /* EXTERNAL AUTHENTICATE P1 */
    size_t mac_len;   /* 8 (S8) or 16 (S16) */
    unsigned flags;   /* SCB__SCP_* */
    bool encrypted;   /* a command with encrypted data was wrapped */
    bool first_enc;   /* the command wrapped last was the first one encrypted */
};

void scb__scp03_session_free(scb__scp03_session_t **sess)
{
    if (sess == NULL || *sess == NULL)
        return;
    scb__aes_free(&(*sess)->s_enc);
    scb__aes_free(&(*sess)->s_mac);
    scb__aes_free(&(*sess)->s_rmac);
    scb_keys_free(&(*sess)->dek);
    scb__cleanse(*sess, sizeof(**sess));
    free(*sess);
    *sess = NULL;
}

int scb__scp03_session_new(scb__scp03_session_t **out, const scb__scp03_derived_t *keys,
                           const scb_keys_t *static_keys, uint8_t level, unsigned flags)
{
    if (out == NULL || keys == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    scb__scp03_session_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return SCB_E_NOMEM;
    s->level = level;
    s->flags = flags;
    s->mac_len = keys->cryptogram_len; /* S8: 8, S16: 16, like the cryptograms */
    int rc = scb__aes_new(&s->s_enc, keys->s_enc, keys->key_len);
    if (rc == SCB_OK)
        rc = scb__aes_new(&s->s_mac, keys->s_mac, keys->key_len);
    if (rc == SCB_OK)
        rc = scb__aes_new(&s->s_rmac, keys->s_rmac, keys->key_len);
    if (rc == SCB_OK)
        rc = scb__keys_dek_only(static_keys, &s->dek);
    if (rc != SCB_OK) {
        scb__scp03_session_free(&s);
        return rc;
    }
    *out = s;
    return SCB_OK;
}

uint8_t scb__scp03_session_level(const scb__scp03_session_t *sess)
{
    return sess->level;
}

const scb_keys_t *scb__scp03_session_dek(const scb__scp03_session_t *sess)
{
    return sess->dek;
}

/*
 * Which CLA enters the C-MAC. Decision: by default the wire CLA with the
 * logical channel number cleared (b2-b1 in the first interindustry coding,
 * b4-b1 in the further one), keeping the SM indication: the card verifies
 * the same MAC whatever channel the session runs on, which is what
 * GlobalPlatform specifies (docs/scp03.md "Secure messaging": the spec MACs CLA'
 * with the channel bits cleared). On channel 0 both choices agree, which is
 * why the recorded traces cannot tell them apart. SCB__SCP_MAC_CLA_AS_SENT
 * MACs the wire CLA unchanged, as several widespread hosts (and the cards
 * they were tested with) do.
 */
uint8_t scb__scp03_mac_cla(const scb__scp03_session_t *sess, uint8_t wire_cla)
{
    if (sess->flags & SCB__SCP_MAC_CLA_AS_SENT)
        return wire_cla;
    return (wire_cla & 0x40) ? (uint8_t)(wire_cla & 0xF0) : (uint8_t)(wire_cla & 0xFC);
}

/* ICV block: the counter as a 16-byte big-endian number; R-ENC sets the
 * first byte to 0x80 (Amd D 6.2.6 / 6.2.7). */
static void counter_block(uint64_t counter, bool response, uint8_t block[16])
{
    memset(block, 0, 16);
    for (int i = 0; i < 8; i++)
        block[15 - i] = (uint8_t)(counter >> (8 * i));
    if (response)
        block[0] = 0x80;
}

static bool sw_carries_rmac(uint16_t sw)
{
    /* Only success and warnings carry an R-MAC (and encrypted data). */
    return sw == 0x9000 || (sw >> 8) == 0x62 || (sw >> 8) == 0x63;
}

int scb__scp03_wrap(scb__scp03_session_t *sess, const scb_apdu_t *in, uint8_t mac_cla, bool ext_ok,
                    bool handshake, scb_apdu_t *out, uint8_t *buf, size_t cap, char *detail,
                    size_t detail_len)
{
    if (sess == NULL || in == NULL || out == NULL || (in->lc > 0 && in->data == NULL))
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG, "no command to wrap");
    uint8_t level = handshake ? SCB_SL_CMAC : sess->level;
    if (!(level & SCB_SL_CMAC)) {
        *out = *in; /* level 00: commands travel as they are */
        return SCB_OK;
    }
    if (in->cla & 0x0C)
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG,
                           "CLA %02X already indicates secure messaging", in->cla);

    bool encrypt = (level & SCB_SL_CDEC) && in->lc > 0; /* empty data: not encrypted */
    size_t body = encrypt ? (in->lc / 16 + 1) * 16 : in->lc;
    size_t lc = body + sess->mac_len;
    if (lc > 65535)
        return scb__detail(detail, detail_len, SCB_E_SCP_TOO_LONG,
                           "%zu data bytes wrap to %zu, more than an APDU carries", in->lc, lc);
    bool extended = in->extended || lc > 255 || (in->has_le && in->ne > 256);
    if (extended && !in->extended && !ext_ok)
        return scb__detail(detail, detail_len, SCB_E_SCP_TOO_LONG,
                           "%zu data bytes wrap to %zu (> 255) and the transport carries no "
                           "extended-length APDUs",
                           in->lc, lc);
    if (lc > cap)
        return scb__detail(detail, detail_len, SCB_E_BUFFER_TOO_SMALL,
                           "wrapped data needs %zu bytes, buffer has %zu", lc, cap);

    /* The counter runs from 1 with the first command after EXTERNAL
     * AUTHENTICATE, for every command (or, with COUNT_DATA_ONLY, only for
     * commands with data: a known card deviation). */
    uint64_t counter = sess->counter;
    if (!handshake && (!(sess->flags & SCB__SCP_COUNT_DATA_ONLY) || in->lc > 0))
        counter++;

    int rc = SCB_OK;
    if (in->lc > 0)
        memmove(buf, in->data, in->lc);
    if (encrypt) { /* pad 80 00.., ICV = E(S-ENC, counter), encrypt, then MAC */
        uint8_t icv[16];
        buf[in->lc] = 0x80;
        memset(buf + in->lc + 1, 0, body - in->lc - 1);
        counter_block(counter, false, icv);
        rc = scb__aes_ecb_block(sess->s_enc, icv, icv);
        if (rc == SCB_OK)
            rc = scb__aes_cbc_encrypt(sess->s_enc, icv, buf, body, buf);
    }

    /* C-MAC over MCV || CLA' INS P1 P2 Lc' || data; Le is not MACed. */
    uint8_t hdr[7] = {mac_cla, in->ins, in->p1, in->p2};
    size_t hdr_len;
    if (extended) {
        hdr[4] = 0;
        hdr[5] = (uint8_t)(lc >> 8);
        hdr[6] = (uint8_t)lc;
        hdr_len = 7;
    } else {
        hdr[4] = (uint8_t)lc;
        hdr_len = 5;
    }
    uint8_t mac[16];
    if (rc == SCB_OK)
        rc = scb__cmac_begin(sess->s_mac);
    if (rc == SCB_OK)
        rc = scb__cmac_update(sess->s_mac, sess->mcv, sizeof(sess->mcv));
    if (rc == SCB_OK)
        rc = scb__cmac_update(sess->s_mac, hdr, hdr_len);
    if (rc == SCB_OK)
        rc = scb__cmac_update(sess->s_mac, buf, body);
    if (rc == SCB_OK)
        rc = scb__cmac_end(sess->s_mac, mac);
    if (rc != SCB_OK) {
        scb__cleanse(buf, body);
        return scb__detail(detail, detail_len, rc, "cipher failure while wrapping");
    }
    memcpy(buf + body, mac, sess->mac_len);
    memcpy(sess->mcv, mac, sizeof(mac)); /* the new MCV is all 16 bytes */
    sess->counter = counter;
    sess->first_enc = encrypt && !sess->encrypted;
    sess->encrypted = sess->encrypted || encrypt;

    *out = *in;
    out->cla = (uint8_t)(in->cla | 0x04);
    out->data = buf;
    out->lc = lc;
    out->extended = extended;
    return SCB_OK;
}

int scb__scp03_unwrap(scb__scp03_session_t *sess, const uint8_t *rdata, size_t rlen, uint16_t sw,
                      uint8_t *out, size_t *out_len, char *detail, size_t detail_len)
{
    if (sess == NULL || out_len == NULL || (rlen > 0 && (rdata == NULL || out == NULL)))
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG, "no response to unwrap");
    size_t cap = *out_len;
    size_t dlen = rlen;

    if (sess->level & SCB_SL_RMAC) {
        if (!sw_carries_rmac(sw)) {
            /* An error status carries no R-MAC and no data; data here could
             * not be authenticated, so it is refused, never passed on. */
            if (rlen != 0)
                return scb__detail(detail, detail_len, SCB_E_SCP_RMAC,
                                   "status %04X carries no R-MAC but came with %zu data bytes", sw,
                                   rlen);
            *out_len = 0;
            return SCB_OK;
        }
        if (rlen < sess->mac_len)
            return scb__detail(
                detail, detail_len, SCB_E_SCP_RMAC,
                "response of %zu bytes (status %04X) is too short for a %zu-byte R-MAC", rlen, sw,
                sess->mac_len);
        dlen = rlen - sess->mac_len;
        /* R-MAC over MCV || data || SW1 SW2 (the MCV stays as it is). */
        uint8_t swb[2] = {(uint8_t)(sw >> 8), (uint8_t)sw};
        uint8_t mac[16];
        int rc = scb__cmac_begin(sess->s_rmac);
        if (rc == SCB_OK)
            rc = scb__cmac_update(sess->s_rmac, sess->mcv, sizeof(sess->mcv));
        if (rc == SCB_OK)
            rc = scb__cmac_update(sess->s_rmac, rdata, dlen);
        if (rc == SCB_OK)
            rc = scb__cmac_update(sess->s_rmac, swb, sizeof(swb));
        if (rc == SCB_OK)
            rc = scb__cmac_end(sess->s_rmac, mac);
        if (rc != SCB_OK)
            return scb__detail(detail, detail_len, rc, "cipher failure while checking the R-MAC");
        if (!scb__ct_equal(mac, rdata + dlen, sess->mac_len))
            return scb__detail(
                detail, detail_len, SCB_E_SCP_RMAC,
                "R-MAC of the response (%zu data bytes, status %04X) does not verify", dlen, sw);
    }

    if (!(sess->level & SCB_SL_RENC) || dlen == 0) { /* empty data: not encrypted */
        if (dlen > cap) {
            *out_len = dlen;
            return scb__detail(detail, detail_len, SCB_E_BUFFER_TOO_SMALL,
                               "response has %zu data bytes, buffer %zu", dlen, cap);
        }
        if (dlen > 0)
            memmove(out, rdata, dlen);
        *out_len = dlen;
        return SCB_OK;
    }

    if (dlen % 16 != 0)
        return scb__detail(detail, detail_len, SCB_E_SCP_PADDING,
                           "encrypted response data of %zu bytes is not a whole number of blocks",
                           dlen);
    if (dlen > cap) {
        *out_len = dlen; /* an upper bound: the padding is not known yet */
        return scb__detail(detail, detail_len, SCB_E_BUFFER_TOO_SMALL,
                           "encrypted response has %zu bytes, buffer %zu", dlen, cap);
    }
    uint8_t icv[16];
    counter_block(sess->counter, true, icv);
    int rc = scb__aes_ecb_block(sess->s_enc, icv, icv);
    if (rc == SCB_OK)
        rc = scb__aes_cbc_decrypt(sess->s_enc, icv, rdata, dlen, out);
    if (rc != SCB_OK) {
        scb__cleanse(out, dlen);
        return scb__detail(detail, detail_len, rc, "cipher failure while decrypting the response");
    }
    /* Strip 80 00..: trailing zeros down to the marker, over more than one
     * block if need be (the Samsung card of scp03.json pads to 32 bytes).
     * The R-MAC was verified over the ciphertext first, so this leaks
     * nothing to an attacker. */
    size_t n = dlen;
    while (n > 0 && out[n - 1] == 0x00)
        n--;
    if (n == 0 || out[n - 1] != 0x80) {
        scb__cleanse(out, dlen);
        return scb__detail(detail, detail_len, SCB_E_SCP_PADDING,
                           "decrypted response (%zu bytes) has no 80 padding marker", dlen);
    }
    n--;
    scb__cleanse(out + n, dlen - n);
    *out_len = n;
    return SCB_OK;
}

/* Short APDUs: a response carries at most 256 data bytes, a command 255
 * (docs/scp03.md "Practical limits"). */
size_t scb__scp03_max_plain_resp(const scb__scp03_session_t *sess)
{
    size_t room = 256;
    if (sess->level & SCB_SL_RMAC)
        room -= sess->mac_len;
    if (sess->level & SCB_SL_RENC)
        room = room / 16 * 16 - 1; /* at least one byte of padding */
    return room;
}

size_t scb__scp03_max_plain_cmd(const scb__scp03_session_t *sess)
{
    size_t room = 255;
    if (sess->level & SCB_SL_CMAC)
        room -= sess->mac_len;
    if (sess->level & SCB_SL_CDEC)
        room = room / 16 * 16 - 1;
    return room;
}

/* ---- the hook ---- */
static int sm_wrap(scb_card_t *card, void *state, const scb_apdu_t *in, scb_apdu_t *out,
                   uint8_t *buf, size_t cap)
{
    scb__scp03_session_t *sess = state;
    char detail[160];
    uint8_t wire_cla = scb__cla_for_channel((uint8_t)(in->cla | 0x04), scb__cla_channel(card));
    bool ext_ok = (card->tp.flags & SCB_TP_EXTENDED_LENGTH) != 0;
    int rc = scb__scp03_wrap(sess, in, scb__scp03_mac_cla(sess, wire_cla), ext_ok, false, out, buf,
                             cap, detail, sizeof(detail));
    if (rc != SCB_OK)
        return scb__fail(card, rc, "SCP03 wrap of %02X %02X: %s", in->cla, in->ins, detail);
    return SCB_OK;
}

static int sm_unwrap(scb_card_t *card, void *state, const uint8_t *rdata, size_t rlen, uint16_t sw,
                     uint8_t *out, size_t *out_len)
{
    const scb__scp03_session_t *sess = state;
    /* The card cryptogram proved the MAC key; a card that cannot decrypt a
     * command answers 6982 and ends the session (Amd D 6.2.6). A 6982 to
     * the session's first encrypted command is therefore the channel
     * failing, most likely over the ENC key, not a file's access rule. */
    if (sess->first_enc && sw == 0x6982)
        return scb__fail(card, SCB_E_SCP_REJECTED,
                         "the card did not accept the first encrypted command of the session "
                         "(6982): the ENC key is the likely cause (the MAC key is right: the "
                         "card cryptogram verified)");
    char detail[160];
    int rc = scb__scp03_unwrap(state, rdata, rlen, sw, out, out_len, detail, sizeof(detail));
    if (rc != SCB_OK)
        return scb__fail(card, rc, "SCP03: %s", detail);
    return SCB_OK;
}

static size_t sm_max_plain_resp(void *state)
{
    return scb__scp03_max_plain_resp(state);
}

static size_t sm_max_plain_cmd(void *state)
{
    return scb__scp03_max_plain_cmd(state);
}

static int sm_level(void *state)
{
    return scb__scp03_session_level(state);
}

static void sm_destroy(void *state)
{
    scb__scp03_session_t *sess = state;
    scb__scp03_session_free(&sess);
}

const scb_sm_ops_t scb__scp03_sm_ops = {
    .wrap = sm_wrap,
    .unwrap = sm_unwrap,
    .max_plain_resp = sm_max_plain_resp,
    .max_plain_cmd = sm_max_plain_cmd,
    .level = sm_level,
    .destroy = sm_destroy,
};
