/* Error codes: static text and stable names (no mutable state). */
#include "internal.h"

#include <stdio.h>

typedef struct {
    int code;
    int family;
    const char *name;
    const char *text;
} scb_error_entry_t;

#define OTHER SCB_FAMILY_OTHER
#define USAGE SCB_FAMILY_USAGE
#define TRANSPORT SCB_FAMILY_TRANSPORT
#define CARD SCB_FAMILY_CARD
#define SECURE SCB_FAMILY_SECURE
#define DATA SCB_FAMILY_DATA
#define WRITE SCB_FAMILY_WRITE
#define KEYSTORE SCB_FAMILY_KEYSTORE

static const scb_error_entry_t scb_errors[] = {
    {SCB_OK, SCB_FAMILY_OK, "SCB_OK", "success"},
    {SCB_E_INVALID_ARG, USAGE, "SCB_E_INVALID_ARG", "invalid argument"},
    {SCB_E_NOMEM, OTHER, "SCB_E_NOMEM", "out of memory"},
    {SCB_E_BUFFER_TOO_SMALL, USAGE, "SCB_E_BUFFER_TOO_SMALL", "buffer too small"},
    {SCB_E_UNSUPPORTED, OTHER, "SCB_E_UNSUPPORTED", "operation not supported"},
    {SCB_E_INTERNAL, OTHER, "SCB_E_INTERNAL", "internal error"},
    {SCB_E_CRYPTO, OTHER, "SCB_E_CRYPTO", "cryptographic library failure"},
    {SCB_E_STATE, USAGE, "SCB_E_STATE", "operation not valid in the current state"},
    {SCB_E_TRANSPORT, TRANSPORT, "SCB_E_TRANSPORT", "transport failure"},
    {SCB_E_NO_SERVICE, TRANSPORT, "SCB_E_NO_SERVICE", "PC/SC service not available (is pcscd running?)"},
    {SCB_E_NO_READER, TRANSPORT, "SCB_E_NO_READER", "no such reader"},
    {SCB_E_NO_CARD, TRANSPORT, "SCB_E_NO_CARD", "no card in the reader"},
    {SCB_E_CARD_REMOVED, TRANSPORT, "SCB_E_CARD_REMOVED", "card removed"},
    {SCB_E_CARD_RESET, TRANSPORT, "SCB_E_CARD_RESET", "card was reset; session state lost"},
    {SCB_E_TIMEOUT, TRANSPORT, "SCB_E_TIMEOUT", "timeout"},
    {SCB_E_SHARING, TRANSPORT, "SCB_E_SHARING", "reader in exclusive use by another process"},
    {SCB_E_MODEM, TRANSPORT, "SCB_E_MODEM", "modem answered ERROR"},
    {SCB_E_MODEM_CME, TRANSPORT, "SCB_E_MODEM_CME", "modem answered +CME ERROR"},
    {SCB_E_STATUS, CARD, "SCB_E_STATUS", "card returned an unexpected status word"},
    {SCB_E_BAD_RESPONSE, CARD, "SCB_E_BAD_RESPONSE", "malformed response from the card"},
    {SCB_E_GET_RESPONSE_LIMIT, CARD, "SCB_E_GET_RESPONSE_LIMIT",
     "too many GET RESPONSE / resend rounds"},
    {SCB_E_NOT_FOUND, CARD, "SCB_E_NOT_FOUND", "file or application not found"},
    {SCB_E_SECURITY_STATUS, CARD, "SCB_E_SECURITY_STATUS", "security status not satisfied"},
    {SCB_E_NO_CHANNEL, CARD, "SCB_E_NO_CHANNEL", "no logical channel available"},
    {SCB_E_WRONG_LENGTH, CARD, "SCB_E_WRONG_LENGTH", "wrong length"},
    {SCB_E_FILE_TOO_LARGE, DATA, "SCB_E_FILE_TOO_LARGE", "file too large"},
    {SCB_E_PIN_REQUIRED, CARD, "SCB_E_PIN_REQUIRED", "PIN verification required"},
    {SCB_E_PIN_WRONG, CARD, "SCB_E_PIN_WRONG", "PIN rejected or blocked"},
    {SCB_E_SCP_CARD_CRYPTOGRAM, SECURE, "SCB_E_SCP_CARD_CRYPTOGRAM",
     "card cryptogram mismatch: wrong keys or key version?"},
    {SCB_E_SCP_RMAC, SECURE, "SCB_E_SCP_RMAC", "response MAC (R-MAC) verification failed"},
    {SCB_E_SCP_PADDING, SECURE, "SCB_E_SCP_PADDING", "invalid padding in encrypted response"},
    {SCB_E_SCP_PROTOCOL, SECURE, "SCB_E_SCP_PROTOCOL", "secure channel protocol error"},
    {SCB_E_SCP_KVN, SECURE, "SCB_E_SCP_KVN", "card answered with another key version"},
    {SCB_E_SCP_LEVEL, SECURE, "SCB_E_SCP_LEVEL", "security level not supported by the card"},
    {SCB_E_SCP_MODE, SECURE, "SCB_E_SCP_MODE", "S8/S16 mode mismatch between host and card"},
    {SCB_E_SCP_CHALLENGE, SECURE, "SCB_E_SCP_CHALLENGE",
     "pseudo-random card challenge does not match"},
    {SCB_E_SCP_NO_SESSION, SECURE, "SCB_E_SCP_NO_SESSION",
     "no secure channel session (closed after a failure)"},
    {SCB_E_SCP_AUTH_REJECTED, SECURE, "SCB_E_SCP_AUTH_REJECTED", "card rejected EXTERNAL AUTHENTICATE"},
    {SCB_E_SCP_KCV, SECURE, "SCB_E_SCP_KCV", "key check value mismatch"},
    {SCB_E_SCP_TOO_LONG, SECURE, "SCB_E_SCP_TOO_LONG", "APDU too long for the secure channel"},
    {SCB_E_SCP_KEY, SECURE, "SCB_E_SCP_KEY", "key set unusable"},
    {SCB_E_SCP_NO_KEYSET, SECURE, "SCB_E_SCP_NO_KEYSET",
     "the card has no key set with that version"},
    {SCB_E_SCP_REJECTED, SECURE, "SCB_E_SCP_REJECTED",
     "the card refused the first encrypted command of the session"},
    {SCB_E_PARSE, DATA, "SCB_E_PARSE", "malformed card data"},
    {SCB_E_NO_BOOTSTRAP, DATA, "SCB_E_NO_BOOTSTRAP", "no LwM2M bootstrap entry on the card"},
    {SCB_E_VALIDATION, USAGE, "SCB_E_VALIDATION", "invalid input"},
    {SCB_E_DATA_TOO_LARGE, USAGE, "SCB_E_DATA_TOO_LARGE", "data larger than the bootstrap EF"},
    {SCB_E_WRITE_INCOMPLETE, WRITE, "SCB_E_WRITE_INCOMPLETE",
     "write interrupted: the card must be re-provisioned"},
    {SCB_E_VERIFY_MISMATCH, WRITE, "SCB_E_VERIFY_MISMATCH", "read-back after write differs"},
    /* key store */
    {SCB_E_P11_MODULE, KEYSTORE, "SCB_E_P11_MODULE", "PKCS#11 module not found or failed to start"},
    {SCB_E_P11_URI, KEYSTORE, "SCB_E_P11_URI", "not a usable pkcs11: URI"},
    {SCB_E_P11_TOKEN, KEYSTORE, "SCB_E_P11_TOKEN", "no such PKCS#11 token"},
    {SCB_E_P11_PIN, KEYSTORE, "SCB_E_P11_PIN", "the token rejected the PIN"},
    {SCB_E_P11_PIN_LOCKED, KEYSTORE, "SCB_E_P11_PIN_LOCKED", "the token's PIN is locked"},
    {SCB_E_P11_OBJECT, KEYSTORE, "SCB_E_P11_OBJECT", "key object missing or ambiguous in the token"},
    {SCB_E_P11_USAGE, KEYSTORE, "SCB_E_P11_USAGE", "token key object lacks a usage it needs"},
    {SCB_E_P11_MECHANISM, KEYSTORE, "SCB_E_P11_MECHANISM", "the token lacks a mechanism needed"},
    {SCB_E_P11_PIN_REQUIRED, KEYSTORE, "SCB_E_P11_PIN_REQUIRED", "the token needs a PIN"},
    {SCB_E_P11_DEVICE, KEYSTORE, "SCB_E_P11_DEVICE", "the PKCS#11 token or module failed"},
};

