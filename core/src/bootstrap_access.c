/*
 * The job: read (and write) the LwM2M bootstrap file as the OMA LwM2M Core
 * TS lays it out (Appendix G "Storage of LwM2M Bootstrap Information on the
 * Smartcard", Appendix H secure channel):
 *
 *   EF.DIR (2F00, SFI 1E) -> PKCS#15 template -> a logical channel with
 *   the ADF selected on it (MANAGE CHANNEL + SELECT by AID, or the
 *   transport's own, e.g. AT+CCHO) -> SCP03 with the ADF's Security Domain ->
 *   EF.ODF (5031) -> [7] DODF paths -> DODF entry with OID 2.23.43.9.1 ->
 *   Path -> bootstrap EF -> channel closed (also after an error).
 *
 * APDU budget: a cold read of a small file at level 0x33 takes 12 APDUs:
 * EF.DIR is read through its SFI without a SELECT, the ADF is
 * selected without FCP, and the bootstrap EF is read only up to the end of
 * its meaningful content (the 4-byte header tells), not its FF padding.
 */
#include "crypto.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EF_DIR_SFI 0x1E       /* TS 102 221 13.1 */
#define EF_DIR_FID 0x2F00
#define EF_ODF_FID 0x5031     /* ISO 7816-15 / PKCS#15 default */
#define MAX_DIR_RECORDS 32
#define MAX_DODF_PATHS 8
#define MAX_AODF_PATHS 4
#define MAX_ODF_ENTRIES 24    /* 7816-15 has 9 kinds of directory; cards list each once or so */

/* ------------------------------------------------------------------------ */
/* Finding the PKCS#15 application                                           */
/* ------------------------------------------------------------------------ */

/* Look at one EF.DIR record (or a transparent EF.DIR) for the PKCS#15 template. */
static bool dir_entry(scb_card_t *card, const uint8_t *rec, size_t len, scb_app_template_t *t)
{
    char detail[160] = "";
    int rc = scb_pkcs15_parse_dir(rec, len, t, detail, sizeof(detail));
    if (rc == SCB_OK && t->aid_len > 0)
        return true;
    if (rc == SCB_E_PARSE)
        scb__note(card, "EF.DIR: skipping a malformed record (%s)", detail);
    return false;
}

/* EF.DIR: records through SFI 1E first (no SELECT needed on the basic
 * channel); when the card does not resolve the SFI, SELECT 2F00 from the MF
 * and read it by structure. Returns 1 when found, 0 when not (no EF.DIR,
 * no template), < 0 on a card/transport error. */
static int find_in_efdir(scb_card_t *card, scb_app_template_t *t)
{
    uint8_t rec[258];
    size_t len = sizeof(rec);
    uint16_t sw = 0;
    int rc = scb__read_record(card, EF_DIR_SFI, 1, rec, &len, &sw);
    if (rc != SCB_OK)
        return rc;
    if (scb__sw_ok(sw)) {
        for (uint8_t n = 1;;) {
            if (dir_entry(card, rec, len, t))
                return 1;
            if (++n > MAX_DIR_RECORDS)
                return 0;
            len = sizeof(rec);
            rc = scb__read_record(card, EF_DIR_SFI, n, rec, &len, &sw);
            if (rc != SCB_OK)
                return rc;
            if (!scb__sw_ok(sw))
                return 0; /* 6A83: past the last record */
        }
    }
    /* The SFI did not resolve (6A82 / 6981 / 6A86 ...): select by path. */
    scb__note(card, "EF.DIR not reachable through SFI 1E (%04X); selecting 2F00", sw);
    const uint8_t path[2] = {EF_DIR_FID >> 8, EF_DIR_FID & 0xFF};
    scb_fcp_t fcp;
    rc = scb__select_path(card, path, sizeof(path), true, SCB_SEL_FCP, &fcp);
    if (rc == SCB_E_NOT_FOUND)
        return 0;
    if (rc != SCB_OK)
        return rc;
    if (fcp.structure == SCB_FS_TRANSPARENT) {
        uint8_t *buf = malloc(SCB_MAX_FILE_SIZE);
        if (buf == NULL)
            return SCB_E_NOMEM;
        size_t n = SCB_MAX_FILE_SIZE;
        rc = scb__read_binary(card, fcp.has_size ? fcp.file_size : 0, buf, &n, 0);
        int found = rc == SCB_OK && dir_entry(card, buf, n, t);
        free(buf);
        return rc != SCB_OK ? rc : found;
    }
    size_t count = fcp.record_count > 0 ? fcp.record_count : MAX_DIR_RECORDS;
    if (count > MAX_DIR_RECORDS)
        count = MAX_DIR_RECORDS;
    for (size_t n = 1; n <= count; n++) {
        len = sizeof(rec);
        rc = scb__read_record(card, 0, (uint8_t)n, rec, &len, &sw);
        if (rc != SCB_OK)
            return rc;
        if (!scb__sw_ok(sw))
            return 0;
        if (dir_entry(card, rec, len, t))
            return 1;
    }
    return 0;
}

