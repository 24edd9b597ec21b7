#include "sim_testhost.h"

static uint16_t sw_of(const uint8_t *r, size_t n)
{
    return n >= 2 ? (uint16_t)(r[n - 2] << 8 | r[n - 1]) : 0;
}

void th_init(th_t *h, scb_sim_t *sim, const char *key_hex)
{
    memset(h, 0, sizeof(*h));
    h->sim = sim;
    if (sim_crypto_new(&h->c) != 0)
        abort();
    if (key_hex != NULL)
        th_keys(h, key_hex, key_hex, key_hex);
    for (int i = 0; i < 16; i++)
        h->host_challenge[i] = (uint8_t)(0xA0 + i);
}

void th_keys(th_t *h, const char *enc, const char *mac, const char *dek)
{
    h->klen = tk_unhex(enc, h->enc, sizeof(h->enc));
    tk_unhex(mac, h->mac, sizeof(h->mac));
    tk_unhex(dek, h->dek, sizeof(h->dek));
}

void th_free(th_t *h)
{
    sim_crypto_free(&h->c);
}

uint8_t th_cla(const th_t *h, uint8_t cla, bool sm)
{
    if (h->chn < 4)
        return (uint8_t)(cla | h->chn | (sm ? 0x04 : 0));
    return (uint8_t)((cla & 0x80) | 0x40 | (h->chn - 4) | (sm ? 0x20 : 0));
}

uint16_t th_rawb(th_t *h, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *len)
{
    uint8_t buf[SIM_MAX_RESP];
    size_t rl = sizeof(buf);
    int rc = scb_sim_process(h->sim, cmd, n, buf, &rl);
    if (rc != 0) {
        *len = 0;
        return 0;
    }
    if (resp != NULL)
        memcpy(resp, buf, rl - 2);
    *len = rl - 2;
    return sw_of(buf, rl);
}

uint16_t th_raw(th_t *h, const char *hex, uint8_t *resp, size_t *len)
{
    uint8_t cmd[1024];
    size_t n = tk_unhex(hex, cmd, sizeof(cmd));
    return th_rawb(h, cmd, n, resp, len);
}

uint16_t th_clear(th_t *h, const char *hex, uint8_t *resp, size_t *len)
{
    uint8_t cmd[1024];
    size_t n = tk_unhex(hex, cmd, sizeof(cmd));
    cmd[0] = th_cla(h, cmd[0], false);
    return th_rawb(h, cmd, n, resp, len);
}

void th_kdf(th_t *h, const uint8_t *key, size_t klen, uint8_t constant, size_t lbits,
            const uint8_t *ctx, size_t ctx_len, uint8_t *out)
{
    uint8_t dd[16] = {0}, blk[16];
    dd[11] = constant;
    dd[13] = (uint8_t)(lbits >> 8);
    dd[14] = (uint8_t)lbits;
    for (size_t done = 0, i = 1; done < lbits / 8; i++) {
        dd[15] = (uint8_t)i;
        const uint8_t *p[2] = {dd, ctx};
        size_t l[2] = {16, ctx_len};
        if (sim_cmac(h->c, key, klen, 2, p, l, blk) != 0)
            abort();
        size_t n = lbits / 8 - done < 16 ? lbits / 8 - done : 16;
        memcpy(out + done, blk, n);
        done += n;
    }
}

void th_derive(th_t *h, const uint8_t *card_challenge)
{
    size_t cl = h->s16 ? 16 : 8;
    uint8_t ctx[32];
    memcpy(ctx, h->host_challenge, cl);
    memcpy(ctx + cl, card_challenge, cl);
    th_kdf(h, h->enc, h->klen, 0x04, h->klen * 8, ctx, 2 * cl, h->s_enc);
    th_kdf(h, h->mac, h->klen, 0x06, h->klen * 8, ctx, 2 * cl, h->s_mac);
    th_kdf(h, h->mac, h->klen, 0x07, h->klen * 8, ctx, 2 * cl, h->s_rmac);
}