static const scb_error_entry_t *find(int rc)
{
    for (size_t i = 0; i < SCB_ARRAY_LEN(scb_errors); i++)
        if (scb_errors[i].code == rc)
            return &scb_errors[i];
    return NULL;
}

const char *scb_strerror(int rc)
{
    const scb_error_entry_t *e = find(rc);
    return e != NULL ? e->text : "unknown error";
}

const char *scb_error_name(int rc)
{
    const scb_error_entry_t *e = find(rc);
    return e != NULL ? e->name : "SCB_E_UNKNOWN";
}

int scb_error_family(int rc)
{
    const scb_error_entry_t *e = find(rc);
    return e != NULL ? e->family : SCB_FAMILY_OTHER;
}

const char *scb_error_family_name(int family)
{
    static const char *const names[] = {"ok",   "other", "usage", "transport", "card",
                                        "secure", "data", "write", "keystore"};
    if (family < 0 || (size_t)family >= SCB_ARRAY_LEN(names))
        return "other";
    return names[family];
}

const char *scb_version(void)
{
    return SCB_VERSION_STRING;
}

size_t scb__hex(const uint8_t *data, size_t len, char *out, size_t cap, bool spaced)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        size_t need = spaced && i > 0 ? 3 : 2;
        if (o + need >= cap)
            break;
        if (spaced && i > 0)
            out[o++] = ' ';
        out[o++] = digits[data[i] >> 4];
        out[o++] = digits[data[i] & 15];
    }
    out[o] = 0;
    return o;
}

int scb__detail(char *detail, size_t detail_len, int rc, const char *fmt, ...)
{
    if (detail != NULL && detail_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, detail_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}
