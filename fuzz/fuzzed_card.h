/*
 * A card for the harnesses whose answers come from the fuzz input, with an
 * SCP03 card end so that fuzzed data can also arrive inside an authentic
 * secure channel (a harness that only sent random bytes would never get
 * past the first R-MAC check).
 *
 * The input is a list of records, one per command APDU the library puts
 * on the wire (GET RESPONSE and resends included):
 *
 *   kind:1 [len:1 | len:2 when kind has bit 7 (15-bit big-endian)] bytes
 *
 *   FZ_RAW    the bytes are the wire response (data + SW) as they are
 *   FZ_SEALED bytes = data || SW1 SW2; under a session the data is
 *             encrypted as it is (zero-filled to whole blocks, no padding
 *             added: the padding is whatever the input says) when the level
 *             has R-ENC, and a valid R-MAC is added when it has R-MAC
 *   FZ_PLAIN  as FZ_SEALED, but with the 80 00.. padding added: a
 *             well-formed secured answer carrying the fuzzed plaintext
 *   FZ_CARD   the card end's own answer (bytes ignored): INITIALIZE UPDATE
 *             gets a valid answer for the host challenge it carries (keys
 *             of fz_card_keys, pseudo-random challenge for the PKCS#15 AID,
 *             S8 or S16 as asked), EXTERNAL AUTHENTICATE 90 00, MANAGE
 *             CHANNEL open 01 90 00, anything else 90 00 (sealed in session)
 *   FZ_ERROR  the transport fails; bytes[0] picks the code (fz_errors)
 *   FZ_OVERLONG the transport claims one byte more than the capacity
 *   other kinds are FZ_RAW.
 *
 * When the input is used up the transport reports SCB_E_CARD_REMOVED, so
 * every loop of the engine ends. Under a session opened with FZ_CARD the
 * card end keeps the MAC chaining value and the encryption counter as a
 * card does (GP Amd D 6.2.4-6.2.7), from the commands it sees.
 */
#ifndef SCB_FUZZED_CARD_H
#define SCB_FUZZED_CARD_H

#include "scp03.h"

#include <stdbool.h>

enum fz_kind { FZ_RAW = 0, FZ_SEALED = 1, FZ_PLAIN = 2, FZ_CARD = 3, FZ_ERROR = 4, FZ_OVERLONG = 5 };

typedef struct fz_card {
    const uint8_t *in;
    size_t len, pos;
    unsigned tp_flags;        /* scb_transport_t.flags to advertise */
    /* what the last command was answered with */
    int last_kind;
    size_t records;           /* records consumed */
    /* the card end of SCP03 */
    bool session;             /* EXTERNAL AUTHENTICATE seen after a handshake */
    bool s16;
    uint8_t level;
    uint8_t host_challenge[16];
    uint8_t card_challenge[16];
    scb_aes_t *s_enc, *s_mac, *s_rmac;
    uint8_t mcv[16];
    uint64_t counter;
} fz_card_t;

/* The card's static keys: ENC = MAC = DEK = 40 41 .. 4F (the public
 * GlobalPlatform test key), KVN 30, as the virtual card's default. */
extern const uint8_t fz_static_key[16];
#define FZ_KVN 0x30
int fz_card_keys(scb_keys_t **out);

void fz_card_init(fz_card_t *c, const uint8_t *in, size_t len, unsigned tp_flags);
void fz_card_free(fz_card_t *c);
/* The transport over c (c must outlive the card handle). */
void fz_card_transport(fz_card_t *c, scb_transport_t *tp);

/* Checks every harness makes after a library call: rc is a known code, and
 * a failure at transport, card or secure-channel level left a
 * detail message on the handle. Aborts otherwise. */
void fz_check_rc(const scb_card_t *card, int rc);
/* Install a trace hook that renders every event into a buffer of cap bytes
 * (1..4096) and checks the rendering stays inside it. */
void fz_trace_install(scb_card_t *card, size_t cap);

/* Options for a harness: a new options object, and setters for values the
 * harness picks itself. Each aborts when the library refuses (a harness
 * bug, not a finding). Free the object with scb_opts_free. */
scb_opts_t *fz_opts_new(void);
void fz_opt_int(scb_opts_t *o, int id, long long value);
void fz_opt_bytes(scb_opts_t *o, int id, const uint8_t *value, size_t len);

/* Bytes left of the input / take n bytes of it (NULL when fewer are left):
 * for harnesses that read their own parameters from the front. */
size_t fz_left(const fz_card_t *c);
const uint8_t *fz_take(fz_card_t *c, size_t n);

#endif /* SCB_FUZZED_CARD_H */
