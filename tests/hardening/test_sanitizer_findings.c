/*
 * What the sanitizer and valgrind runs found, one test per finding.
 */
#include "internal.h"
#include "testkit.h"

/* ASan (memcpy-param-overlap in tests/modem/modem_probe.c): a SELECT the
 * card refused left the caller's scb_fcp_t as it was, uninitialised on the
 * stack, and the caller copied fcp.aid_len bytes out of it. The FCP out
 * parameter is defined (zeroed) whatever the result. */
static void test_select_fcp_defined_on_failure(void)
{
    static const uint8_t aid[] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02};
    static const uint8_t path[] = {0x3F, 0x00, 0x7F, 0xFF};
    tk_script_t *s = tk_script_new();
    tk_script_add(s, NULL, "6A82");
    tk_script_add(s, NULL, "6A82");
    tk_script_add(s, NULL, "6A82");
    tk_script_add(s, NULL, "62 03 80 01 90 00"); /* malformed FCP */
    scb_card_t *card = tk_card(s);
    scb_fcp_t fcp, zero;
    memset(&zero, 0, sizeof(zero));

    memset(&fcp, 0xA5, sizeof(fcp));
    TK_EQ_RC(scb_select_aid(card, aid, sizeof(aid), SCB_SEL_FCP, &fcp), SCB_E_NOT_FOUND);
    TK_EQ_MEM((const uint8_t *)&fcp, sizeof(fcp), (const uint8_t *)&zero, sizeof(zero));
    memset(&fcp, 0xA5, sizeof(fcp));
    TK_EQ_RC(scb_select_fid(card, 0x6F01, SCB_SEL_FCP, &fcp), SCB_E_NOT_FOUND);
    TK_EQ_MEM((const uint8_t *)&fcp, sizeof(fcp), (const uint8_t *)&zero, sizeof(zero));
    memset(&fcp, 0xA5, sizeof(fcp));
    TK_EQ_RC(scb_select_path(card, path, sizeof(path), 1, SCB_SEL_FCP, &fcp), SCB_E_NOT_FOUND);
    TK_EQ_MEM((const uint8_t *)&fcp, sizeof(fcp), (const uint8_t *)&zero, sizeof(zero));
    memset(&fcp, 0xA5, sizeof(fcp));
    TK_EQ_RC(scb_select_fid(card, 0x6F02, SCB_SEL_FCP, &fcp), SCB_E_PARSE);
    TK_EQ_MEM((const uint8_t *)&fcp, sizeof(fcp), (const uint8_t *)&zero, sizeof(zero));
    /* refused before anything is sent: defined too */
    memset(&fcp, 0xA5, sizeof(fcp));
    TK_EQ_RC(scb_select_aid(card, aid, 0, SCB_SEL_FCP, &fcp), SCB_E_INVALID_ARG);
    TK_EQ_MEM((const uint8_t *)&fcp, sizeof(fcp), (const uint8_t *)&zero, sizeof(zero));
    memset(&fcp, 0xA5, sizeof(fcp));
    TK_EQ_RC(scb_select_path(card, path, 3, 1, SCB_SEL_FCP, &fcp), SCB_E_INVALID_ARG);
    TK_EQ_MEM((const uint8_t *)&fcp, sizeof(fcp), (const uint8_t *)&zero, sizeof(zero));
    TK_CHECK(tk_script_complete(s));
    scb_card_free(&card);
    tk_script_free(s);
}

int main(void)
{
    TK_RUN(test_select_fcp_defined_on_failure);
    return tk_done();
}
