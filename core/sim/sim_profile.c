/*
 * Profile loading: JSON (json-c) -> the card's files, Security Domain,
 * PIN, options and faults. Every field is optional; "{}" is the built-in
 * default card. Unknown keys are rejected so that a typo cannot silently
 * give the default. The format is documented in PROFILE.md.
 */
#include "sim_internal.h"
#include "scboot_json.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PKCS15_AID "A000000063504B43532D3135"
#define DEFAULT_ICCID "8988300000000000013"
#define DEFAULT_KEY "404142434445464748494A4B4C4D4E4F" /* GlobalPlatform test key */

/* Bootstrap OID 2.23.43.9.1 (DER 06 04 67 2B 09 01). */
static const uint8_t BOOTSTRAP_OID[] = {0x06, 0x04, 0x67, 0x2B, 0x09, 0x01};

typedef struct loader {
    scb_sim_t *sim;
    char *detail;
    size_t dl;
    int rc;
} loader_t;

/* What EF.AODF says of the PIN (PKCS#15 PinAttributes). */
typedef struct aodf_pin {
    bool present;
    uint16_t fid;
    uint8_t auth_id[8];
    size_t auth_id_len;
    unsigned long min_len, max_len, stored_len; /* max_len 0: maxLength left out */
    bool has_max;
    unsigned long ref;
    bool has_pad;
    uint8_t pad;
} aodf_pin_t;

#if defined(__GNUC__)
static int fail(loader_t *L, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
static int fail(loader_t *L, int rc, const char *fmt, ...)
{
    if (L->rc == 0 && L->detail != NULL && L->dl > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(L->detail, L->dl, fmt, ap);
        va_end(ap);
    }
    if (L->rc == 0)
        L->rc = rc;
    return L->rc;
}

/* ---- small JSON accessors ---- */

/* Reject keys outside `allowed` (NULL-terminated). */
static int only_keys(loader_t *L, json_object *o, const char *where, const char *const *allowed)
{
    json_object_object_foreach(o, key, val) {
        (void)val;
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok)
            return fail(L, SCB_E_VALIDATION, "profile: unknown key \"%s\" in %s", key, where);
    }
    return 0;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o == NULL || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

static bool is_null(json_object *v)
{
    return v == NULL || json_object_get_type(v) == json_type_null;
}

/* Integer: JSON number, or a string "0x70" / "112". */
static int get_uint(loader_t *L, json_object *o, const char *key, const char *where,
                    unsigned long min, unsigned long max, unsigned long dflt, unsigned long *out)
{
    json_object *v = get(o, key);
    *out = dflt;
    if (is_null(v))
        return 0;
    if (json_object_get_type(v) == json_type_int) {
        int64_t x = json_object_get_int64(v);
        if (x < 0 || (unsigned long)x < min || (unsigned long)x > max)
            return fail(L, SCB_E_VALIDATION, "profile: %s.%s = %lld out of range %lu..%lu", where,
                        key, (long long)x, min, max);
        *out = (unsigned long)x;
        return 0;
    }
    if (json_object_get_type(v) == json_type_string) {
        const char *s = json_object_get_string(v);
        char *end = NULL;
        unsigned long x = strtoul(s, &end, 0);
        if (*s == '\0' || *s == '-' || end == NULL || *end != '\0' || x < min || x > max)
            return fail(L, SCB_E_VALIDATION, "profile: %s.%s = \"%s\" is no integer in %lu..%lu",
                        where, key, s, min, max);
        *out = x;
        return 0;
    }
    return fail(L, SCB_E_VALIDATION, "profile: %s.%s must be an integer", where, key);
}

/* A status word: a JSON number is the number (27009 is 6981), a string is
 * hex as status words are written (ISO 7816-4 5.6): "6581" or "0x6581". */
static int get_sw(loader_t *L, json_object *o, const char *key, const char *where,
                  unsigned long dflt, unsigned long *out)
{
    json_object *v = get(o, key);
    if (is_null(v) || json_object_get_type(v) != json_type_string)
        return get_uint(L, o, key, where, 0, 0xFFFF, dflt, out);
    const char *s = json_object_get_string(v);
    const char *h = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? s + 2 : s;
    unsigned long x = 0;
    size_t n = 0;
    for (; h[n] != '\0' && n < 5; n++) {
        int d = h[n] >= '0' && h[n] <= '9'   ? h[n] - '0'
                : h[n] >= 'a' && h[n] <= 'f' ? h[n] - 'a' + 10
                : h[n] >= 'A' && h[n] <= 'F' ? h[n] - 'A' + 10
                                             : -1;
        if (d < 0)
            break;
        x = x << 4 | (unsigned long)d;
    }
    if (n != 4 || h[n] != '\0')
        return fail(L, SCB_E_VALIDATION, "profile: %s.%s = \"%s\" is no status word (4 hex "
                    "digits, e.g. \"6581\" or \"0x6581\")", where, key, s);
    *out = x;
    return 0;
}

static int get_bool(loader_t *L, json_object *o, const char *key, const char *where, bool dflt,
                    bool *out)
{
    json_object *v = get(o, key);
    *out = dflt;
    if (is_null(v))
        return 0;
    if (json_object_get_type(v) != json_type_boolean)
        return fail(L, SCB_E_VALIDATION, "profile: %s.%s must be true or false", where, key);
    *out = json_object_get_boolean(v);
    return 0;
}

static const char *get_str(loader_t *L, json_object *o, const char *key, const char *where,
                           const char *dflt)
{
    json_object *v = get(o, key);
    if (is_null(v))
        return dflt;
    if (json_object_get_type(v) != json_type_string) {
        fail(L, SCB_E_VALIDATION, "profile: %s.%s must be a string", where, key);
        return NULL;
    }
    return json_object_get_string(v);
}

/* Hex text (spaces and colons allowed) into buf. */
static int parse_hex(loader_t *L, const char *hex, const char *where, const char *key,
                     uint8_t *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p != '\0'; p++) {
        int v;
        if (*p == ' ' || *p == ':' || *p == '\n' || *p == '\t')
            continue;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else
            return fail(L, SCB_E_VALIDATION, "profile: %s.%s: '%c' at offset %zu is not hex",
                        where, key, *p, (size_t)(p - hex));
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n >= cap)
            return fail(L, SCB_E_VALIDATION, "profile: %s.%s: longer than %zu bytes", where, key,
                        cap);
        buf[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0)
        return fail(L, SCB_E_VALIDATION, "profile: %s.%s: odd number of hex digits", where, key);
    *len = n;
    return 0;
}

static int get_hex(loader_t *L, json_object *o, const char *key, const char *where,
                   const char *dflt, uint8_t *buf, size_t cap, size_t *len)
{
    const char *s = get_str(L, o, key, where, dflt);
    *len = 0;
    if (L->rc != 0)
        return L->rc;
    if (s == NULL)
        return 0;
    return parse_hex(L, s, where, key, buf, cap, len);
}

static int get_fid(loader_t *L, json_object *o, const char *where, uint16_t dflt, uint16_t *fid)
{
    uint8_t b[2];
    size_t n = 0;
    *fid = dflt;
    if (is_null(get(o, "fid")))
        return 0;
    if (get_hex(L, o, "fid", where, NULL, b, sizeof(b), &n) != 0)
        return L->rc;
    if (n != 2)
        return fail(L, SCB_E_VALIDATION, "profile: %s.fid must be 2 bytes of hex", where);
    *fid = (uint16_t)(b[0] << 8 | b[1]);
    return 0;
}

