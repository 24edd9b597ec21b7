/*
 * Fuzz the FCP template parser (scb_fcp_parse, ETSI TS 102 221 11.1.1.4):
 * no crash, and a parsed template has its values in range.
 */
#include "scboot.h"
#include "scboot/apdu.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scb_fcp_t f;
    memset(&f, 0xEE, sizeof(f));
    int rc = scb_fcp_parse(data, size, &f);
    if (rc != SCB_OK && rc != SCB_E_PARSE)
        abort();
    if (rc != SCB_OK)
        return 0;
    if (f.aid_len > sizeof(f.aid) || f.structure < SCB_FS_UNKNOWN || f.structure > SCB_FS_DF ||
        (f.has_size != 0 && f.has_size != 1) || f.record_len > 0xFFFF || f.record_count > 0xFF)
        abort();
    /* a size from tag 80 has at most 4 bytes; records x length less */
    if (f.file_size > 0xFFFFFFFFu)
        abort();
    return 0;
}
