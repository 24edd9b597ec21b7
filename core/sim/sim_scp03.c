/*
 * The card side of GlobalPlatform SCP03 (GP Card Spec 2.3 + Amendment D
 * v1.1.x / v1.2 for S16), for the Security Domain of the PKCS#15
 * application: INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, command unwrap
 * (C-MAC, C-DEC), response wrap (R-ENC, R-MAC), PUT KEY under the DEK.
 * Written from ../../shared/spec/scp03.md; checked against
 * tests/vectors/scp03.json by tests/c/test_sim_scp03_replay.c.
 */
#include "sim_internal.h"

#include <string.h>

/* KDF derivation constants (Amd D 6.2.2) */
#define DC_CARD_CRYPTOGRAM 0x00
#define DC_HOST_CRYPTOGRAM 0x01
#define DC_CARD_CHALLENGE 0x02
#define DC_S_ENC 0x04
#define DC_S_MAC 0x06
#define DC_S_RMAC 0x07

/* Security level bits (EXTERNAL AUTHENTICATE P1) */
#define SL_CMAC 0x01
#define SL_CDEC 0x02
#define SL_RMAC 0x10
#define SL_RENC 0x20

/* i parameter bits */
#define I_S16 0x01
#define I_PSEUDO_RANDOM 0x10
#define I_RMAC 0x20
#define I_RENC 0x40

/* SP 800-108 counter mode with AES-CMAC: 11 zero bytes || constant || 00 ||
 * L (2 bytes, bits) || i || context; blocks i = 1, 2 truncated to L. */
static int kdf(scb_sim_t *sim, const uint8_t *key, size_t key_len, uint8_t constant,
               size_t lbits, const uint8_t *ctx, size_t ctx_len, uint8_t *out)
{
    uint8_t dd[16] = {0}, block[16];
    size_t need = lbits / 8, done = 0;
    int rc = 0;
    dd[11] = constant;
    dd[13] = (uint8_t)(lbits >> 8);
    dd[14] = (uint8_t)lbits;
    for (uint8_t i = 1; done < need && rc == 0; i++) {
        dd[15] = i;
        const uint8_t *parts[2] = {dd, ctx};
        size_t lens[2] = {sizeof(dd), ctx_len};
        rc = sim_cmac(sim->crypto, key, key_len, 2, parts, lens, block);
        size_t n = need - done < 16 ? need - done : 16;
        memcpy(out + done, block, n);
        done += n;
    }
    sim_cleanse(block, sizeof(block));
    return rc;
}

int sim_scp_kcv(scb_sim_t *sim, const uint8_t *key, size_t len, uint8_t kcv[3])
{
    uint8_t ones[16], out[16];
    memset(ones, 0x01, sizeof(ones));
    if (sim_aes_ecb(sim->crypto, key, len, ones, out) != 0)
        return -1;
    memcpy(kcv, out, 3);
    return 0;
}

int sim_scp_kdf3(scb_sim_t *sim, const uint8_t *master, size_t len, uint8_t type,
                 const uint8_t kdd[10], uint8_t *out)
{
    uint8_t in[16] = {0}, block[16];
    size_t done = 0;
    int rc = 0;
    in[4] = type;
    memcpy(in + 6, kdd, 10);
    for (uint8_t i = 1; done < len && rc == 0; i++) {
        in[0] = i;
        const uint8_t *parts[1] = {in};
        size_t lens[1] = {sizeof(in)};
        rc = sim_cmac(sim->crypto, master, len, 1, parts, lens, block);
        size_t n = len - done < 16 ? len - done : 16;
        memcpy(out + done, block, n);
        done += n;
    }
    sim_cleanse(block, sizeof(block));
    return rc;
}

void sim_scp_close(sim_session_t *s)
{
    sim_cleanse(s, sizeof(*s));
    s->state = SIM_SCP_NONE;
}

