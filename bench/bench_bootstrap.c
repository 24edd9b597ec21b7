/*
 * The bootstrap read as a whole. Prints "name: value unit" lines:
 *
 *   bench_bootstrap                 (the in-process virtual card)
 *     bootstrap_read_apdus_cold    APDUs of a cold read (EF.DIR, channel,
 *                                  ADF, SCP03 level 33, ODF, DODF, EF, close)
 *     bootstrap_read_apdus_warm    with the AID and path remembered from it
 *     bootstrap_read_us_inprocess  CPU time of a cold read, best of 15
 *                                  batches (library and virtual card)
 *
 *   bench_bootstrap --pcsc READER [N]   (a card on READER through pcscd)
 *     bootstrap_read_ms_pcsc       wall time of a cold read through the
 *                                  library, median of N (default 50); the
 *                                  handle is opened once, so process start,
 *                                  connecting and the first read's warm-up
 *                                  are not in it
 *     bootstrap_read_ms_pcsc_p90   the 90th percentile of the same
 *     bootstrap_read_apdus_pcsc    APDUs per read
 * Keys: the virtual card's default set (40..4F, KVN 30).
 */
#include "scboot_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int read_once(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *o,
                     scb_access_info_t *info)
{
    scb_bootstrap_t *bs = NULL;
    int rc = scb_read_bootstrap(card, keys, o, &bs, info);
    scb_bootstrap_free(&bs);
    if (rc != SCB_OK)
        fprintf(stderr, "bench_bootstrap: read failed: %s: %s\n", scb_error_name(rc),
                scb_card_errmsg(card));
    return rc;
}

static int default_keys(scb_keys_t **keys)
{
    uint8_t k[16];
    for (int i = 0; i < 16; i++)
        k[i] = (uint8_t)(0x40 + i);
    return scb_keys_new(keys, k, k, k, 16, 0x30);
}

static int in_process(void)
{
    scb_card_t *card = NULL;
    scb_keys_t *keys = NULL;
    if (scb_card_open_sim(&card, NULL, NULL, 0) != SCB_OK || default_keys(&keys) != SCB_OK)
        return 1;
    scb_access_info_t cold, warm;
    if (read_once(card, keys, NULL, &cold) != SCB_OK)
        return 1;
    /* warm: the AID and path the cold read reported */
    scb_opts_t *w = NULL;
    if (scb_opts_new(&w) != SCB_OK ||
        scb_opts_set_bytes(w, SCB_OPT_AID, cold.aid, cold.aid_len) != SCB_OK ||
        scb_opts_set_bytes(w, SCB_OPT_PATH, cold.path, cold.path_len) != SCB_OK) {
        fprintf(stderr, "bench_bootstrap: options: %s\n", scb_opts_errmsg(w));
        return 1;
    }
    int rc = read_once(card, keys, w, &warm);
    scb_opts_free(&w);
    if (rc != SCB_OK)
        return 1;
    printf("bootstrap_read_apdus_cold: %lu apdus\n", cold.apdus);
    printf("bootstrap_read_apdus_warm: %lu apdus\n", warm.apdus);
    double best = 1e30;
    for (int batch = 0; batch < 15; batch++) {
        const int n = 50;
        double t0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
        for (int i = 0; i < n; i++)
            if (read_once(card, keys, NULL, NULL) != SCB_OK)
                return 1;
        double per = (now_ms(CLOCK_THREAD_CPUTIME_ID) - t0) / n;
        if (per < best)
            best = per;
    }
    printf("bootstrap_read_us_inprocess: %.1f us\n", best * 1e3);
    scb_card_free(&card);
    scb_keys_free(&keys);
    return 0;
}

static int through_pcsc(const char *reader, int n)
{
    char detail[256] = "";
    scb_card_t *card = NULL;
    scb_keys_t *keys = NULL;
    if (scb_card_open_pcsc(&card, reader, detail, sizeof(detail)) != SCB_OK) {
        fprintf(stderr, "bench_bootstrap: %s\n", detail);
        return 1;
    }
    if (default_keys(&keys) != SCB_OK)
        return 1;
    scb_access_info_t info;
    if (read_once(card, keys, NULL, &info) != SCB_OK) /* warm-up: not counted */
        return 1;
    double *ms = calloc((size_t)n, sizeof(*ms));
    if (ms == NULL)
        return 1;
    for (int i = 0; i < n; i++) {
        double t0 = now_ms(CLOCK_MONOTONIC);
        if (read_once(card, keys, NULL, &info) != SCB_OK)
            return 1;
        ms[i] = now_ms(CLOCK_MONOTONIC) - t0;
    }
    qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
    printf("bootstrap_read_ms_pcsc: %.2f ms\n", ms[n / 2]);
    printf("bootstrap_read_ms_pcsc_p90: %.2f ms\n", ms[(n * 9) / 10]);
    printf("bootstrap_read_apdus_pcsc: %lu apdus\n", info.apdus);
    free(ms);
    scb_card_free(&card);
    scb_keys_free(&keys);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--pcsc") == 0)
        return through_pcsc(argv[2], argc >= 4 && atoi(argv[3]) > 0 ? atoi(argv[3]) : 50);
    if (argc != 1) {
        fprintf(stderr, "usage: bench_bootstrap [--pcsc READER [N]]\n");
        return 2;
    }
    return in_process();
}
