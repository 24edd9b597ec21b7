/* The scboot command: shared declarations of its pieces. */
#ifndef SCB_CLI_H
#define SCB_CLI_H

#include "scboot.h"

#include <stdbool.h>
#include <stdio.h>

/* Documented exit codes (README "Exit codes", scboot help). */
enum cli_exit {
    EXIT_OK_ = 0,
    EXIT_FAILURE_ = 1,   /* anything not below */
    EXIT_USAGE = 2,      /* bad command line or input file */
    EXIT_TRANSPORT = 3,  /* no daemon, no reader, no card, card removed */
    EXIT_CARD = 4,       /* the card refused (status word) or sent garbage */
    EXIT_SECURE = 5,     /* secure channel: wrong keys, MAC/cryptogram failure */
    EXIT_DATA = 6,       /* no/invalid bootstrap data on the card or in the input */
    EXIT_WRITE = 7       /* write interrupted or read-back mismatch */
};

/* Options every card command understands. */
typedef struct cli_opts {
    const char *reader;         /* -r/--reader */
    bool use_sim;               /* --sim */
    const char *sim_profile;    /* --sim PROFILE */
    const char *modem;          /* --modem DEV */
    unsigned baud;              /* --baud */
    const char *keys_file;      /* --keys FILE */
    int kvn;                    /* --kvn, -1 = from keys */
    int level;                  /* --level, default 0x33 */
    bool no_secure;             /* --no-secure-channel */
    bool kdf3;                  /* --kdf3 */
    bool s16;                   /* --s16 */
    bool debug;                 /* -d/--debug */
    const char *sd_aid;         /* --sd-aid HEX */
    /* command specific */
    bool json, raw, show_secrets, secure, pad, no_verify;
    const char *output;         /* -o FILE */
    const char *path_hex;       /* --path */
    const char *aid_hex;        /* --aid */
    const char *vpcd;           /* sim --vpcd HOST:PORT */
    const char *profile;        /* sim --profile */
    const char *new_keys;       /* put-key --new-keys */
    int replace_kvn;            /* put-key --replace */
    bool forever;               /* sim --forever */
    int delay_ms;               /* sim --delay-ms */
    /* positional arguments */
    char **args;
    int nargs;
} cli_opts_t;

/* Parse argv (after the command name) into o; prints the error and returns
 * false on a bad command line. allowed: option letters the command takes
 * (see options.c). */
bool cli_parse(const char *cmd, int argc, char **argv, cli_opts_t *o);
void cli_usage(FILE *f, const char *cmd);

/* Report rc (with the handle's detail when there is one) on stderr as one
 * line with a hint; returns the exit code. */
int cli_fail(const char *what, int rc, const char *detail);
int cli_exit_code(int rc);

/* Open the card the options name (--sim, --modem or PC/SC) and, unless
 * keys is NULL or running without the secure channel, load the SCP03 keys:
 * --keys FILE, SCBOOT_KEY_* environment, --key-*; for --sim without key
 * options, the virtual card's own (public test) keys. */
int cli_open_card(const cli_opts_t *o, scb_card_t **card, scb_keys_t **keys);
int cli_load_keys(const cli_opts_t *o, scb_keys_t **keys);
bool cli_has_key_options(const cli_opts_t *o);
/* Fill access options from the command line (keys owned by the caller). */
int cli_access_opts(const cli_opts_t *o, const scb_keys_t *keys, scb_access_opts_t *ao,
                    uint8_t *pathbuf, uint8_t *aidbuf, uint8_t *sdbuf);

/* hex helpers: returns length or -1 */
long cli_unhex(const char *hex, uint8_t *out, size_t cap);
char *cli_read_file(const char *path, size_t *len, size_t max);

int cmd_readers(cli_opts_t *o);
int cmd_read(cli_opts_t *o);
int cmd_write(cli_opts_t *o);
int cmd_apdu(cli_opts_t *o);
int cmd_sim(cli_opts_t *o);
int cmd_put_key(cli_opts_t *o);

#endif
