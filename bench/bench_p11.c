/*
 * Token keys against file keys, in one run (bench/run.sh makes a SoftHSM2
 * token in a temporary directory and imports the key sets with `scboot
 * keys import`):
 *
 *   bench_p11 BASE QUERY     key sets BASE;object=gp?QUERY (40..4F, the
 *                            virtual card's) and BASE;object=samsung?QUERY
 *                            (the recorded Samsung session's keys)
 *
 * Prints "name: value unit" lines:
 *   scp03_handshake_us_file / _token   scb_scp03_open on the recorded Samsung
 *                            session (INITIALIZE UPDATE + EXTERNAL
 *                            AUTHENTICATE host side), best of 9 batches
 *   scp03_handshake_token_extra_us     what the token adds (three C_Sign
 *                            CMACs through p11-kit into SoftHSM2)
 *   bootstrap_read_us_inprocess_file / _token   a cold read from the
 *                            in-process virtual card (wall time, best of 9)
 *   secured_apdu_ns_file / _token      one READ BINARY at level 33 after the
 *                            handshake (wrap, card, unwrap), best of 9
 *   secured_apdu_token_vs_file         the ratio (session keys are host
 *                            values: 1.00 means no cost; the budget is 1.05)
 */
#include "scboot/apdu.h"
#include "scboot_sim.h"
#include "scp03_testdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static scb_keys_t *token_keys(const char *base, const char *query, const char *name, uint8_t kvn)
{
    char uri[1200], detail[300] = "";
    snprintf(uri, sizeof(uri), "%s;object=%s?%s", base, name, query);
    scb_keys_t *k = NULL;
    if (scb_keys_open_pkcs11(&k, uri, kvn, NULL, 0, detail, sizeof(detail)) != SCB_OK) {
        fprintf(stderr, "bench_p11: %s: %s\n", name, detail);
        exit(1);
    }
    return k;
}

/* Best per-iteration time of batches of fn(ctx). */
static double best_of(int batches, int n, int (*fn)(void *), void *ctx)
{
    double best = 1e30;
    for (int b = 0; b < batches; b++) {
        double t0 = now_us();
        for (int i = 0; i < n; i++)
            if (fn(ctx) != SCB_OK)
                exit(1);
        double per = (now_us() - t0) / n;
        if (per < best)
            best = per;
    }
    return best;
}

typedef struct hs {
    tk_script_t *script;
    scb_card_t *card;
    const scb_keys_t *keys;
    scb_opts_t *p;
} hs_t;

static int handshake(void *v)
{
    hs_t *h = v;
    h->script->pos = 0;
    int rc = scb_scp03_open(h->card, h->keys, h->p);
    if (rc != SCB_OK)
        fprintf(stderr, "bench_p11: handshake: %s\n", scb_card_errmsg(h->card));
    return rc;
}

typedef struct rd {
    scb_card_t *card;
    const scb_keys_t *keys;
} rd_t;

static int cold_read(void *v)
{
    rd_t *r = v;
    scb_bootstrap_t *bs = NULL;
    int rc = scb_read_bootstrap(r->card, r->keys, NULL, &bs, NULL);
    scb_bootstrap_free(&bs);
    return rc;
}

static int read_binary(void *v)
{
    rd_t *r = v;
    static const uint8_t cmd[] = {0x00, 0xB0, 0x00, 0x00, 0x40};
    uint8_t resp[80];
    size_t rl = sizeof(resp);
    int rc = scb_card_transmit(r->card, cmd, sizeof(cmd), resp, &rl);
    return rc == SCB_OK && rl == 66 ? SCB_OK : SCB_E_INTERNAL;
}

