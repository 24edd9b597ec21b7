/*
 * The card's commands: ISO/IEC 7816-4 and ETSI TS 102 221 (SELECT,
 * READ BINARY, UPDATE BINARY, READ RECORD, MANAGE CHANNEL, VERIFY), plus
 * the routing of the GlobalPlatform commands to the Security Domain.
 * Commands arrive plain (already unwrapped) with their channel checked.
 */
#include "sim_internal.h"

#include <string.h>

void sim_channel_reset(scb_sim_t *sim, uint8_t chn, bool open, int df)
{
    sim_channel_t *ch = &sim->ch[chn];
    sim_scp_close(&ch->scp);
    ch->open = open;
    ch->pending_len = ch->pending_off = 0;
    ch->pending_sw = 0;
    sim_fs_set_current(sim, ch, df);
}

/* Le = 00 (short) / 0000 (extended), or no Le at all: "all available bytes
 * up to the maximum" (ISO 7816-4 5.1). A missing Le is taken as 00 because
 * hosts commonly send case-3 commands that return data (e.g. SELECT 04). */
static bool le_max(const sim_cmd_t *cmd)
{
    return !cmd->has_le || cmd->ne == SIM_EXT_MAX || (cmd->ne == SIM_SHORT_MAX && !cmd->extended);
}

static bool put_data(sim_resp_t *r, const uint8_t *d, size_t n)
{
    if (n > r->cap - r->len)
        return false;
    memcpy(r->buf + r->len, d, n);
    r->len += n;
    return true;
}

/* ---- SELECT (TS 102 221 11.1.1, ISO 7816-4 11.2.2) ---- */
static int cmd_select(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd, sim_resp_t *r)
{
    sim_channel_t *ch = &sim->ch[ex->chn];
    uint8_t what = cmd->p2 & 0x0C;   /* 00 FCI, 04 FCP, 08 FMD, 0C nothing */
    uint8_t occurrence = cmd->p2 & 0x03;
    int target;

    if ((cmd->p2 & 0xF0) != 0 || what == 0x08)
        return sim_fail(r, SW_WRONG_P1P2);
    if (cmd->p1 != 0x04 && occurrence != 0)
        return sim_fail(r, SW_WRONG_P1P2);

    switch (cmd->p1) {
    case 0x00: /* by FID; empty = MF */
        if (cmd->lc == 0)
            target = 0;
        else if (cmd->lc != 2)
            return sim_fail(r, SW_WRONG_LENGTH);
        else
            target = sim_fs_resolve_fid(sim, ch, (uint16_t)(cmd->data[0] << 8 | cmd->data[1]));
        break;
    case 0x01: /* child DF */
    case 0x02: /* EF under the current DF */
        if (cmd->lc != 2)
            return sim_fail(r, SW_WRONG_LENGTH);
        target = sim_fs_child(sim, ch->df, (uint16_t)(cmd->data[0] << 8 | cmd->data[1]));
        if (target >= 0 && (sim->files[target].kind == SIM_DF) != (cmd->p1 == 0x01))
            target = -1;
        if (target < 0)
            target = -SW_NOT_FOUND;
        break;
    case 0x03: /* parent DF */
        if (cmd->lc != 0)
            return sim_fail(r, SW_WRONG_LENGTH);
        target = sim->files[ch->df].parent;
        if (target < 0)
            target = -SW_NOT_FOUND;
        break;
    case 0x04: /* by DF name (AID), right-truncation allowed */
        if (cmd->lc > SIM_MAX_AID)
            return sim_fail(r, SW_WRONG_LENGTH);
        if (occurrence == 0x00)
            target = sim_fs_find_aid(sim, cmd->data, cmd->lc, -1);
        else if (occurrence == 0x02)
            target = sim_fs_find_aid(sim, cmd->data, cmd->lc, ch->adf);
        else
            return sim_fail(r, SW_WRONG_P1P2); /* last / previous occurrence */
        if (target < 0)
            target = -SW_NOT_FOUND;
        break;
    case 0x08: /* path from MF */
    case 0x09: /* path from current DF */
        if (cmd->lc == 0 || cmd->lc % 2 != 0 || cmd->lc > 32)
            return sim_fail(r, SW_WRONG_LENGTH);
        target = sim_fs_resolve_path(sim, ch, cmd->p1 == 0x08, cmd->data, cmd->lc);
        break;
    default:
        return sim_fail(r, SW_WRONG_P1P2);
    }
    if (target < 0)
        return sim_fail(r, (uint16_t)-target);

    /* GP: deselecting the application that owns a secure channel session
     * ends the session; selecting a DF (re-selecting the ADF included) does
     * too. Selecting an EF inside the same application keeps it. */
    int old_adf = ch->adf;
    sim_fs_set_current(sim, ch, target);
    if (sim->files[target].kind == SIM_DF || ch->adf != old_adf)
        sim_scp_close(&ch->scp);

    if (what == 0x0C)
        return sim_sw(r, SW_OK);
    uint8_t fcp[130];
    size_t n = sim_fs_fcp(sim, target, fcp, sizeof(fcp));
    if (n == 0)
        return sim_fail(r, 0x6F00);
    if (what == 0x00) {
        /* FCI template 6F carrying the FCP data objects (ISO 7816-4 5.3.3) */
        fcp[0] = 0x6F;
    }
    if (n > ex->max_resp || !put_data(r, fcp, n))
        return sim_fail(r, SW_WRONG_LENGTH);
    return sim_sw(r, SW_OK);
}

