/*
 * modem_probe: drive libscboot over a modem device for the pty tests.
 *
 *   modem_probe [--baud N] [--timeout MS] [--channels auto|csim|cgla]
 *               [--no-init] [--ext] [--trace] [--keys FILE] DEVICE OP...
 *
 * OPs: apdu:HEX, open (scb_channel_open), open-app:AID (scb_channel_open_app),
 * close, use:N (scb_channel_select), select-aid:HEX, select-aid-nodata:HEX,
 * select-fid:HHHH, read:N (scb_read_binary, 0 = to the end), begin, end,
 * bootstrap (scb_read_bootstrap with the keys of --keys, defaults). Each
 * prints one line:
 *   <op> rc=<SCB_E_...> sw=<XXXX> ch=<n> cme=<n> channels=<n> count=<apdus>
 *        [data=<hex>] [msg=<errmsg>]
 * (bootstrap: data is "<level>,<info.apdus>"). --trace prints every trace
 * event as "trace: <scb_trace_format line>". --keys FILE: one line of hex
 * "ENC MAC DEK KVN" (a file, so that no key is ever on a command line).
 * A failed open prints "open-modem rc=<name> detail=<text>" and exits 2.
 */
#include "scboot.h"
#include "scboot/apdu.h"
#include "scboot/transport.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (h[0] && h[1] && n < cap) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

static void report(scb_card_t *card, const char *op, int rc, const uint8_t *data, size_t len)
{
    printf("%s rc=%s sw=%04X ch=%u cme=%d channels=%d count=%lu", op, scb_error_name(rc),
           (unsigned)scb_card_last_sw(card), (unsigned)scb_card_channel(card),
           scb_card_modem_cme(card), scb_card_modem_channels(card),
           scb_card_apdu_count(card));
    if (data != NULL && rc == SCB_OK) {
        printf(" data=");
        for (size_t i = 0; i < len; i++)
            printf("%02X", data[i]);
    }
    if (rc != SCB_OK)
        printf(" msg=%s", scb_card_errmsg(card));
    printf("\n");
    fflush(stdout);
}

static scb_keys_t *g_keys;

static void on_trace(void *user, const scb_trace_event_t *ev)
{
    (void)user;
    static char line[2 * 65600 + 64];
    if (scb_trace_format(ev, line, sizeof(line)) >= 0)
        printf("trace: %s\n", line);
}

/* "ENC MAC DEK KVN" in hex, 16 bytes each and one. */
static int load_keys(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char enc[40] = "", mac[40] = "", dek[40] = "";
    unsigned kvn = 0;
    int n = fscanf(f, "%39s %39s %39s %x", enc, mac, dek, &kvn);
    fclose(f);
    uint8_t e[16], m[16], d[16];
    if (n != 4 || unhex(enc, e, 16) != 16 || unhex(mac, m, 16) != 16 || unhex(dek, d, 16) != 16)
        return -1;
    int rc = scb_keys_new(&g_keys, e, m, d, 16, (uint8_t)kvn);
    memset(e, 0, sizeof(e));
    memset(m, 0, sizeof(m));
    memset(d, 0, sizeof(d));
    memset(enc, 0, sizeof(enc));
    memset(mac, 0, sizeof(mac));
    memset(dek, 0, sizeof(dek));
    return rc;
}

