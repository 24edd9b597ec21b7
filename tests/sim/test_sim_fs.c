/*
 * The virtual card's file system, commands and status words, APDU by APDU
 * (ETSI TS 102 221, ISO/IEC 7816-4), plus profile validation and faults.
 */
#include "sim_internal.h"
#include "sim_rig.h"

#include <time.h>

static uint8_t R[SIM_MAX_RESP];
static size_t RL;

static scb_sim_t *make(const char *json)
{
    scb_sim_t *sim = NULL;
    char detail[256];
    int rc = scb_sim_new_from_json(&sim, json, detail, sizeof(detail));
    if (rc != 0) {
        fprintf(stderr, "profile rejected: %s (%s)\n", detail, json);
        abort();
    }
    return sim;
}

#define SW(hex) rig_raw(sim, hex, R, &RL)

static const char *AID = "A000000063504B43532D3135";

static void test_atr(void)
{
    scb_sim_t *sim = make(NULL);
    uint8_t atr[33];
    size_t n = scb_sim_atr(sim, atr);
    TK_CHECK(n >= 4 && atr[0] == 0x3B);
    uint8_t x = 0;
    for (size_t i = 1; i < n; i++)
        x ^= atr[i];
    TK_EQ_INT(x, 0); /* TCK: XOR of T0..TCK is zero (ISO 7816-3 8.2.5) */
    TK_EQ_HEX(atr, n, "3B878131FE458031E073FE211F" "6E");
    scb_sim_free(&sim);

    sim = make("{\"t0\": true, \"channels\": 3, \"extended_length\": true}");
    n = scb_sim_atr(sim, atr);
    TK_EQ_HEX(atr, n, "3B078031E073FE215B");
    scb_sim_free(&sim);
    sim = make("{\"atr\": \"3B 02 14 50\"}");
    n = scb_sim_atr(sim, atr);
    TK_EQ_HEX(atr, n, "3B021450");
    scb_sim_free(&sim);
}

static void test_mf_and_efdir(void)
{
    scb_sim_t *sim = make(NULL);

    TK_EQ_INT(SW("00A4000402 3F00 00"), 0x9000);
    /* FCP of the MF: 82 78 21, 83 3F00, 8A 05, 8C, C6 PIN status template */
    TK_EQ_HEX(R, RL, "6218" "82027821" "83023F00" "8A0105" "8C0303FFFF" "C606900100830101");
    TK_EQ_INT(SW("00A40004022F00"), 0x9000); /* no Le: FCP all the same */
    TK_EQ_HEX(R, RL, "621A" "82054221003002" "83022F00" "8A0105" "8C0303FF00" "80020060" "8801F0");
    /* record 1: the PKCS#15 template, padded to 48 with FF */
    TK_EQ_INT(SW("00B2010400"), 0x9000);
    TK_EQ_INT(RL, 48);
    /* 4F AID, 50 label, 51 path: PKCS#15 DIRRecord order */
    TK_EQ_HEX(R, 37, "6123" "4F0CA000000063504B43532D3135" "500D4C774D324D20504B4353233135"
                      "51043F005015");
    TK_EQ_INT(R[37], 0xFF);
    TK_EQ_INT(SW("00B2020400"), 0x9000); /* the spare record: all FF */
    TK_EQ_INT(RL, 48);
    TK_EQ_INT(R[0], 0xFF);
    TK_EQ_INT(SW("00B2030400"), 0x6A83);
    TK_EQ_INT(SW("00B2000400"), 0x6A83); /* no current record yet */
    TK_EQ_INT(SW("00B2010410"), 0x6C30); /* wrong Le: SW2 = record length */
    TK_EQ_INT(SW("00B2010430"), 0x9000);
    TK_EQ_INT(SW("00B2010500"), 0x6A86); /* mode 05 */
    /* next / previous move the record pointer; absolute does not */
    TK_EQ_INT(SW("00B2000200"), 0x9000);
    TK_EQ_INT(R[0], 0x61);
    TK_EQ_INT(SW("00B2000200"), 0x9000);
    TK_EQ_INT(R[0], 0xFF);
    TK_EQ_INT(SW("00B2000200"), 0x6A83);
    TK_EQ_INT(SW("00B2000300"), 0x9000);
    TK_EQ_INT(R[0], 0x61);
    TK_EQ_INT(SW("00B2000400"), 0x9000); /* current = 1 */
    TK_EQ_INT(R[0], 0x61);
    TK_EQ_INT(SW("00B2010200"), 0x6A86); /* P1 must be 0 for next */
    TK_EQ_INT(SW("00B0000000"), 0x6981); /* READ BINARY on a record file */
    TK_EQ_INT(SW("00D6000001FF"), 0x6981);

    /* EF.ICCID by SFI 02 from the MF, 10 BCD bytes, nibbles swapped */
    TK_EQ_INT(SW("00B0820000"), 0x9000);
    TK_EQ_HEX(R, RL, "988803000000000010F3");
    /* SFI 1E (EF.DIR) in READ RECORD P2 = 1E << 3 | 4 */
    TK_EQ_INT(SW("00B201F400"), 0x9000);
    TK_EQ_INT(R[0], 0x61);
    TK_EQ_INT(SW("00B0990000"), 0x6A82); /* no SFI 19 */
    TK_EQ_INT(SW("00B0A20000"), 0x6A86); /* P1 b7-b6 must be 0 with SFI */

    TK_EQ_INT(SW("00A40004022FE2"), 0x9000);
    TK_EQ_INT(SW("00B000000A"), 0x9000);
    TK_EQ_INT(RL, 10);
    TK_EQ_INT(SW("00B0000805"), 0x6282); /* end reached before Le bytes */
    TK_EQ_HEX(R, RL, "10F3");
    TK_EQ_INT(SW("00B0000A00"), 0x6B00);
    TK_EQ_INT(SW("00B07FFF00"), 0x6B00);
    TK_EQ_INT(SW("00B00000"), 0x9000);   /* case 1: all available */
    TK_EQ_INT(RL, 10);
    TK_EQ_INT(SW("00D6000001 00"), 0x6982); /* EF.ICCID: update never */
    TK_EQ_INT(SW("00B0000000 00"), 0x6700); /* READ BINARY with data */
    scb_sim_free(&sim);
}

