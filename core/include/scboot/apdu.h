/*
 * scboot/apdu.h: the tool surface below the jobs of <scboot.h>: single
 * APDUs, logical channels, SELECT / READ / UPDATE, the SCP03 secure channel
 * step by step, a key probe and PUT KEY. For tools, tests and card
 * validation; an application reading bootstrap data needs only scboot.h.
 *
 * Every call here follows scboot.h's conventions: it clears the handle's
 * error, validates its arguments, and holds the card (a PC/SC transaction)
 * while it talks to it.
 */
#ifndef SCBOOT_APDU_H
#define SCBOOT_APDU_H

#include <scboot.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* APDUs                                                                     */
/* ------------------------------------------------------------------------ */
/* Send one command APDU (ISO 7816-4 bytes, short or extended) through the
 * handle: its logical channel is put into CLA, it is wrapped/unwrapped when
 * a secure channel is open, 61xx is followed by GET RESPONSE and 6Cxx
 * resent. resp receives data + SW1 SW2. Any SW is returned as success (the
 * caller judges it); scb_card_last_sw() has it too. */
SCB_API int scb_card_transmit(scb_card_t *card, const uint8_t *apdu, size_t apdu_len,
                              uint8_t *resp, size_t *resp_len);
/* Same, but never through the secure channel (clear, still on the channel). */
SCB_API int scb_card_transmit_plain(scb_card_t *card, const uint8_t *apdu, size_t apdu_len,
                                    uint8_t *resp, size_t *resp_len);

/* Random source for host challenges (default: OpenSSL RAND_bytes). */
typedef int (*scb_rng_fn)(void *user, uint8_t *buf, size_t len);
SCB_API int scb_card_set_rng(scb_card_t *card, scb_rng_fn fn, void *user);

/* ------------------------------------------------------------------------ */
/* Logical channels (ISO 7816-4 11.1.2, ETSI TS 102 221 11.1.17)             */
/* ------------------------------------------------------------------------ */
/* open: the card assigns a channel (MANAGE CHANNEL), the handle switches to
 * it and *channel receives it. A transport that opens channels only
 * together with an application (a modem using AT+CCHO, "modem_channels"
 * cgla) cannot: SCB_E_UNSUPPORTED, use scb_channel_open_app.
 * open_app: open a channel and select the application aid on it (P2 0C, no
 * response data): the transport's own way when it has one (AT+CCHO), else
 * MANAGE CHANNEL and SELECT by AID; the handle switches to it. An unknown
 * application is SCB_E_NOT_FOUND, and nothing stays open.
 * close: closes the handle's current channel (not 0) and switches back to
 * 0; a secure channel on it is closed first.
 * select: switch to an already open channel.
 * Channel numbers are the card's. A channel the transport opened without
 * telling the number the card gave it is named SCB_CHANNEL_UNNUMBERED + i
 * (i = 0..3): that is not a number the card knows and never goes into CLA. */
#define SCB_CHANNEL_UNNUMBERED 0x80u
SCB_API int scb_channel_open(scb_card_t *card, uint8_t *channel);
SCB_API int scb_channel_open_app(scb_card_t *card, const uint8_t *aid, size_t aid_len,
                                 uint8_t *channel);
SCB_API int scb_channel_close(scb_card_t *card);
SCB_API int scb_channel_select(scb_card_t *card, uint8_t channel);
SCB_API uint8_t scb_card_channel(const scb_card_t *card);

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */
/* File control parameters (ETSI TS 102 221 11.1.1.4, ISO 7816-4 5.3.3). */
enum scb_file_structure {
    SCB_FS_UNKNOWN = 0, SCB_FS_TRANSPARENT = 1, SCB_FS_LINEAR_FIXED = 2,
    SCB_FS_CYCLIC = 3, SCB_FS_DF = 4
};
typedef struct scb_fcp {
    uint16_t fid;             /* 0 when absent */
    int structure;            /* enum scb_file_structure */
    size_t file_size;         /* transparent: 80/81 size; 0 when absent */
    size_t record_len;        /* linear fixed/cyclic */
    size_t record_count;
    uint8_t aid[16];          /* 84: DF name (ADF) */
    size_t aid_len;
    uint8_t lcs;              /* life cycle status (8A) */
    int has_size;             /* 1 when the FCP gave a size */
} scb_fcp_t;
SCB_API int scb_fcp_parse(const uint8_t *fcp, size_t len, scb_fcp_t *out);

/* SELECT flags */
#define SCB_SEL_FCP     0x00u   /* ask for the FCP template (P2 04) */
#define SCB_SEL_NO_RESP 0x01u   /* no response data (P2 0C) */
#define SCB_SEL_NEXT    0x02u   /* next occurrence (P2 bit 02) */
/* fcp may be NULL (then not parsed); otherwise it is zeroed first, so it is
 * defined whatever the result. */
SCB_API int scb_select_aid(scb_card_t *card, const uint8_t *aid, size_t aid_len,
                           unsigned flags, scb_fcp_t *fcp);
