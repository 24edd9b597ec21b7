/*
 * One APDU through the card: parse (ISO 7816-4 5.1), decode the class byte
 * (5.4.1: channels 0-3 and 4-19, SM indication, chaining), check the
 * logical channel, route secure messaging through the Security Domain,
 * run the command, wrap the answer, and emulate T=0 (61xx + GET RESPONSE)
 * when the profile asks for it.
 */
#include "sim_internal.h"

#include <string.h>

int sim_apdu_parse(const uint8_t *b, size_t n, sim_cmd_t *c)
{
    memset(c, 0, sizeof(*c));
    if (n < 4)
        return SW_WRONG_LENGTH;
    c->cla = b[0];
    c->ins = b[1];
    c->p1 = b[2];
    c->p2 = b[3];
    if (n == 4)
        return 0; /* case 1 */
    if (n == 5) { /* case 2 short */
        c->has_le = true;
        c->ne = b[4] == 0 ? 256 : b[4];
        return 0;
    }
    if (b[4] != 0) { /* short Lc */
        size_t lc = b[4];
        if (n == 5 + lc) {
            c->lc = lc;
            c->data = b + 5;
            return 0;
        }
        if (n == 6 + lc) {
            c->lc = lc;
            c->data = b + 5;
            c->has_le = true;
            c->ne = b[5 + lc] == 0 ? 256 : b[5 + lc];
            return 0;
        }
        return SW_WRONG_LENGTH;
    }
    /* extended: 00 then two bytes */
    c->extended = true;
    if (n == 7) {
        size_t le = (size_t)b[5] << 8 | b[6];
        c->has_le = true;
        c->ne = le == 0 ? 65536 : le;
        return 0;
    }
    if (n < 7)
        return SW_WRONG_LENGTH;
    size_t lc = (size_t)b[5] << 8 | b[6];
    if (lc == 0)
        return SW_WRONG_LENGTH;
    if (n == 7 + lc) {
        c->lc = lc;
        c->data = b + 7;
        return 0;
    }
    if (n == 9 + lc) {
        size_t le = (size_t)b[7 + lc] << 8 | b[8 + lc];
        c->lc = lc;
        c->data = b + 7;
        c->has_le = true;
        c->ne = le == 0 ? 65536 : le;
        return 0;
    }
    return SW_WRONG_LENGTH;
}

size_t sim_apdu_encode(const sim_cmd_t *c, uint8_t *out, size_t cap)
{
    bool ext = c->extended || c->lc > 255 || (c->has_le && c->ne > 256);
    size_t need = 4 + (c->lc ? (ext ? 3 : 1) + c->lc : 0) + (c->has_le ? (ext ? (c->lc ? 2 : 3) : 1) : 0);
    if (need > cap || c->lc > 65535 || (c->has_le && (c->ne == 0 || c->ne > 65536)))
        return 0;
    size_t p = 0;
    out[p++] = c->cla;
    out[p++] = c->ins;
    out[p++] = c->p1;
    out[p++] = c->p2;
    if (c->lc) {
        if (ext) {
            out[p++] = 0;
            out[p++] = (uint8_t)(c->lc >> 8);
        }
        out[p++] = (uint8_t)c->lc;
        memcpy(out + p, c->data, c->lc);
        p += c->lc;
    }
    if (c->has_le) {
        if (ext) {
            if (!c->lc)
                out[p++] = 0;
            out[p++] = (uint8_t)(c->ne >> 8); /* 65536 encodes as 00 00 */
        }
        out[p++] = (uint8_t)c->ne;
    }
    return p;
}

typedef struct cla_info {
    int chn;
    bool sm;
} cla_info_t;

/* ISO 7816-4 5.4.1 and GP 11.1.4: b8 set = proprietary (GP 80-87, C0-EF),
 * same layout below it. 000x xxcc: first interindustry, SM in b4-b3
 * (GP uses 01 = 0x04), chaining b5, channel cc. 01xs xxxx: further
 * interindustry, SM b6, chaining b5, channel 4 + b4-b1. Returns 0 or SW. */
