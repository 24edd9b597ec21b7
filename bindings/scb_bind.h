/*
 * Language-neutral C glue for the SWIG bindings (Python, Lua).
 *
 * The bindings wrap scboot.h directly where its signatures translate well.
 * This file adds what does not: a transport and a trace hook that call back
 * into the binding language, flat argument lists instead of structs that
 * hold pointers (scb_scp03_params_t, scb_access_opts_t), and key-set
 * construction from three separately sized buffers. Nothing here knows a
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
/* SCP03 and the bootstrap job with flat arguments                           */
/* ------------------------------------------------------------------------ */
/* Flags of the flat calls below; each maps onto one boolean option. */
#define SCB_SCP_S16             0x0001u /* "s16" */
#define SCB_SCP_COUNT_DATA_ONLY 0x0002u /* "count_data_only" */
#define SCB_SCP_MAC_CLA_AS_SENT 0x0004u /* "mac_cla_as_sent" */
#define SCB_SCP_KDF3            0x0008u /* "kdf3" */
#define SCB_SCP_NO_EXTAUTH      0x0010u /* scb_bind_scp03_open: a key probe (scb_scp03_probe) */
#define SCB_ACCESS_NO_SECURE_CHANNEL 0x0001u
#define SCB_ACCESS_SKIP_EFDIR        0x0002u
#define SCB_ACCESS_NO_LOGICAL_CHANNEL 0x0004u
#define SCB_ACCESS_PAD_FF            0x0008u
#define SCB_ACCESS_NO_VERIFY         0x0010u
/* scb_scp03_open: kvn -1 = the key set's own; host_challenge / sd_aid may
 * be NULL / 0; flags SCB_SCP_*. */
int scb_bind_scp03_open(scb_card_t *card, const scb_keys_t *keys, int level, int kvn,
                        unsigned flags, const uint8_t *host_challenge, size_t host_challenge_len,
                        const uint8_t *sd_aid, size_t sd_aid_len);

/* scb_read_bootstrap / scb_write_bootstrap / scb_app_open / scb_rotate_keys
 * (scb_access_opts_t from flat arguments). keys NULL = no
 * secure channel (SCB_ACCESS_NO_SECURE_CHANNEL is then implied); level -1
 * = the default; path, aid, pin may be NULL / 0; pin_ref 0 = PIN1. info
 * may be NULL. */
int scb_bind_read_bootstrap(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags,
                            int level, unsigned scp_flags, const uint8_t *path, size_t path_len,
                            const uint8_t *aid, size_t aid_len, const uint8_t *pin,
                            size_t pin_len, int pin_ref, scb_bootstrap_t **out,
                            scb_access_info_t *info);
int scb_bind_write_bootstrap(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags,
                             int level, unsigned scp_flags, const uint8_t *path, size_t path_len,
                             const uint8_t *aid, size_t aid_len, const uint8_t *data, size_t len,
                             scb_access_info_t *info);
int scb_bind_app_open(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags, int level,
                      unsigned scp_flags, const uint8_t *aid, size_t aid_len,
                      scb_access_info_t *info);
/* scb_rotate_keys with the current keys in keys (required). */
int scb_bind_rotate_keys(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags,
                         int level, unsigned scp_flags, const uint8_t *aid, size_t aid_len,
                         const scb_keys_t *new_keys, int replace_kvn, scb_access_info_t *info);

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
