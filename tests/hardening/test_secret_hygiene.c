/*
 * Secret hygiene of the library itself: every trace line (rendered with
 * scb_trace_format, notes included), every error detail (scb_card_errmsg)
 * and the JSON glue's output without SCBJ_SHOW_SECRETS hold none of: the
 * static keys, the session keys of every handshake (derived here from the
 * INITIALIZE UPDATE exchange the trace shows), new keys sent with PUT KEY,
 * the PIN, the bootstrap file's secret keys. Checked on good reads, writes
 * and key rotations at every security level, and on failures: wrong keys,
 * a bad R-MAC, bad padding, 6982 / 6A82 / 6F00 and the card going away at
 * every APDU of a read.
 *
 * A secret is found when any 8 consecutive bytes of it appear as hex
 * (upper or lower case, spaced or not) or as raw bytes. The CLI's output is
 * checked the same way by test_secrets_cli.py (secrets_scan.py).
 */
#include "scp03.h"
#include "scboot_json.h"
#include "scboot_sim.h"
#include "testkit.h"

#include <ctype.h>

static const uint8_t ENC[16] = {0x8D, 0x1F, 0x5A, 0x3C, 0x97, 0xE2, 0x04, 0x6B,
                                0xB4, 0xD0, 0x6E, 0x19, 0xC7, 0x28, 0x5F, 0xA3};
static const uint8_t MAC[16] = {0x2C, 0x97, 0xE4, 0xB1, 0x68, 0x0F, 0xD3, 0x5A,
                                0x1E, 0x8C, 0x47, 0xB2, 0x90, 0x63, 0xDA, 0x5E};
static const uint8_t DEK[16] = {0xF0, 0x4A, 0x6B, 0x1D, 0x93, 0xC8, 0x25, 0x7E,
                                0x0A, 0xB6, 0xE3, 0x41, 0x9D, 0x52, 0xC7, 0x7F};
static const uint8_t NEW_KEY[16] = {0xA3, 0x7C, 0x19, 0xE6, 0x50, 0xD2, 0x84, 0xBF,
                                    0x0F, 0x6B, 0x9A, 0x23, 0x17, 0xE8, 0x5D, 0xC4};
static const uint8_t PSK[16] = {0xD3, 0xA8, 0x17, 0x5E, 0xC2, 0x40, 0x9B, 0xF6,
                                0x6E, 0x1C, 0x83, 0xA7, 0xF5, 0x09, 0x2B, 0x4D};
static const uint8_t PIN_BLOCK[8] = {'4', '7', '1', '1', 0xFF, 0xFF, 0xFF, 0xFF};

/* ---- what was shown, and what must not be in it ---- */
#define MAX_SECRETS 64
typedef struct {
    const char *name;
    uint8_t v[32];
    size_t len;
} secret_t;

typedef struct {
    char *text;                /* every line shown, '\n'-separated */
    size_t len, cap;
    secret_t secrets[MAX_SECRETS];
    size_t nsecrets;
    const scb_keys_t *keys;    /* the static keys of the handshakes */
    uint8_t host_challenge[16];
    size_t chal_len;           /* an INITIALIZE UPDATE went out: its answer is next */
    size_t sessions;
} shown_t;

static void add_secret(shown_t *s, const char *name, const uint8_t *v, size_t len)
{
    if (s->nsecrets >= MAX_SECRETS)
        abort();
    secret_t *x = &s->secrets[s->nsecrets++];
    x->name = name;
    memcpy(x->v, v, len);
    x->len = len;
}

static void append(shown_t *s, const char *line)
{
    size_t n = strlen(line);
    if (s->len + n + 2 > s->cap) {
        s->cap = (s->len + n + 2) * 2;
        s->text = realloc(s->text, s->cap);
        if (s->text == NULL)
            abort();
    }
    memcpy(s->text + s->len, line, n);
    s->len += n;
    s->text[s->len++] = '\n';
    s->text[s->len] = 0;
}

