/*
 * Reentrancy: 8 threads, each with its own card handle and its own virtual
 * card, read the bootstrap file at the same time, again and again (cold
 * reads: EF.DIR, channel, SCP03 level 33, ODF, DODF, EF). Every read must
 * give the same file as a read on the main thread. The library keeps no
 * global or static mutable state, so nothing here may race: the TSan build
 * of .ci/sanitize.sh runs this test and must report nothing.
 *
 * SCB_THREAD_READS sets the reads per thread (default 50).
 */
#include "scboot_sim.h"
#include "testkit.h"

#include <pthread.h>

#define THREADS 8

/* Profiles vary per thread: T=0, S16, extended length, a channel-less read. */
static const char *const profiles[THREADS] = {
    NULL,
    "{\"t0\": true}",
    "{\"scp03\": {\"i\": \"0x71\"}}",
    "{\"extended_length\": true}",
    NULL,
    "{\"efdir\": false}",
    "{\"dodf\": {\"oid_form\": \"oid_do_misencoded\"}}",
    NULL,
};

typedef struct {
    int index;
    int reads;
    uint8_t expect[32];  /* digest of the default card's file */
    int ok;              /* reads that gave that file */
    int failed;
    char first_error[256];
} worker_t;

static int read_once(scb_card_t *card, const scb_keys_t *keys, bool s16, uint8_t digest[32],
                     char *err, size_t err_len)
{
    scb_opts_t *o = NULL;
    int rc = scb_opts_new(&o);
    if (rc == SCB_OK && s16)
        rc = scb_opts_set_int(o, SCB_OPT_S16, 1);
    if (rc != SCB_OK) {
        snprintf(err, err_len, "options: %s: %s", scb_error_name(rc), scb_opts_errmsg(o));
        scb_opts_free(&o);
        return rc;
    }
    scb_bootstrap_t *bs = NULL;
    rc = scb_read_bootstrap(card, keys, o, &bs, NULL);
    scb_opts_free(&o);
    if (rc == SCB_OK)
        rc = scb_bootstrap_digest(bs, digest);
    else
        snprintf(err, err_len, "%s: %s", scb_error_name(rc), scb_card_errmsg(card));
    scb_bootstrap_free(&bs);
    return rc;
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    char detail[256] = "";
    scb_sim_t *sim = NULL;
    scb_keys_t *keys = NULL;
    scb_card_t *card = NULL;
    if (scb_sim_new_from_json(&sim, profiles[w->index], detail, sizeof(detail)) != SCB_OK ||
        scb_sim_host_keys(sim, &keys) != SCB_OK || scb_card_open_sim_owned(&card, sim) != SCB_OK) {
        snprintf(w->first_error, sizeof(w->first_error), "set-up: %s", detail);
        w->failed = w->reads;
        scb_keys_free(&keys);
        return NULL;
    }
    const bool s16 = profiles[w->index] != NULL && strstr(profiles[w->index], "0x71") != NULL;
    for (int i = 0; i < w->reads; i++) {
        uint8_t d[32];
        char err[256] = "";
        if (read_once(card, keys, s16, d, err, sizeof(err)) == SCB_OK &&
            memcmp(d, w->expect, 32) == 0) {
            w->ok++;
        } else {
            if (w->failed++ == 0)
                snprintf(w->first_error, sizeof(w->first_error), "%s", err);
        }
    }
    scb_card_free(&card);
    scb_keys_free(&keys);
    return NULL;
}

static void test_concurrent_reads(void)
{
    const char *env = getenv("SCB_THREAD_READS");
    const int reads = env != NULL && atoi(env) > 0 ? atoi(env) : 50;

    /* the expected file, read on this thread */
    uint8_t expect[32];
    char err[256] = "";
    scb_card_t *card = NULL;
    scb_keys_t *keys = NULL;
    scb_sim_t *sim = NULL;
    TK_EQ_RC(scb_sim_new(&sim, NULL, NULL, 0), SCB_OK);
    TK_EQ_RC(scb_sim_host_keys(sim, &keys), SCB_OK);
    TK_EQ_RC(scb_card_open_sim_owned(&card, sim), SCB_OK);
    TK_EQ_RC(read_once(card, keys, false, expect, err, sizeof(err)), SCB_OK);
    scb_card_free(&card);
    scb_keys_free(&keys);

    worker_t w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].index = i;
        w[i].reads = reads;
        memcpy(w[i].expect, expect, sizeof(expect));
        TK_EQ_INT(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        TK_EQ_INT(w[i].ok, reads);
        if (w[i].failed > 0)
            fprintf(stderr, "  thread %d (%s): %d failed, first: %s\n", i,
                    profiles[i] != NULL ? profiles[i] : "default", w[i].failed, w[i].first_error);
        total += w[i].ok;
    }
    fprintf(stderr, "  %d threads, %d cold reads each, %d good\n", THREADS, reads, total);
}

int main(void)
{
    TK_RUN(test_concurrent_reads);
    return tk_done();
}
