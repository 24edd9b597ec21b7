/*
 * A card for the harnesses whose answers come from the fuzz input, with the
 * virtual card (core/sim) as its card end, so that fuzzed data can also
 * arrive inside an authentic secure channel (a harness that only sent
 * random bytes would never get past the first R-MAC check).
 *
 * Every command the library puts on the wire (GET RESPONSE and resends
 * included) goes to the virtual card first, which runs it as a card does:
 * its logical channels, selections, SCP03 handshake, MAC chaining value
 * and encryption counter follow the library's commands (GP Amd D
 * 6.2.4-6.2.7). The input says what answers each command, as a list of
 * records, one per command:
 *
 *   kind:1 [len:1 | len:2 when kind has bit 7 (15-bit big-endian)] bytes
 *
 *   FZ_RAW    the bytes are the wire response (data + SW) as they are
 *   FZ_SEALED bytes = data || SW1 SW2 (fewer than 2 bytes: data, SW 9000),
 *             sealed by the virtual card under the session of the
 *             command's channel: the data encrypted as it is (zero-filled
 *             to whole blocks, no padding added: the padding is whatever
 *             the input says) when the level has R-ENC, a valid R-MAC added
 *             when it has R-MAC; an error status goes unsealed, data and all
 *   FZ_PLAIN  as FZ_SEALED, but with the 80 00.. padding added: a
 *             well-formed secured answer carrying the fuzzed plaintext
 *   FZ_CARD   the virtual card's own answer (bytes ignored): INITIALIZE
 *             UPDATE gets a valid answer for the host challenge it carries,
 *             EXTERNAL AUTHENTICATE a verdict on the host's cryptogram,
 *             MANAGE CHANNEL a channel, and so on
 *   FZ_ERROR  the transport fails; bytes[0] picks the code (fz_errors)
 *   FZ_OVERLONG the transport claims one byte more than the capacity
 *   other kinds are FZ_RAW.
 *
 * The virtual card is the default card (core/sim/PROFILE.md: key set 30
 * with 40..4F, i = 70, the PKCS#15 ADF and its Security Domain) accepting
 * extended length, with PIN 01 = "1234" (what fuzz_read_bootstrap sends),
 * in S16 mode with FZ_CARD_S16, and with the ADF already
 * selected on the basic channel with FZ_CARD_SD_SELECTED (for harnesses
 * that open SCP03 without selecting it).
 *
 * When the input is used up the transport reports SCB_E_CARD_REMOVED, so
 * every loop of the engine ends.
 */
#ifndef SCB_FUZZED_CARD_H
#define SCB_FUZZED_CARD_H

#include "scboot_sim_harness.h"
#include "scp03.h"

#include <stdbool.h>

enum fz_kind { FZ_RAW = 0, FZ_SEALED = 1, FZ_PLAIN = 2, FZ_CARD = 3, FZ_ERROR = 4, FZ_OVERLONG = 5 };

#define FZ_CARD_S16 0x01u         /* the card's Security Domain runs S16 */
#define FZ_CARD_SD_SELECTED 0x02u /* the PKCS#15 ADF selected on channel 0 */
/* The KVN of the card's key set. */
#define FZ_KVN 0x30

typedef struct fz_card {
    const uint8_t *in;
    size_t len, pos;
    unsigned tp_flags;        /* scb_transport_t.flags to advertise */
    /* what the last command was answered with */
    int last_kind;
    size_t records;           /* records consumed */
    scb_sim_t *sim;           /* the card end */
    uint8_t *answer;          /* the card's own answer to the last command */
    uint16_t card_sw;         /* its status word (0: the card end failed) */
} fz_card_t;

/* card_flags: FZ_CARD_*. Aborts when the virtual card cannot be made. */
void fz_card_init(fz_card_t *c, const uint8_t *in, size_t len, unsigned tp_flags,
                  unsigned card_flags);
void fz_card_free(fz_card_t *c);
/* A card handle whose transport is c (c must outlive it) and, when keys is
 * not NULL, the card's key set as a host needs it. Aborts on failure. */
scb_card_t *fz_card_open(fz_card_t *c, scb_keys_t **keys);

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
