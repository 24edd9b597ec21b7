/*
 * The secure-messaging layer on its own (scp03_sm.c): what a wrapped
 * command looks like at each level, S8 and S16, short and extended length,
 * the encryption counter in both counting modes, the CLA that enters the
 * C-MAC, the plaintext limits, and that a refused wrap changes nothing.
 * Byte-exact values are checked against the recorded traces
 * (test_scp03_vectors) and against the independent Python host
 * (tests/pyhost); here the structure and the state rules.
 */
#include "scp03.h"
#include "testkit.h"

static scb__scp03_session_t *session(uint8_t level, bool s16, size_t key_len, unsigned flags)
{
    scb__scp03_derived_t d;
    memset(&d, 0, sizeof(d));
    for (size_t i = 0; i < 32; i++) {
        d.s_enc[i] = (uint8_t)(0x10 + i);
        d.s_mac[i] = (uint8_t)(0x40 + i);
        d.s_rmac[i] = (uint8_t)(0x70 + i);
    }
    d.key_len = key_len;
    d.cryptogram_len = s16 ? 16 : 8;
    scb__scp03_session_t *s = NULL;
    TK_EQ_RC(scb__scp03_session_new(&s, &d, NULL, level, flags | (s16 ? SCB__SCP_S16 : 0)), SCB_OK);
    return s;
}

static scb_apdu_t cmd(uint8_t cla, uint8_t ins, const uint8_t *data, size_t lc, bool le)
{
    scb_apdu_t a = {.cla = cla,
                    .ins = ins,
                    .p1 = 0x01,
                    .p2 = 0x02,
                    .data = data,
                    .lc = lc,
                    .ne = le ? 256 : 0,
                    .has_le = le};
    return a;
}

static int wrap(scb__scp03_session_t *s, const scb_apdu_t *in, bool ext_ok, scb_apdu_t *out,
                uint8_t *buf)
{
    char detail[160] = "";
    int rc = scb__scp03_wrap(s, in, 0x84, ext_ok, false, out, buf, 600, detail, sizeof(detail));
    if (rc != SCB_OK)
        TK_CHECK(strlen(detail) > 5);
    return rc;
}

static void test_lengths_per_level(void)
{
    uint8_t data[300], buf[600];
    memset(data, 0xA5, sizeof(data));
    static const struct {
        uint8_t level;
        bool s16;
        size_t lc, want_lc;
    } cases[] = {
        {0x01, false, 0, 8}, /* C-MAC only: data || MAC */
        {0x01, false, 10, 18},
        {0x03, false, 0, 8},  /* empty data field: not encrypted, not padded */
        {0x03, false, 1, 24}, /* 1 byte pads to one block */
        {0x03, false, 15, 24},
        {0x03, false, 16, 40},   /* a whole block still gets 80 00.. */
        {0x33, false, 239, 248}, /* the largest short plaintext in S8 */
        {0x01, true, 10, 26},
        {0x03, true, 223, 240}, /* the largest short plaintext in S16 */
        {0x13, true, 0, 16},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        scb__scp03_session_t *s = session(cases[i].level, cases[i].s16, 16, 0);
        scb_apdu_t in = cmd(0x80, 0xCA, data, cases[i].lc, true), out;
        TK_EQ_RC(wrap(s, &in, false, &out, buf), SCB_OK);
        TK_EQ_INT(out.lc, cases[i].want_lc);
        TK_EQ_INT(out.cla, 0x84);
        TK_CHECK(out.ins == 0xCA && out.p1 == 0x01 && out.p2 == 0x02);
        TK_CHECK(out.has_le && out.ne == 256); /* Le travels, outside the MAC */
        TK_CHECK(!out.extended);
        TK_CHECK(out.data == buf);
        if (!(cases[i].level & SCB_SL_CDEC))
            TK_EQ_MEM(buf, cases[i].lc, data, cases[i].lc); /* data in clear */
        else if (cases[i].lc > 0)
            TK_CHECK(memcmp(buf, data, cases[i].lc < 16 ? cases[i].lc : 16) != 0);
        scb__scp03_session_free(&s);
        TK_CHECK(s == NULL);
    }
    /* level 00: commands travel unchanged */
    scb__scp03_session_t *s = session(0x00, false, 16, 0);
    scb_apdu_t in = cmd(0x00, 0xB0, NULL, 0, true), out;
    TK_EQ_RC(wrap(s, &in, false, &out, buf), SCB_OK);
    TK_CHECK(out.cla == 0x00 && out.lc == 0 && out.has_le);
    scb__scp03_session_free(&s);
    /* a CLA that already signals secure messaging is not plain */
    s = session(0x01, false, 16, 0);
    in = cmd(0x84, 0xCA, NULL, 0, true);
    TK_EQ_RC(wrap(s, &in, false, &out, buf), SCB_E_INVALID_ARG);
    scb__scp03_session_free(&s);
}

