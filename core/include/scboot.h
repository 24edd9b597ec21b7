/*
 * scboot: LwM2M bootstrap data from a UICC, over GlobalPlatform SCP03.
 *
 * One public header. Conventions (see design.md):
 *  - Every function returns int: 0 (SCB_OK) on success, a negative SCB_E_*
 *    code on failure. Codes are stable numbers; never renumber them.
 *  - Opaque handles are created through an out pointer and freed with
 *    scb_*_free(&ptr), which accepts NULL and sets the caller's pointer to NULL.
 *  - Buffers passed in are owned by the caller and only read during the call.
 *    "(uint8_t *buf, size_t *len)" out-parameters: *len is the capacity on
 *    entry and the length written on return; SCB_E_BUFFER_TOO_SMALL sets *len
 *    to the size needed.
 *  - Pointers returned by getters point into memory owned by the handle; they
 *    stay valid until the handle is freed or the next call that modifies it.
 *  - No global or static mutable state: two threads using two different
 *    handles never share anything. One handle must not be used by two
 *    threads at once.
 *  - Key material lives only inside scb_keys_t and the card's secure-channel
 *    state; it is wiped on free, close and on any secure-channel failure, and
 *    it never appears in traces or error messages.
 */
#ifndef SCBOOT_H
#define SCBOOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SCB_BUILDING_LIBRARY) && defined(__GNUC__)
#define SCB_API __attribute__((visibility("default")))
#else
#define SCB_API
#endif

#define SCB_VERSION_MAJOR 0
#define SCB_VERSION_MINOR 1
#define SCB_VERSION_PATCH 0
#define SCB_VERSION_STRING "0.1.0"

SCB_API const char *scb_version(void);

/* ------------------------------------------------------------------------ */
/* Error codes (stable numbers)                                              */
/* ------------------------------------------------------------------------ */
enum scb_error {
    SCB_OK = 0,

    /* generic */
    SCB_E_INVALID_ARG = -1,       /* a NULL or out-of-range argument */
    SCB_E_NOMEM = -2,
    SCB_E_BUFFER_TOO_SMALL = -3,  /* *len set to the size needed */
    SCB_E_UNSUPPORTED = -4,       /* valid request this build/card cannot do */
    SCB_E_INTERNAL = -5,
    SCB_E_CRYPTO = -6,            /* OpenSSL failed (not a verification failure) */
    SCB_E_STATE = -7,             /* call not valid in the handle's state */

    /* transport (PC/SC, callback, modem) */
    SCB_E_TRANSPORT = -10,        /* generic transport failure */
    SCB_E_NO_SERVICE = -11,       /* PC/SC daemon not running / not reachable */
    SCB_E_NO_READER = -12,        /* no reader, or none matches the name */
    SCB_E_NO_CARD = -13,          /* reader has no card */
    SCB_E_CARD_REMOVED = -14,     /* card removed during the session */
    SCB_E_CARD_RESET = -15,       /* card was reset by someone else (reconnected; state lost) */
    SCB_E_TIMEOUT = -16,
    SCB_E_SHARING = -17,          /* reader in exclusive use by another process */
    SCB_E_MODEM = -18,            /* modem answered ERROR */
    SCB_E_MODEM_CME = -19,        /* modem answered +CME ERROR: n (n in the detail, scb_card_modem_cme) */

    /* card / APDU level */
    SCB_E_STATUS = -20,           /* unexpected status word: scb_card_last_sw() */
    SCB_E_BAD_RESPONSE = -21,     /* malformed, truncated or overlong response */
    SCB_E_GET_RESPONSE_LIMIT = -22, /* 61xx / 6Cxx rounds exceeded the bound */
    SCB_E_NOT_FOUND = -23,        /* 6A82 / 6A88: file or application not found */
    SCB_E_SECURITY_STATUS = -24,  /* 6982: security status not satisfied */
    SCB_E_NO_CHANNEL = -25,       /* no logical channel available (6A81/6881) */
    SCB_E_WRONG_LENGTH = -26,     /* 6700 */
    SCB_E_FILE_TOO_LARGE = -27,   /* file larger than the 32 KB limit or the buffer */
    SCB_E_PIN_REQUIRED = -28,     /* object is private: verify a PIN first */
    SCB_E_PIN_WRONG = -29,        /* 63Cx / 6983: PIN rejected or blocked */

    /* SCP03 */
    SCB_E_SCP_CARD_CRYPTOGRAM = -30, /* card cryptogram mismatch: wrong keys or key version */
    SCB_E_SCP_RMAC = -31,         /* R-MAC verification failed */
    SCB_E_SCP_PADDING = -32,      /* R-ENC plaintext padding invalid */
    SCB_E_SCP_PROTOCOL = -33,     /* malformed INITIALIZE UPDATE response, bad SCP id, unexpected SW in handshake */
    SCB_E_SCP_KVN = -34,          /* card answered with another key version than asked */
    SCB_E_SCP_LEVEL = -35,        /* level not supported by the card's i parameter */
    SCB_E_SCP_MODE = -36,         /* S8/S16 mismatch between host and card */
    SCB_E_SCP_CHALLENGE = -37,    /* pseudo-random card challenge does not match the sequence counter */
    SCB_E_SCP_NO_SESSION = -38,   /* secured transmit refused: no session (closed after a failure) */
    SCB_E_SCP_AUTH_REJECTED = -39,/* card rejected EXTERNAL AUTHENTICATE */
    SCB_E_SCP_KCV = -40,          /* PUT KEY: key check value returned by the card mismatches */
    SCB_E_SCP_TOO_LONG = -41,     /* command/response does not fit once wrapped */
    SCB_E_SCP_KEY = -42,          /* key set unusable (missing DEK, wrong length) */

