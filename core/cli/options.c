/* Command-line options, usage texts, key loading, error reporting.
 *
 * Two tables and nothing else describe the command line: cli_commands
 * (main.c: each command, what it does, the scopes of library options it
 * takes and its own options) and own_opts below (options of the command
 * itself: card selection, output). Every option of a library operation
 * comes from the library's option table (scb_opt_info), so the parser,
 * the usage texts and the library never disagree. */
#include "cli.h"

#include "scboot_json.h"
#include "scboot_sim.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------------ */
/* The command's own options                                                 */
/* ------------------------------------------------------------------------ */
enum { ARG_NONE, ARG_REQ, ARG_OPT_PROFILE };
typedef struct {
    const char *lng;
    char shrt;
    int arg;
    const char *argname;
    const char *help;
} own_opt_t;

static const own_opt_t own_opts[] = {
    {"reader", 'r', ARG_REQ, "NAME|INDEX",
     "PC/SC reader: exact name, index or unique substring (default: the first reader with a "
     "card)"},
    {"sim", 0, ARG_OPT_PROFILE, "[PROFILE]",
     "the built-in virtual card, in process (optional profile JSON; write and apdu take it as "
     "--sim=PROFILE)"},
    {"modem", 0, ARG_REQ, "DEV", "a UICC inside a modem, through AT+CSIM on a tty"},
    {"keys", 0, ARG_REQ, "FILE|URI",
     "SCP03 keys: JSON {\"enc\": hex, \"mac\": hex, \"dek\": hex, \"kvn\": int}, '-' for "
     "standard input (or SCBOOT_KEY_ENC/MAC/DEK/KVN; never as arguments); or keys in a "
     "PKCS#11 token: pkcs11:token=LABEL;object=NAME?module-path=PATH&pin-source=file:PATH, "
     "or {\"pkcs11\": URI, \"kvn\": int} in the file (see scboot help keys)"},
    {"debug", 'd', ARG_NONE, NULL, "APDU trace on stderr (secrets masked)"},
    {"timeout", 0, ARG_REQ, "SECONDS",
     "give up after SECONDS (default 30; 0: never): a card or reader that stops answering "
     "ends the command with exit 3, the step named"},
    {"json", 0, ARG_NONE, NULL, "print JSON (the form `write` takes)"},
    {"raw", 0, ARG_NONE, NULL, "read: the file's bytes, binary, secret keys included (to -o "
     "FILE, created 0600, or a pipe; never a terminal); write: FILE holds the file's bytes, "
     "not JSON"},
    {"output", 'o', ARG_REQ, "FILE", "write the output to FILE (0600 when it holds secrets)"},
    {"show-secrets", 0, ARG_NONE, NULL, "include secret keys (never shown otherwise)"},
    {"secure", 0, ARG_NONE, NULL,
     "select the PKCS#15 application on a logical channel, open SCP03 and send through it"},
    {"new-keys", 0, ARG_REQ, "FILE|URI",
     "the new keys, the same forms as --keys; a token set that does not exist yet is "
     "generated in the token for this card"},
    {"new-kvn", 0, ARG_REQ, "N", "the key version of new keys given as a URI"},
    {"to", 0, ARG_REQ, "URI", "the token key set to import into or generate"},
    {"length", 0, ARG_REQ, "16|24|32",
     "length of keys generated in the token (default 16; put-key: not 24, CKM_AES_CBC wraps "
     "whole blocks only)"},
    {"vpcd", 0, ARG_REQ, "HOST:PORT", "where the vpcd driver listens (loopback)"},
    {"profile", 0, ARG_REQ, "FILE", "card profile JSON (default: the built-in card)"},
    {"forever", 0, ARG_NONE, NULL, "reconnect when pcscd closes the connection"},
    {"rolling", 0, ARG_NONE, NULL, "a new card, next ICCID, each time a host starts on one"},
    {"delay-ms", 0, ARG_REQ, "N", "answer every APDU N ms late (benchmarks)"},
    {"help", 'h', ARG_NONE, NULL, "this text"},
};

/* Library option names the command line spells differently. */
static const struct {
    const char *flag, *name;
} aliases[] = {{"replace", "replace_kvn"}};

static const cli_command_t *command(const char *name)
{
    for (size_t i = 0; cli_commands[i].name != NULL; i++)
        if (name != NULL && strcmp(cli_commands[i].name, name) == 0)
            return &cli_commands[i];
    return NULL;
}

/* Whether word is in the space-separated list. */
static bool listed(const char *list, const char *word, size_t n)
{
    for (const char *p = list; p != NULL && (p = strstr(p, word)) != NULL; p += 1)
        if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ') && strncmp(p, word, n) == 0)
            return true;
    return false;
}

