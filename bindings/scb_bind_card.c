/*
 * Card-level binding glue: the language callback transport, the trace hook
 * that hands out formatted lines, and the C transmit loop used as the
 * reference when measuring a binding's overhead.
 */
#include "scb_bind.h"

#include <stdlib.h>

static int callback_transmit(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                             size_t *resp_len)
{
    scb_bind_callback_t *cb = user;
    long n = cb->call(cb, cmd, cmd_len, resp, *resp_len);
    if (n < 0)
        return (int)n;
    /* n > capacity is passed on: the engine reports an overlong response */
    *resp_len = (size_t)n;
    return SCB_OK;
}

int scb_bind_card_open_callback(scb_card_t **out, scb_bind_callback_t *cb)
{
    if (out == NULL || cb == NULL || cb->call == NULL)
        return SCB_E_INVALID_ARG;
    scb_transport_t tp = {
        .version = SCB_TRANSPORT_VERSION,
        .user = cb,
        .flags = cb->flags,
        .transmit = callback_transmit,
    };
    return scb_card_open_transport(out, &tp);
}

static void trace_event(void *user, const scb_trace_event_t *ev)
{
    scb_bind_trace_t *t = user;
    /* A full extended APDU as hex is about 3 x 65 K characters; longer
     * lines are truncated by scb_trace_format, which is fine for a log. */
    char line[1024];
    if (scb_trace_format(ev, line, sizeof line) >= 0)
        t->line(t, ev->kind, line);
}

int scb_bind_card_set_trace(scb_card_t *card, scb_bind_trace_t *t)
{
    if (card == NULL)
        return SCB_E_INVALID_ARG;
    if (t == NULL)
        return scb_card_set_trace(card, NULL);
    if (t->line == NULL)
        return SCB_E_INVALID_ARG;
    scb_trace_t hook = { .version = SCB_TRACE_VERSION, .user = t, .event = trace_event };
    return scb_card_set_trace(card, &hook);
}

int scb_bind_transmit_loop(scb_card_t *card, const uint8_t *apdu, size_t apdu_len,
                           unsigned long n)
{
    uint8_t *resp = malloc(SCB_BIND_BYTES_MAX);
    if (resp == NULL)
        return SCB_E_NOMEM;
    int rc = SCB_OK;
    for (unsigned long i = 0; i < n && rc == SCB_OK; i++) {
        size_t len = SCB_BIND_BYTES_MAX;
        rc = scb_card_transmit(card, apdu, apdu_len, resp, &len);
    }
    free(resp);
    return rc;
}
