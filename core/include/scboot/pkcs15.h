/*
 * scboot/pkcs15.h: the parsers of the PKCS#15 structures the bootstrap job
 * walks (ISO/IEC 7816-15; OMA LwM2M Core Appendix G): EF.DIR, EF.ODF,
 * EF.DODF, EF.AODF. Bounded, strict, for tools, tests and fuzzing; the job in
 * <scboot.h> uses them itself.
 */
#ifndef SCBOOT_PKCS15_H
#define SCBOOT_PKCS15_H

#include <scboot.h>

#ifdef __cplusplus
extern "C" {
#endif

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

/* How to SELECT a PKCS#15 Path from inside the application: a 2-byte FID
 * under the ADF, 7FFF.. = the current ADF (the prefix dropped), 3F00.. =
 * absolute from the MF, anything else relative to the current DF. */
typedef struct scb_path_select {
    int by_fid;                 /* 1: SELECT by FID (P1 00) of fid */
    uint16_t fid;
    int from_mf;                /* by path: 1 = P1 08 (from the MF, 3F00 dropped), 0 = P1 09 */
    uint8_t path[16];           /* by path: the FIDs to send */
    size_t path_len;
} scb_path_select_t;
/* SCB_E_PARSE when the bytes are not a list of FIDs. */
SCB_API int scb_pkcs15_path_select(const uint8_t *path, size_t len, scb_path_select_t *out);

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

/* EF.AODF (ODF entry [8] authObjects): the PIN object a private data
 * object's CommonObjectAttributes.authId names (PKCS#15 v1.1 6.8,
 * ISO/IEC 7816-15: CommonAuthenticationObjectAttributes.authId and
 * PinAttributes). */
enum scb_pin_type {             /* PinType */
    SCB_PIN_TYPE_BCD = 0,
    SCB_PIN_TYPE_ASCII_NUMERIC = 1,
    SCB_PIN_TYPE_UTF8 = 2,
    SCB_PIN_TYPE_HALF_NIBBLE_BCD = 3,
    SCB_PIN_TYPE_ISO9564_1 = 4
};
/* PinFlags: named bit n of the BIT STRING is (1u << n) in flags. */
#define SCB_PIN_FLAG_CASE_SENSITIVE (1u << 0)
#define SCB_PIN_FLAG_LOCAL (1u << 1)
#define SCB_PIN_FLAG_CHANGE_DISABLED (1u << 2)
#define SCB_PIN_FLAG_UNBLOCK_DISABLED (1u << 3)
#define SCB_PIN_FLAG_INITIALIZED (1u << 4)
#define SCB_PIN_FLAG_NEEDS_PADDING (1u << 5)
#define SCB_PIN_FLAG_UNBLOCKING_PIN (1u << 6)
#define SCB_PIN_FLAG_SO_PIN (1u << 7)
typedef struct scb_pin_object {
    char label[64];             /* CommonObjectAttributes.label, "" when absent */
    uint8_t auth_id[8]; size_t auth_id_len;
    uint32_t flags;             /* SCB_PIN_FLAG_* */
    int pin_type;               /* enum scb_pin_type, or a later value as the card has it */
    uint32_t min_length;        /* minLength */
    uint32_t stored_length;     /* storedLength (the padded length) */
    int has_max_length;
    uint32_t max_length;        /* maxLength when has_max_length */
    int has_reference;
    uint8_t reference;          /* pinReference [0] (0, its DEFAULT, when absent) */
    int has_pad_char;
    uint8_t pad_char;           /* padChar when has_pad_char */
    scb_path_t path;            /* PinAttributes.path, len 0 when absent */
} scb_pin_object_t;
/* The PIN object whose authId is auth_id (auth_id NULL: the first PIN
 * object). SCB_E_NOT_FOUND when there is none; SCB_E_PARSE when that
 * object is malformed (a field missing or out of order, minLength above
 * maxLength, a length over 255); SCB_E_UNSUPPORTED for an authId over 8
 * bytes. Other authentication objects (biometric, authKey, external) are
 * skipped; the label is as in scb_dodf_entry_t. */
SCB_API int scb_pkcs15_find_pin(const uint8_t *data, size_t len, const uint8_t *auth_id,
                                size_t auth_id_len, scb_pin_object_t *out, char *detail,
                                size_t detail_len);

#ifdef __cplusplus
}
#endif
#endif /* SCBOOT_PKCS15_H */
