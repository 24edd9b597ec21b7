/*
 * The PC/SC transport (pcsc-lite). The only file that includes the PC/SC
 * headers. One SCARDCONTEXT per card handle (or per reader list), so
 * threads with their own handles never share one.
 *
 * Bounded waits. pcsc-lite's SCardTransmit, SCardBeginTransaction and
 * SCardConnect may block for as long as the reader, the card or another
 * program's transaction keeps them (pcsc-lite documents SCardConnect as
 * allowed to block without limit; SCardCancel ends only
 * SCardGetStatusChange, and a context cannot be released while one of its
 * calls runs). So a card handle's PC/SC calls run on a thread of the
 * handle's own, and the caller waits for each at most as long as its
 * operation has left (scb_card_set_timeout). A call that outlives that is
 * abandoned: the handle refuses every later call with SCB_E_TIMEOUT, and
 * the thread, once pcsc-lite returns, releases the connection and frees
 * what it holds (also when the handle was freed meanwhile).
 */
#include "atr.h"
#include "crypto.h"
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <winscard.h>

#ifndef SCARD_AUTOALLOCATE
#error "pcsc-lite with SCARD_AUTOALLOCATE required"
#endif

/* A call the handle's thread runs for the caller. */
enum { CALL_NONE, CALL_OPEN, CALL_TRANSMIT, CALL_BEGIN, CALL_END, CALL_EXIT };

typedef struct pcsc_tp {
    SCARDCONTEXT ctx;
    SCARDHANDLE h;
    DWORD proto;
    bool has_ctx;
    char *reader;
    char detail[160];     /* why the last call failed (the card handle's tp_detail) */
    const scb_card_t *card; /* the operation's time bound (NULL while opening) */

    /* the thread and the call it runs (under mu) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;    /* CLOCK_MONOTONIC */
    int call;             /* requested, CALL_NONE when done */
    int rc;               /* its result */
    bool abandoned;       /* a call outlived its bound: the handle is unusable */
    bool orphan;          /* freed while abandoned: the thread frees the rest */
    /* the call's data, owned here: an abandoned caller's buffers are gone */
    const char *want;     /* CALL_OPEN: the reader asked for */
    char open_detail[256];
    unsigned open_flags;
    uint8_t *cmd;         /* SCB__CMD_MAX */
    size_t cmd_len;
    uint8_t *resp;        /* SCB__RESP_MAX */
    size_t resp_len;
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

/* A transmit that fails without saying why has usually lost the card
 * (vpcd reports a vanished card process this way) or the daemon (pcscd
 * shutting down answers a transmit in flight with SCARD_W_SECURITY_VIOLATION
 * before its socket closes). Ask, for up to two seconds, until one of them
 * tells: pcscd polls its readers every 400 ms, later under load, and a
 * daemon on its way out stops answering within that time. The caller then
 * gets "removed" or "no service" rather than "transport failure". */
static int why_failed(pcsc_tp_t *t)
{
    SCARD_READERSTATE st = {0};
    st.szReader = t->reader;
    st.dwCurrentState = SCARD_STATE_UNAWARE;
    for (int round = 0; round < 5; round++) {
        /* The connection itself knows when its card went away, also when a
         * card is back in the reader by now (pcsc-lite: SCARD_W_REMOVED_CARD
         * stays on the handle); the reader's state is asked when it does
         * not say. */
        DWORD state = 0, proto = 0, rlen = 0, atr_len = 0;
        LONG rv = SCardStatus(t->h, NULL, &rlen, &state, &proto, NULL, &atr_len);
        if (rv == SCARD_W_REMOVED_CARD || rv == SCARD_E_NO_SMARTCARD || rv == SCARD_W_RESET_CARD)
            return SCB_E_CARD_REMOVED;
        if (map_rv(rv) == SCB_E_NO_SERVICE)
            return SCB_E_NO_SERVICE;
        rv = SCardGetStatusChange(t->ctx, round == 0 ? 0 : 500, &st, 1);
        if (map_rv(rv) == SCB_E_NO_SERVICE)
            return SCB_E_NO_SERVICE;
        if (rv == SCARD_S_SUCCESS && (st.dwEventState & SCARD_STATE_EMPTY) != 0)
            return SCB_E_CARD_REMOVED;
        if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
            if (round == 0)
                break; /* the reader cannot be asked: nothing more to learn */
            continue;
        }
        st.dwCurrentState = st.dwEventState & ~SCARD_STATE_CHANGED;
    }
    return SCB_E_TRANSPORT;
}