    /* PKCS#15 / bootstrap */
    SCB_E_PARSE = -50,            /* malformed card data (DER, PKCS#15, TLV); detail says what and where */
    SCB_E_NO_BOOTSTRAP = -51,     /* no LwM2M bootstrap entry in any DODF */
    SCB_E_VALIDATION = -52,       /* input model/JSON invalid; detail names field and reason */

    /* provisioning */
    SCB_E_WRITE_INCOMPLETE = -60, /* write interrupted: the card must be re-provisioned */
    SCB_E_VERIFY_MISMATCH = -61   /* read-back after write differs */
};

/* Static text for a code (never NULL). */
SCB_API const char *scb_strerror(int rc);
/* Stable symbolic name for a code, e.g. "SCB_E_SCP_RMAC" (never NULL). */
SCB_API const char *scb_error_name(int rc);

/* ------------------------------------------------------------------------ */
/* Handles                                                                   */
/* ------------------------------------------------------------------------ */
typedef struct scb_card scb_card_t;          /* a connection to one card */
typedef struct scb_keys scb_keys_t;          /* SCP03 static key set */
typedef struct scb_bootstrap scb_bootstrap_t;/* a decoded bootstrap file */
typedef struct scb_readers scb_readers_t;    /* a PC/SC reader list */

/* ------------------------------------------------------------------------ */
/* Transports                                                                */
/* ------------------------------------------------------------------------ */
#define SCB_TRANSPORT_VERSION 1

/* Transport feature flags (scb_transport_t.flags) */
#define SCB_TP_EXTENDED_LENGTH 0x0001u /* the path carries extended-length APDUs */
#define SCB_TP_T0              0x0002u /* T=0: case-4 responses come back as 61xx */

typedef struct scb_transport {
    unsigned version;                /* SCB_TRANSPORT_VERSION */
    void *user;                      /* passed to every callback */
    unsigned flags;                  /* SCB_TP_* */
    /* Send one command APDU, receive the response (data + SW1 SW2).
     * *resp_len: capacity on entry, bytes written on return.
     * Return 0 or a negative SCB_E_* transport code. Required. */
    int (*transmit)(void *user, const uint8_t *cmd, size_t cmd_len,
                    uint8_t *resp, size_t *resp_len);
    /* Optional: exclusive access for one high-level operation (PC/SC
     * SCardBeginTransaction/EndTransaction). May be NULL. */
    int (*begin)(void *user);
    int (*end)(void *user);
    /* Optional: called once by scb_card_free. May be NULL. */
    void (*close)(void *user);
} scb_transport_t;

/* Open a card handle over a caller transport. The struct is copied; the
 * transport's close() (if any) is called by scb_card_free. */
SCB_API int scb_card_open_transport(scb_card_t **out, const scb_transport_t *tp);

/* PC/SC. reader: NULL or "" = first reader with a card; otherwise an exact
 * name, else a decimal index, else a unique case-sensitive substring.
 * detail (may be NULL) receives why opening failed. The transport sets
 * SCB_TP_EXTENDED_LENGTH when the ATR announces extended Lc/Le. */
SCB_API int scb_card_open_pcsc(scb_card_t **out, const char *reader, char *detail,
                               size_t detail_len);
SCB_API int scb_readers_list(scb_readers_t **out, char *detail, size_t detail_len);
SCB_API size_t scb_readers_count(const scb_readers_t *r);
SCB_API const char *scb_readers_name(const scb_readers_t *r, size_t i);
SCB_API int scb_readers_card_present(const scb_readers_t *r, size_t i);
SCB_API void scb_readers_free(scb_readers_t **r);
/* Name of the reader a PC/SC card handle is connected to (NULL otherwise). */
SCB_API const char *scb_card_reader_name(const scb_card_t *card);

SCB_API void scb_card_free(scb_card_t **card);

/* ------------------------------------------------------------------------ */
/* Modem transport (3GPP TS 27.007 AT+CSIM, +CCHO, +CGLA, +CCHC)             */
/* ------------------------------------------------------------------------ */
/* The UICC inside a cellular modem, reached through the modem's AT
 * interface. Every APDU travels as AT+CSIM=<2n>,"<hex>" (27.007 8.17) and
 * comes back as +CSIM: <2m>,"<hex>"; the length counts hex characters and
 * must match. Logical channels depend on the modem (see below).
 *
 * At open the transport sends ATE0V1 and AT+CMEE=1 (numeric +CME errors)
 * unless SCB_MODEM_NO_INIT; echoed command lines, blank lines and
 * unsolicited result codes (+CREG:, RING, ^SYSSTART, ...) are skipped
 * wherever they appear. Each AT command has its own timeout (SCB_E_TIMEOUT;
 * the next command first resynchronises with the modem). ERROR gives
 * SCB_E_MODEM, +CME ERROR: <n> (numeric or verbose) SCB_E_MODEM_CME with
 * the number in scb_card_modem_cme() and the errmsg. A modem that goes away
 * (EOF, EIO, hang-up) gives SCB_E_CARD_REMOVED, then on every later call.
 * The transport never writes APDU bytes to any log or message of its own.
 *
 * Logical channels. The APDU engine opens one with MANAGE CHANNEL
 * (00 70 00 00 01) and then selects the application by AID with the channel
 * in CLA. Many modems refuse MANAGE CHANNEL through +CSIM and offer
 * +CCHO="<AID>" (open a channel AND select the application), +CGLA=<session>
 * (send on it) and +CCHC=<session> (close) instead. With emulation the
 * transport answers MANAGE CHANNEL open itself with the lowest channel
 * number it has not handed out, defers AT+CCHO until the SELECT by AID on
 * that channel arrives, and then carries every command of that channel with
 * AT+CGLA (SELECT with P2 0C is answered 90 00 from the +CCHO result; a
 * SELECT that wants FCP/FCI is sent again through +CGLA to fetch it).
 * MANAGE CHANNEL close becomes AT+CCHC. When the modem's session id is a
 * channel number (1..19) the CLA channel bits are set to it (27.007 8.45
 * leaves them to the modem otherwise; with SCB_SCP_MAC_CLA_AS_SENT the MAC
 * then covers the engine's channel number, which matches only when the
 * modem gave the predicted one). +CME ERROR: 22 (not found) on
 * AT+CCHO is answered as SW 6A82 so "application not found" stays a status
 * word. Channels still open when the handle is freed are closed. */
