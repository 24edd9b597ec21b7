/* The virtual card as an in-process scb_transport_t. */
#include "sim_internal.h"

#include <string.h>

static int sim_tp_transmit(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                           size_t *resp_len)
{
    return scb_sim_process(user, cmd, cmd_len, resp, resp_len);
}

static void sim_tp_close_owned(void *user)
{
    scb_sim_t *sim = user;
    scb_sim_free(&sim);
}

int scb_sim_transport(scb_sim_t *sim, scb_transport_t *out)
{
    if (sim == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    out->version = SCB_TRANSPORT_VERSION;
    out->user = sim;
    out->flags = (sim->t0 ? SCB_TP_T0 : 0u) | (sim->extended ? SCB_TP_EXTENDED_LENGTH : 0u);
    out->transmit = sim_tp_transmit;
    return SCB_OK;
}

int scb_card_open_sim_owned(scb_card_t **out, scb_sim_t *sim)
{
    if (out == NULL || sim == NULL) {
        scb_sim_free(&sim);
        return SCB_E_INVALID_ARG;
    }
    *out = NULL;
    scb_transport_t tp;
    scb_sim_transport(sim, &tp);
    tp.close = sim_tp_close_owned;
    int rc = scb_card_open_transport(out, &tp);
    if (rc != 0)
        scb_sim_free(&sim); /* not handed over: the card handle does not exist */
    return rc;
}

int scb_card_open_sim(scb_card_t **out, const char *profile_path, char *detail,
                      size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    scb_sim_t *sim = NULL;
    int rc = scb_sim_new(&sim, profile_path, detail, detail_len);
    if (rc != 0)
        return rc;
    return scb_card_open_sim_owned(out, sim);
}
