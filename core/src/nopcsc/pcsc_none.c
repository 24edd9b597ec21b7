/*
 * The PC/SC entry points of a library built with SCB_WITH_PCSC=OFF (for
 * gateways whose card sits in a modem): no pcsc-lite is linked or needed.
 * Opening a reader or listing readers fails with SCB_E_UNSUPPORTED and says
 * why; a reader list can never be made, so its accessors see only NULL.
 * This file replaces ../pcsc.c in such a build.
 */
#include "internal.h"

#include <stdlib.h>

#define NO_PCSC_DETAIL                                                                     \
    "this build of libscboot has no PC/SC support (built with SCB_WITH_PCSC=OFF): use the " \
    "modem or another transport"

int scb_readers_list(scb_readers_t **out, char *detail, size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    return scb__detail(detail, detail_len, SCB_E_UNSUPPORTED, "%s", NO_PCSC_DETAIL);
}

size_t scb_readers_count(const scb_readers_t *r)
{
    (void)r;
    return 0;
}

const char *scb_readers_name(const scb_readers_t *r, size_t i)
{
    (void)r;
    (void)i;
    return NULL;
}

int scb_readers_card_present(const scb_readers_t *r, size_t i)
{
    (void)r;
    (void)i;
    return 0;
}

void scb_readers_free(scb_readers_t **r)
{
    if (r != NULL)
        *r = NULL;
}

int scb_card_open_pcsc(scb_card_t **out, const char *reader, char *detail, size_t detail_len)
{
    (void)reader;
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    return scb__detail(detail, detail_len, SCB_E_UNSUPPORTED, "%s", NO_PCSC_DETAIL);
}