enum scb_modem_channels {
    SCB_MODEM_CH_AUTO = 0, /* MANAGE CHANNEL through +CSIM; when the modem refuses
                            * it (ERROR, +CME ERROR, SW 6D00/6E00) and answers
                            * AT+CCHO=? and AT+CGLA=?, emulate from then on */
    SCB_MODEM_CH_CSIM = 1, /* everything through +CSIM, never emulate */
    SCB_MODEM_CH_CGLA = 2  /* always emulate logical channels with +CCHO/+CGLA/+CCHC */
};

/* scb_modem_opts_t.flags */
#define SCB_MODEM_RTSCTS          0x0001u /* serial device: RTS/CTS flow control */
#define SCB_MODEM_NO_INIT         0x0002u /* leave echo / CMEE settings alone (only "AT" is sent) */
#define SCB_MODEM_EXTENDED_LENGTH 0x0004u /* the modem carries extended-length APDUs */

#define SCB_MODEM_DEFAULT_BAUD 115200u
#define SCB_MODEM_DEFAULT_TIMEOUT_MS 5000u

#define SCB_MODEM_OPTS_VERSION 1
typedef struct scb_modem_opts {
    unsigned version;             /* SCB_MODEM_OPTS_VERSION */
    unsigned flags;               /* SCB_MODEM_* */
    unsigned timeout_ms;          /* per AT command; 0 = SCB_MODEM_DEFAULT_TIMEOUT_MS */
    int channels;                 /* enum scb_modem_channels */
} scb_modem_opts_t;
SCB_API void scb_modem_opts_init(scb_modem_opts_t *o);

/* A caller-owned AT channel, for code that already owns the modem port
 * (a gateway plugin, another serial library, a multiplexer). */
#define SCB_AT_CHANNEL_VERSION 1
typedef struct scb_at_channel {
    unsigned version;             /* SCB_AT_CHANNEL_VERSION */
    void *user;                   /* passed to every callback */
    /* Write all len bytes. 0, or a negative SCB_E_* code (SCB_E_CARD_REMOVED
     * when the port is gone). Required. */
    int (*write)(void *user, const uint8_t *data, size_t len);
    /* Read at most cap bytes, waiting up to timeout_ms (0: do not wait).
     * Returns the number of bytes (0: nothing arrived in time), or a negative
     * SCB_E_* code (SCB_E_CARD_REMOVED at end of file). Required. */
    int (*read)(void *user, uint8_t *buf, size_t cap, int timeout_ms);
    /* Optional (may be NULL): keep other users off the port during one
     * high-level operation (scb_card_begin / scb_card_end). */
    int (*begin)(void *user);
    int (*end)(void *user);
    /* Optional: called once by scb_card_free (not when opening fails). */
    void (*close)(void *user);
} scb_at_channel_t;

/* Open the modem on a serial device (e.g. "/dev/ttyUSB2"): raw 8N1, CLOCAL,
 * no flow control unless SCB_MODEM_RTSCTS; baud 0 = SCB_MODEM_DEFAULT_BAUD
 * (9600 .. 4000000; ignored by USB CDC-ACM modems). The port is held
 * exclusively until scb_card_free (flock + TIOCEXCL): a port another program
 * holds gives SCB_E_SHARING. opts may be NULL (defaults). detail (may be
 * NULL) receives why opening failed. */
SCB_API int scb_card_open_modem(scb_card_t **out, const char *device, unsigned baud,
                                const scb_modem_opts_t *opts, char *detail, size_t detail_len);
/* Same over a caller's AT channel (the struct is copied). */
SCB_API int scb_card_open_at(scb_card_t **out, const scb_at_channel_t *channel,
                             const scb_modem_opts_t *opts, char *detail, size_t detail_len);
/* Number of the last +CME ERROR on a modem handle (during the last
 * transmit), -1 when there was none, it was verbose text without a known
 * number, or the handle is not a modem handle. */
SCB_API int scb_card_modem_cme(const scb_card_t *card);
/* How logical channels are carried now: SCB_MODEM_CH_CSIM or _CGLA
 * (SCB_MODEM_CH_AUTO until the first MANAGE CHANNEL decided it), -1 when
 * the handle is not a modem handle. */
SCB_API int scb_card_modem_channels(const scb_card_t *card);

/* ------------------------------------------------------------------------ */
/* Diagnostics and tracing                                                   */
/* ------------------------------------------------------------------------ */
/* Detail text of the last failure on this handle ("" if none). Never holds
 * key material. Owned by the handle. */
SCB_API const char *scb_card_errmsg(const scb_card_t *card);
/* Last status word received from the card (unwrapped), 0 if none. */
SCB_API uint16_t scb_card_last_sw(const scb_card_t *card);
/* Meaning of a status word per ISO 7816-4 / ETSI TS 102 221 (static text). */
SCB_API const char *scb_sw_text(uint16_t sw);
/* Exclusive access across several calls (PC/SC transaction; nests). Every
 * high-level operation (a bootstrap read, a secure channel handshake) takes
 * one by itself. */
