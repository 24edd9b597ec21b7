/*
 * scboot: LwM2M bootstrap data from a UICC, over GlobalPlatform SCP03.
 *
 * This header is what an application needs, in the order it needs it:
 * open a card, options, keys, read / write / rotate, the bootstrap data
 * model, errors, tracing. The tool surface (single APDUs, logical channels,
 * the secure channel step by step, PUT KEY) is in <scboot/apdu.h>, the
 * PKCS#15 parsers in <scboot/pkcs15.h>, caller transports and the modem's
 * AT channel in <scboot/transport.h>.
 *
 * Conventions:
 *  - Every function returns int: 0 (SCB_OK) on success, a negative SCB_E_*
 *    code on failure. Codes are stable numbers; scb_error_family() groups
 *    them (usage, transport, card, secure channel, data, write, ...).
 *  - Opaque handles are created through an out pointer and freed with
 *    scb_*_free(&ptr), which accepts NULL and sets the caller's pointer to
 *    NULL.
 *  - Every call on a card handle starts by clearing the handle's error; on
 *    failure scb_card_errmsg() says what failed and scb_card_last_sw()
 *    holds the last status word. Calls that talk to the card hold the
 *    reader exclusively (a PC/SC transaction) while they do.
 *  - Buffers passed in are owned by the caller and only read during the
 *    call. "(uint8_t *buf, size_t *len)" out-parameters: *len is the
 *    capacity on entry and the length written on return;
 *    SCB_E_BUFFER_TOO_SMALL sets *len to the size needed.
 *  - Pointers returned by getters point into memory owned by the handle;
 *    they stay valid until the handle is freed or the next call that
 *    modifies it.
 *  - No global or static mutable state: two threads using two different
 *    handles never share anything. One handle must not be used by two
 *    threads at once.
 *  - Key material lives only inside scb_keys_t and the card's
 *    secure-channel state; it is wiped on free, close and on any
 *    secure-channel failure, and it never appears in traces or error
 *    messages.
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
#define SCB_VERSION_MINOR 2
#define SCB_VERSION_PATCH 0
#define SCB_VERSION_STRING "0.2.0"

SCB_API const char *scb_version(void);

typedef struct scb_card scb_card_t;          /* a connection to one card */
typedef struct scb_opts scb_opts_t;          /* options of an operation */
typedef struct scb_keys scb_keys_t;          /* SCP03 static key set */
typedef struct scb_bootstrap scb_bootstrap_t;/* a decoded bootstrap file */
typedef struct scb_readers scb_readers_t;    /* a PC/SC reader list */

/* ------------------------------------------------------------------------ */
/* Opening a card                                                            */
/* ------------------------------------------------------------------------ */
/* PC/SC. reader: NULL or "" = first reader with a card; otherwise an exact
 * name, else a decimal index, else a unique case-sensitive substring.
 * detail (may be NULL) receives why opening failed. */
SCB_API int scb_card_open_pcsc(scb_card_t **out, const char *reader, char *detail,
                               size_t detail_len);
SCB_API int scb_readers_list(scb_readers_t **out, char *detail, size_t detail_len);
SCB_API size_t scb_readers_count(const scb_readers_t *r);
SCB_API const char *scb_readers_name(const scb_readers_t *r, size_t i);
SCB_API int scb_readers_card_present(const scb_readers_t *r, size_t i);
SCB_API void scb_readers_free(scb_readers_t **r);
/* Name of the reader a PC/SC card handle is connected to (NULL otherwise). */
SCB_API const char *scb_card_reader_name(const scb_card_t *card);

/* The UICC inside a cellular modem, on a serial device such as
 * "/dev/ttyUSB2" (3GPP TS 27.007 AT+CSIM; logical channels through
 * +CCHO / +CGLA / +CCHC where the modem offers them). opts (may be NULL)
 * take the modem options: "baud", "rtscts", "modem_channels",
 * "modem_timeout_ms", "modem_no_init", "extended_length". The port is held
 * exclusively until scb_card_free: a port another program holds gives
 * SCB_E_SHARING. A caller-owned AT channel: <scboot/transport.h>. */
SCB_API int scb_card_open_modem(scb_card_t **out, const char *device, const scb_opts_t *opts,
                                char *detail, size_t detail_len);

/* Frees the handle; logical channels it opened and left open are closed
 * first. */
