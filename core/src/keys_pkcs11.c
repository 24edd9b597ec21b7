/*
 * SCP03 key sets held in a PKCS#11 token (the only file that includes
 * PKCS#11 / p11-kit headers). URIs (RFC 7512), module loading and token
 * matching are p11-kit's; this file decides which token calls SCP03 needs.
 *
 * Naming: the URI's object=NAME names a key set, the AES secret-key objects
 * labelled NAME/enc, NAME/mac and NAME/dek (the DEK only where one is
 * needed). The library never asks for CKA_VALUE: every operation on a
 * static key runs in the token.
 *
 *  - AES-CMAC (SP 800-38B) for the SP 800-108 KDF (session keys, card
 *    challenge) and KDF3: C_Sign with CKM_AES_CMAC when the key may sign
 *    and the token has the mechanism. Otherwise the CMAC is built on the
 *    token's block cipher (SP 800-38B 6.2): L = E_K(0^128) is computed in
 *    the token, the subkeys K1 = dbl(L), K2 = dbl(K1) on the host, the
 *    last block is completed (XOR K1) or padded 80 00.. (XOR K2) on the
 *    host, and the CBC-MAC chain over the blocks runs in the token: one
 *    C_Encrypt with CKM_AES_CBC and a zero IV whose last output block is
 *    the MAC, or, without CBC, one CKM_AES_ECB block per step
 *    (X = E_K(X ^ M_i)). The host sees L, the subkeys and the chaining
 *    values, never K, and wipes them after each MAC.
 *  - KCV: C_Encrypt with CKM_AES_ECB of 16 x 01 (or CBC with a zero IV,
 *    which is the same for one block).
 *  - PUT KEY of host keys (a keys file, KDF3-diversified card keys) under a
 *    token DEK: C_Encrypt with CKM_AES_CBC and a zero IV.
 *  - PUT KEY of token keys: C_WrapKey with CKM_AES_CBC and a zero IV under
 *    the card's current DEK: the token's own DEK object when the current
 *    keys are in the same token, else the host DEK (a file key, or a KDF3
 *    card key) imported for the wrap as a session object (CKA_TOKEN false,
 *    CKA_WRAP only, sensitive) and destroyed right after.
 *
 * Key sets generated for a rotation (SCB_P11_GENERATE). SoftHSM, like the
 * PKCS#11 standard, lets a key leave the token only when CKA_EXTRACTABLE is
 * true; CKA_WRAP_WITH_TRUSTED would limit the wrapping keys to CKA_TRUSTED
 * ones, which only the security officer may mark, and a host DEK imported
 * for one card can never be one. So the PUT KEY that first uses such a set
 * generates ENC, MAC and DEK (CKM_AES_KEY_GEN: CKA_SENSITIVE, CKA_EXTRACTABLE
 * and CKA_MODIFIABLE true), wraps each once under the card's DEK, computes
 * the KCVs in the token, and then sets CKA_EXTRACTABLE to false on all
 * three, before the PUT KEY command leaves the host. PKCS#11 never lets
 * CKA_EXTRACTABLE return to true (SoftHSM refuses with
 * CKR_ATTRIBUTE_READ_ONLY), so from then on the keys can only be used in
 * the token; the only copy that ever left it is the ciphertext under the
 * card's DEK. CKA_MODIFIABLE stays true (the seal is itself a change, and
 * SoftHSM refuses to clear it later or in a C_CopyObject): a holder of the
 * PIN could still change usage flags (give the new DEK CKA_DECRYPT and read
 * PUT KEY data wrapped under it later), though never let the keys out.
 * Any failure before the seal destroys the generated objects.
 *
 * Sessions and threads: no global state. Every key set loads its own
 * managed module instance (p11-kit reference-counts the real module's
 * C_Initialize, so two sets in two threads never meet) and opens its own
 * session; the token calls of one set are serialised by its own mutex, so
 * one set may serve several card handles in several threads. A session's
 * DEK holds another reference to the set (refs), freed with the last one.
 * The PIN is used for C_Login only and not kept.
 */
#include "crypto.h"
#include "keys_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SCB_WITH_PKCS11

int scb_keys_open_pkcs11(scb_keys_t **out, const char *uri, uint8_t kvn, const char *pin,
                         unsigned flags, char *detail, size_t detail_len)
{
    (void)uri, (void)kvn, (void)pin, (void)flags;
    if (out != NULL)
        *out = NULL;
    return scb__detail(detail, detail_len, SCB_E_UNSUPPORTED,
                       "this scboot was built without PKCS#11 support (-DSCB_WITH_PKCS11=OFF)");
}

int scb_pkcs11_import(const char *uri, const char *pin, unsigned flags, const scb_keys_t *keys,
                      char *detail, size_t detail_len)
{
    (void)uri, (void)pin, (void)flags, (void)keys;
    return scb_keys_open_pkcs11(NULL, NULL, 0, NULL, 0, detail, detail_len);
}

int scb_pkcs11_generate(const char *uri, const char *pin, unsigned flags, size_t key_len,
                        char *detail, size_t detail_len)
{
    (void)uri, (void)pin, (void)flags, (void)key_len;
    return scb_keys_open_pkcs11(NULL, NULL, 0, NULL, 0, detail, detail_len);
}

int scb_pkcs11_list(const char *uri, const char *pin, unsigned flags, scb_p11_object_fn fn,
                    void *user, char *detail, size_t detail_len)
{
    (void)uri, (void)pin, (void)flags, (void)fn, (void)user;
    return scb_keys_open_pkcs11(NULL, NULL, 0, NULL, 0, detail, detail_len);
}

#else /* SCB_WITH_PKCS11 */

#include <errno.h>
#include <fcntl.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_MAX_LEN 120   /* of a key set name (labels add "/enc") */
#define PIN_MAX_LEN  256
#define MAX_SLOTS    64
#define MAX_LISTED   256   /* objects `keys list` reports */

static const char *const type_suffix[4] = {"", "enc", "mac", "dek"};

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */
/* The code for what a token answered, by what it means to the user. */
static int rv_code(CK_RV rv)
{
    switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE: return SCB_E_P11_PIN;
    case CKR_PIN_LOCKED: return SCB_E_P11_PIN_LOCKED;
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_USER_PIN_NOT_INITIALIZED: return SCB_E_P11_PIN_REQUIRED;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_KEY_SIZE_RANGE:
    case CKR_FUNCTION_NOT_SUPPORTED: return SCB_E_P11_MECHANISM;
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_KEY_UNEXTRACTABLE:
    case CKR_KEY_NOT_WRAPPABLE:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_ATTRIBUTE_READ_ONLY:
    case CKR_ACTION_PROHIBITED: return SCB_E_P11_USAGE;
    case CKR_HOST_MEMORY: return SCB_E_NOMEM;
    default: return SCB_E_P11_DEVICE;
    }
}

static int rv_fail(char *detail, size_t detail_len, CK_RV rv, const char *what, const char *label)
{
    return scb__detail(detail, detail_len, rv_code(rv), "%s%s%s: %s (CKR 0x%lX)", what,
                       label != NULL ? " " : "", label != NULL ? label : "",
                       p11_kit_strerror(rv), (unsigned long)rv);
}

/* A PKCS#11 blank-padded fixed-width text as a C string. */
static void padded_text(const unsigned char *s, size_t n, char *out, size_t cap)
{
    size_t len = n;
    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (len >= cap)
        len = cap - 1;
    for (size_t i = 0; i < len; i++)
        out[i] = (s[i] < 0x20 || s[i] == 0x7F) ? '?' : (char)s[i];
    out[len] = 0;
}

/* ------------------------------------------------------------------------ */
/* A token connection: module, slot, session                                 */
/* ------------------------------------------------------------------------ */
typedef enum { LOAD_PATH, LOAD_NAME, LOAD_ALL } load_kind_t;

typedef struct tok {
    load_kind_t kind;
    CK_FUNCTION_LIST **modules; /* LOAD_NAME / LOAD_ALL: the list p11-kit loaded */
    CK_FUNCTION_LIST *module;   /* the one holding the token */
    bool module_initialized;    /* LOAD_PATH / LOAD_NAME: p11_kit_module_initialize done */
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session;
    bool has_session;
    char token_label[33];
    char token_serial[17];
    char token_maker[52];       /* manufacturer / model */
    char module_file[96];       /* basename, for messages and token identity */
    /* what the token can do (C_GetMechanismInfo) */
    bool mech_cmac, mech_cbc, mech_ecb, mech_wrap_cbc, mech_keygen;
} tok_t;

/* What the URI asked for. */
typedef struct uri_req {
    P11KitUri *uri;
    char object[NAME_MAX_LEN + 1]; /* "" when the URI names none */
    const char *module_path;
    const char *module_name;
} uri_req_t;