SCB_API int scb_card_begin(scb_card_t *card);
SCB_API int scb_card_end(scb_card_t *card);
/* Number of APDUs exchanged on the wire since the handle was opened
 * (GET RESPONSE and resends included). */
SCB_API unsigned long scb_card_apdu_count(const scb_card_t *card);

#define SCB_TRACE_VERSION 1
enum scb_trace_kind {
    SCB_TRACE_WIRE_CMD = 1,   /* bytes sent to the transport */
    SCB_TRACE_WIRE_RESP = 2,  /* bytes received from the transport */
    SCB_TRACE_PLAIN_CMD = 3,  /* a command before secure-messaging wrap */
    SCB_TRACE_PLAIN_RESP = 4, /* a response after unwrap */
    SCB_TRACE_NOTE = 5        /* text: what the library is doing */
};
typedef struct scb_trace_event {
    int kind;                 /* enum scb_trace_kind */
    const uint8_t *data;      /* APDU bytes (responses: data + SW) */
    size_t len;
    int masked;               /* 1: the APDU carries secrets: data/len hold only the
                               * command header or the response SW */
    size_t full_len;          /* length of the whole APDU (== len unless masked) */
    const char *text;         /* SCB_TRACE_NOTE only */
} scb_trace_event_t;
typedef struct scb_trace {
    unsigned version;         /* SCB_TRACE_VERSION */
    void *user;
    void (*event)(void *user, const scb_trace_event_t *ev);
} scb_trace_t;
/* Install (copied) or remove (NULL) the trace hook. */
SCB_API int scb_card_set_trace(scb_card_t *card, const scb_trace_t *trace);
/* Format an event as one line: "A>> 00 A4 04 00 ...", "A<< 90 00 (9000)",
 * "S>> ..." / "S<< ..." for plaintext under SM, "# note". Returns the
 * length written (truncated to fit, always NUL-terminated), or < 0. */
SCB_API int scb_trace_format(const scb_trace_event_t *ev, char *buf, size_t len);

/* Random source for host challenges (default: OpenSSL RAND_bytes). */
typedef int (*scb_rng_fn)(void *user, uint8_t *buf, size_t len);
SCB_API int scb_card_set_rng(scb_card_t *card, scb_rng_fn fn, void *user);

/* ------------------------------------------------------------------------ */
/* APDU level                                                                */
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

/* Logical channels (MANAGE CHANNEL). open: the card assigns a channel, the
 * handle switches to it and *channel receives it. close: closes the
 * handle's current channel (not 0) and switches back to 0; a secure channel
 * on it is closed first. select: switch to an already open channel. */
SCB_API int scb_channel_open(scb_card_t *card, uint8_t *channel);
SCB_API int scb_channel_close(scb_card_t *card);
SCB_API int scb_channel_select(scb_card_t *card, uint8_t channel);
SCB_API uint8_t scb_card_channel(const scb_card_t *card);

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
 * (size 0 = read until the card reports the end). At most 32768 bytes.
 * Chunks are sized from the transport's limits and the secure-channel level
 * in force. *len: capacity in, bytes read out. */
#define SCB_MAX_FILE_SIZE 32768u
SCB_API int scb_read_binary(scb_card_t *card, size_t size, uint8_t *buf, size_t *len);
/* Read one record of the current linear-fixed EF (READ RECORD, P2 04). */
SCB_API int scb_read_record(scb_card_t *card, uint8_t record, uint8_t *buf, size_t *len);
/* Write data at offset in the current transparent EF (UPDATE BINARY, chunked). */
SCB_API int scb_update_binary(scb_card_t *card, size_t offset, const uint8_t *data, size_t len);
/* VERIFY PIN (ISO 7816-4 INS 20) with reference ref; the PIN (1..8 bytes)
 * is sent FF-padded to 8 bytes as a UICC expects (TS 102 221 9.5.1). */
SCB_API int scb_verify_pin(scb_card_t *card, uint8_t ref, const uint8_t *pin, size_t pin_len);

/* ------------------------------------------------------------------------ */
/* SCP03 keys                                                                */
/* ------------------------------------------------------------------------ */
enum scb_key_type { SCB_KEY_ENC = 1, SCB_KEY_MAC = 2, SCB_KEY_DEK = 3 };

/* enc/mac/dek: key_len bytes each (16, 24 or 32); dek may be NULL (then PUT
 * KEY is impossible). kvn: key version number (0 = the card's default). */
SCB_API int scb_keys_new(scb_keys_t **out, const uint8_t *enc, const uint8_t *mac,
                         const uint8_t *dek, size_t key_len, uint8_t kvn);
SCB_API void scb_keys_free(scb_keys_t **keys);
SCB_API uint8_t scb_keys_kvn(const scb_keys_t *keys);
SCB_API size_t scb_keys_length(const scb_keys_t *keys);
SCB_API int scb_keys_has_dek(const scb_keys_t *keys);
/* KCV of one key of the set: first 3 bytes of AES-ECB(key, 16 x 01). */
SCB_API int scb_keys_kcv(const scb_keys_t *keys, int type, uint8_t kcv[3]);
SCB_API int scb_kcv(const uint8_t *key, size_t key_len, uint8_t kcv[3]);
/* KDF3 diversification (GPPro): block i = CMAC(master, i||000000||t||00||kdd). */
SCB_API int scb_keys_diversify_kdf3(const scb_keys_t *master, const uint8_t kdd[10],
                                    scb_keys_t **out);
