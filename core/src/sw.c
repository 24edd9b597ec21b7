/* Status word meanings (ISO/IEC 7816-4 5.6, ETSI TS 102 221 10.2.1). */
#include "internal.h"

typedef struct {
    uint16_t sw;
    uint16_t mask;
    const char *text;
} sw_entry_t;

/* First match wins: exact entries before their families. */
static const sw_entry_t sw_table[] = {
    {0x9000, 0xFFFF, "success"},
    {0x9100, 0xFF00, "success, proactive command pending"},
    {0x9200, 0xFF00, "success after internal retry"},
    {0x6100, 0xFF00, "more response data available"},
    {0x6281, 0xFFFF, "part of returned data may be corrupted"},
    {0x6282, 0xFFFF, "end of file reached before reading Le bytes"},
    {0x6283, 0xFFFF, "selected file invalidated"},
    {0x6285, 0xFFFF, "selected file in termination state"},
    {0x6200, 0xFF00, "warning, non-volatile memory unchanged"},
    {0x63C0, 0xFFF0, "verification failed, retries left in low nibble"},
    {0x6310, 0xFFFF, "more data available"},
    {0x6300, 0xFF00, "warning, non-volatile memory changed (authentication failed)"},
    {0x6400, 0xFF00, "execution error, memory unchanged"},
    {0x6581, 0xFFFF, "memory failure"},
    {0x6500, 0xFF00, "execution error, memory changed"},
    {0x6700, 0xFFFF, "wrong length"},
    {0x6881, 0xFFFF, "logical channel not supported"},
    {0x6882, 0xFFFF, "secure messaging not supported"},
    {0x6883, 0xFFFF, "last command of the chain expected"},
    {0x6800, 0xFF00, "function in CLA not supported"},
    {0x6981, 0xFFFF, "command incompatible with file structure"},
    {0x6982, 0xFFFF, "security status not satisfied"},
    {0x6983, 0xFFFF, "authentication method blocked"},
    {0x6984, 0xFFFF, "referenced data invalidated"},
    {0x6985, 0xFFFF, "conditions of use not satisfied"},
    {0x6986, 0xFFFF, "command not allowed (no current EF)"},
    {0x6987, 0xFFFF, "expected secure messaging data objects missing"},
    {0x6988, 0xFFFF, "incorrect secure messaging data objects"},
    {0x6900, 0xFF00, "command not allowed"},
    {0x6A80, 0xFFFF, "incorrect parameters in the data field"},
    {0x6A81, 0xFFFF, "function not supported"},
    {0x6A82, 0xFFFF, "file or application not found"},
    {0x6A83, 0xFFFF, "record not found"},
    {0x6A84, 0xFFFF, "not enough memory space in the file"},
    {0x6A86, 0xFFFF, "incorrect parameters P1-P2"},
    {0x6A88, 0xFFFF, "referenced data not found"},
    {0x6A00, 0xFF00, "wrong parameters"},
    {0x6B00, 0xFFFF, "wrong parameters (offset outside the EF)"},
    {0x6C00, 0xFF00, "wrong Le, exact length in SW2"},
    {0x6D00, 0xFFFF, "instruction not supported"},
    {0x6E00, 0xFFFF, "class not supported"},
    {0x6F00, 0xFFFF, "technical problem, no precise diagnosis"},
};

const char *scb_sw_text(uint16_t sw)
{
    for (size_t i = 0; i < SCB_ARRAY_LEN(sw_table); i++)
        if ((sw & sw_table[i].mask) == sw_table[i].sw)
            return sw_table[i].text;
    return "unknown status";
}

bool scb__sw_ok(uint16_t sw)
{
    return sw == 0x9000 || (sw & 0xFF00) == 0x9100 || (sw & 0xFF00) == 0x9200;
}

/* The command an INS byte stands for (ISO 7816-4, TS 102 221, GPCS), so that
 * a failure on the wire names the step it interrupted. */
const char *scb__ins_name(uint8_t ins)
{
    switch (ins) {
    case 0x70: return "MANAGE CHANNEL";
    case 0xA4: return "SELECT";
    case 0xB0: return "READ BINARY";
    case 0xB2: return "READ RECORD";
    case 0xD6: return "UPDATE BINARY";
    case 0x20: return "VERIFY";
    case 0xC0: return "GET RESPONSE";
    case 0xCA: return "GET DATA";
    case 0x50: return "INITIALIZE UPDATE";
    case 0x82: return "EXTERNAL AUTHENTICATE";
    case 0xD8: return "PUT KEY";
    case 0xF2: return "GET STATUS";
    default: return NULL;
    }
}