static void tok_close(tok_t *t)
{
    if (t->has_session)
        t->module->C_CloseSession(t->session);
    t->has_session = false;
    switch (t->kind) {
    case LOAD_ALL:
        if (t->modules != NULL)
            p11_kit_modules_finalize_and_release(t->modules);
        break;
    case LOAD_NAME:
        if (t->module_initialized)
            p11_kit_module_finalize(t->module);
        if (t->modules != NULL)
            p11_kit_modules_release(t->modules);
        break;
    case LOAD_PATH:
        if (t->module != NULL) {
            if (t->module_initialized)
                p11_kit_module_finalize(t->module);
            p11_kit_module_release(t->module);
        }
        break;
    }
    memset(t, 0, sizeof(*t));
}

static void uri_free(uri_req_t *r)
{
    if (r->uri != NULL) {
        /* p11-kit frees without wiping: clear a PIN value it holds first. */
        const char *pv = p11_kit_uri_get_pin_value(r->uri);
        if (pv != NULL)
            scb__cleanse((char *)pv, strlen(pv));
        p11_kit_uri_free(r->uri);
    }
    memset(r, 0, sizeof(*r));
}

/* Parse the URI with p11-kit and pick out what scboot uses. An attribute
 * scboot would silently ignore is refused instead: a URI that says more
 * than it selects would mislead. */
static int uri_parse(const char *text, unsigned flags, bool need_object, uri_req_t *r,
                     char *detail, size_t detail_len)
{
    memset(r, 0, sizeof(*r));
    if (text == NULL || strncmp(text, "pkcs11:", 7) != 0)
        return scb__detail(detail, detail_len, SCB_E_P11_URI,
                           "expected a PKCS#11 URI (pkcs11:token=LABEL;object=NAME...)");
    r->uri = p11_kit_uri_new();
    if (r->uri == NULL)
        return SCB_E_NOMEM;
    int prc = p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, r->uri);
    if (prc != P11_KIT_URI_OK)
        return scb__detail(detail, detail_len, SCB_E_P11_URI, "bad PKCS#11 URI: %s",
                           p11_kit_uri_message(prc));
    if (p11_kit_uri_any_unrecognized(r->uri))
        return scb__detail(detail, detail_len, SCB_E_P11_URI,
                           "the PKCS#11 URI has an attribute p11-kit does not know");
    CK_ULONG n = 0;
    CK_ATTRIBUTE_PTR attrs = p11_kit_uri_get_attributes(r->uri, &n);
    for (CK_ULONG i = 0; i < n; i++) {
        if (attrs[i].type == CKA_LABEL) {
            if (attrs[i].ulValueLen == 0 || attrs[i].ulValueLen > NAME_MAX_LEN ||
                memchr(attrs[i].pValue, 0, attrs[i].ulValueLen) != NULL)
                return scb__detail(detail, detail_len, SCB_E_P11_URI,
                                   "object= must be a key set name of 1..%d bytes",
                                   NAME_MAX_LEN);
            memcpy(r->object, attrs[i].pValue, attrs[i].ulValueLen);
            r->object[attrs[i].ulValueLen] = 0;
        } else if (attrs[i].type == CKA_CLASS) {
            CK_OBJECT_CLASS cls = 0;
            if (attrs[i].ulValueLen == sizeof(cls))
                memcpy(&cls, attrs[i].pValue, sizeof(cls));
            if (cls != CKO_SECRET_KEY)
                return scb__detail(detail, detail_len, SCB_E_P11_URI,
                                   "SCP03 keys are secret keys: type= may only be secret-key");
        } else {
            return scb__detail(detail, detail_len, SCB_E_P11_URI,
                               "the PKCS#11 URI selects objects by an attribute other than "
                               "object= (scboot finds key objects by their label only)");
        }
    }
    if (need_object && r->object[0] == 0)
        return scb__detail(detail, detail_len, SCB_E_P11_URI,
                           "the PKCS#11 URI names no key set: add ;object=NAME (the objects "
                           "NAME/enc, NAME/mac, NAME/dek)");
    if ((flags & SCB_P11_NO_PIN_VALUE) && p11_kit_uri_get_pin_value(r->uri) != NULL)
        return scb__detail(detail, detail_len, SCB_E_P11_URI,
                           "pin-value= is refused here (a command line is visible to every "
                           "user): use pin-source=file:PATH, SCBOOT_PIN11 or the prompt");
    r->module_path = p11_kit_uri_get_module_path(r->uri);
    r->module_name = p11_kit_uri_get_module_name(r->uri);
    if (r->module_path != NULL && r->module_name != NULL)
        return scb__detail(detail, detail_len, SCB_E_P11_URI,
                           "give module-path= or module-name=, not both");
    if (r->module_path != NULL && r->module_path[0] != '/')
        return scb__detail(detail, detail_len, SCB_E_P11_URI,
                           "module-path= must be an absolute path");
    return SCB_OK;
}

/* pin-source: file:PATH, file:///PATH, or an absolute path (RFC 7512 2.4;
 * p11-kit's pin-source convention). The file must not be readable by
 * group or others: it holds a secret. */
static int read_pin_source(const char *src, char *pin, size_t cap, char *detail,
                           size_t detail_len)
{
    const char *path = src;
    if (strncmp(path, "file://", 7) == 0)
        path += 7;
    else if (strncmp(path, "file:", 5) == 0)
        path += 5;
    if (path[0] != '/')
        return scb__detail(detail, detail_len, SCB_E_P11_URI,
                           "pin-source= must be file:/ABSOLUTE/PATH");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return scb__detail(detail, detail_len, SCB_E_P11_URI, "pin-source %s: %s", path,
                           strerror(errno));
    struct stat st;
    int rc = SCB_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = scb__detail(detail, detail_len, SCB_E_P11_URI, "pin-source %s is not a file",
                         path);
    else if (st.st_mode & 077)
        rc = scb__detail(detail, detail_len, SCB_E_P11_URI,
                         "pin-source %s is readable by group or others (mode %04o): chmod 600 "
                         "it", path, (unsigned)(st.st_mode & 07777));
    ssize_t n = 0;
    if (rc == SCB_OK) {
        n = read(fd, pin, cap - 1);
        if (n < 0)
            rc = scb__detail(detail, detail_len, SCB_E_P11_URI, "pin-source %s: %s", path,
                             strerror(errno));
        else if ((size_t)n == cap - 1)
            rc = scb__detail(detail, detail_len, SCB_E_P11_URI,
                             "pin-source %s holds more than %zu bytes", path, cap - 2);
    }
    close(fd);
    if (rc != SCB_OK) {
        scb__cleanse(pin, cap);
        return rc;
    }
    /* one trailing line end is the file's, not the PIN's */
    if (n > 0 && pin[n - 1] == '\n')
        n--;
    if (n > 0 && pin[n - 1] == '\r')
        n--;
    pin[n] = 0;
    return SCB_OK;
}

static void basename_of(const char *path, char *out, size_t cap)
{
    const char *slash = path != NULL ? strrchr(path, '/') : NULL;
    snprintf(out, cap, "%s", slash != NULL ? slash + 1 : path != NULL ? path : "?");
}

static void module_file(CK_FUNCTION_LIST *m, char *out, size_t cap)
{
    char *f = p11_kit_module_get_filename(m);
    basename_of(f, out, cap);
    free(f);
}

/* module-name= NAME: the p11-kit configuration name ("softhsm2"), or the
 * library file's name with or without "lib" and ".so". */
static bool module_named(CK_FUNCTION_LIST *m, const char *name)
{
    char *cfg = p11_kit_module_get_name(m);
    bool hit = cfg != NULL && strcmp(cfg, name) == 0;
    free(cfg);
    if (hit)
        return true;
    char file[96];
    module_file(m, file, sizeof(file));
    size_t n = strlen(name);
    const char *f = file;
    if (strcmp(f, name) == 0)
        return true;
    if (strncmp(f, "lib", 3) == 0 && strncmp(f + 3, name, n) == 0 &&
        (f[3 + n] == 0 || strcmp(f + 3 + n, ".so") == 0))
        return true;
    return strncmp(f, name, n) == 0 && strcmp(f + n, ".so") == 0;
}

/* Initialize the one module chosen (a managed instance of its own). */
static int init_module(tok_t *t, const char *name, char *detail, size_t detail_len)
{
    CK_RV rv = p11_kit_module_initialize(t->module);
    if (rv != CKR_OK)
        return scb__detail(detail, detail_len, SCB_E_P11_MODULE,
                           "the PKCS#11 module %s failed to initialize: %s", name,
                           p11_kit_strerror(rv));
    t->module_initialized = true;
    return SCB_OK;
}