static uint16_t decode_cla(uint8_t cla, cla_info_t *out)
{
    uint8_t inter = cla & 0x7F;
    if (cla == 0xFF)
        return SW_CLA_NOT_SUPPORTED; /* reserved for PPS */
    if (inter & 0x40) {
        if (inter & 0x10)
            return SW_CHAINING_NOT_SUPPORTED;
        out->chn = 4 + (inter & 0x0F);
        out->sm = (inter & 0x20) != 0;
        return 0;
    }
    if (inter & 0x20)
        return SW_CLA_NOT_SUPPORTED; /* 001x xxxx: reserved */
    if (inter & 0x10)
        return SW_CHAINING_NOT_SUPPORTED;
    uint8_t sm = (inter >> 2) & 0x03;
    if (sm == 0x02 || sm == 0x03)
        return SW_SM_NOT_SUPPORTED; /* ISO SM formats: only the GP (proprietary) one */
    out->chn = inter & 0x03;
    out->sm = sm == 0x01;
    return 0;
}

int sim_cla_channel(uint8_t cla)
{
    cla_info_t ci;
    return decode_cla(cla, &ci) == 0 ? ci.chn : -1;
}

/* T=0 GET RESPONSE (ISO 7816-4 7.6.1) from the channel's pending data. */
static void get_response(sim_channel_t *ch, const sim_cmd_t *cmd, uint8_t *out, size_t *out_len)
{
    size_t remain = ch->pending_len - ch->pending_off, n = remain;
    uint16_t sw;
    if (cmd->p1 != 0 || cmd->p2 != 0 || cmd->lc != 0) {
        sw = cmd->lc != 0 ? SW_WRONG_LENGTH : SW_WRONG_P1P2;
        n = 0;
    } else {
        size_t ne = cmd->has_le ? cmd->ne : 256;
        if (ne < remain) {
            n = ne;
            size_t left = remain - ne;
            sw = (uint16_t)(0x6100 | (left > 255 ? 0 : left));
        } else if (ne > remain && ne != 256) {
            n = 0;
            sw = (uint16_t)(0x6C00 | remain); /* exact length in SW2 */
        } else {
            sw = ch->pending_sw;
        }
    }
    memcpy(out, ch->pending + ch->pending_off, n);
    ch->pending_off += n;
    if (sw == ch->pending_sw)
        ch->pending_len = ch->pending_off = 0;
    out[n] = (uint8_t)(sw >> 8);
    out[n + 1] = (uint8_t)sw;
    *out_len = n + 2;
}

/* The harness's hook, or the card's own command set. Returns true when
 * the hook gave the wire answer itself (r holds it: nothing to wrap). */
static bool execute(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd, const uint8_t *raw,
                    size_t raw_len, sim_resp_t *r)
{
    if (sim->hook != NULL) {
        size_t cap = r->cap + 2;
        int how = sim->hook(sim->hook_user, raw, raw_len, r->buf, &cap);
        if (how == SCB_SIM_HOOK_ANSWER || how == SCB_SIM_HOOK_WIRE) {
            if (cap >= 2 && cap <= r->cap + 2) {
                r->len = cap - 2;
                r->sw = (uint16_t)(r->buf[cap - 2] << 8 | r->buf[cap - 1]);
                return how == SCB_SIM_HOOK_WIRE;
            }
            sim_fail(r, 0x6F00);
            return false;
        }
    }
    sim_iso_execute(sim, ex, cmd, r);
    return false;
}

/* data || SW of r, as it is, into out; returns the length. */
static size_t plain_answer(const sim_resp_t *r, uint8_t *out)
{
    memcpy(out, r->buf, r->len);
    out[r->len] = (uint8_t)(r->sw >> 8);
    out[r->len + 1] = (uint8_t)r->sw;
    return r->len + 2;
}

