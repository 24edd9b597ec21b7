/*
 * Test kit for the C tests: assertions, hex, a scripted transport
 * (expected command -> canned response) and the vector loader.
 */
#ifndef SCB_TESTKIT_H
#define SCB_TESTKIT_H

#include "scboot.h"
#include "scboot/apdu.h"
#include "scboot/pkcs15.h"
#include "scboot/transport.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int tk_failures;
extern int tk_checks;

#define TK_CHECK(cond)                                                                 \
    do {                                                                               \
        tk_checks++;                                                                   \
        if (!(cond)) {                                                                 \
            tk_failures++;                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                              \
    } while (0)
#define TK_EQ_INT(a, b)                                                                \
    do {                                                                               \
        long long tk_a_ = (long long)(a), tk_b_ = (long long)(b);                      \
        tk_checks++;                                                                   \
        if (tk_a_ != tk_b_) {                                                          \
            tk_failures++;                                                             \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,      \
                    __LINE__, #a, tk_a_, #b, tk_b_);                                   \
        }                                                                              \
    } while (0)
#define TK_EQ_RC(a, b)                                                                 \
    do {                                                                               \
        int tk_a_ = (a), tk_b_ = (b);                                                  \
        tk_checks++;                                                                   \
        if (tk_a_ != tk_b_) {                                                          \
            tk_failures++;                                                             \
            fprintf(stderr, "%s:%d: %s returned %s (%d), expected %s (%d)\n",          \
                    __FILE__, __LINE__, #a, scb_error_name(tk_a_), tk_a_,               \
                    scb_error_name(tk_b_), tk_b_);                                     \
        }                                                                              \
    } while (0)
#define TK_EQ_MEM(a, alen, b, blen) tk_eq_mem(__FILE__, __LINE__, #a, a, alen, b, blen)
#define TK_EQ_HEX(a, alen, hexstr) tk_eq_hex(__FILE__, __LINE__, #a, a, alen, hexstr)
#define TK_RUN(fn)                                                                     \
    do {                                                                               \
        int tk_before_ = tk_failures;                                                  \
        fn();                                                                          \
        fprintf(stderr, "%s %s\n", tk_failures == tk_before_ ? "ok  " : "FAIL", #fn); \
    } while (0)
/* Print the summary and return the process exit code. */
int tk_done(void);

void tk_eq_mem(const char *file, int line, const char *what, const uint8_t *a, size_t alen,
               const uint8_t *b, size_t blen);
void tk_eq_hex(const char *file, int line, const char *what, const uint8_t *a, size_t alen,
               const char *hex);

/* Hex (spaces allowed) -> bytes; returns length or aborts on bad input. */
size_t tk_unhex(const char *hex, uint8_t *out, size_t cap);
/* Allocated copy (free with free()). */
uint8_t *tk_unhex_alloc(const char *hex, size_t *len);
/* Bytes -> upper-case hex without spaces into a static-free caller buffer. */
char *tk_hex(const uint8_t *data, size_t len, char *out, size_t cap);

/* ---- scripted transport ---- */
#define TK_SCRIPT_MAX 512
typedef struct tk_step {
    uint8_t cmd[600];
    size_t cmd_len;      /* 0: accept any command */
    uint8_t resp[700];
    size_t resp_len;
    int error;           /* != 0: transport returns this code instead */
} tk_step_t;
typedef struct tk_script {
    tk_step_t steps[TK_SCRIPT_MAX];
    size_t count;
    size_t pos;
    int mismatches;      /* commands that differed from the script */
    int overruns;        /* commands after the script ended */
    unsigned flags;      /* scb_transport_t.flags to advertise */
    bool quiet;          /* do not print mismatches */
    /* optional: computed responses instead of canned ones (returns resp len or <0) */
    int (*responder)(struct tk_script *s, const uint8_t *cmd, size_t len, uint8_t *resp,
                     size_t *resp_len);
    void *user;
} tk_script_t;
tk_script_t *tk_script_new(void);
void tk_script_free(tk_script_t *s);
/* Add a step from hex strings; cmd_hex NULL = any command. */
void tk_script_add(tk_script_t *s, const char *cmd_hex, const char *resp_hex);
void tk_script_add_error(tk_script_t *s, const char *cmd_hex, int error);
/* A card handle over the script (the script stays owned by the caller). */
scb_card_t *tk_card(tk_script_t *s);
/* True when every step was consumed and nothing mismatched. */
bool tk_script_complete(const tk_script_t *s);

/* ---- vectors ---- */
/* Parse SCB_VECTORS_DIR/name; aborts when missing. json_object_put when done. */
json_object *tk_load_vectors(const char *name);
const char *tk_json_str(json_object *o, const char *key); /* NULL when absent/null */
int64_t tk_json_int(json_object *o, const char *key, int64_t dflt);

/* ---- trace collector ---- */
/* Every trace event of a card, formatted by scb_trace_format, one line
 * each (the first TK_TRACE_LINES). */
#define TK_TRACE_LINES 128
typedef struct tk_trace {
    char lines[TK_TRACE_LINES][400];
    size_t n;
} tk_trace_t;
/* Clear t and install it as card's trace hook. */
void tk_trace_on(scb_card_t *card, tk_trace_t *t);
/* True when a line starts with prefix. */
bool tk_traced(const tk_trace_t *t, const char *prefix);

#endif /* SCB_TESTKIT_H */