static int load_modules(tok_t *t, const uri_req_t *r, char *detail, size_t detail_len)
{
    if (r->module_path != NULL) {
        t->kind = LOAD_PATH;
        t->module = p11_kit_module_load(r->module_path, 0);
        if (t->module == NULL)
            return scb__detail(detail, detail_len, SCB_E_P11_MODULE,
                               "cannot load the PKCS#11 module %s: %s", r->module_path,
                               p11_kit_message() != NULL ? p11_kit_message() : "unknown error");
        return init_module(t, r->module_path, detail, detail_len);
    }
    if (r->module_name != NULL) {
        t->kind = LOAD_NAME;
        t->modules = p11_kit_modules_load(NULL, 0);
        for (size_t i = 0; t->modules != NULL && t->modules[i] != NULL; i++) {
            if (module_named(t->modules[i], r->module_name)) {
                t->module = t->modules[i];
                break;
            }
        }
        if (t->module == NULL)
            return scb__detail(detail, detail_len, SCB_E_P11_MODULE,
                               "no PKCS#11 module named '%s' in p11-kit's configuration "
                               "(p11-kit list-modules shows them)",
                               r->module_name);
        return init_module(t, r->module_name, detail, detail_len);
    }
    t->kind = LOAD_ALL;
    t->modules = p11_kit_modules_load_and_initialize(0);
    if (t->modules == NULL || t->modules[0] == NULL)
        return scb__detail(detail, detail_len, SCB_E_P11_MODULE,
                           "p11-kit has no PKCS#11 module configured: name one with "
                           "module-path= or module-name=");
    return SCB_OK;
}

/* The one token the URI matches, among the modules loaded. */
static int find_token(tok_t *t, const uri_req_t *r, char *detail, size_t detail_len)
{
    char seen[200] = "";
    size_t seen_len = 0;
    int matches = 0;
    CK_FUNCTION_LIST *one_module[2] = {t->module, NULL};
    CK_FUNCTION_LIST **mods = t->kind == LOAD_ALL ? t->modules : one_module;
    for (size_t mi = 0; mods[mi] != NULL; mi++) {
        CK_FUNCTION_LIST *m = mods[mi];
        CK_INFO minfo;
        if (m->C_GetInfo(&minfo) != CKR_OK || !p11_kit_uri_match_module_info(r->uri, &minfo))
            continue;
        CK_SLOT_ID slots[MAX_SLOTS];
        CK_ULONG nslots = MAX_SLOTS;
        if (m->C_GetSlotList(CK_TRUE, slots, &nslots) != CKR_OK)
            continue;
        for (CK_ULONG si = 0; si < nslots; si++) {
            CK_SLOT_INFO sinfo;
            CK_TOKEN_INFO tinfo;
            if (m->C_GetSlotInfo(slots[si], &sinfo) != CKR_OK ||
                m->C_GetTokenInfo(slots[si], &tinfo) != CKR_OK)
                continue;
            char label[33];
            padded_text(tinfo.label, sizeof(tinfo.label), label, sizeof(label));
            if ((tinfo.flags & CKF_TOKEN_INITIALIZED) && seen_len + strlen(label) + 4 < sizeof(seen))
                seen_len += (size_t)snprintf(seen + seen_len, sizeof(seen) - seen_len, "%s'%s'",
                                             seen_len ? ", " : "", label);
            if (!p11_kit_uri_match_slot_info(r->uri, &sinfo) ||
                !p11_kit_uri_match_token_info(r->uri, &tinfo))
                continue;
            if (matches++ == 0) {
                t->module = m;
                t->slot = slots[si];
                snprintf(t->token_label, sizeof(t->token_label), "%s", label);
                padded_text(tinfo.serialNumber, sizeof(tinfo.serialNumber), t->token_serial,
                            sizeof(t->token_serial));
                char maker[33], model[17];
                padded_text(tinfo.manufacturerID, sizeof(tinfo.manufacturerID), maker,
                            sizeof(maker));
                padded_text(tinfo.model, sizeof(tinfo.model), model, sizeof(model));
                snprintf(t->token_maker, sizeof(t->token_maker), "%s/%s", maker, model);
            }
        }
    }
    if (matches == 0)
        return scb__detail(detail, detail_len, SCB_E_P11_TOKEN,
                           "no token matches the URI (tokens present: %s)",
                           seen_len ? seen : "none");
    if (matches > 1)
        return scb__detail(detail, detail_len, SCB_E_P11_TOKEN,
                           "%d tokens match the URI (%s): name one with token= or serial=",
                           matches, seen);
    module_file(t->module, t->module_file, sizeof(t->module_file));
    return SCB_OK;
}

static bool mech_has(tok_t *t, CK_MECHANISM_TYPE mech, CK_FLAGS want)
{
    CK_MECHANISM_INFO info;
    return t->module->C_GetMechanismInfo(t->slot, mech, &info) == CKR_OK &&
           (info.flags & want) == want;
}

/* Log in when the token wants it. pin NULL: none given. */
static int tok_login(tok_t *t, const char *pin, char *detail, size_t detail_len)
{
    CK_TOKEN_INFO ti;
    CK_RV rv = t->module->C_GetTokenInfo(t->slot, &ti);
    if (rv != CKR_OK)
        return rv_fail(detail, detail_len, rv, "C_GetTokenInfo", NULL);
    if (!(ti.flags & CKF_LOGIN_REQUIRED))
        return SCB_OK;
    CK_SESSION_INFO si;
    if (t->module->C_GetSessionInfo(t->session, &si) == CKR_OK &&
        (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS) && pin == NULL)
        return SCB_OK; /* logged in already (another key set of this process) */
    if (ti.flags & CKF_USER_PIN_LOCKED)
        return scb__detail(detail, detail_len, SCB_E_P11_PIN_LOCKED,
                           "the user PIN of token '%s' is locked (the security officer can "
                           "unlock it)",
                           t->token_label);
    if (pin == NULL)
        return scb__detail(detail, detail_len, SCB_E_P11_PIN_REQUIRED,
                           "token '%s' needs its user PIN: pin-source=file:PATH in the URI, "
                           "SCBOOT_PIN11 in the environment, or the prompt on a terminal",
                           t->token_label);
    rv = t->module->C_Login(t->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
        return SCB_OK;
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE) {
        const char *left = "";
        if (t->module->C_GetTokenInfo(t->slot, &ti) == CKR_OK) {
            if (ti.flags & CKF_USER_PIN_LOCKED)
                left = "; the PIN is now locked";
            else if (ti.flags & CKF_USER_PIN_FINAL_TRY)
                left = "; one try is left before the PIN locks";
            else if (ti.flags & CKF_USER_PIN_COUNT_LOW)
                left = "; few tries are left";
        }
        return scb__detail(detail, detail_len, SCB_E_P11_PIN,
                           "token '%s' rejected the PIN (%s)%s", t->token_label,
                           p11_kit_strerror(rv), left);
    }
    if (rv == CKR_PIN_LOCKED)
        return scb__detail(detail, detail_len, SCB_E_P11_PIN_LOCKED,
                           "the user PIN of token '%s' is locked (the security officer can "
                           "unlock it)",
                           t->token_label);
    return rv_fail(detail, detail_len, rv, "C_Login on token", t->token_label);
}

