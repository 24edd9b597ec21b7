/*
 * Internal interfaces of libscboot. Not installed.
 *
 * Every byte to or from a card passes scb__wire() (card.c): tracing, APDU
 * counting and transport errors live there. scb__transmit() is the APDU
 * engine on top of it: logical-channel CLA, secure-messaging wrap/unwrap
 * through the hook in card->sm, 61xx GET RESPONSE and 6Cxx resend.
 */
#ifndef SCB_INTERNAL_H
#define SCB_INTERNAL_H

#include "scboot.h"
#include "scboot/apdu.h"
#include "scboot/pkcs15.h"
#include "scboot/transport.h"

#include <stdarg.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define SCB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SCB_PRINTF(a, b)
#endif

#define SCB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Largest APDU the engine handles: extended length, 65535 data bytes plus
 * header, Lc/Le and secure-messaging overhead (padding + MAC). */
#define SCB__CMD_MAX (4 + 3 + 65535 + 16 + 16 + 3)
/* Largest response (data + SW) the engine accumulates, GET RESPONSE included. */
#define SCB__RESP_MAX (65536 + 32 + 2)
/* Bounds on the 61xx / 6Cxx loops (hostile cards). */
#define SCB__MAX_GET_RESPONSE_ROUNDS 256
#define SCB__MAX_6C_RESENDS 2

/* ------------------------------------------------------------------------ */
/* APDU                                                                      */
/* ------------------------------------------------------------------------ */
/* scb_apdu_t.flags */
#define SCB__APDU_NO_SM          0x0001u /* never wrap (INITIALIZE UPDATE, clear commands) */
#define SCB__APDU_SENSITIVE_CMD  0x0002u /* command data holds secrets: masked in traces */
#define SCB__APDU_SENSITIVE_RESP 0x0004u /* response data holds secrets: masked in traces */
#define SCB__APDU_RAW_CLA        0x0008u /* CLA already carries the channel: do not touch */

typedef struct scb_apdu {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;   /* command data (Lc bytes), may be NULL when lc == 0 */
    size_t lc;
    size_t ne;             /* expected response length: 1..256 short, ..65536 extended */
    bool has_le;           /* Le field present (ne == 256/65536 encodes 00/0000) */
    bool extended;         /* force extended length encoding */
    unsigned flags;        /* SCB__APDU_* */
} scb_apdu_t;

/* Serialize (cases 1-4, short or extended: extended when forced or needed). */
int scb__apdu_encode(const scb_apdu_t *a, uint8_t *out, size_t *len);
/* Parse raw command bytes (strict ISO 7816-4 5.1 length rules). data points into buf. */
int scb__apdu_parse(const uint8_t *buf, size_t len, scb_apdu_t *out);
/* CLA for a logical channel (ISO 7816-4 5.4.1): 0-3 first interindustry
 * (bits 1-2, SM in bits 3-4), 4-19 further interindustry (bits 1-4 = ch-4,
 * bit 7 set, SM bit 6). The proprietary bit 0x80 is kept (GP class 80/84). */
uint8_t scb__cla_for_channel(uint8_t cla, uint8_t channel);
/* True when CLA carries a secure-messaging indication (either encoding). */
bool scb__cla_has_sm(uint8_t cla);

/* ------------------------------------------------------------------------ */
/* Secure-messaging hook (implemented by scp03_sm.c)                         */
/* ------------------------------------------------------------------------ */
typedef struct scb_sm_ops {
    /* Wrap plain command `in` into `out`; wrapped data goes into buf (cap).
     * The CLA in `in` has no channel bits; wrap may consult
     * scb__cla_channel(card) (SCB__SCP_MAC_CLA_AS_SENT). */
    int (*wrap)(scb_card_t *card, void *state, const scb_apdu_t *in, scb_apdu_t *out,
                uint8_t *buf, size_t cap);
    /* Verify/decrypt the response: rdata/rlen is the wire response data
     * (without SW); plaintext goes to out (*out_len capacity in, length out). */
    int (*unwrap)(scb_card_t *card, void *state, const uint8_t *rdata, size_t rlen,
                  uint16_t sw, uint8_t *out, size_t *out_len);
    /* Largest plaintext a response can carry / a command can send under the
     * level in force (short APDUs), for chunking READ/UPDATE BINARY. */
    size_t (*max_plain_resp)(void *state);
    size_t (*max_plain_cmd)(void *state);
    /* The security level in force (EXTERNAL AUTHENTICATE P1). */
    int (*level)(void *state);
    /* Wipe and free the session. */
    void (*destroy)(void *state);
} scb_sm_ops_t;

