/* The scboot command: shared declarations of its pieces. */
#ifndef SCB_CLI_H
#define SCB_CLI_H

#include "scboot.h"
#include "scboot/apdu.h"

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
    EXIT_WRITE = 7,      /* write interrupted or read-back mismatch */
    EXIT_KEYSTORE = 8    /* a key store (PKCS#11 token) failed */
};

#define SCB_ARRAY_LEN_(a) (sizeof(a) / sizeof((a)[0]))

struct cli_opts;
/* A command: its name, one-line summary, usage synopsis and text, the
 * scopes of the library options it takes (SCB_SCOPE_*) and the names of
 * its own options (space-separated, see options.c). */
typedef struct cli_command {
    const char *name;
    int (*run)(struct cli_opts *o);
    const char *summary;
    const char *synopsis;
    const char *about;
    unsigned scopes;
    const char *own;
} cli_command_t;
/* Every command, ending with a NULL name (main.c). */
extern const cli_command_t cli_commands[];

/* The command line of one command. Options of the library's operations
 * (scb_opt_info: --kvn, --level, --sd-aid, --path, --pad, --baud, ...) are
 * parsed from the library's own option table into lib (and, for the modem,
 * modem), so every option of an operation is a flag of the command that
 * runs it; the rest are the command's own. */
typedef struct cli_opts {
    const char *cmd;            /* the command's name */
    const char *reader;         /* -r/--reader */
    bool use_sim;               /* --sim */
    const char *sim_profile;    /* --sim PROFILE */
    const char *modem;          /* --modem DEV */
    const char *keys_file;      /* --keys FILE */
    bool debug;                 /* -d/--debug */
    unsigned timeout_ms;        /* --timeout SECONDS */
    bool has_timeout;
    scb_opts_t *lib;            /* options of the operation */
    scb_opts_t *modem_opts;     /* --baud, --modem-channels, ... */
    /* command specific */
    bool json, raw, show_secrets, secure;
    const char *output;         /* -o FILE */
    const char *vpcd;           /* sim --vpcd HOST:PORT */
    const char *profile;        /* sim --profile */
    const char *new_keys;       /* put-key --new-keys FILE|URI */
    int new_kvn;                /* put-key --new-kvn (new keys from a URI), -1 = none */
    const char *to;             /* keys import/generate --to URI */
    int length;                 /* keys generate / put-key --length (token keys), 0 = 16 */
    bool forever;               /* sim --forever */
    bool rolling;               /* sim --rolling */
    int delay_ms;               /* sim --delay-ms */
    /* positional arguments */
    char **args;
    int nargs;
} cli_opts_t;

/* Parse argv (after the command name) into o; prints the error and returns
 * false on a bad command line. cli_free releases what cli_parse made. */
bool cli_parse(const char *cmd, int argc, char **argv, cli_opts_t *o);
void cli_free(cli_opts_t *o);
/* The usage of cmd (NULL: the overview). false when there is no such command. */
bool cli_usage(FILE *f, const char *cmd);
/* Whether the library option id was given (set) on the command line. */
bool cli_flag(const cli_opts_t *o, int id);

/* Report rc (with the handle's detail when there is one) on stderr as one
 * line with a hint; returns the exit code. */
int cli_fail(const char *what, int rc, const char *detail);
/* The same with a hint of the command's own instead of the code's. */
int cli_fail_hint(const char *what, int rc, const char *detail, const char *hint);
int cli_exit_code(int rc);

/* Open the card the options name (--sim, --modem or PC/SC) and, unless
 * keys is NULL or running without the secure channel, load the SCP03 keys:
 * --keys FILE, SCBOOT_KEY_* environment; for --sim without key options,
 * the virtual card's own (public test) keys. */
int cli_open_card(const cli_opts_t *o, scb_card_t **card, scb_keys_t **keys);
int cli_load_keys(const cli_opts_t *o, scb_keys_t **keys);
bool cli_has_key_options(const cli_opts_t *o);

/* hex helpers: returns length or -1 */
long cli_unhex(const char *hex, uint8_t *out, size_t cap);
char *cli_read_file(const char *path, size_t *len, size_t max);

int cmd_readers(cli_opts_t *o);
int cmd_read(cli_opts_t *o);
int cmd_write(cli_opts_t *o);
int cmd_apdu(cli_opts_t *o);
int cmd_sim(cli_opts_t *o);
int cmd_put_key(cli_opts_t *o);
int cmd_keys(cli_opts_t *o);

/* Key sets in PKCS#11 tokens (cmd_keys.c). A URI from the command line
 * never carries a PIN (pin-value= is refused); the PIN comes from the URI's
 * pin-source, SCBOOT_PIN11, or a prompt on the terminal, in that order. */
extern const char cli_keys_about[];
bool cli_is_uri(const char *s);
/* --keys URI / --new-keys URI; p11_flags SCB_P11_* (GENERATE for new keys).
 * Returns an exit code (0 ok) after reporting the failure. */
int cli_open_keys_uri(const char *what, const char *uri, int kvn, unsigned p11_flags,
                      scb_keys_t **keys);
/* --keys FILE|URI / --new-keys FILE|URI: a keys JSON file (either form;
 * "-" = standard input) or a URI. Returns an exit code (0 ok) after
 * reporting the failure. */
int cli_keys_arg(const char *what, const char *arg, int kvn, unsigned p11_flags,
                 scb_keys_t **keys);
/* SCB_P11_AES192 / _AES256 for --length 24 / 32 (0 for 16 or none). */
unsigned cli_length_flags(const cli_opts_t *o);

#endif
