/*
 * Options of the operations: one table names every option once (name,
 * type, scope, range, default, help), so the setters, the text parser, the
 * scope check and every front end (CLI flags, Python keyword arguments,
 * Lua option tables) read the same facts.
 */
#include "crypto.h"
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct opt_def {
    int id;
    const char *name;
    int type;
    unsigned scope;
    long long min, max, dflt;
    bool secret;
    const char *arg;
    const char *help;
    const char *const *choices; /* enum: value i is choices[i] */
    bool (*valid)(long long v, const uint8_t *b, size_t len); /* extra rule, or NULL */
} opt_def_t;

/* EXTERNAL AUTHENTICATE P1 values Amendment D defines (Table 7-3). */
static bool valid_level(long long v, const uint8_t *b, size_t len)
{
    (void)b;
    (void)len;
    return v == 0x00 || v == 0x01 || v == 0x03 || v == 0x11 || v == 0x13 || v == 0x33;
}

/* A path is a list of 2-byte FIDs (ISO 7816-4 8.2.1.2). */
static bool valid_path(long long v, const uint8_t *b, size_t len)
{
    (void)v;
    (void)b;
    return len % 2 == 0;
}

/* A challenge is 8 bytes in S8 mode, 16 in S16 (Amd D 7.1.1). */
static bool valid_challenge(long long v, const uint8_t *b, size_t len)
{
    (void)v;
    (void)b;
    return len == 8 || len == 16;
}

static const char *const modem_channels[] = {"auto", "csim", "cgla", NULL};

#define S_SCP SCB_SCOPE_SCP
#define S_APP SCB_SCOPE_APP
#define S_EF SCB_SCOPE_EF

