/*
 * The fuzzed card (see fuzzed_card.h): records from the input answer the
 * library's commands; the virtual card runs every command and seals what
 * the records ask it to.
 */
#include "fuzzed_card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_ANSWER_CAP (65536 + 2)

/* Transport outcomes an FZ_ERROR record can pick: transport codes, codes a
 * transport should not return (normalised by the engine), a positive value. */
static const int fz_errors[] = {
    SCB_E_CARD_REMOVED, SCB_E_CARD_RESET, SCB_E_TIMEOUT,      SCB_E_TRANSPORT,
    SCB_E_NO_SERVICE,   SCB_E_SHARING,    SCB_E_NOMEM,        SCB_E_MODEM,
    SCB_E_MODEM_CME,    SCB_E_BAD_RESPONSE, SCB_E_PARSE,      SCB_E_SCP_RMAC,
    SCB_E_BUFFER_TOO_SMALL, 7,
};

void fz_card_init(fz_card_t *c, const uint8_t *in, size_t len, unsigned tp_flags,
                  unsigned card_flags)
{
    static const uint8_t select_adf[] = {0x00, 0xA4, 0x04, 0x0C, 0x0C, 0xA0, 0x00, 0x00, 0x00,
                                         0x63, 0x50, 0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};
    memset(c, 0, sizeof(*c));
    c->in = in;
    c->len = len;
    c->tp_flags = tp_flags;
    c->last_kind = -1;
    /* the PIN is the one the harnesses send (fuzz_read_bootstrap) */
    const char *profile =
        (card_flags & FZ_CARD_S16)
            ? "{\"extended_length\": true, \"pin\": {\"ref\": 1, \"value\": \"1234\"},"
              " \"scp03\": {\"s16\": true}}"
            : "{\"extended_length\": true, \"pin\": {\"ref\": 1, \"value\": \"1234\"}}";
    c->answer = malloc(FZ_ANSWER_CAP);
    if (c->answer == NULL || scb_sim_new_from_json(&c->sim, profile, NULL, 0) != SCB_OK)
        abort();
    size_t n = FZ_ANSWER_CAP;
    if ((card_flags & FZ_CARD_SD_SELECTED) &&
        (scb_sim_process(c->sim, select_adf, sizeof(select_adf), c->answer, &n) != SCB_OK ||
         n != 2 || c->answer[0] != 0x90))
        abort();
}

void fz_card_free(fz_card_t *c)
{
    scb_sim_free(&c->sim);
    free(c->answer);
    c->answer = NULL;
}

size_t fz_left(const fz_card_t *c)
{
    return c->len - c->pos;
}

const uint8_t *fz_take(fz_card_t *c, size_t n)
{
    if (c->len - c->pos < n)
        return NULL;
    const uint8_t *p = c->in + c->pos;
    c->pos += n;
    return p;
}

/* A record's data || SW as the virtual card sends it under the session of
 * the command just processed. pad: add 80 00.. before encrypting. */
static int seal(fz_card_t *c, const uint8_t *b, size_t n, bool pad, uint8_t *resp, size_t cap,
                size_t *out)
{
    uint16_t sw = 0x9000;
    if (n >= 2) {
        sw = (uint16_t)(b[n - 2] << 8 | b[n - 1]);
        n -= 2;
    }
    size_t len = cap;
    if (scb_sim_seal(c->sim, b, n, sw, pad ? 0u : SCB_SIM_SEAL_NO_PAD, resp, &len) != SCB_OK)
        return SCB_E_TRANSPORT; /* more than the caller's buffer holds */
    *out = len;
    return SCB_OK;
}

