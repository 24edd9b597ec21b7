/*
 * The card's file system: a small tree of DFs and EFs kept in one array
 * (index 0 is the MF), the selection rules of ETSI TS 102 221 8.4, the FCP
 * templates of TS 102 221 11.1.1.4 and the access rules of each EF.
 */
#include "sim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sim_fs_add(scb_sim_t *sim, int parent, int kind, uint16_t fid, char *detail, size_t dl)
{
    if (sim->nfiles >= SIM_MAX_FILES) {
        if (detail != NULL)
            snprintf(detail, dl, "file %04X: more than %d files", fid, SIM_MAX_FILES);
        return -1;
    }
    if (parent >= 0) {
        /* FIDs are unique among siblings; 3F00 and 7FFF are reserved. */
        if (fid == 0x3F00 || fid == 0x7FFF || fid == 0xFFFF ||
            (fid != 0 && sim_fs_child(sim, parent, fid) >= 0) ||
            (fid != 0 && sim->files[parent].fid == fid)) {
            if (detail != NULL)
                snprintf(detail, dl, "file %04X: FID reserved or already used in DF %04X", fid,
                         sim->files[parent].fid);
            return -1;
        }
    }
    int idx = (int)sim->nfiles++;
    sim_file_t *f = &sim->files[idx];
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->fid = fid;
    f->parent = parent;
    f->read_ac = SIM_AC_ALWAYS;
    f->write_ac = SIM_AC_NEVER;
    return idx;
}

int sim_fs_child(const scb_sim_t *sim, int df, uint16_t fid)
{
    for (size_t i = 1; i < sim->nfiles; i++) {
        if (sim->files[i].parent == df && sim->files[i].fid == fid && fid != 0)
            return (int)i;
    }
    return -1;
}

int sim_fs_by_sfi(const scb_sim_t *sim, int df, uint8_t sfi)
{
    for (size_t i = 1; i < sim->nfiles; i++) {
        const sim_file_t *f = &sim->files[i];
        if (f->parent == df && f->kind != SIM_DF && f->sfi == sfi && sfi != 0)
            return (int)i;
    }
    return -1;
}

int sim_fs_app_of(const scb_sim_t *sim, int idx)
{
    while (idx >= 0) {
        if (sim->files[idx].kind == SIM_DF && sim->files[idx].aid_len > 0)
            return idx;
        idx = sim->files[idx].parent;
    }
    return -1;
}

/* TS 102 221 8.4.1: by FID one may select the MF, the current DF, a child of
 * the current DF, the parent DF, a sibling DF, and 7FFF = the current ADF. */
int sim_fs_resolve_fid(const scb_sim_t *sim, const sim_channel_t *ch, uint16_t fid)
{
    if (fid == 0x3F00)
        return 0;
    if (fid == 0x7FFF)
        return ch->adf >= 0 ? ch->adf : -SW_NOT_FOUND;
    int cur = ch->df;
    if (sim->files[cur].fid == fid)
        return cur;
    int c = sim_fs_child(sim, cur, fid);
    if (c >= 0)
        return c;
    int p = sim->files[cur].parent;
    if (p >= 0) {
        if (sim->files[p].fid == fid)
            return p;
        int s = sim_fs_child(sim, p, fid);
        if (s >= 0 && sim->files[s].kind == SIM_DF)
            return s;
    }
    return -SW_NOT_FOUND;
}

/* ISO 7816-4 5.3.1.1 / TS 102 221 8.4.2: a path is a sequence of FIDs
 * without the MF (P1 08) or the current DF (P1 09); 7FFF may open it as the
 * current ADF. Every element but the last must be a DF. */
int sim_fs_resolve_path(const scb_sim_t *sim, const sim_channel_t *ch, bool from_mf,
                        const uint8_t *path, size_t len)
{
    if (len == 0 || len % 2 != 0)
        return -SW_WRONG_LENGTH;
    int cur = from_mf ? 0 : ch->df;
    for (size_t i = 0; i < len; i += 2) {
        uint16_t fid = (uint16_t)(path[i] << 8 | path[i + 1]);
        if (sim->files[cur].kind != SIM_DF)
            return -SW_NOT_FOUND;
        if (i == 0 && fid == 0x7FFF) {
            if (ch->adf < 0)
                return -SW_NOT_FOUND;
            cur = ch->adf;
            continue;
        }
        int next = sim_fs_child(sim, cur, fid);
        if (next < 0)
            return -SW_NOT_FOUND;
        cur = next;
    }
    return cur;
}

int sim_fs_path_lookup(const scb_sim_t *sim, const uint8_t *path, size_t len)
{
    if (len % 2 != 0)
        return -1;
    int cur = 0;
    for (size_t i = 0; i < len; i += 2) {
        uint16_t fid = (uint16_t)(path[i] << 8 | path[i + 1]);
        if (i == 0 && fid == 0x3F00)
            continue;
        cur = sim_fs_child(sim, cur, fid);
        if (cur < 0)
            return -1;
    }
    return cur;
}

int sim_fs_find_aid(const scb_sim_t *sim, const uint8_t *aid, size_t len, int after)
{
    for (size_t i = 1; i < sim->nfiles; i++) {
        const sim_file_t *f = &sim->files[i];
        if ((int)i <= after || f->kind != SIM_DF || f->aid_len == 0 || f->aid_len < len)
            continue;
        if (len == 0 || memcmp(f->aid, aid, len) == 0)
            return (int)i;
    }
    return -1;
}

/* ---- FCP ---- */

