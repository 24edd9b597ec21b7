/*
 * Key material is wiped before its memory goes back to the allocator.
 *
 * Every heap block freed while this test runs is searched for key bytes
 * just before it is freed: the library's, the virtual card's and the test
 * kit's blocks through -Wl,--wrap=free / --wrap=realloc on the static link
 * (a realloc is done as malloc + copy + free, so a block it moves is
 * searched too), OpenSSL's through CRYPTO_set_mem_functions (its cipher
 * contexts hold the AES key schedules, whose first round key is the key
 * itself). The keys searched for are known to the test:
 *
 *  - the recorded Samsung session of tests/vectors/scp03.json (level 33,
 *    pinned host challenge) with the virtual card holding its keys and
 *    card challenge: static ENC/MAC/DEK and S-ENC/S-MAC/S-RMAC;
 *  - sessions with the virtual card under a pinned host challenge: the
 *    session keys follow from the card's pseudo-random challenge (its
 *    sequence counter), derived here independently of the handle;
 *  - new keys put with PUT KEY, KDF3-diversified keys, and the secret keys
 *    of a bootstrap file written and read back;
 *  - static keys held in a SoftHSM2 token (built with PKCS#11): imported
 *    once, then a read, a write, a KDF3 read and a rotation whose new keys
 *    the token generates. The library never holds those bytes, so no block
 *    it, the virtual card or OpenSSL (SoftHSM's cryptography included)
 *    frees may hold them; the generated keys are learnt from the virtual
 *    card afterwards and searched for in a copy of every block freed during
 *    the rotation. (SoftHSM's own C++ heap is the token's memory, like a
 *    hardware token's; it is not searched.)
 *
 * After a normal close, after every kind of failure, and after
 * scb_card_free: no freed block held any of them (16-byte key, or either
 * 8-byte half of it). A self-check first proves the search finds a key in
 * a block freed without wiping.
 */
#include "scp03.h"
#include "scp03_testdata.h"
#include "sim_rig.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>
#include <openssl/crypto.h>
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_DEFINED
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

/* ---- the free-time search ---- */
#define MAX_SECRETS 48
typedef struct {
    char name[48];
    uint8_t key[32];
    size_t len;
} secret_t;
static secret_t secrets[MAX_SECRETS];
static size_t nsecrets;
static unsigned long freed_blocks, ossl_frees, leaks;
static char first_leak[160];

void __real_free(void *p);
void *__real_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_realloc(void *p, size_t n);

static void add_secret(const char *name, const uint8_t *key, size_t len)
{
    if (nsecrets >= MAX_SECRETS || len < 16 || len > 32)
        abort();
    secret_t *s = &secrets[nsecrets++];
    snprintf(s->name, sizeof(s->name), "%s", name);
    memcpy(s->key, key, len);
    s->len = len;
}

static bool holds(const uint8_t *b, size_t n, const uint8_t *k, size_t kl)
{
    for (size_t i = 0; i + kl <= n; i++)
        if (b[i] == k[0] && memcmp(b + i, k, kl) == 0)
            return true;
    return false;
}

/* While capturing, a copy of every freed block (searched later for keys
 * that are only known afterwards: keys a token generated). */
#define CAPTURE_MAX (48u << 20)
static uint8_t capture[CAPTURE_MAX];
static size_t capture_len;
static bool capturing, capture_overflow;

static void search(const void *p, size_t n)
{
    if (p == NULL)
        return;
    if (capturing) {
        VALGRIND_MAKE_MEM_DEFINED(p, n);
        if (capture_len + n > sizeof(capture))
            capture_overflow = true;
        else
            memcpy(capture + capture_len, p, n), capture_len += n;
    }
    /* A block is searched whole, slack and never-written bytes included:
     * under valgrind those are undefined, which is no error here. */
    VALGRIND_MAKE_MEM_DEFINED(p, n);
    freed_blocks++;
    for (size_t i = 0; i < nsecrets; i++) {
        const secret_t *s = &secrets[i];
        const size_t half = s->len / 2;
        if (holds(p, n, s->key, s->len) || holds(p, n, s->key, half) ||
            holds(p, n, s->key + half, s->len - half)) {
            if (leaks++ == 0)
                snprintf(first_leak, sizeof(first_leak), "%.47s in a freed block of %zu bytes",
                         s->name, n);
        }
    }
}

