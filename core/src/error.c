/* Error codes: static text and stable names (no mutable state). */
#include "internal.h"

#include <stdio.h>

typedef struct {
    int code;
    const char *name;
    const char *text;
} scb_error_entry_t;

static const scb_error_entry_t scb_errors[] = {
    {SCB_OK, "SCB_OK", "success"},
    {SCB_E_INVALID_ARG, "SCB_E_INVALID_ARG", "invalid argument"},
    {SCB_E_NOMEM, "SCB_E_NOMEM", "out of memory"},
    {SCB_E_BUFFER_TOO_SMALL, "SCB_E_BUFFER_TOO_SMALL", "buffer too small"},
    {SCB_E_UNSUPPORTED, "SCB_E_UNSUPPORTED", "operation not supported"},
    {SCB_E_INTERNAL, "SCB_E_INTERNAL", "internal error"},
    {SCB_E_CRYPTO, "SCB_E_CRYPTO", "cryptographic library failure"},
    {SCB_E_STATE, "SCB_E_STATE", "operation not valid in the current state"},
    {SCB_E_TRANSPORT, "SCB_E_TRANSPORT", "transport failure"},
    {SCB_E_NO_SERVICE, "SCB_E_NO_SERVICE", "PC/SC service not available (is pcscd running?)"},
    {SCB_E_NO_READER, "SCB_E_NO_READER", "no such reader"},
    {SCB_E_NO_CARD, "SCB_E_NO_CARD", "no card in the reader"},
    {SCB_E_CARD_REMOVED, "SCB_E_CARD_REMOVED", "card removed"},
    {SCB_E_CARD_RESET, "SCB_E_CARD_RESET", "card was reset; session state lost"},
    {SCB_E_TIMEOUT, "SCB_E_TIMEOUT", "timeout"},
    {SCB_E_SHARING, "SCB_E_SHARING", "reader in exclusive use by another process"},
    {SCB_E_MODEM, "SCB_E_MODEM", "modem answered ERROR"},
    {SCB_E_MODEM_CME, "SCB_E_MODEM_CME", "modem answered +CME ERROR"},
    {SCB_E_STATUS, "SCB_E_STATUS", "card returned an unexpected status word"},
    {SCB_E_BAD_RESPONSE, "SCB_E_BAD_RESPONSE", "malformed response from the card"},
    {SCB_E_GET_RESPONSE_LIMIT, "SCB_E_GET_RESPONSE_LIMIT",
     "too many GET RESPONSE / resend rounds"},
    {SCB_E_NOT_FOUND, "SCB_E_NOT_FOUND", "file or application not found"},
    {SCB_E_SECURITY_STATUS, "SCB_E_SECURITY_STATUS", "security status not satisfied"},
    {SCB_E_NO_CHANNEL, "SCB_E_NO_CHANNEL", "no logical channel available"},
    {SCB_E_WRONG_LENGTH, "SCB_E_WRONG_LENGTH", "wrong length"},
    {SCB_E_FILE_TOO_LARGE, "SCB_E_FILE_TOO_LARGE", "file too large"},
    {SCB_E_PIN_REQUIRED, "SCB_E_PIN_REQUIRED", "PIN verification required"},
    {SCB_E_PIN_WRONG, "SCB_E_PIN_WRONG", "PIN rejected or blocked"},
    {SCB_E_SCP_CARD_CRYPTOGRAM, "SCB_E_SCP_CARD_CRYPTOGRAM",
     "card cryptogram mismatch: wrong keys or key version?"},
    {SCB_E_SCP_RMAC, "SCB_E_SCP_RMAC", "response MAC (R-MAC) verification failed"},
    {SCB_E_SCP_PADDING, "SCB_E_SCP_PADDING", "invalid padding in encrypted response"},
    {SCB_E_SCP_PROTOCOL, "SCB_E_SCP_PROTOCOL", "secure channel protocol error"},
    {SCB_E_SCP_KVN, "SCB_E_SCP_KVN", "card answered with another key version"},
    {SCB_E_SCP_LEVEL, "SCB_E_SCP_LEVEL", "security level not supported by the card"},
    {SCB_E_SCP_MODE, "SCB_E_SCP_MODE", "S8/S16 mode mismatch between host and card"},
    {SCB_E_SCP_CHALLENGE, "SCB_E_SCP_CHALLENGE",
     "pseudo-random card challenge does not match"},
    {SCB_E_SCP_NO_SESSION, "SCB_E_SCP_NO_SESSION",
     "no secure channel session (closed after a failure)"},
    {SCB_E_SCP_AUTH_REJECTED, "SCB_E_SCP_AUTH_REJECTED", "card rejected EXTERNAL AUTHENTICATE"},
    {SCB_E_SCP_KCV, "SCB_E_SCP_KCV", "key check value mismatch"},
    {SCB_E_SCP_TOO_LONG, "SCB_E_SCP_TOO_LONG", "APDU too long for the secure channel"},
    {SCB_E_SCP_KEY, "SCB_E_SCP_KEY", "key set unusable"},
    {SCB_E_PARSE, "SCB_E_PARSE", "malformed card data"},
    {SCB_E_NO_BOOTSTRAP, "SCB_E_NO_BOOTSTRAP", "no LwM2M bootstrap entry on the card"},
    {SCB_E_VALIDATION, "SCB_E_VALIDATION", "invalid input"},
    {SCB_E_WRITE_INCOMPLETE, "SCB_E_WRITE_INCOMPLETE",
     "write interrupted: the card must be re-provisioned"},
    {SCB_E_VERIFY_MISMATCH, "SCB_E_VERIFY_MISMATCH", "read-back after write differs"},
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