static const own_opt_t *own_opt(const cli_command_t *c, const char *name, size_t n, char shrt)
{
    for (size_t i = 0; i < SCB_ARRAY_LEN_(own_opts); i++) {
        const own_opt_t *d = &own_opts[i];
        bool match = shrt != 0 ? d->shrt == shrt : strlen(d->lng) == n &&
                                                       strncmp(d->lng, name, n) == 0;
        if (match && (strcmp(d->lng, "help") == 0 || listed(c->own, d->lng, strlen(d->lng))))
            return d;
    }
    return NULL;
}

/* The library option a long flag names, when the command takes it. */
static int lib_opt(const cli_command_t *c, const char *name, size_t n, scb_opt_info_t *info)
{
    char buf[64];
    if (n >= sizeof(buf))
        return 0;
    memcpy(buf, name, n);
    buf[n] = 0;
    for (size_t i = 0; i < SCB_ARRAY_LEN_(aliases); i++)
        if (strcmp(buf, aliases[i].flag) == 0)
            snprintf(buf, sizeof(buf), "%s", aliases[i].name);
    int id = scb_opt_find(buf);
    if (id <= 0 || scb_opt_info(id, info) != SCB_OK)
        return 0;
    /* secrets are never arguments (the process list shows them) */
    if (info->secret || (info->scope & c->scopes) == 0)
        return 0;
    return id;
}