/* The handshake's session keys from its INITIALIZE UPDATE exchange. */
static void follow_handshake(shown_t *s, const scb_trace_event_t *ev)
{
    if (ev->kind == SCB_TRACE_WIRE_CMD && !ev->masked && ev->len >= 13 && (ev->data[0] & 0x80) &&
        ev->data[1] == 0x50 && (ev->data[4] == 8 || ev->data[4] == 16)) {
        s->chal_len = ev->data[4];
        memcpy(s->host_challenge, ev->data + 5, s->chal_len);
    } else if (ev->kind == SCB_TRACE_WIRE_RESP && s->chal_len != 0) {
        const size_t n = s->chal_len;
        s->chal_len = 0;
        if (ev->masked || ev->len < 13 + 2 * n + 2 || s->keys == NULL)
            return;
        scb__scp03_derived_t d;
        if (scb__scp03_derive(scb__keys_key(s->keys, SCB_KEY_ENC), scb__keys_key(s->keys, SCB_KEY_MAC),
                              16, s->host_challenge, ev->data + 13, n, &d) != SCB_OK)
            abort();
        add_secret(s, "S-ENC", d.s_enc, 16);
        add_secret(s, "S-MAC", d.s_mac, 16);
        add_secret(s, "S-RMAC", d.s_rmac, 16);
        s->sessions++;
    }
}

static void on_event(void *user, const scb_trace_event_t *ev)
{
    shown_t *s = user;
    char line[8192];
    if (scb_trace_format(ev, line, sizeof(line)) < 0)
        abort();
    append(s, line);
    follow_handshake(s, ev);
}

/* Hex of b (n bytes) as a trace or a message might show it. */
static void render(const uint8_t *b, size_t n, bool upper, const char *sep, char *out)
{
    static const char *const digits[2] = {"0123456789abcdef", "0123456789ABCDEF"};
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            for (const char *p = sep; *p; p++)
                out[o++] = *p;
        out[o++] = digits[upper][b[i] >> 4];
        out[o++] = digits[upper][b[i] & 15];
    }
    out[o] = 0;
}

static bool contains(const char *text, size_t len, const char *needle, size_t nlen)
{
    for (size_t i = 0; i + nlen <= len; i++)
        if (text[i] == needle[0] && memcmp(text + i, needle, nlen) == 0)
            return true;
    return false;
}

/* Check s->text; report and clear. */
static void check_shown(shown_t *s, const char *what)
{
    for (size_t i = 0; i < s->nsecrets; i++) {
        const secret_t *x = &s->secrets[i];
        bool found = false;
        for (size_t off = 0; !found && off + 8 <= x->len; off++) {
            char h[64];
            static const char *const seps[] = {"", " ", ":"};
            for (int up = 0; up < 2 && !found; up++)
                for (size_t k = 0; k < SCB_ARRAY_LEN(seps) && !found; k++) {
                    render(x->v + off, 8, up, seps[k], h);
                    found = contains(s->text, s->len, h, strlen(h));
                }
            found = found || contains(s->text, s->len, (const char *)x->v + off, 8);
        }
        if (found)
            fprintf(stderr, "  %s: %s shown in:\n%s\n", what, x->name, s->text);
        TK_CHECK(!found);
    }
    s->len = 0;
    if (s->text != NULL)
        s->text[0] = 0;
}

/* ---- the card ---- */
static char profile[2048];

static void make_profile(const char *extra)
{
    char psk[33], enc[33], mac[33], dek[33];
    tk_hex(PSK, 16, psk, sizeof(psk));
    tk_hex(ENC, 16, enc, sizeof(enc));
    tk_hex(MAC, 16, mac, sizeof(mac));
    tk_hex(DEK, 16, dek, sizeof(dek));
    snprintf(profile, sizeof(profile),
             "{\"scp03\": {\"keys\": {\"kvn\": 48, \"enc\": \"%s\", \"mac\": \"%s\", \"dek\": \"%s\"},"
             " \"level_required\": \"0x01\"},"
             " \"pin\": {\"ref\": 1, \"value\": \"4711\"},"
             " \"bootstrap\": {\"json\": {\"security\": [{\"server_uri\": \"coaps://x\","
             " \"security_mode\": 0, \"secret_key\": \"%s\"}]}}%s%s}",
             enc, mac, dek, psk, extra != NULL ? ", " : "", extra != NULL ? extra : "");
}

