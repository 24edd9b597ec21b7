/*
 * SCP03 host cost. Prints "name: value unit" lines:
 *
 *   scp03_wrap239_ns      wrap of the largest plaintext that fits a short
 *                         APDU at level 33 S8 (239 bytes: 240 encrypted
 *                         + 8 MAC = Lc 248)
 *   scp03_unwrap239_ns    unwrap of a 239-byte plaintext response (R-MAC
 *                         check + R-ENC decrypt + padding)
 *   scp03_apdu_ns         the two together: one short secured round
 *   scp03_wrap255_ext_ns  wrap of 255 plaintext bytes, which needs extended
 *                         length (256 encrypted + 8 MAC = Lc 264)
 *   scp03_unwrap255_ns    unwrap of a 255-byte plaintext response
 *                         (256 + 8 bytes: an extended-length response)
 *   scp03_apdu_ext255_ns  the two together
 *   scp03_handshake_us    scb_scp03_open on the recorded Samsung session
 *                         (INITIALIZE UPDATE + EXTERNAL AUTHENTICATE through
 *                         the engine and an in-memory transport)
 *   scp03_allocs_per_apdu heap allocations per wrap + unwrap after the
 *                         handshake (malloc/calloc/realloc by anyone, plus
 *                         OpenSSL's through CRYPTO_set_mem_functions)
 *   scp03_allocs_per_transmit  the same for a whole scb_card_transmit
 *                         under level 33, the emulated card's crypto included
 *
 * Wrap and unwrap are timed in separate loops: wrap advances the MAC chain,
 * unwrap does not change the session, so one authentic response can be
 * unwrapped again and again. Times are CPU time of this thread, best of 15
 * batches of 20000 (the machine is shared; the minimum is the cost without
 * interference).
 */
#include "scp03.h"
#include "scp03_card_oracle.h"

#include <openssl/crypto.h>
#include <time.h>

/* ---- allocation counting (this benchmark only) ---- */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static unsigned long allocs;

void *malloc(size_t n)
{
    allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    allocs++;
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    allocs++;
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    allocs++;
    return __libc_malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    allocs++;
    return __libc_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    __libc_free(p);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Session keys for the measurement (any will do). */
static const char *const SESSION_JSON =
    "{\"session\": {\"s_enc\": \"45AA38361C2D05306C4203B11A743AD9\","
    " \"s_mac\": \"30BA0D745A51F10D717A086C11EE1FA0\","
    " \"s_rmac\": \"B72AF42E308A2E2CAAB8983CA7228778\"}}";

static scb__scp03_session_t *make_session(void)
{
    scb__scp03_derived_t d;
    memset(&d, 0, sizeof(d));
    tk_unhex("45AA38361C2D05306C4203B11A743AD9", d.s_enc, 16);
    tk_unhex("30BA0D745A51F10D717A086C11EE1FA0", d.s_mac, 16);
    tk_unhex("B72AF42E308A2E2CAAB8983CA7228778", d.s_rmac, 16);
    d.key_len = 16;
    d.cryptogram_len = 8;
    scb__scp03_session_t *s = NULL;
    if (scb__scp03_session_new(&s, &d, NULL, 0x33, 0) != SCB_OK)
        abort();
    return s;
}

/* Encode a wrapped short command to wire bytes (for the card oracle). */
static size_t wire_of(const scb_apdu_t *w, uint8_t *out)
{
    out[0] = w->cla, out[1] = w->ins, out[2] = w->p1, out[3] = w->p2;
    out[4] = (uint8_t)w->lc;
    memcpy(out + 5, w->data, w->lc);
    return 5 + w->lc;
}

#define BATCHES 15

typedef struct measured {
    double wrap_ns, unwrap_ns;
    double allocs;
} measured_t;

static measured_t measure(size_t plain_len, bool extended, long iters)
{
    measured_t m = {0};
    scb__scp03_session_t *s = make_session();  /* unwraps one fixed response */
    scb__scp03_session_t *sw = make_session(); /* wraps on and on */
    uint8_t data[300], buf[600], wire[600], resp[600], out[600];
    memset(data, 0x3C, sizeof(data));
    char detail[160];
    scb_apdu_t in = {.cla = 0x80,
                     .ins = 0xE2,
                     .p1 = 0,
                     .p2 = 0,
                     .data = data,
                     .lc = plain_len,
                     .extended = extended};
    scb_apdu_t w;

    /* one short command so that the card oracle knows the MAC chain, then
     * one authentic response of plain_len bytes to unwrap repeatedly */
    oracle_t o;
    json_object *j = json_tokener_parse(SESSION_JSON);
    oracle_init(&o, j, 0x33);
    scb_apdu_t first = in;
    first.lc = 16;
    first.extended = false;
    if (scb__scp03_wrap(s, &first, 0x84, true, false, &w, buf, sizeof(buf), detail,
                        sizeof(detail)) != SCB_OK)
        abort();
    uint8_t scratch[600];
    oracle_command(&o, wire, wire_of(&w, wire), false, scratch);
    size_t rlen = oracle_respond(&o, data, plain_len, 0x9000, resp) - 2;
    if (o.bad_cmac != 0)
        abort();

    unsigned long a0 = allocs;
    m.unwrap_ns = m.wrap_ns = 1e30;
    for (int batch = 0; batch < BATCHES; batch++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            size_t ol = sizeof(out);
            if (scb__scp03_unwrap(s, resp, rlen, 0x9000, out, &ol, detail, sizeof(detail)) !=
                    SCB_OK ||
                ol != plain_len)
                abort();
        }
        double t1 = now_ns();
        for (long i = 0; i < iters; i++) {
            if (scb__scp03_wrap(sw, &in, 0x84, true, false, &w, buf, sizeof(buf), detail,
                                sizeof(detail)) != SCB_OK ||
                w.extended != extended)
                abort();
        }
        double t2 = now_ns();
        if ((t1 - t0) / (double)iters < m.unwrap_ns)
            m.unwrap_ns = (t1 - t0) / (double)iters;
        if ((t2 - t1) / (double)iters < m.wrap_ns)
            m.wrap_ns = (t2 - t1) / (double)iters;
    }
    m.allocs = (double)(allocs - a0) / (double)(iters * BATCHES);
    oracle_free(&o);
    json_object_put(j);
    scb__scp03_session_free(&s);
    scb__scp03_session_free(&sw);
    return m;
}

