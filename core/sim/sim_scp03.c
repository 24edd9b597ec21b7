/*
 * The card side of GlobalPlatform SCP03 (GP Card Spec 2.3 + Amendment D
 * v1.1.x / v1.2 for S16), for the Security Domain of the PKCS#15
 * application: INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, command unwrap
 * (C-MAC, C-DEC), response wrap (R-ENC, R-MAC), PUT KEY under the DEK, and
 * what scboot_sim_harness.h lets a harness do with a session (seal chosen
 * data, start from known session keys). Checked against the recorded
 * traces of tests/vectors/scp03.json and putkey.json by
 * tests/sim/test_sim_scp03.c.
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

/* Blocks of CMAC(key, head || ctx) with a block counter 1, 2, .. at
 * head[at], concatenated and cut to need bytes: the shape of both the
 * session key derivation and KDF3 diversification. */
static int counter_cmac(scb_sim_t *sim, const uint8_t *key, size_t key_len, uint8_t head[16],
                        size_t at, const uint8_t *ctx, size_t ctx_len, size_t need, uint8_t *out)
{
    uint8_t block[16];
    size_t done = 0;
    int rc = 0;
    for (uint8_t i = 1; done < need && rc == 0; i++) {
        head[at] = i;
        const uint8_t *parts[2] = {head, ctx};
        size_t lens[2] = {16, ctx_len};
        rc = sim_cmac(sim->crypto, key, key_len, ctx_len > 0 ? 2 : 1, parts, lens, block);
        size_t n = need - done < 16 ? need - done : 16;
        memcpy(out + done, block, n);
        done += n;
    }
    sim_cleanse(block, sizeof(block));
    return rc;
}

/* SP 800-108 counter mode with AES-CMAC: 11 zero bytes || constant || 00 ||
 * L (2 bytes, bits) || i || context; blocks i = 1, 2 truncated to L. */