/* A card with the application open and the bootstrap EF selected. */
static void open_for_apdus(rd_t *r)
{
    scb_access_info_t info;
    static const uint8_t sel[] = {0x00, 0xA4, 0x00, 0x0C, 0x02, 0x64, 0x32};
    uint8_t resp[64];
    size_t rl = sizeof(resp);
    if (scb_app_open(r->card, r->keys, NULL, &info) != SCB_OK ||
        scb_card_transmit(r->card, sel, sizeof(sel), resp, &rl) != SCB_OK || rl != 2 ||
        resp[0] != 0x90) {
        fprintf(stderr, "bench_p11: cannot open the application: %s\n", scb_card_errmsg(r->card));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_p11 BASE QUERY\n");
        return 2;
    }
    scb_keys_t *tok_gp = token_keys(argv[1], argv[2], "gp", 0x30);
    scb_keys_t *tok_sam = token_keys(argv[1], argv[2], "samsung", 0x30);

    /* the handshake on the recorded Samsung session */
    json_object *v = tk_load_vectors("scp03.json");
    json_object *e = scp03_entry(v, "samsung_aes128_s8_sl33");
    uint8_t k[3][16], hc[8];
    tk_unhex(scp03_field(e, "keys", "enc"), k[0], 16);
    tk_unhex(scp03_field(e, "keys", "mac"), k[1], 16);
    tk_unhex(scp03_field(e, "keys", "dek"), k[2], 16);
    tk_unhex(tk_json_str(e, "host_challenge"), hc, 8);
    scb_keys_t *file_sam = NULL;
    if (scb_keys_new(&file_sam, k[0], k[1], k[2], 16, 0x30) != SCB_OK)
        return 1;
    hs_t h = {.script = tk_script_new()};
    tk_script_add(h.script, scp03_exchange(e, 0, "c"), scp03_exchange(e, 0, "r"));
    tk_script_add(h.script, scp03_exchange(e, 1, "c"), scp03_exchange(e, 1, "r"));
    h.card = tk_card(h.script);
    if (scb_opts_new(&h.p) != SCB_OK ||
        scb_opts_set_bytes(h.p, SCB_OPT_HOST_CHALLENGE, hc, sizeof(hc)) != SCB_OK)
        return 1;
    double hs_file = 1e30, hs_token = 1e30;
    for (int round = 0; round < 3; round++) { /* interleaved: the same conditions */
        h.keys = file_sam;
        double f = best_of(3, 400, handshake, &h);
        h.keys = tok_sam;
        double t = best_of(3, 400, handshake, &h);
        hs_file = f < hs_file ? f : hs_file;
        hs_token = t < hs_token ? t : hs_token;
    }
    printf("scp03_handshake_us_file: %.1f us\n", hs_file);
    printf("scp03_handshake_us_token: %.1f us\n", hs_token);
    printf("scp03_handshake_token_extra_us: %.1f us\n", hs_token - hs_file);

    /* cold reads and secured APDUs from the in-process virtual card */
    uint8_t gp[16];
    for (int i = 0; i < 16; i++)
        gp[i] = (uint8_t)(0x40 + i);
    scb_keys_t *file_gp = NULL;
    if (scb_keys_new(&file_gp, gp, gp, gp, 16, 0x30) != SCB_OK)
        return 1;
    rd_t rf = {0}, rt = {0};
    if (scb_card_open_sim(&rf.card, NULL, NULL, 0) != SCB_OK ||
        scb_card_open_sim(&rt.card, NULL, NULL, 0) != SCB_OK)
        return 1;
    rf.keys = file_gp;
    rt.keys = tok_gp;
    double rd_file = 1e30, rd_token = 1e30;
    for (int round = 0; round < 3; round++) {
        double f = best_of(3, 100, cold_read, &rf);
        double t = best_of(3, 100, cold_read, &rt);
        rd_file = f < rd_file ? f : rd_file;
        rd_token = t < rd_token ? t : rd_token;
    }
    printf("bootstrap_read_us_inprocess_file: %.1f us\n", rd_file);
    printf("bootstrap_read_us_inprocess_token: %.1f us\n", rd_token);
    open_for_apdus(&rf);
    open_for_apdus(&rt);
    double ap_file = 1e30, ap_token = 1e30;
    for (int round = 0; round < 9; round++) {
        double f = best_of(1, 2000, read_binary, &rf);
        double t = best_of(1, 2000, read_binary, &rt);
        ap_file = f < ap_file ? f : ap_file;
        ap_token = t < ap_token ? t : ap_token;
    }
    printf("secured_apdu_ns_file: %.0f ns\n", ap_file * 1e3);
    printf("secured_apdu_ns_token: %.0f ns\n", ap_token * 1e3);
    printf("secured_apdu_token_vs_file: %.3f\n", ap_token / ap_file);
    int within = ap_token / ap_file <= 1.05;
    if (!within)
        fprintf(stderr, "bench_p11: a secured APDU costs %.1f%% more with token keys (budget 5%%)\n",
                (ap_token / ap_file - 1) * 100);

    scb_app_close(rf.card);
    scb_app_close(rt.card);
    scb_card_free(&rf.card);
    scb_card_free(&rt.card);
    scb_card_free(&h.card);
    scb_opts_free(&h.p);
    tk_script_free(h.script);
    scb_keys_free(&file_gp);
    scb_keys_free(&file_sam);
    scb_keys_free(&tok_gp);
    scb_keys_free(&tok_sam);
    json_object_put(v);
    return within ? 0 : 1;
}