bool sim_scp_open(const scb_sim_t *sim, uint8_t chn)
{
    return sim->ch[chn].scp.state == SIM_SCP_OPEN;
}

static size_t mac_len(const sim_session_t *s)
{
    return s->s16 ? 16 : 8;
}

static void counter_increment(uint8_t c[16])
{
    for (int i = 15; i >= 0; i--) {
        if (++c[i] != 0)
            break;
    }
}

/* ---- INITIALIZE UPDATE: 80|ch 50 KVN 00 Lc <host challenge> ---- */
int sim_scp_initialize_update(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd,
                              sim_resp_t *r)
{
    sim_channel_t *ch = &sim->ch[ex->chn];
    sim_sd_t *sd = &sim->sd;
    sim_session_t *s = &ch->scp;
    bool s16 = (sd->i_param & I_S16) != 0;
    size_t clen = s16 ? 16 : 8;
    uint8_t ctx[32], challenge[16], cryptogram[16], seq[3];
    const sim_keyset_t *ks = NULL;

    /* GP: INITIALIZE UPDATE may come at any time and ends a running session. */
    sim_scp_close(s);
    if (sd->adf < 0 || ch->adf != sd->adf)
        return sim_fail(r, SW_INS_NOT_SUPPORTED); /* the selected application is no SD */
    if (ex->secured)
        return sim_fail(r, SW_CLA_NOT_SUPPORTED); /* sent in the clear only */
    if (cmd->p2 != 0x00)
        return sim_fail(r, SW_WRONG_P1P2);
    if (cmd->lc != clen)
        return sim_fail(r, SW_WRONG_LENGTH);
    for (size_t k = 0; k < SIM_MAX_KEYSETS; k++) {
        if (sd->keys[k].used && (cmd->p1 == 0 || sd->keys[k].kvn == cmd->p1)) {
            ks = &sd->keys[k];
            break;
        }
    }
    if (ks == NULL)
        return sim_fail(r, SW_REF_NOT_FOUND);
    if (sd->seq_next > 0xFFFFFF)
        return sim_fail(r, SW_CONDITIONS); /* sequence counter exhausted */

    uint32_t n = sd->seq_next++;
    seq[0] = (uint8_t)(n >> 16);
    seq[1] = (uint8_t)(n >> 8);
    seq[2] = (uint8_t)n;
    if (sd->forced_challenge_len == clen) {
        memcpy(challenge, sd->forced_challenge, clen);
    } else if (sd->i_param & I_PSEUDO_RANDOM) {
        /* Amd D 6.2.2.1: KDF(Key-ENC, 02, L, sequence counter || SD AID) */
        uint8_t pctx[3 + SIM_MAX_AID];
        memcpy(pctx, seq, 3);
        memcpy(pctx + 3, sd->aid, sd->aid_len);
        if (kdf(sim, ks->enc, ks->len, DC_CARD_CHALLENGE, clen * 8, pctx, 3 + sd->aid_len,
                challenge) != 0)
            return sim_fail(r, 0x6F00);
    } else if (sim_random(challenge, clen) != 0) {
        return sim_fail(r, 0x6F00);
    }
    sd->forced_challenge_len = 0;
    if (sim->faults.bad_challenge)
        challenge[0] ^= 0x01;

    memcpy(ctx, cmd->data, clen);
    memcpy(ctx + clen, challenge, clen);
    size_t kbits = ks->len * 8;
    if (kdf(sim, ks->enc, ks->len, DC_S_ENC, kbits, ctx, 2 * clen, s->s_enc) != 0 ||
        kdf(sim, ks->mac, ks->len, DC_S_MAC, kbits, ctx, 2 * clen, s->s_mac) != 0 ||
        kdf(sim, ks->mac, ks->len, DC_S_RMAC, kbits, ctx, 2 * clen, s->s_rmac) != 0 ||
        kdf(sim, s->s_mac, ks->len, DC_CARD_CRYPTOGRAM, clen * 8, ctx, 2 * clen, cryptogram) != 0 ||
        kdf(sim, s->s_mac, ks->len, DC_HOST_CRYPTOGRAM, clen * 8, ctx, 2 * clen,
            s->host_cryptogram) != 0) {
        sim_scp_close(s);
        return sim_fail(r, 0x6F00);
    }
    s->key_len = ks->len;
    s->s16 = s16;
    memcpy(s->dek, ks->dek, ks->len);
    s->state = SIM_SCP_INIT;
    if (sim->faults.bad_card_cryptogram)
        cryptogram[0] ^= 0x01;

    /* KDD (10) || KVN || 03 || i || card challenge || card cryptogram || [seq] */
    uint8_t *o = r->buf;
    memcpy(o, sd->kdd, 10);
    o[10] = (uint8_t)(ks->kvn + (sim->faults.kvn_mismatch ? 1 : 0));
    o[11] = 0x03;
    o[12] = sd->i_param;
    memcpy(o + 13, challenge, clen);
    memcpy(o + 13 + clen, cryptogram, clen);
    r->len = 13 + 2 * clen;
    if (sd->i_param & I_PSEUDO_RANDOM) {
        memcpy(o + r->len, seq, 3);
        r->len += 3;
    }
    sim_cleanse(ctx, sizeof(ctx));
    return sim_sw(r, SW_OK);
}

