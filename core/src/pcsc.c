/*
 * The PC/SC transport (pcsc-lite). The only file that includes the PC/SC
 * headers. One SCARDCONTEXT per card handle (or per reader list), so
 * threads with their own handles never share one.
 */
#include "atr.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winscard.h>

#ifndef SCARD_AUTOALLOCATE
#error "pcsc-lite with SCARD_AUTOALLOCATE required"
#endif

typedef struct pcsc_tp {
    SCARDCONTEXT ctx;
    SCARDHANDLE h;
    DWORD proto;
    char *reader;
    char detail[160];     /* why the last call failed (the card handle's tp_detail) */
} pcsc_tp_t;

/* PC/SC result -> SCB_E_*. */
static int map_rv(LONG rv)
{
    switch (rv) {
    case SCARD_S_SUCCESS:
        return SCB_OK;
    case SCARD_E_NO_SERVICE:
    case SCARD_E_SERVICE_STOPPED:
    case SCARD_F_COMM_ERROR: /* pcsc-lite: the daemon's socket broke (pcscd stopped mid-call) */
        return SCB_E_NO_SERVICE;
    case SCARD_E_NO_READERS_AVAILABLE:
    case SCARD_E_UNKNOWN_READER:
    case SCARD_E_READER_UNAVAILABLE:
        return SCB_E_NO_READER;
    case SCARD_E_NO_SMARTCARD:
        return SCB_E_NO_CARD;
    case SCARD_W_REMOVED_CARD:
        return SCB_E_CARD_REMOVED;
    case SCARD_W_RESET_CARD:
        return SCB_E_CARD_RESET;
    case SCARD_E_SHARING_VIOLATION:
        return SCB_E_SHARING;
    case SCARD_E_TIMEOUT:
        return SCB_E_TIMEOUT;
    case SCARD_E_NO_MEMORY:
        return SCB_E_NOMEM;
    case SCARD_E_INSUFFICIENT_BUFFER:
        return SCB_E_BUFFER_TOO_SMALL;
    default:
        return SCB_E_TRANSPORT;
    }
}

static int establish(SCARDCONTEXT *ctx, char *detail, size_t detail_len)
{
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, ctx);
    if (rv != SCARD_S_SUCCESS)
        return scb__detail(detail, detail_len, map_rv(rv),
                           "cannot reach the PC/SC daemon (%s): is pcscd running?",
                           pcsc_stringify_error(rv));
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* Reader list                                                               */
/* ------------------------------------------------------------------------ */
struct scb_readers {
    size_t count;
    char **names;
    int *present;
};

void scb_readers_free(scb_readers_t **r)
{
    if (r == NULL || *r == NULL)
        return;
    for (size_t i = 0; i < (*r)->count; i++)
        free((*r)->names[i]);
    free((*r)->names);
    free((*r)->present);
    free(*r);
    *r = NULL;
}

static int list_with_context(SCARDCONTEXT ctx, scb_readers_t **out, char *detail,
                             size_t detail_len)
{
    LPSTR multi = NULL;
    DWORD len = SCARD_AUTOALLOCATE;
    scb_readers_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return SCB_E_NOMEM;
    LONG rv = SCardListReaders(ctx, NULL, (LPSTR)&multi, &len);
    if (rv == SCARD_E_NO_READERS_AVAILABLE) {
        *out = r; /* an empty list is an answer, not an error */
        return SCB_OK;
    }
    if (rv != SCARD_S_SUCCESS) {
        free(r);
        return scb__detail(detail, detail_len, map_rv(rv), "cannot list readers: %s",
                           pcsc_stringify_error(rv));
    }
    size_t n = 0;
    for (const char *p = multi; p < multi + len && *p; p += strlen(p) + 1)
        n++;
    SCARD_READERSTATE *st = calloc(n > 0 ? n : 1, sizeof(*st));
    r->names = calloc(n > 0 ? n : 1, sizeof(char *));
    r->present = calloc(n > 0 ? n : 1, sizeof(int));
    int rc = SCB_OK;
    if (st == NULL || r->names == NULL || r->present == NULL) {
        rc = SCB_E_NOMEM;
        goto done;
    }
    size_t i = 0;
    for (const char *p = multi; i < n; p += strlen(p) + 1, i++) {
        r->names[i] = strdup(p);
        if (r->names[i] == NULL) {
            rc = SCB_E_NOMEM;
            goto done;
        }
        r->count++;
        st[i].szReader = r->names[i];
        st[i].dwCurrentState = SCARD_STATE_UNAWARE;
    }
    if (n > 0 && SCardGetStatusChange(ctx, 0, st, (DWORD)n) == SCARD_S_SUCCESS)
        for (i = 0; i < n; i++)
            r->present[i] = (st[i].dwEventState & SCARD_STATE_PRESENT) != 0;
done:
    free(st);
    SCardFreeMemory(ctx, multi);
    if (rc != SCB_OK) {
        scb_readers_free(&r);
        return rc;
    }
    *out = r;
    return SCB_OK;
}