static int get_access(loader_t *L, json_object *o, const char *key, const char *where, int dflt,
                      int *out)
{
    const char *s = get_str(L, o, key, where, NULL);
    *out = dflt;
    if (L->rc != 0 || s == NULL)
        return L->rc;
    if (strcmp(s, "always") == 0)
        *out = SIM_AC_ALWAYS;
    else if (strcmp(s, "never") == 0)
        *out = SIM_AC_NEVER;
    else if (strcmp(s, "sm") == 0)
        *out = SIM_AC_SM;
    else if (strcmp(s, "pin") == 0)
        *out = SIM_AC_PIN;
    else
        return fail(L, SCB_E_VALIDATION,
                    "profile: %s.%s = \"%s\": use always, never, sm or pin", where, key, s);
    return 0;
}

/* An object, or absent; `false` disables (returns *enabled = false). */
static json_object *get_section(loader_t *L, json_object *root, const char *key, bool *enabled)
{
    json_object *v = get(root, key);
    *enabled = true;
    if (is_null(v))
        return NULL;
    if (json_object_get_type(v) == json_type_boolean) {
        *enabled = json_object_get_boolean(v);
        return NULL;
    }
    if (json_object_get_type(v) != json_type_object) {
        fail(L, SCB_E_VALIDATION, "profile: \"%s\" must be an object or a boolean", key);
        return NULL;
    }
    return v;
}

/* ---- DER building (lengths up to 65535) ---- */

typedef struct dbuf {
    uint8_t b[1024];
    size_t n;
    bool overflow;
} dbuf_t;

static void dput(dbuf_t *d, const void *p, size_t n)
{
    if (d->overflow || sizeof(d->b) - d->n < n) {
        d->overflow = true;
        return;
    }
    memcpy(d->b + d->n, p, n);
    d->n += n;
}

static void dtlv(dbuf_t *d, uint8_t tag, const uint8_t *v, size_t n)
{
    uint8_t h[4];
    size_t hl = 0;
    h[hl++] = tag;
    if (n < 0x80) {
        h[hl++] = (uint8_t)n;
    } else if (n < 0x100) {
        h[hl++] = 0x81;
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x82;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    }
    dput(d, h, hl);
    dput(d, v, n);
}

/* ---- EF creation ---- */

/* Transparent EF with content padded to size with `pad`. */
static int add_transparent(loader_t *L, int parent, uint16_t fid, const uint8_t *content,
                           size_t clen, size_t size, uint8_t pad, const char *what)
{
    scb_sim_t *sim = L->sim;
    char d[128];
    if (size == 0)
        size = clen;
    if (size == 0 || size > SIM_MAX_EF_SIZE)
        return fail(L, SCB_E_VALIDATION, "profile: %s: size %zu not in 1..%u", what, size,
                    SIM_MAX_EF_SIZE);
    if (clen > size)
        return fail(L, SCB_E_VALIDATION, "profile: %s: content of %zu bytes exceeds size %zu",
                    what, clen, size);
    int idx = sim_fs_add(sim, parent, SIM_TRANSPARENT, fid, d, sizeof(d));
    if (idx < 0)
        return fail(L, SCB_E_VALIDATION, "profile: %s: %s", what, d);
    sim_file_t *f = &sim->files[idx];
    f->data = malloc(size);
    if (f->data == NULL)
        return fail(L, SCB_E_NOMEM, "profile: %s: out of memory", what);
    f->size = size;
    memcpy(f->data, content, clen);
    memset(f->data + clen, pad, size - clen);
    return idx;
}

static int add_linear(loader_t *L, int parent, uint16_t fid, const uint8_t *const *records,
                      const size_t *lens, size_t count, size_t rec_len, size_t rec_count,
                      const char *what)
{
    scb_sim_t *sim = L->sim;
    char d[128];
    if (rec_count < count)
        rec_count = count;
    if (rec_len == 0 || rec_len > SIM_MAX_RECORD_LEN || rec_count == 0 ||
        rec_count > SIM_MAX_RECORDS)
        return fail(L, SCB_E_VALIDATION,
                    "profile: %s: %zu records of %zu bytes (need 1..%u records of 1..%u bytes)",
                    what, rec_count, rec_len, SIM_MAX_RECORDS, SIM_MAX_RECORD_LEN);
    int idx = sim_fs_add(sim, parent, SIM_LINEAR_FIXED, fid, d, sizeof(d));
    if (idx < 0)
        return fail(L, SCB_E_VALIDATION, "profile: %s: %s", what, d);
    sim_file_t *f = &sim->files[idx];
    f->size = rec_len * rec_count;
    f->rec_len = rec_len;
    f->rec_count = rec_count;
    f->data = malloc(f->size);
    if (f->data == NULL)
        return fail(L, SCB_E_NOMEM, "profile: %s: out of memory", what);
    memset(f->data, 0xFF, f->size); /* unused record bytes are FF (TS 102 221) */
    for (size_t i = 0; i < count; i++) {
        if (lens[i] > rec_len)
            return fail(L, SCB_E_VALIDATION, "profile: %s: record %zu has %zu bytes, more than %zu",
                        what, i + 1, lens[i], rec_len);
        memcpy(f->data + i * rec_len, records[i], lens[i]);
    }
    return idx;
}

/* ---- sections ---- */

static int load_card_options(loader_t *L, json_object *root)
{
    scb_sim_t *sim = L->sim;
    unsigned long ch;
    bool nodelay = true, quickack = true;
    static const char *const vpcd_keys[] = {"tcp_nodelay", "tcp_quickack", NULL};
    if (get_bool(L, root, "t0", "profile", false, &sim->t0) != 0 ||
        get_bool(L, root, "extended_length", "profile", false, &sim->extended) != 0 ||
        get_uint(L, root, "channels", "profile", 0, SIM_MAX_CHANNELS - 1, SIM_MAX_CHANNELS - 1,
                 &ch) != 0)
        return L->rc;
    sim->max_channel = (unsigned)ch;
    json_object *vpcd = get(root, "vpcd");
    if (!is_null(vpcd)) {
        if (json_object_get_type(vpcd) != json_type_object ||
            only_keys(L, vpcd, "vpcd", vpcd_keys) != 0 ||
            get_bool(L, vpcd, "tcp_nodelay", "vpcd", true, &nodelay) != 0 ||
            get_bool(L, vpcd, "tcp_quickack", "vpcd", true, &quickack) != 0)
            return fail(L, SCB_E_VALIDATION, "profile: \"vpcd\" must be an object");
    }
    sim->tcp_nodelay = nodelay;
    sim->tcp_quickack = quickack;

    size_t atr_len = 0;
    if (get_hex(L, root, "atr", "profile", NULL, sim->atr, sizeof(sim->atr), &atr_len) != 0)
        return L->rc;
    if (atr_len > 0 && (atr_len < 2 || (sim->atr[0] != 0x3B && sim->atr[0] != 0x3F)))
        return fail(L, SCB_E_VALIDATION, "profile: atr must start with 3B or 3F");
    sim->atr_len = atr_len;
    if (atr_len == 0) {
        /* Historical bytes (ISO 7816-4 8.1.1): category 80, card service
         * data 31 E0 (selection by full/partial DF name, EF.DIR), card
         * capabilities 73 FE 21 xx (selection methods; data coding 21;
         * third byte: extended Lc/Le b7, channel assignment by card and by
         * interface b5-b4, number of channels - 1 in b3-b1). */
        uint8_t caps = (uint8_t)(0x18 | (sim->max_channel > 7 ? 7 : sim->max_channel));
        if (sim->extended)
            caps |= 0x40;
        const uint8_t hist[7] = {0x80, 0x31, 0xE0, 0x73, 0xFE, 0x21, caps};
        size_t n = 0;
        uint8_t *a = sim->atr;
        a[n++] = 0x3B;
        if (sim->t0) {
            a[n++] = 0x07; /* no interface bytes: T=0 only, no TCK */
            memcpy(a + n, hist, sizeof(hist));
            n += sizeof(hist);
        } else {
            a[n++] = 0x87; /* TD1, 7 historical bytes */
            a[n++] = 0x81; /* TD1: TD2 follows, T=1 */
            a[n++] = 0x31; /* TD2: TA3 TB3 follow, T=1 */
            a[n++] = 0xFE; /* TA3: IFSC 254 */
            a[n++] = 0x45; /* TB3: BWI 4, CWI 5 */
            memcpy(a + n, hist, sizeof(hist));
            n += sizeof(hist);
            uint8_t tck = 0;
            for (size_t i = 1; i < n; i++)
                tck ^= a[i];
            a[n++] = tck; /* required when a protocol other than T=0 is offered */
        }
        sim->atr_len = n;
    }
    return 0;
}