/* C-MAC check: CMAC(S-MAC, MCV || CLA' INS P1 P2 Lc' || data) where the
 * header is the wire header (Lc' = Lc as sent: data + MAC) and CLA' is the
 * CLA with the channel number cleared (Amd D 6.2.4: "the logical channel
 * number is stripped"), or as sent, per the profile's mac_cla. On success
 * the MCV becomes the full 16-byte MAC. Returns 0 (verified), SW_SECURITY
 * (wrong MAC) or 6F00 when the card's own CMAC failed (out of memory): it
 * cannot tell then, and a wrong-MAC verdict would blame the host's keys. */
static uint16_t verify_cmac(scb_sim_t *sim, sim_session_t *s, const sim_cmd_t *c,
                            const uint8_t *wire)
{
    size_t ml = mac_len(s), dlen = c->lc - ml;
    size_t lc_field = (size_t)(c->data - wire) - 4;
    uint8_t cla_cleared = (c->cla & 0x40) ? (uint8_t)(c->cla & ~0x0F) : (uint8_t)(c->cla & ~0x03);
    uint8_t candidates[2];
    size_t ncand = 0;
    uint8_t full[16];
    uint16_t sw = SW_SECURITY;

    if (sim->sd.mac_cla != SIM_MACCLA_AS_SENT)
        candidates[ncand++] = cla_cleared;
    if (sim->sd.mac_cla != SIM_MACCLA_CLEARED && (ncand == 0 || c->cla != cla_cleared))
        candidates[ncand++] = c->cla;
    for (size_t k = 0; k < ncand && sw == SW_SECURITY; k++) {
        const uint8_t *parts[5] = {s->mcv, &candidates[k], wire + 1, wire + 4, c->data};
        size_t lens[5] = {16, 1, 3, lc_field, dlen};
        if (sim_cmac(sim->crypto, s->s_mac, s->key_len, 5, parts, lens, full) != 0) {
            sw = 0x6F00;
        } else if (sim_ct_equal(full, c->data + dlen, ml)) {
            memcpy(s->mcv, full, 16);
            sw = 0;
        }
    }
    sim_cleanse(full, sizeof(full));
    return sw;
}

