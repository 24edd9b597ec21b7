/*
 * Internal structures of the virtual UICC, shared by its files:
 *   sim_fs.c        file tree, selection rules, FCP templates, access rules
 *   sim_iso.c       ISO 7816-4 / TS 102 221 commands (SELECT, READ/UPDATE
 *                   BINARY, READ RECORD, MANAGE CHANNEL, VERIFY, GET RESPONSE)
 *   sim_scp03.c     the SCP03 Security Domain (handshake, wrap/unwrap, PUT KEY)
 *   sim_dispatch.c  APDU parsing, CLA decoding, channel routing, T=0 (61xx)
 *   sim_profile.c   JSON profile -> card
 *   sim_default.c   the built-in default card's data (bootstrap file bytes)
 *   sim_fault.c     fault injection
 *   sim_vpcd.c      vsmartcard vpcd client
 *   sim_transport.c in-process scb_transport_t
 *   sim_crypto.c    the sim's own OpenSSL wrapper
 */
#ifndef SIM_INTERNAL_H
#define SIM_INTERNAL_H

#include "scboot_sim.h"
#include "scboot_sim_harness.h"
#include "sim_crypto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_FILES 64
#define SIM_MAX_CHANNELS 20          /* 0 (basic) .. 19 (ISO 7816-4 5.4.1) */
#define SIM_MAX_KEYSETS 8
#define SIM_MAX_EF_SIZE 32768u       /* LwM2M: bootstrap EF at most 32 KB */
#define SIM_MAX_RECORD_LEN 255u
#define SIM_MAX_RECORDS 254u
#define SIM_MAX_AID 16
#define SIM_MAX_CMD (4 + 3 + 65535 + 3)
#define SIM_MAX_RESP (65536 + 2)
#define SIM_SHORT_MAX 256u           /* largest short response data field */
#define SIM_EXT_MAX 65536u

/* Status words used by the card (ISO 7816-4 5.1.3, TS 102 221 10.2). */
#define SW_OK 0x9000
#define SW_EOF 0x6282               /* end of file reached before Ne bytes */
#define SW_WRONG_LENGTH 0x6700
#define SW_CHANNEL_NOT_SUPPORTED 0x6881
#define SW_SM_NOT_SUPPORTED 0x6882
#define SW_CHAINING_NOT_SUPPORTED 0x6884
#define SW_WRONG_STRUCTURE 0x6981
#define SW_SECURITY 0x6982
#define SW_PIN_BLOCKED 0x6983
#define SW_CONDITIONS 0x6985
#define SW_NO_EF 0x6986
#define SW_WRONG_DATA 0x6A80
#define SW_FUNC_NOT_SUPPORTED 0x6A81
#define SW_NOT_FOUND 0x6A82
#define SW_RECORD_NOT_FOUND 0x6A83
#define SW_NO_SPACE 0x6A84
#define SW_WRONG_P1P2 0x6A86
#define SW_REF_NOT_FOUND 0x6A88
#define SW_WRONG_OFFSET 0x6B00
#define SW_INS_NOT_SUPPORTED 0x6D00
#define SW_CLA_NOT_SUPPORTED 0x6E00
#define SW_AUTH_FAILED 0x6300       /* GP: host cryptogram verification failed */

enum sim_kind { SIM_DF = 1, SIM_TRANSPARENT = 2, SIM_LINEAR_FIXED = 3 };
/* Access conditions of an EF (read / update). */
enum sim_ac { SIM_AC_ALWAYS = 0, SIM_AC_NEVER = 1, SIM_AC_SM = 2, SIM_AC_PIN = 3 };

typedef struct sim_file {
    int kind;                  /* enum sim_kind */
    uint16_t fid;              /* 0: none (an ADF reachable by AID only) */
    int parent;                /* index, -1 for the MF */
    uint8_t sfi;               /* 1..30, 0: none */
    uint8_t aid[SIM_MAX_AID];  /* DF name: set for an ADF */
    size_t aid_len;
    char label[33];            /* application label for EF.DIR */
    bool in_efdir;             /* ADF listed in EF.DIR */
    uint8_t *data;             /* EF body: size bytes */
    size_t size;
    size_t rec_len, rec_count; /* linear fixed: size = rec_len * rec_count */
    int read_ac, write_ac;     /* enum sim_ac */
} sim_file_t;