static int load_faults(loader_t *L, json_object *root)
{
    scb_sim_faults_t *f = &L->sim->faults;
    static const char *const keys[] = {"delay_ms", "disconnect_after", "corrupt_rmac_at",
                                       "bad_padding_at", "sw_at", "sw", "bad_card_cryptogram",
                                       "bad_challenge", "kvn_mismatch", "rmac_on_error",
                                       "renc_overpad", NULL};
    unsigned long v;
    bool b;
    memset(f, 0, sizeof(*f));
    f->version = SCB_SIM_FAULTS_VERSION;
    if (get_uint(L, root, "delay_ms", "profile", 0, 60000, 0, &v) != 0)
        return L->rc;
    f->delay_ms = (unsigned)v;
    json_object *o = get(root, "faults");
    if (is_null(o))
        return 0;
    if (json_object_get_type(o) != json_type_object)
        return fail(L, SCB_E_VALIDATION, "profile: \"faults\" must be an object");
    if (only_keys(L, o, "faults", keys) != 0)
        return L->rc;
    if (get_uint(L, o, "delay_ms", "faults", 0, 60000, f->delay_ms, &v) != 0)
        return L->rc;
    f->delay_ms = (unsigned)v;
    if (get_uint(L, o, "disconnect_after", "faults", 0, ~0UL, 0, &f->disconnect_after) != 0 ||
        get_uint(L, o, "corrupt_rmac_at", "faults", 0, ~0UL, 0, &f->corrupt_rmac_at) != 0 ||
        get_uint(L, o, "bad_padding_at", "faults", 0, ~0UL, 0, &f->bad_padding_at) != 0 ||
        get_uint(L, o, "sw_at", "faults", 0, ~0UL, 0, &f->sw_at) != 0 ||
        get_sw(L, o, "sw", "faults", 0x6F00, &v) != 0)
        return L->rc;
    f->sw_at_value = (uint16_t)v;
    if (get_bool(L, o, "bad_card_cryptogram", "faults", false, &b) != 0)
        return L->rc;
    f->bad_card_cryptogram = b;
    if (get_bool(L, o, "bad_challenge", "faults", false, &b) != 0)
        return L->rc;
    f->bad_challenge = b;
    if (get_bool(L, o, "kvn_mismatch", "faults", false, &b) != 0)
        return L->rc;
    f->kvn_mismatch = b;
    if (get_bool(L, o, "rmac_on_error", "faults", false, &b) != 0)
        return L->rc;
    f->rmac_on_error = b;
    if (get_bool(L, o, "renc_overpad", "faults", false, &b) != 0)
        return L->rc;
    f->renc_overpad = b;
    return 0;
}

/* EF.ICCID 2FE2 (TS 102 221 13.2): 10 bytes BCD, nibbles swapped, F padded. */
static int load_iccid(loader_t *L, json_object *root, uint8_t iccid[10])
{
    const char *s = get_str(L, root, "iccid", "profile", DEFAULT_ICCID);
    if (s == NULL)
        return L->rc;
    size_t n = strlen(s);
    if (n == 0 || n > 20)
        return fail(L, SCB_E_VALIDATION, "profile: iccid must have 1..20 digits");
    memset(iccid, 0xFF, 10);
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return fail(L, SCB_E_VALIDATION, "profile: iccid: '%c' at %zu is not a digit", s[i], i);
        uint8_t d = (uint8_t)(s[i] - '0');
        uint8_t *b = &iccid[i / 2];
        *b = (i % 2 == 0) ? (uint8_t)((*b & 0xF0) | d) : (uint8_t)((*b & 0x0F) | d << 4);
    }
    int idx = add_transparent(L, 0, 0x2FE2, iccid, 10, 10, 0xFF, "EF.ICCID");
    if (idx < 0)
        return L->rc;
    L->sim->files[idx].sfi = 0x02;
    return 0;
}

static int load_application(loader_t *L, json_object *root, int *adf_out)
{
    static const char *const keys[] = {"aid", "fid", "label", NULL};
    json_object *o = get(root, "application");
    scb_sim_t *sim = L->sim;
    uint8_t aid[SIM_MAX_AID];
    size_t aid_len = 0;
    uint16_t fid = 0x5015; /* ISO/IEC 7816-15: the usual PKCS#15 application DF */
    char d[128];

    if (!is_null(o) && (json_object_get_type(o) != json_type_object ||
                        only_keys(L, o, "application", keys) != 0))
        return fail(L, SCB_E_VALIDATION, "profile: \"application\" must be an object");
    if (get_hex(L, o, "aid", "application", PKCS15_AID, aid, sizeof(aid), &aid_len) != 0)
        return L->rc;
    if (aid_len < 5)
        return fail(L, SCB_E_VALIDATION, "profile: application.aid must have 5..16 bytes");
    json_object *jf = get(o, "fid");
    if (jf != NULL && json_object_get_type(jf) == json_type_null)
        fid = 0; /* reachable by AID only */
    else if (get_fid(L, o, "application", fid, &fid) != 0)
        return L->rc;
    const char *label = get_str(L, o, "label", "application", "LwM2M PKCS#15");
    if (label == NULL)
        return L->rc;
    if (strlen(label) >= sizeof(sim->files[0].label))
        return fail(L, SCB_E_VALIDATION, "profile: application.label longer than %zu",
                    sizeof(sim->files[0].label) - 1);
    int idx = sim_fs_add(sim, 0, SIM_DF, fid, d, sizeof(d));
    if (idx < 0)
        return fail(L, SCB_E_VALIDATION, "profile: application: %s", d);
    memcpy(sim->files[idx].aid, aid, aid_len);
    sim->files[idx].aid_len = aid_len;
    snprintf(sim->files[idx].label, sizeof(sim->files[idx].label), "%s", label);
    sim->files[idx].in_efdir = true;
    *adf_out = idx;
    return 0;
}

/* EF.DIR 2F00: one record per application, in the order of PKCS#15
 * DIRRecord (v1.1 5.5.1, ISO/IEC 7816-15 A.2): 61 { 4F AID, 50 label, 51
 * path }; readers that decode it as that SEQUENCE (OpenSC) lose a label
 * that follows the path. */
static int load_efdir(loader_t *L, json_object *root)
{
    static const char *const keys[] = {"record_len", "extra_records", NULL};
    bool enabled;
    json_object *o = get_section(L, root, "efdir", &enabled);
    unsigned long rec_len, extra;
    if (L->rc != 0)
        return L->rc;
    if (!enabled)
        return 0;
    if ((o != NULL && only_keys(L, o, "efdir", keys) != 0) ||
        get_uint(L, o, "record_len", "efdir", 1, SIM_MAX_RECORD_LEN, 48, &rec_len) != 0 ||
        get_uint(L, o, "extra_records", "efdir", 0, 16, 1, &extra) != 0)
        return L->rc;
    scb_sim_t *sim = L->sim;
    dbuf_t recs[4];
    const uint8_t *rp[4];
    size_t rl[4], count = 0;
    for (size_t i = 0; i < sim->nfiles && count < 4; i++) {
        const sim_file_t *f = &sim->files[i];
        if (f->kind != SIM_DF || f->aid_len == 0 || !f->in_efdir)
            continue;
        dbuf_t in = {.n = 0, .overflow = false};
        dtlv(&in, 0x4F, f->aid, f->aid_len);
        if (f->label[0] != '\0')
            dtlv(&in, 0x50, (const uint8_t *)f->label, strlen(f->label));
        if (f->fid != 0) {
            uint8_t path[4] = {0x3F, 0x00, (uint8_t)(f->fid >> 8), (uint8_t)f->fid};
            dtlv(&in, 0x51, path, sizeof(path));
        }
        recs[count].n = 0;
        recs[count].overflow = false;
        dtlv(&recs[count], 0x61, in.b, in.n);
        rp[count] = recs[count].b;
        rl[count] = recs[count].n;
        count++;
    }
    int idx = add_linear(L, 0, 0x2F00, rp, rl, count, rec_len, count + extra, "EF.DIR");
    if (idx < 0)
        return L->rc;
    sim->files[idx].sfi = 0x1E;
    return 0;
}

