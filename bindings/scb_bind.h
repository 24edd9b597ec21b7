/*
 * Language-neutral C glue for the SWIG bindings (Python, Lua).
 *
 * The bindings wrap scboot.h directly where its signatures translate well.
 * This file adds what does not: a transport and a trace hook that call back
 * into the binding language, and key-set construction from three
 * separately sized buffers. Nothing here knows a
 * binding language: each language supplies the few functions that enter
 * its interpreter (bindings/<language>/).
 *
 * Conventions follow scboot.h: 0 / negative SCB_E_* results.
 */
#ifndef SCB_BIND_H
#define SCB_BIND_H

#include "scboot.h"
#include "scboot/apdu.h"
#include "scboot/apdu.h"
#include "scboot/pkcs15.h"
#include "scboot/transport.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest response (data + SW1 SW2) or file a binding buffer must hold:
 * an extended-length response, and any bootstrap file (its size field is
 * 16 bits, plus the 4-byte header). */
#define SCB_BIND_BYTES_MAX (65536u + 4u)

/* ------------------------------------------------------------------------ */
/* A transport whose transmit is a function of the binding language         */
/* ------------------------------------------------------------------------ */
typedef struct scb_bind_callback scb_bind_callback_t;
struct scb_bind_callback {
    /* Run the language function on cmd. On success copy at most cap bytes
     * of its result to resp and return the result's full length (>= 0;
     * more than cap is reported by the engine as an overlong response).
     * When the function failed, keep the language's error for the binding
     * to re-raise and return a negative SCB_E_* transport code. */
    long (*call)(scb_bind_callback_t *cb, const uint8_t *cmd, size_t cmd_len,
                 uint8_t *resp, size_t cap);
    unsigned flags;           /* SCB_TP_* the language transport announces */
};
/* A card handle over cb. cb must outlive the card handle (the binding
 * frees the card first); the card never frees cb. */
int scb_bind_card_open_callback(scb_card_t **out, scb_bind_callback_t *cb);

/* ------------------------------------------------------------------------ */
/* A trace hook that hands formatted lines to the binding language          */
/* ------------------------------------------------------------------------ */
typedef struct scb_bind_trace scb_bind_trace_t;
struct scb_bind_trace {
    /* One event as scb_trace_format renders it ("A>> 00 A4 ...", secrets
     * already masked by the library); kind is enum scb_trace_kind. */
    void (*line)(scb_bind_trace_t *t, int kind, const char *text);
};
/* Install t as the card's trace hook (t NULL: remove it). t must stay
 * valid while installed. */
int scb_bind_card_set_trace(scb_card_t *card, scb_bind_trace_t *t);

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */
/* ------------------------------------------------------------------------ */
/* scb_keys_new with each key's own length: all present keys must be equally
 * long (16, 24 or 32 bytes); dek may be NULL / 0. */
int scb_bind_keys_new(scb_keys_t **out, const uint8_t *enc, size_t enc_len, const uint8_t *mac,
                      size_t mac_len, const uint8_t *dek, size_t dek_len, int kvn);

/* ------------------------------------------------------------------------ */
/* Measurement                                                               */
/* ------------------------------------------------------------------------ */
/* n transmits of apdu in a C loop (the reference a binding's own transmit
 * is compared with). Stops at the first failure. */
int scb_bind_transmit_loop(scb_card_t *card, const uint8_t *apdu, size_t apdu_len,
                           unsigned long n);

#ifdef __cplusplus
}
#endif
#endif /* SCB_BIND_H */