/* Module, token, session and login for what the URI names. */
static int tok_open(tok_t *t, const char *uri, const char *pin, unsigned flags, bool need_object,
                    bool rw, uri_req_t *r, char *detail, size_t detail_len)
{
    memset(t, 0, sizeof(*t));
    char pinbuf[PIN_MAX_LEN];
    int rc = uri_parse(uri, flags, need_object, r, detail, detail_len);
    if (rc == SCB_OK && pin == NULL) {
        const char *pv = p11_kit_uri_get_pin_value(r->uri);
        const char *ps = p11_kit_uri_get_pin_source(r->uri);
        if (pv != NULL && ps != NULL)
            rc = scb__detail(detail, detail_len, SCB_E_P11_URI,
                             "give pin-source= or pin-value=, not both");
        else if (pv != NULL)
            pin = pv;
        else if (ps != NULL && (rc = read_pin_source(ps, pinbuf, sizeof(pinbuf), detail,
                                                     detail_len)) == SCB_OK)
            pin = pinbuf;
    }
    if (rc == SCB_OK)
        rc = load_modules(t, r, detail, detail_len);
    if (rc == SCB_OK)
        rc = find_token(t, r, detail, detail_len);
    if (rc == SCB_OK) {
        CK_FLAGS sf = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
        CK_RV rv = t->module->C_OpenSession(t->slot, sf, NULL, NULL, &t->session);
        if (rv != CKR_OK)
            rc = rv_fail(detail, detail_len, rv, "C_OpenSession on token", t->token_label);
        else
            t->has_session = true;
    }
    if (rc == SCB_OK)
        rc = tok_login(t, pin, detail, detail_len);
    if (pin == pinbuf)
        scb__cleanse(pinbuf, sizeof(pinbuf));
    if (rc == SCB_OK) {
        t->mech_cmac = mech_has(t, CKM_AES_CMAC, CKF_SIGN);
        t->mech_cbc = mech_has(t, CKM_AES_CBC, CKF_ENCRYPT);
        t->mech_ecb = mech_has(t, CKM_AES_ECB, CKF_ENCRYPT);
        t->mech_wrap_cbc = mech_has(t, CKM_AES_CBC, CKF_WRAP);
        t->mech_keygen = mech_has(t, CKM_AES_KEY_GEN, CKF_GENERATE);
    }
    if (rc != SCB_OK)
        tok_close(t);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Key objects                                                               */
/* ------------------------------------------------------------------------ */
static void set_label(char *out, size_t cap, const char *name, int type)
{
    snprintf(out, cap, "%s/%s", name, type_suffix[type]);
}

/* The secret-key object labelled label: *found 0 (none), 1 (h set) or 2
 * (more than one). */
static int find_label(tok_t *t, const char *label, CK_OBJECT_HANDLE *h, int *found,
                      char *detail, size_t detail_len)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)}};
    CK_RV rv = t->module->C_FindObjectsInit(t->session, tmpl, 2);
    if (rv != CKR_OK)
        return rv_fail(detail, detail_len, rv, "C_FindObjectsInit for", label);
    CK_OBJECT_HANDLE hs[2];
    CK_ULONG n = 0;
    rv = t->module->C_FindObjects(t->session, hs, 2, &n);
    t->module->C_FindObjectsFinal(t->session);
    if (rv != CKR_OK)
        return rv_fail(detail, detail_len, rv, "C_FindObjects for", label);
    *found = (int)n;
    if (n >= 1)
        *h = hs[0];
    return SCB_OK;
}

/* The attributes scboot reads of a key object: never CKA_VALUE. */
typedef struct key_facts {
    CK_KEY_TYPE key_type;
    CK_ULONG len;
    unsigned attrs; /* SCB_P11_ATTR_* */
} key_facts_t;

static const struct {
    CK_ATTRIBUTE_TYPE type;
    unsigned bit;
} bool_attrs[] = {
    {CKA_TOKEN, SCB_P11_ATTR_TOKEN},
    {CKA_PRIVATE, SCB_P11_ATTR_PRIVATE},
    {CKA_SENSITIVE, SCB_P11_ATTR_SENSITIVE},
    {CKA_ALWAYS_SENSITIVE, SCB_P11_ATTR_ALWAYS_SENSITIVE},
    {CKA_EXTRACTABLE, SCB_P11_ATTR_EXTRACTABLE},
    {CKA_NEVER_EXTRACTABLE, SCB_P11_ATTR_NEVER_EXTRACTABLE},
    {CKA_MODIFIABLE, SCB_P11_ATTR_MODIFIABLE},
    {CKA_LOCAL, SCB_P11_ATTR_LOCAL},
    {CKA_SIGN, SCB_P11_ATTR_SIGN},
    {CKA_VERIFY, SCB_P11_ATTR_VERIFY},
    {CKA_ENCRYPT, SCB_P11_ATTR_ENCRYPT},
    {CKA_DECRYPT, SCB_P11_ATTR_DECRYPT},
    {CKA_WRAP, SCB_P11_ATTR_WRAP},
    {CKA_UNWRAP, SCB_P11_ATTR_UNWRAP},
    {CKA_DERIVE, SCB_P11_ATTR_DERIVE},
};
#define N_BOOL_ATTRS (sizeof(bool_attrs) / sizeof(bool_attrs[0]))

static int key_facts(tok_t *t, CK_OBJECT_HANDLE h, const char *label, key_facts_t *f,
                     char *detail, size_t detail_len)
{
    CK_BBOOL b[N_BOOL_ATTRS];
    CK_ATTRIBUTE a[2 + N_BOOL_ATTRS];
    memset(f, 0, sizeof(*f));
    f->key_type = (CK_KEY_TYPE)-1;
    a[0] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &f->key_type, sizeof(f->key_type)};
    a[1] = (CK_ATTRIBUTE){CKA_VALUE_LEN, &f->len, sizeof(f->len)};
    for (size_t i = 0; i < N_BOOL_ATTRS; i++) {
        b[i] = CK_FALSE;
        a[2 + i] = (CK_ATTRIBUTE){bool_attrs[i].type, &b[i], sizeof(b[i])};
    }
    CK_RV rv = t->module->C_GetAttributeValue(t->session, h, a, 2 + N_BOOL_ATTRS);
    /* An attribute the token does not have comes back unavailable: false. */
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
        return rv_fail(detail, detail_len, rv, "C_GetAttributeValue of", label);
    if (a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION)
        f->len = 0;
    for (size_t i = 0; i < N_BOOL_ATTRS; i++)
        if (a[2 + i].ulValueLen == sizeof(CK_BBOOL) && b[i] == CK_TRUE)
            f->attrs |= bool_attrs[i].bit;
    return SCB_OK;
}