void __wrap_free(void *p)
{
    if (p != NULL)
        search(p, malloc_usable_size(p));
    __real_free(p);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (p == NULL)
        return malloc(n);
    if (n == 0) {
        __wrap_free(p);
        return NULL;
    }
    void *q = malloc(n);
    if (q == NULL)
        return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    __wrap_free(p);
    return q;
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return __wrap_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    ossl_frees += p != NULL;
    __wrap_free(p);
}

/* Start a phase: no leak so far. End it: report. */
static void phase_check(const char *what)
{
    if (leaks != 0)
        fprintf(stderr, "  %s: %lu leak(s), first: %s\n", what, leaks, first_leak);
    TK_EQ_INT(leaks, 0);
    leaks = 0;
}

/* Keeps the compiler from eliding the self-check's malloc/free pairs. */
static void *volatile sink;

static void test_search_finds_unwiped_keys(void)
{
    uint8_t k[16];
    memset(k, 0xC3, sizeof(k));
    k[0] = 0x17;
    size_t before = nsecrets;
    add_secret("self-check key", k, sizeof(k));
    uint8_t *block = malloc(100);
    memset(block, 0, 100);
    memcpy(block + 40, k + 8, 8); /* half a key is found too */
    sink = block;
    free(sink);
    TK_EQ_INT(leaks, 1);
    block = malloc(64);
    memcpy(block + 3, k, 16);
    scb__cleanse(block, 64); /* wiped: nothing found */
    sink = block;
    free(sink);
    TK_EQ_INT(leaks, 1);
    leaks = 0;
    nsecrets = before;
}

/* ---- the recorded Samsung session on the virtual card ---- */
static json_object *vectors;

static void add_entry_secrets(json_object *e)
{
    static const char *const f[][2] = {{"keys", "enc"},     {"keys", "mac"},      {"keys", "dek"},
                                       {"session", "s_enc"}, {"session", "s_mac"}, {"session", "s_rmac"}};
    for (size_t i = 0; i < SCB_ARRAY_LEN(f); i++) {
        uint8_t k[32];
        size_t n = tk_unhex(scp03_field(e, f[i][0], f[i][1]), k, sizeof(k));
        char name[48];
        snprintf(name, sizeof(name), "samsung %s.%s", f[i][0], f[i][1]);
        add_secret(name, k, n);
    }
}

static const char *const GET_STATUS = "80F28000024F00";

/* What the card answers after the handshake: a GET STATUS answer, or one
 * of the rig's spoiled answers (enum rig_bad_answer); PUT KEY is the
 * card's own. */
#define ANSWER_OK (-1)
typedef struct {
    rig_t r;
    int answer;
} samsung_t;

static int samsung_hook(void *user, const uint8_t *cmd, size_t len, uint8_t *resp,
                        size_t *resp_len)
{
    samsung_t *x = user;
    static const uint8_t d[] = {0x08, 0xA0, 0x00, 0x00, 0x01, 0x51, 0x41, 0x43, 0x4C, 0x01, 0x00};
    if (len >= 2 && cmd[1] == 0xD8)
        return SCB_SIM_HOOK_PASS;
    if (x->answer == ANSWER_OK)
        return rig_answer(resp, resp_len, d, sizeof(d), 0x9000);
    return rig_bad_answer(x->r.sim, x->answer, d, sizeof(d), resp, resp_len);
}

/* Handshake faults of the card */
enum { HANDSHAKE_OK, BAD_CARD_CRYPTOGRAM, EXTAUTH_REFUSED };

/* A handle with the Samsung session open (or not: open_rc). */
static int samsung_open(samsung_t *x, int answer, bool kdf3, int fault)
{
    json_object *e = scp03_entry(vectors, "samsung_aes128_s8_sl33");
    memset(x, 0, sizeof(*x));
    x->answer = answer;
    rig_attach_vector(&x->r, e, NULL);
    if (kdf3)
        TK_EQ_RC(scb_opts_set_int(x->r.opts, SCB_OPT_KDF3, 1), SCB_OK);
    scb_sim_faults_t f;
    TK_EQ_RC(scb_sim_get_faults(x->r.sim, &f), SCB_OK);
    f.bad_card_cryptogram = fault == BAD_CARD_CRYPTOGRAM;
    if (fault == EXTAUTH_REFUSED) { /* the APDU after INITIALIZE UPDATE */
        f.sw_at = scb_sim_apdu_count(x->r.sim) + 2;
        f.sw_at_value = 0x6300;
    }
    TK_EQ_RC(scb_sim_set_faults(x->r.sim, &f), SCB_OK);
    int rc = scb_scp03_open(x->r.card, x->r.keys, x->r.opts);
    if (rc == SCB_OK)
        rig_check_handshake(&x->r, e);
    scb_sim_set_cmd_hook(x->r.sim, samsung_hook, x);
    return rc;
}