static void mac_into(th_t *h, uint8_t cla_for_mac, const uint8_t *hdr3, const uint8_t *lc,
                     size_t lcn, const uint8_t *data, size_t dn)
{
    const uint8_t *p[5] = {h->mcv, &cla_for_mac, hdr3, lc, data};
    size_t l[5] = {16, 1, 3, lcn, dn};
    if (sim_cmac(h->c, h->s_mac, h->klen, 5, p, l, h->mcv) != 0)
        abort();
}

uint16_t th_open(th_t *h, uint8_t kvn, uint8_t level)
{
    uint8_t cmd[64], resp[300];
    size_t cl = h->s16 ? 16 : 8, ml = cl, n;
    h->open = false;
    cmd[0] = th_cla(h, 0x80, false);
    cmd[1] = 0x50;
    cmd[2] = kvn;
    cmd[3] = 0x00;
    cmd[4] = (uint8_t)cl;
    memcpy(cmd + 5, h->host_challenge, cl);
    cmd[5 + cl] = 0x00;
    uint16_t sw = th_rawb(h, cmd, 6 + cl, resp, &n);
    if (sw != 0x9000)
        return sw;
    memcpy(h->iu, resp, n);
    h->iu_len = n;
    if (n < 13 + 2 * cl)
        return 0x0002;
    th_derive(h, resp + 13);
    uint8_t ctx[32], cc[16], hc[16];
    memcpy(ctx, h->host_challenge, cl);
    memcpy(ctx + cl, resp + 13, cl);
    th_kdf(h, h->s_mac, h->klen, 0x00, cl * 8, ctx, 2 * cl, cc);
    if (memcmp(cc, resp + 13 + cl, cl) != 0)
        return 0x0001;
    th_kdf(h, h->s_mac, h->klen, 0x01, cl * 8, ctx, 2 * cl, hc);
    memset(h->mcv, 0, 16);
    memset(h->counter, 0, 16);
    uint8_t ea[64];
    ea[0] = th_cla(h, 0x80, true);
    ea[1] = 0x82;
    ea[2] = level;
    ea[3] = 0x00;
    ea[4] = (uint8_t)(cl + ml);
    memcpy(ea + 5, hc, cl);
    uint8_t mcla = h->mac_cla_as_sent ? ea[0] : (uint8_t)(ea[0] & (h->chn < 4 ? ~0x03 : ~0x0F));
    mac_into(h, mcla, ea + 1, ea + 4, 1, hc, cl);
    memcpy(ea + 5 + cl, h->mcv, ml);
    sw = th_rawb(h, ea, 5 + cl + ml, resp, &n);
    if (sw == 0x9000) {
        h->open = true;
        h->level = level;
    }
    return sw;
}

void th_session_from(th_t *h, const uint8_t *s_enc, const uint8_t *s_mac, const uint8_t *s_rmac,
                     size_t klen, uint8_t level, const uint8_t *ea, size_t ea_len)
{
    size_t ml = h->s16 ? 16 : 8;
    h->klen = klen;
    memcpy(h->s_enc, s_enc, klen);
    memcpy(h->s_mac, s_mac, klen);
    memcpy(h->s_rmac, s_rmac, klen);
    memset(h->mcv, 0, 16);
    memset(h->counter, 0, 16);
    uint8_t mcla = h->mac_cla_as_sent ? ea[0] : (uint8_t)(ea[0] & (h->chn < 4 ? ~0x03 : ~0x0F));
    mac_into(h, mcla, ea + 1, ea + 4, 1, ea + 5, ea_len - 5 - ml);
    h->level = level;
    h->open = true;
}