/* Process one APDU into sim->wrapped; returns the response length. */
static size_t process(scb_sim_t *sim, const uint8_t *apdu, size_t len)
{
    uint8_t *out = sim->wrapped;
    sim_cmd_t cmd, plain;
    cla_info_t ci = {0, false};
    sim_resp_t r = {sim->rdata, SIM_MAX_RESP - 2, 0, SW_OK};
    sim_exec_t ex = {0, false, 0, SIM_SHORT_MAX};
    uint16_t sw = sim_apdu_parse(apdu, len, &cmd);
    size_t n = 0;
    bool rmac = false;

    if (sw == 0 && cmd.extended && !sim->extended)
        sw = SW_WRONG_LENGTH; /* the ATR does not announce extended length */
    if (sw == 0)
        sw = decode_cla(cmd.cla, &ci);
    if (sw == 0 && ((unsigned)ci.chn > sim->max_channel || !sim->ch[ci.chn].open))
        sw = SW_CHANNEL_NOT_SUPPORTED;
    if (sw != 0)
        goto status_only;

    sim_channel_t *ch = &sim->ch[ci.chn];
    ex.chn = (uint8_t)ci.chn;
    sim->cur_chn = ex.chn; /* where scb_sim_seal seals */
    ex.max_resp = cmd.extended ? SIM_EXT_MAX : SIM_SHORT_MAX;

    /* T=0: GET RESPONSE serves the pending data; anything else drops it. */
    if (cmd.ins == 0xC0 && !(cmd.cla & 0x80) && !ci.sm && ch->pending_len > 0) {
        get_response(ch, &cmd, out, &n);
        return n;
    }
    ch->pending_len = ch->pending_off = 0;

    /* EXTERNAL AUTHENTICATE must follow INITIALIZE UPDATE directly. */
    if (ch->scp.state == SIM_SCP_INIT && !(cmd.ins == 0x82 && (cmd.cla & 0x80) && ci.sm))
        sim_scp_close(&ch->scp);

    if (ci.sm && cmd.ins == 0x82 && (cmd.cla & 0x80)) {
        sim_scp_external_authenticate(sim, ex.chn, &cmd, apdu, &r);
        sw = r.sw;
        goto status_only;
    }
    if (ci.sm) {
        uint8_t level = ch->scp.level;
        sw = sim_scp_unwrap(sim, ex.chn, &cmd, apdu, len, &plain);
        if (sw != 0)
            goto status_only;
        ex.secured = true;
        ex.level = level;
        ex.max_resp = sim_scp_max_plain(sim, ex.chn, ex.max_resp);
        size_t plen = sim_apdu_encode(&plain, sim->plain, SIM_MAX_CMD);
        if (execute(sim, &ex, &plain, sim->plain, plen, &r)) {
            n = plain_answer(&r, out);
        } else {
            /* A session the command ended (SELECT of a DF, channel closed)
             * leaves the response unwrapped. */
            sw = sim_scp_wrap(sim, ex.chn, r.buf, r.len, r.sw,
                              cmd.extended ? SIM_EXT_MAX : SIM_SHORT_MAX, out, &n, &rmac);
            if (sw != 0)
                goto status_only;
        }
    } else {
        execute(sim, &ex, &cmd, apdu, len, &r);
        n = plain_answer(&r, out);
    }
    sim_fault_after(sim, out, n, rmac);

    /* T=0 (ISO 7816-3 12.2): a command that carried data cannot return data
     * in the same exchange: announce it with 61xx. */
    if (sim->t0 && cmd.lc > 0 && n > 2 && n - 2 <= sizeof(ch->pending)) {
        ch->pending_len = n - 2;
        ch->pending_off = 0;
        ch->pending_sw = (uint16_t)(out[n - 2] << 8 | out[n - 1]);
        memcpy(ch->pending, out, n - 2);
        out[0] = 0x61;
        out[1] = (uint8_t)(ch->pending_len > 255 ? 0 : ch->pending_len);
        return 2;
    }
    return n;

status_only:
    out[0] = (uint8_t)(sw >> 8);
    out[1] = (uint8_t)sw;
    return 2;
}

int scb_sim_process(scb_sim_t *sim, const uint8_t *cmd, size_t len, uint8_t *resp,
                    size_t *resp_len)
{
    uint16_t sw = 0;
    size_t n;
    if (sim == NULL || (cmd == NULL && len != 0) || resp == NULL || resp_len == NULL ||
        len > SIM_MAX_CMD)
        return SCB_E_INVALID_ARG;
    if (sim_line_starts(sim, cmd, len)) {
        int rc = sim_line_next(sim);
        if (rc != SCB_OK)
            return rc;
    }
    sim->apdus++;
    int f = sim_fault_before(sim, &sw);
    if (f == 1)
        return SCB_E_CARD_REMOVED;
    if (f == 2) {
        sim->wrapped[0] = (uint8_t)(sw >> 8);
        sim->wrapped[1] = (uint8_t)sw;
        n = 2;
    } else {
        n = process(sim, cmd, len);
    }
    if (*resp_len < n) {
        *resp_len = n;
        return SCB_E_BUFFER_TOO_SMALL;
    }
    memcpy(resp, sim->wrapped, n);
    *resp_len = n;
    return SCB_OK;
}
