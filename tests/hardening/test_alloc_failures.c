/*
 * Allocation failures: the n-th allocation fails, for every n an operation
 * makes, and the operation still ends cleanly.
 *
 * The operations: opening the virtual card (scb_sim_new + scb_sim_host_keys
 * + scb_card_open_sim_owned, and scb_card_open_sim) and building keys and
 * options; a cold read at level 0x33 (EF.DIR, logical channel, SCP03, ODF,
 * DODF, the bootstrap EF); a write of a small file; a key rotation adding
 * a key set, and one replacing the card's key set.
 *
 * What fails: every malloc / calloc / realloc / strdup of the statically
 * linked library, virtual card and JSON glue (-Wl,--wrap=..., as libfido2's
 * fuzzers wrap them); every allocation of OpenSSL (CRYPTO_set_mem_functions,
 * set before OpenSSL's first use); and the constructors of shared
 * libraries that do nothing but allocate, whose NULL means out of memory
 * (EVP_CIPHER_CTX_new; json-c's json_tokener_new and json_object_new_object,
 * since json-c allocates with its own calls to malloc, which the link
 * cannot wrap).
 *
 * Two sides, told apart by a transport that marks the time spent inside
 * the virtual card's scb_sim_process:
 *  - host: the library's allocations. Each operation ends in SCB_OK (the
 *    allocation was not needed), SCB_E_NOMEM or SCB_E_CRYPTO (OpenSSL
 *    failed inside a call that cannot say why) - nothing else; and where
 *    the only failure was one the library sees for what it is (its own
 *    allocation, a constructor's NULL), SCB_E_NOMEM.
 *  - card: the virtual card's allocations while it answers a command. A
 *    card that fails inside answers as a card does, 6F00 (no precise
 *    diagnosis), never a verdict on the host's keys (6982): the host sees
 *    a card, secure-channel or write verdict with status word 6F00.
 * Two modes: only the n-th allocation fails ("once"), or the n-th and
 * every later one ("from n on", so that error paths that allocate fail
 * too).
 *
 * For every n up to the first that the operation never reaches: no crash;
 * the code as above; every block the run allocated freed by its end
 * (checked here, naming the allocation, for the wrapped allocators and
 * OpenSSL's; LeakSanitizer and valgrind check everything in the ASan
 * build and in hardening.alloc_failures_valgrind); and the same handle
 * works afterwards: a normal read gives the expected file. A failed run
 * that changed the card (a file marked incomplete, a key set put) must
 * have said so (SCB_E_WRITE_INCOMPLETE, "took the new keys").
 *
 * Warm state: OpenSSL 3 builds process-wide caches on first use (the
 * default provider, the implementations fetched into the library
 * context's method store, the DRBGs, the thread's error queue) and keeps
 * them until exit. Some are initialised under run-once guards that latch
 * a failure for the rest of the process, and a later operation would not
 * allocate them again anyway: counting them would measure the process's
 * start, not the operation. So one complete read, write and key rotation
 * run first, uncounted, and every count is from that warm state; both
 * modes of a sweep must find the same count.
 *
 * SCB_ALLOC_VERBOSE=1 prints every run; =2 also the call stack of each
 * run's first injected failure (addr2line -f -e BINARY OFFSET).
 */
#include "scboot_sim.h"
#include "testkit.h"

