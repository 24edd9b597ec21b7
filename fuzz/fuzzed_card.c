/*
 * The fuzzed card (see fuzzed_card.h): records from the input answer the
 * library's commands; the SCP03 card end seals them when asked.
 */
#include "fuzzed_card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint8_t fz_static_key[16] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                                   0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F};

/* The PKCS#15 AID: context of the pseudo-random card challenge. */
static const uint8_t pkcs15_aid[12] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                       0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};
static const uint8_t kdd[10] = {0x98, 0x88, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xF3};
static const uint8_t seq_counter[3] = {0x00, 0x00, 0x01};

/* Transport outcomes an FZ_ERROR record can pick: transport codes, codes a
 * transport should not return (normalised by the engine), a positive value. */
static const int fz_errors[] = {
    SCB_E_CARD_REMOVED, SCB_E_CARD_RESET, SCB_E_TIMEOUT,      SCB_E_TRANSPORT,
    SCB_E_NO_SERVICE,   SCB_E_SHARING,    SCB_E_NOMEM,        SCB_E_MODEM,
    SCB_E_MODEM_CME,    SCB_E_BAD_RESPONSE, SCB_E_PARSE,      SCB_E_SCP_RMAC,
    SCB_E_BUFFER_TOO_SMALL, 7,
};

int fz_card_keys(scb_keys_t **out)
{
    return scb_keys_new(out, fz_static_key, fz_static_key, fz_static_key, 16, FZ_KVN);
}

void fz_card_init(fz_card_t *c, const uint8_t *in, size_t len, unsigned tp_flags)
{
    memset(c, 0, sizeof(*c));
    c->in = in;
    c->len = len;
    c->tp_flags = tp_flags;
    c->last_kind = -1;
}

static void drop_session(fz_card_t *c)
{
    scb__aes_free(&c->s_enc);
    scb__aes_free(&c->s_mac);
    scb__aes_free(&c->s_rmac);
    c->session = false;
}

