/*
 * A minimal SCP03 host for the virtual card's C tests, on the sim's crypto
 * wrapper. It exists to drive the card through every level and fault; its
 * correctness is pinned by the recorded traces (test_sim_scp03.c wraps each
 * recorded plain command with it and compares with the recorded wire bytes).
 * The library's own host (core/src/scp03*.c) is deliberately not used here.
 */
#ifndef SIM_TESTHOST_H
#define SIM_TESTHOST_H

#include "sim_internal.h"
#include "testkit.h"

typedef struct th {
    scb_sim_t *sim;
    sim_crypto_t *c;
    uint8_t chn;
    uint8_t enc[32], mac[32], dek[32];
    size_t klen;
    bool s16;
    uint8_t s_enc[32], s_mac[32], s_rmac[32];
    uint8_t mcv[16], counter[16];
    uint8_t level;
    bool open;
    bool mac_cla_as_sent;      /* variant: MAC the CLA with its channel bits */
    bool count_data_only;      /* variant: count only commands with data */
    uint8_t host_challenge[16];
    uint8_t iu[64];            /* last INITIALIZE UPDATE response data */
    size_t iu_len;
} th_t;

void th_init(th_t *h, scb_sim_t *sim, const char *key_hex);
void th_keys(th_t *h, const char *enc, const char *mac, const char *dek);
void th_free(th_t *h);
/* CLA for the host's channel (ISO 7816-4 5.4.1), optionally with SM. */
uint8_t th_cla(const th_t *h, uint8_t cla, bool sm);
/* Raw APDU (hex or bytes) on the wire; returns SW, resp = data. */
uint16_t th_raw(th_t *h, const char *hex, uint8_t *resp, size_t *len);
uint16_t th_rawb(th_t *h, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *len);
/* Plain command (CLA without channel) on the host's channel, in the clear. */
uint16_t th_clear(th_t *h, const char *hex, uint8_t *resp, size_t *len);
/* INITIALIZE UPDATE + card cryptogram check + EXTERNAL AUTHENTICATE.
 * Returns the failing SW, 0x0001 when the card cryptogram did not verify,
 * or 0x9000. */
uint16_t th_open(th_t *h, uint8_t kvn, uint8_t level);
/* Session keys from the static keys and both challenges. */
void th_derive(th_t *h, const uint8_t *card_challenge);
/* Take over a recorded session: session keys, level, and the MCV of the
 * recorded EXTERNAL AUTHENTICATE wire command. */
void th_session_from(th_t *h, const uint8_t *s_enc, const uint8_t *s_mac, const uint8_t *s_rmac,
                     size_t klen, uint8_t level, const uint8_t *ea, size_t ea_len);
/* Wrap a plain command (CLA without channel) into wire bytes. */
size_t th_wrap(th_t *h, const uint8_t *plain, size_t n, uint8_t *wire, size_t cap);
/* Unwrap a wire response in place: err 0 ok, 1 R-MAC mismatch, 2 bad padding. */
uint16_t th_unwrap(th_t *h, uint8_t *resp, size_t *len, int *err);
/* Wrap, send, unwrap. */
uint16_t th_send(th_t *h, const char *plain_hex, uint8_t *resp, size_t *len, int *err);
uint16_t th_sendb(th_t *h, const uint8_t *plain, size_t n, uint8_t *resp, size_t *len, int *err);
/* SP 800-108 KDF as in Amd D (the host's own copy). */
void th_kdf(th_t *h, const uint8_t *key, size_t klen, uint8_t constant, size_t lbits,
            const uint8_t *ctx, size_t ctx_len, uint8_t *out);

#endif