/* Optional extra file content: "hex" for transparent, "records" for linear. */
static int load_content(loader_t *L, json_object *o, const char *where, uint8_t **buf, size_t *len)
{
    const char *s = get_str(L, o, "hex", where, NULL);
    *buf = NULL;
    *len = 0;
    if (L->rc != 0 || s == NULL)
        return L->rc;
    size_t cap = strlen(s) / 2 + 1;
    *buf = malloc(cap);
    if (*buf == NULL)
        return fail(L, SCB_E_NOMEM, "profile: %s: out of memory", where);
    return parse_hex(L, s, where, "hex", *buf, cap, len);
}

/* A PKCS#15 directory EF in the ADF (ODF, DODF, AODF): the entries built
 * (or the profile's raw "hex", which wins), FF padded as on real cards to
 * size, by default the content plus slack and at least min_size bytes;
 * the issuer updates it under SCP03. Frees raw. */
static int add_directory(loader_t *L, int adf, uint16_t fid, const dbuf_t *built, uint8_t *raw,
                         size_t raw_len, size_t size, size_t slack, size_t min_size,
                         const char *what)
{
    if (raw == NULL && built->overflow) {
        free(raw);
        return fail(L, SCB_E_VALIDATION, "profile: %s entry too long", what);
    }
    const uint8_t *c = raw != NULL ? raw : built->b;
    size_t clen = raw != NULL ? raw_len : built->n;
    if (size == 0)
        size = clen + slack > min_size ? clen + slack : min_size;
    int idx = add_transparent(L, adf, fid, c, clen, size, 0xFF, what);
    if (idx >= 0)
        L->sim->files[idx].write_ac = SIM_AC_SM;
    free(raw);
    return L->rc;
}

static int load_odf(loader_t *L, json_object *root, int adf, uint16_t dodf_fid,
                    const aodf_pin_t *aodf)
{
    static const char *const keys[] = {"fid", "size", "hex", NULL};
    json_object *o = get(root, "odf");
    uint16_t fid;
    unsigned long size;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (!is_null(o) && (json_object_get_type(o) != json_type_object ||
                        only_keys(L, o, "odf", keys) != 0))
        return fail(L, SCB_E_VALIDATION, "profile: \"odf\" must be an object");
    if (get_fid(L, o, "odf", 0x5031, &fid) != 0 ||
        get_uint(L, o, "size", "odf", 0, SIM_MAX_EF_SIZE, 0, &size) != 0 ||
        load_content(L, o, "odf", &raw, &raw_len) != 0) {
        free(raw);
        return L->rc;
    }
    /* [7] dataObjects -> Path to the DODF (A7 { 30 { 04 02 FID } }) */
    dbuf_t path = {.n = 0}, seq = {.n = 0}, odf = {.n = 0};
    uint8_t fb[2] = {(uint8_t)(dodf_fid >> 8), (uint8_t)dodf_fid};
    dtlv(&path, 0x04, fb, 2);
    dtlv(&seq, 0x30, path.b, path.n);
    dtlv(&odf, 0xA7, seq.b, seq.n);
    if (aodf->present) { /* [8] authObjects -> the AODF */
        uint8_t ab[2] = {(uint8_t)(aodf->fid >> 8), (uint8_t)aodf->fid};
        path.n = seq.n = 0;
        dtlv(&path, 0x04, ab, 2);
        dtlv(&seq, 0x30, path.b, path.n);
        dtlv(&odf, 0xA8, seq.b, seq.n);
    }
    return add_directory(L, adf, fid, &odf, raw, raw_len, size, 16, 32, "EF.ODF");
}

/* EF.DODF with the LwM2M bootstrap entry (PKCS#15 DataType, 7816-15). */
static int load_dodf(loader_t *L, json_object *root, int adf, uint16_t fid,
                     const uint8_t *bs_path, size_t bs_path_len, const aodf_pin_t *aodf)
{
    static const char *const keys[] = {"fid", "size", "hex", "oid_form", "label",
                                       "application_name", "private", "modifiable",
                                       "auth_id", "path", NULL};
    json_object *o = get(root, "dodf");
    unsigned long size;
    bool priv, modif;
    uint8_t auth[8], path[16], *raw = NULL;
    size_t auth_len = 0, path_len = 0, raw_len = 0;
    if (!is_null(o) && (json_object_get_type(o) != json_type_object ||
                        only_keys(L, o, "dodf", keys) != 0))
        return fail(L, SCB_E_VALIDATION, "profile: \"dodf\" must be an object");
    const char *form = get_str(L, o, "oid_form", "dodf", "oid_do");
    const char *label = get_str(L, o, "label", "dodf", "LwM2M Bootstrap");
    const char *app = get_str(L, o, "application_name", "dodf", NULL);
    if (L->rc != 0 || get_uint(L, o, "size", "dodf", 0, SIM_MAX_EF_SIZE, 0, &size) != 0 ||
        get_bool(L, o, "private", "dodf", false, &priv) != 0 ||
        get_bool(L, o, "modifiable", "dodf", false, &modif) != 0 ||
        get_hex(L, o, "auth_id", "dodf", NULL, auth, sizeof(auth), &auth_len) != 0 ||
        get_hex(L, o, "path", "dodf", NULL, path, sizeof(path), &path_len) != 0 ||
        load_content(L, o, "dodf", &raw, &raw_len) != 0) {
        free(raw);
        return L->rc;
    }
    if (path_len == 0) {
        memcpy(path, bs_path, bs_path_len);
        path_len = bs_path_len;
    }
    /* A private entry names the PIN that guards it (its authId) */
    if (priv && auth_len == 0 && aodf->present && is_null(get(o, "auth_id"))) {
        memcpy(auth, aodf->auth_id, aodf->auth_id_len);
        auth_len = aodf->auth_id_len;
    }
    bool misencoded = strstr(form, "misencoded") != NULL;
    bool app_oid = strncmp(form, "application_oid", 15) == 0;
    if (strcmp(form, "oid_do") != 0 && strcmp(form, "oid_do_misencoded") != 0 &&
        strcmp(form, "application_oid") != 0 && strcmp(form, "application_oid_misencoded") != 0) {
        free(raw);
        return fail(L, SCB_E_VALIDATION,
                    "profile: dodf.oid_form \"%s\": use oid_do, oid_do_misencoded, "
                    "application_oid or application_oid_misencoded", form);
    }

    dbuf_t coa = {.n = 0}, cdoa = {.n = 0}, oid = {.n = 0}, pth = {.n = 0}, pseq = {.n = 0},
           inner = {.n = 0}, type = {.n = 0}, body = {.n = 0}, entry = {.n = 0};
    /* CommonObjectAttributes: label, flags (private bit 0, modifiable bit 1), authId */
    if (label != NULL && label[0] != '\0')
        dtlv(&coa, 0x0C, (const uint8_t *)label, strlen(label));
    if (priv || modif) {
        uint8_t bits = (uint8_t)((priv ? 0x80 : 0) | (modif ? 0x40 : 0));
        uint8_t bs[2] = {(uint8_t)(modif ? 6 : 7), bits}; /* unused trailing bits */
        dtlv(&coa, 0x03, bs, 2);
    }
    if (auth_len > 0)
        dtlv(&coa, 0x04, auth, auth_len);
    /* OID, correctly encoded or nested twice (the spec example / live cards) */
    if (misencoded)
        dtlv(&oid, 0x06, BOOTSTRAP_OID, sizeof(BOOTSTRAP_OID));
    else
        dput(&oid, BOOTSTRAP_OID, sizeof(BOOTSTRAP_OID));
    /* CommonDataObjectAttributes: applicationName, [applicationOID] */
    if (app != NULL)
        dtlv(&cdoa, 0x0C, (const uint8_t *)app, strlen(app));
    if (app_oid)
        dput(&cdoa, oid.b, oid.n);
    dtlv(&pth, 0x04, path, path_len);
    dtlv(&pseq, 0x30, pth.b, pth.n);
    if (app_oid) {
        /* opaqueDO: typeAttributes [1] ObjectValue = indirect Path */
        dput(&type, pseq.b, pseq.n);
    } else {
        /* oidDO: typeAttributes [1] OidDO ::= SEQUENCE { id, value Path } */
        dput(&inner, oid.b, oid.n);
        dput(&inner, pseq.b, pseq.n);
        dtlv(&type, 0x30, inner.b, inner.n);
    }
    dtlv(&body, 0x30, coa.b, coa.n);
    dtlv(&body, 0x30, cdoa.b, cdoa.n);
    dtlv(&body, 0xA1, type.b, type.n);
    dtlv(&entry, app_oid ? 0x30 : 0xA1, body.b, body.n);
    return add_directory(L, adf, fid, &entry, raw, raw_len, size, 32, 128, "EF.DODF");
}