static void test_select_rules(void)
{
    char cmd[128];
    scb_sim_t *sim = make(NULL);

    snprintf(cmd, sizeof(cmd), "00A4040C0C%s", AID);
    TK_EQ_INT(SW(cmd), 0x9000);
    TK_EQ_INT(RL, 0);
    snprintf(cmd, sizeof(cmd), "00A404040C%s00", AID);
    TK_EQ_INT(SW(cmd), 0x9000);
    TK_EQ_HEX(R, RL, "6226" "82027821" "83025015" "840CA000000063504B43532D3135" "8A0105"
                     "8C0303FFFF" "C606900100830101");
    snprintf(cmd, sizeof(cmd), "00A404000C%s00", AID); /* P2 00: FCI template 6F */
    TK_EQ_INT(SW(cmd), 0x9000);
    TK_EQ_INT(R[0], 0x6F);
    TK_EQ_INT(SW("00A4040407A000000063504B00"), 0x9000); /* right-truncated AID */
    TK_EQ_INT(SW("00A4040607A000000063504B00"), 0x6A82); /* next occurrence: none */
    TK_EQ_INT(SW("00A4040507A000000063504B00"), 0x6A86); /* last occurrence */
    TK_EQ_INT(SW("00A4040405A00000015100"), 0x6A82);
    TK_EQ_INT(SW("00A4040811A000000063504B43532D313500000000000000"), 0x6700);
    TK_EQ_INT(SW("00A4040C0CA000000063504B43532D3135"), 0x9000);
    TK_EQ_INT(SW("00A4000C025031"), 0x9000);
    TK_EQ_INT(SW("00B0000000"), 0x9000); /* EF.ODF: A7 -> path 6430, FF padded */
    TK_EQ_INT(RL, 32);
    TK_EQ_HEX(R, 9, "A706300404026430FF");
    TK_EQ_INT(SW("00A4000C026430"), 0x9000);
    TK_EQ_INT(SW("00B0000000"), 0x9000);
    TK_EQ_INT(RL, 128);
    TK_EQ_HEX(R, 40, "A125" "3011" "0C0F4C774D324D20426F6F747374726170" "3000"
                     "A10E" "300C" "0604672B0901" "3004" "04026432" "FF");
    TK_EQ_INT(SW("00A40004026432"), 0x9000); /* bootstrap EF: 1024 bytes, SM for both */
    TK_EQ_HEX(R, RL, "6216" "82024121" "83026432" "8A0105" "8C03034040" "80020400" "8800");
    TK_EQ_INT(SW("00B0000000"), 0x6982);
    TK_EQ_INT(SW("00D6000001AA"), 0x6982);
    TK_EQ_INT(SW("00A4000C025032"), 0x9000); /* EF.TokenInfo */
    TK_EQ_INT(SW("00B0000000"), 0x9000);
    TK_EQ_INT(R[0], 0x30);

    /* by FID: MF, current DF, parent, child, sibling DF; EFs of the parent
     * are not reachable from the ADF (TS 102 221 8.4.1) */
    TK_EQ_INT(SW("00A4000C022F00"), 0x6A82);
    TK_EQ_INT(SW("00A4000C025015"), 0x9000); /* the current DF itself */
    TK_EQ_INT(SW("00A4000C023F00"), 0x9000);
    TK_EQ_INT(SW("00A4000C025015"), 0x9000); /* child DF of the MF */
    TK_EQ_INT(SW("00A4030C"), 0x9000);        /* parent */
    TK_EQ_INT(SW("00A4030C"), 0x6A82);        /* the MF has none */
    TK_EQ_INT(SW("00A4010C025015"), 0x9000); /* child DF */
    TK_EQ_INT(SW("00A4010C026432"), 0x6A82); /* an EF is no DF */
    TK_EQ_INT(SW("00A4020C026432"), 0x9000); /* EF under the current DF */
    TK_EQ_INT(SW("00A4000C027FFF"), 0x9000); /* the current ADF */
    TK_EQ_INT(SW("00A4000C0000"), 0x6700);   /* Lc 0 with P1 00 = MF? only without data */
    TK_EQ_INT(SW("00A4000C"), 0x9000);       /* no data: the MF */
    TK_EQ_INT(SW("00A4000C027FFF"), 0x6A82); /* no application on the MF */
    TK_EQ_INT(SW("00A4000C03123456"), 0x6700);

    /* by path from MF / from the current DF, 7FFF at the start */
    TK_EQ_INT(SW("00A40804045015643200"), 0x9000);
    TK_EQ_INT(R[0], 0x62);
    TK_EQ_INT(SW("00A4080C047FFF6432"), 0x9000); /* current ADF */
    TK_EQ_INT(SW("00A4090C026430"), 0x9000);     /* from the ADF */
    TK_EQ_INT(SW("00A4080C0450156499"), 0x6A82);
    TK_EQ_INT(SW("00A4080C0664325015 6432"), 0x6A82); /* EF in the middle */
    TK_EQ_INT(SW("00A4080C03501564"), 0x6700);
    TK_EQ_INT(SW("00A4080C043F005015"), 0x6A82); /* the MF is not part of the path */
    TK_EQ_INT(SW("00A4000802 3F00"), 0x6A86); /* FMD */
    TK_EQ_INT(SW("00A4050C023F00"), 0x6A86);
    TK_EQ_INT(SW("00A4000D023F00"), 0x6A86); /* occurrence bits with P1 00 */
    scb_sim_free(&sim);
}

static void test_class_and_lengths(void)
{
    scb_sim_t *sim = make(NULL);
    TK_EQ_INT(SW("00CA9F7F00"), 0x6D00);   /* GET DATA: not on this card */
    TK_EQ_INT(SW("00B1000000"), 0x6D00);
    TK_EQ_INT(SW("20A4000C023F00"), 0x6E00);
    TK_EQ_INT(SW("A0A4000C023F00"), 0x6E00); /* GSM class */
    TK_EQ_INT(SW("FFA4000C023F00"), 0x6E00);
    TK_EQ_INT(SW("80A4000C023F00"), 0x6E00); /* ISO command in a proprietary class */
    TK_EQ_INT(SW("10A4000C023F00"), 0x6884); /* chaining */
    TK_EQ_INT(SW("08A4000C023F00"), 0x6882); /* ISO secure messaging */
    TK_EQ_INT(SW("0050000008 0102030405060708 00"), 0x6E00);
    TK_EQ_INT(SW("8050000008 0102030405060708 00"), 0x6D00); /* MF is no SD */
    TK_EQ_INT(SW("00A400"), 0x6700);
    TK_EQ_INT(SW("00A4000C033F00"), 0x6700);   /* Lc longer than the data */
    TK_EQ_INT(SW("00A4000C023F0000 00"), 0x6700);
    TK_EQ_INT(SW("00B00000 000100"), 0x6700);  /* extended: not announced */
    TK_EQ_INT(SW("01A4000C023F00"), 0x6881);   /* channel 1 not open */
    TK_EQ_INT(SW("4FA4000C023F00"), 0x6881);   /* channel 19 */
    TK_EQ_INT(SW("00C0000010"), 0x6985);       /* nothing to get */

    uint8_t small[1];
    size_t sl = sizeof(small);
    uint8_t cmd[] = {0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00};
    TK_EQ_RC(scb_sim_process(sim, cmd, sizeof(cmd), small, &sl), SCB_E_BUFFER_TOO_SMALL);
    TK_EQ_INT(sl, 28);
    TK_EQ_RC(scb_sim_process(NULL, cmd, sizeof(cmd), small, &sl), SCB_E_INVALID_ARG);
    scb_sim_free(&sim);
}