/* Wrapping `second` after `first` on a fresh session: the MAC of second. */
static void mac_after(uint8_t level, unsigned flags, const scb_apdu_t *first,
                      const scb_apdu_t *second, bool ext_ok, uint8_t *out_data, size_t *out_lc)
{
    scb__scp03_session_t *s = session(level, false, 16, flags);
    uint8_t buf[600];
    scb_apdu_t out;
    if (first != NULL)
        TK_EQ_RC(wrap(s, first, ext_ok, &out, buf), SCB_OK);
    TK_EQ_RC(wrap(s, second, ext_ok, &out, buf), SCB_OK);
    memcpy(out_data, out.data, out.lc);
    *out_lc = out.lc;
    scb__scp03_session_free(&s);
}

static void test_refused_wrap_changes_nothing(void)
{
    uint8_t data[300], buf[600], a[600], b[600];
    memset(data, 0x5A, sizeof(data));
    size_t al, bl;
    /* 240 bytes at level 03 S8 wrap to 264: extended, which this path lacks */
    scb__scp03_session_t *s = session(0x03, false, 16, 0);
    scb_apdu_t big = cmd(0x80, 0xE2, data, 240, false), out;
    TK_EQ_RC(wrap(s, &big, false, &out, buf), SCB_E_SCP_TOO_LONG);
    scb_apdu_t small = cmd(0x80, 0xE2, data, 20, false);
    TK_EQ_RC(wrap(s, &small, false, &out, buf), SCB_OK);
    memcpy(a, out.data, out.lc);
    al = out.lc;
    scb__scp03_session_free(&s);
    mac_after(0x03, 0, NULL, &small, false, b, &bl); /* as if first */
    TK_EQ_MEM(a, al, b, bl);
    /* beyond any APDU */
    uint8_t *huge = calloc(1, 65535);
    s = session(0x03, false, 16, 0);
    scb_apdu_t h = cmd(0x80, 0xE2, huge, 65530, false);
    TK_EQ_RC(wrap(s, &h, true, &out, buf), SCB_E_SCP_TOO_LONG);
    scb__scp03_session_free(&s);
    free(huge);
}

static void test_extended_length(void)
{
    uint8_t data[300], buf[600], a[600], b[600];
    memset(data, 0x5A, sizeof(data));
    size_t al, bl;
    scb__scp03_session_t *s = session(0x03, false, 16, 0);
    scb_apdu_t big = cmd(0x80, 0xE2, data, 255, true), out;
    TK_EQ_RC(wrap(s, &big, true, &out, buf), SCB_OK);
    TK_CHECK(out.extended);
    TK_EQ_INT(out.lc, 256 + 8);
    TK_CHECK(out.has_le && out.ne == 256);
    scb__scp03_session_free(&s);
    /* forcing extended on a small command changes Lc' in the MAC (00 xx xx) */
    scb_apdu_t small = cmd(0x80, 0xE2, data, 20, false);
    scb_apdu_t forced = small;
    forced.extended = true;
    mac_after(0x01, 0, NULL, &small, true, a, &al);
    mac_after(0x01, 0, NULL, &forced, true, b, &bl);
    TK_EQ_INT(al, bl);
    TK_EQ_MEM(a, 20, b, 20);
    TK_CHECK(memcmp(a + 20, b + 20, 8) != 0);
    /* Le beyond 256 makes the command extended too */
    scb_apdu_t longle = small;
    longle.ne = 1000;
    longle.has_le = true;
    s = session(0x01, false, 16, 0);
    TK_EQ_RC(wrap(s, &longle, true, &out, buf), SCB_OK);
    TK_CHECK(out.extended && out.ne == 1000);
    scb__scp03_session_free(&s);
}

static void test_counter_modes(void)
{
    /* The ciphertext of a command depends on S-ENC, the counter and the
     * data only; the MAC chain is separate. Counting every command puts
     * the data command after a no-data one at counter 2; counting data
     * commands only puts it at 1, like a first command. */
    uint8_t data[16] = {1, 2, 3}, x[600], y[600], z[600];
    size_t xl, yl, zl;
    scb_apdu_t nodata = cmd(0x80, 0xF2, NULL, 0, true);
    scb_apdu_t withdata = cmd(0x80, 0xE2, data, 3, false);
    mac_after(0x03, 0, &nodata, &withdata, false, x, &xl);
    mac_after(0x03, SCB__SCP_COUNT_DATA_ONLY, &nodata, &withdata, false, y, &yl);
    mac_after(0x03, 0, NULL, &withdata, false, z, &zl);
    TK_EQ_MEM(y, 16, z, 16);
    TK_CHECK(memcmp(x, z, 16) != 0);
    /* two data commands: both modes count alike */
    mac_after(0x03, 0, &withdata, &withdata, false, x, &xl);
    mac_after(0x03, SCB__SCP_COUNT_DATA_ONLY, &withdata, &withdata, false, y, &yl);
    TK_EQ_MEM(x, xl, y, yl);
    /* the EXTERNAL AUTHENTICATE wrap does not count */
    scb__scp03_session_t *s = session(0x03, false, 16, 0);
    uint8_t buf[600];
    scb_apdu_t out;
    char detail[100];
    uint8_t hc[8] = {0};
    scb_apdu_t ea = cmd(0x80, 0x82, hc, 8, false);
    TK_EQ_RC(
        scb__scp03_wrap(s, &ea, 0x84, false, true, &out, buf, sizeof(buf), detail, sizeof(detail)),
        SCB_OK);
    TK_EQ_INT(out.lc, 16); /* C-MAC only, whatever the level */
    TK_EQ_MEM(out.data, 8, hc, 8);
    TK_EQ_RC(wrap(s, &withdata, false, &out, buf), SCB_OK);
    TK_EQ_MEM(out.data, 16, z, 16); /* still counter 1 */
    scb__scp03_session_free(&s);
}