void fz_card_free(fz_card_t *c)
{
    drop_session(c);
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

/* ---- the SCP03 card end ---- */
static size_t mac_len(const fz_card_t *c)
{
    return c->s16 ? 16 : 8;
}

/* INITIALIZE UPDATE: derive the session and answer with a valid cryptogram. */
static size_t answer_iu(fz_card_t *c, const scb_apdu_t *a, uint8_t *r)
{
    drop_session(c);
    if (a->lc != 8 && a->lc != 16) {
        r[0] = 0x67;
        r[1] = 0x00;
        return 2;
    }
    const size_t chal = a->lc;
    c->s16 = chal == 16;
    memcpy(c->host_challenge, a->data, chal);
    scb__scp03_derived_t d;
    if (scb__scp03_card_challenge(fz_static_key, 16, seq_counter, pkcs15_aid, sizeof(pkcs15_aid),
                                  chal, c->card_challenge) != SCB_OK ||
        scb__scp03_derive(fz_static_key, fz_static_key, 16, c->host_challenge, c->card_challenge,
                          chal, &d) != SCB_OK ||
        scb__aes_new(&c->s_enc, d.s_enc, 16) != SCB_OK ||
        scb__aes_new(&c->s_mac, d.s_mac, 16) != SCB_OK ||
        scb__aes_new(&c->s_rmac, d.s_rmac, 16) != SCB_OK)
        abort();
    size_t o = 0;
    memcpy(r, kdd, sizeof(kdd));
    o += sizeof(kdd);
    r[o++] = a->p1 != 0 ? a->p1 : FZ_KVN;
    r[o++] = 0x03;
    r[o++] = (uint8_t)(0x70 | (c->s16 ? 0x01 : 0x00)); /* pseudo-random, R-MAC, R-ENC */
    memcpy(r + o, c->card_challenge, chal);
    o += chal;
    memcpy(r + o, d.card_cryptogram, chal);
    o += chal;
    memcpy(r + o, seq_counter, sizeof(seq_counter));
    o += sizeof(seq_counter);
    r[o++] = 0x90;
    r[o++] = 0x00;
    scb__cleanse(&d, sizeof(d));
    return o;
}

/* A wire command with SM: its full C-MAC becomes the chaining value
 * (MCV || CLA' INS P1 P2 Lc || data without the MAC; CLA' with the
 * channel bits cleared, the library's default). */
static void chain_command(fz_card_t *c, const scb_apdu_t *a)
{
    if (c->s_mac == NULL || a->lc < mac_len(c))
        return;
    const uint8_t cla = (a->cla & 0x40) ? (uint8_t)(a->cla & 0xF0) : (uint8_t)(a->cla & 0xFC);
    uint8_t hdr[7] = {cla, a->ins, a->p1, a->p2};
    size_t hl = 5;
    if (a->extended) {
        hdr[4] = 0;
        hdr[5] = (uint8_t)(a->lc >> 8);
        hdr[6] = (uint8_t)a->lc;
        hl = 7;
    } else {
        hdr[4] = (uint8_t)a->lc;
    }
    uint8_t mac[16];
    if (scb__cmac_begin(c->s_mac) != SCB_OK ||
        scb__cmac_update(c->s_mac, c->mcv, sizeof(c->mcv)) != SCB_OK ||
        scb__cmac_update(c->s_mac, hdr, hl) != SCB_OK ||
        scb__cmac_update(c->s_mac, a->data, a->lc - mac_len(c)) != SCB_OK ||
        scb__cmac_end(c->s_mac, mac) != SCB_OK)
        abort();
    memcpy(c->mcv, mac, sizeof(mac));
}

static bool sw_carries_rmac(uint16_t sw)
{
    return sw == 0x9000 || (sw >> 8) == 0x62 || (sw >> 8) == 0x63;
}

/* data || SW as the card end sends it: encrypted and MACed under a session
 * whose level asks for it. pad: add 80 00.. before encrypting. */
static int seal(fz_card_t *c, const uint8_t *b, size_t n, bool pad, uint8_t *resp, size_t cap,
                size_t *out)
{
    uint16_t sw = 0x9000;
    if (n >= 2) {
        sw = (uint16_t)(b[n - 2] << 8 | b[n - 1]);
        n -= 2;
    }
    static _Thread_local uint8_t work[32768 + 64];
    memcpy(work, b, n);
    size_t dl = n;
    const bool secured = c->session && sw_carries_rmac(sw);
    if (secured && (c->level & SCB_SL_RENC) && n > 0) {
        if (pad)
            work[dl++] = 0x80;
        while (dl % 16 != 0)
            work[dl++] = 0x00;
        uint8_t icv[16] = {0x80};
        for (int i = 0; i < 8; i++)
            icv[15 - i] = (uint8_t)(c->counter >> (8 * i));
        if (scb__aes_ecb_block(c->s_enc, icv, icv) != SCB_OK ||
            scb__aes_cbc_encrypt(c->s_enc, icv, work, dl, work) != SCB_OK)
            abort();
    }
    uint8_t swb[2] = {(uint8_t)(sw >> 8), (uint8_t)sw};
    if (secured && (c->level & SCB_SL_RMAC)) {
        uint8_t mac[16];
        if (scb__cmac_begin(c->s_rmac) != SCB_OK ||
            scb__cmac_update(c->s_rmac, c->mcv, sizeof(c->mcv)) != SCB_OK ||
            scb__cmac_update(c->s_rmac, work, dl) != SCB_OK ||
            scb__cmac_update(c->s_rmac, swb, 2) != SCB_OK || scb__cmac_end(c->s_rmac, mac) != SCB_OK)
            abort();
        memcpy(work + dl, mac, mac_len(c));
        dl += mac_len(c);
    }
    if (dl + 2 > cap)
        return SCB_E_TRANSPORT;
    memcpy(resp, work, dl);
    memcpy(resp + dl, swb, 2);
    *out = dl + 2;
    return SCB_OK;
}

static int card_answer(fz_card_t *c, const scb_apdu_t *a, bool parsed, bool sm, uint8_t *resp,
                       size_t cap, size_t *out)
{
    uint8_t r[64];
    size_t n;
    if (parsed && (a->cla & 0x80) && a->ins == 0x50 && !sm) {
        n = answer_iu(c, a, r);
    } else if (parsed && a->ins == 0x82 && sm) {
        r[0] = 0x90; /* EXTERNAL AUTHENTICATE: no R-MAC on its answer */
        r[1] = 0x00;
        n = 2;
    } else if (parsed && !(a->cla & 0x80) && a->ins == 0x70 && a->p1 == 0x00) {
        r[0] = 0x01;
        r[1] = 0x90;
        r[2] = 0x00;
        n = 3;
    } else {
        return seal(c, (const uint8_t *)"\x90\x00", 2, true, resp, cap, out);
    }
    if (n > cap)
        return SCB_E_TRANSPORT;
    memcpy(resp, r, n);
    *out = n;
    return SCB_OK;
}

static int fz_transmit(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                       size_t *resp_len)
{
    fz_card_t *c = user;
    scb_apdu_t a;
    const bool parsed = scb__apdu_parse(cmd, cmd_len, &a) == SCB_OK;
    const bool sm = parsed && a.cla != 0xFF && scb__cla_has_sm(a.cla);
    /* The card end follows the secure channel before it answers. */
    if (parsed && sm && a.ins == 0x82 && c->s_mac != NULL) {
        c->level = a.p1;
        memset(c->mcv, 0, sizeof(c->mcv));
        c->counter = 0;
        chain_command(c, &a);
        c->session = true;
    } else if (parsed && sm && c->session) {
        c->counter++;
        chain_command(c, &a);
    } else if (parsed && (a.cla & 0x80) && a.ins == 0x50) {
        c->session = false;
    }

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
        return card_answer(c, &a, parsed, sm, resp, cap, resp_len);
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

void fz_card_transport(fz_card_t *c, scb_transport_t *tp)
{
    memset(tp, 0, sizeof(*tp));
    tp->version = SCB_TRANSPORT_VERSION;
    tp->user = c;
    tp->flags = c->tp_flags;
    tp->transmit = fz_transmit;
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
