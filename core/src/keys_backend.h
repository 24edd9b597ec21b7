/*
 * Key sets behind one handle (keys.c): an scb_keys_t is a key version
 * number, a key length and a backend that performs the AES operations SCP03
 * needs with the static keys. Two backends exist: the key bytes in memory
 * (keys.c, through the crypto facade) and objects in a PKCS#11 token
 * (keys_pkcs11.c). The SCP03 code asks a key set for operations, never for
 * its bytes; only a memory key set has bytes to give (scb__keys_key).
 *
 * Thread rules: a key set is immutable once made, except for the one
 * transition of a token set that put-key generates (keys_pkcs11.c), which
 * that backend serialises with the session lock it holds for every token
 * call. One key set may therefore be used by several card handles in
 * several threads at once.
 *
 * Not installed.
 */
#ifndef SCB_KEYS_BACKEND_H
#define SCB_KEYS_BACKEND_H

#include "internal.h"

/* Every operation returns 0 or a negative SCB_E_* code and, on failure,
 * writes why to detail (never a key value). type is SCB_KEY_ENC/MAC/DEK. */
typedef struct scb__keys_ops {
    const char *name; /* "memory" or "pkcs11", for messages */
    /* AES-CMAC (SP 800-38B) of msg (at most SCB__KEYS_MSG_MAX bytes). */
    int (*cmac)(void *be, int type, const uint8_t *msg, size_t len, uint8_t mac[16],
                char *detail, size_t detail_len);
    /* One AES-ECB block (the KCV). */
    int (*ecb)(void *be, int type, const uint8_t in[16], uint8_t out[16], char *detail,
               size_t detail_len);
    /* AES-CBC with a zero IV of whole blocks of host data (the new keys of
     * PUT KEY under this set's DEK); in and out may be the same buffer. */
    int (*cbc)(void *be, int type, const uint8_t *in, size_t len, uint8_t *out, char *detail,
               size_t detail_len);
    /* PUT KEY key data for this set's key `type`: the key under dek's DEK
     * (AES-CBC, zero IV, out 16 or 32 bytes) and its KCV. */
    int (*put_key)(void *be, int type, const scb_keys_t *dek, uint8_t out[32], size_t *out_len,
                   uint8_t kcv[3], char *detail, size_t detail_len);
    /* Another reference to the backend (for a session's DEK); NULL when
     * out of memory. */
    void *(*retain)(void *be);
    /* Drop one reference; the last one wipes and frees. */
    void (*release)(void *be);
} scb__keys_ops_t;

/* Largest message a key set MACs: the KDF's 16-byte prefix and a 32-byte
 * context (S16 challenges), KDF3's 16 bytes, or the card challenge's
 * 3-byte counter and a 16-byte AID after the prefix. */
#define SCB__KEYS_MSG_MAX 48u

/* A key set around a backend (takes over one reference to be). */
int scb__keys_wrap_backend(scb_keys_t **out, const scb__keys_ops_t *ops, void *be,
                           size_t key_len, bool has_dek, uint8_t kvn);
const scb__keys_ops_t *scb__keys_backend(const scb_keys_t *keys, void **be);

/* The operations on a key set (dispatch to its backend). */
int scb__keys_cmac(const scb_keys_t *keys, int type, const uint8_t *msg, size_t len,
                   uint8_t mac[16], char *detail, size_t detail_len);
int scb__keys_cbc(const scb_keys_t *keys, int type, const uint8_t *in, size_t len, uint8_t *out,
                  char *detail, size_t detail_len);
int scb__keys_put_key(const scb_keys_t *keys, int type, const scb_keys_t *dek, uint8_t out[32],
                      size_t *out_len, uint8_t kcv[3], char *detail, size_t detail_len);
int scb__keys_kcv_detail(const scb_keys_t *keys, int type, uint8_t kcv[3], char *detail,
                         size_t detail_len);
/* KDF3 diversification with the failure's reason in detail. */
int scb__keys_diversify_kdf3(const scb_keys_t *master, const uint8_t kdd[10], scb_keys_t **out,
                             char *detail, size_t detail_len);
/* A key set holding only the DEK of keys (a copy of its bytes, or another
 * reference to the token objects), for a secure-channel session: the
 * session may outlive the caller's handle. *out NULL when keys has no DEK. */
int scb__keys_dek_only(const scb_keys_t *keys, scb_keys_t **out);

/* The key bytes of a memory key set (scb_keys_length() bytes); NULL for a
 * token set, a missing DEK or a bad type. Points into the key set. */
const uint8_t *scb__keys_key(const scb_keys_t *keys, int type);

#endif /* SCB_KEYS_BACKEND_H */