/* EF addressed by READ/UPDATE BINARY P1-P2: SFI (P1 b8 = 1, offset P2) or
 * the current EF (15-bit offset). Returns the index or -SW. */
static int binary_target(scb_sim_t *sim, sim_channel_t *ch, const sim_cmd_t *cmd, size_t *offset)
{
    int idx;
    if (cmd->p1 & 0x80) {
        uint8_t sfi = cmd->p1 & 0x1F;
        if ((cmd->p1 & 0x60) != 0 || sfi == 0)
            return -SW_WRONG_P1P2;
        idx = sim_fs_by_sfi(sim, ch->df, sfi);
        if (idx < 0)
            return -SW_NOT_FOUND;
        sim_fs_set_current(sim, ch, idx); /* the SFI file becomes the current EF */
        *offset = cmd->p2;
    } else {
        if (ch->ef < 0)
            return -SW_NO_EF;
        idx = ch->ef;
        *offset = (size_t)cmd->p1 << 8 | cmd->p2;
    }
    if (sim->files[idx].kind != SIM_TRANSPARENT)
        return -SW_WRONG_STRUCTURE;
    return idx;
}

static int cmd_read_binary(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd,
                            sim_resp_t *r)
{
    size_t off = 0, n;
    uint16_t sw = SW_OK;
    if (cmd->lc != 0)
        return sim_fail(r, SW_WRONG_LENGTH);
    int idx = binary_target(sim, &sim->ch[ex->chn], cmd, &off);
    if (idx < 0)
        return sim_fail(r, (uint16_t)-idx);
    const sim_file_t *f = &sim->files[idx];
    uint16_t ac = sim_fs_access(sim, ex, f, false);
    if (ac != 0)
        return sim_fail(r, ac);
    if (off >= f->size)
        return sim_fail(r, SW_WRONG_OFFSET);
    size_t avail = f->size - off;
    if (le_max(cmd)) {
        /* as much as the path carries (short: 256, less under R-MAC/R-ENC) */
        n = avail < ex->max_resp ? avail : ex->max_resp;
    } else {
        if (cmd->ne > ex->max_resp)
            return sim_fail(r, SW_WRONG_LENGTH); /* would not fit once wrapped */
        n = cmd->ne;
        if (n > avail) {
            n = avail;
            sw = SW_EOF;
        }
    }
    if (!put_data(r, f->data + off, n))
        return sim_fail(r, SW_WRONG_LENGTH);
    return sim_sw(r, sw);
}