static const opt_def_t defs[] = {
    {SCB_OPT_LEVEL, "level", SCB_OPT_T_INT, S_SCP, 0, 0xFF, SCB_SL_DEFAULT, false, "L",
     "security level: 0x33 C-DEC R-ENC C-MAC R-MAC (default), 0x13, 0x11, 0x03, 0x01, 0x00",
     NULL, valid_level},
    {SCB_OPT_KVN, "kvn", SCB_OPT_T_INT, S_SCP, 0, 0xFF, 0, false, "N",
     "key version number for INITIALIZE UPDATE (0: the key set's own)", NULL, NULL},
    {SCB_OPT_S16, "s16", SCB_OPT_T_BOOL, S_SCP, 0, 1, 0, false, NULL,
     "S16 mode (16-byte challenges and MACs)", NULL, NULL},
    {SCB_OPT_KDF3, "kdf3", SCB_OPT_T_BOOL, S_SCP, 0, 1, 0, false, NULL,
     "the keys are master keys: diversify them with the card's data (KDF3)", NULL, NULL},
    {SCB_OPT_COUNT_DATA_ONLY, "count_data_only", SCB_OPT_T_BOOL, S_SCP, 0, 1, 0, false, NULL,
     "the card counts only commands with data in the encryption counter", NULL, NULL},
    {SCB_OPT_MAC_CLA_AS_SENT, "mac_cla_as_sent", SCB_OPT_T_BOOL, S_SCP, 0, 1, 0, false, NULL,
     "MAC the CLA with its logical channel bits (default: cleared, as Amendment D says)", NULL,
     NULL},
    {SCB_OPT_HOST_CHALLENGE, "host_challenge", SCB_OPT_T_BYTES, S_SCP, 8, 16, 0, false, "HEX",
     "fixed host challenge, 8 or 16 bytes (tests and trace replays only)", NULL,
     valid_challenge},
    {SCB_OPT_SD_AID, "sd_aid", SCB_OPT_T_BYTES, S_SCP, 5, 16, 0, false, "HEX",
     "Security Domain AID: verify a pseudo-random card challenge", NULL, NULL},
    {SCB_OPT_NO_SECURE_CHANNEL, "no_secure_channel", SCB_OPT_T_BOOL, S_APP, 0, 1, 0, false, NULL,
     "run without SCP03 (an explicit choice: real cards then refuse the bootstrap EF)", NULL,
     NULL},
    {SCB_OPT_SKIP_EFDIR, "skip_efdir", SCB_OPT_T_BOOL, S_APP, 0, 1, 0, false, NULL,
     "do not read EF.DIR: select the default PKCS#15 AID", NULL, NULL},
    {SCB_OPT_NO_LOGICAL_CHANNEL, "no_logical_channel", SCB_OPT_T_BOOL, S_APP, 0, 1, 0, false,
     NULL, "stay on the basic channel instead of opening a logical channel", NULL, NULL},
    {SCB_OPT_AID, "aid", SCB_OPT_T_BYTES, S_APP, 5, 16, 0, false, "HEX",
     "PKCS#15 application AID (skips EF.DIR)", NULL, NULL},
    {SCB_OPT_PATH, "path", SCB_OPT_T_BYTES, S_EF, 2, 16, 0, false, "HEX",
     "bootstrap EF path an earlier read reported (skips ODF and DODF)", NULL, valid_path},
    {SCB_OPT_PIN, "pin", SCB_OPT_T_BYTES, S_EF, 1, SCB__PIN_BLOCK_MAX, 0, true, "PIN",
     "PIN to VERIFY before the bootstrap EF (a private DODF entry needs it)", NULL, NULL},
    {SCB_OPT_PIN_REF, "pin_ref", SCB_OPT_T_INT, S_EF, 1, 0xFF, 0x01, false, "N",
     "PIN reference for VERIFY (default: the card's PIN object in EF.AODF, else 0x01, PIN1)",
     NULL, NULL},
    {SCB_OPT_PAD, "pad", SCB_OPT_T_BOOL, SCB_SCOPE_WRITE, 0, 1, 0, false, NULL,
     "fill the rest of the EF with FF", NULL, NULL},
    {SCB_OPT_NO_VERIFY, "no_verify", SCB_OPT_T_BOOL, SCB_SCOPE_WRITE, 0, 1, 0, false, NULL,
     "skip the read-back check after writing", NULL, NULL},
    {SCB_OPT_REPLACE_KVN, "replace_kvn", SCB_OPT_T_INT, SCB_SCOPE_ROTATE, 0, 0xFF, 0, false, "N",
     "replace the key set with this version (default: add a new one)", NULL, NULL},
    {SCB_OPT_BAUD, "baud", SCB_OPT_T_INT, SCB_SCOPE_MODEM, 9600, 4000000, SCB_MODEM_DEFAULT_BAUD,
     false, "N", "modem line speed (default 115200; USB modems ignore it)", NULL, NULL},
    {SCB_OPT_RTSCTS, "rtscts", SCB_OPT_T_BOOL, SCB_SCOPE_MODEM, 0, 1, 0, false, NULL,
     "modem line: RTS/CTS flow control", NULL, NULL},
    {SCB_OPT_MODEM_CHANNELS, "modem_channels", SCB_OPT_T_ENUM, SCB_SCOPE_MODEM, 0, 2, 0, false,
     "auto|csim|cgla",
     "logical channels through MANAGE CHANNEL in AT+CSIM (csim), AT+CCHO/+CGLA (cgla), or "
     "whichever the modem takes (auto)",
     modem_channels, NULL},
    {SCB_OPT_MODEM_TIMEOUT_MS, "modem_timeout_ms", SCB_OPT_T_INT, SCB_SCOPE_MODEM, 1, 600000,
     SCB_MODEM_DEFAULT_TIMEOUT_MS, false, "MS", "time a modem may take per AT command", NULL,
     NULL},
    {SCB_OPT_MODEM_NO_INIT, "modem_no_init", SCB_OPT_T_BOOL, SCB_SCOPE_MODEM, 0, 1, 0, false,
     NULL, "leave the modem's echo and error settings alone (only AT is sent)", NULL, NULL},
    {SCB_OPT_EXTENDED_LENGTH, "extended_length", SCB_OPT_T_BOOL, SCB_SCOPE_MODEM, 0, 1, 0, false,
     NULL, "the modem carries extended-length APDUs", NULL, NULL},
};

_Static_assert(sizeof(defs) / sizeof(defs[0]) == SCB_OPT_COUNT_ - 1,
               "every enum scb_opt has its row, in order");

struct scb_opts {
    uint64_t set;                    /* bit id: set by the caller */
    long long ival[SCB_OPT_COUNT_];
    struct {
        uint8_t v[16];
        size_t len;
    } bval[SCB_OPT_COUNT_];
    char errmsg[160];
};

static const opt_def_t *def_of(int id)
{
    if (id < 1 || id >= SCB_OPT_COUNT_)
        return NULL;
    return &defs[id - 1];
}