/* ------------------------------------------------------------------------ */
/* Usage                                                                     */
/* ------------------------------------------------------------------------ */
/* One option line: the flag in 27 columns, then its help wrapped at 79. */
static void opt_line(FILE *f, char shrt, const char *lng, const char *arg, const char *help)
{
    char flag[64];
    if (shrt != 0)
        snprintf(flag, sizeof(flag), "  -%c, --%s%s%s", shrt, lng, arg ? " " : "", arg ? arg : "");
    else
        snprintf(flag, sizeof(flag), "      --%s%s%s", lng, arg ? " " : "", arg ? arg : "");
    fprintf(f, "%-26s", flag);
    size_t col = strlen(flag) < 26 ? 26 : strlen(flag);
    if (col > 26) {
        fprintf(f, "\n%26s", "");
        col = 26;
    }
    const char *p = help;
    while (*p != 0) {
        size_t w = strcspn(p, " ");
        if (col + 1 + w > 79 && col > 26) {
            fprintf(f, "\n%26s", "");
            col = 26;
        }
        fprintf(f, " %.*s", (int)w, p);
        col += 1 + w;
        p += w;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

static const char *flag_name(const char *name, char *buf, size_t cap)
{
    for (size_t i = 0; i < SCB_ARRAY_LEN_(aliases); i++)
        if (strcmp(name, aliases[i].name) == 0)
            return aliases[i].flag;
    size_t i = 0;
    for (; name[i] != 0 && i + 1 < cap; i++)
        buf[i] = name[i] == '_' ? '-' : name[i];
    buf[i] = 0;
    return buf;
}

static const struct {
    unsigned scope;
    const char *title;
} groups[] = {
    {SCB_SCOPE_SCP, "Secure channel (SCP03, LwM2M Appendix H)"},
    {SCB_SCOPE_APP, "The PKCS#15 application"},
    {SCB_SCOPE_EF, "The bootstrap EF (a PIN for a private entry: SCBOOT_PIN)"},
    {SCB_SCOPE_WRITE, "Writing"},
    {SCB_SCOPE_ROTATE, "Key rotation"},
    {SCB_SCOPE_MODEM, "Modem (with --modem)"},
};

static void command_usage(FILE *f, const cli_command_t *c)
{
    fprintf(f, "usage: scboot %s\n%s\n", c->synopsis, c->about);
    bool any_own = false;
    for (size_t i = 0; i < SCB_ARRAY_LEN_(own_opts); i++) {
        const own_opt_t *d = &own_opts[i];
        if (!listed(c->own, d->lng, strlen(d->lng)))
            continue;
        if (!any_own)
            fprintf(f, "\nOptions:\n");
        any_own = true;
        opt_line(f, d->shrt, d->lng, d->argname, d->help);
    }
    for (size_t g = 0; g < SCB_ARRAY_LEN_(groups); g++) {
        if ((c->scopes & groups[g].scope) == 0)
            continue;
        fprintf(f, "\n%s:\n", groups[g].title);
        scb_opt_info_t info;
        for (int id = 1; scb_opt_info(id, &info) == SCB_OK; id++) {
            if (info.scope != groups[g].scope || info.secret)
                continue;
            char buf[64];
            const char *arg = info.type == SCB_OPT_T_BOOL ? NULL : info.arg;
            opt_line(f, 0, flag_name(info.name, buf, sizeof(buf)), arg, info.help);
        }
    }
}

bool cli_usage(FILE *f, const char *cmd)
{
    if (cmd != NULL) {
        const cli_command_t *c = command(cmd);
        if (c == NULL)
            return false;
        command_usage(f, c);
        return true;
    }
    fprintf(f, "usage: scboot COMMAND [OPTIONS]\n"
               "Fetch LwM2M bootstrap data from a UICC over GlobalPlatform SCP03.\n\n"
               "Commands:\n");
    for (size_t i = 0; cli_commands[i].name != NULL; i++)
        fprintf(f, "  %-15s%s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(f, "  %-15s%s\n", "help [COMMAND]", "this text, or a command's options");
    fprintf(f, "\nExit codes: 0 ok, 1 other failure, 2 usage or input error, 3 no daemon /\n"
               "reader / card, 4 card refused a command, 5 secure channel failure (keys,\n"
               "MAC), 6 no or invalid bootstrap data, 7 write interrupted or not verified,\n"
               "8 key store (PKCS#11 token) failure.\n"
               "`scboot help COMMAND` shows the options of one command.\n");
    return true;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */
/* ------------------------------------------------------------------------ */
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

static bool set_own(const char *cmd, const own_opt_t *d, const char *val, cli_opts_t *o)
{
    const char *n = d->lng;
    if (strcmp(n, "reader") == 0) o->reader = val;
    else if (strcmp(n, "sim") == 0) { o->use_sim = true; o->sim_profile = val; }
    else if (strcmp(n, "modem") == 0) o->modem = val;
    else if (strcmp(n, "keys") == 0) o->keys_file = val;
    else if (strcmp(n, "timeout") == 0) {
        char *end = NULL;
        errno = 0;
        double secs = strtod(val, &end);
        if (errno != 0 || end == val || *end != 0 || !(secs >= 0) || secs > 86400) {
            fprintf(stderr, "scboot %s: --timeout: expected seconds 0..86400, got '%.20s'\n", cmd,
                    val);
            return false;
        }
        o->timeout_ms = (unsigned)(secs * 1000.0 + 0.5);
        o->has_timeout = true;
    }
    else if (strcmp(n, "debug") == 0) o->debug = true;
    else if (strcmp(n, "json") == 0) o->json = true;
    else if (strcmp(n, "raw") == 0) o->raw = true;
    else if (strcmp(n, "output") == 0) o->output = val;
    else if (strcmp(n, "show-secrets") == 0) o->show_secrets = true;
    else if (strcmp(n, "secure") == 0) o->secure = true;
    else if (strcmp(n, "new-keys") == 0) o->new_keys = val;
    else if (strcmp(n, "to") == 0) o->to = val;
    else if (strcmp(n, "new-kvn") == 0 && !parse_int(val, 1, 255, &o->new_kvn)) {
        fprintf(stderr, "scboot %s: --new-kvn: expected a number 1..255\n", cmd);
        return false;
    } else if (strcmp(n, "length") == 0 &&
               (!parse_int(val, 16, 32, &o->length) || o->length % 8 != 0 || o->length == 8)) {
        fprintf(stderr, "scboot %s: --length is 16, 24 or 32\n", cmd);
        return false;
    }
    else if (strcmp(n, "vpcd") == 0) o->vpcd = val;
    else if (strcmp(n, "profile") == 0) o->profile = val;
    else if (strcmp(n, "forever") == 0) o->forever = true;
    else if (strcmp(n, "rolling") == 0) o->rolling = true;
    else if (strcmp(n, "delay-ms") == 0 && !parse_int(val, 0, 60000, &o->delay_ms)) {
        fprintf(stderr, "scboot %s: --delay-ms: expected a number 0..60000\n", cmd);
        return false;
    }
    return true;
}

static bool set_lib(const char *cmd, int id, const scb_opt_info_t *info, const char *val,
                    cli_opts_t *o)
{
    scb_opts_t *target = info->scope == SCB_SCOPE_MODEM ? o->modem_opts : o->lib;
    int rc = val == NULL ? scb_opts_set_int(target, id, 1) : scb_opts_set_text(target, id, val);
    if (rc != SCB_OK) {
        char buf[64];
        /* the library's message names the option by its library name */
        fprintf(stderr, "scboot %s: --%s: %s\n", cmd, flag_name(info->name, buf, sizeof(buf)),
                scb_opts_errmsg(target));
        return false;
    }
    return true;
}

static bool takes_positionals(const char *cmd)
{
    return strcmp(cmd, "write") == 0 || strcmp(cmd, "apdu") == 0;
}

bool cli_parse(const char *cmd, int argc, char **argv, cli_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->cmd = cmd;
    o->new_kvn = -1;
    const cli_command_t *c = command(cmd);
    o->args = calloc((size_t)argc + 1, sizeof(char *));
    if (c == NULL || o->args == NULL || scb_opts_new(&o->lib) != SCB_OK ||
        scb_opts_new(&o->modem_opts) != SCB_OK)
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
        const own_opt_t *d = NULL;
        int lib = 0;
        scb_opt_info_t info;
        const char *inline_val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t n = eq != NULL ? (size_t)(eq - name) : strlen(name);
            d = own_opt(c, name, n, 0);
            if (d == NULL)
                lib = lib_opt(c, name, n, &info);
            if (eq != NULL)
                inline_val = eq + 1;
        } else if (a[2] == 0) {
            d = own_opt(c, NULL, 0, a[1]);
        }
        if (d == NULL && lib == 0) {
            /* the name only: "--key-enc=..." must not echo what follows */
            int shown = (int)strcspn(a, "=");
            if (strncmp(a, "--key-", 6) == 0 || strcmp(a, "--pin") == 0 ||
                strncmp(a, "--pin=", 6) == 0)
                fprintf(stderr, "scboot %s: secrets are not taken as arguments (the process "
                                "list shows them to every user): use --keys FILE, --keys - "
                                "(standard input), SCBOOT_KEY_ENC/MAC/DEK or SCBOOT_PIN\n", cmd);
            else
                fprintf(stderr, "scboot %s: unknown option '%.*s' (see scboot help %s)\n", cmd,
                        shown, a, cmd);
            return false;
        }
        if (d != NULL && strcmp(d->lng, "help") == 0) {
            cli_usage(stdout, cmd);
            exit(0);
        }
        const int arg = d != NULL ? d->arg : info.type == SCB_OPT_T_BOOL ? ARG_NONE : ARG_REQ;
        const char *val = inline_val;
        if (arg == ARG_REQ && val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "scboot %s: option '%s' needs a value\n", cmd, a);
                return false;
            }
            val = argv[++i];
        } else if (arg == ARG_OPT_PROFILE && val == NULL && i + 1 < argc &&
                   argv[i + 1][0] != '-' && !takes_positionals(cmd)) {
            /* --sim PROFILE: the next word, for commands without operands
             * (write FILE and apdu HEX need --sim=PROFILE) */
            val = argv[++i];
        } else if (arg == ARG_NONE && val != NULL) {
            fprintf(stderr, "scboot %s: option '%.*s' takes no value\n", cmd,
                    (int)strcspn(a, "="), a);
            return false;
        }
        if (d != NULL ? !set_own(cmd, d, val, o) : !set_lib(cmd, lib, &info, val, o))
            return false;
    }
    int sources = (o->reader != NULL) + o->use_sim + (o->modem != NULL);
    if (sources > 1) {
        fprintf(stderr, "scboot %s: choose one of --reader, --sim and --modem\n", cmd);
        return false;
    }
    scb_opt_info_t info;
    for (int id = 1; o->modem == NULL && scb_opt_info(id, &info) == SCB_OK; id++)
        if (scb_opts_is_set(o->modem_opts, id)) {
            char buf[64];
            fprintf(stderr, "scboot %s: --%s applies to --modem only\n", cmd,
                    flag_name(info.name, buf, sizeof(buf)));
            return false;
        }
    /* A PIN for a private bootstrap entry: from the environment only. */
    const char *pin = getenv("SCBOOT_PIN");
    if (pin != NULL && *pin != 0 && (c->scopes & SCB_SCOPE_EF) != 0 &&
        scb_opts_set_bytes(o->lib, SCB_OPT_PIN, (const uint8_t *)pin, strlen(pin)) != SCB_OK) {
        fprintf(stderr, "scboot %s: SCBOOT_PIN: %s\n", cmd, scb_opts_errmsg(o->lib));
        return false;
    }
    return true;
}