static void samsung_free(samsung_t *x)
{
    rig_close(&x->r);
}

static int send_hex(scb_card_t *card, const char *hex)
{
    uint8_t cmd[300], r[300];
    size_t n = tk_unhex(hex, cmd, sizeof(cmd)), rl = sizeof(r);
    int rc = scb_card_transmit(card, cmd, n, r, &rl);
    scb__cleanse(r, sizeof(r));
    return rc;
}

static void test_samsung_session(void)
{
    json_object *e = scp03_entry(vectors, "samsung_aes128_s8_sl33");
    const size_t base = nsecrets;
    add_entry_secrets(e);
    samsung_t x;

    /* normal close, then free */
    TK_EQ_RC(samsung_open(&x, ANSWER_OK, false, HANDSHAKE_OK), SCB_OK);
    TK_EQ_RC(send_hex(x.r.card, GET_STATUS), SCB_OK);
    TK_EQ_RC(scb_scp03_close(x.r.card), SCB_OK);
    phase_check("after scb_scp03_close");
    samsung_free(&x);
    phase_check("after scb_card_free (closed session)");

    /* free with the session still open */
    TK_EQ_RC(samsung_open(&x, ANSWER_OK, false, HANDSHAKE_OK), SCB_OK);
    TK_EQ_RC(send_hex(x.r.card, GET_STATUS), SCB_OK);
    samsung_free(&x);
    phase_check("after scb_card_free (open session)");

    /* every kind of failure inside the session tears it down and wipes */
    static const struct {
        int answer;
        int rc;
        const char *what;
    } failures[] = {
        {RIG_FLIP_RMAC, SCB_E_SCP_RMAC, "bad R-MAC"},
        {RIG_NO_MARKER, SCB_E_SCP_PADDING, "bad padding"},
        {RIG_ERROR_WITH_DATA, SCB_E_SCP_RMAC, "error status with data"},
        {RIG_TOO_SHORT, SCB_E_SCP_RMAC, "response too short for the R-MAC"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(failures); i++) {
        TK_EQ_RC(samsung_open(&x, failures[i].answer, false, HANDSHAKE_OK), SCB_OK);
        TK_EQ_RC(send_hex(x.r.card, GET_STATUS), failures[i].rc);
        TK_CHECK(!scb_scp03_is_open(x.r.card));
        phase_check(failures[i].what);
        samsung_free(&x);
        phase_check(failures[i].what);
    }
    /* the card goes away mid-session */
    TK_EQ_RC(samsung_open(&x, ANSWER_OK, false, HANDSHAKE_OK), SCB_OK);
    scb_sim_faults_t f;
    TK_EQ_RC(scb_sim_get_faults(x.r.sim, &f), SCB_OK);
    f.disconnect_after = scb_sim_apdu_count(x.r.sim);
    TK_EQ_RC(scb_sim_set_faults(x.r.sim, &f), SCB_OK);
    TK_EQ_RC(send_hex(x.r.card, GET_STATUS), SCB_E_CARD_REMOVED);
    phase_check("card removed");
    samsung_free(&x);
    phase_check("card removed, freed");

    /* handshake failures: wrong card cryptogram, EXTERNAL AUTHENTICATE
     * refused, and KDF3 diversification (keys made and dropped) */
    TK_EQ_RC(samsung_open(&x, ANSWER_OK, false, BAD_CARD_CRYPTOGRAM), SCB_E_SCP_CARD_CRYPTOGRAM);
    phase_check("card cryptogram mismatch");
    samsung_free(&x);
    TK_EQ_RC(samsung_open(&x, ANSWER_OK, false, EXTAUTH_REFUSED), SCB_E_SCP_AUTH_REJECTED);
    phase_check("EXTERNAL AUTHENTICATE refused");
    samsung_free(&x);
    /* what KDF3 makes of the Samsung keys with the card's KDD: the handle
     * derives the same keys in the handshake */
    uint8_t r0[64], k16[3][16];
    tk_unhex(scp03_exchange(e, 0, "r"), r0, sizeof(r0));
    tk_unhex(scp03_field(e, "keys", "enc"), k16[0], 16);
    tk_unhex(scp03_field(e, "keys", "mac"), k16[1], 16);
    tk_unhex(scp03_field(e, "keys", "dek"), k16[2], 16);
    scb_keys_t *master = NULL, *div = NULL;
    TK_EQ_RC(scb_keys_new(&master, k16[0], k16[1], k16[2], 16, 0x30), SCB_OK);
    scb__cleanse(k16, sizeof(k16));
    TK_EQ_RC(scb_keys_diversify_kdf3(master, r0 /* KDD: the first 10 bytes */, &div), SCB_OK);
    add_secret("KDF3 ENC", scb__keys_key(div, SCB_KEY_ENC), 16);
    add_secret("KDF3 MAC", scb__keys_key(div, SCB_KEY_MAC), 16);
    add_secret("KDF3 DEK", scb__keys_key(div, SCB_KEY_DEK), 16);
    scb_keys_free(&div);
    scb_keys_free(&master);
    phase_check("KDF3 set-up");
    TK_EQ_RC(samsung_open(&x, ANSWER_OK, true, HANDSHAKE_OK), SCB_E_SCP_CARD_CRYPTOGRAM);
    phase_check("KDF3 handshake refused");
    samsung_free(&x);
    phase_check("KDF3 handshake, freed");

    /* PUT KEY: the new keys travel under the DEK and the card stores them;
     * nothing of them stays, on either side */
    uint8_t nk[3][16];
    for (int i = 0; i < 16; i++) {
        nk[0][i] = (uint8_t)(0x9A ^ (i * 29));
        nk[1][i] = (uint8_t)(0x5C ^ (i * 53));
        nk[2][i] = (uint8_t)(0xE1 ^ (i * 71));
    }
    add_secret("PUT KEY new ENC", nk[0], 16);
    add_secret("PUT KEY new MAC", nk[1], 16);
    add_secret("PUT KEY new DEK", nk[2], 16);
    scb_keys_t *put_keys_new = NULL;
    TK_EQ_RC(scb_keys_new(&put_keys_new, nk[0], nk[1], nk[2], 16, 0x31), SCB_OK);
    scb__cleanse(nk, sizeof(nk));
    TK_EQ_RC(samsung_open(&x, ANSWER_OK, false, HANDSHAKE_OK), SCB_OK);
    TK_EQ_RC(scb_put_keys(x.r.card, put_keys_new, 0), SCB_OK);
    phase_check("PUT KEY");
    samsung_free(&x);
    scb_keys_free(&put_keys_new);
    phase_check("PUT KEY, freed");
    nsecrets = base;
}

/* ---- the virtual card: read, write, rotate with known session keys ---- */
static const uint8_t pkcs15_aid[12] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                       0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};
static const uint8_t host_challenge[8] = {0x3E, 0x91, 0x07, 0xC4, 0x5A, 0xD2, 0x68, 0xBF};