/* EF.TokenInfo 5032 (optional for LwM2M; PKCS#15 readers look for it). */
static int load_tokeninfo(loader_t *L, json_object *root, int adf, const uint8_t iccid[10])
{
    static const char *const keys[] = {"fid", "hex", NULL};
    bool enabled;
    json_object *o = get_section(L, root, "tokeninfo", &enabled);
    uint16_t fid;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (L->rc != 0 || !enabled)
        return L->rc;
    if ((o != NULL && only_keys(L, o, "tokeninfo", keys) != 0) ||
        get_fid(L, o, "tokeninfo", 0x5032, &fid) != 0 ||
        load_content(L, o, "tokeninfo", &raw, &raw_len) != 0) {
        free(raw);
        return L->rc;
    }
    /* TokenInfo ::= SEQUENCE { version 0, serialNumber, manufacturerID,
     *                          label [0], tokenflags BIT STRING {} } */
    static const uint8_t version[3] = {0x02, 0x01, 0x00};
    static const uint8_t flags[3] = {0x03, 0x01, 0x00};
    static const char manuf[] = "scboot";
    static const char label[] = "scboot virtual UICC";
    dbuf_t in = {.n = 0}, ti = {.n = 0};
    dput(&in, version, sizeof(version));
    dtlv(&in, 0x04, iccid, 10);
    dtlv(&in, 0x0C, (const uint8_t *)manuf, sizeof(manuf) - 1);
    dtlv(&in, 0x80, (const uint8_t *)label, sizeof(label) - 1);
    dput(&in, flags, sizeof(flags));
    dtlv(&ti, 0x30, in.b, in.n);
    if (raw != NULL)
        add_transparent(L, adf, fid, raw, raw_len, raw_len, 0xFF, "EF.TokenInfo");
    else
        add_transparent(L, adf, fid, ti.b, ti.n, ti.n, 0xFF, "EF.TokenInfo");
    free(raw);
    return L->rc;
}

static int load_bootstrap(loader_t *L, json_object *root, int adf, uint16_t *fid_out)
{
    static const char *const keys[] = {"fid", "size", "hex", "json", "read", "update", "sfi",
                                       "pad", NULL};
    json_object *o = get(root, "bootstrap");
    unsigned long size, sfi, pad;
    uint16_t fid;
    int rd, wr;
    uint8_t *content = NULL;
    size_t clen = 0;
    if (!is_null(o) && (json_object_get_type(o) != json_type_object ||
                        only_keys(L, o, "bootstrap", keys) != 0))
        return fail(L, SCB_E_VALIDATION, "profile: \"bootstrap\" must be an object");
    if (get_fid(L, o, "bootstrap", 0x6432, &fid) != 0 ||
        get_uint(L, o, "size", "bootstrap", 1, SIM_MAX_EF_SIZE, 1024, &size) != 0 ||
        get_uint(L, o, "sfi", "bootstrap", 0, 30, 0, &sfi) != 0 ||
        get_uint(L, o, "pad", "bootstrap", 0, 255, 0xFF, &pad) != 0 ||
        get_access(L, o, "read", "bootstrap", SIM_AC_SM, &rd) != 0 ||
        get_access(L, o, "update", "bootstrap", SIM_AC_SM, &wr) != 0)
        return L->rc;
    json_object *js = get(o, "json");
    if (!is_null(js) && !is_null(get(o, "hex")))
        return fail(L, SCB_E_VALIDATION, "profile: bootstrap: give \"hex\" or \"json\", not both");
    if (!is_null(js)) {
        char d[200] = "";
        int rc = sim_bootstrap_from_json(js, &content, &clen, d, sizeof(d));
        if (rc != 0)
            return fail(L, rc, "profile: bootstrap.json: %s", d);
    } else if (load_content(L, o, "bootstrap", &content, &clen) != 0) {
        free(content);
        return L->rc;
    }
    const uint8_t *c = content != NULL ? content : sim_default_bootstrap;
    if (content == NULL)
        clen = sim_default_bootstrap_len;
    int idx = add_transparent(L, adf, fid, c, clen, size, (uint8_t)pad, "bootstrap EF");
    if (content != NULL) {
        sim_cleanse(content, clen);
        free(content);
    }
    if (idx < 0)
        return L->rc;
    sim_file_t *f = &L->sim->files[idx];
    f->read_ac = rd;
    f->write_ac = wr;
    f->sfi = (uint8_t)sfi;
    *fid_out = fid;
    return 0;
}

