/* Command-line options, usage texts, key loading, error reporting. */
#include "cli.h"

#include "scboot_json.h"
#include "scboot_sim.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Usage                                                                     */
/* ------------------------------------------------------------------------ */
static const char common_help[] =
    "Card selection:\n"
    "  -r, --reader NAME|INDEX  PC/SC reader: exact name, index or unique substring\n"
    "                           (default: the first reader with a card)\n"
    "      --sim [PROFILE]      the built-in virtual card, in process (optional profile JSON;\n"
    "                           write and apdu take it as --sim=PROFILE)\n"
    "      --modem DEV          a UICC inside a modem, through AT+CSIM on a tty\n"
    "      --baud N             modem line speed (default 115200)\n"
    "Secure channel (SCP03, LwM2M Appendix H):\n"
    "      --keys FILE          JSON {\"enc\": hex, \"mac\": hex, \"dek\": hex, \"kvn\": int}\n"
    "                           (or SCBOOT_KEY_ENC/MAC/DEK/KVN in the environment)\n"
    "      --keys -             the same JSON from standard input (keys are never taken\n"
    "                           as arguments: the process list shows those)\n"
    "      --kvn N              key version number (0 = the card's default)\n"
    "      --level L            security level, default 0x33 (C-DEC R-ENC C-MAC R-MAC)\n"
    "      --no-secure-channel  run without SCP03 (explicit choice)\n"
    "      --kdf3               the keys are master keys: diversify them (KDF3)\n"
    "      --s16                S16 mode (16-byte challenges and MACs)\n"
    "      --sd-aid HEX         Security Domain AID: verify a pseudo-random card challenge\n"
    "  -d, --debug              APDU trace on stderr (secrets masked)\n";