typedef struct tlv_out {
    uint8_t *p;
    size_t cap, len;
    bool overflow;
} tlv_out_t;

static void put(tlv_out_t *o, const uint8_t *b, size_t n)
{
    if (o->overflow || o->cap - o->len < n) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, b, n);
    o->len += n;
}

static void put_tlv(tlv_out_t *o, uint8_t tag, const uint8_t *v, size_t n)
{
    uint8_t h[2] = {tag, (uint8_t)n};
    put(o, h, 2);
    put(o, v, n);
}

/* ISO 7816-4 5.4.3.1 compact SC byte: 00 always, FF never, 40 secure
 * messaging, 10 user authentication (PIN). */
static uint8_t sc_byte(int ac)
{
    switch (ac) {
    case SIM_AC_ALWAYS: return 0x00;
    case SIM_AC_SM: return 0x40;
    case SIM_AC_PIN: return 0x10;
    default: return 0xFF;
    }
}

size_t sim_fs_fcp(const scb_sim_t *sim, int idx, uint8_t *out, size_t cap)
{
    const sim_file_t *f = &sim->files[idx];
    uint8_t body[96];
    tlv_out_t o = {body, sizeof(body), 0, false};
    uint8_t fid[2] = {(uint8_t)(f->fid >> 8), (uint8_t)f->fid};
    static const uint8_t lcs_operational[1] = {0x05}; /* activated (TS 102 221 11.1.1.4.9) */

    if (f->kind == SIM_DF) {
        /* 82: file descriptor 78 (shareable DF/ADF), data coding 21 */
        static const uint8_t fd[2] = {0x78, 0x21};
        put_tlv(&o, 0x82, fd, sizeof(fd));
        if (f->fid != 0)
            put_tlv(&o, 0x83, fid, 2);
        if (f->aid_len > 0)
            put_tlv(&o, 0x84, f->aid, f->aid_len);
        put_tlv(&o, 0x8A, lcs_operational, 1);
        /* 8C: AM 03 = CREATE EF (b2), DELETE child (b1): never */
        static const uint8_t sa[3] = {0x03, 0xFF, 0xFF};
        put_tlv(&o, 0x8C, sa, sizeof(sa));
        /* C6: PIN status template (TS 102 221 9.5.2): PS_DO, key reference */
        uint8_t ps[6] = {0x90, 0x01, (uint8_t)(sim->pin.present ? 0x80 : 0x00), 0x83, 0x01,
                         (uint8_t)(sim->pin.present ? sim->pin.ref : 0x01)};
        put_tlv(&o, 0xC6, ps, sizeof(ps));
    } else {
        if (f->kind == SIM_TRANSPARENT) {
            static const uint8_t fd[2] = {0x41, 0x21};
            put_tlv(&o, 0x82, fd, sizeof(fd));
        } else {
            uint8_t fd[5] = {0x42, 0x21, (uint8_t)(f->rec_len >> 8), (uint8_t)f->rec_len,
                             (uint8_t)f->rec_count};
            put_tlv(&o, 0x82, fd, sizeof(fd));
        }
        put_tlv(&o, 0x83, fid, 2);
        put_tlv(&o, 0x8A, lcs_operational, 1);
        /* 8C: AM 03 = UPDATE (b2), READ (b1); SC bytes from b2 down to b1 */
        uint8_t sa[3] = {0x03, sc_byte(f->write_ac), sc_byte(f->read_ac)};
        put_tlv(&o, 0x8C, sa, sizeof(sa));
        uint8_t size[2] = {(uint8_t)(f->size >> 8), (uint8_t)f->size};
        put_tlv(&o, 0x80, size, 2);
        /* 88: SFI in b8-b4; empty = no SFI (absent would mean "FID low bits") */
        uint8_t sfi = (uint8_t)(f->sfi << 3);
        put_tlv(&o, 0x88, &sfi, f->sfi != 0 ? 1 : 0);
    }
    if (o.overflow || o.len > 0x7F || cap < o.len + 2)
        return 0;
    out[0] = 0x62;
    out[1] = (uint8_t)o.len;
    memcpy(out + 2, body, o.len);
    return o.len + 2;
}

uint16_t sim_fs_access(const scb_sim_t *sim, const sim_exec_t *ex, const sim_file_t *f,
                       bool write)
{
    int ac = write ? f->write_ac : f->read_ac;
    switch (ac) {
    case SIM_AC_ALWAYS:
        return 0;
    case SIM_AC_SM:
        /* "at or above": every bit of the required level is in force */
        if (ex->secured &&
            (ex->level & sim->sd.level_required) == sim->sd.level_required)
            return 0;
        return SW_SECURITY;
    case SIM_AC_PIN:
        return sim->pin.verified ? 0 : SW_SECURITY;
    default:
        return SW_SECURITY;
    }
}

void sim_fs_set_current(scb_sim_t *sim, sim_channel_t *ch, int idx)
{
    if (sim->files[idx].kind == SIM_DF) {
        ch->df = idx;
        ch->ef = -1;
    } else {
        ch->df = sim->files[idx].parent;
        ch->ef = idx;
    }
    ch->rec = 0;
    ch->adf = sim_fs_app_of(sim, ch->df);
}

void sim_fs_free(scb_sim_t *sim)
{
    for (size_t i = 0; i < sim->nfiles; i++) {
        sim_file_t *f = &sim->files[i];
        if (f->data != NULL) {
            /* bootstrap files hold PSKs */
            sim_cleanse(f->data, f->size);
            free(f->data);
            f->data = NULL;
        }
    }
    sim->nfiles = 0;
}
