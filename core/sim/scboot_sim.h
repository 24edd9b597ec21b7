/*
 * scboot_sim: a virtual UICC that holds LwM2M bootstrap data behind a
 * GlobalPlatform SCP03 Security Domain (the card side of scboot).
 *
 * The card is built from a JSON profile (core/sim/PROFILE.md); NULL or "{}"
 * gives the built-in default card. It answers APDUs exactly as a card sees
 * them (scb_sim_process), as an in-process transport for a scb_card_t, or
 * through pcscd's vpcd driver (scb_sim_serve_vpcd).
 *
 * Conventions follow scboot.h: 0 / negative SCB_E_* results, free functions
 * take T ** and accept NULL, detail buffers (may be NULL) receive a message
 * naming what and where. A scb_sim_t holds no global state; one handle must
 * not be used by two threads at once. Key material is wiped on free.
 */
#ifndef SCBOOT_SIM_H
#define SCBOOT_SIM_H

#include "scboot.h"
#include "scboot/transport.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct scb_sim scb_sim_t;

/* Build a card from a profile file (NULL = built-in default card). */
int scb_sim_new(scb_sim_t **out, const char *profile_path, char *detail, size_t detail_len);
/* Build a card from profile JSON text (NULL or "{}" = default card). */
int scb_sim_new_from_json(scb_sim_t **out, const char *profile_json, char *detail,
                          size_t detail_len);
void scb_sim_free(scb_sim_t **sim);

/* One command APDU as the card sees it. resp receives data + SW1 SW2;
 * *resp_len is the capacity on entry (at least 2; 65538 always suffices)
 * and the length on return. Every status word is a success (0). Negative:
 * SCB_E_INVALID_ARG, SCB_E_BUFFER_TOO_SMALL (*resp_len = size needed), or
 * SCB_E_CARD_REMOVED once a disconnect fault fired (until scb_sim_reset). */
int scb_sim_process(scb_sim_t *sim, const uint8_t *cmd, size_t len, uint8_t *resp,
                    size_t *resp_len);
/* The ATR (profile "atr" or the built-in one for T=1 / T=0). */
size_t scb_sim_atr(const scb_sim_t *sim, uint8_t atr[33]);
/* Power cycle: logical channels closed, channel 0 on the MF, secure channel
 * sessions wiped, PIN status and pending responses dropped. File contents,
 * key sets and the SCP03 sequence counter are card memory and persist. A
 * disconnect fault that fired is cleared. */
void scb_sim_reset(scb_sim_t *sim);

/* In-process transport over sim (the sim stays owned by the caller and must
 * outlive the card handle). Flags follow the profile (T=0, extended length). */
int scb_sim_transport(scb_sim_t *sim, scb_transport_t *out);
/* A card handle whose transport owns a fresh sim built from profile_path
 * (NULL = default); scb_card_free frees the sim too. */
int scb_card_open_sim(scb_card_t **out, const char *profile_path, char *detail,
                      size_t detail_len);
/* A card handle whose transport takes sim over: scb_card_free frees it,
 * and so does this call when it fails. */
int scb_card_open_sim_owned(scb_card_t **out, scb_sim_t *sim);

/* Connect to pcscd's vpcd driver at host:port (the card is the TCP client)
 * and serve until the peer closes the connection, a disconnect fault fires
 * (both return 0) or *stop becomes non-zero (checked at least every 100 ms;
 * returns 0). SCB_E_TRANSPORT when the connection cannot be made or breaks
 * (detail via scb_sim_errmsg). Power off / on / reset from the reader reset
 * the card. stop may be NULL. */