SCB_API void scb_card_free(scb_card_t **card);

/* Exclusive access across several calls (a PC/SC transaction; nests).
 * Every call that talks to the card takes one by itself. */
SCB_API int scb_card_begin(scb_card_t *card);
SCB_API int scb_card_end(scb_card_t *card);

/* Every call that talks to the card is bounded: the whole call (a read with
 * all its APDUs, from scb_card_begin to scb_card_end when they are used)
 * ends with SCB_E_TIMEOUT, the step named, once ms milliseconds have passed.
 * A PC/SC card that stops answering in the middle of an APDU is abandoned
 * at the bound (pcsc-lite cannot cancel a transmit): the handle then
 * refuses every call with SCB_E_TIMEOUT; free it and open the card again.
 * 0 = no bound. The default is SCB_DEFAULT_TIMEOUT_MS. A caller's own
 * transport is bounded between APDUs only; the modem's AT commands also
 * have their own bound (the option "modem_timeout_ms"). */
#define SCB_DEFAULT_TIMEOUT_MS 30000u
SCB_API int scb_card_set_timeout(scb_card_t *card, unsigned ms);
SCB_API unsigned scb_card_timeout(const scb_card_t *card);

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */
/* Every operation takes an optional scb_opts_t (NULL = the defaults). An
 * option is an id (enum scb_opt) with a name ("kvn", "sd_aid", ...), a type
 * and a scope: the calls it applies to. Passing an option that was set to
 * a call outside its scope is SCB_E_INVALID_ARG ("option 'pad' does not
 * apply to a read"), so a front end never drops one silently; front ends
 * map their option names through scb_opt_find(), so every option reaches
 * every front end. Values are copied; scb_opts_free wipes them (the PIN). */
enum scb_opt {
    /* secure channel (SCP03, Amendment D) */
    SCB_OPT_LEVEL = 1,           /* int: 0x00 0x01 0x03 0x11 0x13 0x33 (default 0x33) */
    SCB_OPT_KVN,                 /* int 0..255: key version (0: the key set's) */
    SCB_OPT_S16,                 /* bool: S16 mode (16-byte challenges and MACs) */
    SCB_OPT_KDF3,                /* bool: the keys are KDF3 master keys */
    SCB_OPT_COUNT_DATA_ONLY,     /* bool: the card counts only commands with data */
    SCB_OPT_MAC_CLA_AS_SENT,     /* bool: MAC the CLA with its channel bits */
    SCB_OPT_HOST_CHALLENGE,      /* bytes 8|16: fixed host challenge (tests, replays) */
    SCB_OPT_SD_AID,              /* bytes 5..16: verify a pseudo-random card challenge */
    /* the PKCS#15 application */
    SCB_OPT_NO_SECURE_CHANNEL,   /* bool: run without SCP03 (an explicit choice) */
    SCB_OPT_SKIP_EFDIR,          /* bool: go straight to the default PKCS#15 AID */
    SCB_OPT_NO_LOGICAL_CHANNEL,  /* bool: stay on the basic channel */
    SCB_OPT_AID,                 /* bytes 5..16: the PKCS#15 ADF AID (skip EF.DIR) */
    /* the bootstrap EF (read and write) */
    SCB_OPT_PATH,                /* bytes 2..16: bootstrap EF path from an earlier read */
    SCB_OPT_PIN,                 /* bytes 1..8, secret: VERIFY before the EF */
    SCB_OPT_PIN_REF,             /* int 1..255: PIN reference (default 0x01, PIN1) */
    /* write */
    SCB_OPT_PAD,                 /* bool: fill the rest of the EF with FF */
    SCB_OPT_NO_VERIFY,           /* bool: skip the read-back check */
    /* key rotation */
    SCB_OPT_REPLACE_KVN,         /* int 0..255: replace this key set (0: add) */
    /* modem (scb_card_open_modem, scb_card_open_at) */
    SCB_OPT_BAUD,                /* int 9600..4000000 (default 115200) */
    SCB_OPT_RTSCTS,              /* bool: RTS/CTS flow control */
    SCB_OPT_MODEM_CHANNELS,      /* enum "auto" | "csim" | "cgla" */
    SCB_OPT_MODEM_TIMEOUT_MS,    /* int: per AT command (default 5000) */
    SCB_OPT_MODEM_NO_INIT,       /* bool: leave echo and CMEE settings alone */
    SCB_OPT_EXTENDED_LENGTH,     /* bool: the modem carries extended-length APDUs */
    SCB_OPT_COUNT_                /* one past the last id */
};