/* Encrypt a key under a DEK (AES-CBC, zero IV), as PUT KEY sends it. out
 * receives key_len rounded up to 16 bytes (an AES-192 key is zero-padded to 32). */
SCB_API int scb_dek_encrypt(const uint8_t *dek, size_t dek_len, const uint8_t *key,
                            size_t key_len, uint8_t *out);

/* ------------------------------------------------------------------------ */
/* SCP03 secure channel                                                      */
/* ------------------------------------------------------------------------ */
/* Security levels (EXTERNAL AUTHENTICATE P1) */
#define SCB_SL_NONE  0x00u
#define SCB_SL_CMAC  0x01u
#define SCB_SL_CDEC  0x02u
#define SCB_SL_RMAC  0x10u
#define SCB_SL_RENC  0x20u
#define SCB_SL_DEFAULT 0x33u   /* C-DEC + R-ENC + C-MAC + R-MAC (LwM2M App. H) */

/* SCP03 open flags */
#define SCB_SCP_S16            0x0001u /* request S16 mode (16-byte challenges/MACs) */
#define SCB_SCP_COUNT_DATA_ONLY 0x0002u /* card increments the encryption counter only for commands with data */
#define SCB_SCP_MAC_CLA_AS_SENT 0x0004u /* MAC the CLA with its channel bits (default: bits cleared, as the spec) */
#define SCB_SCP_KDF3           0x0008u /* keys are master keys: diversify with KDF3 and the card's KDD */
#define SCB_SCP_NO_EXTAUTH     0x0010u /* stop after verifying the card cryptogram (no EXTERNAL AUTHENTICATE sent) */

#define SCB_SCP03_PARAMS_VERSION 1
typedef struct scb_scp03_params {
    unsigned version;             /* SCB_SCP03_PARAMS_VERSION */
    uint8_t level;                /* SCB_SL_* combination: 0x01,0x03,0x11,0x13,0x33 (0x00 allowed) */
    uint8_t kvn;                  /* key version for INITIALIZE UPDATE; 0 = the key set's kvn */
    unsigned flags;               /* SCB_SCP_* */
    const uint8_t *host_challenge;/* NULL = from the RNG; else 8 (S8) or 16 (S16) bytes (tests) */
    size_t host_challenge_len;
    const uint8_t *sd_aid;        /* Security Domain AID: verify a pseudo-random card challenge */
    size_t sd_aid_len;
} scb_scp03_params_t;
SCB_API void scb_scp03_params_init(scb_scp03_params_t *p);  /* defaults: level 0x33 */

/* Open a secure channel on the card's current logical channel with the
 * Security Domain currently selected on it. On any failure no session
 * remains, the session keys are wiped, and secured transmits on that
 * channel are refused (SCB_E_SCP_NO_SESSION) until a session opens again;
 * invalid arguments are refused before anything changes. */
SCB_API int scb_scp03_open(scb_card_t *card, const scb_keys_t *keys,
                           const scb_scp03_params_t *params);
SCB_API int scb_scp03_close(scb_card_t *card);  /* wipes the session; no APDU sent */
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

/* PUT KEY (GP 11.8 / Amd D 7.x): add (replace_kvn = 0) or replace the key
 * set with version replace_kvn by new_keys (ENC, MAC, DEK under KVN
 * scb_keys_kvn(new_keys)), encrypted under the session's static DEK; checks
 * the KCVs the card returns. Needs an open secure channel with C-MAC. */
SCB_API int scb_put_keys(scb_card_t *card, const scb_keys_t *new_keys, uint8_t replace_kvn);

/* ------------------------------------------------------------------------ */
/* LwM2M bootstrap: the data model                                           */
/* ------------------------------------------------------------------------ */
/* A bootstrap file = ordered objects; object = id + version + instances;
 * instance = id + resources; resource = id + value (single) or + resource
 * instances (multiple). Values are raw TLV value bytes; the type follows
 * from the OMA object definition (scb_lwm2m_resource_info). Objects and
 * resources the library does not know are kept as they are. */
enum scb_value_type {
    SCB_T_OPAQUE = 0, SCB_T_STRING = 1, SCB_T_INTEGER = 2, SCB_T_UNSIGNED = 3,
    SCB_T_FLOAT = 4, SCB_T_BOOLEAN = 5, SCB_T_OBJLNK = 6, SCB_T_TIME = 7,
    SCB_T_NONE = 8
};
typedef struct scb_resource_info {
    const char *name;       /* e.g. "LwM2M Server URI" */
    const char *key;        /* JSON / dict key, e.g. "server_uri" */
    int type;               /* enum scb_value_type */
    int multiple;           /* 1: multiple-instance resource */
    int secret;             /* 1: redacted unless secrets are asked for */
    int has_range;          /* 1: integer values must lie in min..max (OMA RangeEnumeration) */
    int64_t min;
    int64_t max;
} scb_resource_info_t;
/* 0 and info filled for a known (object, resource); SCB_E_NOT_FOUND else.
 * Known objects: 0 Security, 1 Server, 2 Access Control, 21 OSCORE. */
SCB_API int scb_lwm2m_resource_info(uint16_t object_id, uint16_t resource_id,
                                    scb_resource_info_t *info);
/* Reverse lookup: resource id from its key for an object. */
SCB_API int scb_lwm2m_resource_by_key(uint16_t object_id, const char *key, uint16_t *resource_id);
SCB_API const char *scb_lwm2m_object_name(uint16_t object_id); /* NULL if unknown */