static void test_mac_cla(void)
{
    scb__scp03_session_t *spec = session(0x01, false, 16, 0);
    scb__scp03_session_t *sent = session(0x01, false, 16, SCB__SCP_MAC_CLA_AS_SENT);
    /* first interindustry: channel in b2-b1 */
    TK_EQ_INT(scb__scp03_mac_cla(spec, 0x84), 0x84);
    TK_EQ_INT(scb__scp03_mac_cla(spec, 0x87), 0x84);
    TK_EQ_INT(scb__scp03_mac_cla(spec, 0x05), 0x04);
    /* further interindustry: channel - 4 in b4-b1 */
    TK_EQ_INT(scb__scp03_mac_cla(spec, 0xE0), 0xE0);
    TK_EQ_INT(scb__scp03_mac_cla(spec, 0xEF), 0xE0);
    TK_EQ_INT(scb__scp03_mac_cla(spec, 0x63), 0x60);
    TK_EQ_INT(scb__scp03_mac_cla(sent, 0x87), 0x87);
    TK_EQ_INT(scb__scp03_mac_cla(sent, 0xEF), 0xEF);
    /* the CLA given enters the MAC */
    uint8_t buf[600], m1[8], m2[8];
    char detail[100];
    scb_apdu_t in = cmd(0x80, 0xCA, NULL, 0, true), out;
    TK_EQ_RC(scb__scp03_wrap(spec, &in, 0x84, false, false, &out, buf, 600, detail, 100), SCB_OK);
    memcpy(m1, buf, 8);
    TK_EQ_RC(scb__scp03_wrap(sent, &in, 0x85, false, false, &out, buf, 600, detail, 100), SCB_OK);
    memcpy(m2, buf, 8);
    TK_CHECK(memcmp(m1, m2, 8) != 0);
    scb__scp03_session_free(&spec);
    scb__scp03_session_free(&sent);
}

static void test_max_plain(void)
{
    static const struct {
        uint8_t level;
        bool s16;
        size_t resp, cmd;
    } cases[] = {
        {0x00, false, 256, 255}, {0x01, false, 256, 247}, {0x03, false, 256, 239},
        {0x11, false, 248, 247}, {0x13, false, 248, 239}, {0x33, false, 239, 239},
        {0x01, true, 256, 239},  {0x03, true, 256, 223},  {0x11, true, 240, 239},
        {0x13, true, 240, 223},  {0x33, true, 239, 223},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        scb__scp03_session_t *s = session(cases[i].level, cases[i].s16, 16, 0);
        TK_EQ_INT(scb__scp03_max_plain_resp(s), cases[i].resp);
        TK_EQ_INT(scb__scp03_max_plain_cmd(s), cases[i].cmd);
        /* the command bound is exact: one more byte no longer fits short */
        uint8_t data[256] = {0}, buf[600];
        scb_apdu_t in = cmd(0x80, 0xE2, data, cases[i].cmd, false), out;
        if (cases[i].level != 0) {
            TK_EQ_RC(wrap(s, &in, false, &out, buf), SCB_OK);
            TK_CHECK(out.lc <= 255);
            in.lc++;
            TK_EQ_RC(wrap(s, &in, false, &out, buf), SCB_E_SCP_TOO_LONG);
        }
        scb__scp03_session_free(&s);
    }
}

static void test_key_lengths(void)
{
    /* AES-192/256 session keys: same shapes */
    for (size_t kl = 16; kl <= 32; kl += 8) {
        scb__scp03_session_t *s = session(0x33, true, kl, 0);
        uint8_t data[40] = {7}, buf[600], out_plain[64];
        scb_apdu_t in = cmd(0x80, 0xE2, data, 40, true), out;
        TK_EQ_RC(wrap(s, &in, false, &out, buf), SCB_OK);
        TK_EQ_INT(out.lc, 48 + 16);
        /* an error status passes unauthenticated but without data */
        size_t ol = sizeof(out_plain);
        char detail[100];
        TK_EQ_RC(scb__scp03_unwrap(s, NULL, 0, 0x6982, out_plain, &ol, detail, 100), SCB_OK);
        TK_EQ_INT(ol, 0);
        scb__scp03_session_free(&s);
    }
}

int main(void)
{
    TK_RUN(test_lengths_per_level);
    TK_RUN(test_refused_wrap_changes_nothing);
    TK_RUN(test_extended_length);
    TK_RUN(test_counter_modes);
    TK_RUN(test_mac_cla);
    TK_RUN(test_max_plain);
    TK_RUN(test_key_lengths);
    return tk_done();
}