static void test_channels(void)
{
    char cmd[128];
    scb_sim_t *sim = make(NULL);

    TK_EQ_INT(SW("0070000001"), 0x9000);
    TK_EQ_HEX(R, RL, "01");
    /* each channel has its own current file */
    snprintf(cmd, sizeof(cmd), "01A4040C0C%s", AID);
    TK_EQ_INT(SW(cmd), 0x9000);
    TK_EQ_INT(SW("01A4000C025031"), 0x9000);
    TK_EQ_INT(SW("01B0000000"), 0x9000);
    TK_EQ_INT(SW("00B0000000"), 0x6986); /* channel 0: no current EF */
    /* opened from channel 1: inherits its DF (the ADF) */
    TK_EQ_INT(SW("0170000001"), 0x9000);
    TK_EQ_HEX(R, RL, "02");
    TK_EQ_INT(SW("02A4000C026430"), 0x9000);
    TK_EQ_INT(SW("0070800200"), 0x9000);
    TK_EQ_INT(SW("02A4000C026430"), 0x6881);
    TK_EQ_INT(SW("0070800200"), 0x6881);
    TK_EQ_INT(SW("0070800000"), 0x6A86); /* the basic channel stays */
    /* open specific channels; 4..19 use the further interindustry CLA */
    TK_EQ_INT(SW("0070000500"), 0x9000);
    TK_EQ_INT(RL, 0);
    TK_EQ_INT(SW("0070000500"), 0x6985);
    TK_EQ_INT(SW("41A4000C023F00"), 0x9000); /* channel 5 */
    TK_EQ_INT(SW("0070001400"), 0x6A86);     /* 20 */
    for (int i = 0; i < 17; i++)
        SW("0070000001");
    TK_EQ_INT(SW("0070000001"), 0x6A81);     /* all 19 in use */
    TK_EQ_INT(SW("4F70800000"), 0x9000);     /* channel 19 closes itself */
    TK_EQ_INT(SW("0070000001"), 0x9000);
    TK_EQ_HEX(R, RL, "13");
    TK_EQ_INT(SW("0070400000"), 0x6A86);
    scb_sim_reset(sim);
    TK_EQ_INT(SW("01A4000C023F00"), 0x6881);
    TK_EQ_INT(SW("00B0000000"), 0x6986);
    scb_sim_free(&sim);

    sim = make("{\"channels\": 3}");
    for (int i = 1; i <= 3; i++)
        TK_EQ_INT(SW("0070000001"), 0x9000);
    TK_EQ_INT(SW("0070000001"), 0x6A81);
    TK_EQ_INT(SW("0070000400"), 0x6881);
    TK_EQ_INT(SW("40A4000C023F00"), 0x6881);
    scb_sim_free(&sim);
}

static void test_t0(void)
{
    char cmd[128];
    scb_sim_t *sim = make("{\"t0\": true}");
    snprintf(cmd, sizeof(cmd), "00A404040C%s", AID);
    TK_EQ_INT(SW(cmd), 0x6128);
    TK_EQ_INT(RL, 0);
    TK_EQ_INT(SW("00C0000010"), 0x6118); /* 16 of 40, 24 left */
    TK_EQ_HEX(R, 4, "62268202");
    TK_EQ_INT(SW("00C0000030"), 0x6C18); /* too many: exact length */
    TK_EQ_INT(SW("00C0000018"), 0x9000);
    TK_EQ_INT(RL, 24);
    TK_EQ_INT(SW("00C0000000"), 0x6985); /* nothing left */
    /* case 2 READ BINARY answers directly */
    TK_EQ_INT(SW("00A4000C025031"), 0x9000);
    TK_EQ_INT(SW("00B0000008"), 0x9000);
    TK_EQ_INT(RL, 8);
    /* a pending response is dropped by the next command */
    TK_EQ_INT(SW("00A40004025031"), 0x6118);
    TK_EQ_INT(SW("00B0000008"), 0x9000);
    TK_EQ_INT(SW("00C0000000"), 0x6985);
    scb_transport_t tp;
    TK_EQ_RC(scb_sim_transport(sim, &tp), SCB_OK);
    TK_EQ_INT(tp.flags, SCB_TP_T0);
    scb_sim_free(&sim);
}