SCB_API int scb_bootstrap_new(scb_bootstrap_t **out);
/* Decode a bootstrap file (container + OMA-TLV); FF padding after the
 * declared size is ignored. On failure *out is NULL and, when detail is
 * not NULL, a message naming what and where is written there
 * ("/0/1 at offset 12: resource 5: length 3 runs past its parent ...").
 * SCB_E_PARSE for malformed data, including an id that appears twice on
 * one level (object, instance, resource, resource instance);
 * SCB_E_FILE_TOO_LARGE when len exceeds SCB_MAX_FILE_SIZE. */
SCB_API int scb_bootstrap_decode(scb_bootstrap_t **out, const uint8_t *data, size_t len,
                                 char *detail, size_t detail_len);
/* Encode (minimal TLV identifier and length fields, objects, instances
 * and resources in model order). *len: capacity in, bytes out; buf NULL
 * or too small: SCB_E_BUFFER_TOO_SMALL and *len = the size needed.
 * SCB_E_FILE_TOO_LARGE when the file would exceed SCB_MAX_FILE_SIZE. */
SCB_API int scb_bootstrap_encode(const scb_bootstrap_t *bs, uint8_t *buf, size_t *len);
SCB_API void scb_bootstrap_free(scb_bootstrap_t **bs);
/* SHA-256 over the meaningful bytes (header + size bytes, no padding) of
 * the file this model encodes to. */
SCB_API int scb_bootstrap_digest(const scb_bootstrap_t *bs, uint8_t digest[32]);
/* The bytes the model was decoded from (read from the card): the whole
 * file including padding; *data NULL and *len 0 for a built model. Not
 * updated by the builders. */
SCB_API int scb_bootstrap_raw(const scb_bootstrap_t *bs, const uint8_t **data, size_t *len);

/* Tree access (indices, 0-based, in file order). */
SCB_API size_t scb_bootstrap_object_count(const scb_bootstrap_t *bs);
typedef struct scb_bs_object {
    uint16_t id;
    uint8_t version_major;    /* 0 = implicit 1.0 (single 00 byte in the file) */
    uint8_t version_minor;
    size_t instance_count;
} scb_bs_object_t;
SCB_API int scb_bootstrap_object(const scb_bootstrap_t *bs, size_t oi, scb_bs_object_t *out);
typedef struct scb_bs_instance {
    uint16_t id;
    size_t resource_count;
} scb_bs_instance_t;
SCB_API int scb_bootstrap_instance(const scb_bootstrap_t *bs, size_t oi, size_t ii,
                                   scb_bs_instance_t *out);
typedef struct scb_bs_resource {
    uint16_t id;
    int multiple;             /* 1: value unused, see instance_count */
    const uint8_t *value;     /* single: raw value bytes */
    size_t value_len;
    size_t instance_count;    /* multiple: number of resource instances */
} scb_bs_resource_t;
SCB_API int scb_bootstrap_resource(const scb_bootstrap_t *bs, size_t oi, size_t ii, size_t ri,
                                   scb_bs_resource_t *out);
SCB_API int scb_bootstrap_resource_instance(const scb_bootstrap_t *bs, size_t oi, size_t ii,
                                            size_t ri, size_t rii, uint16_t *id,
                                            const uint8_t **value, size_t *value_len);
/* Builders: each returns the new element's index (>= 0) or a negative
 * code: SCB_E_VALIDATION when the id exists on that level already;
 * SCB_E_INVALID_ARG for an index out of range, a resource instance added
 * to a single resource, a minor version with major 0 (implicit 1.0);
 * SCB_E_FILE_TOO_LARGE for a value over SCB_MAX_FILE_SIZE. Values are
 * copied. */
SCB_API int scb_bootstrap_add_object(scb_bootstrap_t *bs, uint16_t id, uint8_t version_major,
                                     uint8_t version_minor);
SCB_API int scb_bootstrap_add_instance(scb_bootstrap_t *bs, size_t oi, uint16_t id);
SCB_API int scb_bootstrap_add_resource(scb_bootstrap_t *bs, size_t oi, size_t ii, uint16_t id,
                                       const uint8_t *value, size_t value_len);
SCB_API int scb_bootstrap_add_multi_resource(scb_bootstrap_t *bs, size_t oi, size_t ii,
                                             uint16_t id);
SCB_API int scb_bootstrap_add_resource_instance(scb_bootstrap_t *bs, size_t oi, size_t ii,
                                                size_t ri, uint16_t id, const uint8_t *value,
                                                size_t value_len);

/* Value conversions (OMA-TLV data types). Integers: 1/2/4/8-byte two's
 * complement; encode picks the shortest. Booleans: one byte 0/1. The
 * to_* functions return SCB_E_PARSE when the bytes are not a value of
 * that type (e.g. a 3-byte integer, a boolean 02). */
SCB_API int scb_value_to_int(const uint8_t *v, size_t len, int64_t *out);
SCB_API int scb_value_from_int(int64_t x, uint8_t buf[8], size_t *len);
SCB_API int scb_value_to_bool(const uint8_t *v, size_t len, int *out);
SCB_API int scb_value_to_float(const uint8_t *v, size_t len, double *out);
SCB_API int scb_value_to_objlnk(const uint8_t *v, size_t len, uint16_t *obj, uint16_t *inst);
/* Unsigned integers (LwM2M 1.1): 1/2/4/8 bytes; encode picks the shortest. */
SCB_API int scb_value_to_uint(const uint8_t *v, size_t len, uint64_t *out);
SCB_API int scb_value_from_uint(uint64_t x, uint8_t buf[8], size_t *len);
/* Floats: 4 or 8 bytes IEEE 754; encode uses 4 bytes when that is exact. */
SCB_API int scb_value_from_float(double x, uint8_t buf[8], size_t *len);
SCB_API int scb_value_from_objlnk(uint16_t obj, uint16_t inst, uint8_t buf[4]);
/* Strings: 0 when v is valid UTF-8 without NUL bytes, SCB_E_PARSE else. */
SCB_API int scb_value_check_string(const uint8_t *v, size_t len);