enum scb_opt_type { SCB_OPT_T_INT = 1, SCB_OPT_T_BOOL = 2, SCB_OPT_T_BYTES = 3, SCB_OPT_T_ENUM = 4 };

/* Scopes: the calls an option applies to. */
#define SCB_SCOPE_SCP    0x01u /* scb_scp03_open, scb_scp03_probe and every job */
#define SCB_SCOPE_APP    0x02u /* scb_app_open and every job */
#define SCB_SCOPE_EF     0x04u /* scb_read_bootstrap, scb_write_bootstrap */
#define SCB_SCOPE_WRITE  0x08u /* scb_write_bootstrap */
#define SCB_SCOPE_ROTATE 0x10u /* scb_rotate_keys */
#define SCB_SCOPE_MODEM  0x20u /* scb_card_open_modem, scb_card_open_at */

typedef struct scb_opt_info {
    int id;                   /* enum scb_opt */
    const char *name;         /* "sd_aid": front ends spell it --sd-aid, sd_aid=, ... */
    int type;                 /* enum scb_opt_type */
    unsigned scope;           /* SCB_SCOPE_* */
    long long min, max;       /* int / enum: value range; bytes: length range */
    long long dflt;           /* int / bool / enum default */
    int secret;               /* 1: the value is secret (never echoed) */
    const char *arg;          /* how a value is written: "N", "HEX", "auto|csim|cgla" */
    const char *help;         /* one line */
} scb_opt_info_t;
/* The id of an option name ("sd_aid"; '-' is read as '_'), or
 * SCB_E_NOT_FOUND. */
SCB_API int scb_opt_find(const char *name);
/* Facts of option id (1 .. SCB_OPT_COUNT_ - 1); SCB_E_NOT_FOUND otherwise. */
SCB_API int scb_opt_info(int id, scb_opt_info_t *out);
/* Name of an enum option's value, NULL when out of range. */
SCB_API const char *scb_opt_choice(int id, long long value);

SCB_API int scb_opts_new(scb_opts_t **out);
SCB_API void scb_opts_free(scb_opts_t **opts);
/* Set an int, bool (0/1) or enum option; SCB_E_INVALID_ARG for a value
 * out of range or an option of another type (scb_opts_errmsg says which). */
SCB_API int scb_opts_set_int(scb_opts_t *opts, int id, long long value);
/* Set a bytes option (copied); value NULL unsets it. */
SCB_API int scb_opts_set_bytes(scb_opts_t *opts, int id, const uint8_t *value, size_t len);
/* Set any option from text: a number (decimal or 0x..), a boolean
 * (1/0, yes/no, true/false, on/off), an enum value's name, or hex bytes
 * (spaces allowed). Messages name the option, never a secret's text. */
SCB_API int scb_opts_set_text(scb_opts_t *opts, int id, const char *text);
/* Back to the default. */
SCB_API int scb_opts_unset(scb_opts_t *opts, int id);
/* 1 when set, 0 when not (or opts is NULL). */
SCB_API int scb_opts_is_set(const scb_opts_t *opts, int id);
/* The value of an int / bool / enum option (its default when unset). */
SCB_API int scb_opts_get_int(const scb_opts_t *opts, int id, long long *out);
/* Why the last setter failed ("" after success). */
SCB_API const char *scb_opts_errmsg(const scb_opts_t *opts);

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
/* SCP03 keys in a PKCS#11 token                                             */
/* ------------------------------------------------------------------------ */
/* A key set whose keys are AES secret-key objects in a PKCS#11 token, named
 * by an RFC 7512 URI: pkcs11:token=LABEL;object=NAME with the query
 * attributes module-path=PATH or module-name=NAME (without either: every
 * module p11-kit is configured with) and pin-source=file:PATH or
 * pin-value=PIN. The set NAME is the objects labelled NAME/enc, NAME/mac
 * and, where one is needed, NAME/dek. The key bytes never enter this
 * process: CMAC (session keys, card challenge, KDF3), CBC under the DEK
 * (PUT KEY) and KCVs run in the token; session keys and KDF3-diversified
 * card keys are host values, wiped as for memory keys.
 *
 * kvn: the key version number (0 = the card's default). pin: the user PIN
 * (NULL: the URI's pin-source / pin-value; neither and a token that needs a
 * login: SCB_E_P11_PIN_REQUIRED, so a front end can ask for one and try
 * again; PKCS#11 login state belongs to the process, so while another set
 * of this process is logged in to the token, the token takes the set
 * without checking the PIN). detail (may be NULL) receives what failed. Built without PKCS#11
 * (-DSCB_WITH_PKCS11=OFF): SCB_E_UNSUPPORTED.
 *
 * Every key set owns its module instance and session (p11-kit's managed
 * modules count initializations, so sets in several threads never meet);
 * one set may be used by several card handles at once: its token calls are
 * serialised. A secure channel keeps a reference to its set's DEK until it
 * closes. */