static void test_extended_and_files(void)
{
    scb_sim_t *sim = make("{\"extended_length\": true, \"files\": ["
                          " {\"df\": \"mf\", \"fid\": \"2F05\", \"size\": 1000, \"hex\": \"0102\","
                          "  \"update\": \"always\", \"sfi\": 5},"
                          " {\"fid\": \"6F01\", \"structure\": \"linear_fixed\","
                          "  \"records\": [\"0102\", \"030405\"], \"record_count\": 4}]}");
    TK_EQ_INT(SW("00A4000C022F05"), 0x9000);
    TK_EQ_INT(SW("00B0000000"), 0x9000);
    TK_EQ_INT(RL, 256);
    TK_EQ_INT(SW("00B00000000000"), 0x9000); /* extended Le 0000: all */
    TK_EQ_INT(RL, 1000);
    TK_EQ_HEX(R, 3, "0102FF");
    TK_EQ_INT(SW("00B0000000012C"), 0x9000); /* extended Le 300 */
    TK_EQ_INT(RL, 300);
    TK_EQ_INT(SW("00D603E6 03 AABBCC"), 0x6700); /* offset 998: 2 bytes left */
    TK_EQ_INT(SW("00D603E6 02 AABB"), 0x9000);
    TK_EQ_INT(SW("00D603E8 01 AA"), 0x6B00);
    TK_EQ_INT(SW("00D6850001 77"), 0x9000);      /* by SFI 05 */
    uint8_t buf[1024], path[2] = {0x2F, 0x05};
    size_t n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, path, 2, buf, &n), SCB_OK);
    TK_EQ_INT(n, 1000);
    TK_EQ_HEX(buf, 2, "7702");
    TK_EQ_HEX(buf + 998, 2, "AABB");
    n = 10;
    TK_EQ_RC(scb_sim_read_file(sim, path, 2, buf, &n), SCB_E_BUFFER_TOO_SMALL);
    TK_EQ_INT(n, 1000);
    uint8_t bs[4] = {0x50, 0x15, 0x64, 0x32};
    n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, bs, 4, buf, &n), SCB_OK);
    TK_EQ_INT(n, 1024);
    TK_EQ_MEM(buf, sim_default_bootstrap_len, sim_default_bootstrap, sim_default_bootstrap_len);
    TK_EQ_INT(buf[sim_default_bootstrap_len], 0xFF);
    TK_EQ_INT(buf[1023], 0xFF);

    TK_EQ_INT(SW("00A4040C0CA000000063504B43532D3135"), 0x9000);
    TK_EQ_INT(SW("00A40004026F01"), 0x9000);
    TK_EQ_HEX(R, 7, "6219" "8205422100");
    TK_EQ_INT(R[7], 0x03); /* record length = longest record */
    TK_EQ_INT(R[8], 0x04);
    TK_EQ_INT(SW("00B2020403"), 0x9000);
    TK_EQ_HEX(R, RL, "030405");
    TK_EQ_INT(SW("00B2010400"), 0x9000);
    TK_EQ_HEX(R, RL, "0102FF");
    TK_EQ_INT(SW("00B2040400"), 0x9000);
    TK_EQ_HEX(R, RL, "FFFFFF");
    TK_EQ_INT(SW("00B2050400"), 0x6A83);
    scb_transport_t tp;
    TK_EQ_RC(scb_sim_transport(sim, &tp), SCB_OK);
    TK_EQ_INT(tp.flags, SCB_TP_EXTENDED_LENGTH);
    scb_sim_free(&sim);
}

static void test_dodf_forms(void)
{
    static const struct {
        const char *form;
        const char *expect;
    } forms[] = {
        {"oid_do_misencoded",
         "A127" "3011" "0C0F4C774D324D20426F6F747374726170" "3000"
         "A110" "300E" "06060604672B0901" "3004" "04026432"},
        {"application_oid",
         "3023" "3011" "0C0F4C774D324D20426F6F747374726170" "3006" "0604672B0901"
         "A106" "3004" "04026432"},
        {"application_oid_misencoded",
         "3025" "3011" "0C0F4C774D324D20426F6F747374726170" "3008" "06060604672B0901"
         "A106" "3004" "04026432"},
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char json[128];
        uint8_t buf[256], path[4] = {0x50, 0x15, 0x64, 0x30};
        size_t n = sizeof(buf), en;
        uint8_t expect[128];
        snprintf(json, sizeof(json), "{\"dodf\": {\"oid_form\": \"%s\"}}", forms[i].form);
        scb_sim_t *sim = make(json);
        TK_EQ_RC(scb_sim_read_file(sim, path, 4, buf, &n), SCB_OK);
        en = tk_unhex(forms[i].expect, expect, sizeof(expect));
        TK_EQ_MEM(buf, en, expect, en);
        scb_sim_free(&sim);
    }
    /* flags, authId, application name, an explicit path, raw content */
    scb_sim_t *sim = make("{\"dodf\": {\"label\": \"BS\", \"private\": true, \"modifiable\": true,"
                          " \"auth_id\": \"01\", \"application_name\": \"LwM2M\","
                          " \"path\": \"3F0050156432\", \"size\": 64}}");
    uint8_t buf[256], path[4] = {0x50, 0x15, 0x64, 0x30};
    size_t n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, path, 4, buf, &n), SCB_OK);
    TK_EQ_INT(n, 64);
    TK_EQ_HEX(buf, 44, "A12A" "300B" "0C024253" "030206C0" "040101" "3007" "0C054C774D324D"
                       "A112" "3010" "0604672B0901" "3008" "04063F0050156432");
    scb_sim_free(&sim);
    sim = make("{\"dodf\": {\"hex\": \"A1 03 30 01 00\"}, \"odf\": {\"hex\": \"A7063004040264 30\","
               " \"size\": 8}, \"tokeninfo\": false, \"efdir\": false}");
    n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, path, 4, buf, &n), SCB_OK);
    TK_EQ_HEX(buf, 6, "A103300100FF");
    path[2] = 0x50;
    path[3] = 0x31;
    n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, path, 4, buf, &n), SCB_OK);
    TK_EQ_HEX(buf, n, "A706300404026430");
    path[3] = 0x32;
    n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, path, 4, buf, &n), SCB_E_NOT_FOUND);
    uint8_t dir[2] = {0x2F, 0x00};
    TK_EQ_RC(scb_sim_read_file(sim, dir, 2, buf, &n), SCB_E_NOT_FOUND);
    scb_sim_free(&sim);
}

static void test_pin(void)
{
    scb_sim_t *sim = make("{\"pin\": {\"value\": \"1234\", \"ref\": 1, \"tries\": 3},"
                          " \"files\": [{\"fid\": \"6F02\", \"hex\": \"42\", \"read\": \"pin\"}]}");
    TK_EQ_INT(SW("00A4040C0CA000000063504B43532D3135"), 0x9000);
    TK_EQ_INT(SW("00A4000C026F02"), 0x9000);
    TK_EQ_INT(SW("00B0000000"), 0x6982);
    TK_EQ_INT(SW("00200001"), 0x63C3); /* status: 3 tries */
    TK_EQ_INT(SW("002000010831323335FFFFFFFF"), 0x63C2);
    TK_EQ_INT(SW("002000020831323334FFFFFFFF"), 0x6A88);
    TK_EQ_INT(SW("0020000104 31323334"), 0x6700);
    TK_EQ_INT(SW("002000010831323334FFFFFFFF"), 0x9000);
    TK_EQ_INT(SW("00200001"), 0x9000);
    TK_EQ_INT(SW("00B0000000"), 0x9000);
    TK_EQ_HEX(R, RL, "42");
    scb_sim_reset(sim);
    TK_EQ_INT(SW("00A40804045015 6F02"), 0x9000);
    TK_EQ_INT(SW("00B0000000"), 0x6982);
    for (int i = 2; i >= 0; i--)
        TK_EQ_INT(SW("002000010800000000FFFFFFFF"), 0x63C0 | i);
    TK_EQ_INT(SW("002000010831323334FFFFFFFF"), 0x6983);
    /* the DF FCP announces the PIN (PS_DO 80, key reference 01) */
    TK_EQ_INT(SW("00A40004023F00"), 0x9000);
    TK_EQ_HEX(R + RL - 8, 8, "C606900180830101");
    scb_sim_free(&sim);
}