static int kdf(scb_sim_t *sim, const uint8_t *key, size_t key_len, uint8_t constant,
               size_t lbits, const uint8_t *ctx, size_t ctx_len, uint8_t *out)
{
    uint8_t dd[16] = {0};
    dd[11] = constant;
    dd[13] = (uint8_t)(lbits >> 8);
    dd[14] = (uint8_t)lbits;
    return counter_cmac(sim, key, key_len, dd, 15, ctx, ctx_len, lbits / 8, out);
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
    uint8_t in[16] = {0}; /* i || 00 00 00 || type || 00 || KDD */
    in[4] = type;
    memcpy(in + 6, kdd, 10);
    return counter_cmac(sim, master, len, in, 0, NULL, 0, len, out);
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

/* EXTERNAL AUTHENTICATE P1 values (Amd D 7.1.2.1) */
static bool valid_level(uint8_t level)
{
    return level == 0x00 || level == 0x01 || level == 0x03 || level == 0x11 || level == 0x13 ||
           level == 0x33;
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
    s->has_dek = true;
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

/* ---- GET DATA 00|80 CA 00 66: Card Recognition Data ---- */
/* GP Card Specification 2.2 Annex H (the SCP03 arc and its i parameter:
 * Amendment D): what a GlobalPlatform host asks a Security Domain first,
 * to learn the secure channel protocol and its options:
 *   66 { 73 { 06 {globalPlatform 1}                  card recognition data
 *             60 { 06 {globalPlatform 2 2 2 1} }     card management: GP 2.2.1
 *             63 { 06 {globalPlatform 3} }           card identification scheme
 *             64 { 06 {globalPlatform 4 3 i} } } }   SCP03 with its i
 * with globalPlatform = 1.2.840.114283 (2A 86 48 86 FC 6B). */
/* tag { 06 { globalPlatform || tail } } (tag 0: the OID alone); the tail
 * holds the further arcs, already base-128 coded (X.690 8.19). */
static size_t gp_oid(uint8_t *out, uint8_t tag, const uint8_t *tail, size_t n)
{
    static const uint8_t gp[] = {0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B};
    uint8_t *p = tag != 0 ? out + 2 : out;
    p[0] = 0x06;
    p[1] = (uint8_t)(sizeof(gp) + n);
    memcpy(p + 2, gp, sizeof(gp));
    memcpy(p + 2 + sizeof(gp), tail, n);
    size_t len = 2 + sizeof(gp) + n;
    if (tag == 0)
        return len;
    out[0] = tag;
    out[1] = (uint8_t)len;
    return len + 2;
}

int sim_scp_get_data(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd, sim_resp_t *r)
{
    const sim_sd_t *sd = &sim->sd;
    if (sd->adf < 0 || sim->ch[ex->chn].adf != sd->adf)
        return sim_fail(r, SW_INS_NOT_SUPPORTED); /* the selected application is no SD */
    if (cmd->lc != 0)
        return sim_fail(r, SW_WRONG_LENGTH);
    if (cmd->p1 != 0x00 || cmd->p2 != 0x66)
        return sim_fail(r, SW_REF_NOT_FOUND); /* the card serves no other data object */
    static const uint8_t crd[] = {0x01}, mgmt[] = {0x02, 0x02, 0x02, 0x01}, ident[] = {0x03};
    const uint8_t i = sd->i_param;
    const uint8_t scp[4] = {0x04, 0x03, (uint8_t)(i >= 0x80 ? 0x81 : i), (uint8_t)(i & 0x7F)};
    uint8_t body[64];
    size_t n = gp_oid(body, 0, crd, sizeof(crd));
    n += gp_oid(body + n, 0x60, mgmt, sizeof(mgmt));
    n += gp_oid(body + n, 0x63, ident, sizeof(ident));
    n += gp_oid(body + n, 0x64, scp, i >= 0x80 ? 4 : 3);
    uint8_t *o = r->buf;
    o[0] = 0x66;
    o[1] = (uint8_t)(n + 2);
    o[2] = 0x73;
    o[3] = (uint8_t)n;
    memcpy(o + 4, body, n);
    const size_t len = n + 4;
    /* Le shorter than the object: 6Cxx with the exact length (ISO 7816-4 5.3.4) */
    if (cmd->has_le && cmd->ne < len)
        return sim_fail(r, (uint16_t)(0x6C00 | len));
    r->len = len;
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
    else if (!valid_level(level))
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

uint16_t sim_scp_seal(scb_sim_t *sim, uint8_t chn, const uint8_t *data, size_t len, uint16_t sw,
                      unsigned flags, size_t max_data, uint8_t *out, size_t *out_len, bool *rmac)
{
    sim_session_t *s = &sim->ch[chn].scp;
    size_t n = len;
    *rmac = false;
    if (s->state != SIM_SCP_OPEN || !(s->level & SL_RMAC) ||
        (sim_sw_is_error(sw) && !(flags & SCB_SIM_SEAL_ERROR_RMAC))) {
        if (len > max_data)
            return SW_WRONG_LENGTH;
        memmove(out, data, len);
    } else {
        size_t ml = mac_len(s);
        if ((s->level & SL_RENC) && len > 0 && !(flags & SCB_SIM_SEAL_NO_ENC)) {
            uint8_t icv[16], block[16];
            /* 80 00.. to whole blocks (Amd D 6.2.7), or zeros only */
            n = (flags & SCB_SIM_SEAL_NO_PAD) ? (len + 15) / 16 * 16 : (len / 16 + 1) * 16;
            if ((flags & SIM_SEAL_OVERPAD) && n + 16 + ml <= max_data)
                n += 16;
            if (n + ml > max_data)
                return SW_WRONG_LENGTH;
            memmove(out, data, len);
            memset(out + len, 0x00, n - len);
            if (!(flags & SCB_SIM_SEAL_NO_PAD))
                out[len] = 0x80;
            if (flags & SIM_SEAL_BAD_PAD)
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

uint16_t sim_scp_wrap(scb_sim_t *sim, uint8_t chn, const uint8_t *data, size_t len, uint16_t sw,
                      size_t max_data, uint8_t *out, size_t *out_len, bool *rmac)
{
    unsigned flags = 0;
    if (sim_sw_is_error(sw)) {
        if (sim->faults.rmac_on_error)
            flags |= SCB_SIM_SEAL_ERROR_RMAC;
        else
            len = 0; /* error status: no data, no R-MAC */
    }
    if (sim->faults.renc_overpad)
        flags |= SIM_SEAL_OVERPAD;
    if (sim_fault_bad_padding_now(sim))
        flags |= SIM_SEAL_BAD_PAD;
    return sim_scp_seal(sim, chn, data, len, sw, flags, max_data, out, out_len, rmac);
}

int scb_sim_seal(scb_sim_t *sim, const uint8_t *data, size_t len, uint16_t sw, unsigned flags,
                 uint8_t *out, size_t *out_len)
{
    const unsigned known = SCB_SIM_SEAL_NO_PAD | SCB_SIM_SEAL_NO_ENC | SCB_SIM_SEAL_ERROR_RMAC;
    if (sim == NULL || (data == NULL && len != 0) || out == NULL || out_len == NULL ||
        *out_len < 2 || (flags & ~known) != 0)
        return SCB_E_INVALID_ARG;
    bool rmac;
    if (sim_scp_seal(sim, sim->cur_chn, data, len, sw, flags, *out_len - 2, out, out_len, &rmac) !=
        0)
        return SCB_E_BUFFER_TOO_SMALL;
    return SCB_OK;
}

int scb_sim_open_session(scb_sim_t *sim, uint8_t channel, const uint8_t *s_enc,
                         const uint8_t *s_mac, const uint8_t *s_rmac, size_t key_len,
                         uint8_t level, int s16, const uint8_t *mcv)
{
    if (sim == NULL || s_enc == NULL || s_mac == NULL || s_rmac == NULL ||
        (key_len != 16 && key_len != 24 && key_len != 32) || !valid_level(level) ||
        channel > sim->max_channel || !sim->ch[channel].open)
        return SCB_E_INVALID_ARG;
    sim_session_t *s = &sim->ch[channel].scp;
    sim_scp_close(s);
    memcpy(s->s_enc, s_enc, key_len);
    memcpy(s->s_mac, s_mac, key_len);
    memcpy(s->s_rmac, s_rmac, key_len);
    if (mcv != NULL)
        memcpy(s->mcv, mcv, 16);
    s->key_len = key_len;
    s->s16 = s16 != 0;
    s->level = level;
    s->state = SIM_SCP_OPEN;
    return SCB_OK;
}

/* ---- PUT KEY (GP 11.8, Amd D 7.x): 80|ch D8 <old KVN|00> 81 Lc
 *      <new KVN> { 88 LL [keylen] <key under DEK> [03 <KCV> | 00] } x3 ---- */
#define KEY_TYPE_AES 0x88

uint16_t sim_put_key_parse(scb_sim_t *sim, const uint8_t *dek, size_t dek_len,
                           const uint8_t *data, size_t len, sim_put_key_t *out,
                           const char **why)
{
    static const uint8_t zero_iv[16];
    const char *bad = NULL;
    size_t pos = 1;
    memset(out, 0, sizeof(*out));
    if (len < 1) {
        *why = "no key version";
        return SW_WRONG_DATA;
    }
    out->new_kvn = data[0];
    while (bad == NULL && pos < len) {
        const size_t k = out->count;
        if (k == 3) {
            bad = "more than 3 key components";
            break;
        }
        if (len - pos < 2) {
            bad = "truncated key component header";
            break;
        }
        if (data[pos] != KEY_TYPE_AES) {
            bad = "key type is not AES (88)";
            break;
        }
        size_t ll = data[pos + 1], kl, el;
        const uint8_t *enc;
        pos += 2;
        if (ll == 0 || ll > len - pos) {
            bad = ll == 0 ? "empty key component" : "key component longer than the data";
            break;
        }
        if (ll % 16 == 0) { /* short form: the encrypted key itself */
            kl = ll;
            enc = data + pos;
            el = ll;
        } else { /* L+1 | L | key padded to whole blocks */
            kl = data[pos];
            enc = data + pos + 1;
            el = ll - 1;
        }
        if ((kl != 16 && kl != 24 && kl != 32) || el != (kl + 15) / 16 * 16) {
            bad = "key component does not hold an AES key of its stated length";
            break;
        }
        if (k > 0 && kl != out->key_len) {
            bad = "key components of different lengths";
            break;
        }
        uint8_t plain[32];
        if (sim_aes_cbc(sim->crypto, false, dek, dek_len, zero_iv, enc, el, plain) != 0 ||
            sim_scp_kcv(sim, plain, kl, out->kcv[k]) != 0) {
            sim_cleanse(plain, sizeof(plain));
            sim_cleanse(out, sizeof(*out));
            *why = "crypto failure";
            return 0x6F00;
        }
        memcpy(out->key[k], plain, kl);
        sim_cleanse(plain, sizeof(plain));
        out->key_len = kl;
        out->count++;
        pos += ll;
        /* KCV: 03 <KCV> or 00; left out by some hosts (the next component
         * starts with 88, which is no KCV length) */
        if (pos < len && data[pos] != KEY_TYPE_AES) {
            size_t cl = data[pos++];
            if (cl != 0 && cl != 3)
                bad = "KCV length is neither 00 nor 03";
            else if (cl > len - pos)
                bad = "KCV cut short";
            else if (cl == 3 && !sim_ct_equal(data + pos, out->kcv[k], 3))
                bad = "KCV does not match the decrypted key";
            out->had_kcv[k] = cl == 3;
            pos += cl;
        }
    }
    if (bad != NULL) {
        sim_cleanse(out, sizeof(*out));
        *why = bad;
        return SW_WRONG_DATA;
    }
    return 0;
}

int sim_scp_put_key(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd, sim_resp_t *r)
{
    sim_session_t *s = &sim->ch[ex->chn].scp;
    sim_sd_t *sd = &sim->sd;
    sim_put_key_t pk;
    const char *why = NULL;

    if (!ex->secured || !(ex->level & SL_CMAC) || s->state != SIM_SCP_OPEN || !s->has_dek)
        return sim_fail(r, SW_SECURITY);
    if (cmd->p2 != 0x81 || cmd->p1 > 0x7F)
        return sim_fail(r, SW_WRONG_P1P2);
    if (cmd->lc < 1)
        return sim_fail(r, SW_WRONG_LENGTH);
    uint16_t sw = sim_put_key_parse(sim, s->dek, s->key_len, cmd->data, cmd->lc, &pk, &why);
    /* a key set is ENC, MAC and DEK under a KVN of 01..7F */
    if (sw == 0 && (pk.count != 3 || pk.new_kvn == 0 || pk.new_kvn > 0x7F))
        sw = SW_WRONG_DATA;

    if (sw == 0) {
        int slot = -1, clash = -1;
        for (int k = 0; k < SIM_MAX_KEYSETS; k++) {
            if (sd->keys[k].used && sd->keys[k].kvn == pk.new_kvn)
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
            ks->kvn = pk.new_kvn;
            ks->len = pk.key_len;
            memcpy(ks->enc, pk.key[0], pk.key_len);
            memcpy(ks->mac, pk.key[1], pk.key_len);
            memcpy(ks->dek, pk.key[2], pk.key_len);
        }
    }
    if (sw != 0) {
        sim_cleanse(&pk, sizeof(pk));
        return sim_fail(r, sw);
    }
    r->buf[0] = pk.new_kvn;
    memcpy(r->buf + 1, pk.kcv, sizeof(pk.kcv));
    r->len = 1 + sizeof(pk.kcv);
    sim_cleanse(&pk, sizeof(pk));
    return sim_sw(r, SW_OK);
}