#define SCB_P11_NO_PIN_VALUE 0x0001u /* refuse pin-value= in the URI (it came from a
                                      * command line, which every user can read) */
#define SCB_P11_GENERATE     0x0002u /* objects absent: the set is generated in the
                                      * token by the PUT KEY that first uses it */
#define SCB_P11_AES192       0x0004u /* with SCB_P11_GENERATE: 24-byte keys (default 16) */
#define SCB_P11_AES256       0x0008u /* with SCB_P11_GENERATE: 32-byte keys */
SCB_API int scb_keys_open_pkcs11(scb_keys_t **out, const char *uri, uint8_t kvn,
                                 const char *pin, unsigned flags, char *detail,
                                 size_t detail_len);
/* 1 for a token key set, 0 for keys in memory. */
SCB_API int scb_keys_in_token(const scb_keys_t *keys);

/* Operator commands on a token (each opens and closes its own session;
 * uri, pin, flags and detail as for scb_keys_open_pkcs11).
 * import: the keys of a memory key set become sensitive, non-extractable
 * token objects NAME/enc, NAME/mac (and NAME/dek when the set has one)
 * with exactly the usages scboot needs (CKA_SIGN, CKA_ENCRYPT; CKA_WRAP on
 * the DEK). SCB_E_P11_OBJECT when one of the labels exists already.
 * generate: the same objects generated in the token (CKM_AES_KEY_GEN),
 * key_len 16, 24 or 32, with a DEK. */
SCB_API int scb_pkcs11_import(const char *uri, const char *pin, unsigned flags,
                              const scb_keys_t *keys, char *detail, size_t detail_len);
SCB_API int scb_pkcs11_generate(const char *uri, const char *pin, unsigned flags,
                                size_t key_len, char *detail, size_t detail_len);
/* list: every AES secret key of the token (or only NAME/enc, NAME/mac,
 * NAME/dek when the URI names an object), one call of fn each; never a
 * value. */
#define SCB_P11_ATTR_TOKEN             0x0001u
#define SCB_P11_ATTR_PRIVATE           0x0002u
#define SCB_P11_ATTR_SENSITIVE         0x0004u
#define SCB_P11_ATTR_ALWAYS_SENSITIVE  0x0008u
#define SCB_P11_ATTR_EXTRACTABLE       0x0010u
#define SCB_P11_ATTR_NEVER_EXTRACTABLE 0x0020u
#define SCB_P11_ATTR_MODIFIABLE        0x0040u
#define SCB_P11_ATTR_LOCAL             0x0080u /* generated in the token */
#define SCB_P11_ATTR_SIGN              0x0100u
#define SCB_P11_ATTR_VERIFY            0x0200u
#define SCB_P11_ATTR_ENCRYPT           0x0400u
#define SCB_P11_ATTR_DECRYPT           0x0800u
#define SCB_P11_ATTR_WRAP              0x1000u
#define SCB_P11_ATTR_UNWRAP            0x2000u
#define SCB_P11_ATTR_DERIVE            0x4000u
typedef struct scb_p11_object {
    const char *label;            /* CKA_LABEL (control characters replaced by '?') */
    size_t key_len;               /* CKA_VALUE_LEN */
    uint8_t kcv[3];               /* when has_kcv: AES-ECB(key, 16 x 01), computed in the token */
    int has_kcv;                  /* 0: the object may not encrypt (no KCV) */
    unsigned attrs;               /* SCB_P11_ATTR_* */
} scb_p11_object_t;
typedef void (*scb_p11_object_fn)(void *user, const scb_p11_object_t *obj);
SCB_API int scb_pkcs11_list(const char *uri, const char *pin, unsigned flags,
                            scb_p11_object_fn fn, void *user, char *detail, size_t detail_len);