/* The session keys of the next handshake (+ later) with sim under host_challenge:
 * the card's challenge is KDF(ENC, 02, counter || AID) (Amd D 6.2.2.1). */
static void add_next_session(scb_sim_t *sim, uint32_t later, const uint8_t *enc,
                             const uint8_t *mac, const char *what)
{
    uint32_t n = scb_sim_sequence_counter(sim) + later;
    const uint8_t seq[3] = {(uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    uint8_t card_challenge[8];
    scb__scp03_derived_t d;
    TK_EQ_RC(scb__scp03_card_challenge(enc, 16, seq, pkcs15_aid, sizeof(pkcs15_aid), 8,
                                       card_challenge), SCB_OK);
    TK_EQ_RC(scb__scp03_derive(enc, mac, 16, host_challenge, card_challenge, 8, &d), SCB_OK);
    char name[48];
    snprintf(name, sizeof(name), "%s S-ENC", what);
    add_secret(name, d.s_enc, 16);
    snprintf(name, sizeof(name), "%s S-MAC", what);
    add_secret(name, d.s_mac, 16);
    snprintf(name, sizeof(name), "%s S-RMAC", what);
    add_secret(name, d.s_rmac, 16);
    scb__cleanse(&d, sizeof(d));
}

static void test_virtual_card_flows(void)
{
    const size_t base = nsecrets;
    scb_sim_t *sim = NULL;
    scb_card_t *card = NULL;
    scb_keys_t *keys = NULL;
    TK_EQ_RC(scb_sim_new(&sim, NULL, NULL, 0), SCB_OK);
    TK_EQ_RC(scb_sim_host_keys(sim, &keys), SCB_OK);
    const uint8_t *enc = scb__keys_key(keys, SCB_KEY_ENC);
    const uint8_t *mac = scb__keys_key(keys, SCB_KEY_MAC);
    TK_EQ_RC(scb_card_open_sim_owned(&card, sim), SCB_OK);
    /* one options object for every job here: the pinned host challenge */
    scb_opts_t *o = NULL;
    TK_EQ_RC(scb_opts_new(&o), SCB_OK);
    TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_HOST_CHALLENGE, host_challenge, sizeof(host_challenge)),
             SCB_OK);

    /* a bootstrap file whose PSK secret keys are known */
    static const uint8_t psk[2][16] = {
        {0x7B, 0x2E, 0x91, 0xC5, 0x08, 0xF3, 0x6A, 0xD4, 0x1F, 0x87, 0xB0, 0x3C, 0xE9, 0x52, 0x0D, 0xA6},
        {0xC1, 0x4F, 0x9E, 0x27, 0xB8, 0x63, 0x0A, 0xFD, 0x35, 0x7C, 0xE2, 0x18, 0x96, 0x4B, 0xD0, 0x5F}};
    add_secret("bootstrap PSK /0/0", psk[0], 16);
    add_secret("bootstrap PSK /0/1", psk[1], 16);
    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(scb_bootstrap_new(&bs), SCB_OK);
    int oi = scb_bootstrap_add_object(bs, 0, 0, 0);
    for (uint16_t i = 0; i < 2; i++) {
        int ii = scb_bootstrap_add_instance(bs, (size_t)oi, i);
        TK_CHECK(scb_bootstrap_add_resource(bs, (size_t)oi, (size_t)ii, 0,
                                            (const uint8_t *)"coaps://x", 9) >= 0);
        TK_CHECK(scb_bootstrap_add_resource(bs, (size_t)oi, (size_t)ii, 5, psk[i], 16) >= 0);
    }
    uint8_t file[256];
    size_t flen = sizeof(file);
    TK_EQ_RC(scb_bootstrap_encode(bs, file, &flen), SCB_OK);
    scb_bootstrap_free(&bs);
    phase_check("bootstrap model freed");

    add_next_session(sim, 0, enc, mac, "write session");
    scb_access_info_t info;
    TK_EQ_RC(scb_write_bootstrap(card, keys, o, file, flen, &info), SCB_OK);
    scb__cleanse(file, sizeof(file));
    phase_check("write");
    add_next_session(sim, 0, enc, mac, "read session");
    TK_EQ_RC(scb_read_bootstrap(card, keys, o, &bs, &info), SCB_OK);
    TK_EQ_INT(scb_bootstrap_security_count(bs), 2);
    phase_check("read");
    scb_bootstrap_free(&bs);
    phase_check("read, model freed");

    /* failures of the whole job: R-MAC, padding, the card going away */
    static const char *const faults[] = {"corrupt_rmac_at", "bad_padding_at", "disconnect_after"};
    for (size_t i = 0; i < SCB_ARRAY_LEN(faults); i++) {
        scb_sim_faults_t f;
        TK_EQ_RC(scb_sim_get_faults(sim, &f), SCB_OK);
        const unsigned long at = scb_sim_apdu_count(sim) + 8; /* the DODF's READ BINARY */
        f.corrupt_rmac_at = i == 0 ? at : 0;
        f.bad_padding_at = i == 1 ? at : 0;
        f.disconnect_after = i == 2 ? at : 0;
        TK_EQ_RC(scb_sim_set_faults(sim, &f), SCB_OK);
        add_next_session(sim, 0, enc, mac, "fault session");
        TK_CHECK(scb_read_bootstrap(card, keys, o, &bs, &info) != SCB_OK);
        TK_CHECK(bs == NULL);
        char what[64];
        snprintf(what, sizeof(what), "%s %lu", faults[i], at);
        phase_check(what);
        f.corrupt_rmac_at = f.bad_padding_at = f.disconnect_after = 0;
        scb_sim_set_faults(sim, &f);
        scb_sim_reset(sim);
    }

    /* key rotation: the new set, its session, then a read with it */
    uint8_t nk[16];
    for (int i = 0; i < 16; i++)
        nk[i] = (uint8_t)(0x3D ^ (i * 97));
    add_secret("rotated key", nk, 16);
    scb_keys_t *fresh = NULL;
    TK_EQ_RC(scb_keys_new(&fresh, nk, nk, nk, 16, 0x31), SCB_OK);
    add_next_session(sim, 0, enc, mac, "rotation session");
    add_next_session(sim, 1, nk, nk, "proof session");
    TK_EQ_RC(scb_rotate_keys(card, keys, fresh, o, &info), SCB_OK);
    phase_check("rotation");
    add_next_session(sim, 0, nk, nk, "new-key read session");
    TK_EQ_RC(scb_read_bootstrap(card, fresh, o, &bs, &info), SCB_OK);
    scb_bootstrap_free(&bs);
    scb__cleanse(nk, sizeof(nk));
    phase_check("read with the rotated keys");

    scb_opts_free(&o);
    scb_card_free(&card); /* frees the virtual card too */
    scb_keys_free(&fresh);
    scb_keys_free(&keys);
    phase_check("card and keys freed");
    nsecrets = base;
}