#include <execinfo.h>
#include <openssl/crypto.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* The failing allocator                                                     */
/* ------------------------------------------------------------------------ */
void *__real_malloc(size_t n);
void *__real_calloc(size_t m, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t m, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
void __wrap_free(void *p);

enum side { HOST = 0, CARD = 1 };
enum mode { ONCE = 0, FROM = 1 };
/* What made the allocation that failed first: the library itself (the
 * wrapped allocators), a constructor of a shared library that does
 * nothing but allocate (EVP_CIPHER_CTX_new, json_tokener_new,
 * json_object_new_object: NULL means out of memory), or OpenSSL inside a
 * call whose failure cannot say why. The first two the library can
 * recognise: they must give SCB_E_NOMEM. */
enum kind { K_OURS = 0, K_CTOR = 1, K_OSSL = 2 };

static struct {
    bool armed;
    enum side side;         /* the side whose allocations are counted */
    enum mode mode;
    unsigned long fail_at;  /* 1-based; 0 never */
    unsigned long seen;     /* allocations of that side since arming */
    unsigned long injected; /* failures made */
    enum kind first_kind;   /* of the first failure made */
    enum side now;          /* who is allocating: CARD inside scb_sim_process */
    int in_ctor;            /* inside EVP_CIPHER_CTX_new: its allocation is K_CTOR */
} A;

static int verbose; /* SCB_ALLOC_VERBOSE */

static bool fail_now(enum kind kind)
{
    if (!A.armed || A.now != A.side)
        return false;
    A.seen++;
    if (A.seen == A.fail_at || (A.mode == FROM && A.seen > A.fail_at)) {
        if (A.injected++ == 0)
            A.first_kind = kind;
        if (A.injected == 1 && verbose >= 2) {
            void *frames[24];
            int n = backtrace(frames, 24);
            backtrace_symbols_fd(frames, n, 2);
        }
        return true;
    }
    return false;
}

/* Live blocks: every block of the wrapped allocators and OpenSSL's, with
 * its allocation number, so that a leak names the allocation. The table
 * holds each address xor HIDE, a non-canonical value that is no pointer:
 * a table of real pointers would keep every leaked block reachable, and
 * LeakSanitizer and valgrind would no longer see a leak as one. */
#define LIVE_SLOTS (1u << 17)
#define HIDE ((uintptr_t)0xA5C3000000000000ull)
typedef struct {
    uintptr_t key;        /* address ^ HIDE; 0 for a free slot */
    unsigned long serial; /* allocation number since start */
    const char *file;     /* OpenSSL's file, NULL for the wrapped ones */
    int line;
    size_t size;
} live_t;
static live_t live[LIVE_SLOTS];
static unsigned long live_count, serial, live_overflow;

static size_t slot_of(uintptr_t key)
{
    uintptr_t x = key;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 20) & (LIVE_SLOTS - 1);
}

static void live_add(void *p, size_t size, const char *file, int line)
{
    if (p == NULL)
        return;
    serial++;
    if (live_count + 1 >= LIVE_SLOTS) {
        live_overflow++;
        return;
    }
    const uintptr_t key = (uintptr_t)p ^ HIDE;
    size_t i = slot_of(key);
    while (live[i].key != 0)
        i = (i + 1) & (LIVE_SLOTS - 1);
    live[i] = (live_t){key, serial, file, line, size};
    live_count++;
}

/* Linear probing with backward-shift deletion: no tombstones. */
static void live_del(void *p)
{
    if (p == NULL)
        return;
    const uintptr_t key = (uintptr_t)p ^ HIDE;
    size_t i = slot_of(key);
    while (live[i].key != 0 && live[i].key != key)
        i = (i + 1) & (LIVE_SLOTS - 1);
    if (live[i].key == 0)
        return; /* not ours: allocated by json-c or the C library itself */
    live_count--;
    for (size_t j = i;;) {
        live[i].key = 0;
        for (;;) {
            j = (j + 1) & (LIVE_SLOTS - 1);
            if (live[j].key == 0)
                return;
            size_t k = slot_of(live[j].key);
            /* move j back to i unless its home k lies cyclically in (i, j] */
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                continue;
            live[i] = live[j];
            i = j;
            break;
        }
    }
}

void *__wrap_malloc(size_t n)
{
    if (fail_now(K_OURS))
        return NULL;
    void *p = __real_malloc(n);
    live_add(p, n, NULL, 0);
    return p;
}

void *__wrap_calloc(size_t m, size_t n)
{
    if (fail_now(K_OURS))
        return NULL;
    void *p = __real_calloc(m, n);
    live_add(p, m * n, NULL, 0);
    return p;
}

static enum kind ossl_kind(void)
{
    return A.in_ctor > 0 ? K_CTOR : K_OSSL;
}

/* file NULL: a wrapped realloc of the library; else OpenSSL's. */
static void *realloc_as(void *p, size_t n, const char *file, int line)
{
    const enum kind kind = file == NULL ? K_OURS : ossl_kind();
    if (p == NULL) {
        if (fail_now(kind))
            return NULL;
        void *q = __real_malloc(n);
        live_add(q, n, file, line);
        return q;
    }
    if (n == 0) {
        live_del(p);
        __real_free(p);
        return NULL;
    }
    if (fail_now(kind))
        return NULL; /* the old block stays the caller's */
    void *q = __real_realloc(p, n);
    if (q != NULL) {
        live_del(p);
        live_add(q, n, file, line);
    }
    return q;
}

