/* scboot sim: the virtual UICC as a card process for pcscd's vpcd driver. */
#include "cli.h"

#include "scboot_sim.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile int stop_requested; /* set by SIGINT/SIGTERM (the CLI, not the library) */

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int cmd_sim(cli_opts_t *o)
{
    if (o->vpcd == NULL || o->nargs > 0) {
        fprintf(stderr, "usage: scboot sim --vpcd HOST:PORT [--profile FILE] (see scboot help "
                        "sim)\n");
        return EXIT_USAGE;
    }
    char host[256];
    const char *colon = strrchr(o->vpcd, ':');
    char *end = NULL;
    long port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == o->vpcd || (size_t)(colon - o->vpcd) >= sizeof(host) ||
        end == colon + 1 || *end != 0 || port < 1 || port > 65535) {
        fprintf(stderr, "scboot sim: --vpcd: expected HOST:PORT, e.g. 127.0.0.1:35963\n");
        return EXIT_USAGE;
    }
    memcpy(host, o->vpcd, (size_t)(colon - o->vpcd));
    host[colon - o->vpcd] = 0;

    char detail[256] = "";
    scb_sim_t *sim = NULL;
    int rc = scb_sim_new(&sim, o->profile, detail, sizeof(detail));
    if (rc != SCB_OK) {
        fprintf(stderr, "scboot sim: profile: %s\n", detail);
        return EXIT_USAGE;
    }
    if (o->delay_ms > 0) {
        scb_sim_faults_t f;
        scb_sim_get_faults(sim, &f);
        f.delay_ms = (unsigned)o->delay_ms;
        scb_sim_set_faults(sim, &f);
    }
    if (o->rolling)
        scb_sim_set_rolling(sim, 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int ret = 0;
    fprintf(stderr, "scboot sim: serving the virtual card to vpcd at %s:%ld\n", host, port);
    do {
        rc = scb_sim_serve_vpcd(sim, host, (uint16_t)port, &stop_requested);
        if (rc != SCB_OK && !o->forever) {
            fprintf(stderr, "scboot sim: %s (is pcscd running with the vpcd driver?)\n",
                    scb_sim_errmsg(sim));
            ret = EXIT_TRANSPORT;
        }
        if (o->forever && !stop_requested) {
            /* pcscd went away or closed the slot: power cycle and come back */
            scb_sim_reset(sim);
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    } while (o->forever && !stop_requested);
    scb_sim_free(&sim);
    return ret;
}
