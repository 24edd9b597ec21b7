/* scboot keys import / generate / list, and key sets in PKCS#11 tokens for
 * the other commands (--keys URI, --new-keys URI, keys JSON {"pkcs11": ..}).
 *
 * The token PIN never comes from the command line: the URI's pin-source
 * (pin-value= is refused there), else SCBOOT_PIN11 in the environment, else
 * a prompt on the controlling terminal (echo off). The library asks for a
 * PIN only when the token needs one (SCB_E_P11_PIN_REQUIRED); the command
 * then tries once more with the PIN from the environment or the prompt. */
#include "cli.h"

#include "scboot_json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PIN_MAX 256

bool cli_is_uri(const char *s)
{
    return s != NULL && strncmp(s, "pkcs11:", 7) == 0;
}

unsigned cli_length_flags(const cli_opts_t *o)
{
    return o->length == 24 ? SCB_P11_AES192 : o->length == 32 ? SCB_P11_AES256 : 0;
}

/* The user PIN from the terminal, echo off. false: no terminal. */
static bool prompt_pin(char *pin, size_t cap)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return false;
    static const char prompt[] = "scboot: user PIN of the PKCS#11 token: ";
    struct termios old, quiet;
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    bool ok = write(fd, prompt, sizeof(prompt) - 1) == (ssize_t)(sizeof(prompt) - 1);
    size_t n = 0;
    while (ok && n + 1 < cap) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n' || c == '\r')
            break;
        pin[n++] = c;
    }
    pin[n] = 0;
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    ok = ok && write(fd, "\n", 1) == 1;
    close(fd);
    return ok;
}

/* One library call that may need the token PIN, retried once with it. */
typedef int (*with_pin_fn)(void *ctx, const char *pin, char *detail, size_t detail_len);

static int with_pin(with_pin_fn fn, void *ctx, char *detail, size_t detail_len)
{
    int rc = fn(ctx, NULL, detail, detail_len);
    if (rc != SCB_E_P11_PIN_REQUIRED)
        return rc;
    char pin[PIN_MAX];
    const char *env = getenv("SCBOOT_PIN11");
    if (env != NULL && *env) {
        snprintf(pin, sizeof(pin), "%s", env);
    } else if (!prompt_pin(pin, sizeof(pin))) {
        return rc; /* no terminal: the library's message says where a PIN may come from */
    }
    rc = fn(ctx, pin, detail, detail_len);
    memset(pin, 0, sizeof(pin));
    return rc;
}

typedef struct open_ctx {
    const char *uri;
    const char *json;
    int kvn;
    unsigned flags;
    scb_keys_t **keys;
} open_ctx_t;

static int try_open_uri(void *p, const char *pin, char *detail, size_t detail_len)
{
    open_ctx_t *c = p;
    return scb_keys_open_pkcs11(c->keys, c->uri, (uint8_t)c->kvn, pin, c->flags, detail,
                                detail_len);
}

static int try_open_json(void *p, const char *pin, char *detail, size_t detail_len)
{
    open_ctx_t *c = p;
    return scbj_keys_from_json_ex(c->json, pin, c->flags, c->keys, detail, detail_len);
}

int cli_open_keys_uri(const char *what, const char *uri, int kvn, unsigned p11_flags,
                      scb_keys_t **keys)
{
    char detail[300] = "";
    open_ctx_t c = {.uri = uri, .kvn = kvn, .flags = p11_flags | SCB_P11_NO_PIN_VALUE,
                    .keys = keys};
    int rc = with_pin(try_open_uri, &c, detail, sizeof(detail));
    if (rc == SCB_OK)
        return 0;
    char where[64];
    snprintf(where, sizeof(where), "%s URI", what);
    return cli_fail(where, rc, detail);
}