/* GET DATA 00 66 from the Security Domain: Card Recognition Data as GP
 * Card Specification 2.2 Annex H lays it out, the OIDs under
 * globalPlatform 1.2.840.114283 (2A 86 48 86 FC 6B) encoded by hand. */
static void test_get_data(void)
{
    static const char *crd_70 = "6631" "732F"
                                "0607 2A864886FC6B 01"          /* card recognition data */
                                "600C 060A 2A864886FC6B 02020201" /* GP 2.2.1 */
                                "6309 0607 2A864886FC6B 03"     /* card identification */
                                "640B 0609 2A864886FC6B 0403 70"; /* SCP03, i = 70 */
    scb_sim_t *sim = make(NULL);
    TK_EQ_INT(SW("80CA006600"), 0x6D00); /* the MF is no Security Domain */
    TK_EQ_INT(SW("00A4040C0CA000000063504B43532D3135"), 0x9000);
    TK_EQ_INT(SW("80CA006600"), 0x9000);
    TK_EQ_HEX(R, RL, crd_70);
    TK_EQ_INT(SW("00CA006600"), 0x9000); /* ISO 7816-4 GET DATA: the same */
    TK_EQ_HEX(R, RL, crd_70);
    TK_EQ_INT(SW("80CA0066"), 0x9000);   /* no Le: all of it */
    TK_EQ_INT(SW("80CA006610"), 0x6C33); /* Le too short: the exact length */
    TK_EQ_INT(SW("80CA006633"), 0x9000);
    TK_EQ_INT(SW("80CA00CF00"), 0x6A88); /* no other data object */
    TK_EQ_INT(SW("80CA01660100"), 0x6700);
    TK_EQ_INT(SW("80CA016600"), 0x6A88);
    scb_sim_free(&sim);
    /* the i parameter as the profile sets it; one above 7F takes two bytes */
    sim = make("{\"scp03\": {\"i\": \"0x71\"}}");
    TK_EQ_INT(SW("00A4040C0CA000000063504B43532D3135"), 0x9000);
    TK_EQ_INT(SW("80CA006600"), 0x9000);
    TK_EQ_HEX(R + RL - 3, 3, "040371");
    scb_sim_free(&sim);
    sim = make("{\"scp03\": {\"i\": \"0xF0\"}}");
    TK_EQ_INT(SW("00A4040C0CA000000063504B43532D3135"), 0x9000);
    TK_EQ_INT(SW("80CA006600"), 0x9000);
    TK_EQ_HEX(R, 4, "66327330");
    TK_EQ_HEX(R + RL - 14, 14, "640C 060A 2A864886FC6B 0403 8170");
    scb_sim_free(&sim);
}

/* The PIN object of EF.AODF and the PIN the card stores by it. */
static void test_aodf(void)
{
    uint8_t buf[256], odf_path[4] = {0x50, 0x15, 0x50, 0x31},
                      aodf_path[4] = {0x50, 0x15, 0x44, 0x01},
                      dodf_path[4] = {0x50, 0x15, 0x64, 0x30};
    size_t n = sizeof(buf);
    /* the default card has no PIN: no AODF, the ODF names the DODF only */
    scb_sim_t *sim = make(NULL);
    TK_EQ_RC(scb_sim_read_file(sim, odf_path, 4, buf, &n), SCB_OK);
    TK_EQ_HEX(buf, 9, "A706300404026430FF");
    n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, aodf_path, 4, buf, &n), SCB_E_NOT_FOUND);
    scb_sim_free(&sim);

    /* a PIN and a private entry: ODF [8] -> 4401, the PIN object (PKCS#15
     * v1.1 6.8) encoded by hand, the entry's authId pointing at it */
    sim = make("{\"pin\": {\"value\": \"1234\"}, \"dodf\": {\"private\": true}}");
    n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, odf_path, 4, buf, &n), SCB_OK);
    TK_EQ_HEX(buf, 17, "A706300404026430" "A806300404024401" "FF");
    n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, aodf_path, 4, buf, &n), SCB_OK);
    TK_EQ_INT(n, 64);
    TK_EQ_HEX(buf, 41, "3027" "3006 0C04 50494E31"         /* label "PIN1" */
                       "3003 040101"                       /* authId 01 */
                       "A118 3016 0302020C"   /* pinFlags: initialized, needs-padding */
                       "0A0101 020104 020108 020108"  /* ascii-numeric, min 4, stored 8, max 8 */
                       "800101 0401FF");              /* pinReference 01, padChar FF */
    TK_EQ_INT(buf[41], 0xFF);
    n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, dodf_path, 4, buf, &n), SCB_OK);
    TK_EQ_HEX(buf, 28, "A12C 3018 0C0F4C774D324D20426F6F747374726170 03020780 040101");
    /* the AODF is readable in the clear, as a PKCS#15 directory */
    TK_EQ_INT(SW("00A4040C0CA000000063504B43532D3135"), 0x9000);
    TK_EQ_INT(SW("00A4000C024401"), 0x9000);
    TK_EQ_INT(SW("00B0000000"), 0x9000);
    scb_sim_free(&sim);

    /* "aodf": false, or a card without PIN and private entry: none */
    sim = make("{\"pin\": {\"value\": \"1234\"}, \"aodf\": false}");
    n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, aodf_path, 4, buf, &n), SCB_E_NOT_FOUND);
    n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, odf_path, 4, buf, &n), SCB_OK);
    TK_EQ_HEX(buf, 9, "A706300404026430FF");
    scb_sim_free(&sim);

    /* every attribute set: a local PIN 81, 6..10 characters stored in 12
     * bytes padded with 00, utf8, flags named, a path, another FID */
    sim = make("{\"pin\": {\"ref\": 129, \"value\": \"123456\", \"tries\": 2},"
               " \"aodf\": {\"fid\": \"4402\", \"label\": \"\", \"auth_id\": \"0A0B\","
               " \"min_length\": 6, \"max_length\": 10, \"stored_length\": 12,"
               " \"pad_char\": 0, \"pin_type\": \"utf8\", \"flags\": [\"local\", \"so_pin\","
               " \"case_sensitive\"], \"path\": \"3F005015\"}}");
    n = sizeof(buf);
    aodf_path[3] = 0x02;
    TK_EQ_RC(scb_sim_read_file(sim, aodf_path, 4, buf, &n), SCB_OK);
    TK_EQ_HEX(buf, 45, "302B 3000 3004 04020A0B A121 301F"
                       "030200C1"               /* bits 0, 1, 7: nothing unused */
                       "0A0102 020106 02010C 02010A 80020081 040100 3006 04043F005015");
    TK_EQ_INT(SW("00A4040C0CA000000063504B43532D3135"), 0x9000);
    TK_EQ_INT(SW("0020008108 313233343536 0000"), 0x6700); /* 8 bytes: not the block */
    TK_EQ_INT(SW("002000810C 313233343536 FFFFFFFFFFFF"), 0x63C1);
    TK_EQ_INT(SW("002000810C 313233343536 000000000000"), 0x9000);
    TK_EQ_INT(SW("002000010C 313233343536 000000000000"), 0x6A88); /* reference 81 only */
    scb_sim_free(&sim);

    /* maxLength and padChar left out (null); bcd; the PIN as it describes */
    sim = make("{\"pin\": {\"value\": \"12345\"}, \"aodf\": {\"max_length\": null,"
               " \"pad_char\": null, \"pin_type\": \"bcd\", \"flags\": []}}");
    n = sizeof(buf);
    aodf_path[3] = 0x01;
    TK_EQ_RC(scb_sim_read_file(sim, aodf_path, 4, buf, &n), SCB_OK);
    TK_EQ_HEX(buf, 34, "3020 3006 0C0450494E31 3003 040101 A111 300F"
                       "030100 0A0100 020104 020108 800101");
    TK_EQ_INT(SW("00A4040C0CA000000063504B43532D3135"), 0x9000);
    TK_EQ_INT(SW("002000010831323334 35FFFFFF"), 0x9000); /* FF when the AODF names none */
    scb_sim_free(&sim);
}