/* ------------------------------------------------------------------------ */
/* The card handle                                                           */
/* ------------------------------------------------------------------------ */
/* A logical channel the transport opened (scb_transport_t.channel_open). */
#define SCB__TP_CHANNELS 4
typedef struct scb__tp_channel {
    bool open;
    long session;              /* the transport's name for it */
    uint8_t number;            /* the card's number when the transport told it, else 0 */
    uint8_t id;                /* its name on the handle: number, or SCB_CHANNEL_UNNUMBERED + i */
} scb__tp_channel_t;

struct scb_card {
    scb_transport_t tp;
    scb_trace_t trace;
    bool has_trace;
    scb_rng_fn rng;
    void *rng_user;

    uint8_t channel;           /* current logical channel: 0..19, or the id of a
                                * channel the transport opened (channel.c) */
    uint16_t last_sw;
    unsigned long apdu_count;
    char errmsg[256];

    /* Secure messaging: sm_state is NULL when no session is open. */
    const scb_sm_ops_t *sm;
    void *sm_state;
    uint8_t sm_channel;        /* the logical channel the session belongs to */
    bool sm_broken;            /* session torn down by a failure: refuse secured transmits */
    scb_scp03_info_t scp_info; /* last INITIALIZE UPDATE facts */
    bool has_scp_info;

    int txn_depth;             /* nesting of scb__begin/scb__end */
    unsigned timeout_ms;       /* bound of one operation, 0 none (scb_card_set_timeout) */
    uint64_t deadline_ms;      /* the operation's end, CLOCK_MONOTONIC ms (txn_depth > 0) */
    bool app_channel_opened;   /* scb_app_open opened the current logical channel */

    /* Logical channels (channel.c). */
    scb__tp_channel_t tpch[SCB__TP_CHANNELS]; /* opened by the transport */
    uint32_t mc_opened;        /* bit n: this handle opened channel n with MANAGE CHANNEL */
    bool ch_route_known;
    int ch_route;              /* SCB_TP_CHANNELS_*: how channels open (AUTO: undecided) */

    /* PC/SC transport fills this (owned by the transport). */
    const char *reader_name;
    /* A built-in transport's explanation of its last failure (owned by the
     * transport, "" when none): scb__wire puts it in the error detail. */
    const char *tp_detail;

    /* work buffers, allocated once per handle (no allocation per APDU) */
    uint8_t *cmdbuf;           /* encoded wire command, SCB__CMD_MAX */
    uint8_t *smbuf;            /* wrapped command data, SCB__CMD_MAX */
    uint8_t *rbuf;             /* accumulated wire response, SCB__RESP_MAX */
};

/* Record a failure on the handle and return rc. Detail never holds secrets. */
int scb__fail(scb_card_t *card, int rc, const char *fmt, ...) SCB_PRINTF(3, 4);
void scb__clear_error(scb_card_t *card);
/* Trace a note ("# text") when a trace hook is installed. */
void scb__note(scb_card_t *card, const char *fmt, ...) SCB_PRINTF(2, 3);
void scb__trace(scb_card_t *card, int kind, const uint8_t *data, size_t len, bool masked);

/* The single wire path: transport transmit + trace + count. */
int scb__wire(scb_card_t *card, const uint8_t *cmd, size_t cmd_len, bool mask_cmd,
              uint8_t *resp, size_t *resp_len, bool mask_resp);

/* The APDU engine. resp receives the (unwrapped) response data without SW,
 * *resp_len: capacity in, length out; *sw the (unwrapped) status word.
 * Goes through SM when a session is open on the current channel, unless
 * SCB__APDU_NO_SM. Returns 0 for any SW (caller judges it). */
int scb__transmit(scb_card_t *card, const scb_apdu_t *a, uint8_t *resp, size_t *resp_len,
                  uint16_t *sw);