/* Typed view of the Security (0) and Server (1) instances. Each field has a
 * present bit (1u << resource id) in .present. Pointers point into bs.
 * SCB_E_PARSE when one of the view's resources is not a valid value of its
 * type (or is multiple-instance): the tree API still has its bytes. The
 * views cover Security resources 0..12 and Server 0..7; later resources
 * only through the tree API. Index out of range: SCB_E_INVALID_ARG. */
typedef struct scb_security {
    uint16_t instance_id;
    uint32_t present;
    const char *server_uri;              /* 0 (NUL-terminated copy) */
    int bootstrap_server;                /* 1 */
    int64_t security_mode;               /* 2: 0 PSK 1 RPK 2 Cert 3 NoSec 4 Cert+EST */
    const uint8_t *public_key_or_identity; size_t public_key_or_identity_len; /* 3 */
    const uint8_t *server_public_key; size_t server_public_key_len;         /* 4 */
    const uint8_t *secret_key; size_t secret_key_len;                       /* 5 (secret) */
    int64_t sms_security_mode;           /* 6 */
    const uint8_t *sms_binding_key_params; size_t sms_binding_key_params_len;   /* 7 (secret) */
    const uint8_t *sms_binding_secret_keys; size_t sms_binding_secret_keys_len; /* 8 (secret) */
    const char *sms_server_number;       /* 9 */
    int64_t short_server_id;             /* 10 */
    int64_t client_hold_off_time;        /* 11 */
    int64_t bootstrap_server_account_timeout; /* 12 */
} scb_security_t;
typedef struct scb_server {
    uint16_t instance_id;
    uint32_t present;
    int64_t short_server_id;             /* 0 */
    int64_t lifetime;                    /* 1 */
    int64_t default_min_period;          /* 2 */
    int64_t default_max_period;          /* 3 */
    int64_t disable_timeout;             /* 5 */
    int notification_storing;            /* 6 */
    const char *binding;                 /* 7 */
} scb_server_t;
SCB_API size_t scb_bootstrap_security_count(const scb_bootstrap_t *bs);
SCB_API int scb_bootstrap_security(const scb_bootstrap_t *bs, size_t i, scb_security_t *out);
SCB_API size_t scb_bootstrap_server_count(const scb_bootstrap_t *bs);
SCB_API int scb_bootstrap_server(const scb_bootstrap_t *bs, size_t i, scb_server_t *out);

/* ------------------------------------------------------------------------ */
/* PKCS#15 parsers (exposed for tests, tools and fuzzing)                    */
/* ------------------------------------------------------------------------ */
#define SCB_PKCS15_AID_LEN 12
/* A0 00 00 00 63 50 4B 43 53 2D 31 35 */
SCB_API const uint8_t *scb_pkcs15_default_aid(void);
/* How the card encoded the bootstrap OID in its DODF entry. */
enum scb_oid_form {
    SCB_OID_NONE = 0,
    SCB_OID_DO_ID = 1,          /* oidDO with id 06 04 67 2B 09 01 */
    SCB_OID_DO_ID_MISENCODED = 2, /* oidDO with id 06 06 06 04 67 2B 09 01 (spec example, live cards) */
    SCB_OID_APPLICATION_OID = 3,  /* opaqueDO/any DO with applicationOID */
    SCB_OID_APPLICATION_OID_MISENCODED = 4
};
typedef struct scb_path {
    uint8_t bytes[16];          /* path bytes as in the Path (04) */
    size_t len;
    int has_range;              /* index/length present */
    uint32_t index;
    uint32_t length;
} scb_path_t;
/* EF.DIR record (or transparent content): find the PKCS#15 template. */
typedef struct scb_app_template {
    uint8_t aid[16]; size_t aid_len;
    scb_path_t path;            /* 51, len 0 when absent */
    char label[64];             /* 50, "" when absent */
} scb_app_template_t;
/* Parse one EF.DIR record (or a whole transparent EF.DIR). Finds the first
 * template whose AID starts with the PKCS#15 RID+PIX; SCB_E_NOT_FOUND if none. */
SCB_API int scb_pkcs15_parse_dir(const uint8_t *data, size_t len, scb_app_template_t *out,
                                 char *detail, size_t detail_len);
/* EF.ODF: the paths of the [7] dataObjects entries, in file order.
 * Returns 0 with *count 0 when there is none. More entries than the
 * capacity: SCB_E_BUFFER_TOO_SMALL, the first ones filled, *count = all. */
SCB_API int scb_pkcs15_parse_odf(const uint8_t *data, size_t len, scb_path_t *paths,
                                 size_t *count /* in: capacity, out: found */,
                                 char *detail, size_t detail_len);
/* EF.ODF: every PKCS15Objects entry that holds a Path (any of [0]..[8]),
 * with its tag (0xA7 = dataObjects), in file order. Entries holding the
 * objects directly instead of a Path are skipped. Capacity as above. */
typedef struct scb_odf_entry {
    uint8_t tag;                /* A0 privateKeys .. A7 dataObjects, A8 authObjects */
    scb_path_t path;
} scb_odf_entry_t;
SCB_API int scb_pkcs15_parse_odf_entries(const uint8_t *data, size_t len,
                                         scb_odf_entry_t *entries, size_t *count,
                                         char *detail, size_t detail_len);