/* SCP03 state of one logical channel. */
enum sim_scp_state { SIM_SCP_NONE = 0, SIM_SCP_INIT = 1, SIM_SCP_OPEN = 2 };
typedef struct sim_session {
    int state;                 /* enum sim_scp_state */
    uint8_t level;             /* EXTERNAL AUTHENTICATE P1 */
    bool s16;
    size_t key_len;
    uint8_t s_enc[32], s_mac[32], s_rmac[32];
    uint8_t dek[32];           /* static DEK of the key set in use (PUT KEY) */
    bool has_dek;              /* false for a session a harness installed */
    uint8_t host_cryptogram[16]; /* expected in EXTERNAL AUTHENTICATE */
    uint8_t mcv[16];           /* MAC chaining value */
    uint8_t counter[16];       /* encryption counter, big-endian block */
} sim_session_t;

typedef struct sim_channel {
    bool open;
    int df;                    /* current DF (file index) */
    int ef;                    /* current EF or -1 */
    int adf;                   /* current application (ADF holding df) or -1 */
    unsigned rec;              /* current record, 0: none */
    sim_session_t scp;
    /* T=0: response data waiting for GET RESPONSE */
    uint8_t pending[SIM_SHORT_MAX + 32];
    size_t pending_len, pending_off;
    uint16_t pending_sw;
} sim_channel_t;

typedef struct sim_keyset {
    bool used;
    uint8_t kvn;
    size_t len;                /* 16, 24, 32 */
    uint8_t enc[32], mac[32], dek[32];
} sim_keyset_t;

enum sim_mac_cla { SIM_MACCLA_CLEARED = 0, SIM_MACCLA_AS_SENT = 1, SIM_MACCLA_EITHER = 2 };

/* The Security Domain of the PKCS#15 application. */
typedef struct sim_sd {
    int adf;                   /* file index of the ADF it serves */
    uint8_t i_param;
    uint8_t aid[SIM_MAX_AID];  /* context of the pseudo-random card challenge */
    size_t aid_len;
    uint8_t kdd[10];
    uint32_t seq_next;         /* counter value the next INITIALIZE UPDATE reports */
    uint8_t level_required;    /* for SIM_AC_SM files */
    int mac_cla;               /* enum sim_mac_cla */
    bool counter_data_only;    /* compat: count only commands with data */
    sim_keyset_t keys[SIM_MAX_KEYSETS];
    uint8_t forced_challenge[16];
    size_t forced_challenge_len;
} sim_sd_t;

#define SIM_MAX_PIN 16          /* the longest PIN block the card stores */
typedef struct sim_pin {
    bool present;
    uint8_t ref;
    uint8_t value[SIM_MAX_PIN]; /* padded (TS 102 221 9.5.1: FF to 8 bytes; else as EF.AODF says) */
    size_t block;              /* VERIFY takes exactly this many bytes */
    unsigned tries_max, tries_left;
    bool verified;
} sim_pin_t;

struct scb_sim {
    sim_crypto_t *crypto;
    uint8_t atr[33];
    size_t atr_len;
    bool t0;                   /* emulate T=0: 61xx + GET RESPONSE */
    bool extended;             /* accept extended-length APDUs */
    unsigned max_channel;      /* highest logical channel number supported */
    bool tcp_nodelay;          /* vpcd socket options (measurement knobs) */
    bool tcp_quickack;

    sim_file_t files[SIM_MAX_FILES];
    size_t nfiles;
    sim_channel_t ch[SIM_MAX_CHANNELS];
    sim_sd_t sd;
    sim_pin_t pin;

    scb_sim_faults_t faults;
    bool gone;                 /* a disconnect fault fired */
    unsigned long apdus;

    scb_sim_cmd_hook hook;
    void *hook_user;
    char *profile;             /* the JSON the card was made from (NULL: the built-in card) */
    bool rolling;              /* a line of cards (sim_line.c) */
    uint8_t cur_chn;           /* channel of the command being (or last) processed */
    char errmsg[160];

    uint8_t *pdata;            /* unwrapped command data field, SIM_MAX_CMD */
    uint8_t *plain;            /* unwrapped command re-encoded (for the hook), SIM_MAX_CMD */
    uint8_t *rdata;            /* response data under construction, SIM_MAX_RESP */
    uint8_t *wrapped;          /* wrapped response, SIM_MAX_RESP */
};

/* A parsed command APDU (ISO 7816-4 5.1). */
typedef struct sim_cmd {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;
    size_t lc;
    size_t ne;                 /* 1..65536 when has_le */
    bool has_le;
    bool extended;
} sim_cmd_t;

/* How a command reached the application. */
typedef struct sim_exec {
    uint8_t chn;               /* logical channel */
    bool secured;              /* unwrapped from an SCP03 session */
    uint8_t level;             /* that session's level */
    size_t max_resp;           /* largest plaintext response data the path can carry */
} sim_exec_t;