void *__wrap_realloc(void *p, size_t n)
{
    return realloc_as(p, n, NULL, 0);
}

char *__wrap_strdup(const char *s)
{
    if (fail_now(K_OURS))
        return NULL;
    char *p = __real_strdup(s);
    live_add(p, p != NULL ? strlen(p) + 1 : 0, NULL, 0);
    return p;
}

void __wrap_free(void *p)
{
    live_del(p);
    __real_free(p);
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
    if (fail_now(ossl_kind()))
        return NULL;
    void *p = __real_malloc(n);
    live_add(p, n, file, line);
    return p;
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    return realloc_as(p, n, file, line);
}

static void ossl_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    __wrap_free(p);
}

/* EVP_CIPHER_CTX_new is one zeroed allocation (-Wl,--wrap of the
 * library's calls to it): marks its allocation as a constructor's. */
EVP_CIPHER_CTX *__real_EVP_CIPHER_CTX_new(void);
EVP_CIPHER_CTX *__wrap_EVP_CIPHER_CTX_new(void);
EVP_CIPHER_CTX *__wrap_EVP_CIPHER_CTX_new(void)
{
    A.in_ctor++;
    EVP_CIPHER_CTX *c = __real_EVP_CIPHER_CTX_new();
    A.in_ctor--;
    return c;
}

/* json-c (shared) allocates with its own calls to malloc, which the link
 * cannot wrap; its constructors the virtual card calls are allocation
 * points of their own here, failing as json-c fails for want of memory. */
json_tokener *__real_json_tokener_new(void);
json_tokener *__wrap_json_tokener_new(void);
json_object *__real_json_object_new_object(void);
json_object *__wrap_json_object_new_object(void);
json_tokener *__wrap_json_tokener_new(void)
{
    return fail_now(K_CTOR) ? NULL : __real_json_tokener_new();
}

json_object *__wrap_json_object_new_object(void)
{
    return fail_now(K_CTOR) ? NULL : __real_json_object_new_object();
}

static void arm(enum side side, enum mode mode, unsigned long n)
{
    A.side = side;
    A.mode = mode;
    A.fail_at = n;
    A.seen = 0;
    A.injected = 0;
    A.armed = true;
}

static void disarm(void)
{
    A.armed = false;
}

/* OpenSSL's process-wide caches that a run may refill: the thread's error
 * queue (each of its slots keeps copies of the file and function names of
 * the last error put there, replaced by the next) and the method store's
 * query cache (an entry is replaced when a fetch is cached again). Both
 * are bounded and freed at exit (OPENSSL_cleanup), where LeakSanitizer and
 * valgrind see them go; blocks of theirs are not a run's leak. */
static bool openssl_cache(const char *file)
{
    return file != NULL && (strstr(file, "/err/") != NULL || strstr(file, "/property/") != NULL);
}

/* Blocks allocated after serial s0 and still live: a leak of the run that
 * started there. Prints the first few. */