/* One block of AES under a key in the token: ECB, or CBC with a zero IV. */
static int tok_encrypt(tok_t *t, CK_OBJECT_HANDLE h, bool cbc, const uint8_t *in, size_t len,
                       uint8_t *out, const char *label, char *detail, size_t detail_len)
{
    uint8_t zero_iv[16] = {0};
    CK_MECHANISM mech = cbc ? (CK_MECHANISM){CKM_AES_CBC, zero_iv, sizeof(zero_iv)}
                            : (CK_MECHANISM){CKM_AES_ECB, NULL, 0};
    CK_RV rv = t->module->C_EncryptInit(t->session, &mech, h);
    if (rv != CKR_OK)
        return rv_fail(detail, detail_len, rv, cbc ? "AES-CBC encryption with" :
                                                     "AES-ECB encryption with", label);
    CK_ULONG out_len = (CK_ULONG)len;
    rv = t->module->C_Encrypt(t->session, (CK_BYTE_PTR)in, (CK_ULONG)len, out, &out_len);
    if (rv != CKR_OK)
        return rv_fail(detail, detail_len, rv, "C_Encrypt with", label);
    if (out_len != len)
        return scb__detail(detail, detail_len, SCB_E_P11_DEVICE,
                           "C_Encrypt with %s returned %lu bytes for %zu", label,
                           (unsigned long)out_len, len);
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* The key-set backend                                                       */
/* ------------------------------------------------------------------------ */
enum cmac_via { VIA_NONE, VIA_SIGN, VIA_CBC, VIA_ECB };

typedef struct p11_keys {
    atomic_int refs;
    pthread_mutex_t lock;   /* every use of tok.session */
    tok_t tok;
    char name[NAME_MAX_LEN + 1];
    char label[4][NAME_MAX_LEN + 8];
    CK_OBJECT_HANDLE obj[4]; /* index SCB_KEY_ENC/MAC/DEK */
    bool present[4];
    unsigned attrs[4];
    int cmac_via[4];
    size_t len;
    /* SCB_P11_GENERATE: nothing exists yet; the first PUT KEY generates */
    bool pending;
    /* the generation's wrapped keys and KCVs, handed to PUT KEY once each */
    uint8_t wrapped[4][32];
    size_t wrapped_len[4];
    uint8_t kcv[4][3];
    bool fresh[4];
} p11_keys_t;

static int choose_cmac(p11_keys_t *k, int type)
{
    unsigned a = k->attrs[type];
    if ((a & SCB_P11_ATTR_SIGN) && k->tok.mech_cmac)
        return VIA_SIGN;
    if ((a & SCB_P11_ATTR_ENCRYPT) && k->tok.mech_cbc)
        return VIA_CBC;
    if ((a & SCB_P11_ATTR_ENCRYPT) && k->tok.mech_ecb)
        return VIA_ECB;
    return VIA_NONE;
}

/* SP 800-38B CMAC on the token's block cipher (see the file comment). */
static int cmac_by_cipher(p11_keys_t *k, int type, const uint8_t *msg, size_t len,
                          uint8_t mac[16], char *detail, size_t detail_len)
{
    static const uint8_t zero[16];
    tok_t *t = &k->tok;
    const char *label = k->label[type];
    bool cbc = k->cmac_via[type] == VIA_CBC;
    uint8_t l[16], k1[16], k2[16];
    uint8_t buf[SCB__KEYS_MSG_MAX + 16], out[SCB__KEYS_MSG_MAX + 16];
    size_t nblocks = len == 0 ? 1 : (len + 15) / 16;
    size_t tail = len - (nblocks - 1) * 16;
    int rc = tok_encrypt(t, k->obj[type], cbc, zero, 16, l, label, detail, detail_len);
    if (rc == SCB_OK) {
        scb__cmac_double(l, k1);
        scb__cmac_double(k1, k2);
        memset(buf, 0, sizeof(buf));
        if (len > 0)
            memcpy(buf, msg, len);
        uint8_t *last = buf + (nblocks - 1) * 16;
        const uint8_t *sub = tail == 16 ? k1 : k2;
        if (tail < 16)
            last[tail] = 0x80;
        for (int i = 0; i < 16; i++)
            last[i] ^= sub[i];
        if (cbc) {
            rc = tok_encrypt(t, k->obj[type], true, buf, nblocks * 16, out, label, detail,
                             detail_len);
            if (rc == SCB_OK)
                memcpy(mac, out + (nblocks - 1) * 16, 16);
        } else {
            CK_MECHANISM mech = {CKM_AES_ECB, NULL, 0};
            CK_RV rv = t->module->C_EncryptInit(t->session, &mech, k->obj[type]);
            uint8_t x[16] = {0};
            for (size_t b = 0; rv == CKR_OK && b < nblocks; b++) {
                for (int i = 0; i < 16; i++)
                    x[i] ^= buf[16 * b + (size_t)i];
                CK_ULONG n = 16;
                rv = t->module->C_EncryptUpdate(t->session, x, 16, x, &n);
                if (rv == CKR_OK && n != 16)
                    rv = CKR_GENERAL_ERROR;
            }
            if (rv == CKR_OK) {
                CK_ULONG n = sizeof(out);
                rv = t->module->C_EncryptFinal(t->session, out, &n);
            }
            if (rv == CKR_OK)
                memcpy(mac, x, 16);
            else
                rc = rv_fail(detail, detail_len, rv, "AES-ECB (CMAC) with", label);
            scb__cleanse(x, sizeof(x));
        }
    }
    scb__cleanse(l, sizeof(l));
    scb__cleanse(k1, sizeof(k1));
    scb__cleanse(k2, sizeof(k2));
    scb__cleanse(buf, sizeof(buf));
    scb__cleanse(out, sizeof(out));
    return rc;
}

static int need_key(p11_keys_t *k, int type, char *detail, size_t detail_len)
{
    if (k->pending)
        return scb__detail(detail, detail_len, SCB_E_P11_OBJECT,
                           "key set '%s' of token '%s' is generated by the PUT KEY that first "
                           "uses it, and does not exist yet",
                           k->name, k->tok.token_label);
    if (!k->present[type])
        return scb__detail(detail, detail_len, SCB_E_P11_OBJECT,
                           "object '%s' not found in token '%s'", k->label[type],
                           k->tok.token_label);
    return SCB_OK;
}

static int p11_cmac(void *be, int type, const uint8_t *msg, size_t len, uint8_t mac[16],
                    char *detail, size_t detail_len)
{
    p11_keys_t *k = be;
    pthread_mutex_lock(&k->lock);
    int rc = need_key(k, type, detail, detail_len);
    if (rc == SCB_OK && k->cmac_via[type] == VIA_NONE)
        rc = scb__detail(detail, detail_len,
                         (k->attrs[type] & (SCB_P11_ATTR_SIGN | SCB_P11_ATTR_ENCRYPT))
                             ? SCB_E_P11_MECHANISM
                             : SCB_E_P11_USAGE,
                         "'%s' can compute no AES-CMAC: it needs CKA_SIGN with CKM_AES_CMAC, or "
                         "CKA_ENCRYPT with CKM_AES_CBC or CKM_AES_ECB",
                         k->label[type]);
    if (rc == SCB_OK && k->cmac_via[type] == VIA_SIGN) {
        tok_t *t = &k->tok;
        CK_MECHANISM mech = {CKM_AES_CMAC, NULL, 0};
        CK_RV rv = t->module->C_SignInit(t->session, &mech, k->obj[type]);
        CK_ULONG n = 16;
        if (rv == CKR_OK)
            rv = t->module->C_Sign(t->session, (CK_BYTE_PTR)msg, (CK_ULONG)len, mac, &n);
        if (rv != CKR_OK)
            rc = rv_fail(detail, detail_len, rv, "AES-CMAC (C_Sign) with", k->label[type]);
        else if (n != 16)
            rc = scb__detail(detail, detail_len, SCB_E_P11_DEVICE,
                             "C_Sign with %s gave a %lu-byte CMAC", k->label[type],
                             (unsigned long)n);
    } else if (rc == SCB_OK) {
        rc = cmac_by_cipher(k, type, msg, len, mac, detail, detail_len);
    }
    pthread_mutex_unlock(&k->lock);
    return rc;
}

static int ecb_block_locked(p11_keys_t *k, int type, const uint8_t in[16], uint8_t out[16],
                            char *detail, size_t detail_len)
{
    int rc = need_key(k, type, detail, detail_len);
    if (rc != SCB_OK)
        return rc;
    if (!(k->attrs[type] & SCB_P11_ATTR_ENCRYPT))
        return scb__detail(detail, detail_len, SCB_E_P11_USAGE,
                           "'%s' lacks CKA_ENCRYPT, which its KCV needs", k->label[type]);
    if (!k->tok.mech_ecb && !k->tok.mech_cbc)
        return scb__detail(detail, detail_len, SCB_E_P11_MECHANISM,
                           "token '%s' has neither CKM_AES_ECB nor CKM_AES_CBC for a KCV",
                           k->tok.token_label);
    /* one block of CBC with a zero IV is ECB */
    return tok_encrypt(&k->tok, k->obj[type], !k->tok.mech_ecb, in, 16, out, k->label[type],
                       detail, detail_len);
}

static int p11_ecb(void *be, int type, const uint8_t in[16], uint8_t out[16], char *detail,
                   size_t detail_len)
{
    p11_keys_t *k = be;
    pthread_mutex_lock(&k->lock);
    int rc = ecb_block_locked(k, type, in, out, detail, detail_len);
    pthread_mutex_unlock(&k->lock);
    return rc;
}

static int p11_cbc(void *be, int type, const uint8_t *in, size_t len, uint8_t *out, char *detail,
                   size_t detail_len)
{
    p11_keys_t *k = be;
    pthread_mutex_lock(&k->lock);
    int rc = need_key(k, type, detail, detail_len);
    if (rc == SCB_OK && !(k->attrs[type] & SCB_P11_ATTR_ENCRYPT))
        rc = scb__detail(detail, detail_len, SCB_E_P11_USAGE,
                         "'%s' lacks CKA_ENCRYPT, which PUT KEY of keys from a file needs",
                         k->label[type]);
    if (rc == SCB_OK && !k->tok.mech_cbc)
        rc = scb__detail(detail, detail_len, SCB_E_P11_MECHANISM,
                         "token '%s' lacks CKM_AES_CBC encryption", k->tok.token_label);
    if (rc == SCB_OK)
        rc = tok_encrypt(&k->tok, k->obj[type], true, in, len, out, k->label[type], detail,
                         detail_len);
    pthread_mutex_unlock(&k->lock);
    return rc;
}

static const scb__keys_ops_t p11_ops;

/* One token seen through two sessions (perhaps two modules in front of it):
 * the same label, serial number, manufacturer and model. */
static bool same_token(const tok_t *a, const tok_t *b)
{
    return strcmp(a->token_label, b->token_label) == 0 &&
           strcmp(a->token_serial, b->token_serial) == 0 &&
           strcmp(a->token_maker, b->token_maker) == 0;
}

/* The key that wraps this set's keys for the card: the current DEK, found
 * in this set's own session (same token) or imported as a session object
 * (host DEK). *imported: destroy it after use. */
static int wrapping_key(p11_keys_t *k, const scb_keys_t *dek, CK_OBJECT_HANDLE *h,
                        bool *imported, char *detail, size_t detail_len)
{
    tok_t *t = &k->tok;
    *imported = false;
    void *dbe = NULL;
    const scb__keys_ops_t *ops = scb__keys_backend(dek, &dbe);
    if (ops == &p11_ops) {
        const p11_keys_t *d = dbe;
        if (!same_token(&d->tok, t))
            return scb__detail(detail, detail_len, SCB_E_P11_TOKEN,
                               "the new keys are in token '%s' but the card's DEK is in token "
                               "'%s': a token can only wrap under a DEK it holds",
                               t->token_label, d->tok.token_label);
        int found = 0;
        int rc = find_label(t, d->label[SCB_KEY_DEK], h, &found, detail, detail_len);
        if (rc != SCB_OK)
            return rc;
        if (found != 1)
            return scb__detail(detail, detail_len, SCB_E_P11_OBJECT,
                               "object '%s' %s in token '%s'", d->label[SCB_KEY_DEK],
                               found ? "is ambiguous" : "not found", t->token_label);
        key_facts_t f;
        rc = key_facts(t, *h, d->label[SCB_KEY_DEK], &f, detail, detail_len);
        if (rc == SCB_OK && !(f.attrs & SCB_P11_ATTR_WRAP))
            rc = scb__detail(detail, detail_len, SCB_E_P11_USAGE,
                             "'%s' lacks CKA_WRAP, so it cannot wrap keys generated in the "
                             "token (scboot keys import sets it)",
                             d->label[SCB_KEY_DEK]);
        return rc;
    }
    const uint8_t *bytes = scb__keys_key(dek, SCB_KEY_DEK);
    if (bytes == NULL)
        return scb__detail(detail, detail_len, SCB_E_SCP_KEY, "the current key set has no DEK");
    static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, (void *)&no, sizeof(no)},
        {CKA_PRIVATE, (void *)&yes, sizeof(yes)},
        {CKA_SENSITIVE, (void *)&yes, sizeof(yes)},
        {CKA_EXTRACTABLE, (void *)&no, sizeof(no)},
        {CKA_WRAP, (void *)&yes, sizeof(yes)},
        {CKA_UNWRAP, (void *)&no, sizeof(no)},
        {CKA_ENCRYPT, (void *)&no, sizeof(no)},
        {CKA_DECRYPT, (void *)&no, sizeof(no)},
        {CKA_SIGN, (void *)&no, sizeof(no)},
        {CKA_VERIFY, (void *)&no, sizeof(no)},
        {CKA_DERIVE, (void *)&no, sizeof(no)},
        {CKA_VALUE, (void *)bytes, (CK_ULONG)scb_keys_length(dek)},
    };
    CK_RV rv = t->module->C_CreateObject(t->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), h);
    if (rv != CKR_OK)
        return rv_fail(detail, detail_len, rv,
                       "importing the card's DEK as a session wrapping key into token",
                       t->token_label);
    *imported = true;
    return SCB_OK;
}