int cli_keys_arg(const char *what, const char *arg, int kvn, unsigned p11_flags,
                 scb_keys_t **keys)
{
    if (cli_is_uri(arg))
        return cli_open_keys_uri(what, arg, kvn, p11_flags, keys);
    size_t len = 0;
    char *text = cli_read_file(arg, &len, 64 * 1024);
    if (text == NULL) {
        fprintf(stderr, "scboot: cannot read keys file %s: %s\n", arg, strerror(errno));
        return EXIT_USAGE;
    }
    char detail[300] = "";
    open_ctx_t c = {.json = text, .flags = p11_flags, .keys = keys};
    int rc = with_pin(try_open_json, &c, detail, sizeof(detail));
    memset(text, 0, len);
    free(text);
    if (rc == SCB_OK)
        return 0;
    fprintf(stderr, "scboot: keys file %s: %s\n", arg, detail);
    return rc == SCB_E_VALIDATION ? EXIT_USAGE : cli_exit_code(rc);
}

/* ------------------------------------------------------------------------ */
/* scboot keys ...                                                           */
/* ------------------------------------------------------------------------ */
typedef struct import_ctx {
    const char *uri;
    const scb_keys_t *keys;
    size_t length;
} import_ctx_t;

static int try_import(void *p, const char *pin, char *detail, size_t detail_len)
{
    import_ctx_t *c = p;
    return scb_pkcs11_import(c->uri, pin, SCB_P11_NO_PIN_VALUE, c->keys, detail, detail_len);
}

static int try_generate(void *p, const char *pin, char *detail, size_t detail_len)
{
    import_ctx_t *c = p;
    return scb_pkcs11_generate(c->uri, pin, SCB_P11_NO_PIN_VALUE, c->length, detail, detail_len);
}

typedef struct list_ctx {
    const char *uri;
    size_t shown;
} list_ctx_t;

static void attr_words(unsigned a, char *out, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *word;
    } words[] = {
        {SCB_P11_ATTR_SENSITIVE, "sensitive"},
        {SCB_P11_ATTR_ALWAYS_SENSITIVE, "always-sensitive"},
        {SCB_P11_ATTR_EXTRACTABLE, "EXTRACTABLE"},
        {SCB_P11_ATTR_NEVER_EXTRACTABLE, "never-extractable"},
        {SCB_P11_ATTR_LOCAL, "generated-in-token"},
        {SCB_P11_ATTR_PRIVATE, "private"},
        {SCB_P11_ATTR_MODIFIABLE, "modifiable"},
        {SCB_P11_ATTR_SIGN, "sign"},
        {SCB_P11_ATTR_VERIFY, "verify"},
        {SCB_P11_ATTR_ENCRYPT, "encrypt"},
        {SCB_P11_ATTR_DECRYPT, "decrypt"},
        {SCB_P11_ATTR_WRAP, "wrap"},
        {SCB_P11_ATTR_UNWRAP, "unwrap"},
        {SCB_P11_ATTR_DERIVE, "derive"},
    };
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if ((a & words[i].bit) && o + strlen(words[i].word) + 2 < cap)
            o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? " " : "", words[i].word);
    if (!(a & SCB_P11_ATTR_TOKEN) && o + 9 < cap)
        snprintf(out + o, cap - o, "%ssession", o ? " " : "");
}

static void list_one(void *user, const scb_p11_object_t *obj)
{
    list_ctx_t *c = user;
    char kcv[8] = "-", attrs[200];
    if (obj->has_kcv)
        snprintf(kcv, sizeof(kcv), "%02X%02X%02X", obj->kcv[0], obj->kcv[1], obj->kcv[2]);
    attr_words(obj->attrs, attrs, sizeof(attrs));
    printf("%-32s AES-%-3zu KCV %-6s %s\n", obj->label, obj->key_len * 8, kcv, attrs);
    c->shown++;
}

static int try_list(void *p, const char *pin, char *detail, size_t detail_len)
{
    list_ctx_t *c = p;
    return scb_pkcs11_list(c->uri, pin, SCB_P11_NO_PIN_VALUE, list_one, c, detail, detail_len);
}