/* ---- EXTERNAL AUTHENTICATE: 84|ch 82 SL 00 Lc <host cryptogram> <C-MAC> ---- */
int sim_scp_external_authenticate(scb_sim_t *sim, uint8_t chn, const sim_cmd_t *cmd,
                                  const uint8_t *wire, sim_resp_t *r)
{
    sim_session_t *s = &sim->ch[chn].scp;
    uint8_t i = sim->sd.i_param, level = cmd->p1;
    if (s->state != SIM_SCP_INIT) {
        sim_scp_close(s);
        return sim_fail(r, SW_CONDITIONS); /* not right after INITIALIZE UPDATE */
    }
    size_t ml = mac_len(s);
    uint16_t sw = 0;
    if (cmd->p2 != 0x00)
        sw = SW_WRONG_P1P2;
    else if (cmd->lc != 2 * ml)
        sw = SW_WRONG_LENGTH;
    else if (level != 0x00 && level != 0x01 && level != 0x03 && level != 0x11 && level != 0x13 &&
             level != 0x33)
        sw = SW_WRONG_P1P2;
    else if (((level & SL_RMAC) && !(i & I_RMAC)) || ((level & SL_RENC) && !(i & I_RENC)))
        sw = SW_WRONG_P1P2; /* level beyond what i announces */
    else
        sw = verify_cmac(sim, s, cmd, wire); /* wrong MAC, or the card's CMAC failed */
    if (sw == 0 && !sim_ct_equal(cmd->data, s->host_cryptogram, ml))
        sw = SW_AUTH_FAILED;
    if (sw != 0) {
        sim_scp_close(s);
        return sim_fail(r, sw);
    }
    s->state = SIM_SCP_OPEN;
    s->level = level;
    memset(s->counter, 0, sizeof(s->counter));
    sim_cleanse(s->host_cryptogram, sizeof(s->host_cryptogram));
    return sim_sw(r, SW_OK); /* no R-MAC on EXTERNAL AUTHENTICATE */
}

uint16_t sim_scp_unwrap(scb_sim_t *sim, uint8_t chn, const sim_cmd_t *wc, const uint8_t *wire,
                        size_t wire_len, sim_cmd_t *plain)
{
    sim_session_t *s = &sim->ch[chn].scp;
    (void)wire_len;
    if (s->state != SIM_SCP_OPEN || !(s->level & SL_CMAC)) {
        /* SM indicated but no session (or a level without C-MAC) */
        return SW_SECURITY;
    }
    size_t ml = mac_len(s);
    if (wc->lc < ml) {
        sim_scp_close(s);
        return SW_SECURITY;
    }
    size_t dlen = wc->lc - ml, plen = dlen;
    /* Amd D 6.2.6: the counter counts every command of the session (the
     * profile's counter_data_only emulates cards counting only commands
     * with data). */
    if (!sim->sd.counter_data_only || dlen > 0)
        counter_increment(s->counter);
    const uint16_t sw = verify_cmac(sim, s, wc, wire);
    if (sw != 0) {
        sim_scp_close(s);
        return sw;
    }
    if ((s->level & SL_CDEC) && dlen > 0) {
        uint8_t icv[16];
        if (dlen % 16 != 0) {
            sim_scp_close(s);
            return SW_SECURITY;
        }
        if (sim_aes_ecb(sim->crypto, s->s_enc, s->key_len, s->counter, icv) != 0 ||
            sim_aes_cbc(sim->crypto, false, s->s_enc, s->key_len, icv, wc->data, dlen,
                        sim->pdata) != 0) {
            sim_scp_close(s);
            return 0x6F00; /* the card's own cipher failed */
        }
        /* strip 80 00..: the last non-zero byte must be the 80 marker */
        while (plen > 0 && sim->pdata[plen - 1] == 0x00)
            plen--;
        if (plen == 0 || sim->pdata[plen - 1] != 0x80) {
            sim_scp_close(s);
            return SW_SECURITY;
        }
        plen--;
    } else {
        memcpy(sim->pdata, wc->data, dlen);
    }
    *plain = *wc;
    /* the plain CLA has no SM indication: 0x04 (channels 0-3), 0x20 (4-19) */
    plain->cla = (wc->cla & 0x40) ? (uint8_t)(wc->cla & ~0x20) : (uint8_t)(wc->cla & ~0x0C);
    plain->data = sim->pdata;
    plain->lc = plen;
    plain->extended = wc->extended && (plen > 255 || (plain->has_le && plain->ne > 256));
    return 0;
}