#ifdef SCB_WITH_PKCS11
/* ---- static keys in a SoftHSM2 token ---- */
static const char softhsm[] = "/usr/lib/softhsm/libsofthsm2.so";

/* A token of this test's own in a fresh directory; the URI prefix with
 * module-path and pin-source goes to query. */
static bool make_token(char *dir, size_t dir_len, char *query, size_t query_len)
{
    snprintf(dir, dir_len, "/tmp/scb-keywipe-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return false;
    char path[600], cmd[1400];
    snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", dir);
    fclose(f);
    setenv("SOFTHSM2_CONF", path, 1);
    snprintf(path, sizeof(path), "%s/pin", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, "5678\n", 5) != 5)
        return false;
    close(fd);
    snprintf(query, query_len, "module-path=%s&pin-source=file:%s", softhsm, path);
    snprintf(cmd, sizeof(cmd),
             "softhsm2-util --init-token --free --label keywipe --so-pin 87654321 --pin 5678 "
             ">/dev/null");
    return system(cmd) == 0;
}

static void remove_token(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    TK_EQ_INT(system(cmd), 0);
}

static scb_keys_t *token_keys(const char *name, const char *query, uint8_t kvn, unsigned flags)
{
    char uri[1200], detail[300] = "";
    snprintf(uri, sizeof(uri), "pkcs11:token=keywipe;object=%s?%s", name, query);
    scb_keys_t *k = NULL;
    int rc = scb_keys_open_pkcs11(&k, uri, kvn, NULL, flags, detail, sizeof(detail));
    TK_EQ_RC(rc, SCB_OK);
    if (rc != SCB_OK)
        fprintf(stderr, "  %s: %s\n", name, detail);
    return k;
}