void cli_free(cli_opts_t *o)
{
    scb_opts_free(&o->lib);
    scb_opts_free(&o->modem_opts);
    free(o->args);
    o->args = NULL;
}

bool cli_flag(const cli_opts_t *o, int id)
{
    long long v = 0;
    return scb_opts_is_set(o->lib, id) && scb_opts_get_int(o->lib, id, &v) == SCB_OK && v != 0;
}

/* ------------------------------------------------------------------------ */
/* Errors and exit codes                                                     */
/* ------------------------------------------------------------------------ */
/* The exit code of a result is its error family (README "Exit codes"). */
int cli_exit_code(int rc)
{
    switch (scb_error_family(rc)) {
    case SCB_FAMILY_OK: return EXIT_OK_;
    case SCB_FAMILY_USAGE: return EXIT_USAGE;
    case SCB_FAMILY_TRANSPORT: return EXIT_TRANSPORT;
    case SCB_FAMILY_CARD: return EXIT_CARD;
    case SCB_FAMILY_SECURE: return EXIT_SECURE;
    case SCB_FAMILY_DATA: return EXIT_DATA;
    case SCB_FAMILY_WRITE: return EXIT_WRITE;
    case SCB_FAMILY_KEYSTORE: return EXIT_KEYSTORE;
    default: return EXIT_FAILURE_;
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
    case SCB_E_SCP_NO_KEYSET: return "check --kvn and the keys' \"kvn\"";
    case SCB_E_SCP_REJECTED: return "check the ENC key in --keys";
    case SCB_E_SCP_LEVEL: return "try a lower --level the card supports";
    case SCB_E_SCP_MODE: return "toggle --s16 to match the card";
    case SCB_E_SECURITY_STATUS: return "the file needs a secure channel or a PIN";
    case SCB_E_PIN_REQUIRED: return "set SCBOOT_PIN in the environment";
    case SCB_E_NO_BOOTSTRAP: return "the card holds no LwM2M bootstrap data";
    case SCB_E_WRITE_INCOMPLETE: return "write the card again before using it";
    case SCB_E_P11_MODULE: return "check module-path= / module-name= (p11-kit list-modules)";
    case SCB_E_P11_TOKEN: return "check token= in the URI (p11-kit list-modules shows tokens)";
    case SCB_E_P11_PIN: return "check the token's user PIN";
    case SCB_E_P11_OBJECT: return "`scboot keys list URI` shows the token's key sets";
    case SCB_E_P11_USAGE: return "`scboot keys list URI` shows what the objects may do";
    default: return NULL;
    }
}