static int load_files(loader_t *L, json_object *root, int adf)
{
    static const char *const keys[] = {"df", "fid", "structure", "size", "hex", "records",
                                       "record_len", "record_count", "read", "update", "sfi",
                                       NULL};
    json_object *arr = get(root, "files");
    if (is_null(arr))
        return 0;
    if (json_object_get_type(arr) != json_type_array)
        return fail(L, SCB_E_VALIDATION, "profile: \"files\" must be an array");
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        char where[32];
        snprintf(where, sizeof(where), "files[%zu]", i);
        if (json_object_get_type(o) != json_type_object)
            return fail(L, SCB_E_VALIDATION, "profile: %s must be an object", where);
        if (only_keys(L, o, where, keys) != 0)
            return L->rc;
        const char *df = get_str(L, o, "df", where, "adf");
        const char *st = get_str(L, o, "structure", where, "transparent");
        uint16_t fid;
        unsigned long size, sfi, rec_len, rec_count;
        int rd, wr, idx, parent;
        if (L->rc != 0)
            return L->rc;
        if (is_null(get(o, "fid")))
            return fail(L, SCB_E_VALIDATION, "profile: %s.fid is required", where);
        if (get_fid(L, o, where, 0, &fid) != 0 ||
            get_uint(L, o, "size", where, 0, SIM_MAX_EF_SIZE, 0, &size) != 0 ||
            get_uint(L, o, "sfi", where, 0, 30, 0, &sfi) != 0 ||
            get_uint(L, o, "record_len", where, 0, SIM_MAX_RECORD_LEN, 0, &rec_len) != 0 ||
            get_uint(L, o, "record_count", where, 0, SIM_MAX_RECORDS, 0, &rec_count) != 0 ||
            get_access(L, o, "read", where, SIM_AC_ALWAYS, &rd) != 0 ||
            get_access(L, o, "update", where, SIM_AC_NEVER, &wr) != 0)
            return L->rc;
        if (strcmp(df, "mf") == 0)
            parent = 0;
        else if (strcmp(df, "adf") == 0)
            parent = adf;
        else
            return fail(L, SCB_E_VALIDATION, "profile: %s.df = \"%s\": use mf or adf", where, df);
        if (strcmp(st, "transparent") == 0) {
            uint8_t *c = NULL;
            size_t clen = 0;
            if (load_content(L, o, where, &c, &clen) != 0) {
                free(c);
                return L->rc;
            }
            idx = add_transparent(L, parent, fid, c, clen, size, 0xFF, where);
            free(c);
        } else if (strcmp(st, "linear_fixed") == 0) {
            json_object *recs = get(o, "records");
            size_t count = 0, maxlen = 0;
            uint8_t *buf = NULL;
            const uint8_t *rp[SIM_MAX_RECORDS];
            size_t rl[SIM_MAX_RECORDS];
            if (!is_null(recs)) {
                if (json_object_get_type(recs) != json_type_array ||
                    json_object_array_length(recs) > SIM_MAX_RECORDS)
                    return fail(L, SCB_E_VALIDATION,
                                "profile: %s.records must be an array of at most %u hex strings",
                                where, SIM_MAX_RECORDS);
                count = json_object_array_length(recs);
                buf = malloc(count * SIM_MAX_RECORD_LEN + 1);
                if (buf == NULL)
                    return fail(L, SCB_E_NOMEM, "profile: out of memory");
                for (size_t k = 0; k < count && L->rc == 0; k++) {
                    json_object *r = json_object_array_get_idx(recs, k);
                    if (json_object_get_type(r) != json_type_string) {
                        fail(L, SCB_E_VALIDATION, "profile: %s.records[%zu] must be hex", where, k);
                        break;
                    }
                    rp[k] = buf + k * SIM_MAX_RECORD_LEN;
                    parse_hex(L, json_object_get_string(r), where, "records",
                              buf + k * SIM_MAX_RECORD_LEN, SIM_MAX_RECORD_LEN, &rl[k]);
                    if (rl[k] > maxlen)
                        maxlen = rl[k];
                }
            }
            idx = -1;
            if (L->rc == 0)
                idx = add_linear(L, parent, fid, rp, rl, count, rec_len ? rec_len : maxlen,
                                 rec_count, where);
            free(buf);
        } else {
            return fail(L, SCB_E_VALIDATION,
                        "profile: %s.structure = \"%s\": use transparent or linear_fixed", where,
                        st);
        }
        if (idx < 0 || L->rc != 0)
            return L->rc;
        L->sim->files[idx].read_ac = rd;
        L->sim->files[idx].write_ac = wr;
        L->sim->files[idx].sfi = (uint8_t)sfi;
    }
    return 0;
}

static int load_keyset(loader_t *L, json_object *o, const char *where, sim_keyset_t *ks)
{
    static const char *const keys[] = {"kvn", "enc", "mac", "dek", "master", "diversify", NULL};
    unsigned long kvn;
    size_t le = 0, lm = 0, ld = 0, lmaster = 0;
    uint8_t master[32];
    if (json_object_get_type(o) != json_type_object)
        return fail(L, SCB_E_VALIDATION, "profile: %s must be an object", where);
    if (only_keys(L, o, where, keys) != 0 ||
        get_uint(L, o, "kvn", where, 1, 0x7F, 0x30, &kvn) != 0)
        return L->rc;
    ks->used = true;
    ks->kvn = (uint8_t)kvn;
    if (!is_null(get(o, "master"))) {
        const char *div = get_str(L, o, "diversify", where, "kdf3");
        if (L->rc != 0 || get_hex(L, o, "master", where, NULL, master, sizeof(master), &lmaster))
            return L->rc;
        if (strcmp(div, "kdf3") != 0)
            return fail(L, SCB_E_VALIDATION, "profile: %s.diversify: only \"kdf3\"", where);
        if (lmaster != 16 && lmaster != 24 && lmaster != 32)
            return fail(L, SCB_E_VALIDATION, "profile: %s.master must be 16, 24 or 32 bytes", where);
        ks->len = lmaster;
        /* KDF3 with the card's KDD: ENC 01, MAC 02, DEK 03 (kdf3.json) */
        int rc = sim_scp_kdf3(L->sim, master, lmaster, 0x01, L->sim->sd.kdd, ks->enc) |
                 sim_scp_kdf3(L->sim, master, lmaster, 0x02, L->sim->sd.kdd, ks->mac) |
                 sim_scp_kdf3(L->sim, master, lmaster, 0x03, L->sim->sd.kdd, ks->dek);
        sim_cleanse(master, sizeof(master));
        if (rc != 0)
            return fail(L, SCB_E_CRYPTO, "profile: %s: KDF3 failed", where);
        return 0;
    }
    if (get_hex(L, o, "enc", where, DEFAULT_KEY, ks->enc, sizeof(ks->enc), &le) != 0 ||
        get_hex(L, o, "mac", where, DEFAULT_KEY, ks->mac, sizeof(ks->mac), &lm) != 0 ||
        get_hex(L, o, "dek", where, DEFAULT_KEY, ks->dek, sizeof(ks->dek), &ld) != 0)
        return L->rc;
    if (le != lm || le != ld || (le != 16 && le != 24 && le != 32))
        return fail(L, SCB_E_VALIDATION,
                    "profile: %s: enc, mac and dek must have the same length (16, 24 or 32)",
                    where);
    ks->len = le;
    return 0;
}