typedef struct {
    scb_sim_t *sim;
    scb_card_t *card;
    scb_keys_t *keys;
    shown_t shown;
} rig_t;

static void rig_open(rig_t *r, const char *extra)
{
    memset(r, 0, sizeof(*r));
    make_profile(extra);
    char detail[256] = "";
    if (scb_sim_new_from_json(&r->sim, profile, detail, sizeof(detail)) != SCB_OK) {
        fprintf(stderr, "profile: %s\n", detail);
        abort();
    }
    TK_EQ_RC(scb_keys_new(&r->keys, ENC, MAC, DEK, 16, 0x30), SCB_OK);
    TK_EQ_RC(scb_card_open_sim_owned(&r->card, r->sim), SCB_OK);
    add_secret(&r->shown, "static ENC", ENC, 16);
    add_secret(&r->shown, "static MAC", MAC, 16);
    add_secret(&r->shown, "static DEK", DEK, 16);
    add_secret(&r->shown, "new key (PUT KEY)", NEW_KEY, 16);
    add_secret(&r->shown, "bootstrap secret_key", PSK, 16);
    add_secret(&r->shown, "PIN block", PIN_BLOCK, 8);
    r->shown.keys = r->keys;
    scb_trace_t t = {SCB_TRACE_VERSION, &r->shown, on_event};
    TK_EQ_RC(scb_card_set_trace(r->card, &t), SCB_OK);
}

static void rig_free(rig_t *r)
{
    scb_card_free(&r->card);
    scb_keys_free(&r->keys);
    free(r->shown.text);
}

/* One read; its errmsg and (without secrets) its JSON join what was shown. */
static int read_and_show(rig_t *r, const scb_keys_t *keys, const scb_opts_t *o)
{
    scb_bootstrap_t *bs = NULL;
    int rc = scb_read_bootstrap(r->card, keys, o, &bs, NULL);
    append(&r->shown, scb_card_errmsg(r->card));
    append(&r->shown, scb_strerror(rc));
    if (bs != NULL) {
        char *json = NULL;
        TK_EQ_RC(scbj_bootstrap_to_json(bs, 0, &json), SCB_OK);
        append(&r->shown, json);
        scbj_free(json);
        /* the control: with secrets asked for, the key is there */
        TK_EQ_RC(scbj_bootstrap_to_json(bs, SCBJ_SHOW_SECRETS, &json), SCB_OK);
        char psk[33];
        tk_hex(PSK, 16, psk, sizeof(psk));
        for (char *p = psk; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        TK_CHECK(strstr(json, psk) != NULL);
        scbj_free(json);
    }
    scb_bootstrap_free(&bs);
    return rc;
}

/* The options of a job at level; with_pin: the PIN too (a read or a
 * write; a key rotation takes none). Free with scb_opts_free. */
static scb_opts_t *job_opts(uint8_t level, bool with_pin)
{
    scb_opts_t *o = NULL;
    TK_EQ_RC(scb_opts_new(&o), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_LEVEL, level), SCB_OK);
    if (with_pin)
        TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_PIN, PIN_BLOCK, 4), SCB_OK);
    return o;
}