/* A response under construction: data in buf (cap), then a SW. */
typedef struct sim_resp {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint16_t sw;
} sim_resp_t;

static inline int sim_sw(sim_resp_t *r, uint16_t sw)
{
    r->sw = sw;
    return 0;
}
/* Error SW: no data goes with it. (Both return 0 so that command handlers,
 * which report their outcome in r and return 0, can end with them.) */
static inline int sim_fail(sim_resp_t *r, uint16_t sw)
{
    r->len = 0;
    r->sw = sw;
    return 0;
}
/* Warnings and success carry data and R-MAC; everything else is an error
 * (GP Amd D 6.2.6: no R-MAC on error status). */
static inline bool sim_sw_is_error(uint16_t sw)
{
    return !(sw == SW_OK || (sw & 0xFF00) == 0x6200 || (sw & 0xFF00) == 0x6300);
}

/* ---- sim_dispatch.c ---- */
int sim_apdu_parse(const uint8_t *buf, size_t len, sim_cmd_t *out); /* 0 or SW */
/* Serialize (short unless cmd->extended); returns length or 0 when it does not fit. */
size_t sim_apdu_encode(const sim_cmd_t *cmd, uint8_t *out, size_t cap);
/* Logical channel in a CLA byte; -1 when the CLA is not a valid class. */
int sim_cla_channel(uint8_t cla);

/* ---- sim_fs.c ---- */
int sim_fs_add(scb_sim_t *sim, int parent, int kind, uint16_t fid, char *detail, size_t dl);
int sim_fs_child(const scb_sim_t *sim, int df, uint16_t fid);
int sim_fs_by_sfi(const scb_sim_t *sim, int df, uint8_t sfi);
int sim_fs_app_of(const scb_sim_t *sim, int idx);   /* ADF holding idx, -1 */
/* Selection (TS 102 221 8.4): index of the file, or -SW. */
int sim_fs_resolve_fid(const scb_sim_t *sim, const sim_channel_t *ch, uint16_t fid);
int sim_fs_resolve_path(const scb_sim_t *sim, const sim_channel_t *ch, bool from_mf,
                        const uint8_t *path, size_t len);
/* ADF whose AID starts with aid: the first (after = -1) or the next after
 * index `after`; -1 none. */
int sim_fs_find_aid(const scb_sim_t *sim, const uint8_t *aid, size_t len, int after);
/* FCP template 62 (TS 102 221 11.1.1.4); returns length or 0 when cap is short. */
size_t sim_fs_fcp(const scb_sim_t *sim, int idx, uint8_t *out, size_t cap);
/* Access to an EF for reading (write=false) or updating: 0 or an SW. */
uint16_t sim_fs_access(const scb_sim_t *sim, const sim_exec_t *ex, const sim_file_t *f,
                       bool write);
/* Set the channel's current file after a successful selection. */
void sim_fs_set_current(scb_sim_t *sim, sim_channel_t *ch, int idx);
int sim_fs_path_lookup(const scb_sim_t *sim, const uint8_t *path, size_t len);
void sim_fs_free(scb_sim_t *sim);
/* sim_line.c: whether a command starts on a new card of the line (before it
 * is counted), and the card's replacement by the next one, in place. */
bool sim_line_starts(const scb_sim_t *sim, const uint8_t *cmd, size_t len);
int sim_line_next(scb_sim_t *sim);

/* ---- sim_iso.c ---- */
/* Run a plain command (after CLA/channel checks and unwrap). */
int sim_iso_execute(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd, sim_resp_t *r);
void sim_channel_reset(scb_sim_t *sim, uint8_t chn, bool open, int df);

/* ---- sim_scp03.c ---- */
int sim_scp_initialize_update(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd,
                               sim_resp_t *r);
/* EXTERNAL AUTHENTICATE: wire is the whole command (its C-MAC covers the header). */
int sim_scp_external_authenticate(scb_sim_t *sim, uint8_t chn, const sim_cmd_t *cmd,
                                   const uint8_t *wire, sim_resp_t *r);
int sim_scp_put_key(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd, sim_resp_t *r);
/* GET DATA 00 66: the Card Recognition Data of the Security Domain (GP 2.2 Annex H). */
int sim_scp_get_data(scb_sim_t *sim, const sim_exec_t *ex, const sim_cmd_t *cmd, sim_resp_t *r);
/* PUT KEY data (GP 11.8.2.3, Amd D 7.2) as the card reads it: the new KVN,
 * then up to three AES key components, each `88 L+1 L <key under DEK> KCV`
 * where the KCV part is `03 <KCV>` or `00` and may be left out before the
 * next component or at the end, or the short form `88 10|20 <encrypted key>`
 * some hosts send. Keys are decrypted with dek (AES-CBC, zero IV) and each
 * KCV present is checked. All keys have one length. */
