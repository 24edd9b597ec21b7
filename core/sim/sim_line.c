/*
 * A line of cards in one reader (scb_sim_set_rolling): each time a host
 * starts on a card, selecting EF.ICCID after the card has answered other
 * commands, the card in the reader becomes a new one made from the same
 * profile with the next ICCID. A provisioning station can then be run for
 * minutes, in tests and benchmarks, without anyone swapping cards; the
 * reader sees no removal, as with an operator faster than pcscd's polling.
 */
#include "sim_internal.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

int scb_sim_set_rolling(scb_sim_t *sim, int on)
{
    if (sim == NULL)
        return SCB_E_INVALID_ARG;
    sim->rolling = on != 0;
    return SCB_OK;
}

/* SELECT of EF.ICCID on the basic channel, by FID or by path from the MF
 * (P1 00 or 08, data 2FE2), whatever P2 asks back (ISO 7816-4 11.1.1). */
bool sim_line_starts(const scb_sim_t *sim, const uint8_t *cmd, size_t len)
{
    return sim->rolling && sim->apdus > 0 && len >= 7 && (cmd[0] & 0xFC) == 0x00 &&
           cmd[1] == 0xA4 && (cmd[2] == 0x00 || cmd[2] == 0x08) && cmd[4] == 2 &&
           cmd[5] == 0x2F && cmd[6] == 0xE2;
}

/* The ICCID of EF.ICCID (BCD, nibbles swapped, F-padded) plus one, as
 * decimal digits of the same length. false when the file is unreadable or
 * the digits are all 9s (the line has run out). */
static bool next_iccid(const scb_sim_t *sim, char out[21])
{
    static const uint8_t path[2] = {0x2F, 0xE2};
    uint8_t raw[10];
    size_t n = sizeof(raw), d = 0;
    if (scb_sim_read_file(sim, path, sizeof(path), raw, &n) != SCB_OK)
        return false;
    for (size_t i = 0; i < n && d < 20; i++) {
        uint8_t lo = raw[i] & 0x0F, hi = raw[i] >> 4;
        if (lo > 9)
            break;
        out[d++] = (char)('0' + lo);
        if (hi > 9)
            break;
        out[d++] = (char)('0' + hi);
    }
    out[d] = '\0';
    for (size_t i = d; i-- > 0;) {
        if (out[i] != '9') {
            out[i]++;
            return true;
        }
        out[i] = '0';
    }
    return false;
}

int sim_line_next(scb_sim_t *sim)
{
    char iccid[21];
    if (!next_iccid(sim, iccid))
        return SCB_E_UNSUPPORTED;
    json_object *root = json_tokener_parse(sim->profile != NULL ? sim->profile : "{}");
    if (root == NULL || json_object_get_type(root) != json_type_object) {
        json_object_put(root);
        return SCB_E_PARSE; /* cannot happen: the card was made from this text */
    }
    json_object_object_add(root, "iccid", json_object_new_string(iccid));
    size_t tlen = 0;
    const char *text = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN, &tlen);
    scb_sim_t *fresh = NULL;
    int rc = text != NULL ? scb_sim_new_from_json(&fresh, text, NULL, 0) : SCB_E_NOMEM;
    if (text != NULL)
        sim_cleanse((void *)(uintptr_t)text, tlen); /* the profile holds keys */
    json_object_put(root);
    if (rc != SCB_OK)
        return rc;
    /* The reader's side stays: how the card answers it (faults such as the
     * delay, socket options, a harness hook), and the line itself. */
    fresh->faults = sim->faults;
    fresh->tcp_nodelay = sim->tcp_nodelay;
    fresh->tcp_quickack = sim->tcp_quickack;
    fresh->hook = sim->hook;
    fresh->hook_user = sim->hook_user;
    fresh->rolling = true;
    /* The new card takes the old one's place, at the caller's address. */
    scb_sim_t *old = malloc(sizeof(*old));
    if (old == NULL) {
        scb_sim_free(&fresh);
        return SCB_E_NOMEM;
    }
    memcpy(old, sim, sizeof(*sim));
    memcpy(sim, fresh, sizeof(*sim));
    sim_cleanse(fresh, sizeof(*fresh));
    free(fresh);
    scb_sim_free(&old);
    return SCB_OK;
}