size_t th_wrap(th_t *h, const uint8_t *plain, size_t n, uint8_t *wire, size_t cap)
{
    sim_cmd_t c;
    size_t ml = h->s16 ? 16 : 8, dn;
    uint8_t data[600];
    if (sim_apdu_parse(plain, n, &c) != 0 || c.lc > 500 || cap < 5 + (c.lc / 16 + 1) * 16 + 16 + 1)
        abort();
    if (!h->count_data_only || c.lc > 0) {
        for (int i = 15; i >= 0; i--)
            if (++h->counter[i] != 0)
                break;
    }
    if (c.lc > 0)
        memcpy(data, c.data, c.lc);
    dn = c.lc;
    if ((h->level & 0x02) && c.lc > 0) {
        uint8_t icv[16];
        dn = (c.lc / 16 + 1) * 16;
        memset(data + c.lc, 0, dn - c.lc);
        data[c.lc] = 0x80;
        if (sim_aes_ecb(h->c, h->s_enc, h->klen, h->counter, icv) != 0 ||
            sim_aes_cbc(h->c, true, h->s_enc, h->klen, icv, data, dn, data) != 0)
            abort();
    }
    size_t p = 0;
    wire[p++] = th_cla(h, c.cla, true);
    wire[p++] = c.ins;
    wire[p++] = c.p1;
    wire[p++] = c.p2;
    wire[p++] = (uint8_t)(dn + ml);
    uint8_t mcla = h->mac_cla_as_sent ? wire[0]
                                      : (uint8_t)(wire[0] & (h->chn < 4 ? ~0x03 : ~0x0F));
    mac_into(h, mcla, wire + 1, wire + 4, 1, data, dn);
    memcpy(wire + p, data, dn);
    p += dn;
    memcpy(wire + p, h->mcv, ml);
    p += ml;
    if (c.has_le)
        wire[p++] = (uint8_t)c.ne;
    return p;
}

uint16_t th_unwrap(th_t *h, uint8_t *resp, size_t *len, int *err)
{
    size_t ml = h->s16 ? 16 : 8, n = *len;
    uint16_t sw = sw_of(resp, n + 2);
    *err = 0;
    bool error = !(sw == 0x9000 || (sw >> 8) == 0x62 || (sw >> 8) == 0x63);
    if (!(h->level & 0x10) || error)
        return sw;
    if (n < ml) {
        *err = 1;
        return sw;
    }
    uint8_t swb[2] = {(uint8_t)(sw >> 8), (uint8_t)sw}, full[16];
    const uint8_t *p[3] = {h->mcv, resp, swb};
    size_t l[3] = {16, n - ml, 2};
    sim_cmac(h->c, h->s_rmac, h->klen, 3, p, l, full);
    if (memcmp(full, resp + n - ml, ml) != 0) {
        *err = 1;
        return sw;
    }
    n -= ml;
    if ((h->level & 0x20) && n > 0) {
        uint8_t blk[16], icv[16];
        memcpy(blk, h->counter, 16);
        blk[0] = 0x80;
        if (n % 16 != 0) {
            *err = 2;
            return sw;
        }
        sim_aes_ecb(h->c, h->s_enc, h->klen, blk, icv);
        sim_aes_cbc(h->c, false, h->s_enc, h->klen, icv, resp, n, resp);
        while (n > 0 && resp[n - 1] == 0)
            n--;
        if (n == 0 || resp[n - 1] != 0x80) {
            *err = 2;
            return sw;
        }
        n--;
    }
    *len = n;
    return sw;
}

uint16_t th_sendb(th_t *h, const uint8_t *plain, size_t n, uint8_t *resp, size_t *len, int *err)
{
    uint8_t wire[700], buf[SIM_MAX_RESP];
    size_t wn = th_wrap(h, plain, n, wire, sizeof(wire)), rl = sizeof(buf);
    *err = 0;
    if (scb_sim_process(h->sim, wire, wn, buf, &rl) != 0 || rl < 2) {
        *len = 0;
        return 0;
    }
    rl -= 2;
    uint16_t sw = sw_of(buf, rl + 2);
    buf[rl] = (uint8_t)(sw >> 8);
    buf[rl + 1] = (uint8_t)sw;
    th_unwrap(h, buf, &rl, err);
    if (resp != NULL)
        memcpy(resp, buf, rl);
    *len = rl;
    return sw;
}

uint16_t th_send(th_t *h, const char *plain_hex, uint8_t *resp, size_t *len, int *err)
{
    uint8_t cmd[600];
    size_t n = tk_unhex(plain_hex, cmd, sizeof(cmd));
    return th_sendb(h, cmd, n, resp, len, err);
}