static void import_keys(const char *name, const char *query, const uint8_t *enc,
                        const uint8_t *mac, const uint8_t *dek)
{
    char uri[1200], detail[300] = "";
    snprintf(uri, sizeof(uri), "pkcs11:token=keywipe;object=%s?%s", name, query);
    scb_keys_t *k = NULL;
    TK_EQ_RC(scb_keys_new(&k, enc, mac, dek, 16, 0x30), SCB_OK);
    int rc = scb_pkcs11_import(uri, NULL, 0, k, detail, sizeof(detail));
    TK_EQ_RC(rc, SCB_OK);
    if (rc != SCB_OK)
        fprintf(stderr, "  import %s: %s\n", name, detail);
    scb_keys_free(&k);
}

static bool captured(const uint8_t *key, size_t len)
{
    return holds(capture, capture_len, key, len) || holds(capture, capture_len, key, len / 2) ||
           holds(capture, capture_len, key + len / 2, len - len / 2);
}

static void test_token_keys(void)
{
    const size_t base = nsecrets;
    char dir[64], query[800];
    TK_CHECK(make_token(dir, sizeof(dir), query, sizeof(query)));
    /* static keys of a card of this test's own: ENC, MAC, DEK */
    uint8_t k[3][16];
    for (int i = 0; i < 16; i++) {
        k[0][i] = (uint8_t)(0xB7 ^ (i * 37));
        k[1][i] = (uint8_t)(0x2C ^ (i * 59));
        k[2][i] = (uint8_t)(0xE9 ^ (i * 83));
    }
    add_secret("token static ENC", k[0], 16);
    add_secret("token static MAC", k[1], 16);
    add_secret("token static DEK", k[2], 16);
    char hex[3][33], profile[700];
    for (int t = 0; t < 3; t++)
        tk_hex(k[t], 16, hex[t], sizeof(hex[t]));
    snprintf(profile, sizeof(profile),
             "{\"scp03\": {\"keys\": [{\"kvn\": 48, \"enc\": \"%s\", \"mac\": \"%s\", "
             "\"dek\": \"%s\"}]}}",
             hex[0], hex[1], hex[2]);
    import_keys("card", query, k[0], k[1], k[2]);
    import_keys("master", query, k[0], k[0], k[0]); /* the card's KDF3 master */
    phase_check("import into the token");

    scb_sim_t *sim = NULL;
    scb_card_t *card = NULL;
    TK_EQ_RC(scb_sim_new_from_json(&sim, profile, NULL, 0), SCB_OK);
    scb__cleanse(profile, sizeof(profile));
    scb__cleanse(hex, sizeof(hex));
    TK_EQ_RC(scb_card_open_sim_owned(&card, sim), SCB_OK);
    scb_keys_t *keys = token_keys("card", query, 0x30, 0);
    TK_CHECK(keys != NULL && scb_keys_in_token(keys));
    TK_CHECK(scb__keys_key(keys, SCB_KEY_ENC) == NULL); /* nothing to read */
    scb_opts_t *o = NULL, *rot = NULL;
    TK_EQ_RC(scb_opts_new(&o), SCB_OK);
    TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_HOST_CHALLENGE, host_challenge, sizeof(host_challenge)),
             SCB_OK);
    TK_EQ_RC(scb_opts_new(&rot), SCB_OK); /* the rotation replaces key set 30 */
    TK_EQ_RC(scb_opts_set_bytes(rot, SCB_OPT_HOST_CHALLENGE, host_challenge,
                                sizeof(host_challenge)),
             SCB_OK);
    TK_EQ_RC(scb_opts_set_int(rot, SCB_OPT_REPLACE_KVN, 0x30), SCB_OK);

    scb_access_info_t info;
    scb_bootstrap_t *bs = NULL;
    add_next_session(sim, 0, k[0], k[1], "token read session");
    TK_EQ_RC(scb_read_bootstrap(card, keys, o, &bs, &info), SCB_OK);
    phase_check("read with token keys");
    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    TK_EQ_RC(scb_bootstrap_raw(bs, &raw, &raw_len), SCB_OK);
    uint8_t file[1024];
    memcpy(file, raw, raw_len < sizeof(file) ? raw_len : sizeof(file));
    scb_bootstrap_free(&bs);
    add_next_session(sim, 0, k[0], k[1], "token write session");
    TK_EQ_RC(scb_write_bootstrap(card, keys, o, file, raw_len, &info), SCB_OK);
    scb__cleanse(file, sizeof(file));
    phase_check("write with token keys");

    /* rotation: the token generates the new set and wraps it under the
     * token DEK; the new keys are known (from the card) only afterwards */
    scb_keys_t *fresh = token_keys("rotated", query, 0x31, SCB_P11_GENERATE);
    add_next_session(sim, 0, k[0], k[1], "token rotation session");
    capture_len = 0;
    capture_overflow = false;
    capturing = true;
    /* self-check: a block freed unwiped while capturing is found later */
    uint8_t marker[16];
    memset(marker, 0x5A, sizeof(marker));
    marker[3] = 0xA7;
    uint8_t *block = malloc(48);
    memcpy(block + 9, marker, sizeof(marker));
    sink = block;
    free(sink);
    TK_CHECK(captured(marker, sizeof(marker)));
    int rc = scb_rotate_keys(card, keys, fresh, rot, &info);
    capturing = false;
    TK_EQ_RC(rc, SCB_OK);
    phase_check("rotation to token-generated keys");
    TK_CHECK(!capture_overflow);
    scb_keys_t *learnt = NULL;
    TK_EQ_RC(scb_sim_host_keys(sim, &learnt), SCB_OK);
    TK_EQ_INT(scb_keys_kvn(learnt), 0x31);
    static const char *const tn[3] = {"ENC", "MAC", "DEK"};
    for (int t = SCB_KEY_ENC; t <= SCB_KEY_DEK; t++) {
        const uint8_t *nk = scb__keys_key(learnt, t);
        TK_CHECK(!captured(nk, 16));
        if (captured(nk, 16))
            fprintf(stderr, "  generated %s found in a block freed during the rotation\n",
                    tn[t - 1]);
        char name[48];
        snprintf(name, sizeof(name), "token-generated %s", tn[t - 1]);
        add_secret(name, nk, 16);
        uint8_t kcv_host[3], kcv_token[3];
        TK_EQ_RC(scb_kcv(nk, 16, kcv_host), SCB_OK);
        TK_EQ_RC(scb_keys_kcv(fresh, t, kcv_token), SCB_OK); /* computed in the token */
        TK_EQ_MEM(kcv_token, 3, kcv_host, 3);
    }
    fprintf(stderr, "  %zu bytes freed during the rotation searched for the generated keys\n",
            capture_len);
    add_next_session(sim, 0, scb__keys_key(learnt, SCB_KEY_ENC),
                     scb__keys_key(learnt, SCB_KEY_MAC), "generated-key read session");
    scb_keys_free(&learnt);
    capture_len = 0;
    TK_EQ_RC(scb_read_bootstrap(card, fresh, o, &bs, &info), SCB_OK);
    scb_bootstrap_free(&bs);
    phase_check("read with the token-generated keys");
    scb_card_free(&card);

    /* KDF3 with the master key in the token: the card keys are host values
     * (wiped as before), the master's bytes are never in this process */
    scb_keys_t *master = token_keys("master", query, 0x30, 0);
    char mhex[33];
    tk_hex(k[0], 16, mhex, sizeof(mhex));
    snprintf(profile, sizeof(profile),
             "{\"scp03\": {\"keys\": [{\"kvn\": 48, \"master\": \"%s\", \"diversify\": "
             "\"kdf3\"}], \"kdd\": \"00010203040506070809\"}}",
             mhex);
    TK_EQ_RC(scb_sim_new_from_json(&sim, profile, NULL, 0), SCB_OK);
    scb__cleanse(profile, sizeof(profile));
    scb__cleanse(mhex, sizeof(mhex));
    static const uint8_t kdd[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    scb_keys_t *div = NULL;
    TK_EQ_RC(scb_keys_diversify_kdf3(master, kdd, &div), SCB_OK); /* CMAC in the token */
    add_secret("token KDF3 card ENC", scb__keys_key(div, SCB_KEY_ENC), 16);
    add_secret("token KDF3 card MAC", scb__keys_key(div, SCB_KEY_MAC), 16);
    add_secret("token KDF3 card DEK", scb__keys_key(div, SCB_KEY_DEK), 16);
    add_next_session(sim, 0, scb__keys_key(div, SCB_KEY_ENC), scb__keys_key(div, SCB_KEY_MAC),
                     "token KDF3 session");
    scb_keys_free(&div);
    TK_EQ_RC(scb_card_open_sim_owned(&card, sim), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_KDF3, 1), SCB_OK);
    TK_EQ_RC(scb_read_bootstrap(card, master, o, &bs, &info), SCB_OK);
    scb_bootstrap_free(&bs);
    phase_check("KDF3 read with the master in the token");
    scb_card_free(&card);
    scb_keys_free(&master);
    phase_check("KDF3, freed");

    scb_opts_free(&o);
    scb_opts_free(&rot);
    scb_keys_free(&fresh);
    scb_keys_free(&keys);
    phase_check("token key sets freed");
    remove_token(dir);
    nsecrets = base;
}
#endif

int main(void)
{
    /* before anything makes OpenSSL allocate */
    if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free)) {
        fprintf(stderr, "CRYPTO_set_mem_functions: OpenSSL allocated already\n");
        return 1;
    }
    vectors = tk_load_vectors("scp03.json");
    TK_RUN(test_search_finds_unwiped_keys);
    TK_RUN(test_samsung_session);
    TK_RUN(test_virtual_card_flows);
#ifdef SCB_WITH_PKCS11
    TK_RUN(test_token_keys);
#endif
    fprintf(stderr, "  %lu freed blocks searched, %lu of them OpenSSL's\n", freed_blocks,
            ossl_frees);
    TK_CHECK(ossl_frees > 100); /* the cipher contexts went through the search */
    json_object_put(vectors);
    return tk_done();
}