SCB_API int scb_select_fid(scb_card_t *card, uint16_t fid, unsigned flags, scb_fcp_t *fcp);
/* path: concatenated FIDs. from_mf: 1 = path from MF (P1 08, leading 3F00
 * stripped), 0 = from the current DF (P1 09). */
SCB_API int scb_select_path(scb_card_t *card, const uint8_t *path, size_t path_len,
                            int from_mf, unsigned flags, scb_fcp_t *fcp);

/* Read the currently selected transparent EF from offset 0: size bytes
 * (size 0 = read until the card reports the end). At most
 * SCB_MAX_FILE_SIZE bytes. Chunks are sized from the transport's limits
 * and the secure-channel level in force. *len: capacity in, bytes read out. */
SCB_API int scb_read_binary(scb_card_t *card, size_t size, uint8_t *buf, size_t *len);
/* Read one record of the current linear-fixed EF (READ RECORD, P2 04). */
SCB_API int scb_read_record(scb_card_t *card, uint8_t record, uint8_t *buf, size_t *len);
/* Write data at offset in the current transparent EF (UPDATE BINARY, chunked). */
SCB_API int scb_update_binary(scb_card_t *card, size_t offset, const uint8_t *data, size_t len);
/* VERIFY PIN (ISO 7816-4 INS 20) with reference ref; the PIN (1..8 bytes)
 * is sent FF-padded to 8 bytes as a UICC expects (TS 102 221 9.5.1).
 * SCB_E_PIN_WRONG for 63Cx (the message says how many tries are left) and
 * for 63C0 / 6983 (the PIN is blocked). */
SCB_API int scb_verify_pin(scb_card_t *card, uint8_t ref, const uint8_t *pin, size_t pin_len);

/* ------------------------------------------------------------------------ */
/* SCP03 secure channel (GlobalPlatform Card Spec 2.2 Amendment D)           */
/* ------------------------------------------------------------------------ */
/* Security levels (EXTERNAL AUTHENTICATE P1) */
#define SCB_SL_NONE  0x00u
#define SCB_SL_CMAC  0x01u
#define SCB_SL_CDEC  0x02u
#define SCB_SL_RMAC  0x10u
#define SCB_SL_RENC  0x20u
#define SCB_SL_DEFAULT 0x33u   /* C-DEC + R-ENC + C-MAC + R-MAC (LwM2M App. H) */

/* Open a secure channel on the card's current logical channel with the
 * Security Domain currently selected on it. opts (scope "secure channel",
 * may be NULL): level, kvn, s16, kdf3, count_data_only, mac_cla_as_sent,
 * host_challenge, sd_aid. On any failure no session remains, the session
 * keys are wiped, and secured transmits on that channel are refused
 * (SCB_E_SCP_NO_SESSION) until a session opens again; invalid arguments
 * are refused before anything changes. mac_cla_as_sent on a channel whose
 * number the handle does not know (SCB_CHANNEL_UNNUMBERED + i) is
 * SCB_E_UNSUPPORTED: the CLA the card receives is not known to the host. */
SCB_API int scb_scp03_open(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts);
/* The wiped session is gone; no APDU is sent. */
SCB_API int scb_scp03_close(scb_card_t *card);
/* Whether a session is open on the handle's current logical channel. */
SCB_API int scb_scp03_is_open(const scb_card_t *card);
SCB_API int scb_scp03_level(const scb_card_t *card);    /* level in force, -1 if none */

/* What the card said in INITIALIZE UPDATE in the last handshake. */
typedef struct scb_scp03_info {
    uint8_t kdd[10];              /* key diversification data */
    uint8_t kvn;
    uint8_t i_param;
    int s16;
    uint8_t seq_counter[3];
    int has_seq_counter;
    int challenge_verified;       /* pseudo-random challenge checked against the SD AID */
} scb_scp03_info_t;
SCB_API int scb_scp03_info(const scb_card_t *card, scb_scp03_info_t *out);

/* A key probe: INITIALIZE UPDATE and the check of the card cryptogram (and
 * of a pseudo-random card challenge with "sd_aid"), but no EXTERNAL
 * AUTHENTICATE, so a wrong key set never counts against the Security
 * Domain's authentication limit. 0 when the card proved it holds these
 * keys. Whatever the result, no session is open afterwards (a session the
 * channel had is gone: INITIALIZE UPDATE ends it on the card) and plain
 * commands may follow. info (may be NULL) as scb_scp03_info. */
SCB_API int scb_scp03_probe(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts,
                            scb_scp03_info_t *info);

/* PUT KEY (GP 11.8 / Amd D 7.x): add (replace_kvn = 0) or replace the key
 * set with version replace_kvn by new_keys (ENC, MAC, DEK under KVN
 * scb_keys_kvn(new_keys)), encrypted under the session's static DEK; checks
 * the KCVs the card returns. Needs an open secure channel with C-MAC. */
SCB_API int scb_put_keys(scb_card_t *card, const scb_keys_t *new_keys, uint8_t replace_kvn);

#ifdef __cplusplus
}
#endif
#endif /* SCBOOT_APDU_H */