static int load_scp03(loader_t *L, json_object *root, int adf, const uint8_t iccid[10])
{
    static const char *const keys[] = {"keys", "i", "s16", "sd_aid", "kdd", "sequence_counter",
                                       "level_required", "mac_cla", "counter_data_only", NULL};
    json_object *o = get(root, "scp03");
    sim_sd_t *sd = &L->sim->sd;
    unsigned long i, seq, level;
    size_t kdd_len = 0;
    if (!is_null(o) && (json_object_get_type(o) != json_type_object ||
                        only_keys(L, o, "scp03", keys) != 0))
        return fail(L, SCB_E_VALIDATION, "profile: \"scp03\" must be an object");
    sd->adf = adf;
    if (get_uint(L, o, "i", "scp03", 0, 0xFF, 0x70, &i) != 0 ||
        get_uint(L, o, "sequence_counter", "scp03", 1, 0xFFFFFF, 1, &seq) != 0 ||
        get_uint(L, o, "level_required", "scp03", 0, 0xFF, 0x33, &level) != 0)
        return L->rc;
    bool s16 = (i & 0x01) != 0;
    if (get_bool(L, o, "s16", "scp03", s16, &s16) != 0)
        return L->rc;
    sd->i_param = (uint8_t)((i & ~0x01UL) | (s16 ? 0x01 : 0x00));
    sd->seq_next = (uint32_t)seq;
    sd->level_required = (uint8_t)level;
    /* Default SD AID: the PKCS#15 application's own AID, the only AID a
     * host of Appendix H knows (it selects the ADF and talks to its SD). */
    const sim_file_t *app = &L->sim->files[adf];
    if (is_null(get(o, "sd_aid"))) {
        memcpy(sd->aid, app->aid, app->aid_len);
        sd->aid_len = app->aid_len;
    } else if (get_hex(L, o, "sd_aid", "scp03", NULL, sd->aid, sizeof(sd->aid), &sd->aid_len) != 0) {
        return L->rc;
    }
    /* Default KDD: the ICCID bytes (any 10 bytes unique to the card do). */
    if (is_null(get(o, "kdd"))) {
        memcpy(sd->kdd, iccid, 10);
    } else {
        if (get_hex(L, o, "kdd", "scp03", NULL, sd->kdd, sizeof(sd->kdd), &kdd_len) != 0)
            return L->rc;
        if (kdd_len != 10)
            return fail(L, SCB_E_VALIDATION, "profile: scp03.kdd must be 10 bytes");
    }
    const char *mc = get_str(L, o, "mac_cla", "scp03", "cleared");
    if (L->rc != 0 || get_bool(L, o, "counter_data_only", "scp03", false, &sd->counter_data_only))
        return L->rc;
    if (strcmp(mc, "cleared") == 0)
        sd->mac_cla = SIM_MACCLA_CLEARED;
    else if (strcmp(mc, "as_sent") == 0)
        sd->mac_cla = SIM_MACCLA_AS_SENT;
    else if (strcmp(mc, "either") == 0)
        sd->mac_cla = SIM_MACCLA_EITHER;
    else
        return fail(L, SCB_E_VALIDATION,
                    "profile: scp03.mac_cla \"%s\": use cleared, as_sent or either", mc);

    json_object *ks = get(o, "keys");
    if (is_null(ks)) {
        json_object *empty = json_object_new_object();
        int rc = empty != NULL ? load_keyset(L, empty, "scp03.keys", &sd->keys[0]) : SCB_E_NOMEM;
        json_object_put(empty);
        return rc != 0 ? fail(L, rc, "profile: default key set") : 0;
    }
    if (json_object_get_type(ks) == json_type_object)
        return load_keyset(L, ks, "scp03.keys", &sd->keys[0]);
    if (json_object_get_type(ks) != json_type_array || json_object_array_length(ks) == 0 ||
        json_object_array_length(ks) > SIM_MAX_KEYSETS)
        return fail(L, SCB_E_VALIDATION,
                    "profile: scp03.keys must be an object or an array of 1..%d key sets",
                    SIM_MAX_KEYSETS);
    for (size_t k = 0; k < json_object_array_length(ks); k++) {
        char where[48]; /* "scp03.keys[" + 20 digits + "]" */
        snprintf(where, sizeof(where), "scp03.keys[%zu]", k);
        if (load_keyset(L, json_object_array_get_idx(ks, k), where, &sd->keys[k]) != 0)
            return L->rc;
        for (size_t j = 0; j < k; j++)
            if (sd->keys[j].kvn == sd->keys[k].kvn)
                return fail(L, SCB_E_VALIDATION, "profile: %s: KVN %u used twice", where,
                            sd->keys[k].kvn);
    }
    return 0;
}

static int load_pin(loader_t *L, json_object *root, const char **value)
{
    static const char *const keys[] = {"ref", "value", "tries", NULL};
    json_object *o = get(root, "pin");
    sim_pin_t *pin = &L->sim->pin;
    unsigned long ref, tries;
    memset(pin, 0, sizeof(*pin));
    *value = NULL;
    if (is_null(o))
        return 0;
    if (json_object_get_type(o) != json_type_object || only_keys(L, o, "pin", keys) != 0)
        return fail(L, SCB_E_VALIDATION, "profile: \"pin\" must be an object");
    const char *v = get_str(L, o, "value", "pin", NULL);
    if (L->rc != 0 || get_uint(L, o, "ref", "pin", 1, 0xFF, 0x01, &ref) != 0 ||
        get_uint(L, o, "tries", "pin", 1, 15, 3, &tries) != 0)
        return L->rc;
    if (v == NULL)
        return fail(L, SCB_E_VALIDATION, "profile: pin.value is required");
    pin->present = true;
    pin->ref = (uint8_t)ref;
    pin->tries_max = pin->tries_left = (unsigned)tries;
    *value = v;
    return 0;
}

/* The card stores its PIN as its AODF describes it (padded with padChar to
 * storedLength), or as TS 102 221 9.5.1 has it: 4..8 digits, FF to 8. */
static int store_pin(loader_t *L, const char *value, const aodf_pin_t *a)
{
    sim_pin_t *pin = &L->sim->pin;
    if (!pin->present)
        return 0;
    size_t n = strlen(value), min = 4, max = 8;
    pin->block = 8;
    uint8_t pad = 0xFF;
    if (a->present) {
        pin->block = a->stored_len > 0 ? a->stored_len : 8;
        min = a->min_len;
        max = a->has_max && a->max_len < pin->block ? a->max_len : pin->block;
        pad = a->has_pad ? a->pad : 0xFF;
    }
    if (n < min || n > max)
        return fail(L, SCB_E_VALIDATION, "profile: pin.value must have %zu..%zu characters%s",
                    min, max, a->present ? " (as the aodf describes it)" : "");
    memset(pin->value, pad, sizeof(pin->value));
    memcpy(pin->value, value, n);
    return 0;
}

/* PinFlags names (PKCS#15 v1.1 6.8.3), bit n of the BIT STRING. */
static const char *const pin_flag_names[] = {
    "case_sensitive", "local", "change_disabled", "unblock_disabled", "initialized",
    "needs_padding", "unblocking_pin", "so_pin", NULL};
static const char *const pin_type_names[] = {"bcd", "ascii_numeric", "utf8", "half_nibble_bcd",
                                             "iso9564_1", NULL};

/* DER INTEGER 0..255 (a leading 00 when the top bit is set), with tag. */
static void dint(dbuf_t *d, uint8_t tag, unsigned long v)
{
    uint8_t b[2] = {0x00, (uint8_t)v};
    if (v >= 0x80)
        dtlv(d, tag, b, 2);
    else
        dtlv(d, tag, b + 1, 1);
}

static int get_name(loader_t *L, const char *s, const char *where, const char *const *names,
                    unsigned *out)
{
    for (unsigned i = 0; names[i] != NULL; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    char all[160] = "";
    for (unsigned i = 0; names[i] != NULL; i++)
        snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? ", " : "", names[i]);
    return fail(L, SCB_E_VALIDATION, "profile: %s \"%s\": use %s", where, s, all);
}

/* EF.AODF with the PIN object (PKCS#15 v1.1 6.8, ISO/IEC 7816-15): on a
 * card with a PIN or a private DODF entry, unless "aodf": false. */