static void test_good_runs(void)
{
    static const uint8_t levels[] = {0x01, 0x03, 0x11, 0x13, 0x33};
    rig_t r;
    rig_open(&r, NULL);
    scb_opts_t *o = NULL;
    for (size_t i = 0; i < SCB_ARRAY_LEN(levels); i++) {
        o = job_opts(levels[i], true);
        TK_EQ_RC(read_and_show(&r, r.keys, o), SCB_OK);
        scb_opts_free(&o);
        check_shown(&r.shown, "read");
    }
    /* write the file back, at the lowest level that may write */
    o = job_opts(0x03, true);
    uint8_t file[1024];
    size_t flen = sizeof(file);
    const uint8_t path[] = {0x50, 0x15, 0x64, 0x32};
    TK_EQ_RC(scb_sim_read_file(r.sim, path, sizeof(path), file, &flen), SCB_OK);
    flen = 4 + (size_t)(file[2] << 8 | file[3]);
    TK_EQ_RC(scb_write_bootstrap(r.card, r.keys, o, file, flen, NULL), SCB_OK);
    scb_opts_free(&o);
    append(&r.shown, scb_card_errmsg(r.card));
    scb__cleanse(file, sizeof(file));
    check_shown(&r.shown, "write");
    /* rotate to a new key set and read with it */
    scb_keys_t *fresh = NULL;
    TK_EQ_RC(scb_keys_new(&fresh, NEW_KEY, NEW_KEY, NEW_KEY, 16, 0x31), SCB_OK);
    o = job_opts(0x33, false);
    TK_EQ_RC(scb_rotate_keys(r.card, r.keys, fresh, o, NULL), SCB_OK);
    scb_opts_free(&o);
    append(&r.shown, scb_card_errmsg(r.card));
    r.shown.keys = fresh;
    o = job_opts(0x33, true);
    TK_EQ_RC(read_and_show(&r, fresh, o), SCB_OK);
    scb_opts_free(&o);
    check_shown(&r.shown, "rotation");
    TK_CHECK(r.shown.sessions >= 8); /* every handshake's keys were searched for */
    scb_keys_free(&fresh);
    rig_free(&r);
}

static void test_failures(void)
{
    char extra[128];
    unsigned cases = 0;
    /* wrong keys */
    rig_t r;
    rig_open(&r, NULL);
    scb_keys_t *wrong = NULL;
    TK_EQ_RC(scb_keys_new(&wrong, NEW_KEY, NEW_KEY, NEW_KEY, 16, 0x30), SCB_OK);
    scb_opts_t *o = job_opts(0x33, true);
    TK_EQ_RC(read_and_show(&r, wrong, o), SCB_E_SCP_CARD_CRYPTOGRAM);
    check_shown(&r.shown, "wrong keys");
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_KDF3, 1), SCB_OK);
    TK_EQ_RC(read_and_show(&r, wrong, o), SCB_E_SCP_CARD_CRYPTOGRAM);
    scb_opts_free(&o);
    check_shown(&r.shown, "KDF3 keys");
    scb_keys_free(&wrong);
    rig_free(&r);

    /* faults at every APDU of a read (12 at level 33) */
    enum { KINDS = 6 };
    for (int k = 0; k < KINDS; k++) {
        for (unsigned at = 1; at <= 12; at++) {
            char fault[80];
            switch (k) { /* one format per kind */
            case 0: snprintf(fault, sizeof(fault), "\"corrupt_rmac_at\": %u", at); break;
            case 1: snprintf(fault, sizeof(fault), "\"bad_padding_at\": %u", at); break;
            case 2: snprintf(fault, sizeof(fault), "\"disconnect_after\": %u", at); break;
            case 3: snprintf(fault, sizeof(fault), "\"sw_at\": %u, \"sw\": \"0x6982\"", at); break;
            case 4: snprintf(fault, sizeof(fault), "\"sw_at\": %u, \"sw\": \"0x6A82\"", at); break;
            default: snprintf(fault, sizeof(fault), "\"sw_at\": %u, \"sw\": \"0x6F00\"", at); break;
            }
            snprintf(extra, sizeof(extra), "\"faults\": {%s, \"rmac_on_error\": %s}", fault,
                     at % 2 ? "true" : "false");
            rig_open(&r, extra);
            o = job_opts(0x33, true);
            (void)read_and_show(&r, r.keys, o);
            scb_opts_free(&o);
            check_shown(&r.shown, extra);
            rig_free(&r);
            cases++;
        }
    }
    fprintf(stderr, "  %u fault cases (%d kinds x 12 APDUs)\n", cases, (int)KINDS);
}

int main(void)
{
    TK_RUN(test_good_runs);
    TK_RUN(test_failures);
    return tk_done();
}