int scb_readers_list(scb_readers_t **out, char *detail, size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    SCARDCONTEXT ctx;
    int rc = establish(&ctx, detail, detail_len);
    if (rc != SCB_OK)
        return rc;
    rc = list_with_context(ctx, out, detail, detail_len);
    SCardReleaseContext(ctx);
    return rc;
}

size_t scb_readers_count(const scb_readers_t *r)
{
    return r != NULL ? r->count : 0;
}

const char *scb_readers_name(const scb_readers_t *r, size_t i)
{
    return r != NULL && i < r->count ? r->names[i] : NULL;
}

int scb_readers_card_present(const scb_readers_t *r, size_t i)
{
    return r != NULL && i < r->count ? r->present[i] : 0;
}

/* exact name, else a decimal index, else a unique substring; NULL/"" = the
 * first reader with a card. (Index before substring: reader names are full
 * of digits, "0" must mean the first reader.) */
static int pick_reader(const scb_readers_t *r, const char *want, size_t *idx, char *detail,
                       size_t detail_len)
{
    if (r->count == 0)
        return scb__detail(detail, detail_len, SCB_E_NO_READER,
                           "no PC/SC reader found (is the reader or vpcd configured?)");
    if (want == NULL || *want == 0) {
        for (size_t i = 0; i < r->count; i++)
            if (r->present[i]) {
                *idx = i;
                return SCB_OK;
            }
        return scb__detail(detail, detail_len, SCB_E_NO_CARD,
                           "none of the %zu reader(s) has a card", r->count);
    }
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->names[i], want) == 0) {
            *idx = i;
            return SCB_OK;
        }
    char *end = NULL;
    unsigned long n = strtoul(want, &end, 10);
    if (end != want && *end == 0) {
        if (n < r->count) {
            *idx = (size_t)n;
            return SCB_OK;
        }
        return scb__detail(detail, detail_len, SCB_E_NO_READER,
                           "reader index %lu out of range (%zu readers)", n, r->count);
    }
    size_t hits = 0;
    for (size_t i = 0; i < r->count; i++)
        if (strstr(r->names[i], want) != NULL) {
            hits++;
            *idx = i;
        }
    if (hits == 1)
        return SCB_OK;
    if (hits > 1)
        return scb__detail(detail, detail_len, SCB_E_NO_READER,
                           "reader name '%s' is ambiguous (%zu readers match)", want, hits);
    return scb__detail(detail, detail_len, SCB_E_NO_READER, "no reader matches '%s'", want);
}

/* ------------------------------------------------------------------------ */
/* Transport callbacks                                                       */
/* ------------------------------------------------------------------------ */
/* After SCARD_W_RESET_CARD the handle must be reconnected before use. */
static void reconnect(pcsc_tp_t *t)
{
    DWORD proto = 0;
    if (SCardReconnect(t->h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                       SCARD_LEAVE_CARD, &proto) == SCARD_S_SUCCESS)
        t->proto = proto;
}

/* A reader that answers with nothing at all has usually lost the card
 * (vpcd reports a vanished card process this way). Wait up to a second for
 * pcscd to notice, so the caller gets "removed" rather than "malformed". */
static int empty_response(pcsc_tp_t *t)
{
    SCARD_READERSTATE st = {0};
    st.szReader = t->reader;
    st.dwCurrentState = SCARD_STATE_UNAWARE;
    for (int round = 0; round < 2; round++) {
        if (SCardGetStatusChange(t->ctx, round == 0 ? 0 : 1000, &st, 1) != SCARD_S_SUCCESS)
            break;
        if ((st.dwEventState & SCARD_STATE_EMPTY) != 0)
            return SCB_E_CARD_REMOVED;
        st.dwCurrentState = st.dwEventState & ~SCARD_STATE_CHANGED;
    }
    return SCB_E_TRANSPORT;
}