static void expect_reject(const char *json, int rc, const char *needle)
{
    scb_sim_t *sim = NULL;
    char detail[256] = "";
    TK_EQ_RC(scb_sim_new_from_json(&sim, json, detail, sizeof(detail)), rc);
    TK_CHECK(sim == NULL);
    if (strstr(detail, needle) == NULL) {
        tk_failures++;
        fprintf(stderr, "detail \"%s\" lacks \"%s\"\n", detail, needle);
    }
}

static void test_profile_errors(void)
{
    expect_reject("{\"bootstrapp\": {}}", SCB_E_VALIDATION, "\"bootstrapp\"");
    expect_reject("{\"scp03\": {\"i\": 300}}", SCB_E_VALIDATION, "scp03.i");
    expect_reject("{\"scp03\": {\"keys\": {\"enc\": \"0011\"}}}", SCB_E_VALIDATION, "same length");
    expect_reject("{\"bootstrap\": {\"hex\": \"00 1G\"}}", SCB_E_VALIDATION, "not hex");
    expect_reject("{\"bootstrap\": {\"size\": 2, \"hex\": \"000102\"}}", SCB_E_VALIDATION,
                  "exceeds size");
    expect_reject("{\"bootstrap\": {\"size\": 40000}}", SCB_E_VALIDATION, "bootstrap.size");
    expect_reject("{\"bootstrap\": {\"json\": {\"security\": [{\"security_mode\": 7}]}}}",
                  SCB_E_VALIDATION, "bootstrap.json: security[0].security_mode");
    expect_reject("{\"bootstrap\": {\"json\": {}, \"hex\": \"00\"}}", SCB_E_VALIDATION, "not both");
    expect_reject("{\"iccid\": \"89ab\"}", SCB_E_VALIDATION, "not a digit");
    expect_reject("{\"dodf\": {\"oid_form\": \"x\"}}", SCB_E_VALIDATION, "oid_form");
    expect_reject("{\"files\": [{\"fid\": \"5031\", \"size\": 4}]}", SCB_E_VALIDATION, "already used");
    expect_reject("{\"files\": [{\"fid\": \"3F00\", \"size\": 4}]}", SCB_E_VALIDATION, "reserved");
    expect_reject("{\"files\": [{\"size\": 3}]}", SCB_E_VALIDATION, "fid is required");
    expect_reject("{\"scp03\": {\"keys\": [{\"kvn\": 1}, {\"kvn\": 1}]}}", SCB_E_VALIDATION,
                  "used twice");
    expect_reject("{\"a\": 1", SCB_E_VALIDATION,
                  "incomplete document (the text ends at line 1, column 8)");
    expect_reject("{\"pin\": {},\n \"pin\": {}}", SCB_E_VALIDATION,
                  "pin: key appears twice (line 2, column 2; first at line 1, column 2)");
    expect_reject("[]", SCB_E_VALIDATION, "JSON object");
    expect_reject("{\"bootstrap\": {\"read\": \"sometimes\"}}", SCB_E_VALIDATION, "always, never");
    expect_reject("{\"pin\": {\"value\": \"12\"}}", SCB_E_VALIDATION,
                  "pin.value must have 4..8 characters");
    expect_reject("{\"pin\": {\"value\": \"1234\"}, \"aodf\": {\"min_length\": 6}}",
                  SCB_E_VALIDATION, "pin.value must have 6..8 characters (as the aodf");
    expect_reject("{\"pin\": {\"value\": \"123456789\"}, \"aodf\": {\"max_length\": 12}}",
                  SCB_E_VALIDATION, "4..8 characters"); /* stored in 8 bytes */
    expect_reject("{\"aodf\": {\"min_length\": 9, \"max_length\": 8}}", SCB_E_VALIDATION,
                  "aodf.min_length 9 is above max_length 8");
    expect_reject("{\"aodf\": {\"stored_length\": 17}}", SCB_E_VALIDATION, "aodf.stored_length");
    expect_reject("{\"aodf\": {\"pin_type\": \"hex\"}}", SCB_E_VALIDATION,
                  "aodf.pin_type \"hex\": use bcd, ascii_numeric, utf8");
    expect_reject("{\"aodf\": {\"flags\": [\"sticky\"]}}", SCB_E_VALIDATION,
                  "aodf.flags \"sticky\": use case_sensitive");
    expect_reject("{\"aodf\": {\"flags\": \"local\"}}", SCB_E_VALIDATION, "array of names");
    expect_reject("{\"aodf\": {\"padchar\": 0}}", SCB_E_VALIDATION, "\"padchar\" in aodf");
    expect_reject("{\"pin\": {}}", SCB_E_VALIDATION, "pin.value is required");
    expect_reject("{\"faults\": {\"sw\": \"65811\"}}", SCB_E_VALIDATION,
                  "faults.sw = \"65811\" is no status word");
    expect_reject("{\"faults\": {\"sw\": \"0x65\"}}", SCB_E_VALIDATION, "4 hex digits");
    expect_reject("{\"faults\": {\"sw\": \"65G1\"}}", SCB_E_VALIDATION, "no status word");
    expect_reject("{\"faults\": {\"sw\": 70000}}", SCB_E_VALIDATION, "out of range");
    scb_sim_t *sim = NULL;
    char detail[256];
    TK_EQ_RC(scb_sim_new(&sim, "/nonexistent/profile.json", detail, sizeof(detail)),
             SCB_E_INVALID_ARG);
    TK_CHECK(strstr(detail, "/nonexistent/profile.json") != NULL);
    TK_EQ_RC(scb_sim_new(&sim, SCB_SOURCE_DIR "/tests/sim/profiles/default.json", detail,
                         sizeof(detail)),
             SCB_OK);
    scb_sim_free(&sim);
    scb_sim_free(&sim); /* NULL is fine */
    scb_sim_free(NULL);
}

