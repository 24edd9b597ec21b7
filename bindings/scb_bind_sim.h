/*
 * Binding glue for the virtual card (core/sim/scboot_sim.h): a card
 * handle over an in-process virtual card, and a stop flag a binding can
 * raise from another thread while scb_sim_serve_vpcd runs.
 */
#ifndef SCB_BIND_SIM_H
#define SCB_BIND_SIM_H

#include "scboot_sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A card handle whose transport is sim (sim must outlive the card; the
 * card never frees it). */
int scb_bind_card_open_sim(scb_card_t **out, scb_sim_t *sim);

/* Set stop to non-zero to end scb_bind_sim_serve_vpcd within 100 ms. */
typedef struct scb_bind_stop {
    volatile int stop;
} scb_bind_stop_t;

/* scb_sim_serve_vpcd with a port range check; stop may be NULL. */
int scb_bind_sim_serve_vpcd(scb_sim_t *sim, const char *host, int port,
                            const scb_bind_stop_t *stop);

#ifdef __cplusplus
}
#endif
#endif /* SCB_BIND_SIM_H */