static int pcsc_transmit(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                         size_t *resp_len)
{
    pcsc_tp_t *t = user;
    const SCARD_IO_REQUEST *pci = t->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    DWORD rlen = (DWORD)*resp_len;
    t->detail[0] = 0;
    LONG rv = SCardTransmit(t->h, pci, cmd, (DWORD)cmd_len, NULL, resp, &rlen);
    if (rv == SCARD_W_RESET_CARD)
        reconnect(t);
    if (rv != SCARD_S_SUCCESS) {
        int rc = map_rv(rv);
        /* A card pulled mid-command shows as one of several failures
         * (SCARD_E_NOT_TRANSACTED, SCARD_W_UNPOWERED_CARD, ...) depending on
         * the reader driver; the reader's state tells what happened. */
        if (rc == SCB_E_TRANSPORT && empty_response(t) == SCB_E_CARD_REMOVED)
            rc = SCB_E_CARD_REMOVED;
        snprintf(t->detail, sizeof(t->detail), "%s (PC/SC: %s)", scb_strerror(rc),
                 pcsc_stringify_error(rv));
        return rc;
    }
    if (rlen == 0)
        return empty_response(t);
    *resp_len = rlen;
    return SCB_OK;
}

static int pcsc_begin(void *user)
{
    pcsc_tp_t *t = user;
    LONG rv = SCardBeginTransaction(t->h);
    if (rv == SCARD_W_RESET_CARD) {
        reconnect(t);
        return SCB_E_CARD_RESET;
    }
    return map_rv(rv);
}

static int pcsc_end(void *user)
{
    pcsc_tp_t *t = user;
    return map_rv(SCardEndTransaction(t->h, SCARD_LEAVE_CARD));
}

static void pcsc_close(void *user)
{
    pcsc_tp_t *t = user;
    if (t->h != 0)
        SCardDisconnect(t->h, SCARD_LEAVE_CARD);
    SCardReleaseContext(t->ctx);
    free(t->reader);
    free(t);
}

int scb_card_open_pcsc(scb_card_t **out, const char *reader, char *detail, size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    pcsc_tp_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return SCB_E_NOMEM;
    int rc = establish(&t->ctx, detail, detail_len);
    if (rc != SCB_OK) {
        free(t);
        return rc;
    }
    scb_readers_t *list = NULL;
    size_t idx = 0;
    rc = list_with_context(t->ctx, &list, detail, detail_len);
    if (rc == SCB_OK)
        rc = pick_reader(list, reader, &idx, detail, detail_len);
    if (rc == SCB_OK) {
        t->reader = strdup(list->names[idx]);
        if (t->reader == NULL)
            rc = SCB_E_NOMEM;
    }
    scb_readers_free(&list);
    if (rc == SCB_OK) {
        LONG rv = SCardConnect(t->ctx, t->reader, SCARD_SHARE_SHARED,
                               SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &t->h, &t->proto);
        if (rv != SCARD_S_SUCCESS) {
            rc = map_rv(rv);
            if (rc == SCB_E_CARD_REMOVED)
                rc = SCB_E_NO_CARD;
            scb__detail(detail, detail_len, rc, "cannot connect to '%s': %s", t->reader,
                        pcsc_stringify_error(rv));
        }
    }
    unsigned flags = 0;
    if (rc == SCB_OK) {
        uint8_t atr[MAX_ATR_SIZE];
        DWORD atr_len = sizeof(atr), state = 0, proto = 0, rlen = 0;
        if (SCardStatus(t->h, NULL, &rlen, &state, &proto, atr, &atr_len) == SCARD_S_SUCCESS &&
            scb__atr_extended_length(atr, atr_len))
            flags |= SCB_TP_EXTENDED_LENGTH;
        if (t->proto == SCARD_PROTOCOL_T0)
            flags |= SCB_TP_T0;
    }
    if (rc != SCB_OK) {
        pcsc_close(t);
        return rc;
    }
    scb_transport_t tp = {0};
    tp.version = SCB_TRANSPORT_VERSION;
    tp.user = t;
    tp.flags = flags;
    tp.transmit = pcsc_transmit;
    tp.begin = pcsc_begin;
    tp.end = pcsc_end;
    tp.close = pcsc_close;
    rc = scb_card_open_transport(out, &tp);
    if (rc != SCB_OK) {
        pcsc_close(t);
        return rc;
    }
    (*out)->reader_name = t->reader;
    (*out)->tp_detail = t->detail;
    return SCB_OK;
}