/* `scboot help keys` (the command table in main.c shows it). */
const char cli_keys_about[] =
    "SCP03 key sets in a PKCS#11 token. A key set NAME is the AES secret keys\n"
    "labelled NAME/enc, NAME/mac and NAME/dek; a URI names the token and the set\n"
    "(RFC 7512):\n"
    "  pkcs11:token=LABEL;object=NAME?module-path=/usr/lib/softhsm/libsofthsm2.so\n"
    "         &pin-source=file:/etc/scboot/token.pin\n"
    "(module-name=NAME instead of module-path: a module of p11-kit's configuration;\n"
    "neither: every module p11-kit loads). Give such a URI to --keys and --new-keys\n"
    "of the other commands, or {\"pkcs11\": URI, \"kvn\": N} in a keys file.\n"
    "The keys never leave the token: scboot asks it for AES-CMAC, encryption and\n"
    "key wrapping, never for a key's value.\n\n"
    "  import     the keys of a keys file (--keys FILE, or - for standard input) become\n"
    "             sensitive, non-extractable token objects that may sign and encrypt\n"
    "             (the DEK may also wrap), nothing else\n"
    "  generate   the same objects generated in the token, never extractable (master\n"
    "             keys for --kdf3, key sets that stay in the token)\n"
    "  list       every AES key of the token, or of the set the URI names: label,\n"
    "             length, KCV (computed in the token), attributes; never a value\n\n"
    "The token's user PIN: pin-source=file:PATH in the URI (a file only its owner\n"
    "may read), else SCBOOT_PIN11 in the environment, else a prompt on the terminal.\n"
    "A PIN is never taken from the command line (pin-value= is refused there; a keys\n"
    "file may hold one). Failures of the token exit with 8.";

static int keys_usage(void)
{
    fprintf(stderr, "usage: scboot keys import --keys FILE --to URI | generate --to URI "
                    "[--length 16|24|32] | list URI (see scboot help keys)\n");
    return EXIT_USAGE;
}

static int keys_list_set(const char *uri)
{
    list_ctx_t c = {.uri = uri};
    char detail[300] = "";
    int rc = with_pin(try_list, &c, detail, sizeof(detail));
    return rc == SCB_OK ? 0 : cli_fail("listing the token's keys", rc, detail);
}

int cmd_keys(cli_opts_t *o)
{
    if (o->nargs < 1)
        return keys_usage();
    const char *sub = o->args[0];
    char detail[300] = "";
    if (strcmp(sub, "list") == 0) {
        if (o->nargs != 2 || o->to != NULL || o->keys_file != NULL)
            return keys_usage();
        list_ctx_t c = {.uri = o->args[1]};
        int rc = with_pin(try_list, &c, detail, sizeof(detail));
        if (rc != SCB_OK)
            return cli_fail("listing the token's keys", rc, detail);
        if (c.shown == 0)
            fprintf(stderr, "scboot keys list: no AES secret keys match\n");
        return 0;
    }
    if (o->nargs != 1 || o->to == NULL)
        return keys_usage();
    if (strcmp(sub, "import") == 0) {
        if (o->keys_file == NULL || cli_is_uri(o->keys_file) || o->length != 0) {
            fprintf(stderr, "scboot keys import: give the keys to import with --keys FILE (or "
                            "--keys - for standard input)\n");
            return EXIT_USAGE;
        }
        scb_keys_t *keys = NULL;
        int ret = cli_load_keys(o, &keys);
        if (ret != 0)
            return ret;
        if (scb_keys_in_token(keys)) {
            scb_keys_free(&keys);
            fprintf(stderr, "scboot keys import: --keys names keys in a token already\n");
            return EXIT_USAGE;
        }
        import_ctx_t c = {.uri = o->to, .keys = keys};
        int rc = with_pin(try_import, &c, detail, sizeof(detail));
        scb_keys_free(&keys);
        if (rc != SCB_OK)
            return cli_fail("importing the keys", rc, detail);
        printf("imported (sensitive, not extractable):\n");
        return keys_list_set(o->to);
    }
    if (strcmp(sub, "generate") == 0) {
        if (o->keys_file != NULL || (o->length != 0 && o->length != 16 && o->length != 24 &&
                                     o->length != 32)) {
            fprintf(stderr, "scboot keys generate: --length is 16, 24 or 32\n");
            return EXIT_USAGE;
        }
        import_ctx_t c = {.uri = o->to, .length = o->length ? (size_t)o->length : 16};
        int rc = with_pin(try_generate, &c, detail, sizeof(detail));
        if (rc != SCB_OK)
            return cli_fail("generating the keys", rc, detail);
        printf("generated in the token (sensitive, never extractable):\n");
        return keys_list_set(o->to);
    }
    return keys_usage();
}
