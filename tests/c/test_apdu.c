/* APDU encoding/parsing (ISO 7816-4 5.1) and logical-channel CLA (5.4.1). */
#include "internal.h"
#include "testkit.h"

static void check_roundtrip(const char *hex, int lc, int ne, bool ext)
{
    uint8_t buf[70000];
    size_t len = tk_unhex(hex, buf, sizeof(buf));
    scb_apdu_t a;
    TK_EQ_RC(scb__apdu_parse(buf, len, &a), SCB_OK);
    TK_EQ_INT(a.lc, lc);
    TK_EQ_INT(a.has_le ? (long long)a.ne : -1, ne);
    TK_EQ_INT(a.extended, ext);
    uint8_t out[70000];
    size_t olen = sizeof(out);
    TK_EQ_RC(scb__apdu_encode(&a, out, &olen), SCB_OK);
    TK_EQ_MEM(out, olen, buf, len);
}

static void test_cases(void)
{
    check_roundtrip("00A40000", 0, -1, false);                    /* case 1 */
    check_roundtrip("00B0000000", 0, 256, false);                 /* case 2S, Le 00 = 256 */
    check_roundtrip("00B0000010", 0, 16, false);
    check_roundtrip("00A4040C02AABB", 2, -1, false);              /* case 3S */
    check_roundtrip("00A4040402AABB00", 2, 256, false);           /* case 4S */
    check_roundtrip("00B00000000000", 0, 65536, true);            /* case 2E, 0000 = 65536 */
    check_roundtrip("00B00000000100", 0, 256, true);
    check_roundtrip("00D60000000002AABB", 2, -1, true);           /* case 3E */
    check_roundtrip("00D60000000002AABB0100", 2, 256, true);      /* case 4E */
}

static void test_malformed(void)
{
    static const char *bad[] = {
        "00A400",             /* too short */
        "00A4040C03AABB",     /* Lc 3, 2 bytes */
        "00A4040C01AABBCC",   /* Lc 1, 3 bytes */
        "00B0000000FF",       /* 6 bytes with 00 Lc */
        "00D60000000000AA",   /* extended Lc 0 */
        "00D60000000003AABB", /* extended Lc 3, 2 bytes */
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad); i++) {
        uint8_t buf[64];
        size_t len = tk_unhex(bad[i], buf, sizeof(buf));
        scb_apdu_t a;
        TK_EQ_RC(scb__apdu_parse(buf, len, &a), SCB_E_INVALID_ARG);
    }
    /* encode refuses inconsistent structs */
    scb_apdu_t a = {0};
    uint8_t out[16];
    size_t olen = sizeof(out);
    a.lc = 3; /* data NULL */
    TK_EQ_RC(scb__apdu_encode(&a, out, &olen), SCB_E_INVALID_ARG);
    memset(&a, 0, sizeof(a));
    a.has_le = true;
    a.ne = 0;
    TK_EQ_RC(scb__apdu_encode(&a, out, &olen), SCB_E_INVALID_ARG);
    a.ne = 65537;
    TK_EQ_RC(scb__apdu_encode(&a, out, &olen), SCB_E_INVALID_ARG);
    /* too small a buffer reports the size needed */
    uint8_t data[10] = {0};
    memset(&a, 0, sizeof(a));
    a.data = data;
    a.lc = 10;
    olen = 8;
    TK_EQ_RC(scb__apdu_encode(&a, out, &olen), SCB_E_BUFFER_TOO_SMALL);
    TK_EQ_INT(olen, 15);
}