void cli_usage(FILE *f, const char *cmd)
{
    if (cmd == NULL) {
        fprintf(f,
                "usage: scboot COMMAND [OPTIONS]\n"
                "Fetch LwM2M bootstrap data from a UICC over GlobalPlatform SCP03.\n\n"
                "Commands:\n"
                "  read           read and decode the LwM2M bootstrap file (the main job)\n"
                "  write FILE     write bootstrap data (JSON as `read --json --show-secrets`\n"
                "                 prints it, or the raw file with --raw)\n"
                "  put-key        add or replace an SCP03 key set (PUT KEY under the DEK)\n"
                "  readers        list PC/SC readers\n"
                "  apdu HEX...    send APDUs (--secure: through the secure channel)\n"
                "  sim            run the virtual card for pcscd's vpcd driver\n"
                "  help [COMMAND] this text, or a command's options\n\n"
                "Exit codes: 0 ok, 1 other failure, 2 usage or input error, 3 no daemon /\n"
                "reader / card, 4 card refused a command, 5 secure channel failure (keys,\n"
                "MAC), 6 no or invalid bootstrap data, 7 write interrupted or not verified.\n"
                "`scboot help COMMAND` shows the options of one command.\n");
        return;
    }
    if (strcmp(cmd, "read") == 0) {
        fprintf(f, "usage: scboot read [OPTIONS]\n"
                   "Read the LwM2M bootstrap file (EF.DIR -> PKCS#15 ADF on a logical channel ->\n"
                   "SCP03 -> ODF -> DODF -> bootstrap EF) and print its accounts.\n\n"
                   "      --json               print JSON (the form `write` takes)\n"
                   "      --raw                print the file's bytes (binary; use with -o)\n"
                   "  -o, --output FILE        write the output to FILE\n"
                   "      --show-secrets       include secret keys (never shown otherwise)\n"
                   "      --path HEX           bootstrap EF path remembered from an earlier read\n"
                   "      --aid HEX            PKCS#15 application AID (skip EF.DIR)\n"
                   "                           PIN for a private entry: SCBOOT_PIN in the environment\n\n%s",
                common_help);
    } else if (strcmp(cmd, "write") == 0) {
        fprintf(f, "usage: scboot write [OPTIONS] FILE\n"
                   "Write bootstrap data to the card inside a secure channel (at least C-DEC +\n"
                   "C-MAC), then read it back and compare.\n\n"
                   "      --raw                FILE holds the bootstrap file's bytes, not JSON\n"
                   "      --pad                fill the rest of the EF with FF\n"
                   "      --no-verify          skip the read-back comparison\n"
                   "      --path HEX / --aid HEX  as for read\n\n%s",
                common_help);
    } else if (strcmp(cmd, "put-key") == 0) {
        fprintf(f, "usage: scboot put-key --new-keys FILE [--replace KVN] [OPTIONS]\n"
                   "Add a key set (or replace the one with KVN) under the current keys' DEK,\n"
                   "check the card's key check values, then open a session with the new keys.\n"
                   "The current keys come from the usual key options.\n\n"
                   "      --new-keys FILE      the new keys, same JSON form as --keys\n"
                   "      --replace KVN        replace this key version (default: add)\n"
                   "      --aid HEX            application whose Security Domain to use\n\n%s",
                common_help);
    } else if (strcmp(cmd, "readers") == 0) {
        fprintf(f, "usage: scboot readers\nList PC/SC readers and whether a card is present.\n");
    } else if (strcmp(cmd, "apdu") == 0) {
        fprintf(f, "usage: scboot apdu [OPTIONS] HEX...\n"
                   "Send command APDUs and print the responses (data and SW in hex).\n\n"
                   "      --secure             select the PKCS#15 application on a logical\n"
                   "                           channel, open SCP03 and send through it\n"
                   "      --aid HEX            application for --secure (default: PKCS#15)\n\n%s",
                common_help);
    } else if (strcmp(cmd, "sim") == 0) {
        fprintf(f, "usage: scboot sim --vpcd HOST:PORT [--profile FILE] [--forever] [--delay-ms N]\n"
                   "Run the virtual UICC as a card for pcscd's vpcd driver (reader \"Virtual PCD\n"
                   "00 00\" listens on 35963). Any PC/SC program then sees the card.\n\n"
                   "      --vpcd HOST:PORT     where the vpcd driver listens (loopback)\n"
                   "      --profile FILE       card profile JSON (default: the built-in card)\n"
                   "      --forever            reconnect when pcscd closes the connection\n"
                   "      --delay-ms N         answer every APDU N ms late (benchmarks)\n");
    } else {
        cli_usage(f, NULL);
    }
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */
/* ------------------------------------------------------------------------ */
enum { ARG_NONE, ARG_REQ, ARG_OPT_PROFILE };
typedef struct {
    const char *lng;
    char shrt;
    int arg;
    const char *cmds; /* commands taking it, "*" = every card command */
} opt_def_t;

static const opt_def_t opt_defs[] = {
    {"reader", 'r', ARG_REQ, "*"},      {"sim", 0, ARG_OPT_PROFILE, "*"},
    {"modem", 0, ARG_REQ, "*"},         {"baud", 0, ARG_REQ, "*"},
    {"keys", 0, ARG_REQ, "*"},
    {"kvn", 0, ARG_REQ, "*"},           {"level", 0, ARG_REQ, "*"},
    {"no-secure-channel", 0, ARG_NONE, "*"}, {"kdf3", 0, ARG_NONE, "*"},
    {"s16", 0, ARG_NONE, "*"},          {"sd-aid", 0, ARG_REQ, "*"},
    {"debug", 'd', ARG_NONE, "*"},
    {"json", 0, ARG_NONE, "read"},      {"raw", 0, ARG_NONE, "read write"},
    {"output", 'o', ARG_REQ, "read"},   {"show-secrets", 0, ARG_NONE, "read"},
    {"path", 0, ARG_REQ, "read write"}, {"aid", 0, ARG_REQ, "read write apdu put-key"},
    {"pad", 0, ARG_NONE, "write"},      {"no-verify", 0, ARG_NONE, "write"},
    {"secure", 0, ARG_NONE, "apdu"},    {"new-keys", 0, ARG_REQ, "put-key"},
    {"replace", 0, ARG_REQ, "put-key"},
    {"vpcd", 0, ARG_REQ, "sim"},        {"profile", 0, ARG_REQ, "sim"},
    {"forever", 0, ARG_NONE, "sim"},    {"delay-ms", 0, ARG_REQ, "sim"},
    {"help", 'h', ARG_NONE, "any"},
};

static bool takes(const opt_def_t *d, const char *cmd)
{
    if (strcmp(d->cmds, "any") == 0)
        return true;
    if (strcmp(d->cmds, "*") == 0)
        return strcmp(cmd, "sim") != 0 && strcmp(cmd, "readers") != 0;
    size_t n = strlen(cmd);
    for (const char *p = d->cmds; (p = strstr(p, cmd)) != NULL; p += n)
        if ((p == d->cmds || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
            return true;
    return false;
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 0); /* 0x33 or 51 */
    if (errno != 0 || end == s || *end != 0 || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static bool set_opt(const char *cmd, const opt_def_t *d, const char *val, cli_opts_t *o)
{
    const char *n = d->lng;
    int v = 0;
#define INTARG(lo, hi, field)                                                              \
    do {                                                                                   \
        if (!parse_int(val, lo, hi, &v)) {                                                 \
            fprintf(stderr, "scboot %s: --%s: expected a number %ld..%ld, got '%s'\n", cmd, \
                    n, (long)(lo), (long)(hi), val);                                       \
            return false;                                                                  \
        }                                                                                  \
        field = v;                                                                         \
    } while (0)
    if (strcmp(n, "reader") == 0) o->reader = val;
    else if (strcmp(n, "sim") == 0) { o->use_sim = true; o->sim_profile = val; }
    else if (strcmp(n, "modem") == 0) o->modem = val;
    else if (strcmp(n, "baud") == 0) INTARG(50, 4000000, o->baud);
    else if (strcmp(n, "keys") == 0) o->keys_file = val;
    else if (strcmp(n, "kvn") == 0) INTARG(0, 255, o->kvn);
    else if (strcmp(n, "level") == 0) INTARG(0, 255, o->level);
    else if (strcmp(n, "no-secure-channel") == 0) o->no_secure = true;
    else if (strcmp(n, "kdf3") == 0) o->kdf3 = true;
    else if (strcmp(n, "s16") == 0) o->s16 = true;
    else if (strcmp(n, "sd-aid") == 0) o->sd_aid = val;
    else if (strcmp(n, "debug") == 0) o->debug = true;
    else if (strcmp(n, "json") == 0) o->json = true;
    else if (strcmp(n, "raw") == 0) o->raw = true;
    else if (strcmp(n, "output") == 0) o->output = val;
    else if (strcmp(n, "show-secrets") == 0) o->show_secrets = true;
    else if (strcmp(n, "path") == 0) o->path_hex = val;
    else if (strcmp(n, "aid") == 0) o->aid_hex = val;
    else if (strcmp(n, "pad") == 0) o->pad = true;
    else if (strcmp(n, "no-verify") == 0) o->no_verify = true;
    else if (strcmp(n, "secure") == 0) o->secure = true;
    else if (strcmp(n, "new-keys") == 0) o->new_keys = val;
    else if (strcmp(n, "replace") == 0) INTARG(1, 255, o->replace_kvn);
    else if (strcmp(n, "vpcd") == 0) o->vpcd = val;
    else if (strcmp(n, "profile") == 0) o->profile = val;
    else if (strcmp(n, "forever") == 0) o->forever = true;
    else if (strcmp(n, "delay-ms") == 0) INTARG(0, 60000, o->delay_ms);
#undef INTARG
    return true;
}

static bool takes_positionals(const char *cmd)
{
    return strcmp(cmd, "write") == 0 || strcmp(cmd, "apdu") == 0;
}

bool cli_parse(const char *cmd, int argc, char **argv, cli_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->kvn = -1;
    o->level = SCB_SL_DEFAULT;
    o->baud = 115200;
    o->args = calloc((size_t)argc + 1, sizeof(char *));
    if (o->args == NULL)
        return false;
    bool only_args = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == 0) {
            o->args[o->nargs++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = true;
            continue;
        }
        const opt_def_t *d = NULL;
        const char *inline_val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t n = eq != NULL ? (size_t)(eq - name) : strlen(name);
            for (size_t k = 0; k < sizeof(opt_defs) / sizeof(opt_defs[0]); k++)
                if (strlen(opt_defs[k].lng) == n && strncmp(opt_defs[k].lng, name, n) == 0)
                    d = &opt_defs[k];
            if (eq != NULL)
                inline_val = eq + 1;
        } else if (a[2] == 0) {
            for (size_t k = 0; k < sizeof(opt_defs) / sizeof(opt_defs[0]); k++)
                if (opt_defs[k].shrt == a[1])
                    d = &opt_defs[k];
        }
        if (d == NULL || !takes(d, cmd)) {
            /* the name only: "--key-enc=..." must not echo what follows */
            int shown = (int)strcspn(a, "=");
            if (strncmp(a, "--key-", 6) == 0)
                fprintf(stderr, "scboot %s: keys are not taken as arguments (the process list "
                                "shows them to every user): use --keys FILE, --keys - (standard "
                                "input) or SCBOOT_KEY_ENC/MAC/DEK\n", cmd);
            else
                fprintf(stderr, "scboot %s: unknown option '%.*s' (see scboot help %s)\n", cmd,
                        shown, a, cmd);
            return false;
        }
        if (strcmp(d->lng, "help") == 0) {
            cli_usage(stdout, cmd);
            exit(0);
        }
        const char *val = inline_val;
        if (d->arg == ARG_REQ && val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "scboot %s: option '%s' needs a value\n", cmd, a);
                return false;
            }
            val = argv[++i];
        } else if (d->arg == ARG_OPT_PROFILE && val == NULL && i + 1 < argc &&
                   argv[i + 1][0] != '-' && !takes_positionals(cmd)) {
            /* --sim PROFILE: the next word, for commands without operands
             * (write FILE and apdu HEX need --sim=PROFILE) */
            val = argv[++i];
        } else if (d->arg == ARG_NONE && val != NULL) {
            fprintf(stderr, "scboot %s: option --%s takes no value\n", cmd, d->lng);
            return false;
        }
        if (!set_opt(cmd, d, val, o))
            return false;
    }
    int sources = (o->reader != NULL) + o->use_sim + (o->modem != NULL);
    if (sources > 1) {
        fprintf(stderr, "scboot %s: choose one of --reader, --sim and --modem\n", cmd);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Errors and exit codes                                                     */
/* ------------------------------------------------------------------------ */
int cli_exit_code(int rc)
{
    switch (rc) {
    case SCB_OK:
        return EXIT_OK_;
    case SCB_E_INVALID_ARG:
    case SCB_E_VALIDATION:
        return EXIT_USAGE;
    case SCB_E_TRANSPORT: case SCB_E_NO_SERVICE: case SCB_E_NO_READER: case SCB_E_NO_CARD:
    case SCB_E_CARD_REMOVED: case SCB_E_CARD_RESET: case SCB_E_TIMEOUT: case SCB_E_SHARING:
    case SCB_E_MODEM: case SCB_E_MODEM_CME:
        return EXIT_TRANSPORT;
    case SCB_E_STATUS: case SCB_E_BAD_RESPONSE: case SCB_E_GET_RESPONSE_LIMIT:
    case SCB_E_NOT_FOUND: case SCB_E_SECURITY_STATUS: case SCB_E_NO_CHANNEL:
    case SCB_E_WRONG_LENGTH: case SCB_E_PIN_REQUIRED: case SCB_E_PIN_WRONG:
        return EXIT_CARD;
    case SCB_E_PARSE: case SCB_E_NO_BOOTSTRAP: case SCB_E_FILE_TOO_LARGE:
        return EXIT_DATA;
    case SCB_E_WRITE_INCOMPLETE: case SCB_E_VERIFY_MISMATCH:
        return EXIT_WRITE;
    default:
        return rc <= SCB_E_SCP_CARD_CRYPTOGRAM && rc >= SCB_E_SCP_KEY ? EXIT_SECURE
                                                                     : EXIT_FAILURE_;
    }
}

/* What to try next, per failure. */
static const char *hint(int rc)
{
    switch (rc) {
    case SCB_E_NO_SERVICE: return "start pcscd (pcscd -f), or use --sim";
    case SCB_E_NO_READER: return "list readers with `scboot readers`";
    case SCB_E_NO_CARD: return "insert a card, or start `scboot sim --vpcd ...`";
    case SCB_E_CARD_REMOVED: return "the card went away: re-insert it and retry";
    case SCB_E_SCP_CARD_CRYPTOGRAM: return "wrong keys or key version? check --keys / --kvn";
    case SCB_E_SCP_AUTH_REJECTED: return "the card rejected our cryptogram: check the keys";
    case SCB_E_SCP_KVN: return "the card has another key version: check --kvn";
    case SCB_E_SCP_LEVEL: return "try a lower --level the card supports";
    case SCB_E_SCP_MODE: return "toggle --s16 to match the card";
    case SCB_E_SECURITY_STATUS: return "the file needs a secure channel or a PIN";
    case SCB_E_PIN_REQUIRED: return "set SCBOOT_PIN in the environment";
    case SCB_E_NO_BOOTSTRAP: return "the card holds no LwM2M bootstrap data";
    case SCB_E_WRITE_INCOMPLETE: return "write the card again before using it";
    default: return NULL;
    }
}

int cli_fail(const char *what, int rc, const char *detail)
{
    const char *h = hint(rc);
    fprintf(stderr, "scboot: %s: %s%s%s%s%s\n", what,
            detail != NULL && *detail ? detail : scb_strerror(rc),
            detail != NULL && *detail ? "" : "", h != NULL ? " (" : "", h != NULL ? h : "",
            h != NULL ? ")" : "");
    return cli_exit_code(rc);
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */
long cli_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (*p == ' ' || *p == ':')
            continue;
        if (!isxdigit((unsigned char)*p))
            return -1;
        int v = isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10);
        if (hi < 0) {
            hi = v;
        } else {
            if (n >= cap)
                return -1;
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return hi >= 0 ? -1 : (long)n;
}

char *cli_read_file(const char *path, size_t *len, size_t max)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    bool err = buf == NULL || ferror(f) || n > max;
    if (f != stdin)
        fclose(f);
    if (err) {
        free(buf);
        errno = n > max ? EFBIG : EIO;
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static void trace_line(void *user, const scb_trace_event_t *ev)
{
    (void)user;
    char line[2048];
    if (scb_trace_format(ev, line, sizeof(line)) >= 0)
        fprintf(stderr, "%s\n", line);
}

bool cli_has_key_options(const cli_opts_t *o)
{
    return o->keys_file != NULL || getenv("SCBOOT_KEY_ENC") != NULL;
}

/* The virtual card, and its own keys when the user gave none. */
static int open_sim(const cli_opts_t *o, scb_card_t **card, scb_keys_t **keys, char *detail,
                    size_t detail_len)
{
    scb_sim_t *sim = NULL;
    int rc = scb_sim_new(&sim, o->sim_profile, detail, detail_len);
    if (rc != SCB_OK)
        return rc;
    if (keys != NULL && *keys == NULL && !o->no_secure && !cli_has_key_options(o)) {
        rc = scb_sim_host_keys(sim, keys);
        if (rc != SCB_OK) {
            scb_sim_free(&sim);
            snprintf(detail, detail_len, "the virtual card's profile has no key set");
            return rc;
        }
    }
    return scb_card_open_sim_owned(card, sim);
}

int cli_open_card(const cli_opts_t *o, scb_card_t **card, scb_keys_t **keys)
{
    char detail[256] = "";
    int rc;
    if (keys != NULL)
        *keys = NULL;
    if (keys != NULL && !o->no_secure && !(o->use_sim && !cli_has_key_options(o))) {
        int ret = cli_load_keys(o, keys);
        if (ret != 0)
            return ret;
    }
    if (o->use_sim)
        rc = open_sim(o, card, keys, detail, sizeof(detail));
    else if (o->modem != NULL)
        rc = scb_card_open_modem(card, o->modem, o->baud, NULL, detail, sizeof(detail));
    else
        rc = scb_card_open_pcsc(card, o->reader, detail, sizeof(detail));
    if (rc != SCB_OK) {
        if (keys != NULL)
            scb_keys_free(keys);
        return cli_fail("cannot open the card", rc, detail);
    }
    if (o->debug) {
        scb_trace_t t = {SCB_TRACE_VERSION, NULL, trace_line};
        scb_card_set_trace(*card, &t);
    }
    return 0;
}

/* One key from the environment or the command line, into out. */
static int key_hex(const char *name, const char *val, uint8_t *out, size_t *len)
{
    long n = cli_unhex(val, out, 32);
    if (n != 16 && n != 24 && n != 32) {
        fprintf(stderr, "scboot: %s: expected 16, 24 or 32 bytes of hex\n", name);
        return EXIT_USAGE;
    }
    *len = (size_t)n;
    return 0;
}

int cli_load_keys(const cli_opts_t *o, scb_keys_t **keys)
{
    *keys = NULL;
    int rc;
    if (o->keys_file != NULL) {
        size_t len = 0;
        char *text = cli_read_file(o->keys_file, &len, 64 * 1024);
        if (text == NULL) {
            fprintf(stderr, "scboot: cannot read keys file %s: %s\n", o->keys_file,
                    strerror(errno));
            return EXIT_USAGE;
        }
        char detail[256] = "";
        rc = scbj_keys_from_json(text, keys, detail, sizeof(detail));
        memset(text, 0, len);
        free(text);
        if (rc != SCB_OK) {
            fprintf(stderr, "scboot: keys file %s: %s\n", o->keys_file, detail);
            return EXIT_USAGE;
        }
    } else {
        const char *enc = getenv("SCBOOT_KEY_ENC"), *mac = getenv("SCBOOT_KEY_MAC"),
                   *dek = getenv("SCBOOT_KEY_DEK");
        if (enc == NULL || mac == NULL) {
            fprintf(stderr, "scboot: no SCP03 keys: give --keys FILE or SCBOOT_KEY_ENC and "
                            "SCBOOT_KEY_MAC (or --no-secure-channel to run without)\n");
            return EXIT_USAGE;
        }
        uint8_t k[3][32];
        size_t l[3] = {0, 0, 0};
        int e = key_hex("ENC key", enc, k[0], &l[0]);
        if (e == 0) e = key_hex("MAC key", mac, k[1], &l[1]);
        if (e == 0 && dek != NULL) e = key_hex("DEK key", dek, k[2], &l[2]);
        if (e == 0 && (l[1] != l[0] || (dek != NULL && l[2] != l[0]))) {
            fprintf(stderr, "scboot: the keys differ in length\n");
            e = EXIT_USAGE;
        }
        int kvn = 0;
        const char *env_kvn = getenv("SCBOOT_KEY_KVN");
        if (e == 0 && env_kvn != NULL && !parse_int(env_kvn, 0, 255, &kvn)) {
            fprintf(stderr, "scboot: SCBOOT_KEY_KVN: expected 0..255\n");
            e = EXIT_USAGE;
        }
        if (e == 0) {
            rc = scb_keys_new(keys, k[0], k[1], dek != NULL ? k[2] : NULL, l[0], (uint8_t)kvn);
            if (rc != SCB_OK)
                e = cli_fail("keys", rc, NULL);
        }
        memset(k, 0, sizeof(k));
        if (e != 0)
            return e;
    }
    return 0;
}

int cli_access_opts(const cli_opts_t *o, const scb_keys_t *keys, scb_access_opts_t *ao,
                    uint8_t *pathbuf, uint8_t *aidbuf, uint8_t *sdbuf)
{
    scb_access_opts_init(ao);
    ao->keys = keys;
    ao->scp.level = (uint8_t)o->level;
    if (o->kvn >= 0)
        ao->scp.kvn = (uint8_t)o->kvn;
    if (o->kdf3)
        ao->scp.flags |= SCB_SCP_KDF3;
    if (o->s16)
        ao->scp.flags |= SCB_SCP_S16;
    if (o->no_secure)
        ao->flags |= SCB_ACCESS_NO_SECURE_CHANNEL;
    if (o->path_hex != NULL) {
        long n = cli_unhex(o->path_hex, pathbuf, 16);
        if (n < 2 || n % 2 != 0) {
            fprintf(stderr, "scboot: --path: expected 2..16 bytes of hex FIDs\n");
            return EXIT_USAGE;
        }
        ao->path = pathbuf;
        ao->path_len = (size_t)n;
    }
    if (o->aid_hex != NULL) {
        long n = cli_unhex(o->aid_hex, aidbuf, 16);
        if (n < 5) {
            fprintf(stderr, "scboot: --aid: expected 5..16 bytes of hex\n");
            return EXIT_USAGE;
        }
        ao->aid = aidbuf;
        ao->aid_len = (size_t)n;
    }
    if (o->sd_aid != NULL) {
        long n = cli_unhex(o->sd_aid, sdbuf, 16);
        if (n < 5) {
            fprintf(stderr, "scboot: --sd-aid: expected 5..16 bytes of hex\n");
            return EXIT_USAGE;
        }
        ao->scp.sd_aid = sdbuf;
        ao->scp.sd_aid_len = (size_t)n;
    }
    const char *pin = getenv("SCBOOT_PIN");
    if (pin != NULL && *pin) {
        ao->pin = (const uint8_t *)pin;
        ao->pin_len = strlen(pin);
    }
    return 0;
}
