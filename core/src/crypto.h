/*
 * The crypto facade: the only place that includes OpenSSL (crypto.c).
 * An scb_aes_t holds one AES key with its cipher and CMAC contexts made
 * once, so per-APDU operations allocate nothing.
 */
#ifndef SCB_CRYPTO_H
#define SCB_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct scb_aes scb_aes_t;

/* key_len 16, 24 or 32. */
int scb__aes_new(scb_aes_t **out, const uint8_t *key, size_t key_len);
void scb__aes_free(scb_aes_t **aes);          /* wipes the key schedule */
size_t scb__aes_key_len(const scb_aes_t *aes);

int scb__aes_ecb_block(scb_aes_t *aes, const uint8_t in[16], uint8_t out[16]);
/* len a multiple of 16; in and out may be the same buffer. */
int scb__aes_cbc_encrypt(scb_aes_t *aes, const uint8_t iv[16], const uint8_t *in, size_t len,
                         uint8_t *out);
int scb__aes_cbc_decrypt(scb_aes_t *aes, const uint8_t iv[16], const uint8_t *in, size_t len,
                         uint8_t *out);

/* AES-CMAC (NIST SP 800-38B), incremental. */
int scb__cmac_begin(scb_aes_t *aes);
int scb__cmac_update(scb_aes_t *aes, const uint8_t *data, size_t len);
int scb__cmac_end(scb_aes_t *aes, uint8_t mac[16]);
int scb__cmac(scb_aes_t *aes, const uint8_t *data, size_t len, uint8_t mac[16]);
/* SP 800-38B 6.1: doubling in GF(2^128) (the CMAC subkeys K1 = dbl(L),
 * K2 = dbl(K1)); also used by the CMAC a token computes through ECB/CBC. */
void scb__cmac_double(const uint8_t in[16], uint8_t out[16]);

int scb__sha256(const uint8_t *data, size_t len, uint8_t digest[32]);
int scb__rand_bytes(uint8_t *buf, size_t len);
void scb__cleanse(void *p, size_t len);
/* Constant-time equality. */
bool scb__ct_equal(const void *a, const void *b, size_t len);

#endif /* SCB_CRYPTO_H */