static void run_op(scb_card_t *card, const char *op)
{
    static uint8_t buf[SCB_MAX_FILE_SIZE];
    uint8_t in[700];
    if (strncmp(op, "apdu:", 5) == 0) {
        size_t n = unhex(op + 5, in, sizeof(in));
        size_t rl = sizeof(buf);
        int rc = scb_card_transmit(card, in, n, buf, &rl);
        report(card, "apdu", rc, buf, rl);
    } else if (strcmp(op, "open") == 0) {
        uint8_t ch = 0;
        report(card, op, scb_channel_open(card, &ch), NULL, 0);
    } else if (strncmp(op, "open-app:", 9) == 0) {
        uint8_t ch = 0;
        size_t n = unhex(op + 9, in, sizeof(in));
        report(card, "open-app", scb_channel_open_app(card, in, n, &ch), NULL, 0);
    } else if (strcmp(op, "bootstrap") == 0) {
        scb_bootstrap_t *bs = NULL;
        scb_access_info_t info;
        memset(&info, 0, sizeof(info));
        int rc = scb_read_bootstrap(card, g_keys, NULL, &bs, &info);
        report(card, op, rc, NULL, 0);
        printf("bootstrap-info level=%d apdus=%lu channel=%u servers=%zu\n", info.scp_level,
               info.apdus, (unsigned)info.channel, bs != NULL ? scb_bootstrap_server_count(bs) : 0);
        scb_bootstrap_free(&bs);
    } else if (strcmp(op, "close") == 0) {
        report(card, op, scb_channel_close(card), NULL, 0);
    } else if (strncmp(op, "use:", 4) == 0) {
        report(card, "use", scb_channel_select(card, (uint8_t)atoi(op + 4)), NULL, 0);
    } else if (strncmp(op, "select-aid:", 11) == 0 || strncmp(op, "select-aid-nodata:", 18) == 0) {
        const bool nodata = op[10] != ':';
        size_t n = unhex(strchr(op, ':') + 1, in, sizeof(in));
        scb_fcp_t fcp;
        int rc = scb_select_aid(card, in, n, nodata ? SCB_SEL_NO_RESP : SCB_SEL_FCP, &fcp);
        uint8_t aid[16];
        memcpy(aid, fcp.aid, fcp.aid_len);
        report(card, nodata ? "select-aid-nodata" : "select-aid", rc, aid,
               rc == SCB_OK ? fcp.aid_len : 0);
    } else if (strncmp(op, "select-fid:", 11) == 0) {
        scb_fcp_t fcp;
        int rc = scb_select_fid(card, (uint16_t)strtoul(op + 11, NULL, 16), SCB_SEL_FCP, &fcp);
        uint8_t sz[2] = {(uint8_t)(fcp.file_size >> 8), (uint8_t)fcp.file_size};
        report(card, "select-fid", rc, sz, 2);
    } else if (strncmp(op, "read:", 5) == 0) {
        size_t len = sizeof(buf);
        int rc = scb_read_binary(card, (size_t)atoi(op + 5), buf, &len);
        report(card, "read", rc, buf, len);
    } else if (strcmp(op, "begin") == 0) {
        report(card, op, scb_card_begin(card), NULL, 0);
    } else if (strcmp(op, "end") == 0) {
        report(card, op, scb_card_end(card), NULL, 0);
    } else {
        printf("%s rc=unknown-op\n", op);
    }
}

/* "--flag VALUE" options by their option id (values as text: the
 * library's own parser and messages). */
static int set_opt(scb_opts_t *opts, int id, const char *value)
{
    int rc = scb_opts_set_text(opts, id, value);
    if (rc != SCB_OK)
        fprintf(stderr, "%s\n", scb_opts_errmsg(opts));
    return rc;
}

int main(int argc, char **argv)
{
    scb_opts_t *opts = NULL;
    if (scb_opts_new(&opts) != SCB_OK)
        return 1;
    int i = 1, rc = SCB_OK;
    bool trace = false;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0 && rc == SCB_OK; i++) {
        if (strcmp(argv[i], "--baud") == 0 && i + 1 < argc)
            rc = set_opt(opts, SCB_OPT_BAUD, argv[++i]);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            rc = set_opt(opts, SCB_OPT_MODEM_TIMEOUT_MS, argv[++i]);
        else if (strcmp(argv[i], "--channels") == 0 && i + 1 < argc)
            rc = set_opt(opts, SCB_OPT_MODEM_CHANNELS, argv[++i]);
        else if (strcmp(argv[i], "--no-init") == 0)
            rc = scb_opts_set_int(opts, SCB_OPT_MODEM_NO_INIT, 1);
        else if (strcmp(argv[i], "--ext") == 0)
            rc = scb_opts_set_int(opts, SCB_OPT_EXTENDED_LENGTH, 1);
        else if (strcmp(argv[i], "--trace") == 0)
            trace = true;
        else if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc) {
            if (load_keys(argv[++i]) != SCB_OK) {
                fprintf(stderr, "--keys: cannot read a key set from %s\n", argv[i]);
                rc = SCB_E_INVALID_ARG;
            }
        }
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            rc = SCB_E_INVALID_ARG;
        }
    }
    if (rc != SCB_OK || i >= argc) {
        if (rc == SCB_OK)
            fprintf(stderr, "usage: modem_probe [options] DEVICE OP...\n");
        scb_opts_free(&opts);
        scb_keys_free(&g_keys);
        return 1;
    }
    const char *device = argv[i++];
    scb_card_t *card = NULL;
    char detail[256] = "";
    rc = scb_card_open_modem(&card, device, opts, detail, sizeof(detail));
    scb_opts_free(&opts);
    if (rc != SCB_OK) {
        printf("open-modem rc=%s detail=%s\n", scb_error_name(rc), detail);
        scb_keys_free(&g_keys);
        return 2;
    }
    scb_trace_t tr = {SCB_TRACE_VERSION, NULL, on_trace};
    if (trace)
        scb_card_set_trace(card, &tr);
    for (; i < argc; i++)
        run_op(card, argv[i]);
    scb_card_free(&card);
    scb_keys_free(&g_keys);
    printf("freed\n");
    return 0;
}
