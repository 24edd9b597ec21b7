/*
 * The virtual card's own OpenSSL wrapper (the only sim file that includes
 * OpenSSL). Deliberately independent of the core library's crypto facade so
 * that card and host do not share code paths (a host and a card built on the
 * same helper would agree on the same mistakes).
 *
 * A sim_crypto_t holds the fetched algorithms (no global state); keys are
 * passed per call as raw bytes (16, 24 or 32) and never kept here.
 */
#ifndef SIM_CRYPTO_H
#define SIM_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim_crypto sim_crypto_t;

int sim_crypto_new(sim_crypto_t **out);
void sim_crypto_free(sim_crypto_t **c);

/* One AES block (ECB, no padding). */
int sim_aes_ecb(sim_crypto_t *c, const uint8_t *key, size_t key_len, const uint8_t in[16],
                uint8_t out[16]);
/* AES-CBC without padding; len a multiple of 16; in and out may alias. */
int sim_aes_cbc(sim_crypto_t *c, bool encrypt, const uint8_t *key, size_t key_len,
                const uint8_t iv[16], const uint8_t *in, size_t len, uint8_t *out);
/* AES-CMAC (SP 800-38B) over the concatenation of n parts. */
int sim_cmac(sim_crypto_t *c, const uint8_t *key, size_t key_len, size_t n,
             const uint8_t *const parts[], const size_t lens[], uint8_t mac[16]);

int sim_random(uint8_t *buf, size_t len);
void sim_cleanse(void *p, size_t len);
/* Constant-time equality of two buffers of the same length. */
bool sim_ct_equal(const void *a, const void *b, size_t len);

#endif /* SIM_CRYPTO_H */