/* The default bootstrap file given in the shared JSON format: the JSON
 * glue's encoder and the hand-written bytes of sim_default.c agree. */
static void test_bootstrap_json(void)
{
    static const char *json =
        "{\"bootstrap\": {\"size\": 300, \"json\": {"
        " \"security\": ["
        "  {\"instance\": 0, \"server_uri\": \"coaps://bs.example.com:5684\","
        "   \"bootstrap_server\": true, \"security_mode\": 0,"
        "   \"public_key_or_identity\": \"7363626f6f742d73696d2d646576696365\","
        "   \"secret_key\": \"000102030405060708090a0b0c0d0e0f\"},"
        "  {\"instance\": 1, \"server_uri\": \"coaps://lwm2m.example.com:5684\","
        "   \"bootstrap_server\": false, \"security_mode\": 0,"
        "   \"public_key_or_identity\": \"7363626f6f742d73696d2d646576696365\","
        "   \"secret_key\": \"101112131415161718191a1b1c1d1e1f\", \"short_server_id\": 101}],"
        " \"servers\": [{\"instance\": 0, \"short_server_id\": 101, \"lifetime\": 86400,"
        "   \"notification_storing\": true, \"binding\": \"U\"}],"
        " \"versions\": {\"1\": \"1.1\"}}}}";
    scb_sim_t *sim = make(json);
    uint8_t buf[300], path[4] = {0x50, 0x15, 0x64, 0x32};
    size_t n = sizeof(buf);
    TK_EQ_RC(scb_sim_read_file(sim, path, 4, buf, &n), SCB_OK);
    TK_EQ_INT(n, 300);
    TK_EQ_MEM(buf, sim_default_bootstrap_len, sim_default_bootstrap, sim_default_bootstrap_len);
    TK_EQ_INT(buf[299], 0xFF);
    scb_sim_free(&sim);
}

/* profiles/default.json spells out the built-in card: same files, same SD. */
static void test_default_profile_file(void)
{
    static const char *paths[] = {"2F00", "2FE2", "50155031", "50156430", "50155032", "50156432"};
    scb_sim_t *a = make(NULL), *b = NULL;
    char detail[256];
    TK_EQ_RC(scb_sim_new(&b, SCB_SOURCE_DIR "/tests/sim/profiles/default.json", detail,
                         sizeof(detail)),
             SCB_OK);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        uint8_t p[4], fa[1024], fb[1024];
        size_t pl = tk_unhex(paths[i], p, sizeof(p)), na = sizeof(fa), nb = sizeof(fb);
        TK_EQ_RC(scb_sim_read_file(a, p, pl, fa, &na), SCB_OK);
        TK_EQ_RC(scb_sim_read_file(b, p, pl, fb, &nb), SCB_OK);
        TK_EQ_MEM(fa, na, fb, nb);
    }
    uint8_t atr_a[33], atr_b[33];
    size_t la = scb_sim_atr(a, atr_a), lb = scb_sim_atr(b, atr_b);
    TK_EQ_MEM(atr_a, la, atr_b, lb);
    /* same keys, KDD, i, counter, SD AID: the same INITIALIZE UPDATE answer */
    uint8_t ra[64], rb[64];
    size_t rla, rlb;
    rig_raw(a, "00A4040C0CA000000063504B43532D3135", ra, &rla);
    rig_raw(b, "00A4040C0CA000000063504B43532D3135", rb, &rlb);
    TK_EQ_INT(rig_raw(a, "8050000008 0102030405060708 00", ra, &rla), 0x9000);
    TK_EQ_INT(rig_raw(b, "8050000008 0102030405060708 00", rb, &rlb), 0x9000);
    TK_EQ_MEM(ra, rla, rb, rlb);
    scb_sim_free(&a);
    scb_sim_free(&b);
}