/* The calls as the handle's thread runs them. */
static int do_transmit(pcsc_tp_t *t)
{
    const SCARD_IO_REQUEST *pci = t->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    DWORD rlen = (DWORD)t->resp_len;
    LONG rv = SCardTransmit(t->h, pci, t->cmd, (DWORD)t->cmd_len, NULL, t->resp, &rlen);
    if (rv == SCARD_W_RESET_CARD)
        reconnect(t);
    if (rv != SCARD_S_SUCCESS) {
        int rc = map_rv(rv);
        /* A card pulled mid-command shows as one of several failures
         * (SCARD_E_NOT_TRANSACTED, SCARD_W_UNPOWERED_CARD, ...) depending on
         * the reader driver; the connection and the reader tell what
         * happened. */
        if (rc == SCB_E_TRANSPORT)
            rc = why_failed(t);
        snprintf(t->detail, sizeof(t->detail), "%s (PC/SC: %s)", scb_strerror(rc),
                 pcsc_stringify_error(rv));
        return rc;
    }
    /* No bytes at all, not even a status word, is no answer of a card:
     * vpcd reports a vanished card process this way, also when the card
     * is back in the reader before pcscd polled it (then neither the
     * handle nor the reader's state shows the removal). */
    if (rlen == 0)
        return SCB_E_CARD_REMOVED; /* the same words as a card gone in process */
    t->resp_len = rlen;
    return SCB_OK;
}

static int do_begin(pcsc_tp_t *t)
{
    LONG rv = SCardBeginTransaction(t->h);
    if (rv == SCARD_W_RESET_CARD) {
        reconnect(t);
        return SCB_E_CARD_RESET;
    }
    return map_rv(rv);
}

static int do_open(pcsc_tp_t *t);

static void release(pcsc_tp_t *t)
{
    if (t->h != 0)
        SCardDisconnect(t->h, SCARD_LEAVE_CARD);
    if (t->has_ctx)
        SCardReleaseContext(t->ctx);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    if (t->cmd != NULL)
        scb__cleanse(t->cmd, SCB__CMD_MAX); /* wrapped APDUs */
    if (t->resp != NULL)
        scb__cleanse(t->resp, SCB__RESP_MAX);
    free(t->cmd);
    free(t->resp);
    free(t->reader);
    free(t);
}

static void *worker(void *arg)
{
    pcsc_tp_t *t = arg;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (t->call == CALL_NONE)
            pthread_cond_wait(&t->cv, &t->mu);
        const int call = t->call;
        if (call == CALL_EXIT)
            break;
        pthread_mutex_unlock(&t->mu);
        int rc;
        switch (call) {
        case CALL_OPEN: rc = do_open(t); break;
        case CALL_TRANSMIT: rc = do_transmit(t); break;
        case CALL_BEGIN: rc = do_begin(t); break;
        default: rc = map_rv(SCardEndTransaction(t->h, SCARD_LEAVE_CARD)); break;
        }
        pthread_mutex_lock(&t->mu);
        t->rc = rc;
        t->call = CALL_NONE;
        pthread_cond_broadcast(&t->cv);
        if (t->orphan)
            break;
    }
    pthread_mutex_unlock(&t->mu);
    release(t);
    return NULL;
}

/* Run call on the handle's thread, waiting at most the operation's time
 * (ms when opening). */