static int fz_transmit(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                       size_t *resp_len)
{
    fz_card_t *c = user;
    /* The card end runs the command before anything answers it. */
    size_t card_len = FZ_ANSWER_CAP;
    const int card_rc = scb_sim_process(c->sim, cmd, cmd_len, c->answer, &card_len);
    c->card_sw = card_rc == SCB_OK && card_len >= 2
                     ? (uint16_t)(c->answer[card_len - 2] << 8 | c->answer[card_len - 1])
                     : 0;

    const uint8_t *h = fz_take(c, 1);
    if (h == NULL) {
        c->last_kind = -1;
        return SCB_E_CARD_REMOVED;
    }
    size_t n;
    if (*h & 0x80) {
        const uint8_t *l = fz_take(c, 2);
        n = l != NULL ? (size_t)(l[0] & 0x7F) << 8 | l[1] : 0;
    } else {
        const uint8_t *l = fz_take(c, 1);
        n = l != NULL ? l[0] : 0;
    }
    if (n > fz_left(c))
        n = fz_left(c);
    const uint8_t *b = fz_take(c, n);
    const int kind = *h & 0x07;
    c->last_kind = kind;
    c->records++;
    const size_t cap = *resp_len;
    switch (kind) {
    case FZ_SEALED:
    case FZ_PLAIN:
        return seal(c, b, n, kind == FZ_PLAIN, resp, cap, resp_len);
    case FZ_CARD:
        if (card_rc != SCB_OK)
            return card_rc;
        if (card_len > cap)
            return SCB_E_TRANSPORT;
        memcpy(resp, c->answer, card_len);
        *resp_len = card_len;
        return SCB_OK;
    case FZ_ERROR:
        return fz_errors[(n > 0 ? b[0] : 0) % (sizeof(fz_errors) / sizeof(fz_errors[0]))];
    case FZ_OVERLONG:
        *resp_len = cap + 1;
        return SCB_OK;
    default:
        if (n > cap)
            return SCB_E_TRANSPORT;
        if (n > 0)
            memcpy(resp, b, n);
        *resp_len = n;
        return SCB_OK;
    }
}

scb_card_t *fz_card_open(fz_card_t *c, scb_keys_t **keys)
{
    scb_transport_t tp;
    memset(&tp, 0, sizeof(tp));
    tp.version = SCB_TRANSPORT_VERSION;
    tp.user = c;
    tp.flags = c->tp_flags;
    tp.transmit = fz_transmit;
    scb_card_t *card = NULL;
    if (scb_card_open_transport(&card, &tp) != SCB_OK ||
        (keys != NULL && scb_sim_host_keys(c->sim, keys) != SCB_OK))
        abort();
    return card;
}

/* ---- checks shared by the harnesses ---- */
void fz_check_rc(const scb_card_t *card, int rc)
{
    /* SCB_FUZZ_VERBOSE=1: print every result (to check what a seed reaches) */
    const char *verbose = getenv("SCB_FUZZ_VERBOSE");
    if (verbose != NULL && *verbose == '1')
        fprintf(stderr, "  %s (%d): %s\n", scb_error_name(rc), rc, scb_card_errmsg(card));
    if (rc > 0 || strcmp(scb_error_name(rc), "SCB_E_UNKNOWN") == 0)
        abort();
    /* a failure of the path, the card or the channel names what failed */
    const int family = scb_error_family(rc);
    if ((family == SCB_FAMILY_TRANSPORT || family == SCB_FAMILY_CARD ||
         family == SCB_FAMILY_SECURE) && scb_card_errmsg(card)[0] == 0)
        abort();
}

scb_opts_t *fz_opts_new(void)
{
    scb_opts_t *o = NULL;
    if (scb_opts_new(&o) != SCB_OK || o == NULL)
        abort();
    return o;
}

void fz_opt_int(scb_opts_t *o, int id, long long value)
{
    if (scb_opts_set_int(o, id, value) != SCB_OK)
        abort();
}

void fz_opt_bytes(scb_opts_t *o, int id, const uint8_t *value, size_t len)
{
    if (scb_opts_set_bytes(o, id, value, len) != SCB_OK)
        abort();
}

static void trace_event(void *user, const scb_trace_event_t *ev)
{
    const size_t cap = (size_t)(uintptr_t)user;
    char buf[4096 + 1];
    buf[cap] = 0x5A; /* canary just past the buffer */
    int n = scb_trace_format(ev, buf, cap);
    if (n < 0 || (size_t)n >= cap || strlen(buf) != (size_t)n || buf[cap] != 0x5A)
        abort();
    const char *verbose = getenv("SCB_FUZZ_VERBOSE");
    if (verbose != NULL && *verbose == '1')
        fprintf(stderr, "  %s\n", buf);
}

void fz_trace_install(scb_card_t *card, size_t cap)
{
    if (cap < 1 || cap > 4096)
        cap = 4096;
    scb_trace_t t = {SCB_TRACE_VERSION, (void *)(uintptr_t)cap, trace_event};
    if (scb_card_set_trace(card, &t) != SCB_OK)
        abort();
}