static unsigned long leaks_since(unsigned long s0, const char *what)
{
    unsigned long n = 0;
    for (size_t i = 0; i < LIVE_SLOTS; i++) {
        const live_t *l = &live[i];
        if (l->key == 0 || l->serial <= s0 || openssl_cache(l->file))
            continue;
        if (n++ < 4)
            fprintf(stderr, "  %s: leaked %zu bytes (allocation %lu of the run, %s:%d)\n", what,
                    l->size, l->serial - s0, l->file != NULL ? l->file : "wrapped",
                    l->line);
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* The virtual card behind a transport that marks the card's side            */
/* ------------------------------------------------------------------------ */
static int card_transmit(void *user, const uint8_t *cmd, size_t len, uint8_t *resp,
                         size_t *resp_len)
{
    const enum side was = A.now;
    A.now = CARD;
    int rc = scb_sim_process(user, cmd, len, resp, resp_len);
    A.now = was;
    return rc;
}

static void card_close(void *user)
{
    scb_sim_t *sim = user;
    scb_sim_free(&sim);
}

/* ------------------------------------------------------------------------ */
/* The operations                                                            */
/* ------------------------------------------------------------------------ */
static uint8_t default_digest[32]; /* the default card's file */
static uint8_t small_file[64];     /* the file the write puts */
static size_t small_len;
static uint8_t small_digest[32];
static const uint8_t new_key[16] = {0x5A, 0x17, 0xC3, 0x08, 0x9E, 0x61, 0xB4, 0x2D,
                                    0xF0, 0x3B, 0x86, 0x4C, 0xD9, 0x25, 0x7E, 0xA1};

static const char *side_name(enum side s)
{
    return s == HOST ? "host" : "card";
}

static const char *mode_name(enum mode m)
{
    return m == ONCE ? "once" : "from n on";
}

/* A read with the given keys and default options (level 0x33): its rc and
 * the file's digest. */
static int read_digest(scb_card_t *card, const scb_keys_t *keys, uint8_t digest[32])
{
    scb_bootstrap_t *bs = NULL;
    int rc = scb_read_bootstrap(card, keys, NULL, &bs, NULL);
    if (rc == SCB_OK)
        rc = scb_bootstrap_digest(bs, digest);
    else
        TK_CHECK(bs == NULL);
    scb_bootstrap_free(&bs);
    return rc;
}

typedef struct run {
    scb_card_t *card;
    scb_sim_t *sim;
    scb_keys_t *keys;
    scb_keys_t *new_keys;
    scb_opts_t *opts;
    scb_opts_t *replace; /* opts + replace_kvn: the card's key set */
} run_t;

/* A fresh default virtual card behind the marking transport, its host
 * keys, the new keys of a rotation and the options (level 0x33), unarmed. */
static void setup(run_t *r)
{
    memset(r, 0, sizeof(*r));
    scb_transport_t tp;
    TK_EQ_RC(scb_sim_new(&r->sim, NULL, NULL, 0), SCB_OK);
    TK_EQ_RC(scb_sim_host_keys(r->sim, &r->keys), SCB_OK);
    TK_EQ_RC(scb_sim_transport(r->sim, &tp), SCB_OK);
    tp.transmit = card_transmit;
    tp.close = card_close;
    TK_EQ_RC(scb_card_open_transport(&r->card, &tp), SCB_OK);
    TK_EQ_RC(scb_keys_new(&r->new_keys, new_key, new_key, new_key, 16, 0x31), SCB_OK);
    TK_EQ_RC(scb_opts_new(&r->opts), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(r->opts, SCB_OPT_LEVEL, 0x33), SCB_OK);
    TK_EQ_RC(scb_opts_new(&r->replace), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(r->replace, SCB_OPT_LEVEL, 0x33), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(r->replace, SCB_OPT_REPLACE_KVN, scb_keys_kvn(r->keys)), SCB_OK);
}

static void teardown(run_t *r)
{
    scb_opts_free(&r->replace);
    scb_opts_free(&r->opts);
    scb_keys_free(&r->new_keys);
    scb_keys_free(&r->keys);
    scb_card_free(&r->card); /* and the virtual card */
}

static int op_read(run_t *r)
{
    scb_bootstrap_t *bs = NULL;
    int rc = scb_read_bootstrap(r->card, r->keys, r->opts, &bs, NULL);
    if (rc != SCB_OK)
        TK_CHECK(bs == NULL);
    scb_bootstrap_free(&bs);
    return rc;
}

static int op_write(run_t *r)
{
    return scb_write_bootstrap(r->card, r->keys, r->opts, small_file, small_len, NULL);
}

static int op_rotate(run_t *r)
{
    return scb_rotate_keys(r->card, r->keys, r->new_keys, r->opts, NULL); /* adds KVN 31 */
}

/* The same, replacing the card's key set (KVN 30) by the new one. */
static int op_replace(run_t *r)
{
    return scb_rotate_keys(r->card, r->keys, r->new_keys, r->replace, NULL);
}

typedef struct op {
    const char *name;
    int (*run)(run_t *r);
} op_t;

static const op_t OPS[] = {
    {"read", op_read},
    {"write", op_write},
    {"rotate", op_rotate},
    {"replace", op_replace},
};

typedef struct tally {
    unsigned long total;                    /* allocations of the operation */
    unsigned long ok, nomem, crypto, other; /* how the runs ended */
    unsigned long changed;    /* failed, but the card changed: file marked incomplete, keys put */
    unsigned long unreported; /* ... and the error did not say so */
    unsigned long bad;        /* wrong code, unusable handle, leak */
} tally_t;

static bool code_allowed(enum side side, int rc)
{
    if (rc == SCB_OK)
        return true;
    if (side == HOST)
        return rc == SCB_E_NOMEM || rc == SCB_E_CRYPTO;
    const int f = scb_error_family(rc);
    return f == SCB_FAMILY_CARD || f == SCB_FAMILY_SECURE || f == SCB_FAMILY_WRITE;
}

/* A read with keys gives the default card's file. */
static bool reads_default(run_t *r, const scb_keys_t *keys)
{
    uint8_t d[32];
    return read_digest(r->card, keys, d) == SCB_OK && memcmp(d, default_digest, 32) == 0;
}

/* A failed run that changed the card must say so: the host's allocations
 * never stop it between two commands it cannot account for. The virtual
 * card can: it may carry out a command and then fail to wrap the answer
 * (its R-MAC needs memory; a real card's does not), answering 6F00, a
 * checking error that says nothing was done. Counted, not failed. */
static bool changed(const char *what, enum side side, bool reported, tally_t *t)
{
    t->changed++;
    if (reported)
        return true;
    t->unreported++;
    if (side == CARD)
        return true;
    fprintf(stderr, "  %s, and the error does not say so\n", what);
    return false;
}

/* The same handle after a run, with the allocators working again.
 *  read:    a read gives the card's file.
 *  write:   after SCB_OK the new file; after a failure the old one, the
 *           new one, or one marked incomplete (never a mixture), which
 *           SCB_E_WRITE_INCOMPLETE must have announced; then writing
 *           again succeeds.
 *  rotate:  after SCB_OK the new keys work and the old ones (added) or
 *  replace: not (replaced); after a failure the old keys work, or the new
 *           ones, which the error must have announced ("took the new keys").
 * msg: the run's error message. */
static bool usable_after(const op_t *op, run_t *r, enum side side, int rc, const char *msg,
                         tally_t *t)
{
    if (op->run == op_read) {
        if (reads_default(r, r->keys))
            return true;
        fprintf(stderr, "  read: no read after %s: %s\n", scb_error_name(rc),
                scb_card_errmsg(r->card));
        return false;
    }
    if (op->run == op_write) {
        uint8_t d[32];
        int rr = read_digest(r->card, r->keys, d);
        if (rr == SCB_E_PARSE && rc != SCB_OK &&
            strstr(scb_card_errmsg(r->card), "marked incomplete") != NULL) {
            if (!changed("write: the file is marked incomplete", side,
                         rc == SCB_E_WRITE_INCOMPLETE, t))
                return false;
            rr = op_write(r);
            if (rr == SCB_OK)
                rr = read_digest(r->card, r->keys, d);
        }
        const bool old = rr == SCB_OK && memcmp(d, default_digest, 32) == 0;
        const bool written = rr == SCB_OK && memcmp(d, small_digest, 32) == 0;
        if (written || (old && rc != SCB_OK))
            return true;
        fprintf(stderr, "  write: after %s the card holds %s (%s)\n", scb_error_name(rc),
                rr != SCB_OK ? "no readable file" : old ? "the old file" : "another file",
                scb_card_errmsg(r->card));
        return false;
    }
    const bool replace = op->run == op_replace;
    const bool old_keys = reads_default(r, r->keys), new_keys = reads_default(r, r->new_keys);
    if (rc == SCB_OK) {
        if (new_keys && old_keys != replace)
            return true;
        fprintf(stderr, "  %s: after SCB_OK the old keys %s, the new ones %s\n", op->name,
                old_keys ? "work" : "do not", new_keys ? "work" : "do not");
        return false;
    }
    if (new_keys)
        return changed(replace ? "replace: the card holds the new keys"
                               : "rotate: the card holds the new keys",
                       side, strstr(msg, "took the new keys") != NULL, t);
    if (old_keys)
        return true;
    fprintf(stderr, "  %s: after %s neither key set works\n", op->name, scb_error_name(rc));
    return false;
}

/* For n = 1, 2, ...: fail the n-th allocation of side (only it, or it and
 * every later one) during op, until a run ends before reaching n. */
static tally_t sweep(const op_t *op, enum side side, enum mode mode)
{
    tally_t t = {0};
    for (unsigned long n = 1;; n++) {
        const unsigned long s0 = serial;
        run_t r;
        setup(&r);
        arm(side, mode, n);
        const int rc = op->run(&r);
        disarm();
        char msg[512]; /* the error message, before the reads after it clear it */
        snprintf(msg, sizeof(msg), "%s", scb_card_errmsg(r.card));
        const bool hit = A.injected > 0;
        if (verbose)
            fprintf(stderr, "  [%s %s %s n=%lu] %s%s: %s (SW %04X)\n", op->name, side_name(side),
                    mode_name(mode), n, hit ? "" : "(none failed) ", scb_error_name(rc),
                    scb_card_errmsg(r.card), scb_card_last_sw(r.card));
        bool good = true;
        if (!hit) {
            /* n is past the operation's last allocation: the unfailed run */
            t.total = n - 1;
            TK_EQ_RC(rc, SCB_OK);
            good = rc == SCB_OK;
        } else if (!code_allowed(side, rc)) {
            fprintf(stderr, "  %s, %s allocation %lu failed (%s): %s: %s\n", op->name,
                    side_name(side), n, mode_name(mode), scb_error_name(rc),
                    scb_card_errmsg(r.card));
            good = false;
        } else if (side == HOST && mode == ONCE && A.first_kind != K_OSSL && rc != SCB_OK &&
                   rc != SCB_E_NOMEM) {
            /* the only failure was one the library sees for what it is */
            fprintf(stderr, "  %s, host allocation %lu failed (once, %s): %s, not NOMEM: %s\n",
                    op->name, n, A.first_kind == K_OURS ? "the library's" : "a constructor's",
                    scb_error_name(rc), scb_card_errmsg(r.card));
            good = false;
        } else if (side == CARD && rc != SCB_OK && scb_card_last_sw(r.card) != 0x6F00) {
            /* a card that fails inside says so, and blames nobody's keys */
            fprintf(stderr, "  %s, card allocation %lu failed (%s): the card answered %04X: %s\n",
                    op->name, n, mode_name(mode), scb_card_last_sw(r.card),
                    scb_card_errmsg(r.card));
            good = false;
        }
        if (hit) {
            if (rc == SCB_OK)
                t.ok++;
            else if (rc == SCB_E_NOMEM)
                t.nomem++;
            else if (rc == SCB_E_CRYPTO)
                t.crypto++;
            else
                t.other++;
        }
        if (!usable_after(op, &r, side, rc, msg, &t)) {
            fprintf(stderr, "    (%s allocation %lu failed, %s)\n", side_name(side), n,
                    mode_name(mode));
            good = false;
        }
        teardown(&r);
        char what[96];
        snprintf(what, sizeof(what), "%s, %s allocation %lu (%s)", op->name, side_name(side), n,
                 mode_name(mode));
        if (leaks_since(s0, what) != 0)
            good = false;
        t.bad += !good;
        TK_CHECK(good);
        if (!hit)
            return t;
    }
}

static void report(const char *name, enum side side, enum mode mode, const tally_t *t)
{
    fprintf(stderr, "  %-7s %s %-9s: %3lu allocations; failing each: %3lu ok %3lu nomem "
                    "%3lu crypto %3lu other; card changed %lu (unreported %lu); %lu bad\n",
            name, side_name(side), mode_name(mode), t->total, t->ok, t->nomem, t->crypto,
            t->other, t->changed, t->unreported, t->bad);
}

static void test_operations(void)
{
    for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++) {
        for (int side = HOST; side <= CARD; side++) {
            unsigned long total = 0;
            for (int mode = ONCE; mode <= FROM; mode++) {
                tally_t t = sweep(&OPS[i], (enum side)side, (enum mode)mode);
                report(OPS[i].name, (enum side)side, (enum mode)mode, &t);
                TK_CHECK(t.total > 0);
                TK_EQ_INT(t.bad, 0);
                if (mode == ONCE)
                    total = t.total;
                else
                    TK_EQ_INT(t.total, total); /* the same operation both times */
                /* something really failed: not every run can succeed */
                TK_CHECK(t.nomem + t.crypto + t.other > 0);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Opening the card, building keys and options                               */
/* ------------------------------------------------------------------------ */
typedef struct built {
    scb_sim_t *sim;        /* scb_sim_new; the card's once it took it (borrowed) */
    scb_card_t *card;      /* scb_card_open_sim_owned */
    scb_card_t *card2;     /* scb_card_open_sim */
    scb_keys_t *keys;      /* scb_sim_host_keys */
    scb_keys_t *new_keys;  /* scb_keys_new */
    scb_opts_t *opts;      /* scb_opts_new and three setters */
    unsigned long failed;  /* steps that failed */
    unsigned long nomem, crypto;
    bool bad;              /* a step failed with another code */
} built_t;

static void step(built_t *b, const char *what, int rc)
{
    if (rc == SCB_OK)
        return;
    b->failed++;
    b->nomem += rc == SCB_E_NOMEM;
    b->crypto += rc == SCB_E_CRYPTO;
    if (rc != SCB_E_NOMEM && rc != SCB_E_CRYPTO) {
        fprintf(stderr, "  open: %s: %s\n", what, scb_error_name(rc));
        b->bad = true;
    } else if (A.mode == ONCE && A.injected > 0 && A.first_kind != K_OSSL && rc != SCB_E_NOMEM) {
        fprintf(stderr, "  open: %s: %s, not SCB_E_NOMEM, for a failed allocation it sees\n",
                what, scb_error_name(rc));
        b->bad = true;
    }
}

/* One pass over the set-up: each step does its part unless it is done, so
 * a second pass finishes what a failure left undone on the same objects. */
static void build(built_t *b)
{
    static const uint8_t host_challenge[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    char detail[160];
    if (b->sim == NULL && b->card == NULL)
        step(b, "scb_sim_new", scb_sim_new(&b->sim, NULL, detail, sizeof(detail)));
    if (b->sim != NULL && b->keys == NULL)
        step(b, "scb_sim_host_keys", scb_sim_host_keys(b->sim, &b->keys));
    if (b->sim != NULL && b->card == NULL) {
        int rc = scb_card_open_sim_owned(&b->card, b->sim);
        if (rc != SCB_OK)
            b->sim = NULL; /* freed by the failed call */
        step(b, "scb_card_open_sim_owned", rc);
    }
    if (b->card2 == NULL)
        step(b, "scb_card_open_sim", scb_card_open_sim(&b->card2, NULL, detail, sizeof(detail)));
    if (b->new_keys == NULL)
        step(b, "scb_keys_new", scb_keys_new(&b->new_keys, new_key, new_key, new_key, 16, 0x31));
    if (b->opts == NULL)
        step(b, "scb_opts_new", scb_opts_new(&b->opts));
    if (b->opts != NULL && !scb_opts_is_set(b->opts, SCB_OPT_LEVEL))
        step(b, "scb_opts_set_int", scb_opts_set_int(b->opts, SCB_OPT_LEVEL, 0x33));
    if (b->opts != NULL && !scb_opts_is_set(b->opts, SCB_OPT_KVN))
        step(b, "scb_opts_set_text", scb_opts_set_text(b->opts, scb_opt_find("kvn"), "0x30"));
    if (b->opts != NULL && !scb_opts_is_set(b->opts, SCB_OPT_HOST_CHALLENGE))
        step(b, "scb_opts_set_bytes", scb_opts_set_bytes(b->opts, SCB_OPT_HOST_CHALLENGE,
                                                         host_challenge, sizeof(host_challenge)));
}

static void unbuild(built_t *b)
{
    scb_opts_free(&b->opts);
    scb_keys_free(&b->new_keys);
    scb_keys_free(&b->keys);
    scb_card_free(&b->card2);
    if (b->card == NULL)
        scb_sim_free(&b->sim); /* made but never handed over */
    scb_card_free(&b->card);
}

static tally_t sweep_open(enum mode mode)
{
    tally_t t = {0};
    for (unsigned long n = 1;; n++) {
        const unsigned long s0 = serial;
        built_t b = {0};
        arm(HOST, mode, n);
        build(&b);
        disarm();
        const bool hit = A.injected > 0;
        bool good = !b.bad && (hit || b.failed == 0);
        if (hit && b.failed == 0)
            t.ok++;
        else if (hit && b.nomem > 0)
            t.nomem++;
        else if (hit)
            t.crypto++;
        /* the same objects, finished, then used */
        built_t again = b;
        again.failed = 0;
        build(&again);
        good = good && again.failed == 0;
        uint8_t d[32];
        if (again.failed == 0) {
            scb_bootstrap_t *bs = NULL;
            int rc = scb_read_bootstrap(again.card, again.keys, again.opts, &bs, NULL);
            if (rc == SCB_OK)
                rc = scb_bootstrap_digest(bs, d);
            scb_bootstrap_free(&bs);
            good = good && rc == SCB_OK && memcmp(d, default_digest, 32) == 0;
            rc = read_digest(again.card2, again.keys, d);
            good = good && rc == SCB_OK && memcmp(d, default_digest, 32) == 0;
        }
        unbuild(&again);
        char what[64];
        snprintf(what, sizeof(what), "open, allocation %lu (%s)", n, mode_name(mode));
        if (leaks_since(s0, what) != 0)
            good = false;
        if (!good)
            fprintf(stderr, "  open: allocation %lu failed (%s): set-up not usable afterwards\n",
                    n, mode_name(mode));
        t.bad += !good;
        TK_CHECK(good);
        if (!hit) {
            t.total = n - 1;
            return t;
        }
    }
}

static void test_open_and_build(void)
{
    tally_t once = sweep_open(ONCE), from = sweep_open(FROM);
    report("open", HOST, ONCE, &once);
    report("open", HOST, FROM, &from);
    TK_CHECK(once.total > 0);
    TK_EQ_INT(from.total, once.total);
    TK_EQ_INT(once.bad + from.bad, 0);
}

/* ------------------------------------------------------------------------ */
/* Warm-up: one of everything, uncounted                                     */
/* ------------------------------------------------------------------------ */
static void warm_up(void)
{
    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(scb_bootstrap_new(&bs), SCB_OK);
    static const char uri[] = "coaps://nomem.example:5684";
    static const uint8_t psk[16] = {0xA7, 0x31, 0x5C, 0xE2, 0x09, 0x94, 0x6B, 0xD0,
                                    0x1F, 0x88, 0x3E, 0xC5, 0x72, 0x4D, 0xB9, 0x16};
    static const uint8_t zero = 0;
    TK_EQ_INT(scb_bootstrap_add_object(bs, 0, 0, 0), 0);
    TK_EQ_INT(scb_bootstrap_add_instance(bs, 0, 0), 0);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 0, 0, (const uint8_t *)uri, strlen(uri)), 0);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 0, 2, &zero, 1), 1);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 0, 5, psk, sizeof(psk)), 2);
    small_len = sizeof(small_file);
    TK_EQ_RC(scb_bootstrap_encode(bs, small_file, &small_len), SCB_OK);
    TK_EQ_RC(scb_bootstrap_digest(bs, small_digest), SCB_OK);
    scb_bootstrap_free(&bs);

    run_t r;
    setup(&r);
    TK_EQ_RC(read_digest(r.card, r.keys, default_digest), SCB_OK);
    TK_EQ_RC(op_write(&r), SCB_OK);
    uint8_t d[32];
    TK_EQ_RC(read_digest(r.card, r.keys, d), SCB_OK);
    TK_EQ_MEM(d, 32, small_digest, 32);
    TK_EQ_RC(op_rotate(&r), SCB_OK);
    TK_EQ_RC(read_digest(r.card, r.new_keys, d), SCB_OK);
    teardown(&r);
}

int main(void)
{
    verbose = getenv("SCB_ALLOC_VERBOSE") != NULL ? atoi(getenv("SCB_ALLOC_VERBOSE")) : 0;
    /* before anything makes OpenSSL allocate */
    if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free)) {
        fprintf(stderr, "CRYPTO_set_mem_functions: OpenSSL allocated already\n");
        return 1;
    }
    TK_RUN(warm_up);
    TK_RUN(test_open_and_build);
    TK_RUN(test_operations);
    TK_EQ_INT(live_overflow, 0);
    return tk_done();
}
