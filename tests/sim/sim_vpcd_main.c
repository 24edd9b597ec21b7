/*
 * sim_vpcd: serve a virtual card to pcscd's vpcd driver (tests, by hand).
 *   sim_vpcd [-p profile.json] [-H host] [-P port] [-1]
 * Reconnects after the connection closes (a disconnect fault, pcscd
 * restart) unless -1 is given; SIGINT/SIGTERM stop it.
 */
#include "scboot_sim.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile int g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

int main(int argc, char **argv)
{
    const char *profile = NULL, *host = "127.0.0.1";
    unsigned long port = 35963;
    int once = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
            profile = argv[++i];
        else if (strcmp(argv[i], "-H") == 0 && i + 1 < argc)
            host = argv[++i];
        else if (strcmp(argv[i], "-P") == 0 && i + 1 < argc)
            port = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-1") == 0)
            once = 1;
        else {
            fprintf(stderr, "usage: %s [-p profile.json] [-H host] [-P port] [-1]\n", argv[0]);
            return 2;
        }
    }
    if (port == 0 || port > 65535) {
        fprintf(stderr, "bad port\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    scb_sim_t *sim = NULL;
    char detail[256] = "";
    int rc = scb_sim_new(&sim, profile, detail, sizeof(detail));
    if (rc != 0) {
        fprintf(stderr, "sim_vpcd: %s: %s\n", scb_error_name(rc), detail);
        return 1;
    }
    fprintf(stderr, "sim_vpcd: card for %s:%lu\n", host, port);
    while (!g_stop) {
        rc = scb_sim_serve_vpcd(sim, host, (uint16_t)port, &g_stop);
        if (rc != 0)
            fprintf(stderr, "sim_vpcd: %s\n", scb_sim_errmsg(sim));
        if (once)
            break;
        /* Reinsert after 1 s: pcscd polls presence every 400 ms and must see
         * the card gone, or it keeps the returning card as the old, mute one. */
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    scb_sim_free(&sim);
    return rc == 0 ? 0 : 1;
}