int scb_sim_serve_vpcd(scb_sim_t *sim, const char *host, uint16_t port, const volatile int *stop);
/* Text of the last failure of scb_sim_serve_vpcd ("" if none). */
const char *scb_sim_errmsg(const scb_sim_t *sim);
/* A line of cards (on != 0): from now on, each time a host selects EF.ICCID
 * (basic channel, by FID or by path from the MF) after the card has answered
 * other commands, the card becomes a new one made from its profile with the
 * next ICCID (its digits as a number, plus one), before that command is
 * answered. The faults, socket options and hook carry over; files, keys
 * written, sessions and the APDU count start afresh. When the ICCID cannot
 * be counted on (all 9s), that SELECT fails with SCB_E_UNSUPPORTED. For
 * soak tests and benchmarks of provisioning stations (`scboot sim
 * --rolling`). */
int scb_sim_set_rolling(scb_sim_t *sim, int on);

/* ------------------------------------------------------------------------ */
/* Fault injection (also settable from the profile's "faults" object)        */
/* ------------------------------------------------------------------------ */
/* APDU numbers count every call of scb_sim_process since the sim was made,
 * from 1 (scb_sim_apdu_count() + 1 is the next one); 0 disables a fault. */
#define SCB_SIM_FAULTS_VERSION 1
typedef struct scb_sim_faults {
    unsigned version;               /* SCB_SIM_FAULTS_VERSION */
    unsigned delay_ms;              /* sleep before answering every APDU */
    unsigned long disconnect_after; /* APDUs 1..n are answered, then the card is gone */
    unsigned long corrupt_rmac_at;  /* this APDU's R-MAC gets its last byte flipped */
    unsigned long bad_padding_at;   /* this APDU's R-ENC plaintext carries a bad pad (valid R-MAC) */
    unsigned long sw_at;            /* this APDU is answered with sw_at_value only */
    uint16_t sw_at_value;
    int bad_card_cryptogram;        /* INITIALIZE UPDATE returns a wrong card cryptogram */
    int bad_challenge;              /* pseudo-random card challenge does not match the counter */
    int kvn_mismatch;               /* INITIALIZE UPDATE reports KVN + 1 */
    int rmac_on_error;              /* error SWs carry an R-MAC too (a deviation seen in the field) */
    int renc_overpad;               /* R-ENC pads with an extra block of zeros when it fits
                                     * (as the Samsung emulation in scp03.json does) */
} scb_sim_faults_t;
int scb_sim_get_faults(const scb_sim_t *sim, scb_sim_faults_t *out);
int scb_sim_set_faults(scb_sim_t *sim, const scb_sim_faults_t *faults);

/* ------------------------------------------------------------------------ */
/* Test hooks and inspection                                                 */
/* ------------------------------------------------------------------------ */
unsigned long scb_sim_apdu_count(const scb_sim_t *sim);
/* The card's first key set as a host key set: what a host needs to talk to
 * this virtual card (`scboot read --sim` without key options, tests). The
 * built-in card's keys are the public GlobalPlatform test keys 40..4F. */
int scb_sim_host_keys(const scb_sim_t *sim, scb_keys_t **out);
/* Level of the open SCP03 session on a logical channel, -1 when none. */
int scb_sim_session_level(const scb_sim_t *sim, uint8_t channel);
/* The sequence counter the next INITIALIZE UPDATE reports (1..0xFFFFFF). */
uint32_t scb_sim_sequence_counter(const scb_sim_t *sim);
int scb_sim_set_sequence_counter(scb_sim_t *sim, uint32_t next);
/* Force the card challenge of the next INITIALIZE UPDATE (8 or 16 bytes,
 * once), e.g. to replay a trace whose challenge the card cannot derive
 * (its SD AID is not known). */
int scb_sim_set_card_challenge(scb_sim_t *sim, const uint8_t *challenge, size_t len);
/* Contents of an EF by path from the MF (concatenated FIDs without 3F00),
 * bypassing access rules. *len: capacity in, file size out. */
int scb_sim_read_file(const scb_sim_t *sim, const uint8_t *path, size_t path_len, uint8_t *buf,
                      size_t *len);
/* Harnesses that need the card to say what a test wants (answers of their
 * own, sealed data, spoiled answers, sessions from known keys) have
 * scboot_sim_harness.h. */

#ifdef __cplusplus
}
#endif
#endif /* SCBOOT_SIM_H */