typedef struct sim_put_key {
    uint8_t new_kvn;
    size_t count;              /* key components: 1..3 */
    size_t key_len;            /* 16, 24, 32 */
    uint8_t key[3][32];
    uint8_t kcv[3][3];         /* computed from the decrypted keys */
    bool had_kcv[3];           /* the host sent a KCV for this key */
} sim_put_key_t;
/* 0, or SW_WRONG_DATA with *why naming what is wrong (a static string);
 * 0x6F00 when the crypto fails. out is wiped on failure. */
uint16_t sim_put_key_parse(scb_sim_t *sim, const uint8_t *dek, size_t dek_len,
                           const uint8_t *data, size_t len, sim_put_key_t *out,
                           const char **why);
/* Verify and decrypt a wrapped command into *plain (data in sim->pdata).
 * Returns 0, or an SW (the session is closed on MAC/decryption failure). */
uint16_t sim_scp_unwrap(scb_sim_t *sim, uint8_t chn, const sim_cmd_t *wire_cmd,
                        const uint8_t *wire, size_t wire_len, sim_cmd_t *plain);
/* Wrap the card's own response (R-MAC / R-ENC by level, the faults that
 * apply) into out (data + SW, out has room for max_data + 2); *rmac set
 * when an R-MAC was appended. Returns 0, or an SW when the wrapped data
 * would exceed max_data. */
uint16_t sim_scp_wrap(scb_sim_t *sim, uint8_t chn, const uint8_t *data, size_t len, uint16_t sw,
                      size_t max_data, uint8_t *out, size_t *out_len, bool *rmac);
/* The sealing under both: data || SW under channel chn's session as
 * scb_sim_seal describes it, with SCB_SIM_SEAL_* flags and these: */
#define SIM_SEAL_OVERPAD 0x100u /* one block of zeros more when it fits (fault renc_overpad) */
#define SIM_SEAL_BAD_PAD 0x200u /* last plaintext byte 01: no 80 marker (fault bad_padding_at) */
uint16_t sim_scp_seal(scb_sim_t *sim, uint8_t chn, const uint8_t *data, size_t len, uint16_t sw,
                      unsigned flags, size_t max_data, uint8_t *out, size_t *out_len, bool *rmac);
/* Largest plaintext response that fits cap once wrapped at the channel's level. */
size_t sim_scp_max_plain(const scb_sim_t *sim, uint8_t chn, size_t cap);
bool sim_scp_open(const scb_sim_t *sim, uint8_t chn);
void sim_scp_close(sim_session_t *s);    /* wipe */
/* KCV = first 3 bytes of AES-ECB(key, 16 x 01) (GP Amd D 7.2.2; docs/scp03.md). */
int sim_scp_kcv(scb_sim_t *sim, const uint8_t *key, size_t len, uint8_t kcv[3]);
/* KDF3 diversification (kdf3.json): derived = CMAC(master, i || 00 00 00 t 00 || KDD) */
int sim_scp_kdf3(scb_sim_t *sim, const uint8_t *master, size_t len, uint8_t type,
                 const uint8_t kdd[10], uint8_t *out);

/* ---- sim_fault.c ---- */
/* Before processing APDU number sim->apdus: 1 = card gone, 2 = answer with
 * the injected SW only, 0 = go on. Sleeps the configured delay. */
int sim_fault_before(scb_sim_t *sim, uint16_t *sw);
/* After wrapping: corrupt the R-MAC when asked for this APDU. */
void sim_fault_after(scb_sim_t *sim, uint8_t *resp, size_t len, bool rmac);
bool sim_fault_bad_padding_now(const scb_sim_t *sim);

/* ---- sim_profile.c / sim_default.c ---- */
int sim_profile_load(scb_sim_t *sim, const char *json_text, char *detail, size_t dl);
extern const uint8_t sim_default_bootstrap[];
extern const size_t sim_default_bootstrap_len;
/* Hook for "bootstrap": {"json": ...} (sim_bootstrap_json.c). */
struct json_object;
int sim_bootstrap_from_json(struct json_object *obj, uint8_t **out, size_t *out_len,
                            char *detail, size_t dl);

#endif /* SIM_INTERNAL_H */
