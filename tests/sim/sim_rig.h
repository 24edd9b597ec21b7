/*
 * The virtual card in the C tests, harnesses and benchmarks: the card end
 * they share. There is no SCP03 host here: a test that needs a secure
 * channel uses the library's (scb_scp03_open, scb_card_transmit), which the
 * recorded traces pin from the other side; the independent Python host
 * (tests/pyhost) talks to the card through pcscd.
 *
 *  - rig_raw: one APDU straight into the card, as a reader would pass it;
 *  - rig_t: a card handle of the library over a card, through a transport
 *    that keeps the last exchanges as they went on the wire and can spoil
 *    the next command on purpose (what a test of the card's refusals
 *    needs and the library, rightly, never sends);
 *  - rig_sim_from_vector: a card holding a recorded session's keys, KDD,
 *    i and sequence counter (and its card challenge where the card cannot
 *    derive it), so that the library's handshake with the recorded host
 *    challenge is the recorded one.
 */
#ifndef SIM_RIG_H
#define SIM_RIG_H

#include "scboot_sim_harness.h"
#include "testkit.h"

/* ---- raw APDUs ---- */
/* The APDU (hex, spaces allowed / bytes) into the card; returns the SW (0
 * when the card is gone); the data without the SW goes to resp (may be
 * NULL), its length to *len. */
uint16_t rig_raw(scb_sim_t *sim, const char *hex, uint8_t *resp, size_t *len);
uint16_t rig_rawb(scb_sim_t *sim, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *len);

/* ---- a card handle over a card ---- */
#define RIG_KEEP 4       /* exchanges kept */
#define RIG_KEEP_LEN 640 /* bytes kept of each command / response */
typedef struct rig_exchange {
    uint8_t c[RIG_KEEP_LEN], r[RIG_KEEP_LEN];
    size_t cl, rl;       /* the lengths on the wire (bytes beyond RIG_KEEP_LEN not kept) */
} rig_exchange_t;

typedef struct rig {
    scb_sim_t *sim;
    scb_card_t *card;
    scb_keys_t *keys;
    scb_opts_t *opts;    /* for rig_session: the card's SD AID (the pseudo-random
                          * challenge is checked); tests add or unset options */
    bool owns_sim;
    unsigned long exchanges;
    rig_exchange_t kept[RIG_KEEP];
    long spoil_at;       /* != 0: flip bit 0 of this byte of the next command
                          * (1-based from the start; negative: from the end) */
} rig_t;

/* A card from profile JSON (NULL: the default card) with a handle over it;
 * keys: key bytes for ENC = MAC = DEK (NULL: the card's own first key set). */
void rig_open(rig_t *r, const char *profile, const uint8_t *key, size_t klen, uint8_t kvn);
/* A handle over a card made elsewhere (owns_sim: rig_close frees it; a
 * second handle over a card another rig owns has channels of its own);
 * keys are taken over (NULL: the card's own first key set). */
void rig_attach(rig_t *r, scb_sim_t *sim, bool owns_sim, scb_keys_t *keys);
void rig_close(rig_t *r);
/* Exchange `back` before the last (0: the last one). */
const rig_exchange_t *rig_last(const rig_t *r, unsigned back);
/* A logical channel first (or not), the handle's session there closed,
 * SELECT the PKCS#15 ADF, open SCP03 at level with r->opts. */
int rig_session(rig_t *r, bool channel, uint8_t level);
/* A plain command (hex) through scb_card_transmit (secured when a session
 * is open) or, plain, through scb_card_transmit_plain; returns the status
 * word, or 0 when the library failed (rc has why, when not NULL). resp
 * receives the data without the SW. */
uint16_t rig_send(rig_t *r, const char *hex, uint8_t *resp, size_t *len, int *rc);
uint16_t rig_send_plain(rig_t *r, const char *hex, uint8_t *resp, size_t *len, int *rc);

/* ---- recorded sessions (tests/vectors/scp03.json) ---- */
/* A card for entry e (the ADF selected on the basic channel); aborts when
 * the profile is refused. */
scb_sim_t *rig_sim_from_vector(json_object *e);
/* A handle over rig_sim_from_vector(e) with the host side of e: its static
 * keys (KVN as INITIALIZE UPDATE asked; dek: another static DEK, 16 bytes,
 * NULL: the recorded one) and r->opts set as recorded (level, S16, the host
 * challenge, the SD AID or none). */
void rig_attach_vector(rig_t *r, json_object *e, const uint8_t *dek);
/* After scb_scp03_open on such a handle: the handshake went on the wire,
 * both ways, as recorded. */
void rig_check_handshake(const rig_t *r, json_object *e);

/* ---- answers for a command hook (scboot_sim_harness.h) ---- */
/* data || SW for the card to wrap as its own answers (SCB_SIM_HOOK_ANSWER). */
int rig_answer(uint8_t *resp, size_t *resp_len, const uint8_t *data, size_t n, uint16_t sw);
/* data || SW sealed under the session as flags say (SCB_SIM_SEAL_*), as
 * the wire answer (SCB_SIM_HOOK_WIRE). */
int rig_answer_sealed(scb_sim_t *sim, uint8_t *resp, size_t *resp_len, const uint8_t *data,
                      size_t n, uint16_t sw, unsigned flags);
/* Answers no well-behaved card gives, for tests of a host's refusals; each
 * a wire answer (SCB_SIM_HOOK_WIRE). data: the 9000 answer to spoil. */
enum rig_bad_answer {
    RIG_FLIP_RMAC,       /* sealed, its last R-MAC byte flipped */
    RIG_FLIP_DATA,       /* sealed, a ciphertext byte flipped */
    RIG_NO_MARKER,       /* authentic ciphertext of 16 x 11, 16 x 00: no 80 marker */
    RIG_NOT_BLOCKS,      /* an authentic R-MAC over 17 bytes that are no whole blocks */
    RIG_ERROR_WITH_DATA, /* 6A88 with encrypted data and an R-MAC */
    RIG_TOO_SHORT,       /* 01 02 03 90 00: too short for an R-MAC */
};
int rig_bad_answer(scb_sim_t *sim, int kind, const uint8_t *data, size_t n, uint8_t *resp,
                   size_t *resp_len);

#endif /* SIM_RIG_H */