/* scb__transmit for a command whose only good answer is a normal ending:
 * any other status word is the error scb__sw_error gives it, named what. */
int scb__command(scb_card_t *card, const scb_apdu_t *a, uint8_t *resp, size_t *resp_len,
                 const char *what);
/* Map a status word to an error code and record it (with what = the command). */
int scb__sw_error(scb_card_t *card, uint16_t sw, const char *what);
/* A normal ending: 90 00, 91 xx, 92 xx (TS 102 221 10.2.1). */
bool scb__sw_ok(uint16_t sw);
/* "READ BINARY" for B0 and so on; NULL for an INS the library does not send. */
const char *scb__ins_name(uint8_t ins);

/*
 * Entry points and workers. Every public scb_* call on a card handle
 * starts with SCB__ENTER (clear the handle's error, refuse NULL), validates
 * its arguments, takes the transaction (scb__begin / scb__end) when it
 * talks to the card, and calls internal workers (scb__*). Workers never
 * clear the error state and never take the transaction, so a job built
 * from them reports the failure of the step that failed.
 */
#define SCB__ENTER(card)                                                                           \
    do {                                                                                           \
        if ((card) == NULL)                                                                        \
            return SCB_E_INVALID_ARG;                                                              \
        scb__clear_error(card);                                                                    \
    } while (0)

/* Exclusive access around one high-level operation (nesting-safe); the
 * outermost one starts the operation's time bound. */
int scb__begin(scb_card_t *card);
void scb__end(scb_card_t *card);
/* Milliseconds the operation has left (UINT_MAX: unbounded), for
 * transports whose waits must end with it. */
unsigned scb__remaining_ms(const scb_card_t *card);

/* Random bytes through the handle's RNG hook. */
int scb__random(scb_card_t *card, uint8_t *buf, size_t len);

/* scp03.c and putkey.c workers. */
int scb__scp03_open(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts);
int scb__scp03_probe(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts);
int scb__put_keys(scb_card_t *card, const scb_keys_t *new_keys, uint8_t replace_kvn);
/* Level of the session in force on the current channel, -1 when none. */
int scb__sm_level(const scb_card_t *card);

/* Install / remove a secure-messaging session on the current channel. */
void scb__sm_install(scb_card_t *card, const scb_sm_ops_t *ops, void *state);
/* Tear down after a failure: wipe, free, mark broken. */
void scb__sm_abort(scb_card_t *card);
/* Clean close: wipe, free, not broken. */
void scb__sm_close(scb_card_t *card);
/* Largest plaintext per READ BINARY / UPDATE BINARY chunk given transport and SM. */
size_t scb__max_read_chunk(const scb_card_t *card);
size_t scb__max_write_chunk(const scb_card_t *card);

/* channel.c: logical channels, whether the card opens them (MANAGE
 * CHANNEL) or the transport does (scb_transport_t.channel_open). */
int scb__channel_open(scb_card_t *card, uint8_t *channel);
/* Open a channel and select aid on it (P2 0C), the transport's way or
 * MANAGE CHANNEL + SELECT; on failure nothing stays open. */
int scb__channel_open_app(scb_card_t *card, const uint8_t *aid, size_t aid_len);
/* SELECT aid on the current channel (P2 0C; P2 04 when the card wants it). */
int scb__app_select(scb_card_t *card, const uint8_t *aid, size_t aid_len);
int scb__channel_close(scb_card_t *card);
/* Whether the handle opened channels it did not close; scb_card_free
 * closes them. */
bool scb__channels_left(const scb_card_t *card);
void scb__channels_close_all(scb_card_t *card);
/* The card was reset or went away: its channels are gone. */
void scb__channels_lost(scb_card_t *card);
/* The channel number for CLA: the current channel's, 0 on a channel the
 * transport opened without telling its number (the transport sets it). */
uint8_t scb__cla_channel(const scb_card_t *card);
/* The transport channel the handle is on, NULL on a card channel. */
const scb__tp_channel_t *scb__tp_channel(const scb_card_t *card);
/* How logical channels open on the handle now (SCB_TP_CHANNELS_*). */
int scb__channel_route(const scb_card_t *card);
/* The transport's answer to a question (SCB_TPQ_*); SCB_E_UNSUPPORTED. */
int scb__tp_query(const scb_card_t *card, int what, long *value);