static int wrap_cbc(tok_t *t, CK_OBJECT_HANDLE wrapper, CK_OBJECT_HANDLE key, size_t key_len,
                    uint8_t out[32], size_t *out_len, const char *label, char *detail,
                    size_t detail_len)
{
    uint8_t zero_iv[16] = {0};
    CK_MECHANISM mech = {CKM_AES_CBC, zero_iv, sizeof(zero_iv)};
    CK_ULONG n = 32;
    CK_RV rv = t->module->C_WrapKey(t->session, &mech, wrapper, key, out, &n);
    if (rv != CKR_OK)
        return rv_fail(detail, detail_len, rv, "wrapping (C_WrapKey, CKM_AES_CBC)", label);
    if (n != key_len)
        return scb__detail(detail, detail_len, SCB_E_P11_DEVICE,
                           "C_WrapKey of %s gave %lu bytes for a %zu-byte key", label,
                           (unsigned long)n, key_len);
    *out_len = n;
    return SCB_OK;
}

static const CK_BBOOL ck_yes = CK_TRUE, ck_no = CK_FALSE;

/* One attribute, set field by field: a template written as constant
 * compound literals is copied by gcc for arm64 from an initialised
 * writable block (.data), static data the library must not have
 * (tests/build/check_symbols.sh). */
static void set_attr(CK_ATTRIBUTE *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
    a->type = type;
    a->pValue = (void *)value;
    a->ulValueLen = len;
}

/* The template of a key object scboot makes: sensitive, private, on the
 * token, with exactly the usages it needs. ENC, MAC and DEK may all sign
 * (CMAC: the KDF with ENC and MAC, KDF3 with each key of a master set) and
 * encrypt (the KCV; PUT KEY under the DEK); only the DEK wraps. */
#define KEY_TEMPLATE_MAX 18
static CK_ULONG key_template(CK_ATTRIBUTE *a, const CK_OBJECT_CLASS *cls, const CK_KEY_TYPE *kt,
                             const char *label, int type, bool extractable, bool modifiable)
{
    const CK_ULONG b = sizeof(CK_BBOOL);
    CK_ULONG n = 0;
    set_attr(&a[n++], CKA_CLASS, cls, sizeof(*cls));
    set_attr(&a[n++], CKA_KEY_TYPE, kt, sizeof(*kt));
    set_attr(&a[n++], CKA_TOKEN, &ck_yes, b);
    set_attr(&a[n++], CKA_PRIVATE, &ck_yes, b);
    set_attr(&a[n++], CKA_LABEL, label, (CK_ULONG)strlen(label));
    set_attr(&a[n++], CKA_SENSITIVE, &ck_yes, b);
    set_attr(&a[n++], CKA_EXTRACTABLE, extractable ? &ck_yes : &ck_no, b);
    set_attr(&a[n++], CKA_MODIFIABLE, modifiable ? &ck_yes : &ck_no, b);
    set_attr(&a[n++], CKA_SIGN, &ck_yes, b);
    set_attr(&a[n++], CKA_ENCRYPT, &ck_yes, b);
    set_attr(&a[n++], CKA_WRAP, type == SCB_KEY_DEK ? &ck_yes : &ck_no, b);
    set_attr(&a[n++], CKA_VERIFY, &ck_no, b);
    set_attr(&a[n++], CKA_DECRYPT, &ck_no, b);
    set_attr(&a[n++], CKA_UNWRAP, &ck_no, b);
    set_attr(&a[n++], CKA_DERIVE, &ck_no, b);
    return n;
}

/* Generate ENC, MAC, DEK in the token (extractable ones for a rotation, or
 * never-extractable ones for `keys generate`). On failure the objects made
 * are destroyed. */
static int generate_set(tok_t *t, const char *name, size_t key_len, bool extractable,
                        CK_OBJECT_HANDLE objs[4], char *detail, size_t detail_len)
{
    if (!t->mech_keygen)
        return scb__detail(detail, detail_len, SCB_E_P11_MECHANISM,
                           "token '%s' lacks CKM_AES_KEY_GEN", t->token_label);
    static const CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    static const CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG vlen = (CK_ULONG)key_len;
    CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
    int rc = SCB_OK;
    int made = 0;
    for (int type = SCB_KEY_ENC; rc == SCB_OK && type <= SCB_KEY_DEK; type++) {
        char label[NAME_MAX_LEN + 8];
        set_label(label, sizeof(label), name, type);
        CK_ATTRIBUTE a[KEY_TEMPLATE_MAX];
        CK_ULONG n = key_template(a, &cls, &kt, label, type, extractable, extractable);
        a[n++] = (CK_ATTRIBUTE){CKA_VALUE_LEN, &vlen, sizeof(vlen)};
        CK_RV rv = t->module->C_GenerateKey(t->session, &mech, a, n, &objs[type]);
        if (rv != CKR_OK)
            rc = rv_fail(detail, detail_len, rv, "generating (CKM_AES_KEY_GEN)", label);
        else
            made = type;
    }
    if (rc != SCB_OK)
        for (int type = SCB_KEY_ENC; type <= made; type++)
            t->module->C_DestroyObject(t->session, objs[type]);
    return rc;
}

/* None of NAME/enc, NAME/mac, NAME/dek may exist before import/generate. */
static int none_exists(tok_t *t, const char *name, char *detail, size_t detail_len)
{
    for (int type = SCB_KEY_ENC; type <= SCB_KEY_DEK; type++) {
        char label[NAME_MAX_LEN + 8];
        set_label(label, sizeof(label), name, type);
        CK_OBJECT_HANDLE h;
        int found = 0;
        int rc = find_label(t, label, &h, &found, detail, detail_len);
        if (rc != SCB_OK)
            return rc;
        if (found)
            return scb__detail(detail, detail_len, SCB_E_P11_OBJECT,
                               "object '%s' exists already in token '%s': choose another key "
                               "set name",
                               label, t->token_label);
    }
    return SCB_OK;
}

/* The rotation: generate, wrap each key once under the card's DEK, KCVs,
 * then seal (CKA_EXTRACTABLE false) before anything reaches the card. */