static void test_cla(void)
{
    /* channels 0-3: bits 1-2; SM bits 3-4 kept; GP classes 80/84 */
    TK_EQ_INT(scb__cla_for_channel(0x00, 0), 0x00);
    TK_EQ_INT(scb__cla_for_channel(0x00, 3), 0x03);
    TK_EQ_INT(scb__cla_for_channel(0x80, 1), 0x81);
    TK_EQ_INT(scb__cla_for_channel(0x84, 2), 0x86);
    TK_EQ_INT(scb__cla_for_channel(0x0C, 1), 0x0D);
    TK_EQ_INT(scb__cla_for_channel(0x03, 1), 0x01); /* stale channel bits replaced */
    /* channels 4-19: 01x0 cccc, SM bit 6; GP 0xC0 / 0xE0 */
    TK_EQ_INT(scb__cla_for_channel(0x00, 4), 0x40);
    TK_EQ_INT(scb__cla_for_channel(0x00, 19), 0x4F);
    TK_EQ_INT(scb__cla_for_channel(0x80, 5), 0xC1);
    TK_EQ_INT(scb__cla_for_channel(0x84, 5), 0xE1);
    TK_EQ_INT(scb__cla_for_channel(0x0C, 7), 0x63);
    TK_EQ_INT(scb__cla_for_channel(0x10, 4), 0x50); /* chaining bit kept */
    /* from the further form back to the first */
    TK_EQ_INT(scb__cla_for_channel(0xE1, 2), 0x86);
    TK_EQ_INT(scb__cla_for_channel(0x41, 0), 0x00);
    TK_EQ_INT(scb__cla_for_channel(0xFF, 0), 0xFF); /* PC/SC pseudo-APDU class */
    TK_EQ_INT(scb__cla_for_channel(0xFF, 5), 0xFF);
    TK_CHECK(scb__cla_has_sm(0x84));
    TK_CHECK(scb__cla_has_sm(0xE0));
    TK_CHECK(!scb__cla_has_sm(0x80));
    TK_CHECK(!scb__cla_has_sm(0xC3));
}

static void test_fcp(void)
{
    uint8_t b[128];
    scb_fcp_t f;
    /* transparent EF 6432, 1024 bytes (TS 102 221 11.1.1.4) */
    size_t n = tk_unhex("621C 8202 4121 8302 6432 A506 C001 00DE 0100 8A01 05 8B03 6F0601 8002 0400", b, sizeof(b));
    TK_EQ_RC(scb_fcp_parse(b, n, &f), SCB_OK);
    TK_EQ_INT(f.structure, SCB_FS_TRANSPARENT);
    TK_EQ_INT(f.fid, 0x6432);
    TK_EQ_INT(f.file_size, 1024);
    TK_EQ_INT(f.has_size, 1);
    TK_EQ_INT(f.lcs, 5);
    /* linear fixed EF.DIR: 4 records of 38 bytes */
    n = tk_unhex("6219 8205 4221 0026 04 8302 2F00 8A01 05 8B03 2F0601 8002 0098 8800", b, sizeof(b));
    TK_EQ_RC(scb_fcp_parse(b, n, &f), SCB_OK);
    TK_EQ_INT(f.structure, SCB_FS_LINEAR_FIXED);
    TK_EQ_INT(f.record_len, 38);
    TK_EQ_INT(f.record_count, 4);
    TK_EQ_INT(f.file_size, 152);
    /* ADF with DF name */
    n = tk_unhex("6216 8202 7821 8410 A0000000 63504B43532D3135 FFFFFFFF", b, sizeof(b));
    TK_EQ_RC(scb_fcp_parse(b, n, &f), SCB_OK);
    TK_EQ_INT(f.structure, SCB_FS_DF);
    TK_EQ_INT(f.aid_len, 16);
    /* hostile: length past the end, wrong outer tag, bad sizes */
    static const char *bad[] = {
        "6205 8202 4121",          /* outer length past end */
        "6F03 8201 41",            /* not an FCP template */
        "6204 8302 64",            /* inner past outer */
        "6203 8301 64",            /* FID of one byte */
        "6207 8005 0000000400",    /* size field of 5 bytes */
        "6285 8202 4121",          /* reserved length form */
        "62",                      /* truncated */
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad); i++) {
        n = tk_unhex(bad[i], b, sizeof(b));
        TK_EQ_RC(scb_fcp_parse(b, n, &f), SCB_E_PARSE);
    }
}

int main(void)
{
    TK_RUN(test_cases);
    TK_RUN(test_malformed);
    TK_RUN(test_cla);
    TK_RUN(test_fcp);
    return tk_done();
}
