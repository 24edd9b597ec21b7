/* Binding glue for the virtual card: see scb_bind_sim.h. */
#include "scb_bind_sim.h"

int scb_bind_card_open_sim(scb_card_t **out, scb_sim_t *sim)
{
    scb_transport_t tp;
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    int rc = scb_sim_transport(sim, &tp);
    if (rc != SCB_OK)
        return rc;
    return scb_card_open_transport(out, &tp);
}

int scb_bind_sim_serve_vpcd(scb_sim_t *sim, const char *host, int port,
                            const scb_bind_stop_t *stop)
{
    if (port <= 0 || port > 65535)
        return SCB_E_INVALID_ARG;
    return scb_sim_serve_vpcd(sim, host, (uint16_t)port, stop != NULL ? &stop->stop : NULL);
}