size_t sim_scp_max_plain(const scb_sim_t *sim, uint8_t chn, size_t cap)
{
    const sim_session_t *s = &sim->ch[chn].scp;
    if (s->state != SIM_SCP_OPEN || !(s->level & SL_RMAC))
        return cap;
    size_t ml = mac_len(s);
    if (s->level & SL_RENC)
        return ((cap - ml) / 16) * 16 - 1; /* at least one padding byte */
    return cap - ml;
}

uint16_t sim_scp_wrap(scb_sim_t *sim, uint8_t chn, const uint8_t *data, size_t len, uint16_t sw,
                      size_t max_data, uint8_t *out, size_t *out_len, bool *rmac)
{
    sim_session_t *s = &sim->ch[chn].scp;
    size_t n = len;
    *rmac = false;
    if (s->state != SIM_SCP_OPEN || !(s->level & SL_RMAC)) {
        memmove(out, data, len);
    } else if (sim_sw_is_error(sw) && !sim->faults.rmac_on_error) {
        n = 0; /* error status: no data, no R-MAC */
    } else {
        size_t ml = mac_len(s);
        if ((s->level & SL_RENC) && len > 0) {
            uint8_t icv[16], block[16];
            n = (len / 16 + 1) * 16;
            if (sim->faults.renc_overpad && n + 16 + ml <= max_data)
                n += 16;
            if (n + ml > max_data)
                return SW_WRONG_LENGTH;
            memmove(out, data, len);
            memset(out + len, 0x00, n - len);
            out[len] = 0x80;
            if (sim_fault_bad_padding_now(sim))
                out[n - 1] = 0x01; /* last non-zero byte is no 80 marker */
            memcpy(block, s->counter, 16);
            block[0] = 0x80; /* R-ENC ICV: counter block with its first byte 80 */
            if (sim_aes_ecb(sim->crypto, s->s_enc, s->key_len, block, icv) != 0 ||
                sim_aes_cbc(sim->crypto, true, s->s_enc, s->key_len, icv, out, n, out) != 0)
                return 0x6F00;
        } else {
            if (len + ml > max_data)
                return SW_WRONG_LENGTH;
            memmove(out, data, len);
        }
        uint8_t swb[2] = {(uint8_t)(sw >> 8), (uint8_t)sw}, full[16];
        const uint8_t *parts[3] = {s->mcv, out, swb};
        size_t lens[3] = {16, n, 2};
        if (sim_cmac(sim->crypto, s->s_rmac, s->key_len, 3, parts, lens, full) != 0)
            return 0x6F00;
        memcpy(out + n, full, ml);
        n += ml;
        *rmac = true;
    }
    out[n] = (uint8_t)(sw >> 8);
    out[n + 1] = (uint8_t)sw;
    *out_len = n + 2;
    return 0;
}

/* ---- PUT KEY (GP 11.8, Amd D 7.x): 80|ch D8 <old KVN|00> 81 Lc
 *      <new KVN> { 88 LL [keylen] <key under DEK> 03 <KCV> } x3 ---- */
