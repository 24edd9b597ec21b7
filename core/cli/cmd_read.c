/* scboot read: the main job. Output is built completely before anything
 * reaches stdout, so an error never leaves partial output behind. */
#include "cli.h"
#include "scboot/pkcs15.h"

#include "scboot_json.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* A growable text buffer for the table. */
typedef struct {
    char *s;
    size_t len, cap;
} text_t;

static void tprintf(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(text_t *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = vsnprintf(t->s != NULL ? t->s + t->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *p = realloc(t->s, cap);
        if (p == NULL)
            return;
        t->s = p;
        t->cap = cap;
    }
}

static void hexstr(const uint8_t *d, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 <= cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02X", d[i]);
    out[o < cap ? o : cap - 1] = 0;
}

/* Opaque identity for the table's column: as text when printable, else
 * hex; longer than the column (a certificate) shortened with its size. */
#define IDENT_COLUMN 24
static void show_opaque(const uint8_t *d, size_t n, char *out, size_t cap)
{
    bool printable = n > 0;
    for (size_t i = 0; i < n; i++)
        if (!isprint(d[i]))
            printable = false;
    if (n == 0) {
        snprintf(out, cap, "-");
        return;
    }
    if (printable && n + 2 <= IDENT_COLUMN) {
        snprintf(out, cap, "\"%.*s\"", (int)n, (const char *)d);
        return;
    }
    if (!printable && 2 * n <= IDENT_COLUMN) {
        hexstr(d, n, out, cap);
        return;
    }
    char head[IDENT_COLUMN];
    if (printable)
        snprintf(head, sizeof(head), "\"%.8s..\"", (const char *)d);
    else
        hexstr(d, 4, head, sizeof(head));
    snprintf(out, cap, "%s%s (%zu bytes)", head, printable ? "" : "..", n);
}

static const char *mode_name(int64_t m)
{
    static const char *names[] = {"PSK", "RPK", "Cert", "NoSec", "Cert+EST"};
    return m >= 0 && m < 5 ? names[m] : "?";
}

static const char *oid_form_name(int f)
{
    switch (f) {
    case SCB_OID_DO_ID: return "oidDO";
    case SCB_OID_DO_ID_MISENCODED: return "oidDO, OID encoded twice (06 06 06 04 ..: the spec "
                                          "example's form)";
    case SCB_OID_APPLICATION_OID: return "applicationOID";
    case SCB_OID_APPLICATION_OID_MISENCODED: return "applicationOID, OID encoded twice";
    default: return "path given";
    }
}

#define HAS(p, bit) (((p) >> (bit)) & 1u)

static void table(text_t *t, const scb_bootstrap_t *bs, const scb_access_info_t *info,
                  const char *card_name, bool secrets)
{
    char aid[40], path[40], buf[300];
    uint8_t digest[32];
    hexstr(info->aid, info->aid_len, aid, sizeof(aid));
    hexstr(info->path, info->path_len, path, sizeof(path));
    tprintf(t, "Card:       %s\n", card_name);
    char channel[48];
    if (info->channel >= SCB_CHANNEL_UNNUMBERED) /* its number stayed in the modem */
        snprintf(channel, sizeof(channel), "a logical channel the transport opened");
    else
        snprintf(channel, sizeof(channel), "logical channel %u", (unsigned)info->channel);
    tprintf(t, "PKCS#15:    AID %s (%s), %s\n", aid,
            info->used_efdir ? "from EF.DIR" : "default AID, no EF.DIR template", channel);
    if (info->scp_level >= 0)
        tprintf(t, "Secure:     SCP03, security level 0x%02X, %s\n", (unsigned)info->scp_level,
                info->s16 ? "S16" : "S8");
    else
        tprintf(t, "Secure:     none (--no-secure-channel)\n");
    const uint8_t *raw = NULL;
    size_t rawlen = 0;
    scb_bootstrap_raw(bs, &raw, &rawlen);
    tprintf(t, "Bootstrap:  EF %s (%zu bytes), %zu bytes of data, %s, %lu APDUs\n", path,
            info->ef_size, rawlen, oid_form_name(info->oid_form), info->apdus);
    if (scb_bootstrap_digest(bs, digest) == SCB_OK) {
        hexstr(digest, 32, buf, sizeof(buf));
        tprintf(t, "Digest:     sha256 %s\n", buf);
    }

    size_t ns = scb_bootstrap_security_count(bs);
    tprintf(t, "\nSecurity accounts (object 0): %zu\n", ns);
    if (ns > 0)
        tprintf(t, "  %-4s %-40s %-4s %-8s %-6s %-24s %s\n", "inst", "server URI", "BS", "mode",
                "SSID", "identity", "secret key");
    for (size_t i = 0; i < ns; i++) {
        scb_security_t s;
        if (scb_bootstrap_security(bs, i, &s) != SCB_OK)
            continue;
        char ident[200] = "-", secret[140] = "-", ssid[16] = "-";
        if (HAS(s.present, 3))
            show_opaque(s.public_key_or_identity, s.public_key_or_identity_len, ident,
                        sizeof(ident));
        if (HAS(s.present, 5) && s.secret_key_len > 0) {
            if (secrets)
                hexstr(s.secret_key, s.secret_key_len, secret, sizeof(secret));
            else
                snprintf(secret, sizeof(secret), "<redacted, %zu bytes>", s.secret_key_len);
        }
        if (HAS(s.present, 10))
            snprintf(ssid, sizeof(ssid), "%lld", (long long)s.short_server_id);
        tprintf(t, "  %-4u %-40s %-4s %-8s %-6s %-24s %s\n", (unsigned)s.instance_id,
                HAS(s.present, 0) ? s.server_uri : "-",
                HAS(s.present, 1) ? (s.bootstrap_server ? "yes" : "no") : "-",
                HAS(s.present, 2) ? mode_name(s.security_mode) : "-", ssid, ident, secret);
        if (HAS(s.present, 4) && s.server_public_key_len > 0)
            tprintf(t, "       server public key: %zu bytes\n", s.server_public_key_len);
        if (HAS(s.present, 11))
            tprintf(t, "       client hold-off: %lld s\n", (long long)s.client_hold_off_time);
    }
    size_t nv = scb_bootstrap_server_count(bs);
    tprintf(t, "\nServer accounts (object 1): %zu\n", nv);
    if (nv > 0)
        tprintf(t, "  %-4s %-6s %-10s %-8s %-8s %-8s %s\n", "inst", "SSID", "lifetime", "binding",
                "min", "max", "storing");
    for (size_t i = 0; i < nv; i++) {
        scb_server_t s;
        if (scb_bootstrap_server(bs, i, &s) != SCB_OK)
            continue;
        char f[6][24];
        snprintf(f[0], 24, HAS(s.present, 0) ? "%lld" : "-", (long long)s.short_server_id);
        snprintf(f[1], 24, HAS(s.present, 1) ? "%lld" : "-", (long long)s.lifetime);
        snprintf(f[2], 24, HAS(s.present, 2) ? "%lld" : "-", (long long)s.default_min_period);
        snprintf(f[3], 24, HAS(s.present, 3) ? "%lld" : "-", (long long)s.default_max_period);
        snprintf(f[4], 24, "%s", HAS(s.present, 6) ? (s.notification_storing ? "yes" : "no") : "-");
        tprintf(t, "  %-4u %-6s %-10s %-8s %-8s %-8s %s\n", (unsigned)s.instance_id, f[0], f[1],
                HAS(s.present, 7) ? s.binding : "-", f[2], f[3], f[4]);
    }
    size_t no = scb_bootstrap_object_count(bs);
    for (size_t i = 0; i < no; i++) {
        scb_bs_object_t ob;
        if (scb_bootstrap_object(bs, i, &ob) != SCB_OK || ob.id <= 1)
            continue;
        const char *name = scb_lwm2m_object_name(ob.id);
        tprintf(t, "\nObject %u%s%s%s: %zu instance(s) (see --json)\n", (unsigned)ob.id,
                name != NULL ? " (" : "", name != NULL ? name : "", name != NULL ? ")" : "",
                ob.instance_count);
    }
}

/* JSON: the bootstrap JSON (core/json/FORMAT.md, the form `write` takes)
 * plus a "read" member describing the read, which `write` drops. */
static char *json_output(const scb_bootstrap_t *bs, const scb_access_info_t *info,
                         const char *card_name, bool secrets)
{
    json_object *root = NULL;
    if (scbj_bootstrap_to_object(bs, secrets ? SCBJ_SHOW_SECRETS : 0, &root) != SCB_OK)
        return NULL;
    char aid[40], path[40];
    hexstr(info->aid, info->aid_len, aid, sizeof(aid));
    hexstr(info->path, info->path_len, path, sizeof(path));
    json_object *r = json_object_new_object();
    json_object_object_add(r, "card", json_object_new_string(card_name));
    json_object_object_add(r, "aid", json_object_new_string(aid));
    json_object_object_add(r, "aid_from_efdir", json_object_new_boolean(info->used_efdir));
    /* a channel a transport opened without saying its number: null */
    json_object_object_add(r, "channel", info->channel < SCB_CHANNEL_UNNUMBERED
                                             ? json_object_new_int(info->channel)
                                             : NULL);
    /* the level as the README and --level write it, and what it means */
    char level[8];
    snprintf(level, sizeof(level), "0x%02X", (unsigned)(info->scp_level & 0xFF));
    json_object_object_add(r, "scp_level", info->scp_level >= 0 ? json_object_new_string(level)
                                                                : NULL);
    if (info->scp_level >= 0) {
        json_object *prot = json_object_new_array();
        static const struct {
            unsigned bit;
            const char *name;
        } bits[] = {{SCB_SL_CMAC, "C-MAC"}, {SCB_SL_CDEC, "C-DEC"}, {SCB_SL_RMAC, "R-MAC"},
                    {SCB_SL_RENC, "R-ENC"}};
        for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
            if ((unsigned)info->scp_level & bits[i].bit)
                json_object_array_add(prot, json_object_new_string(bits[i].name));
        json_object_object_add(r, "scp_protection", prot);
    }
    json_object_object_add(r, "scp_mode", info->scp_level >= 0
                                              ? json_object_new_string(info->s16 ? "S16" : "S8")
                                              : NULL);
    json_object_object_add(r, "path", json_object_new_string(path));
    json_object_object_add(r, "ef_size", json_object_new_int64((int64_t)info->ef_size));
    json_object_object_add(r, "oid_form", json_object_new_string(oid_form_name(info->oid_form)));
    json_object_object_add(r, "apdus", json_object_new_int64((int64_t)info->apdus));
    json_object_object_add(root, "read", r);
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
    char *out = text != NULL ? strdup(text) : NULL;
    /* json-c keeps the rendered text (secrets with --show-secrets) in the object */
    if (text != NULL)
        memset((char *)text, 0, strlen(text));
    json_object_put(root);
    return out;
}

/* The output, to -o FILE or stdout. A file that receives secrets (the raw
 * file, --show-secrets) is created 0600, and made 0600 if it existed. */
static int emit(const cli_opts_t *o, const void *data, size_t len, bool secret)
{
    FILE *f = stdout;
    if (o->output != NULL) {
        int fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, secret ? 0600 : 0666);
        if (fd >= 0 && secret && fchmod(fd, 0600) != 0) {
            close(fd);
            fd = -1;
        }
        f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (f == NULL) {
            fprintf(stderr, "scboot: cannot write %s: %s\n", o->output, strerror(errno));
            if (fd >= 0)
                close(fd);
            return EXIT_USAGE;
        }
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (f == stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
    if (!ok) {
        fprintf(stderr, "scboot: writing the output failed: %s\n", strerror(errno));
        return EXIT_FAILURE_;
    }
    return 0;
}

int cmd_read(cli_opts_t *o)
{
    if (o->nargs > 0) {
        fprintf(stderr, "scboot read: unexpected argument '%s'\n", o->args[0]);
        return EXIT_USAGE;
    }
    if (o->raw && o->json) {
        fprintf(stderr, "scboot read: choose --json or --raw\n");
        return EXIT_USAGE;
    }
    /* The raw file is binary and holds the secret keys: never on a screen. */
    if (o->raw && o->output == NULL && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "scboot read: --raw writes the file's bytes (binary, secret keys "
                        "included): give -o FILE or a pipe, not a terminal\n");
        return EXIT_USAGE;
    }
    scb_keys_t *keys = NULL;
    scb_card_t *card = NULL;
    int ret = cli_open_card(o, &card, &keys);
    if (ret != 0)
        return ret;
    char card_name[200];
    if (o->use_sim && o->sim_profile != NULL)
        snprintf(card_name, sizeof(card_name), "virtual card, profile %s (in process)",
                 o->sim_profile);
    else
        snprintf(card_name, sizeof(card_name), "%s",
                 o->use_sim ? "built-in virtual card (in process)"
                 : o->modem != NULL ? o->modem
                 : scb_card_reader_name(card) != NULL ? scb_card_reader_name(card) : "?");
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    int rc = scb_read_bootstrap(card, keys, o->lib, &bs, &info);
    if (rc != SCB_OK) {
        ret = cli_fail("reading the bootstrap data", rc, scb_card_errmsg(card));
    } else if (o->raw) {
        const uint8_t *raw = NULL;
        size_t len = 0;
        scb_bootstrap_raw(bs, &raw, &len);
        ret = emit(o, raw, len, true);
    } else if (o->json) {
        char *js = json_output(bs, &info, card_name, o->show_secrets);
        if (js == NULL) {
            ret = cli_fail("rendering JSON", SCB_E_NOMEM, NULL);
        } else {
            size_t n = strlen(js);
            js[n] = '\n';
            ret = emit(o, js, n + 1, o->show_secrets);
            js[n] = 0;
            scbj_free(js);
        }
    } else {
        text_t t = {0};
        table(&t, bs, &info, card_name, o->show_secrets);
        ret = t.s != NULL ? emit(o, t.s, t.len, o->show_secrets)
                          : cli_fail("rendering", SCB_E_NOMEM, NULL);
        if (t.s != NULL)
            memset(t.s, 0, t.cap);
        free(t.s);
    }
    scb_bootstrap_free(&bs);
    scb_card_free(&card);
    scb_keys_free(&keys);
    return ret;
}