/* The AID to select: given, from EF.DIR, or the default. */
static int find_app(scb_card_t *card, const scb_opts_t *o, scb_access_info_t *info)
{
    size_t aid_len = 0, path_len = 0;
    const uint8_t *aid = scb__opt_bytes(o, SCB_OPT_AID, &aid_len);
    if (aid != NULL) {
        memcpy(info->aid, aid, aid_len);
        info->aid_len = aid_len;
        return SCB_OK;
    }
    const bool have_path = scb__opt_bytes(o, SCB_OPT_PATH, &path_len) != NULL;
    if (!scb__opt_bool(o, SCB_OPT_SKIP_EFDIR) && !have_path) {
        scb_app_template_t t;
        memset(&t, 0, sizeof(t));
        int found = find_in_efdir(card, &t);
        if (found < 0)
            return found;
        if (found) {
            memcpy(info->aid, t.aid, t.aid_len);
            info->aid_len = t.aid_len;
            info->used_efdir = 1;
            return SCB_OK;
        }
        scb__note(card, "no PKCS#15 template in EF.DIR: using the default PKCS#15 AID");
    }
    memcpy(info->aid, scb_pkcs15_default_aid(), SCB_PKCS15_AID_LEN);
    info->aid_len = SCB_PKCS15_AID_LEN;
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* Entering and leaving the application                                      */
/* ------------------------------------------------------------------------ */
/* The secure-channel level a job needs for its operation: what was asked,
 * and for a write at least C-DEC + C-MAC. */
static int session_in_force(scb_card_t *card, uint8_t want, const char *what)
{
    const int have = scb__sm_level(card);
    if (have < 0)
        return scb__fail(card, SCB_E_SCP_NO_SESSION,
                         "%s needs a secure channel session and none is in force", what);
    if (((unsigned)have & want) != want)
        return scb__fail(card, SCB_E_SCP_LEVEL,
                         "%s needs secure channel level %02X; the session in force has %02X",
                         what, want, (unsigned)have);
    return SCB_OK;
}

static int enter_app(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *o,
                     scb_access_info_t *info)
{
    int rc;
    if (!scb__opt_bool(o, SCB_OPT_NO_LOGICAL_CHANNEL)) {
        /* A channel with the application selected on it: MANAGE CHANNEL
         * and SELECT, or the transport's own (a modem's AT+CCHO). */
        rc = scb__channel_open_app(card, info->aid, info->aid_len);
        card->app_channel_opened = rc == SCB_OK;
    } else {
        rc = scb__app_select(card, info->aid, info->aid_len);
    }
    info->channel = card->channel;
    if (rc == SCB_E_NOT_FOUND) {
        char why[sizeof(card->errmsg)];
        memcpy(why, card->errmsg, sizeof(why));
        return scb__fail(card, rc, "PKCS#15 application not found on the card: %s", why);
    }
    if (rc != SCB_OK)
        return rc;
    if (scb__opt_bool(o, SCB_OPT_NO_SECURE_CHANNEL)) {
        scb__note(card, "running without a secure channel, as asked");
        return SCB_OK;
    }
    if (keys == NULL)
        return scb__fail(card, SCB_E_INVALID_ARG,
                         "no SCP03 keys given (running without a secure channel must be "
                         "asked for explicitly)");
    rc = scb__scp03_open(card, keys, o);
    if (rc != SCB_OK)
        return rc;
    /* Whatever the handshake said, nothing past this point runs without the
     * session the caller asked for. */
    rc = session_in_force(card, (uint8_t)scb__opt_int(o, SCB_OPT_LEVEL), "the application");
    if (rc != SCB_OK)
        return rc;
    info->scp_level = scb__sm_level(card);
    info->s16 = card->scp_info.s16;
    return SCB_OK;
}

/* Close what enter_app opened. Cleanup after a failure keeps that
 * failure's detail and status word: the caller must learn what went
 * wrong, not that closing the channel afterwards failed too. */
static void leave_app(scb_card_t *card, int rc)
{
    char keep[sizeof(card->errmsg)];
    const uint16_t sw = card->last_sw;
    if (rc != SCB_OK)
        memcpy(keep, card->errmsg, sizeof(keep));
    if (card->sm_state != NULL || card->sm_broken)
        scb__sm_close(card);
    if (card->app_channel_opened && card->channel != 0)
        scb__channel_close(card);
    card->app_channel_opened = false;
    if (rc != SCB_OK) {
        memcpy(card->errmsg, keep, sizeof(keep));
        card->last_sw = sw;
    } else {
        scb__clear_error(card); /* the job succeeded: a failed close is not its error */
    }
}

/* What every job refuses before it touches the card: options outside its
 * scope, and a missing key set unless running without SCP03 was asked. */
static int job_entry(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *o,
                     unsigned scope, const char *call)
{
    int rc = scb__opts_scope(o, SCB_SCOPE_SCP | SCB_SCOPE_APP | scope, call, card->errmsg,
                             sizeof(card->errmsg));
    if (rc == SCB_OK && keys == NULL && !scb__opt_bool(o, SCB_OPT_NO_SECURE_CHANNEL))
        rc = scb__fail(card, SCB_E_INVALID_ARG,
                       "no SCP03 keys given (running without a secure channel must be asked "
                       "for explicitly: the option no_secure_channel)");
    return rc;
}

/* Find the application and enter it; on failure leave nothing open. */
static int app_open(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *o,
                    scb_access_info_t *info)
{
    memset(info, 0, sizeof(*info));
    info->scp_level = -1;
    int rc = find_app(card, o, info);
    if (rc == SCB_OK)
        rc = enter_app(card, keys, o, info);
    if (rc != SCB_OK)
        leave_app(card, rc);
    return rc;
}

int scb_app_open(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts,
                 scb_access_info_t *info)
{
    SCB__ENTER(card);
    int rc = job_entry(card, keys, opts, 0, "opening the application");
    if (rc != SCB_OK)
        return rc;
    scb_access_info_t tmp;
    rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = app_open(card, keys, opts, info != NULL ? info : &tmp);
    scb__end(card);
    return rc;
}

int scb_app_close(scb_card_t *card)
{
    SCB__ENTER(card);
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    leave_app(card, SCB_OK);
    scb__end(card);
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* Files inside the application                                              */
/* ------------------------------------------------------------------------ */

/* Select a PKCS#15 Path inside the application (scb_pkcs15_path_select). */
static int select_path(scb_card_t *card, const uint8_t *p, size_t n, scb_fcp_t *fcp)
{
    scb_path_select_t sel;
    if (scb_pkcs15_path_select(p, n, &sel) != SCB_OK)
        return scb__fail(card, SCB_E_PARSE, "path of %zu bytes is not a list of FIDs", n);
    if (sel.by_fid)
        return scb__select_fid(card, sel.fid, SCB_SEL_FCP, fcp);
    return scb__select_path(card, sel.path, sel.path_len, sel.from_mf != 0, SCB_SEL_FCP, fcp);
}

/* Select and read a whole (small) EF, or the index/length range of a Path. */
static int read_ef(scb_card_t *card, const scb_path_t *path, uint8_t *buf, size_t *len,
                   const char *what)
{
    scb_fcp_t fcp;
    int rc = select_path(card, path->bytes, path->len, &fcp);
    if (rc != SCB_OK)
        return rc == SCB_E_NOT_FOUND ? scb__fail(card, rc, "%s not found", what) : rc;
    size_t size = fcp.has_size ? fcp.file_size : 0;
    if (size > SCB_MAX_FILE_SIZE)
        return scb__fail(card, SCB_E_FILE_TOO_LARGE, "%s is %zu bytes, over the %u byte limit",
                         what, size, SCB_MAX_FILE_SIZE);
    size_t n = *len;
    rc = scb__read_binary(card, size, buf, &n, 0);
    if (rc != SCB_OK)
        return rc;
    if (path->has_range) {
        if ((size_t)path->index > n || (size_t)path->length > n - path->index)
            return scb__fail(card, SCB_E_PARSE, "%s: path range %u+%u beyond the file (%zu)",
                             what, path->index, path->length, n);
        memmove(buf, buf + path->index, path->length);
        n = path->length;
    }
    *len = n;
    return SCB_OK;
}

/* What the ODF names: the DODFs ([7] dataObjects, in order) and the
 * AODFs ([8] authObjects), where the PIN of a private entry is described. */
typedef struct odf_paths {
    scb_path_t dodf[MAX_DODF_PATHS];
    size_t dodfs;
    scb_path_t aodf[MAX_AODF_PATHS];
    size_t aodfs;
} odf_paths_t;

static int read_odf(scb_card_t *card, odf_paths_t *out, uint8_t *buf, size_t cap)
{
    scb_path_t odf = {0};
    odf.bytes[0] = EF_ODF_FID >> 8;
    odf.bytes[1] = EF_ODF_FID & 0xFF;
    odf.len = 2;
    size_t n = cap;
    int rc = read_ef(card, &odf, buf, &n, "EF.ODF");
    if (rc != SCB_OK)
        return rc;
    scb_odf_entry_t entries[MAX_ODF_ENTRIES];
    size_t count = MAX_ODF_ENTRIES;
    char detail[160] = "";
    rc = scb_pkcs15_parse_odf_entries(buf, n, entries, &count, detail, sizeof(detail));
    if (rc == SCB_E_BUFFER_TOO_SMALL) {
        scb__note(card, "EF.ODF has %zu entries: following the first %d", count, MAX_ODF_ENTRIES);
        count = MAX_ODF_ENTRIES;
        rc = SCB_OK;
    }
    if (rc != SCB_OK)
        return scb__fail(card, rc, "EF.ODF: %s", detail);
    size_t dodfs = 0;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < count; i++) {
        if (entries[i].tag == 0xA7 && dodfs++ < MAX_DODF_PATHS)
            out->dodf[out->dodfs++] = entries[i].path;
        else if (entries[i].tag == 0xA8 && out->aodfs < MAX_AODF_PATHS)
            out->aodf[out->aodfs++] = entries[i].path;
    }
    if (dodfs > MAX_DODF_PATHS)
        scb__note(card, "EF.ODF lists %zu DODFs: following the first %d", dodfs, MAX_DODF_PATHS);
    return SCB_OK;
}

/* ODF -> DODFs (in order) -> the bootstrap entry. */
static int locate_bootstrap(scb_card_t *card, scb_access_info_t *info, scb_dodf_entry_t *entry,
                            odf_paths_t *odf, uint8_t *buf, size_t cap)
{
    int rc = read_odf(card, odf, buf, cap);
    if (rc != SCB_OK)
        return rc;
    if (odf->dodfs == 0)
        return scb__fail(card, SCB_E_NO_BOOTSTRAP, "EF.ODF lists no data object directory");
    char detail[160] = "";
    for (size_t i = 0; i < odf->dodfs; i++) {
        size_t n = cap;
        rc = read_ef(card, &odf->dodf[i], buf, &n, "EF.DODF");
        if (rc == SCB_E_NOT_FOUND) {
            scb__note(card, "DODF %zu of %zu not found, trying the next", i + 1, odf->dodfs);
            continue;
        }
        if (rc != SCB_OK)
            return rc;
        memset(entry, 0, sizeof(*entry));
        rc = scb_pkcs15_find_bootstrap(buf, n, entry, detail, sizeof(detail));
        if (rc == SCB_OK) {
            info->oid_form = entry->oid_form;
            memcpy(info->label, entry->label, sizeof(info->label));
            if (entry->oid_form == SCB_OID_DO_ID_MISENCODED ||
                entry->oid_form == SCB_OID_APPLICATION_OID_MISENCODED)
                scb__note(card, "the card encodes the bootstrap OID twice (06 06 06 04 ..), as "
                                "the specification's example does");
            return SCB_OK;
        }
        if (rc != SCB_E_NO_BOOTSTRAP && rc != SCB_E_NOT_FOUND)
            return scb__fail(card, rc, "EF.DODF: %s", detail);
    }
    return scb__fail(card, SCB_E_NO_BOOTSTRAP,
                     "no LwM2M bootstrap entry (OID 2.23.43.9.1) in %zu DODF(s)", odf->dodfs);
}

/* ------------------------------------------------------------------------ */
/* The PIN of a private entry                                                */
/* ------------------------------------------------------------------------ */
/* How the PIN is checked and sent: by the PIN object the entry's authId
 * names in an EF.AODF, or, when the card describes none, as TS 102 221
 * 9.5.1 has a UICC PIN (1..8 characters, reference 01, FF to 8 bytes). */
typedef struct pin_rule {
    uint8_t ref;
    size_t min, max;           /* accepted PIN lengths */
    size_t block;              /* VERIFY data length: the stored length */
    uint8_t pad;
    int pin_type;              /* enum scb_pin_type; -1: not described */
    bool described;            /* by a PIN object of the card */
    char who[160];             /* names the rule in messages */
} pin_rule_t;

static void uicc_pin_rule(const scb_opts_t *o, pin_rule_t *r)
{
    r->ref = (uint8_t)scb__opt_int(o, SCB_OPT_PIN_REF);
    r->min = 1;
    r->max = r->block = SCB__PIN_BLOCK_UICC;
    r->pad = 0xFF;
    r->pin_type = -1;
    r->described = false;
    snprintf(r->who, sizeof(r->who), "a UICC PIN (TS 102 221 9.5.1)");
}

/* The rule of a PIN object: its reference (the option pin_ref, when set,
 * wins), its pad character, its stored length and its bounds. */
static int rule_of_object(scb_card_t *card, const scb_opts_t *o, const scb_pin_object_t *p,
                          pin_rule_t *r)
{
    char id[2 * 8 + 1];
    scb__hex(p->auth_id, p->auth_id_len, id, sizeof(id), false);
    if (p->label[0] != 0)
        snprintf(r->who, sizeof(r->who), "the card's PIN '%s' (EF.AODF, authId %s)", p->label,
                 id);
    else
        snprintf(r->who, sizeof(r->who), "the card's PIN (EF.AODF, authId %s)", id);
    if (p->stored_length > SCB__PIN_BLOCK_MAX)
        return scb__fail(card, SCB_E_UNSUPPORTED, "%s is stored in %u bytes; at most %d are "
                         "supported", r->who, (unsigned)p->stored_length, SCB__PIN_BLOCK_MAX);
    /* storedLength is what VERIFY carries: the PIN padded to it (TS 102
     * 221 11.1.9 takes a whole block whatever needs-padding says). */
    r->block = p->stored_length > 0 ? p->stored_length : SCB__PIN_BLOCK_UICC;
    r->max = p->has_max_length && p->max_length < r->block ? p->max_length : r->block;
    r->min = p->min_length > 0 ? p->min_length : 1;
    if (r->min > r->max)
        return scb__fail(card, SCB_E_PARSE, "%s: minLength %u is above the longest PIN it "
                         "holds (%zu)", r->who, (unsigned)p->min_length, r->max);
    r->pad = p->has_pad_char ? p->pad_char : 0xFF;
    r->pin_type = p->pin_type;
    r->described = true;
    const uint8_t card_ref = p->has_reference ? p->reference : r->ref;
    if (scb_opts_is_set(o, SCB_OPT_PIN_REF) && r->ref != card_ref)
        scb__note(card, "PIN reference %02X as asked; %s names %02X", r->ref, r->who, card_ref);
    else
        r->ref = card_ref;
    return SCB_OK;
}

/* The PIN object of a private entry, from the AODFs the ODF names. 0 with
 * the UICC rule left in *r when there is none. */
static int pin_rule_from_aodf(scb_card_t *card, const scb_opts_t *o, const scb_dodf_entry_t *e,
                              const odf_paths_t *odf, pin_rule_t *r, uint8_t *buf, size_t cap)
{
    if (!e->has_auth_id || odf->aodfs == 0)
        return SCB_OK;
    char detail[160] = "";
    for (size_t i = 0; i < odf->aodfs; i++) {
        size_t n = cap;
        int rc = read_ef(card, &odf->aodf[i], buf, &n, "EF.AODF");
        if (rc == SCB_E_NOT_FOUND) {
            scb__note(card, "AODF %zu of %zu not found", i + 1, odf->aodfs);
            continue;
        }
        if (rc != SCB_OK)
            return rc;
        scb_pin_object_t p;
        rc = scb_pkcs15_find_pin(buf, n, e->auth_id, e->auth_id_len, &p, detail,
                                 sizeof(detail));
        if (rc == SCB_OK)
            return rule_of_object(card, o, &p, r);
        if (rc != SCB_E_NOT_FOUND)
            return scb__fail(card, rc, "EF.AODF: %s", detail);
    }
    scb__note(card, "no PIN object for the entry's authId in %zu AODF(s)", odf->aodfs);
    return SCB_OK;
}

/* A PIN that cannot be the card's is refused before VERIFY, which would
 * cost one of its tries. Messages size the PIN, never show it. */
#define UNTOUCHED "(no VERIFY was sent: the card's tries are untouched)"
static int check_pin(scb_card_t *card, const pin_rule_t *r, const uint8_t *pin, size_t len)
{
    if (len < r->min || len > r->max)
        return scb__fail(card, SCB_E_INVALID_ARG,
                         "the PIN has %zu character%s; %s takes %zu to %zu%s " UNTOUCHED, len,
                         len == 1 ? "" : "s", r->who, r->min, r->max,
                         r->described ? "" : ", and the card describes no PIN object for the "
                                             "entry");
    if (r->pin_type == SCB_PIN_TYPE_ASCII_NUMERIC) {
        for (size_t i = 0; i < len; i++)
            if (pin[i] < '0' || pin[i] > '9')
                return scb__fail(card, SCB_E_INVALID_ARG,
                                 "%s is ascii-numeric: digits only " UNTOUCHED, r->who);
    } else if (r->pin_type >= 0 && r->pin_type != SCB_PIN_TYPE_UTF8) {
        /* BCD and the other codings: the PIN would have to be re-coded,
         * and a guess costs a try. */
        return scb__fail(card, SCB_E_UNSUPPORTED,
                         "%s has pinType %d; only ascii-numeric and utf8 PINs are sent " UNTOUCHED,
                         r->who, r->pin_type);
    }
    return SCB_OK;
}
#undef UNTOUCHED

static int verify_pin_if_needed(scb_card_t *card, const scb_opts_t *o, bool private_entry,
                                const pin_rule_t *r)
{
    size_t pin_len = 0;
    const uint8_t *pin = scb__opt_bytes(o, SCB_OPT_PIN, &pin_len);
    if (pin == NULL) {
        if (private_entry && r->described)
            return scb__fail(card, SCB_E_PIN_REQUIRED,
                             "the bootstrap object is private: a PIN must be verified first: "
                             "%s, %zu to %zu characters, reference %02X", r->who, r->min,
                             r->max, r->ref);
        if (private_entry)
            return scb__fail(card, SCB_E_PIN_REQUIRED,
                             "the bootstrap object is private: a PIN must be verified first");
        return SCB_OK;
    }
    int rc = check_pin(card, r, pin, pin_len);
    if (rc != SCB_OK)
        return rc;
    return scb__verify_pin(card, r->ref, pin, pin_len, r->block, r->pad);
}

/* Navigate to the bootstrap EF: given path, or ODF/DODF. Leaves the EF
 * selected and its FCP in *fcp. */
static int select_bootstrap_ef(scb_card_t *card, const scb_opts_t *o, scb_access_info_t *info,
                               scb_fcp_t *fcp, scb_path_t *range, uint8_t *buf, size_t cap)
{
    bool private_entry = false;
    pin_rule_t rule;
    uicc_pin_rule(o, &rule);
    memset(range, 0, sizeof(*range));
    size_t path_len = 0, pin_len = 0;
    const uint8_t *path = scb__opt_bytes(o, SCB_OPT_PATH, &path_len);
    int rc;
    if (path != NULL) {
        memcpy(range->bytes, path, path_len);
        range->len = path_len;
    } else {
        scb_dodf_entry_t e;
        odf_paths_t odf;
        rc = locate_bootstrap(card, info, &e, &odf, buf, cap);
        if (rc != SCB_OK)
            return rc;
        *range = e.path;
        private_entry = e.private_flag != 0;
        /* The card's description of the PIN, when one is to be verified
         * (or is missing: the message then names what the card wants). */
        const bool have_pin = scb__opt_bytes(o, SCB_OPT_PIN, &pin_len) != NULL;
        if (private_entry || have_pin) {
            rc = pin_rule_from_aodf(card, o, &e, &odf, &rule, buf, cap);
            if (rc != SCB_OK && !have_pin && scb_error_family(rc) == SCB_FAMILY_DATA) {
                /* no PIN to check: a broken AODF does not hide that one is needed */
                scb__note(card, "EF.AODF unusable: %s", card->errmsg);
                uicc_pin_rule(o, &rule);
                rc = SCB_OK;
            }
            if (rc != SCB_OK)
                return rc;
        }
    }
    memcpy(info->path, range->bytes, range->len);
    info->path_len = range->len;
    rc = verify_pin_if_needed(card, o, private_entry, &rule);
    if (rc != SCB_OK)
        return rc;
    rc = select_path(card, range->bytes, range->len, fcp);
    if (rc != SCB_OK)
        return rc == SCB_E_NOT_FOUND ? scb__fail(card, rc, "bootstrap EF not found") : rc;
    info->ef_size = fcp->has_size ? fcp->file_size : 0;
    if (fcp->structure != SCB_FS_UNKNOWN && fcp->structure != SCB_FS_TRANSPARENT)
        return scb__fail(card, SCB_E_PARSE, "bootstrap EF is not a transparent file");
    return SCB_OK;
}

/* Read the meaningful bytes of the bootstrap EF: the 4-byte header says
 * how many follow (nobjects:u16 size:u16); the FF padding is not read. */
static int read_bootstrap_bytes(scb_card_t *card, const scb_fcp_t *fcp, const scb_path_t *range,
                                uint8_t *buf, size_t *len)
{
    size_t ef = fcp->has_size ? fcp->file_size : SCB_MAX_FILE_SIZE;
    size_t base = range->has_range ? range->index : 0;
    if (range->has_range && (size_t)range->length < ef)
        ef = range->length;
    if (ef > SCB_MAX_FILE_SIZE)
        return scb__fail(card, SCB_E_FILE_TOO_LARGE, "bootstrap EF of %zu bytes is over the "
                         "%u byte limit", ef, SCB_MAX_FILE_SIZE);
    if (ef < 4)
        return scb__fail(card, SCB_E_PARSE, "bootstrap EF of %zu bytes has no room for its "
                         "4-byte header", ef);
    /* First chunk: as much as one APDU carries (the header and, for a
     * small file, everything); then the rest the header announces. */
    size_t chunk = scb__max_read_chunk(card);
    size_t got = SCB_MAX_FILE_SIZE;
    int rc = scb__read_binary_at(card, base, ef < chunk ? ef : chunk, buf, &got,
                                 SCB__APDU_SENSITIVE_RESP);
    if (rc != SCB_OK)
        return rc;
    if (got < 4)
        return scb__fail(card, SCB_E_PARSE, "bootstrap EF: %zu bytes read, no header", got);
    if (scb__bs_header_incomplete(buf))
        return scb__fail(card, SCB_E_PARSE, "the bootstrap file is marked incomplete (header FF "
                         "FF FF FF): it was never written, or a write was interrupted");
    size_t need = 4 + ((size_t)buf[2] << 8 | buf[3]);
    if (need > ef)
        return scb__fail(card, SCB_E_PARSE, "bootstrap file: size field says %zu bytes, the EF "
                         "holds %zu", need - 4, ef - 4);
    if (got < need) {
        size_t n = SCB_MAX_FILE_SIZE - got;
        rc = scb__read_binary_at(card, base + got, need - got, buf + got, &n,
                                 SCB__APDU_SENSITIVE_RESP);
        if (rc != SCB_OK)
            return rc;
        got += n;
        if (got < need)
            return scb__fail(card, SCB_E_PARSE, "bootstrap EF ends at %zu, size field needs %zu",
                             got, need);
    }
    *len = got < need ? got : need;
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* Public operations                                                         */
/* ------------------------------------------------------------------------ */
/* One read or write of the bootstrap EF: inside one transaction, the
 * application entered and the EF selected; finished by ef_job_end, which
 * leaves the application and wipes the work buffer. */
typedef struct ef_job {
    scb_access_info_t info;
    unsigned long apdus0;
    uint8_t *buf;              /* SCB_MAX_FILE_SIZE: DODF, file content */
    scb_fcp_t fcp;
    scb_path_t range;
    bool locked;
} ef_job_t;

static int ef_job_begin(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts,
                        ef_job_t *j)
{
    memset(j, 0, sizeof(*j));
    j->info.scp_level = -1;
    j->apdus0 = card->apdu_count;
    j->buf = malloc(SCB_MAX_FILE_SIZE);
    if (j->buf == NULL)
        return scb__fail(card, SCB_E_NOMEM, "no memory for the bootstrap file");
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    j->locked = true;
    rc = app_open(card, keys, opts, &j->info);
    if (rc == SCB_OK)
        rc = select_bootstrap_ef(card, opts, &j->info, &j->fcp, &j->range, j->buf,
                                 SCB_MAX_FILE_SIZE);
    return rc;
}

static void ef_job_end(scb_card_t *card, ef_job_t *j, int rc, scb_access_info_t *info_out)
{
    if (j->locked) {
        leave_app(card, rc);
        scb__end(card);
    }
    if (j->buf != NULL) {
        scb__cleanse(j->buf, SCB_MAX_FILE_SIZE); /* it held the bootstrap secret keys */
        free(j->buf);
    }
    j->info.apdus = card->apdu_count - j->apdus0;
    if (info_out != NULL)
        *info_out = j->info;
}

int scb_read_bootstrap(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts,
                       scb_bootstrap_t **out, scb_access_info_t *info_out)
{
    SCB__ENTER(card);
    if (out == NULL)
        return scb__fail(card, SCB_E_INVALID_ARG, "scb_read_bootstrap: out is NULL");
    *out = NULL;
    int rc = job_entry(card, keys, opts, SCB_SCOPE_EF, "a read");
    if (rc != SCB_OK)
        return rc;
    ef_job_t j;
    rc = ef_job_begin(card, keys, opts, &j);
    size_t len = 0;
    if (rc == SCB_OK)
        rc = read_bootstrap_bytes(card, &j.fcp, &j.range, j.buf, &len);
    if (rc == SCB_OK) {
        char detail[200] = "";
        rc = scb_bootstrap_decode(out, j.buf, len, detail, sizeof(detail));
        if (rc != SCB_OK)
            scb__fail(card, rc, "bootstrap file: %s", detail);
    }
    ef_job_end(card, &j, rc, info_out);
    return rc;
}

/* Refuse what must never reach the card, before touching it. */
static int check_write(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *o,
                       const uint8_t *data, size_t len)
{
    /* Provisioning writes secrets: only inside a channel that encrypts and
     * MACs commands (LwM2M Appendix H: only the issuer may modify the file). */
    const unsigned level = (unsigned)scb__opt_int(o, SCB_OPT_LEVEL);
    if (scb__opt_bool(o, SCB_OPT_NO_SECURE_CHANNEL) || keys == NULL)
        return scb__fail(card, SCB_E_INVALID_ARG, "writing needs a secure channel with C-DEC and "
                         "C-MAC (keys and level 0x03 or higher)");
    if ((level & (SCB_SL_CMAC | SCB_SL_CDEC)) != (SCB_SL_CMAC | SCB_SL_CDEC))
        return scb__fail(card, SCB_E_INVALID_ARG, "writing needs a higher secure channel level: "
                         "C-DEC and C-MAC (0x03, 0x13 or 0x33); asked 0x%02X", level);
    if (len > SCB_MAX_FILE_SIZE)
        return scb__fail(card, SCB_E_DATA_TOO_LARGE, "bootstrap file of %zu bytes is over the "
                         "%u byte limit", len, SCB_MAX_FILE_SIZE);
    char detail[200] = "";
    scb_bootstrap_t *check = NULL;
    int rc = scb_bootstrap_decode(&check, data, len, detail, sizeof(detail));
    scb_bootstrap_free(&check);
    if (rc == SCB_E_NOMEM) /* no verdict on the file */
        return scb__fail(card, rc, "checking the bootstrap file: %s", detail);
    if (rc != SCB_OK)
        return scb__fail(card, SCB_E_VALIDATION, "refusing to write an invalid bootstrap file: %s",
                         detail);
    return SCB_OK;
}

/* UPDATE BINARY the data (then FF up to total) so that no interruption can
 * leave a mixture of two files: the header is invalidated first (one
 * UPDATE BINARY, which a UICC performs atomically), then the body and the
 * padding are written, the real header last. A reader sees the old file
 * until the first APDU, a file it refuses as incomplete until the last,
 * and the new file after it. A partial write is reported as incomplete. */
static int write_bytes(scb_card_t *card, ef_job_t *j, const uint8_t *data, size_t len,
                       size_t total)
{
    static const uint8_t incomplete[SCB__BS_HEADER_LEN] = {0xFF, 0xFF, 0xFF, 0xFF};
    const size_t base = j->range.has_range ? j->range.index : 0;
    const size_t hdr = SCB__BS_HEADER_LEN;
    size_t written = 0, n = 0;
    int rc = scb__update_binary(card, base, incomplete, hdr, 0, &n);
    bool touched = n > 0;
    if (rc == SCB_OK) {
        rc = scb__update_binary(card, base + hdr, data + hdr, len - hdr, SCB__APDU_SENSITIVE_CMD,
                                &n);
        written = n;
        touched = touched || n > 0;
    }
    if (rc == SCB_OK && total > len) {
        memset(j->buf, 0xFF, total - len);
        rc = scb__update_binary(card, base + len, j->buf, total - len, 0, &n);
        written += n;
    }
    if (rc == SCB_OK) {
        rc = scb__update_binary(card, base, data, hdr, 0, &n);
        written += n;
    }
    /* A transport failure leaves unknown whether the card took the APDU. */
    const bool transport_lost = scb_error_family(rc) == SCB_FAMILY_TRANSPORT;
    if (rc != SCB_OK && (touched || transport_lost)) {
        char cause[sizeof(card->errmsg)];
        snprintf(cause, sizeof(cause), "%s", card->errmsg[0] != 0 ? card->errmsg
                                                                  : scb_strerror(rc));
        rc = scb__fail(card, SCB_E_WRITE_INCOMPLETE,
                       "write interrupted after %zu of %zu bytes (%.120s): the card holds a "
                       "file marked incomplete and needs re-provisioning", written, total, cause);
    }
    return rc;
}

int scb_write_bootstrap(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts,
                        const uint8_t *data, size_t len, scb_access_info_t *info_out)
{
    SCB__ENTER(card);
    if (data == NULL)
        return scb__fail(card, SCB_E_INVALID_ARG, "scb_write_bootstrap: no data");
    int rc = job_entry(card, keys, opts, SCB_SCOPE_EF | SCB_SCOPE_WRITE, "a write");
    if (rc == SCB_OK)
        rc = check_write(card, keys, opts, data, len);
    if (rc != SCB_OK)
        return rc;
    const size_t meaningful = 4 + ((size_t)data[2] << 8 | data[3]);
    ef_job_t j;
    rc = ef_job_begin(card, keys, opts, &j);
    if (rc == SCB_OK)
        rc = session_in_force(card, SCB_SL_CDEC | SCB_SL_CMAC, "writing");
    size_t ef = 0;
    if (rc == SCB_OK) {
        ef = j.fcp.has_size ? j.fcp.file_size : SCB_MAX_FILE_SIZE;
        if (j.range.has_range && j.range.length < ef)
            ef = j.range.length;
        j.info.ef_size = ef;
        if (ef > SCB_MAX_FILE_SIZE) /* as a read refuses it; the padding is sized by it */
            rc = scb__fail(card, SCB_E_FILE_TOO_LARGE, "bootstrap EF of %zu bytes is over the %u "
                           "byte limit; nothing written", ef, SCB_MAX_FILE_SIZE);
        else if (len > ef)
            rc = scb__fail(card, SCB_E_DATA_TOO_LARGE, "%zu bytes do not fit the bootstrap EF "
                           "(%zu bytes); nothing written", len, ef);
    }
    /* FF padding after the data, when asked (only up to a known EF size). */
    const size_t total = scb__opt_bool(opts, SCB_OPT_PAD) && j.fcp.has_size ? ef : len;
    if (rc == SCB_OK)
        rc = write_bytes(card, &j, data, len, total);
    /* Verify by reading back through the channel; comparing the meaningful
     * bytes themselves is at least as strong as comparing their digest. */
    if (rc == SCB_OK && !scb__opt_bool(opts, SCB_OPT_NO_VERIFY)) {
        size_t n = 0;
        rc = read_bootstrap_bytes(card, &j.fcp, &j.range, j.buf, &n);
        if (rc != SCB_OK)
            rc = scb__fail(card, SCB_E_VERIFY_MISMATCH, "all %zu bytes were written but the "
                           "read-back failed (%s): the write is not verified", total,
                           scb_strerror(rc));
        if (rc == SCB_OK && (n != meaningful || !scb__ct_equal(j.buf, data, meaningful)))
            rc = scb__fail(card, SCB_E_VERIFY_MISMATCH, "read-back differs from what was "
                           "written (%zu bytes read, %zu expected)", n, meaningful);
    }
    ef_job_end(card, &j, rc, info_out);
    return rc;
}

int scb_rotate_keys(scb_card_t *card, const scb_keys_t *keys, const scb_keys_t *new_keys,
                    const scb_opts_t *opts, scb_access_info_t *info_out)
{
    SCB__ENTER(card);
    int rc = job_entry(card, keys, opts, SCB_SCOPE_ROTATE, "a key rotation");
    if (rc != SCB_OK)
        return rc;
    /* PUT KEY sends ENC, MAC and DEK encrypted under the current DEK. */
    if (new_keys == NULL || keys == NULL || scb__opt_bool(opts, SCB_OPT_NO_SECURE_CHANNEL))
        return scb__fail(card, SCB_E_INVALID_ARG,
                         "a key rotation needs the current keys (a secure channel) and new keys");
    if (!scb_keys_has_dek(new_keys))
        return scb__fail(card, SCB_E_INVALID_ARG,
                         "the new key set has no DEK: PUT KEY replaces ENC, MAC and DEK together");
    if (!scb_keys_has_dek(keys))
        return scb__fail(card, SCB_E_INVALID_ARG,
                         "the current key set has no DEK: it is needed to encrypt the new keys");
    scb_access_info_t info;
    const unsigned long apdus0 = card->apdu_count;
    rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = app_open(card, keys, opts, &info);
    if (rc == SCB_OK)
        rc = session_in_force(card, SCB_SL_CMAC, "PUT KEY");
    if (rc == SCB_OK)
        rc = scb__put_keys(card, new_keys, (uint8_t)scb__opt_int(opts, SCB_OPT_REPLACE_KVN));
    if (rc == SCB_OK) {
        /* Prove the new keys: a full handshake with them, with the options
         * of the first but the new set's version and no diversification. */
        scb_opts_t *p = NULL;
        rc = scb__opts_for_new_keys(opts, scb_keys_kvn(new_keys), &p);
        if (rc == SCB_OK)
            rc = scb__scp03_open(card, new_keys, p);
        if (rc == SCB_OK)
            rc = session_in_force(card, (uint8_t)scb__opt_int(opts, SCB_OPT_LEVEL),
                                  "the new key set");
        if (rc != SCB_OK)
            scb__fail(card, rc, "the card took the new keys but a session with them failed "
                      "(%s): check the key set before relying on it", scb_error_name(rc));
        scb_opts_free(&p);
    }
    leave_app(card, rc);
    scb__end(card);
    info.apdus = card->apdu_count - apdus0;
    if (info_out != NULL)
        *info_out = info;
    return rc;
}