int sim_scp_put_key(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd, sim_resp_t *r)
{
    sim_session_t *s = &sim->ch[ex->chn].scp;
    sim_sd_t *sd = &sim->sd;
    uint8_t keys[3][32], kcv[3][3], tmp[32], zero_iv[16] = {0};
    size_t klen = 0, pos = 1;
    uint16_t sw = 0;

    if (!ex->secured || !(ex->level & SL_CMAC) || s->state != SIM_SCP_OPEN)
        return sim_fail(r, SW_SECURITY);
    if (cmd->p2 != 0x81 || cmd->p1 > 0x7F)
        return sim_fail(r, SW_WRONG_P1P2);
    if (cmd->lc < 1)
        return sim_fail(r, SW_WRONG_LENGTH);
    const uint8_t *d = cmd->data;
    size_t n = cmd->lc;
    uint8_t new_kvn = d[0];
    if (new_kvn == 0 || new_kvn > 0x7F)
        return sim_fail(r, SW_WRONG_DATA);

    for (int k = 0; k < 3 && sw == 0; k++) {
        if (n - pos < 2 || d[pos] != 0x88) { /* 88: AES */
            sw = SW_WRONG_DATA;
            break;
        }
        size_t ll = d[pos + 1], kl, el;
        const uint8_t *enc;
        pos += 2;
        if (ll == 0 || n - pos < ll) {
            sw = SW_WRONG_DATA;
            break;
        }
        if (ll % 16 == 1) { /* LL = 1 + encrypted length: key length byte first */
            kl = d[pos];
            enc = d + pos + 1;
            el = ll - 1;
        } else if (ll % 16 == 0) { /* some hosts: 88 10 <16 bytes> */
            kl = ll;
            enc = d + pos;
            el = ll;
        } else {
            sw = SW_WRONG_DATA;
            break;
        }
        if ((kl != 16 && kl != 24 && kl != 32) || el < kl || el > 32 || el % 16 != 0 ||
            (klen != 0 && kl != klen)) {
            sw = SW_WRONG_DATA;
            break;
        }
        klen = kl;
        if (sim_aes_cbc(sim->crypto, false, s->dek, s->key_len, zero_iv, enc, el, tmp) != 0) {
            sw = 0x6F00;
            break;
        }
        memcpy(keys[k], tmp, kl);
        pos += ll;
        if (sim_scp_kcv(sim, keys[k], kl, kcv[k]) != 0) {
            sw = 0x6F00;
            break;
        }
        if (n - pos < 1) {
            sw = SW_WRONG_DATA;
            break;
        }
        size_t cl = d[pos++];
        if (cl == 3) {
            if (n - pos < 3 || !sim_ct_equal(d + pos, kcv[k], 3))
                sw = SW_WRONG_DATA; /* KCV does not match the decrypted key */
            pos += 3;
        } else if (cl != 0) {
            sw = SW_WRONG_DATA;
        }
    }
    if (sw == 0 && pos != n)
        sw = SW_WRONG_DATA;

    if (sw == 0) {
        int slot = -1, clash = -1;
        for (int k = 0; k < SIM_MAX_KEYSETS; k++) {
            if (sd->keys[k].used && sd->keys[k].kvn == new_kvn)
                clash = k;
            if (cmd->p1 != 0 && sd->keys[k].used && sd->keys[k].kvn == cmd->p1)
                slot = k;
        }
        if (cmd->p1 == 0) {
            for (int k = 0; k < SIM_MAX_KEYSETS && slot < 0; k++)
                if (!sd->keys[k].used)
                    slot = k;
            if (clash >= 0)
                sw = SW_WRONG_DATA;
            else if (slot < 0)
                sw = SW_NO_SPACE;
        } else if (slot < 0) {
            sw = SW_REF_NOT_FOUND;
        } else if (clash >= 0 && clash != slot) {
            sw = SW_WRONG_DATA;
        }
        if (sw == 0) {
            sim_keyset_t *ks = &sd->keys[slot];
            sim_cleanse(ks, sizeof(*ks));
            ks->used = true;
            ks->kvn = new_kvn;
            ks->len = klen;
            memcpy(ks->enc, keys[0], klen);
            memcpy(ks->mac, keys[1], klen);
            memcpy(ks->dek, keys[2], klen);
        }
    }
    sim_cleanse(keys, sizeof(keys));
    sim_cleanse(tmp, sizeof(tmp));
    if (sw != 0)
        return sim_fail(r, sw);
    r->buf[0] = new_kvn;
    memcpy(r->buf + 1, kcv, sizeof(kcv));
    r->len = 1 + sizeof(kcv);
    return sim_sw(r, SW_OK);
}