static int run(pcsc_tp_t *t, int call, unsigned ms)
{
    if (t->card != NULL)
        ms = scb__remaining_ms(t->card);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (ms != UINT_MAX) {
        until.tv_sec += (time_t)(ms / 1000u);
        until.tv_nsec += (long)(ms % 1000u) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&t->mu);
    if (t->abandoned) {
        pthread_mutex_unlock(&t->mu);
        snprintf(t->detail, sizeof(t->detail), "an earlier command still waits for the reader: "
                 "free this handle and open the card again");
        return SCB_E_TIMEOUT;
    }
    t->detail[0] = 0;
    t->call = call;
    pthread_cond_broadcast(&t->cv);
    while (t->call != CALL_NONE) {
        if (ms == UINT_MAX) {
            pthread_cond_wait(&t->cv, &t->mu);
        } else if (pthread_cond_timedwait(&t->cv, &t->mu, &until) == ETIMEDOUT &&
                   t->call != CALL_NONE) {
            t->abandoned = true;
            pthread_mutex_unlock(&t->mu);
            snprintf(t->detail, sizeof(t->detail),
                     "the reader did not answer within %u ms (a mute card, or another program "
                     "holding the reader); this handle can no longer be used: free it and open "
                     "the card again", t->card != NULL ? scb_card_timeout(t->card) : ms);
            return SCB_E_TIMEOUT;
        }
    }
    const int rc = t->rc;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

static int pcsc_transmit(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                         size_t *resp_len)
{
    pcsc_tp_t *t = user;
    if (cmd_len > SCB__CMD_MAX)
        return SCB_E_INVALID_ARG;
    memcpy(t->cmd, cmd, cmd_len);
    t->cmd_len = cmd_len;
    t->resp_len = *resp_len < SCB__RESP_MAX ? *resp_len : SCB__RESP_MAX;
    int rc = run(t, CALL_TRANSMIT, 0);
    if (rc == SCB_OK) {
        memcpy(resp, t->resp, t->resp_len);
        *resp_len = t->resp_len;
    }
    return rc;
}

static int pcsc_begin(void *user)
{
    return run(user, CALL_BEGIN, 0);
}

static int pcsc_end(void *user)
{
    return run(user, CALL_END, 0);
}

static void pcsc_close(void *user)
{
    pcsc_tp_t *t = user;
    pthread_mutex_lock(&t->mu);
    const pthread_t thread = t->thread; /* t is the thread's to free from here on */
    if (t->call != CALL_NONE) {
        /* still in pcsc-lite: the thread frees everything when it returns */
        t->orphan = true;
        pthread_mutex_unlock(&t->mu);
        pthread_detach(thread);
        return;
    }
    t->call = CALL_EXIT;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(thread, NULL);
}

/* A new transport with its thread. */
static int tp_new(pcsc_tp_t **out)
{
    pcsc_tp_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return SCB_E_NOMEM;
    pthread_condattr_t ca;
    bool mu = false, cv = false;
    int rc = SCB_E_NOMEM;
    t->cmd = malloc(SCB__CMD_MAX);
    t->resp = malloc(SCB__RESP_MAX);
    if (t->cmd != NULL && t->resp != NULL && pthread_mutex_init(&t->mu, NULL) == 0) {
        mu = true;
        if (pthread_condattr_init(&ca) == 0) {
            cv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                 pthread_cond_init(&t->cv, &ca) == 0;
            pthread_condattr_destroy(&ca);
        }
        if (cv && pthread_create(&t->thread, NULL, worker, t) == 0)
            rc = SCB_OK;
    }
    if (rc != SCB_OK) {
        if (cv)
            pthread_cond_destroy(&t->cv);
        if (mu)
            pthread_mutex_destroy(&t->mu);
        free(t->cmd);
        free(t->resp);
        free(t);
        return rc;
    }
    *out = t;
    return SCB_OK;
}

/* Context, reader, connection and the transport flags, on the handle's
 * thread (SCardConnect may wait for another program's transaction). */
static int do_open(pcsc_tp_t *t)
{
    char *detail = t->open_detail;
    const size_t detail_len = sizeof(t->open_detail);
    int rc = establish(&t->ctx, detail, detail_len);
    if (rc != SCB_OK)
        return rc;
    t->has_ctx = true;
    scb_readers_t *list = NULL;
    size_t idx = 0;
    rc = list_with_context(t->ctx, &list, detail, detail_len);
    if (rc == SCB_OK)
        rc = pick_reader(list, t->want, &idx, detail, detail_len);
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
    if (rc == SCB_OK) {
        uint8_t atr[MAX_ATR_SIZE];
        DWORD atr_len = sizeof(atr), state = 0, proto = 0, rlen = 0;
        if (SCardStatus(t->h, NULL, &rlen, &state, &proto, atr, &atr_len) == SCARD_S_SUCCESS &&
            scb__atr_extended_length(atr, atr_len))
            t->open_flags |= SCB_TP_EXTENDED_LENGTH;
        if (t->proto == SCARD_PROTOCOL_T0)
            t->open_flags |= SCB_TP_T0;
    }
    return rc;
}

int scb_card_open_pcsc(scb_card_t **out, const char *reader, char *detail, size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    pcsc_tp_t *t = NULL;
    int rc = tp_new(&t);
    if (rc != SCB_OK)
        return scb__detail(detail, detail_len, rc, "no memory or thread for the PC/SC transport");
    t->want = reader;
    rc = run(t, CALL_OPEN, SCB_DEFAULT_TIMEOUT_MS);
    t->want = NULL;
    if (rc != SCB_OK) {
        if (rc == SCB_E_TIMEOUT)
            scb__detail(detail, detail_len, rc, "the PC/SC daemon or the reader did not answer "
                        "within %u ms", SCB_DEFAULT_TIMEOUT_MS);
        else
            scb__detail(detail, detail_len, rc, "%s", t->open_detail);
        pcsc_close(t);
        return rc;
    }
    scb_transport_t tp = {0};
    tp.version = SCB_TRANSPORT_VERSION;
    tp.user = t;
    tp.flags = t->open_flags;
    tp.transmit = pcsc_transmit;
    tp.begin = pcsc_begin;
    tp.end = pcsc_end;
    tp.close = pcsc_close;
    rc = scb_card_open_transport(out, &tp);
    if (rc != SCB_OK) {
        pcsc_close(t);
        return rc;
    }
    t->card = *out;
    (*out)->reader_name = t->reader;
    (*out)->tp_detail = t->detail;
    return SCB_OK;
}
