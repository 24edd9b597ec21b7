/*
 * sim_stdio: the project's virtual UICC behind a pipe, for the fake modem.
 *
 *   sim_stdio [PROFILE.json]      (no profile: the built-in default card)
 *
 * Reads one command APDU per line as hex on stdin, writes the response
 * (data + SW) as one hex line on stdout. Exits 0 at end of input, 3 when
 * the card's disconnect fault fired (the card is gone), 1 on bad input.
 */
#include "scboot_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_CHARS (2 * 65600 + 4)

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int main(int argc, char **argv)
{
    char detail[256] = "";
    scb_sim_t *sim = NULL;
    int rc = scb_sim_new(&sim, argc > 1 ? argv[1] : NULL, detail, sizeof(detail));
    if (rc != 0) {
        fprintf(stderr, "sim_stdio: %s: %s\n", scb_error_name(rc), detail);
        return 1;
    }
    static char line[LINE_MAX_CHARS];
    static uint8_t cmd[LINE_MAX_CHARS / 2], resp[65538];
    int status = 0;
    while (fgets(line, sizeof(line), stdin) != NULL) {
        size_t n = strcspn(line, "\r\n");
        line[n] = 0;
        if (n == 0)
            continue;
        if (n % 2 != 0) {
            fprintf(stderr, "sim_stdio: odd number of hex digits\n");
            status = 1;
            break;
        }
        size_t len = 0;
        for (size_t i = 0; i < n; i += 2) {
            int hi = hexval(line[i]), lo = hexval(line[i + 1]);
            if (hi < 0 || lo < 0) {
                fprintf(stderr, "sim_stdio: not hex at %zu\n", i);
                status = 1;
                break;
            }
            cmd[len++] = (uint8_t)(hi << 4 | lo);
        }
        if (status != 0)
            break;
        size_t rlen = sizeof(resp);
        rc = scb_sim_process(sim, cmd, len, resp, &rlen);
        if (rc == SCB_E_CARD_REMOVED) {
            status = 3;
            break;
        }
        if (rc != 0) {
            fprintf(stderr, "sim_stdio: %s\n", scb_error_name(rc));
            status = 1;
            break;
        }
        for (size_t i = 0; i < rlen; i++)
            printf("%02X", resp[i]);
        printf("\n");
        fflush(stdout);
    }
    scb_sim_free(&sim);
    return status;
}