int cli_fail(const char *what, int rc, const char *detail)
{
    return cli_fail_hint(what, rc, detail, NULL);
}

int cli_fail_hint(const char *what, int rc, const char *detail, const char *given)
{
    const char *h = given != NULL ? given : hint(rc);
    /* the detail already says that the level, not a missing channel, is short */
    if (given == NULL && rc == SCB_E_SECURITY_STATUS && detail != NULL &&
        strstr(detail, "session's level") != NULL)
        h = "a higher --level, e.g. 0x33";
    fprintf(stderr, "scboot: %s: %s%s%s%s\n", what,
            detail != NULL && *detail ? detail : scb_strerror(rc), h != NULL ? " (" : "",
            h != NULL ? h : "", h != NULL ? ")" : "");
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
    struct stat st;
    if (f != stdin && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        errno = EISDIR; /* fread would say "Input/output error" */
        return NULL;
    }
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
    if (keys != NULL && *keys == NULL && !cli_flag(o, SCB_OPT_NO_SECURE_CHANNEL) &&
        !cli_has_key_options(o)) {
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
    if (keys != NULL && !cli_flag(o, SCB_OPT_NO_SECURE_CHANNEL) &&
        !(o->use_sim && !cli_has_key_options(o))) {
        int ret = cli_load_keys(o, keys);
        if (ret != 0)
            return ret;
    }
    if (o->use_sim)
        rc = open_sim(o, card, keys, detail, sizeof(detail));
    else if (o->modem != NULL)
        rc = scb_card_open_modem(card, o->modem, o->modem_opts, detail, sizeof(detail));
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
    if (o->has_timeout)
        scb_card_set_timeout(*card, o->timeout_ms);
    return 0;
}

/* One key from the environment, into out. */
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
        long long kvn = 0; /* a token set's version: --kvn (keys files say their own) */
        scb_opts_get_int(o->lib, SCB_OPT_KVN, &kvn);
        rc = cli_keys_arg("--keys", o->keys_file, (int)kvn, 0, keys);
        if (rc != 0)
            return rc;
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
        int e = key_hex("SCBOOT_KEY_ENC", enc, k[0], &l[0]);
        if (e == 0) e = key_hex("SCBOOT_KEY_MAC", mac, k[1], &l[1]);
        if (e == 0 && dek != NULL) e = key_hex("SCBOOT_KEY_DEK", dek, k[2], &l[2]);
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
