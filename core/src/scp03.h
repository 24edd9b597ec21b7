/*
 * SCP03 internals shared by keys.c, scp03_kdf.c, scp03.c, scp03_sm.c and
 * putkey.c (GlobalPlatform Card Spec 2.2 Amendment D; docs/scp03.md).
 * Not installed.
 */
#ifndef SCB_SCP03_H
#define SCB_SCP03_H

#include "crypto.h"
#include "internal.h"
#include "keys_backend.h"

/* Session flags (the secure-channel options as the session keeps them). */
#define SCB__SCP_S16             0x0001u /* 16-byte challenges, cryptograms and MACs */
#define SCB__SCP_COUNT_DATA_ONLY 0x0002u /* the card counts only commands with data */
#define SCB__SCP_MAC_CLA_AS_SENT 0x0004u /* MAC the CLA with its channel bits */
#define SCB__SCP_KDF3            0x0008u /* the key set holds KDF3 master keys */

/* ---- static key sets: keys_backend.h (keys.c, keys_pkcs11.c) ---- */

/* ---- derivation (scp03_kdf.c) ---- */
/* Derivation constants, Amd D 4.1.5 (docs/scp03.md "Keys and derivation"). */
#define SCB__DC_CARD_CRYPTOGRAM 0x00u
#define SCB__DC_HOST_CRYPTOGRAM 0x01u
#define SCB__DC_CARD_CHALLENGE  0x02u
#define SCB__DC_S_ENC           0x04u
#define SCB__DC_S_MAC           0x06u
#define SCB__DC_S_RMAC          0x07u

/* NIST SP 800-108 counter-mode KDF with PRF = AES-CMAC and the SCP03
 * derivation data layout; out_len bytes (<= 32) of output, context at most
 * 32 bytes. With a host key (a session key) ... */
int scb__scp03_kdf(scb_aes_t *key, uint8_t constant, const uint8_t *context, size_t context_len,
                   size_t out_len, uint8_t *out);
/* ... or with the static key `type` of a key set, wherever it is held. */
int scb__scp03_kdf_keys(const scb_keys_t *keys, int type, uint8_t constant,
                        const uint8_t *context, size_t context_len, size_t out_len, uint8_t *out,
                        char *detail, size_t detail_len);

/* Session keys and cryptograms of one handshake. Wipe with scb__cleanse. */
typedef struct scb__scp03_derived {
    uint8_t s_enc[32], s_mac[32], s_rmac[32];
    size_t key_len; /* 16, 24 or 32: as the static keys */
    uint8_t card_cryptogram[16], host_cryptogram[16];
    size_t cryptogram_len; /* 8 (S8) or 16 (S16) */
} scb__scp03_derived_t;

/* Derive S-ENC, S-MAC, S-RMAC and both cryptograms from the static ENC and
 * MAC keys of a key set and the two challenges (chal_len = 8 or 16 bytes
 * each; the cryptograms are as long as the challenges). The session keys
 * are host values whatever holds the static keys. */
int scb__scp03_derive_keys(const scb_keys_t *keys, const uint8_t *host_challenge,
                           const uint8_t *card_challenge, size_t chal_len,
                           scb__scp03_derived_t *out, char *detail, size_t detail_len);
/* The same from key bytes (key_len each), for the card side and tests. */
int scb__scp03_derive(const uint8_t *enc, const uint8_t *mac, size_t key_len,
                      const uint8_t *host_challenge, const uint8_t *card_challenge, size_t chal_len,
                      scb__scp03_derived_t *out);

/* Pseudo-random card challenge: KDF(Key-ENC, 02, seq || SD AID), chal_len bytes. */
int scb__scp03_card_challenge_keys(const scb_keys_t *keys, const uint8_t seq[3],
                                   const uint8_t *aid, size_t aid_len, size_t chal_len,
                                   uint8_t *out, char *detail, size_t detail_len);
int scb__scp03_card_challenge(const uint8_t *enc, size_t key_len, const uint8_t seq[3],
                              const uint8_t *aid, size_t aid_len, size_t chal_len, uint8_t *out);

/* ---- the secure-messaging session (scp03_sm.c) ---- */
typedef struct scb__scp03_session scb__scp03_session_t;

/* A session at `level` from derived keys; the DEK of static_keys (may be
 * NULL, or a set without DEK) is kept for PUT KEY: a copy of a memory
 * DEK, another reference to a token's. flags: SCB__SCP_* (S16,
 * COUNT_DATA_ONLY, MAC_CLA_AS_SENT are used). Makes every cipher context
 * once, so wrap/unwrap allocate nothing. */
int scb__scp03_session_new(scb__scp03_session_t **out, const scb__scp03_derived_t *keys,
                           const scb_keys_t *static_keys, uint8_t level, unsigned flags);
void scb__scp03_session_free(scb__scp03_session_t **sess); /* wipes */
uint8_t scb__scp03_session_level(const scb__scp03_session_t *sess);
/* The static DEK as a key set (NULL when the key set had none). */
const scb_keys_t *scb__scp03_session_dek(const scb__scp03_session_t *sess);

/* The CLA that enters the C-MAC for a command whose wire CLA will be
 * `wire_cla` (channel bits and SM indication included). */
uint8_t scb__scp03_mac_cla(const scb__scp03_session_t *sess, uint8_t wire_cla);

/* Wrap `in` (plain; CLA without channel bits) into `out`, its data in buf.
 * mac_cla: from scb__scp03_mac_cla. ext_ok: the path carries extended
 * APDUs. handshake = true: EXTERNAL AUTHENTICATE (C-MAC only, encryption
 * counter untouched) whatever the level. Nothing in the session changes
 * when this fails. detail receives the reason on failure. */
int scb__scp03_wrap(scb__scp03_session_t *sess, const scb_apdu_t *in, uint8_t mac_cla, bool ext_ok,
                    bool handshake, scb_apdu_t *out, uint8_t *buf, size_t cap, char *detail,
                    size_t detail_len);
/* Verify/decrypt a response to the command wrapped last. */
int scb__scp03_unwrap(scb__scp03_session_t *sess, const uint8_t *rdata, size_t rlen, uint16_t sw,
                      uint8_t *out, size_t *out_len, char *detail, size_t detail_len);
size_t scb__scp03_max_plain_resp(const scb__scp03_session_t *sess);
size_t scb__scp03_max_plain_cmd(const scb__scp03_session_t *sess);

/* The hook scb__transmit calls while a session is installed. */
extern const scb_sm_ops_t scb__scp03_sm_ops;

#endif /* SCB_SCP03_H */