static int load_aodf(loader_t *L, json_object *root, int adf, aodf_pin_t *a)
{
    static const char *const keys[] = {"fid", "size", "hex", "label", "auth_id", "reference",
                                       "pin_type", "flags", "min_length", "max_length",
                                       "stored_length", "pad_char", "path", NULL};
    bool enabled;
    json_object *o = get_section(L, root, "aodf", &enabled);
    memset(a, 0, sizeof(*a));
    if (L->rc != 0 || !enabled)
        return L->rc;
    json_object *dodf = get(root, "dodf");
    bool priv = false;
    if (json_object_get_type(dodf) == json_type_object &&
        get_bool(L, dodf, "private", "dodf", false, &priv) != 0)
        return L->rc;
    if (o == NULL && !L->sim->pin.present && !priv)
        return 0; /* nothing to describe */
    if (o != NULL && only_keys(L, o, "aodf", keys) != 0)
        return L->rc;
    unsigned long size, pad = 0;
    uint8_t path[16], *raw = NULL;
    size_t path_len = 0, raw_len = 0;
    const unsigned long dref = L->sim->pin.present ? L->sim->pin.ref : 0x01;
    const char *label = get_str(L, o, "label", "aodf", "PIN1");
    const char *type = get_str(L, o, "pin_type", "aodf", "ascii_numeric");
    if (L->rc != 0 || get_fid(L, o, "aodf", 0x4401, &a->fid) != 0 ||
        get_uint(L, o, "size", "aodf", 0, SIM_MAX_EF_SIZE, 0, &size) != 0 ||
        get_hex(L, o, "auth_id", "aodf", "01", a->auth_id, sizeof(a->auth_id),
                &a->auth_id_len) != 0 ||
        get_uint(L, o, "reference", "aodf", 0, 0xFF, dref, &a->ref) != 0 ||
        get_uint(L, o, "min_length", "aodf", 0, SIM_MAX_PIN, 4, &a->min_len) != 0 ||
        get_uint(L, o, "stored_length", "aodf", 0, SIM_MAX_PIN, 8, &a->stored_len) != 0 ||
        get_hex(L, o, "path", "aodf", NULL, path, sizeof(path), &path_len) != 0)
        return L->rc;
    /* maxLength and padChar may be left out on purpose: null (json-c
     * holds a null as a NULL value of a key that exists) */
    json_object *jmax = get(o, "max_length");
    a->has_max = o == NULL || !json_object_object_get_ex(o, "max_length", NULL) || jmax != NULL;
    if (a->has_max && get_uint(L, o, "max_length", "aodf", 0, SIM_MAX_PIN, 8, &a->max_len) != 0)
        return L->rc;
    a->has_pad = o == NULL || !json_object_object_get_ex(o, "pad_char", NULL) ||
                 get(o, "pad_char") != NULL;
    if (a->has_pad && get_uint(L, o, "pad_char", "aodf", 0, 0xFF, 0xFF, &pad) != 0)
        return L->rc;
    a->pad = (uint8_t)pad;
    if (a->has_max && a->min_len > a->max_len)
        return fail(L, SCB_E_VALIDATION, "profile: aodf.min_length %lu is above max_length %lu",
                    a->min_len, a->max_len);
    unsigned ptype = 1;
    if (get_name(L, type, "aodf.pin_type", pin_type_names, &ptype) != 0)
        return L->rc;
    /* pinFlags: initialized, needs-padding, local for a local reference (b8 set) */
    uint32_t flags = 1u << 4 | 1u << 5 | (a->ref & 0x80 ? 1u << 1 : 0);
    json_object *jf = o != NULL ? get(o, "flags") : NULL;
    if (!is_null(jf)) {
        if (json_object_get_type(jf) != json_type_array)
            return fail(L, SCB_E_VALIDATION, "profile: aodf.flags must be an array of names");
        flags = 0;
        for (size_t i = 0; i < json_object_array_length(jf); i++) {
            json_object *f = json_object_array_get_idx(jf, i);
            unsigned bit;
            if (json_object_get_type(f) != json_type_string)
                return fail(L, SCB_E_VALIDATION, "profile: aodf.flags[%zu] must be a name", i);
            if (get_name(L, json_object_get_string(f), "aodf.flags", pin_flag_names, &bit) != 0)
                return L->rc;
            flags |= 1u << bit;
        }
    }
    if (load_content(L, o, "aodf", &raw, &raw_len) != 0) {
        free(raw);
        return L->rc;
    }

    /* PinFlags as a DER BIT STRING: trailing zero bits left out */
    uint8_t bits[3] = {0, 0, 0};
    size_t nbits = 0;
    for (unsigned b = 0; b < 16; b++)
        if (flags & (1u << b)) {
            bits[1 + b / 8] |= (uint8_t)(0x80u >> (b % 8));
            nbits = b + 1;
        }
    size_t nbytes = (nbits + 7) / 8;
    bits[0] = (uint8_t)(nbytes * 8 - nbits);
    dbuf_t coa = {.n = 0}, caoa = {.n = 0}, attrs = {.n = 0}, seq = {.n = 0}, pth = {.n = 0},
           pseq = {.n = 0}, type_attr = {.n = 0}, body = {.n = 0}, entry = {.n = 0};
    if (label != NULL && label[0] != '\0')
        dtlv(&coa, 0x0C, (const uint8_t *)label, strlen(label));
    dtlv(&caoa, 0x04, a->auth_id, a->auth_id_len);
    dtlv(&attrs, 0x03, bits, 1 + nbytes);
    dint(&attrs, 0x0A, ptype);
    dint(&attrs, 0x02, a->min_len);
    dint(&attrs, 0x02, a->stored_len);
    if (a->has_max)
        dint(&attrs, 0x02, a->max_len);
    dint(&attrs, 0x80, a->ref); /* pinReference [0] */
    if (a->has_pad)
        dtlv(&attrs, 0x04, &a->pad, 1);
    if (path_len > 0) {
        dtlv(&pth, 0x04, path, path_len);
        dtlv(&pseq, 0x30, pth.b, pth.n);
        dput(&attrs, pseq.b, pseq.n);
    }
    dtlv(&seq, 0x30, attrs.b, attrs.n);
    dput(&type_attr, seq.b, seq.n);
    dtlv(&body, 0x30, coa.b, coa.n);
    dtlv(&body, 0x30, caoa.b, caoa.n);
    dtlv(&body, 0xA1, type_attr.b, type_attr.n);
    dtlv(&entry, 0x30, body.b, body.n);
    add_directory(L, adf, a->fid, &entry, raw, raw_len, size, 16, 64, "EF.AODF");
    a->present = L->rc == 0;
    return L->rc;
}

int sim_profile_load(scb_sim_t *sim, const char *json_text, char *detail, size_t dl)
{
    static const char *const keys[] = {"atr", "t0", "extended_length", "channels", "vpcd",
                                       "iccid", "efdir", "application", "scp03", "pin", "aodf",
                                       "odf", "dodf", "tokeninfo", "bootstrap", "files",
                                       "faults", "delay_ms", "comment", NULL};
    loader_t L = {sim, detail, dl, 0};
    uint8_t iccid[10];
    int adf = -1;
    uint16_t bs_fid = 0;
    const char *pin_value = NULL;
    aodf_pin_t aodf;
    char d[128];

    /* as strict as the host's formats: a member given twice is refused, not
     * silently the last one */
    json_object *root = NULL;
    char jd[160] = "";
    int jrc = scbj_parse(json_text != NULL ? json_text : "{}", &root, jd, sizeof(jd));
    if (jrc == SCB_E_NOMEM)
        return fail(&L, SCB_E_NOMEM, "profile: out of memory");
    if (jrc != SCB_OK)
        return fail(&L, SCB_E_VALIDATION, "profile: %s", jd);
    if (json_object_get_type(root) != json_type_object) {
        json_object_put(root);
        return fail(&L, SCB_E_VALIDATION, "profile: the top level must be a JSON object");
    }

    if (only_keys(&L, root, "the profile", keys) == 0 && load_card_options(&L, root) == 0 &&
        load_faults(&L, root) == 0 && sim_fs_add(sim, -1, SIM_DF, 0x3F00, d, sizeof(d)) == 0 &&
        load_iccid(&L, root, iccid) == 0 && load_application(&L, root, &adf) == 0 &&
        load_efdir(&L, root) == 0 && load_scp03(&L, root, adf, iccid) == 0 &&
        load_pin(&L, root, &pin_value) == 0 && load_bootstrap(&L, root, adf, &bs_fid) == 0 &&
        load_aodf(&L, root, adf, &aodf) == 0 && store_pin(&L, pin_value, &aodf) == 0) {
        json_object *dodf = get(root, "dodf");
        uint16_t dodf_fid = 0x6430;
        uint8_t bs_path[2] = {(uint8_t)(bs_fid >> 8), (uint8_t)bs_fid};
        if (get_fid(&L, dodf, "dodf", 0x6430, &dodf_fid) == 0 &&
            load_odf(&L, root, adf, dodf_fid, &aodf) == 0 &&
            load_dodf(&L, root, adf, dodf_fid, bs_path, sizeof(bs_path), &aodf) == 0 &&
            load_tokeninfo(&L, root, adf, iccid) == 0)
            load_files(&L, root, adf);
    }
    json_object_put(root);
    return L.rc;
}
