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
 *                         under level 33, with the virtual card (core/sim) as
 *                         the card end; what the card allocates is not
 *                         counted here but in
 *   scp03_card_allocs_per_apdu  the virtual card's allocations per secured
 *                         APDU (its OpenSSL wrapper sets a key per call)
 *
 * Wrap and unwrap are timed in separate loops: wrap advances the MAC chain,
 * unwrap does not change the session, so one authentic response can be
 * unwrapped again and again. Times are CPU time of this thread, best of 15
 * batches of 20000 (the machine is shared; the minimum is the cost without
 * interference).
 */
#include "scp03.h"
#include "scp03_testdata.h"
#include "sim_rig.h"

#include <openssl/crypto.h>
#include <time.h>

/* ---- allocation counting (this benchmark only) ---- */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static unsigned long allocs, card_allocs;
static unsigned long *counter = &allocs; /* where allocations are counted now */

void *malloc(size_t n)
{
    (*counter)++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    (*counter)++;
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    (*counter)++;
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    (*counter)++;
    return __libc_malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    (*counter)++;
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
static void session_keys(scb__scp03_derived_t *d)
{
    memset(d, 0, sizeof(*d));
    tk_unhex("45AA38361C2D05306C4203B11A743AD9", d->s_enc, 16);
    tk_unhex("30BA0D745A51F10D717A086C11EE1FA0", d->s_mac, 16);
    tk_unhex("B72AF42E308A2E2CAAB8983CA7228778", d->s_rmac, 16);
    d->key_len = 16;
    d->cryptogram_len = 8;
}

static scb__scp03_session_t *make_session(void)
{
    scb__scp03_derived_t d;
    session_keys(&d);
    scb__scp03_session_t *s = NULL;
    if (scb__scp03_session_new(&s, &d, NULL, 0x33, 0) != SCB_OK)
        abort();
    return s;
}

/* The card's answer to every command: the bytes in user (a byte count
 * first), for the card to wrap. */
static int answer_fixed(void *user, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *rl)
{
    const uint8_t *a = user;
    (void)cmd, (void)len;
    return rig_answer(resp, rl, a + 2, (size_t)a[0] << 8 | a[1], 0x9000);
}

/* The card's answer to the benchmark's command (INS E2): its data, echoed;
 * the card answers the rest (the handshake) itself. */
static int answer_echo(void *user, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *rl)
{
    (void)user;
    if (len < 5 || cmd[1] != 0xE2)
        return SCB_SIM_HOOK_PASS;
    return rig_answer(resp, rl, cmd + 5, cmd[4], 0x9000);
}

/* The virtual card as the transport, its allocations counted apart. */
static int card_transmit(void *user, const uint8_t *cmd, size_t len, uint8_t *resp,
                         size_t *resp_len)
{
    counter = &card_allocs;
    int rc = scb_sim_process(user, cmd, len, resp, resp_len);
    counter = &allocs;
    return rc;
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

    /* one command to the virtual card, in a session from the same keys,
     * then its one authentic response of plain_len bytes to unwrap
     * repeatedly */
    scb_sim_t *sim = NULL;
    scb__scp03_derived_t d;
    session_keys(&d);
    uint8_t answer[2 + 300];
    answer[0] = (uint8_t)(plain_len >> 8);
    answer[1] = (uint8_t)plain_len;
    memcpy(answer + 2, data, plain_len);
    if (scb_sim_new_from_json(&sim, "{\"extended_length\": true}", NULL, 0) != SCB_OK ||
        scb_sim_open_session(sim, 0, d.s_enc, d.s_mac, d.s_rmac, 16, 0x33, 0, NULL) != SCB_OK)
        abort();
    scb_sim_set_cmd_hook(sim, answer_fixed, answer);
    scb_apdu_t first = in;
    first.lc = 16;
    if (scb__scp03_wrap(s, &first, 0x84, true, false, &w, buf, sizeof(buf), detail,
                        sizeof(detail)) != SCB_OK)
        abort();
    size_t wl = sizeof(wire), rlen = sizeof(resp);
    if (scb__apdu_encode(&w, wire, &wl) != SCB_OK ||
        scb_sim_process(sim, wire, wl, resp, &rlen) != SCB_OK || rlen < plain_len + 8 + 2)
        abort(); /* the card verified the C-MAC and answered */
    rlen -= 2;
    scb_sim_free(&sim);
    scb__cleanse(&d, sizeof(d));

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
    scb__scp03_session_free(&s);
    scb__scp03_session_free(&sw);
    return m;
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

    /* whole secured transmits after a handshake with the virtual card, which
     * echoes the command data; allocations counted over the engine and the
     * card alike */
    scb_card_t *vcard = NULL;
    scb_sim_t *sim = NULL;
    scb_keys_t *vkeys = NULL;
    if (scb_sim_new(&sim, NULL, NULL, 0) != SCB_OK || scb_sim_host_keys(sim, &vkeys) != SCB_OK)
        abort();
    scb_sim_set_cmd_hook(sim, answer_echo, NULL);
    scb_transport_t tp;
    if (scb_sim_transport(sim, &tp) != SCB_OK)
        abort();
    tp.transmit = card_transmit;
    if (scb_card_open_transport(&vcard, &tp) != SCB_OK ||
        scb_select_aid(vcard, scb_pkcs15_default_aid(), SCB_PKCS15_AID_LEN, SCB_SEL_NO_RESP,
                       NULL) != SCB_OK ||
        scb_scp03_open(vcard, vkeys, NULL) != SCB_OK || scb_scp03_level(vcard) != 0x33)
        abort();
    uint8_t cmd[5 + 200], resp[300];
    memcpy(cmd, "\x80\xE2\x00\x00\xC8", 5);
    memset(cmd + 5, 0x42, 200);
    const long tx_iters = 20000;
    unsigned long a0 = allocs, c0 = card_allocs;
    for (long i = 0; i < tx_iters; i++) {
        size_t rl = sizeof(resp);
        if (scb_card_transmit(vcard, cmd, sizeof(cmd), resp, &rl) != SCB_OK || rl != 202 ||
            memcmp(resp, cmd + 5, 200) != 0)
            abort();
    }
    printf("scp03_allocs_per_transmit: %.2f allocs\n", (double)(allocs - a0) / (double)tx_iters);
    printf("scp03_card_allocs_per_apdu: %.2f allocs\n",
           (double)(card_allocs - c0) / (double)tx_iters);
    scb_card_free(&vcard);
    scb_sim_free(&sim);
    scb_keys_free(&vkeys);
    scb_opts_free(&p);
    scb_keys_free(&keys);
    scb_card_free(&card);
    tk_script_free(sc);
    json_object_put(v);
    return 0;
}