/* ------------------------------------------------------------------------ */
/* The job: read, write, rotate                                              */
/* ------------------------------------------------------------------------ */
/* OMA LwM2M Core, Appendix G (storage) and H (secure channel): EF.DIR ->
 * PKCS#15 application on a logical channel -> SCP03 with its Security
 * Domain -> EF.ODF -> DODF -> bootstrap EF. keys may be NULL only with the
 * option "no_secure_channel". A job refuses to touch the bootstrap EF
 * unless a session at least at the level asked for is in force. */

/* What a job found on the way. */
typedef struct scb_access_info {
    int used_efdir;               /* 1: AID from EF.DIR; 0: default AID fallback */
    uint8_t aid[16]; size_t aid_len;
    uint8_t channel;              /* logical channel used */
    int oid_form;                 /* enum scb_oid_form (SCB_OID_NONE when a path was given) */
    uint8_t path[16]; size_t path_len; /* the bootstrap EF path: pass back as "path" */
    size_t ef_size;               /* EF size from FCP (0 if unknown) */
    int scp_level;                /* level in force, -1 none */
    int s16;                      /* the session's mode: 1 S16, 0 S8 (detected unless "s16" was given) */
    unsigned long apdus;          /* APDUs on the wire for this operation */
    char label[64];
} scb_access_info_t;

/* Read and decode the bootstrap file. On success *out owns the result and
 * scb_bootstrap_raw() gives the file bytes. info may be NULL. The logical
 * channel is closed at the end, also after an error. */
SCB_API int scb_read_bootstrap(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts,
                               scb_bootstrap_t **out, scb_access_info_t *info);
/* Write a bootstrap file (encoded bytes) to the card's bootstrap EF inside a
 * secure channel of at least C-DEC + C-MAC; verify by reading back. */
SCB_API int scb_write_bootstrap(scb_card_t *card, const scb_keys_t *keys,
                                const scb_opts_t *opts, const uint8_t *data, size_t len,
                                scb_access_info_t *info);
/* Key rotation: open the application with keys, PUT KEY new_keys (added, or
 * replacing the set "replace_kvn"), check the card's KCVs, then prove the
 * new keys with a fresh handshake; close everything. */
SCB_API int scb_rotate_keys(scb_card_t *card, const scb_keys_t *keys,
                            const scb_keys_t *new_keys, const scb_opts_t *opts,
                            scb_access_info_t *info);
/* Open the PKCS#15 application as a job does (find it, open a logical
 * channel, select the ADF, open SCP03 unless "no_secure_channel") and stay
 * there: later transmits on the handle go to it. info may be NULL. */
SCB_API int scb_app_open(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts,
                         scb_access_info_t *info);
/* Close the secure channel and the logical channel scb_app_open opened. */
SCB_API int scb_app_close(scb_card_t *card);

/* The card's ICCID (EF.ICCID 2FE2 under the MF, BCD) as decimal digits;
 * out_len >= 21. For provisioning reports. */
SCB_API int scb_read_iccid(scb_card_t *card, char *out, size_t out_len);

/* ------------------------------------------------------------------------ */
/* The bootstrap data model                                                  */
/* ------------------------------------------------------------------------ */
/* A bootstrap file = ordered objects; object = id + version + instances;
 * instance = id + resources; resource = id + value (single) or + resource
 * instances (multiple). Values are raw TLV value bytes; the type follows
 * from the OMA object definition (scb_lwm2m_resource_info). Objects and
 * resources the library does not know are kept as they are. */
#define SCB_MAX_FILE_SIZE 32768u  /* EF.LwM2M_Bootstrap is at most 32 KB */

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
    int has_range;          /* 1: integers must lie in min..max, strings have min..max
                               bytes (OMA RangeEnumeration); max INT64_MAX: no upper bound */
    int64_t min;
    int64_t max;
} scb_resource_info_t;
/* 0 and info filled for a known (object, resource); SCB_E_NOT_FOUND else.
 * Known objects: 0 Security, 1 Server, 2 Access Control, 21 OSCORE. */
SCB_API int scb_lwm2m_resource_info(uint16_t object_id, uint16_t resource_id,
                                    scb_resource_info_t *info);