static int generate_for_put_key(p11_keys_t *k, const scb_keys_t *dek, char *detail,
                                size_t detail_len)
{
    tok_t *t = &k->tok;
    if (k->len == 24)
        return scb__detail(detail, detail_len, SCB_E_P11_MECHANISM,
                           "AES-192 keys are not whole AES blocks, and CKM_AES_CBC can only "
                           "wrap whole blocks: generate 16- or 32-byte keys in the token");
    if (!t->mech_keygen)
        return scb__detail(detail, detail_len, SCB_E_P11_MECHANISM,
                           "token '%s' lacks CKM_AES_KEY_GEN", t->token_label);
    if (!t->mech_wrap_cbc)
        return scb__detail(detail, detail_len, SCB_E_P11_MECHANISM,
                           "token '%s' cannot wrap with CKM_AES_CBC", t->token_label);
    if (!t->mech_ecb && !t->mech_cbc)
        return scb__detail(detail, detail_len, SCB_E_P11_MECHANISM,
                           "token '%s' has no AES encryption for the KCVs", t->token_label);
    int rc = none_exists(t, k->name, detail, detail_len);
    if (rc != SCB_OK)
        return rc;
    CK_OBJECT_HANDLE wrapper = CK_INVALID_HANDLE, objs[4] = {0};
    bool imported = false;
    rc = wrapping_key(k, dek, &wrapper, &imported, detail, detail_len);
    if (rc == SCB_OK)
        rc = generate_set(t, k->name, k->len, true, objs, detail, detail_len);
    bool generated = rc == SCB_OK;
    static const uint8_t ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int type = SCB_KEY_ENC; rc == SCB_OK && type <= SCB_KEY_DEK; type++) {
        uint8_t block[16];
        rc = wrap_cbc(t, wrapper, objs[type], k->len, k->wrapped[type], &k->wrapped_len[type],
                      k->label[type], detail, detail_len);
        if (rc == SCB_OK)
            rc = tok_encrypt(t, objs[type], !t->mech_ecb, ones, 16, block, k->label[type],
                             detail, detail_len);
        if (rc == SCB_OK)
            memcpy(k->kcv[type], block, 3);
        scb__cleanse(block, sizeof(block));
    }
    CK_ATTRIBUTE seal;
    set_attr(&seal, CKA_EXTRACTABLE, &ck_no, sizeof(CK_BBOOL));
    for (int type = SCB_KEY_ENC; rc == SCB_OK && type <= SCB_KEY_DEK; type++) {
        CK_RV rv = t->module->C_SetAttributeValue(t->session, objs[type], &seal, 1);
        if (rv != CKR_OK)
            rc = rv_fail(detail, detail_len, rv,
                         "making the generated key non-extractable (CKA_EXTRACTABLE false)",
                         k->label[type]);
    }
    if (imported)
        t->module->C_DestroyObject(t->session, wrapper);
    if (rc != SCB_OK) {
        if (generated)
            for (int type = SCB_KEY_ENC; type <= SCB_KEY_DEK; type++)
                t->module->C_DestroyObject(t->session, objs[type]);
        scb__cleanse(k->wrapped, sizeof(k->wrapped));
        return rc;
    }
    for (int type = SCB_KEY_ENC; type <= SCB_KEY_DEK; type++) {
        key_facts_t f;
        k->obj[type] = objs[type];
        k->present[type] = true;
        k->attrs[type] = key_facts(t, objs[type], k->label[type], &f, NULL, 0) == SCB_OK
                             ? f.attrs
                             : (SCB_P11_ATTR_SIGN | SCB_P11_ATTR_ENCRYPT);
        k->cmac_via[type] = choose_cmac(k, type);
        k->fresh[type] = true;
    }
    k->pending = false;
    return SCB_OK;
}

static int p11_put_key(void *be, int type, const scb_keys_t *dek, uint8_t out[32],
                       size_t *out_len, uint8_t kcv[3], char *detail, size_t detail_len)
{
    p11_keys_t *k = be;
    pthread_mutex_lock(&k->lock);
    int rc = SCB_OK;
    if (k->pending)
        rc = generate_for_put_key(k, dek, detail, detail_len);
    if (rc == SCB_OK && k->fresh[type]) {
        memcpy(out, k->wrapped[type], k->wrapped_len[type]);
        *out_len = k->wrapped_len[type];
        memcpy(kcv, k->kcv[type], 3);
        scb__cleanse(k->wrapped[type], sizeof(k->wrapped[type]));
        k->fresh[type] = false;
    } else if (rc == SCB_OK) {
        /* objects that existed before: wrapped as they are, if they may be */
        rc = need_key(k, type, detail, detail_len);
        if (rc == SCB_OK && !(k->attrs[type] & SCB_P11_ATTR_EXTRACTABLE))
            rc = scb__detail(detail, detail_len, SCB_E_P11_USAGE,
                             "'%s' may not leave the token (CKA_EXTRACTABLE false), so it "
                             "cannot be put on a card: name a new key set and put-key "
                             "generates it in the token",
                             k->label[type]);
        CK_OBJECT_HANDLE wrapper = CK_INVALID_HANDLE;
        bool imported = false;
        uint8_t block[16];
        static const uint8_t ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        if (rc == SCB_OK)
            rc = wrapping_key(k, dek, &wrapper, &imported, detail, detail_len);
        if (rc == SCB_OK)
            rc = wrap_cbc(&k->tok, wrapper, k->obj[type], k->len, out, out_len, k->label[type],
                          detail, detail_len);
        if (rc == SCB_OK)
            rc = ecb_block_locked(k, type, ones, block, detail, detail_len);
        if (rc == SCB_OK)
            memcpy(kcv, block, 3);
        scb__cleanse(block, sizeof(block));
        if (imported)
            k->tok.module->C_DestroyObject(k->tok.session, wrapper);
    }
    pthread_mutex_unlock(&k->lock);
    return rc;
}

static void *p11_retain(void *be)
{
    p11_keys_t *k = be;
    atomic_fetch_add(&k->refs, 1);
    return k;
}

static void p11_release(void *be)
{
    p11_keys_t *k = be;
    if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    tok_close(&k->tok);
    pthread_mutex_destroy(&k->lock);
    scb__cleanse(k, sizeof(*k));
    free(k);
}

static const scb__keys_ops_t p11_ops = {
    .name = "pkcs11",
    .cmac = p11_cmac,
    .ecb = p11_ecb,
    .cbc = p11_cbc,
    .put_key = p11_put_key,
    .retain = p11_retain,
    .release = p11_release,
};

/* Find NAME/enc, NAME/mac, NAME/dek and check what they can do. */
static int open_set(p11_keys_t *k, unsigned flags, char *detail, size_t detail_len)
{
    tok_t *t = &k->tok;
    int found[4] = {0};
    for (int type = SCB_KEY_ENC; type <= SCB_KEY_DEK; type++) {
        set_label(k->label[type], sizeof(k->label[type]), k->name, type);
        int rc = find_label(t, k->label[type], &k->obj[type], &found[type], detail, detail_len);
        if (rc != SCB_OK)
            return rc;
        if (found[type] > 1)
            return scb__detail(detail, detail_len, SCB_E_P11_OBJECT,
                               "several objects are labelled '%s' in token '%s'",
                               k->label[type], t->token_label);
    }
    if ((flags & SCB_P11_GENERATE) && !found[1] && !found[2] && !found[3]) {
        k->pending = true;
        k->len = (flags & SCB_P11_AES256) ? 32 : (flags & SCB_P11_AES192) ? 24 : 16;
        return SCB_OK;
    }
    if (!found[SCB_KEY_ENC] || !found[SCB_KEY_MAC] ||
        ((flags & SCB_P11_GENERATE) && !found[SCB_KEY_DEK])) {
        int missing = !found[SCB_KEY_ENC] ? SCB_KEY_ENC : !found[SCB_KEY_MAC] ? SCB_KEY_MAC
                                                                               : SCB_KEY_DEK;
        return scb__detail(detail, detail_len, SCB_E_P11_OBJECT,
                           "object '%s' not found in token '%s' (%s)", k->label[missing],
                           t->token_label, t->module_file);
    }
    for (int type = SCB_KEY_ENC; type <= SCB_KEY_DEK; type++) {
        if (!found[type])
            continue;
        key_facts_t f;
        int rc = key_facts(t, k->obj[type], k->label[type], &f, detail, detail_len);
        if (rc != SCB_OK)
            return rc;
        if (f.key_type != CKK_AES)
            return scb__detail(detail, detail_len, SCB_E_P11_OBJECT,
                               "'%s' is not an AES key (key type 0x%lX)", k->label[type],
                               (unsigned long)f.key_type);
        if (f.len != 16 && f.len != 24 && f.len != 32)
            return scb__detail(detail, detail_len, SCB_E_P11_OBJECT,
                               "'%s' is %lu bytes long, not an AES-128/192/256 key",
                               k->label[type], (unsigned long)f.len);
        if (type == SCB_KEY_ENC)
            k->len = f.len;
        else if (f.len != k->len)
            return scb__detail(detail, detail_len, SCB_E_P11_OBJECT,
                               "'%s' is %lu bytes long but '%s' %zu: a key set has one length",
                               k->label[type], (unsigned long)f.len, k->label[SCB_KEY_ENC],
                               k->len);
        k->present[type] = true;
        k->attrs[type] = f.attrs;
        k->cmac_via[type] = choose_cmac(k, type);
    }
    /* ENC and MAC must at least MAC (the KDF): say now, not mid-handshake. */
    for (int type = SCB_KEY_ENC; type <= SCB_KEY_MAC; type++) {
        if (k->cmac_via[type] != VIA_NONE)
            continue;
        if (!(k->attrs[type] & (SCB_P11_ATTR_SIGN | SCB_P11_ATTR_ENCRYPT)))
            return scb__detail(detail, detail_len, SCB_E_P11_USAGE,
                               "'%s' has neither CKA_SIGN nor CKA_ENCRYPT: SCP03 needs an "
                               "AES-CMAC with it",
                               k->label[type]);
        return scb__detail(detail, detail_len, SCB_E_P11_MECHANISM,
                           "token '%s' offers '%s' no mechanism for AES-CMAC (CKM_AES_CMAC to "
                           "sign, or CKM_AES_CBC / CKM_AES_ECB to encrypt)",
                           t->token_label, k->label[type]);
    }
    return SCB_OK;
}