/* EF.DODF: the LwM2M bootstrap entry (OID 2.23.43.9.1): the first data
 * object whose oidDO id, or whose CommonDataObjectAttributes.applicationOID,
 * is the bootstrap OID (either encoding). SCB_E_NO_BOOTSTRAP when there is
 * none; SCB_E_UNSUPPORTED when the entry holds its value other than as a
 * Path. Labels (here and in scb_app_template_t) are NUL-terminated UTF-8;
 * control characters and invalid bytes are replaced by '?'. */
typedef struct scb_dodf_entry {
    scb_path_t path;
    int oid_form;               /* enum scb_oid_form */
    uint8_t oid_value[16];      /* content of the OID TLV as the card has it */
    size_t oid_value_len;       /* (06 04 67 2B 09 01 when mis-encoded) */
    char label[64];             /* CommonObjectAttributes.label, else applicationName */
    int private_flag;           /* CommonObjectAttributes flags bit 0 */
    int modifiable_flag;        /* bit 1 */
    int has_auth_id;
    uint8_t auth_id[8]; size_t auth_id_len;
} scb_dodf_entry_t;
SCB_API int scb_pkcs15_find_bootstrap(const uint8_t *data, size_t len, scb_dodf_entry_t *out,
                                      char *detail, size_t detail_len);

/* ------------------------------------------------------------------------ */
/* The job: read (and write) the bootstrap file from the card                */
/* ------------------------------------------------------------------------ */
#define SCB_ACCESS_NO_SECURE_CHANNEL 0x0001u /* explicit: run without SCP03 */
#define SCB_ACCESS_SKIP_EFDIR        0x0002u /* go straight to the default AID */
#define SCB_ACCESS_NO_LOGICAL_CHANNEL 0x0004u /* stay on the basic channel */
#define SCB_ACCESS_PAD_FF            0x0008u /* write: fill the rest of the EF with FF */
#define SCB_ACCESS_NO_VERIFY         0x0010u /* write: skip the read-back check */

#define SCB_ACCESS_OPTS_VERSION 1
typedef struct scb_access_opts {
    unsigned version;             /* SCB_ACCESS_OPTS_VERSION */
    unsigned flags;               /* SCB_ACCESS_* */
    const scb_keys_t *keys;       /* required unless SCB_ACCESS_NO_SECURE_CHANNEL */
    scb_scp03_params_t scp;       /* level (default 0x33), kvn, flags, ... */
    const uint8_t *path;          /* remembered bootstrap EF path (skip EF.DIR/ODF/DODF) */
    size_t path_len;
    const uint8_t *aid;           /* remembered PKCS#15 ADF AID (info.aid); NULL = from
                                   * EF.DIR, or the default AID when a path is given */
    size_t aid_len;
    const uint8_t *pin;           /* VERIFY with pin_ref before reading/writing the EF;
                                   * required when the DODF entry is private */
    size_t pin_len;
    uint8_t pin_ref;              /* 0 = 0x01 (PIN1, TS 102 221 9.5.1) */
} scb_access_opts_t;
SCB_API void scb_access_opts_init(scb_access_opts_t *o);

/* What a read (or write) found on the way. */
typedef struct scb_access_info {
    int used_efdir;               /* 1: AID from EF.DIR; 0: default AID fallback */
    uint8_t aid[16]; size_t aid_len;
    uint8_t channel;              /* logical channel used */
    int oid_form;                 /* enum scb_oid_form (SCB_OID_NONE when path given) */
    uint8_t path[16]; size_t path_len; /* the bootstrap EF path: pass back as opts.path */
    size_t ef_size;               /* EF size from FCP (0 if unknown) */
    int scp_level;                /* level in force, -1 none */
    unsigned long apdus;          /* APDUs on the wire for this operation */
    char label[64];
} scb_access_info_t;

/* Open the PKCS#15 application as a read does: find it (remembered AID,
 * EF.DIR, or the default AID), open a logical channel, select the ADF and
 * open SCP03 with its Security Domain (unless SCB_ACCESS_NO_SECURE_CHANNEL).
 * Later transmits on the handle go to it. info may be NULL. */
SCB_API int scb_app_open(scb_card_t *card, const scb_access_opts_t *opts,
                         scb_access_info_t *info);
/* Close the secure channel and the logical channel scb_app_open opened. */
SCB_API int scb_app_close(scb_card_t *card);

/* Read and decode the bootstrap file. On success *out owns the result and
 * scb_bootstrap_raw() gives the file bytes. info may be NULL. The logical
 * channel is closed at the end, also after an error. */
SCB_API int scb_read_bootstrap(scb_card_t *card, const scb_access_opts_t *opts,
                               scb_bootstrap_t **out, scb_access_info_t *info);
/* Write a bootstrap file (encoded bytes) to the card's bootstrap EF inside a
 * secure channel of at least C-DEC + C-MAC; verify by reading back. */
SCB_API int scb_write_bootstrap(scb_card_t *card, const scb_access_opts_t *opts,
                                const uint8_t *data, size_t len, scb_access_info_t *info);

/* The card's ICCID (EF.ICCID 2FE2 under the MF, BCD) as decimal digits;
 * out_len >= 21. For provisioning reports. */
SCB_API int scb_read_iccid(scb_card_t *card, char *out, size_t out_len);

/* Key rotation: open the application with opts (current keys), PUT KEY
 * new_keys (add, or replace the set replace_kvn), check the card's KCVs,
 * then prove the new keys with a fresh handshake; close everything. */
SCB_API int scb_rotate_keys(scb_card_t *card, const scb_access_opts_t *opts,
                            const scb_keys_t *new_keys, uint8_t replace_kvn,
                            scb_access_info_t *info);

#ifdef __cplusplus
}
#endif
#endif /* SCBOOT_H */
