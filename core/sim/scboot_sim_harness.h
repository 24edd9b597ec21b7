/*
 * scboot_sim_harness.h: the virtual card as the card end of test, fuzz and
 * benchmark harnesses. Not part of the card's product API (scboot_sim.h):
 * these calls let a harness make the card say what a test needs, including
 * what no well-behaved card says, while the Security Domain of the card
 * (its handshake, MAC chaining, encryption counter, R-MAC / R-ENC) stays
 * the one that answers.
 *
 * What a harness can do:
 *  - answer a command instead of the card's application: a hook sees every
 *    command after secure-messaging unwrap and returns the card's own
 *    answer, an answer of its own (wrapped by the session like any other),
 *    or the wire answer itself (scb_sim_set_cmd_hook);
 *  - seal arbitrary response data under the session of a channel, with the
 *    padding left out or the encryption skipped on purpose, and an R-MAC
 *    even on an error status (scb_sim_seal);
 *  - start from known session keys instead of a handshake
 *    (scb_sim_open_session), or force the card challenge a recorded
 *    handshake used (scb_sim_set_card_challenge, scboot_sim.h);
 *  - inject faults: scb_sim_set_faults (scboot_sim.h).
 *
 * Conventions as scboot_sim.h: 0 / negative SCB_E_* results.
 */
#ifndef SCBOOT_SIM_HARNESS_H
#define SCBOOT_SIM_HARNESS_H

#include "scboot_sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Answering for the card                                                    */
/* ------------------------------------------------------------------------ */
/* What a command hook returns. */
enum scb_sim_hook_result {
    SCB_SIM_HOOK_PASS = 0,   /* the card processes the command itself */
    SCB_SIM_HOOK_ANSWER = 1, /* resp holds the answer (data + SW); the session
                              * wraps it (R-ENC / R-MAC by level) */
    SCB_SIM_HOOK_WIRE = 2,   /* resp holds the answer as it goes on the wire
                              * (data + SW, nothing added: seal it with
                              * scb_sim_seal, or spoil it, as the test wants) */
};
/* Sees every command the card's application would run: after secure
 * messaging was unwrapped (plain APDU bytes, CLA without SM indication),
 * in the clear otherwise; not EXTERNAL AUTHENTICATE, which belongs to the
 * Security Domain. *resp_len: capacity in (65538), answer length out (at
 * least the 2 SW bytes). */
typedef int (*scb_sim_cmd_hook)(void *user, const uint8_t *cmd, size_t len, uint8_t *resp,
                                size_t *resp_len);
/* NULL removes the hook. */
void scb_sim_set_cmd_hook(scb_sim_t *sim, scb_sim_cmd_hook hook, void *user);

/* ------------------------------------------------------------------------ */
/* Sealing response data under a session                                     */
/* ------------------------------------------------------------------------ */
#define SCB_SIM_SEAL_NO_PAD 0x01u     /* R-ENC without the 80 00.. padding: the data
                                       * is zero-filled to whole blocks only */
#define SCB_SIM_SEAL_NO_ENC 0x02u     /* at an R-ENC level the data travels as
                                       * given (taken for ciphertext), R-MAC'd */
#define SCB_SIM_SEAL_ERROR_RMAC 0x04u /* an error status is sealed too (GP Amd D
                                       * 6.2.6 says it carries no R-MAC) */
/* data || SW as the card sends it under the session of the logical channel
 * of the command being answered (in a hook) or else of the last command
 * the card processed: R-ENC of the data (when the level has it and there is
 * data), then R-MAC over MCV || data || SW, as the session stands after
 * that command. Without a session, at a level without R-MAC, or for an
 * error status (not 9000, 62xx, 63xx; unless SCB_SIM_SEAL_ERROR_RMAC) the
 * data goes as given, unsealed. out may be data. *out_len: capacity in,
 * length out. SCB_E_BUFFER_TOO_SMALL when the sealed answer does not fit. */
int scb_sim_seal(scb_sim_t *sim, const uint8_t *data, size_t len, uint16_t sw, unsigned flags,
                 uint8_t *out, size_t *out_len);

/* ------------------------------------------------------------------------ */
/* Starting from known session keys                                          */
/* ------------------------------------------------------------------------ */
/* An open session on a logical channel (which must be open) as if a
 * handshake had just ended: session keys of key_len bytes (16, 24, 32),
 * level (a valid EXTERNAL AUTHENTICATE P1), S16 or S8, the MAC chaining
 * value (16 bytes; NULL: zero) and the encryption counter at zero. The
 * session has no DEK (PUT KEY is refused). */
int scb_sim_open_session(scb_sim_t *sim, uint8_t channel, const uint8_t *s_enc,
                         const uint8_t *s_mac, const uint8_t *s_rmac, size_t key_len,
                         uint8_t level, int s16, const uint8_t *mcv);

#ifdef __cplusplus
}
#endif
#endif /* SCBOOT_SIM_HARNESS_H */