static int cmd_update_binary(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd,
                              sim_resp_t *r)
{
    size_t off = 0;
    int idx = binary_target(sim, &sim->ch[ex->chn], cmd, &off);
    if (idx < 0)
        return sim_fail(r, (uint16_t)-idx);
    sim_file_t *f = &sim->files[idx];
    uint16_t ac = sim_fs_access(sim, ex, f, true);
    if (ac != 0)
        return sim_fail(r, ac);
    if (cmd->lc == 0)
        return sim_fail(r, SW_WRONG_LENGTH);
    if (off >= f->size)
        return sim_fail(r, SW_WRONG_OFFSET);
    if (cmd->lc > f->size - off)
        return sim_fail(r, SW_WRONG_LENGTH);
    memcpy(f->data + off, cmd->data, cmd->lc);
    return sim_sw(r, SW_OK);
}

/* READ RECORD (TS 102 221 11.1.5): P2 b8-b4 SFI (0 = current EF), b3-b1
 * mode 04 absolute/current (record pointer unchanged), 02 next, 03 previous. */
static int cmd_read_record(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd,
                            sim_resp_t *r)
{
    sim_channel_t *ch = &sim->ch[ex->chn];
    uint8_t mode = cmd->p2 & 0x07, sfi = cmd->p2 >> 3;
    int idx;
    unsigned rec;

    if (cmd->lc != 0)
        return sim_fail(r, SW_WRONG_LENGTH);
    if (mode != 0x04 && mode != 0x02 && mode != 0x03)
        return sim_fail(r, SW_WRONG_P1P2);
    if ((mode == 0x02 || mode == 0x03) && cmd->p1 != 0)
        return sim_fail(r, SW_WRONG_P1P2);
    if (sfi != 0) {
        if (sfi == 0x1F)
            return sim_fail(r, SW_WRONG_P1P2);
        idx = sim_fs_by_sfi(sim, ch->df, sfi);
        if (idx < 0)
            return sim_fail(r, SW_NOT_FOUND);
        if (idx != ch->ef)
            sim_fs_set_current(sim, ch, idx);
    } else {
        if (ch->ef < 0)
            return sim_fail(r, SW_NO_EF);
        idx = ch->ef;
    }
    const sim_file_t *f = &sim->files[idx];
    if (f->kind != SIM_LINEAR_FIXED)
        return sim_fail(r, SW_WRONG_STRUCTURE);
    uint16_t ac = sim_fs_access(sim, ex, f, false);
    if (ac != 0)
        return sim_fail(r, ac);
    if (mode == 0x04)
        rec = cmd->p1 != 0 ? cmd->p1 : ch->rec;
    else if (mode == 0x02)
        rec = ch->rec + 1;
    else
        rec = ch->rec != 0 ? ch->rec - 1 : (unsigned)f->rec_count;
    if (rec < 1 || rec > f->rec_count)
        return sim_fail(r, SW_RECORD_NOT_FOUND);
    if (!le_max(cmd) && cmd->ne != f->rec_len)
        return sim_fail(r, (uint16_t)(0x6C00 | (f->rec_len & 0xFF))); /* exact length in SW2 */
    if (f->rec_len > ex->max_resp)
        return sim_fail(r, SW_WRONG_LENGTH);
    if (mode != 0x04)
        ch->rec = rec;
    if (!put_data(r, f->data + (rec - 1) * f->rec_len, f->rec_len))
        return sim_fail(r, SW_WRONG_LENGTH);
    return sim_sw(r, SW_OK);
}