int scb_keys_open_pkcs11(scb_keys_t **out, const char *uri, uint8_t kvn, const char *pin,
                         unsigned flags, char *detail, size_t detail_len)
{
    if (detail != NULL && detail_len > 0)
        detail[0] = 0;
    if (out == NULL)
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG, "no place for the key set");
    *out = NULL;
    if ((flags & SCB_P11_AES192) && (flags & SCB_P11_AES256))
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG,
                           "choose one key length for a generated set");
    p11_keys_t *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return SCB_E_NOMEM;
    atomic_init(&k->refs, 1);
    if (pthread_mutex_init(&k->lock, NULL) != 0) {
        free(k);
        return SCB_E_NOMEM;
    }
    uri_req_t r;
    int rc = tok_open(&k->tok, uri, pin, flags, true, (flags & SCB_P11_GENERATE) != 0, &r,
                      detail, detail_len);
    if (rc == SCB_OK) {
        snprintf(k->name, sizeof(k->name), "%s", r.object);
        rc = open_set(k, flags, detail, detail_len);
    }
    uri_free(&r);
    if (rc == SCB_OK)
        rc = scb__keys_wrap_backend(out, &p11_ops, k, k->len, k->pending || k->present[SCB_KEY_DEK],
                                    kvn);
    if (rc != SCB_OK)
        p11_release(k);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Operator commands                                                         */
/* ------------------------------------------------------------------------ */
int scb_pkcs11_import(const char *uri, const char *pin, unsigned flags, const scb_keys_t *keys,
                      char *detail, size_t detail_len)
{
    if (detail != NULL && detail_len > 0)
        detail[0] = 0;
    if (keys == NULL || scb__keys_key(keys, SCB_KEY_ENC) == NULL)
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG,
                           "import needs a key set in memory (a keys file)");
    tok_t t;
    uri_req_t r;
    int rc = tok_open(&t, uri, pin, flags, true, true, &r, detail, detail_len);
    if (rc != SCB_OK) {
        uri_free(&r);
        return rc;
    }
    rc = none_exists(&t, r.object, detail, detail_len);
    static const CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    static const CK_KEY_TYPE kt = CKK_AES;
    CK_OBJECT_HANDLE made[4] = {0};
    int last = 0;
    for (int type = SCB_KEY_ENC; rc == SCB_OK && type <= SCB_KEY_DEK; type++) {
        const uint8_t *bytes = scb__keys_key(keys, type);
        if (bytes == NULL)
            continue; /* no DEK in the set */
        char label[NAME_MAX_LEN + 8];
        set_label(label, sizeof(label), r.object, type);
        CK_ATTRIBUTE a[KEY_TEMPLATE_MAX];
        CK_ULONG n = key_template(a, &cls, &kt, label, type, false, false);
        a[n++] = (CK_ATTRIBUTE){CKA_VALUE, (void *)bytes, (CK_ULONG)scb_keys_length(keys)};
        CK_RV rv = t.module->C_CreateObject(t.session, a, n, &made[type]);
        if (rv != CKR_OK)
            rc = rv_fail(detail, detail_len, rv, "creating", label);
        else
            last = type;
    }
    if (rc != SCB_OK)
        for (int type = SCB_KEY_ENC; type <= last; type++)
            if (made[type] != 0)
                t.module->C_DestroyObject(t.session, made[type]);
    uri_free(&r);
    tok_close(&t);
    return rc;
}

int scb_pkcs11_generate(const char *uri, const char *pin, unsigned flags, size_t key_len,
                        char *detail, size_t detail_len)
{
    if (detail != NULL && detail_len > 0)
        detail[0] = 0;
    if (key_len != 16 && key_len != 24 && key_len != 32)
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG,
                           "key length %zu: 16, 24 or 32 bytes", key_len);
    tok_t t;
    uri_req_t r;
    int rc = tok_open(&t, uri, pin, flags, true, true, &r, detail, detail_len);
    if (rc == SCB_OK)
        rc = none_exists(&t, r.object, detail, detail_len);
    CK_OBJECT_HANDLE objs[4] = {0};
    if (rc == SCB_OK)
        rc = generate_set(&t, r.object, key_len, false, objs, detail, detail_len);
    uri_free(&r);
    if (t.has_session || t.module != NULL || t.modules != NULL)
        tok_close(&t);
    return rc;
}

static void report_object(tok_t *t, CK_OBJECT_HANDLE h, scb_p11_object_fn fn, void *user)
{
    char raw[128] = "", label[128];
    CK_ATTRIBUTE la = {CKA_LABEL, raw, sizeof(raw) - 1};
    if (t->module->C_GetAttributeValue(t->session, h, &la, 1) != CKR_OK ||
        la.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        la.ulValueLen = 0;
    padded_text((const unsigned char *)raw, la.ulValueLen, label, sizeof(label));
    key_facts_t f;
    if (key_facts(t, h, label, &f, NULL, 0) != SCB_OK || f.key_type != CKK_AES)
        return;
    scb_p11_object_t o = {.label = label, .key_len = f.len, .attrs = f.attrs};
    static const uint8_t ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    uint8_t block[16];
    if ((f.attrs & SCB_P11_ATTR_ENCRYPT) && (t->mech_ecb || t->mech_cbc) &&
        tok_encrypt(t, h, !t->mech_ecb, ones, 16, block, label, NULL, 0) == SCB_OK) {
        memcpy(o.kcv, block, 3);
        o.has_kcv = 1;
    }
    scb__cleanse(block, sizeof(block));
    fn(user, &o);
}

int scb_pkcs11_list(const char *uri, const char *pin, unsigned flags, scb_p11_object_fn fn,
                    void *user, char *detail, size_t detail_len)
{
    if (detail != NULL && detail_len > 0)
        detail[0] = 0;
    if (fn == NULL)
        return scb__detail(detail, detail_len, SCB_E_INVALID_ARG, "no callback");
    tok_t t;
    uri_req_t r;
    int rc = tok_open(&t, uri, pin, flags, false, false, &r, detail, detail_len);
    if (rc != SCB_OK) {
        uri_free(&r);
        return rc;
    }
    if (r.object[0] != 0) {
        for (int type = SCB_KEY_ENC; rc == SCB_OK && type <= SCB_KEY_DEK; type++) {
            char label[NAME_MAX_LEN + 8];
            set_label(label, sizeof(label), r.object, type);
            CK_OBJECT_HANDLE h;
            int found = 0;
            rc = find_label(&t, label, &h, &found, detail, detail_len);
            if (rc == SCB_OK && found == 1)
                report_object(&t, h, fn, user);
        }
    } else {
        /* every secret key: collect the handles first, then ask about each
         * (no other call may run inside a find operation) */
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_ATTRIBUTE tmpl = {CKA_CLASS, &cls, sizeof(cls)};
        CK_OBJECT_HANDLE hs[MAX_LISTED];
        CK_ULONG n = 0;
        CK_RV rv = t.module->C_FindObjectsInit(t.session, &tmpl, 1);
        if (rv == CKR_OK) {
            rv = t.module->C_FindObjects(t.session, hs, MAX_LISTED, &n);
            t.module->C_FindObjectsFinal(t.session);
        }
        if (rv != CKR_OK)
            rc = rv_fail(detail, detail_len, rv, "listing the secret keys of token",
                         t.token_label);
        for (CK_ULONG i = 0; rc == SCB_OK && i < n; i++)
            report_object(&t, hs[i], fn, user);
    }
    uri_free(&r);
    tok_close(&t);
    return rc;
}

#endif /* SCB_WITH_PKCS11 */
