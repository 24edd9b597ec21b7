/*
 * One long-lived library session over PC/SC, driven line by line from
 * stdin, for the end-to-end fault tests (test_faults_pcsc.py,
 * test_pcscd_restart.py): the library's exact result codes, and a process
 * that outlives a card or a pcscd going away, as a gateway would.
 *
 *   pcsc_session [-d]        (-d: every trace line to stderr as it happens)
 *
 * Commands, one per line; each answers one line on stdout:
 *   open READER     -> "open rc=SCB_OK ms=.. msg=.."
 *   read            -> "read rc=<name> apdus=N ms=.. msg=.."   (cold read, level 33)
 *   write FILE      -> "write rc=<name> apdus=N ms=.. msg=.."  (FILE: bootstrap bytes)
 *   writepad FILE   -> the same, the rest of the EF filled with FF (SCB_OPT_PAD)
 *   timeout MS      -> "timeout rc=SCB_OK" (scb_card_set_timeout)
 *   close           -> "close rc=SCB_OK"
 *   quit
 * Keys: the virtual card's default set (ENC = MAC = DEK = 40..4F, KVN 30).
 */
#include "scboot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void trace_line(void *user, const scb_trace_event_t *ev)
{
    (void)user;
    char line[4096];
    if (scb_trace_format(ev, line, sizeof(line)) >= 0) {
        fprintf(stderr, "%s\n", line);
        fflush(stderr);
    }
}

static void report(const char *op, int rc, const scb_card_t *card, unsigned long apdus, double ms)
{
    printf("%s rc=%s apdus=%lu ms=%.1f msg=%s\n", op, scb_error_name(rc), apdus, ms,
           card != NULL ? scb_card_errmsg(card) : "");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const int debug = argc > 1 && strcmp(argv[1], "-d") == 0;
    uint8_t k[16];
    for (int i = 0; i < 16; i++)
        k[i] = (uint8_t)(0x40 + i);
    scb_keys_t *keys = NULL;
    if (scb_keys_new(&keys, k, k, k, 16, 0x30) != SCB_OK)
        return 1;
    scb_card_t *card = NULL;
    char line[4096];
    while (fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\r\n")] = 0;
        double t0 = now_ms();
        if (strncmp(line, "open ", 5) == 0) {
            char detail[256] = "";
            scb_card_free(&card);
            int rc = scb_card_open_pcsc(&card, line + 5, detail, sizeof(detail));
            if (rc == SCB_OK && debug) {
                scb_trace_t t = {SCB_TRACE_VERSION, NULL, trace_line};
                scb_card_set_trace(card, &t);
            }
            printf("open rc=%s ms=%.1f msg=%s\n", scb_error_name(rc), now_ms() - t0, detail);
            fflush(stdout);
        } else if (strcmp(line, "read") == 0 || strncmp(line, "write ", 6) == 0 ||
                   strncmp(line, "writepad ", 9) == 0) {
            const int write = line[0] == 'w';
            const char *file = strchr(line, ' ') != NULL ? strchr(line, ' ') + 1 : "";
            /* the defaults (level 33), and for writepad the padding */
            scb_opts_t *o = NULL;
            if (strncmp(line, "writepad ", 9) == 0 &&
                (scb_opts_new(&o) != SCB_OK || scb_opts_set_int(o, SCB_OPT_PAD, 1) != SCB_OK))
                return 1;
            scb_access_info_t info;
            memset(&info, 0, sizeof(info));
            int rc = SCB_E_STATE;
            if (card != NULL && !write) {
                scb_bootstrap_t *bs = NULL;
                rc = scb_read_bootstrap(card, keys, o, &bs, &info);
                scb_bootstrap_free(&bs);
            } else if (card != NULL) {
                FILE *f = fopen(file, "rb");
                static uint8_t data[SCB_MAX_FILE_SIZE];
                size_t n = f != NULL ? fread(data, 1, sizeof(data), f) : 0;
                if (f != NULL)
                    fclose(f);
                rc = f != NULL ? scb_write_bootstrap(card, keys, o, data, n, &info)
                               : SCB_E_INVALID_ARG;
            }
            scb_opts_free(&o);
            report(write ? "write" : "read", rc, card, info.apdus, now_ms() - t0);
        } else if (strncmp(line, "timeout ", 8) == 0) {
            int rc = card != NULL ? scb_card_set_timeout(card, (unsigned)strtoul(line + 8, NULL, 10))
                                  : SCB_E_STATE;
            printf("timeout rc=%s\n", scb_error_name(rc));
            fflush(stdout);
        } else if (strcmp(line, "close") == 0) {
            scb_card_free(&card);
            printf("close rc=SCB_OK\n");
            fflush(stdout);
        } else if (strcmp(line, "quit") == 0) {
            break;
        } else {
            printf("? %s\n", line);
            fflush(stdout);
        }
    }
    scb_card_free(&card);
    scb_keys_free(&keys);
    return 0;
}