/* MANAGE CHANNEL (TS 102 221 11.1.17, ISO 7816-4 11.1.2). */
static int cmd_manage_channel(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd,
                               sim_resp_t *r)
{
    if (cmd->lc != 0)
        return sim_fail(r, SW_WRONG_LENGTH);
    if (cmd->p1 == 0x00) {
        unsigned c = cmd->p2;
        if (c == 0) {
            for (c = 1; c <= sim->max_channel && sim->ch[c].open; c++)
                ;
            if (c > sim->max_channel)
                return sim_fail(r, SW_FUNC_NOT_SUPPORTED); /* none left */
        } else if (c >= SIM_MAX_CHANNELS) {
            return sim_fail(r, SW_WRONG_P1P2);
        } else if (c > sim->max_channel) {
            return sim_fail(r, SW_CHANNEL_NOT_SUPPORTED);
        } else if (sim->ch[c].open) {
            return sim_fail(r, SW_CONDITIONS);
        }
        /* Opened from the basic channel: MF; from another: its current DF.
         * The security status (an SCP03 session) is not inherited (GP). */
        int df = ex->chn == 0 ? 0 : sim->ch[ex->chn].df;
        sim_channel_reset(sim, (uint8_t)c, true, df);
        if (cmd->p2 == 0) {
            uint8_t b = (uint8_t)c;
            put_data(r, &b, 1);
        }
        return sim_sw(r, SW_OK);
    }
    if (cmd->p1 == 0x80) {
        unsigned c = cmd->p2 != 0 ? cmd->p2 : ex->chn;
        if (c == 0 || c >= SIM_MAX_CHANNELS)
            return sim_fail(r, SW_WRONG_P1P2);
        if (c > sim->max_channel || !sim->ch[c].open)
            return sim_fail(r, SW_CHANNEL_NOT_SUPPORTED);
        sim_channel_reset(sim, (uint8_t)c, false, 0);
        return sim_sw(r, SW_OK);
    }
    return sim_fail(r, SW_WRONG_P1P2);
}

/* VERIFY PIN (TS 102 221 11.1.9): 8 bytes, FF padded (or the stored length
 * and pad character the card's EF.AODF names); empty = status. */
static int cmd_verify(scb_sim_t *sim, const sim_cmd_t *cmd, sim_resp_t *r)
{
    sim_pin_t *pin = &sim->pin;
    if (cmd->p1 != 0x00)
        return sim_fail(r, SW_WRONG_P1P2);
    if (!pin->present || cmd->p2 != pin->ref)
        return sim_fail(r, SW_REF_NOT_FOUND);
    if (pin->tries_left == 0)
        return sim_fail(r, SW_PIN_BLOCKED);
    if (cmd->lc == 0)
        return sim_fail(r, pin->verified ? SW_OK : (uint16_t)(0x63C0 | pin->tries_left));
    if (cmd->lc != pin->block)
        return sim_fail(r, SW_WRONG_LENGTH);
    if (sim_ct_equal(cmd->data, pin->value, pin->block)) {
        pin->verified = true;
        pin->tries_left = pin->tries_max;
        return sim_sw(r, SW_OK);
    }
    pin->verified = false;
    pin->tries_left--;
    return sim_fail(r, (uint16_t)(0x63C0 | pin->tries_left));
}

int sim_iso_execute(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd, sim_resp_t *r)
{
    bool proprietary = (cmd->cla & 0x80) != 0;
    switch (cmd->ins) {
    case 0xA4:
    case 0xB0:
    case 0xB2:
    case 0xD6:
    case 0x70:
    case 0x20:
    case 0xC0:
        if (proprietary)
            return sim_fail(r, SW_CLA_NOT_SUPPORTED);
        break;
    case 0x50:
    case 0x82:
    case 0xD8:
        if (!proprietary)
            return sim_fail(r, SW_CLA_NOT_SUPPORTED);
        break;
    case 0xCA: /* GET DATA: ISO 7816-4 7.4.2 and GP 11.3, either class */
        break;
    default:
        return sim_fail(r, SW_INS_NOT_SUPPORTED);
    }
    switch (cmd->ins) {
    case 0xA4: return cmd_select(sim, ex, cmd, r);
    case 0xB0: return cmd_read_binary(sim, ex, cmd, r);
    case 0xB2: return cmd_read_record(sim, ex, cmd, r);
    case 0xD6: return cmd_update_binary(sim, ex, cmd, r);
    case 0x70: return cmd_manage_channel(sim, ex, cmd, r);
    case 0x20: return cmd_verify(sim, cmd, r);
    case 0xC0: return sim_fail(r, SW_CONDITIONS); /* nothing pending (T=0 handled earlier) */
    case 0x50: return sim_scp_initialize_update(sim, ex, cmd, r);
    case 0x82: return sim_fail(r, SW_SECURITY);  /* EXTERNAL AUTHENTICATE without C-MAC */
    case 0xD8: return sim_scp_put_key(sim, ex, cmd, r);
    case 0xCA: return sim_scp_get_data(sim, ex, cmd, r);
    default: return sim_fail(r, SW_INS_NOT_SUPPORTED);
    }
}