static size_t answer_status(oracle_t *o, const uint8_t *hdr, const uint8_t *plain, size_t n,
                            uint8_t *resp)
{
    (void)hdr;
    return oracle_respond(o, plain, n, 0x9000, resp); /* echo the command data */
}

int main(void)
{
    if (CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) != 1)
        fprintf(stderr, "note: OpenSSL allocated before main; counting via malloc only\n");

    measured_t shortm = measure(239, false, 20000);
    measured_t ext = measure(255, true, 20000);
    printf("scp03_wrap239_ns: %.0f ns\n", shortm.wrap_ns);
    printf("scp03_unwrap239_ns: %.0f ns\n", shortm.unwrap_ns);
    printf("scp03_apdu_ns: %.0f ns\n", shortm.wrap_ns + shortm.unwrap_ns);
    printf("scp03_wrap255_ext_ns: %.0f ns\n", ext.wrap_ns);
    printf("scp03_unwrap255_ns: %.0f ns\n", ext.unwrap_ns);
    printf("scp03_apdu_ext255_ns: %.0f ns\n", ext.wrap_ns + ext.unwrap_ns);

    /* the handshake through the engine, on the recorded Samsung session */
    json_object *v = tk_load_vectors("scp03.json");
    json_object *e = scp03_entry(v, "samsung_aes128_s8_sl33");
    tk_script_t *sc = tk_script_new();
    tk_script_add(sc, scp03_exchange(e, 0, "c"), scp03_exchange(e, 0, "r"));
    tk_script_add(sc, scp03_exchange(e, 1, "c"), scp03_exchange(e, 1, "r"));
    scb_card_t *card = tk_card(sc);
    uint8_t enc[16], mac[16], hc[8];
    tk_unhex(scp03_field(e, "keys", "enc"), enc, 16);
    tk_unhex(scp03_field(e, "keys", "mac"), mac, 16);
    tk_unhex(tk_json_str(e, "host_challenge"), hc, 8);
    scb_keys_t *keys = NULL;
    if (scb_keys_new(&keys, enc, mac, enc, 16, 0x30) != SCB_OK)
        abort();
    scb_opts_t *p = NULL;
    if (scb_opts_new(&p) != SCB_OK ||
        scb_opts_set_bytes(p, SCB_OPT_HOST_CHALLENGE, hc, sizeof(hc)) != SCB_OK)
        abort();
    const long hs_iters = 5000;
    double t0 = now_ns();
    for (long i = 0; i < hs_iters; i++) {
        sc->pos = 0;
        if (scb_scp03_open(card, keys, p) != SCB_OK)
            abort();
    }
    double t1 = now_ns();
    printf("scp03_handshake_us: %.1f us\n", (t1 - t0) / (double)hs_iters / 1000.0);
    printf("scp03_allocs_per_apdu: %.2f allocs\n", (shortm.allocs + ext.allocs) / 2.0);

    /* whole secured transmits after the handshake, answered by the card
     * oracle; allocations counted over the engine and the card alike */
    oracle_t o;
    oracle_init(&o, e, 0x33);
    o.answer = answer_status;
    sc->responder = oracle_responder;
    sc->user = &o;
    if (scb_scp03_open(card, keys, p) != SCB_OK) /* the oracle follows this handshake */
        abort();
    uint8_t cmd[5 + 200], resp[300];
    memcpy(cmd, "\x80\xE2\x00\x00\xC8", 5);
    memset(cmd + 5, 0x42, 200);
    const long tx_iters = 20000;
    unsigned long a0 = allocs;
    for (long i = 0; i < tx_iters; i++) {
        size_t rl = sizeof(resp);
        if (scb_card_transmit(card, cmd, sizeof(cmd), resp, &rl) != SCB_OK || rl != 202)
            abort();
    }
    printf("scp03_allocs_per_transmit: %.2f allocs\n", (double)(allocs - a0) / (double)tx_iters);
    if (o.bad_cmac != 0)
        abort();
    oracle_free(&o);
    scb_opts_free(&p);
    scb_keys_free(&keys);
    scb_card_free(&card);
    tk_script_free(sc);
    json_object_put(v);
    return 0;
}
