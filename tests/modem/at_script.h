/*
 * A scripted AT channel for the modem transport's C tests: each step
 * expects one command line and answers with canned bytes, delivered in
 * chunks of a chosen size; it can echo, stall (no answer), fail reads or
 * writes, and records begin/end/close calls.
 */
#ifndef SCB_AT_SCRIPT_H
#define SCB_AT_SCRIPT_H

#include "scboot.h"
#include "scboot/transport.h"

#include <stdbool.h>
#include <stddef.h>

#define AS_MAX_STEPS 64
#define AS_MAX_LOG 128
#define AS_MAX_LINE 140000
#define AS_MAX_OUT 300000

typedef struct as_step {
    char *expect;          /* command line without CR; NULL = any; "...*" = prefix */
    char *reply;           /* bytes delivered after the command; NULL = stall */
    int read_error;        /* after the reply: reads return this (0 = none) */
    char *late;            /* bytes that become readable late_ms after the command */
    unsigned late_ms;
} as_step_t;

#define AS_MAX_LATE 8
typedef struct as_late {
    long long due_ms;      /* CLOCK_MONOTONIC */
    char *bytes;           /* points into a step */
} as_late_t;

typedef struct at_script {
    as_step_t steps[AS_MAX_STEPS];
    size_t count, pos;
    char *wline;           /* command line being written (AS_MAX_LINE) */
    size_t wlen;
    char *out;             /* bytes waiting to be read (AS_MAX_OUT) */
    size_t out_len, out_pos;
    int read_error;        /* once out is empty */
    as_late_t late[AS_MAX_LATE]; /* scheduled late bytes, in due order */
    size_t late_count;
    size_t chunk;          /* bytes per read, 0 = as many as fit */
    bool echo;             /* echo each command line (with its CR) before the reply */
    const char *babble;    /* when nothing else is due: endless copies of this */
    int write_error;       /* every write fails with this (0 = none) */
    int mismatches, overruns;
    unsigned long writes, commands;
    int begins, ends, closes;
    bool quiet;            /* do not print mismatches */
    char *log[AS_MAX_LOG]; /* the command lines received, in order (the first AS_MAX_LOG) */
    size_t logged;
} at_script_t;

at_script_t *as_new(void);
void as_free(at_script_t *s);
/* One step: expect (NULL = any) -> reply (NULL = stall). */
void as_add(at_script_t *s, const char *expect, const char *reply);
void as_add_error(at_script_t *s, const char *expect, const char *reply, int read_error);
/* Give the last step added bytes that arrive late_ms after its command. */
void as_late(at_script_t *s, const char *late, unsigned late_ms);
/* The open sequence of the transport: AT, ATE0V1, AT+CMEE=1, each OK. */
void as_add_init(at_script_t *s);
/* A channel over the script (begin/end included when with_lock). */
scb_at_channel_t as_channel(at_script_t *s, bool with_lock);
/* Every step consumed, nothing unexpected. */
bool as_complete(const at_script_t *s);
/* A modem handle over the script with opts (NULL = defaults plus a 200 ms
 * timeout); aborts the test when opening fails. */
scb_card_t *as_card(at_script_t *s, const scb_opts_t *opts);

#endif /* SCB_AT_SCRIPT_H */