static void test_faults(void)
{
    scb_sim_t *sim = make("{\"faults\": {\"sw_at\": 2, \"sw\": \"0x6F00\", \"disconnect_after\": 4}}");
    TK_EQ_INT(SW("00A4000C023F00"), 0x9000);
    TK_EQ_INT(SW("00A4000C023F00"), 0x6F00);
    TK_EQ_INT(SW("00A4000C023F00"), 0x9000);
    TK_EQ_INT(SW("00A4000C023F00"), 0x9000);
    uint8_t cmd[] = {0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00}, r[8];
    size_t rl = sizeof(r);
    TK_EQ_RC(scb_sim_process(sim, cmd, sizeof(cmd), r, &rl), SCB_E_CARD_REMOVED);
    TK_EQ_RC(scb_sim_process(sim, cmd, sizeof(cmd), r, &rl), SCB_E_CARD_REMOVED);
    scb_sim_reset(sim); /* back in the reader */
    TK_EQ_INT(SW("00A4000C023F00"), 0x9000);
    TK_EQ_INT(scb_sim_apdu_count(sim), 7);

    scb_sim_faults_t f;
    TK_EQ_RC(scb_sim_get_faults(sim, &f), SCB_OK);
    TK_EQ_INT(f.disconnect_after, 0);
    f.delay_ms = 30;
    TK_EQ_RC(scb_sim_set_faults(sim, &f), SCB_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    TK_EQ_INT(SW("00A4000C023F00"), 0x9000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    TK_CHECK(ms >= 29.0);
    f.version = 99;
    TK_EQ_RC(scb_sim_set_faults(sim, &f), SCB_E_INVALID_ARG);
    scb_sim_free(&sim);
    /* a status word given as a string is hex, with or without 0x; a JSON
     * number is the number */
    static const struct {
        const char *profile;
        uint16_t sw;
    } sws[] = {{"{\"faults\": {\"sw_at\": 1, \"sw\": \"6581\"}}", 0x6581},
               {"{\"faults\": {\"sw_at\": 1, \"sw\": \"0x6581\"}}", 0x6581},
               {"{\"faults\": {\"sw_at\": 1, \"sw\": \"6a82\"}}", 0x6A82},
               {"{\"faults\": {\"sw_at\": 1, \"sw\": 27009}}", 0x6981}};
    for (size_t i = 0; i < sizeof(sws) / sizeof(sws[0]); i++) {
        sim = make(sws[i].profile);
        TK_EQ_INT(SW("00A4000C023F00"), sws[i].sw);
        scb_sim_free(&sim);
    }
}

static void test_card_handle(void)
{
    scb_card_t *card = NULL;
    char detail[128];
    TK_EQ_RC(scb_card_open_sim(&card, NULL, detail, sizeof(detail)), SCB_OK);
    uint8_t resp[300];
    size_t rl = sizeof(resp);
    static const uint8_t sel[] = {0x00, 0xA4, 0x00, 0x04, 0x02, 0x2F, 0xE2, 0x00};
    TK_EQ_RC(scb_card_transmit(card, sel, sizeof(sel), resp, &rl), SCB_OK);
    TK_EQ_INT(scb_card_last_sw(card), 0x9000);
    scb_card_free(&card); /* frees the sim too (checked under ASan/valgrind) */
    TK_CHECK(card == NULL);
    TK_EQ_RC(scb_card_open_sim(&card, "/nonexistent.json", detail, sizeof(detail)),
             SCB_E_INVALID_ARG);
}

/* A line of cards: a SELECT of EF.ICCID after other commands is a new card
 * (next ICCID, files as the profile made them, faults carried over); the
 * first SELECT of a card, and SELECTs of other files, are not. */
static void test_rolling(void)
{
    scb_sim_t *sim = make("{\"iccid\": \"8988300000000000099\", \"files\": ["
                          " {\"df\": \"mf\", \"fid\": \"2F05\", \"size\": 4, \"hex\": \"01020304\","
                          "  \"update\": \"always\"}]}");
    scb_sim_faults_t f;
    TK_EQ_INT(scb_sim_get_faults(sim, &f), 0);
    f.sw_at = 1000;
    f.sw_at_value = 0x6F00;
    TK_EQ_INT(scb_sim_set_faults(sim, &f), 0);
    TK_EQ_INT(scb_sim_set_rolling(sim, 1), 0);
    TK_EQ_INT(SW("00A4080C022FE2"), 0x9000); /* the card's first command: this card */
    TK_EQ_INT(SW("00B000000A"), 0x9000);
    TK_EQ_HEX(R, RL, "988803000000000090F9"); /* 8988300000000000099: BCD, F-padded */
    TK_EQ_INT(SW("00A4080C022F05"), 0x9000); /* another file: still this card */
    TK_EQ_INT(SW("00D6000002AABB"), 0x9000);
    TK_EQ_INT(SW("0070000001"), 0x9000); /* channel 1 open */
    TK_EQ_INT(scb_sim_apdu_count(sim), 5);

    TK_EQ_INT(SW("00A4080C022FE2"), 0x9000); /* a host starts on the next card */
    TK_EQ_INT(scb_sim_apdu_count(sim), 1);
    TK_EQ_INT(SW("00B000000A"), 0x9000);
    TK_EQ_HEX(R, RL, "988803000000000001F0"); /* ...099 + 1 = ...100 */
    TK_EQ_INT(SW("00A4080C022F05"), 0x9000);
    TK_EQ_INT(SW("00B0000004"), 0x9000);
    TK_EQ_HEX(R, RL, "01020304"); /* the profile's content, not the last card's */
    TK_EQ_INT(SW("01A4080C022F05"), 0x6881); /* channel 1: closed with the old card */
    TK_EQ_INT(scb_sim_get_faults(sim, &f), 0);
    TK_EQ_INT(f.sw_at, 1000);
    TK_EQ_INT(f.sw_at_value, 0x6F00);
    TK_EQ_INT(SW("00A40000022FE2"), 0x9000); /* by FID: a new card too */
    TK_EQ_INT(SW("00B000000A"), 0x9000);
    TK_EQ_HEX(R, RL, "988803000000000001F1"); /* ...101 */
    TK_EQ_INT(scb_sim_set_rolling(sim, 0), 0); /* off: one card again */
    TK_EQ_INT(SW("00A4080C022FE2"), 0x9000);
    TK_EQ_INT(SW("00B000000A"), 0x9000);
    TK_EQ_HEX(R, RL, "988803000000000001F1"); /* ...101 */
    scb_sim_free(&sim);

    /* The line ends where the ICCID cannot count on. */
    sim = make("{\"iccid\": \"9999\"}");
    TK_EQ_INT(scb_sim_set_rolling(sim, 1), 0);
    TK_EQ_INT(SW("00A4080C022FE2"), 0x9000);
    uint8_t cmd[7] = {0x00, 0xA4, 0x08, 0x0C, 0x02, 0x2F, 0xE2};
    size_t n = sizeof(R);
    TK_EQ_INT(scb_sim_process(sim, cmd, sizeof(cmd), R, &n), SCB_E_UNSUPPORTED);
    scb_sim_free(&sim);
}

int main(void)
{
    TK_RUN(test_atr);
    TK_RUN(test_mf_and_efdir);
    TK_RUN(test_select_rules);
    TK_RUN(test_class_and_lengths);
    TK_RUN(test_channels);
    TK_RUN(test_t0);
    TK_RUN(test_extended_and_files);
    TK_RUN(test_dodf_forms);
    TK_RUN(test_pin);
    TK_RUN(test_aodf);
    TK_RUN(test_get_data);
    TK_RUN(test_profile_errors);
    TK_RUN(test_bootstrap_json);
    TK_RUN(test_default_profile_file);
    TK_RUN(test_faults);
    TK_RUN(test_card_handle);
    TK_RUN(test_rolling);
    return tk_done();
}
