/*
 * A small driver for the PC/SC end-to-end tests: runs library calls
 * against a real pcscd and prints results one per line for pytest.
 *   pcsc_probe list
 *   pcsc_probe wait READER SECONDS          card present within SECONDS?
 *   pcsc_probe xmit READER HEX [HEX...]     one transmit per HEX
 *   pcsc_probe channel READER HEX           open a channel, transmit, close
 * Every failure prints "rc=SCB_E_NAME detail" and exits 2.
 */
#include "scboot.h"
#include "scboot/apdu.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t unhex(const char *h, unsigned char *out, size_t cap)
{
    size_t n = 0;
    while (h[0] && h[1] && n < cap) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1)
            break;
        out[n++] = (unsigned char)v;
        h += 2;
    }
    return n;
}

static int fail(int rc, const char *detail)
{
    printf("rc=%s %s\n", scb_error_name(rc), detail);
    return 2;
}

static int cmd_list(void)
{
    char detail[256] = "";
    scb_readers_t *r = NULL;
    int rc = scb_readers_list(&r, detail, sizeof(detail));
    if (rc != SCB_OK)
        return fail(rc, detail);
    for (size_t i = 0; i < scb_readers_count(r); i++)
        printf("%s\t%d\n", scb_readers_name(r, i), scb_readers_card_present(r, i));
    scb_readers_free(&r);
    return 0;
}

static int cmd_wait(const char *reader, double seconds)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    for (double waited = 0; waited < seconds; waited += 0.05) {
        char detail[256] = "";
        scb_readers_t *r = NULL;
        if (scb_readers_list(&r, detail, sizeof(detail)) == SCB_OK) {
            for (size_t i = 0; i < scb_readers_count(r); i++)
                if (strcmp(scb_readers_name(r, i), reader) == 0 && scb_readers_card_present(r, i)) {
                    scb_readers_free(&r);
                    printf("present\n");
                    return 0;
                }
            scb_readers_free(&r);
        }
        nanosleep(&ts, NULL);
    }
    printf("absent\n");
    return 1;
}

static int transmit_all(scb_card_t *card, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        unsigned char cmd[600], resp[70000];
        size_t n = unhex(argv[i], cmd, sizeof(cmd)), rlen = sizeof(resp);
        int rc = scb_card_transmit(card, cmd, n, resp, &rlen);
        if (rc != SCB_OK)
            return fail(rc, scb_card_errmsg(card));
        for (size_t j = 0; j < rlen; j++)
            printf("%02X", resp[j]);
        printf("\n");
    }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return cmd_list();
    if (argc == 4 && strcmp(argv[1], "wait") == 0)
        return cmd_wait(argv[2], atof(argv[3]));
    if (argc >= 3 && (strcmp(argv[1], "xmit") == 0 || strcmp(argv[1], "channel") == 0)) {
        char detail[256] = "";
        scb_card_t *card = NULL;
        int rc = scb_card_open_pcsc(&card, argv[2], detail, sizeof(detail));
        if (rc != SCB_OK)
            return fail(rc, detail);
        printf("reader=%s\n", scb_card_reader_name(card));
        int ret;
        if (strcmp(argv[1], "channel") == 0) {
            unsigned char ch = 0;
            rc = scb_channel_open(card, &ch);
            if (rc != SCB_OK) {
                ret = fail(rc, scb_card_errmsg(card));
            } else {
                printf("channel=%u\n", ch);
                ret = transmit_all(card, argc - 3, argv + 3);
                rc = scb_channel_close(card);
                if (ret == 0 && rc != SCB_OK)
                    ret = fail(rc, scb_card_errmsg(card));
            }
        } else {
            ret = transmit_all(card, argc - 3, argv + 3);
        }
        printf("apdus=%lu\n", scb_card_apdu_count(card));
        scb_card_free(&card);
        return ret;
    }
    fprintf(stderr, "usage: pcsc_probe list | wait READER SECONDS | xmit READER HEX... | channel READER HEX...\n");
    return 64;
}
