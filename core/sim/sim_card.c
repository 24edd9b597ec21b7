/*
 * The card object: creation from a profile, power cycle, ATR, and the
 * inspection / test hooks of scboot_sim.h and scboot_sim_harness.h.
 */
#include "sim_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void scb_sim_reset(scb_sim_t *sim)
{
    if (sim == NULL)
        return;
    for (uint8_t c = 0; c < SIM_MAX_CHANNELS; c++)
        sim_channel_reset(sim, c, c == 0, 0);
    sim->pin.verified = false;
    if (sim->gone) {
        sim->gone = false;
        sim->faults.disconnect_after = 0;
    }
}

int scb_sim_new_from_json(scb_sim_t **out, const char *profile_json, char *detail,
                          size_t detail_len)
{
    if (detail != NULL && detail_len > 0)
        detail[0] = '\0';
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    scb_sim_t *sim = calloc(1, sizeof(*sim));
    if (sim == NULL)
        return SCB_E_NOMEM;
    sim->pdata = malloc(SIM_MAX_CMD);
    sim->plain = malloc(SIM_MAX_CMD);
    sim->rdata = malloc(SIM_MAX_RESP);
    sim->wrapped = malloc(SIM_MAX_RESP);
    if (sim->pdata == NULL || sim->plain == NULL || sim->rdata == NULL || sim->wrapped == NULL ||
        sim_crypto_new(&sim->crypto) != 0) {
        scb_sim_free(&sim);
        return SCB_E_NOMEM;
    }
    sim->sd.adf = -1;
    if (profile_json != NULL && (sim->profile = strdup(profile_json)) == NULL) {
        scb_sim_free(&sim);
        return SCB_E_NOMEM;
    }
    int rc = sim_profile_load(sim, profile_json, detail, detail_len);
    if (rc != 0) {
        scb_sim_free(&sim);
        return rc;
    }
    scb_sim_reset(sim);
    *out = sim;
    return SCB_OK;
}

int scb_sim_new(scb_sim_t **out, const char *profile_path, char *detail, size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (profile_path == NULL)
        return scb_sim_new_from_json(out, NULL, detail, detail_len);
    FILE *fp = fopen(profile_path, "rb");
    if (fp == NULL) {
        if (detail != NULL && detail_len > 0)
            snprintf(detail, detail_len, "profile %s: %s", profile_path, strerror(errno));
        return SCB_E_INVALID_ARG;
    }
    /* profiles are small; 1 MB bounds a wrong path to a huge file */
    size_t cap = 1 << 20, n;
    char *text = malloc(cap + 1);
    if (text == NULL) {
        fclose(fp);
        return SCB_E_NOMEM;
    }
    n = fread(text, 1, cap + 1, fp);
    int err = ferror(fp);
    fclose(fp);
    if (err || n > cap) {
        if (detail != NULL && detail_len > 0)
            snprintf(detail, detail_len, "profile %s: %s", profile_path,
                     err ? "read error" : "larger than 1 MB");
        free(text);
        return SCB_E_INVALID_ARG;
    }
    text[n] = '\0';
    int rc = scb_sim_new_from_json(out, text, detail, detail_len);
    sim_cleanse(text, n); /* the profile holds keys */
    free(text);
    return rc;
}

void scb_sim_free(scb_sim_t **psim)
{
    if (psim == NULL || *psim == NULL)
        return;
    scb_sim_t *sim = *psim;
    sim_fs_free(sim);
    /* work buffers held plaintext commands and answers (PSKs, keys) */
    if (sim->pdata != NULL)
        sim_cleanse(sim->pdata, SIM_MAX_CMD);
    if (sim->plain != NULL)
        sim_cleanse(sim->plain, SIM_MAX_CMD);
    if (sim->rdata != NULL)
        sim_cleanse(sim->rdata, SIM_MAX_RESP);
    if (sim->wrapped != NULL)
        sim_cleanse(sim->wrapped, SIM_MAX_RESP);
    free(sim->pdata);
    free(sim->plain);
    free(sim->rdata);
    free(sim->wrapped);
    sim_crypto_free(&sim->crypto);
    if (sim->profile != NULL) {
        sim_cleanse(sim->profile, strlen(sim->profile)); /* it holds keys */
        free(sim->profile);
    }
    /* key sets, sessions (with their session keys) and the PIN */
    sim_cleanse(sim, sizeof(*sim));
    free(sim);
    *psim = NULL;
}

size_t scb_sim_atr(const scb_sim_t *sim, uint8_t atr[33])
{
    if (sim == NULL || atr == NULL)
        return 0;
    memcpy(atr, sim->atr, sim->atr_len);
    return sim->atr_len;
}

const char *scb_sim_errmsg(const scb_sim_t *sim)
{
    return sim != NULL ? sim->errmsg : "";
}

unsigned long scb_sim_apdu_count(const scb_sim_t *sim)
{
    return sim != NULL ? sim->apdus : 0;
}

int scb_sim_session_level(const scb_sim_t *sim, uint8_t channel)
{
    if (sim == NULL || channel >= SIM_MAX_CHANNELS || !sim_scp_open(sim, channel))
        return -1;
    return sim->ch[channel].scp.level;
}

uint32_t scb_sim_sequence_counter(const scb_sim_t *sim)
{
    return sim != NULL ? sim->sd.seq_next : 0;
}

int scb_sim_set_sequence_counter(scb_sim_t *sim, uint32_t next)
{
    if (sim == NULL || next == 0 || next > 0xFFFFFF)
        return SCB_E_INVALID_ARG;
    sim->sd.seq_next = next;
    return SCB_OK;
}

int scb_sim_set_card_challenge(scb_sim_t *sim, const uint8_t *challenge, size_t len)
{
    if (sim == NULL || challenge == NULL || (len != 8 && len != 16))
        return SCB_E_INVALID_ARG;
    memcpy(sim->sd.forced_challenge, challenge, len);
    sim->sd.forced_challenge_len = len;
    return SCB_OK;
}

int scb_sim_read_file(const scb_sim_t *sim, const uint8_t *path, size_t path_len, uint8_t *buf,
                      size_t *len)
{
    if (sim == NULL || path == NULL || len == NULL || (buf == NULL && *len != 0))
        return SCB_E_INVALID_ARG;
    int idx = sim_fs_path_lookup(sim, path, path_len);
    if (idx < 0 || sim->files[idx].kind == SIM_DF)
        return SCB_E_NOT_FOUND;
    const sim_file_t *f = &sim->files[idx];
    if (*len < f->size) {
        *len = f->size;
        return SCB_E_BUFFER_TOO_SMALL;
    }
    memcpy(buf, f->data, f->size);
    *len = f->size;
    return SCB_OK;
}

void scb_sim_set_cmd_hook(scb_sim_t *sim, scb_sim_cmd_hook hook, void *user)
{
    if (sim == NULL)
        return;
    sim->hook = hook;
    sim->hook_user = user;
}

int scb_sim_host_keys(const scb_sim_t *sim, scb_keys_t **out)
{
    if (sim == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    for (size_t i = 0; i < SIM_MAX_KEYSETS; i++) {
        const sim_keyset_t *k = &sim->sd.keys[i];
        if (k->used)
            return scb_keys_new(out, k->enc, k->mac, k->dek, k->len, k->kvn);
    }
    return SCB_E_NOT_FOUND;
}
