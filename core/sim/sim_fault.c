/*
 * Fault injection: a card that is slow, disappears, or breaks the secure
 * channel in a controlled way, so that hosts can be tested against
 * misbehaving cards. Faults are keyed to APDU numbers (sim->apdus, from 1).
 */
#include "sim_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int sim_fault_before(scb_sim_t *sim, uint16_t *sw)
{
    const scb_sim_faults_t *f = &sim->faults;
    if (sim->gone)
        return 1;
    if (f->disconnect_after != 0 && sim->apdus > f->disconnect_after) {
        sim->gone = true;
        return 1;
    }
    if (f->delay_ms != 0)
        sleep_ms(f->delay_ms);
    if (f->sw_at != 0 && sim->apdus == f->sw_at) {
        *sw = f->sw_at_value;
        return 2;
    }
    return 0;
}

void sim_fault_after(scb_sim_t *sim, uint8_t *resp, size_t len, bool rmac)
{
    /* the R-MAC ends right before SW1 SW2 */
    if (rmac && len >= 3 && sim->faults.corrupt_rmac_at == sim->apdus)
        resp[len - 3] ^= 0x01;
}

bool sim_fault_bad_padding_now(const scb_sim_t *sim)
{
    return sim->faults.bad_padding_at != 0 && sim->faults.bad_padding_at == sim->apdus;
}

int scb_sim_get_faults(const scb_sim_t *sim, scb_sim_faults_t *out)
{
    if (sim == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    *out = sim->faults;
    return SCB_OK;
}

int scb_sim_set_faults(scb_sim_t *sim, const scb_sim_faults_t *faults)
{
    if (sim == NULL || faults == NULL || faults->version != SCB_SIM_FAULTS_VERSION)
        return SCB_E_INVALID_ARG;
    sim->faults = *faults;
    return SCB_OK;
}