static int opts_fail(scb_opts_t *o, int rc, const char *fmt, ...) SCB_PRINTF(3, 4);
static int opts_fail(scb_opts_t *o, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->errmsg, sizeof(o->errmsg), fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- the table ---- */
int scb_opt_find(const char *name)
{
    if (name == NULL)
        return SCB_E_NOT_FOUND;
    for (size_t i = 0; i < SCB_ARRAY_LEN(defs); i++) {
        const char *a = defs[i].name, *b = name;
        while (*a != 0 && (*a == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (*a == 0 && *b == 0)
            return defs[i].id;
    }
    return SCB_E_NOT_FOUND;
}

int scb_opt_info(int id, scb_opt_info_t *out)
{
    const opt_def_t *d = def_of(id);
    if (d == NULL || out == NULL)
        return d == NULL ? SCB_E_NOT_FOUND : SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    out->id = d->id;
    out->name = d->name;
    out->type = d->type;
    out->scope = d->scope;
    out->min = d->min;
    out->max = d->max;
    out->dflt = d->dflt;
    out->secret = d->secret;
    out->arg = d->arg;
    out->help = d->help;
    return SCB_OK;
}

const char *scb_opt_choice(int id, long long value)
{
    const opt_def_t *d = def_of(id);
    if (d == NULL || d->choices == NULL || value < d->min || value > d->max)
        return NULL;
    return d->choices[value];
}

/* ---- the object ---- */
int scb_opts_new(scb_opts_t **out)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? SCB_OK : SCB_E_NOMEM;
}

void scb_opts_free(scb_opts_t **opts)
{
    if (opts == NULL || *opts == NULL)
        return;
    scb__cleanse(*opts, sizeof(**opts)); /* the PIN */
    free(*opts);
    *opts = NULL;
}

const char *scb_opts_errmsg(const scb_opts_t *opts)
{
    return opts != NULL ? opts->errmsg : "";
}

static const opt_def_t *setter_def(scb_opts_t *o, int id, int *rc)
{
    const opt_def_t *d = def_of(id);
    *rc = SCB_OK;
    if (o == NULL) {
        *rc = SCB_E_INVALID_ARG;
        return NULL;
    }
    o->errmsg[0] = 0;
    if (d == NULL)
        *rc = opts_fail(o, SCB_E_INVALID_ARG, "no option with id %d", id);
    return d;
}

static const char *type_name(int type)
{
    switch (type) {
    case SCB_OPT_T_INT: return "a number";
    case SCB_OPT_T_BOOL: return "a boolean";
    case SCB_OPT_T_ENUM: return "one of its names";
    default: return "bytes";
    }
}

int scb_opts_set_int(scb_opts_t *o, int id, long long value)
{
    int rc;
    const opt_def_t *d = setter_def(o, id, &rc);
    if (d == NULL)
        return rc;
    if (d->type == SCB_OPT_T_BYTES)
        return opts_fail(o, SCB_E_INVALID_ARG, "option '%s' takes bytes, not a number", d->name);
    if (value < d->min || value > d->max || (d->valid != NULL && !d->valid(value, NULL, 0))) {
        if (d->id == SCB_OPT_LEVEL)
            return opts_fail(o, SCB_E_INVALID_ARG,
                             "option 'level': %lld (0x%02llX) is not one of 0x00 0x01 0x03 0x11 "
                             "0x13 0x33", value, value & 0xFF);
        if (d->type == SCB_OPT_T_BOOL)
            return opts_fail(o, SCB_E_INVALID_ARG, "option '%s' is a boolean (0 or 1)", d->name);
        return opts_fail(o, SCB_E_INVALID_ARG, "option '%s': %lld is outside %lld..%lld", d->name,
                         value, d->min, d->max);
    }
    o->ival[id] = value;
    o->set |= 1ull << id;
    return SCB_OK;
}

int scb_opts_set_bytes(scb_opts_t *o, int id, const uint8_t *value, size_t len)
{
    int rc;
    const opt_def_t *d = setter_def(o, id, &rc);
    if (d == NULL)
        return rc;
    if (d->type != SCB_OPT_T_BYTES)
        return opts_fail(o, SCB_E_INVALID_ARG, "option '%s' takes %s, not bytes", d->name,
                         type_name(d->type));
    if (value == NULL)
        return scb_opts_unset(o, id);
    if ((long long)len < d->min || (long long)len > d->max ||
        (d->valid != NULL && !d->valid(0, value, len)))
        return opts_fail(o, SCB_E_INVALID_ARG, "option '%s': %zu bytes, expected %s%lld..%lld",
                         d->name, len, d->id == SCB_OPT_PATH ? "an even number " : "", d->min,
                         d->max);
    scb__cleanse(o->bval[id].v, sizeof(o->bval[id].v));
    memcpy(o->bval[id].v, value, len);
    o->bval[id].len = len;
    o->set |= 1ull << id;
    return SCB_OK;
}

int scb_opts_unset(scb_opts_t *o, int id)
{
    int rc;
    const opt_def_t *d = setter_def(o, id, &rc);
    if (d == NULL)
        return rc;
    o->ival[id] = 0;
    scb__cleanse(o->bval[id].v, sizeof(o->bval[id].v));
    o->bval[id].len = 0;
    o->set &= ~(1ull << id);
    return SCB_OK;
}

int scb_opts_is_set(const scb_opts_t *o, int id)
{
    return o != NULL && def_of(id) != NULL && (o->set & (1ull << id)) != 0;
}

int scb_opts_get_int(const scb_opts_t *o, int id, long long *out)
{
    const opt_def_t *d = def_of(id);
    if (d == NULL || out == NULL || d->type == SCB_OPT_T_BYTES)
        return SCB_E_INVALID_ARG;
    *out = scb__opt_int(o, id);
    return SCB_OK;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int scb_opts_set_text(scb_opts_t *o, int id, const char *text)
{
    int rc;
    const opt_def_t *d = setter_def(o, id, &rc);
    if (d == NULL)
        return rc;
    if (text == NULL)
        return opts_fail(o, SCB_E_INVALID_ARG, "option '%s': no value", d->name);
    switch (d->type) {
    case SCB_OPT_T_BOOL: {
        static const char *const yes[] = {"1", "yes", "true", "on"};
        static const char *const no[] = {"0", "no", "false", "off"};
        for (size_t i = 0; i < SCB_ARRAY_LEN(yes); i++) {
            if (strcmp(text, yes[i]) == 0)
                return scb_opts_set_int(o, id, 1);
            if (strcmp(text, no[i]) == 0)
                return scb_opts_set_int(o, id, 0);
        }
        return opts_fail(o, SCB_E_INVALID_ARG, "option '%s' is a boolean (yes/no, 1/0), got '%.20s'",
                         d->name, text);
    }
    case SCB_OPT_T_ENUM:
        for (long long v = d->min; v <= d->max; v++)
            if (strcmp(text, d->choices[v]) == 0)
                return scb_opts_set_int(o, id, v);
        return opts_fail(o, SCB_E_INVALID_ARG, "option '%s': '%.20s' is not one of %s", d->name,
                         text, d->arg);
    case SCB_OPT_T_INT: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(text, &end, 0); /* 0x33 or 51 */
        if (errno != 0 || end == text || *end != 0)
            return opts_fail(o, SCB_E_INVALID_ARG, "option '%s': expected a number, got '%.20s'",
                             d->name, text);
        return scb_opts_set_int(o, id, v);
    }
    default: {
        uint8_t buf[16];
        size_t n = 0;
        int hi = -1;
        for (const char *p = text; *p != 0; p++) {
            if (isspace((unsigned char)*p) || *p == ':')
                continue;
            int v = hexval((unsigned char)*p);
            if (v < 0 || (hi < 0 && n == sizeof(buf))) {
                scb__cleanse(buf, sizeof(buf));
                /* never echo the text: it may be a PIN */
                return opts_fail(o, SCB_E_INVALID_ARG,
                                 v < 0 ? "option '%s': expected hex digits" :
                                         "option '%s': more than 16 bytes", d->name);
            }
            if (hi < 0) {
                hi = v;
            } else {
                buf[n++] = (uint8_t)(hi << 4 | v);
                hi = -1;
            }
        }
        if (hi >= 0) {
            scb__cleanse(buf, sizeof(buf));
            return opts_fail(o, SCB_E_INVALID_ARG, "option '%s': odd number of hex digits",
                             d->name);
        }
        rc = n == 0 ? opts_fail(o, SCB_E_INVALID_ARG, "option '%s': no bytes", d->name)
                    : scb_opts_set_bytes(o, id, buf, n);
        scb__cleanse(buf, sizeof(buf));
        return rc;
    }
    }
}

/* ---- what the library reads ---- */
long long scb__opt_int(const scb_opts_t *o, int id)
{
    const opt_def_t *d = def_of(id);
    if (d == NULL)
        return 0;
    if (o != NULL && (o->set & (1ull << id)) != 0)
        return o->ival[id];
    return d->dflt;
}

bool scb__opt_bool(const scb_opts_t *o, int id)
{
    return scb__opt_int(o, id) != 0;
}

const uint8_t *scb__opt_bytes(const scb_opts_t *o, int id, size_t *len)
{
    *len = 0;
    if (o == NULL || def_of(id) == NULL || (o->set & (1ull << id)) == 0)
        return NULL;
    *len = o->bval[id].len;
    return o->bval[id].v;
}

int scb__opts_scope(const scb_opts_t *o, unsigned scope, const char *call, char *detail,
                    size_t detail_len)
{
    if (o == NULL)
        return SCB_OK;
    for (size_t i = 0; i < SCB_ARRAY_LEN(defs); i++)
        if ((o->set & (1ull << defs[i].id)) != 0 && (defs[i].scope & scope) == 0)
            return scb__detail(detail, detail_len, SCB_E_INVALID_ARG,
                               "option '%s' does not apply to %s", defs[i].name, call);
    return SCB_OK;
}

int scb__opts_for_new_keys(const scb_opts_t *o, uint8_t kvn, scb_opts_t **out)
{
    int rc = scb_opts_new(out);
    if (rc != SCB_OK)
        return rc;
    if (o != NULL)
        **out = *o;
    (*out)->errmsg[0] = 0;
    scb_opts_unset(*out, SCB_OPT_KDF3);
    return scb_opts_set_int(*out, SCB_OPT_KVN, kvn);
}