/* Whether v (len bytes: a single resource's value or one resource
 * instance's) is a value the OMA object definition allows: its data type
 * (as the scb_value_* conversions read it), its range (info.has_range) and
 * the rules the definition states in words (Server Binding: transport
 * letters U T S N M H, each once, Q only after U or S; Preferred
 * Transport: one letter). The JSON layer renders a value typed only when
 * it passes and refuses typed input that does not. 0: valid; SCB_E_PARSE:
 * not valid, detail (may be NULL) says what is expected ("expected integer
 * 1..65534", "expected a non-negative integer": for an integer resource
 * whatever the bytes, so an empty value yields the expectation);
 * SCB_E_UNSUPPORTED: the resource has no value (Execute); SCB_E_NOT_FOUND:
 * an unknown resource. The message never contains the value. */
SCB_API int scb_lwm2m_value_check(uint16_t object_id, uint16_t resource_id, const uint8_t *v,
                                  size_t len, char *detail, size_t detail_len);
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
 * only through the tree API. Index out of range: SCB_E_INVALID_ARG. The
 * views show what the card holds, in range or not (a Lifetime of -1 reads
 * as -1); scb_lwm2m_value_check says whether a value is one the object
 * definition allows. */
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
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */
enum scb_error {
    SCB_OK = 0,

    /* generic */
    SCB_E_INVALID_ARG = -1,       /* a NULL or out-of-range argument, an unknown option */
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
    SCB_E_MODEM_CME = -19,        /* modem answered +CME ERROR: n (scb_card_modem_cme) */

    /* card / APDU level */
    SCB_E_STATUS = -20,           /* unexpected status word: scb_card_last_sw() */
    SCB_E_BAD_RESPONSE = -21,     /* malformed, truncated or overlong response */
    SCB_E_GET_RESPONSE_LIMIT = -22, /* 61xx / 6Cxx rounds exceeded the bound */
    SCB_E_NOT_FOUND = -23,        /* 6A82 / 6A88: file or application not found; an unknown name */
    SCB_E_SECURITY_STATUS = -24,  /* 6982: security status not satisfied */
    SCB_E_NO_CHANNEL = -25,       /* no logical channel available (6A81/6881) */
    SCB_E_WRONG_LENGTH = -26,     /* 6700 */
    SCB_E_FILE_TOO_LARGE = -27,   /* a file on the card over the 32 KB limit (data family) */
    SCB_E_PIN_REQUIRED = -28,     /* object is private: verify a PIN first */
    SCB_E_PIN_WRONG = -29,        /* 63Cx / 6983: PIN rejected or blocked */

    /* SCP03 */
    SCB_E_SCP_CARD_CRYPTOGRAM = -30, /* card cryptogram mismatch: wrong keys or key version */
    SCB_E_SCP_RMAC = -31,         /* R-MAC verification failed */
    SCB_E_SCP_PADDING = -32,      /* R-ENC plaintext padding invalid */
    SCB_E_SCP_PROTOCOL = -33,     /* malformed INITIALIZE UPDATE response, bad SCP id, unexpected SW in handshake */
    SCB_E_SCP_KVN = -34,          /* card answered with another key version than asked */
    SCB_E_SCP_LEVEL = -35,        /* level not supported by the card, or not in force */
    SCB_E_SCP_MODE = -36,         /* S8/S16 mismatch between host and card */
    SCB_E_SCP_CHALLENGE = -37,    /* pseudo-random card challenge does not match the sequence counter */
    SCB_E_SCP_NO_SESSION = -38,   /* no session in force (never opened, or closed after a failure) */
    SCB_E_SCP_AUTH_REJECTED = -39,/* card rejected EXTERNAL AUTHENTICATE */
    SCB_E_SCP_KCV = -40,          /* PUT KEY: key check value returned by the card mismatches */
    SCB_E_SCP_TOO_LONG = -41,     /* command/response does not fit once wrapped */
    SCB_E_SCP_KEY = -42,          /* key set unusable (missing DEK, wrong length) */
    SCB_E_SCP_NO_KEYSET = -43,    /* the card has no key set with that version (6A88) */
    SCB_E_SCP_REJECTED = -44,     /* the card refused the first encrypted command (ENC key?) */