/* iso7816.c workers (see scboot/apdu.h for what each does). */
int scb__select_aid(scb_card_t *card, const uint8_t *aid, size_t aid_len, unsigned flags,
                    scb_fcp_t *fcp);
int scb__select_fid(scb_card_t *card, uint16_t fid, unsigned flags, scb_fcp_t *fcp);
int scb__select_path(scb_card_t *card, const uint8_t *path, size_t path_len, bool from_mf,
                     unsigned flags, scb_fcp_t *fcp);
/* READ RECORD rec of the EF with short identifier sfi (0: the current EF);
 * any status word is returned in *sw with 0. */
int scb__read_record(scb_card_t *card, uint8_t sfi, uint8_t rec, uint8_t *buf, size_t *len,
                     uint16_t *sw);
/* VERIFY: the PIN padded with pad to block_len bytes (1..SCB__PIN_BLOCK_MAX). */
#define SCB__PIN_BLOCK_UICC 8   /* TS 102 221 9.5.1 */
#define SCB__PIN_BLOCK_MAX 16   /* the longest PIN the options hold */
int scb__verify_pin(scb_card_t *card, uint8_t ref, const uint8_t *pin, size_t pin_len,
                    size_t block_len, uint8_t pad);

/* The loops, with APDU flags (SCB__APDU_SENSITIVE_* for secret files).
 * *written (may be NULL) counts the bytes the card accepted. */
int scb__read_binary(scb_card_t *card, size_t size, uint8_t *buf, size_t *len, unsigned flags);
/* From offset: size bytes (0 = until the end of the file). */
int scb__read_binary_at(scb_card_t *card, size_t offset, size_t size, uint8_t *buf, size_t *len,
                        unsigned flags);
int scb__update_binary(scb_card_t *card, size_t offset, const uint8_t *data, size_t len,
                       unsigned flags, size_t *written);

/* ------------------------------------------------------------------------ */
/* The bootstrap file                                                        */
/* ------------------------------------------------------------------------ */
/* A write puts this header first, the body next and the real header last,
 * so an interrupted write leaves the old file, the new one, or a file that
 * every reader refuses: object count FFFF, size FFFF (the file claims more
 * than any EF holds, like an erased EF's FF bytes). */
#define SCB__BS_HEADER_LEN 4
static inline bool scb__bs_header_incomplete(const uint8_t h[SCB__BS_HEADER_LEN])
{
    return h[0] == 0xFF && h[1] == 0xFF && h[2] == 0xFF && h[3] == 0xFF;
}

/* ------------------------------------------------------------------------ */
/* Options (opts.c)                                                          */
/* ------------------------------------------------------------------------ */
/* The value of an option, its default when unset or when o is NULL. */
long long scb__opt_int(const scb_opts_t *o, int id);
bool scb__opt_bool(const scb_opts_t *o, int id);
/* The bytes of a set bytes option (in o), NULL with *len 0 when unset. */
const uint8_t *scb__opt_bytes(const scb_opts_t *o, int id, size_t *len);
/* SCB_E_INVALID_ARG (detail: "option 'pad' does not apply to <call>") when
 * o has an option set outside scope. */
int scb__opts_scope(const scb_opts_t *o, unsigned scope, const char *call, char *detail,
                    size_t detail_len);
/* A copy of o for a handshake with a rotated key set: key version kvn, no
 * KDF3 (the new keys are the card's own). Free with scb_opts_free. */
int scb__opts_for_new_keys(const scb_opts_t *o, uint8_t kvn, scb_opts_t **out);

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */
/* Bounded hex rendering "A0 00 ..": returns chars written (NUL-terminated). */
size_t scb__hex(const uint8_t *data, size_t len, char *out, size_t cap, bool spaced);
/* Length of the UTF-8 character at s (1..4), 0 when the bytes there are
 * not a valid, shortest-form UTF-8 character (value.c). */
size_t scb__utf8_char_len(const uint8_t *s, size_t len);
/* snprintf into a detail buffer if not NULL; returns rc. */
int scb__detail(char *detail, size_t detail_len, int rc, const char *fmt, ...) SCB_PRINTF(4, 5);

#endif /* SCB_INTERNAL_H */