    /* PKCS#15 / bootstrap data */
    SCB_E_PARSE = -50,            /* malformed card data (DER, PKCS#15, TLV); detail says what and where */
    SCB_E_NO_BOOTSTRAP = -51,     /* no LwM2M bootstrap entry in any DODF */
    SCB_E_VALIDATION = -52,       /* input model/JSON invalid; detail names field and reason */
    SCB_E_DATA_TOO_LARGE = -53,   /* input data larger than the bootstrap EF (usage family) */

    /* provisioning */
    SCB_E_WRITE_INCOMPLETE = -60, /* write interrupted: the card must be re-provisioned */
    SCB_E_VERIFY_MISMATCH = -61   /* read-back after write differs */
};

/* Key store (a PKCS#11 token holding the keys): the family
 * SCB_FAMILY_KEYSTORE; details in the handle's or the call's detail text,
 * never a PIN or a key value. */
enum scb_error_keystore {
    SCB_E_P11_MODULE = -70,       /* no such PKCS#11 module, or it failed to load / initialize */
    SCB_E_P11_URI = -71,          /* not a usable pkcs11: URI (syntax, missing object, pin-source) */
    SCB_E_P11_TOKEN = -72,        /* no token matches the URI (absent), or several do */
    SCB_E_P11_PIN = -73,          /* the token rejected the PIN */
    SCB_E_P11_PIN_LOCKED = -74,   /* the token's user PIN is locked */
    SCB_E_P11_OBJECT = -75,       /* a key object is missing, ambiguous, or exists already */
    SCB_E_P11_USAGE = -76,        /* an object lacks a usage it needs (CKA_SIGN/ENCRYPT/WRAP/EXTRACTABLE) */
    SCB_E_P11_MECHANISM = -77,    /* the token lacks a mechanism needed (CMAC/ECB/CBC, key wrap, generation) */
    SCB_E_P11_PIN_REQUIRED = -78, /* the token needs a login and no PIN was given */
    SCB_E_P11_DEVICE = -79        /* the token or module failed otherwise (removed, device error) */
};

/* The families codes fall in. Exit codes of the scboot command, Python's
 * exception classes and Lua's error kinds derive from these. */
enum scb_family {
    SCB_FAMILY_OK = 0,
    SCB_FAMILY_OTHER = 1,         /* out of memory, internal, crypto library, unsupported */
    SCB_FAMILY_USAGE = 2,         /* invalid argument or input, wrong state */
    SCB_FAMILY_TRANSPORT = 3,     /* no daemon / reader / card, card went away, modem */
    SCB_FAMILY_CARD = 4,          /* the card refused a command or answered garbage */
    SCB_FAMILY_SECURE = 5,        /* secure channel: keys, cryptogram, MAC, level */
    SCB_FAMILY_DATA = 6,          /* no or invalid bootstrap data on the card */
    SCB_FAMILY_WRITE = 7,         /* write interrupted or not verified */
    SCB_FAMILY_KEYSTORE = 8       /* a key store (PKCS#11 token) failed */
};
/* Family of a code (SCB_FAMILY_OTHER for an unknown code). */
SCB_API int scb_error_family(int rc);
/* "usage", "transport", "card", "secure", "data", "write", "keystore",
 * "other", "ok" (never NULL). */
SCB_API const char *scb_error_family_name(int family);
/* Static text for a code (never NULL). */
SCB_API const char *scb_strerror(int rc);
/* Stable symbolic name for a code, e.g. "SCB_E_SCP_RMAC" (never NULL). */
SCB_API const char *scb_error_name(int rc);

/* Detail text of the last failure on this handle ("" if none). Never holds
 * key material. Owned by the handle. */
SCB_API const char *scb_card_errmsg(const scb_card_t *card);
/* Last status word received from the card (unwrapped), 0 if none. */
SCB_API uint16_t scb_card_last_sw(const scb_card_t *card);
/* Meaning of a status word per ISO 7816-4 / ETSI TS 102 221 (static text). */
SCB_API const char *scb_sw_text(uint16_t sw);
/* Number of APDUs exchanged on the wire since the handle was opened
 * (GET RESPONSE and resends included). */
SCB_API unsigned long scb_card_apdu_count(const scb_card_t *card);

/* ------------------------------------------------------------------------ */
/* Tracing                                                                   */
/* ------------------------------------------------------------------------ */
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

#ifdef __cplusplus
}
#endif
#endif /* SCBOOT_H */
