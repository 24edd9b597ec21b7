/*
 * Cross-check of two independent hands: the library's SCP03 host (public
 * API only: scb_card_*, scb_channel_*, scb_scp03_*, scb_put_keys) against
 * the virtual card's Security Domain, over the in-process transport.
 * Every level, S8/S16, AES-128/192/256, logical channels, T=0, extended
 * length, PUT KEY, KDF3, and the card's faults as the host reports them.
 */
#include "sim_internal.h"
#include "sim_rig.h"

static const uint8_t GP[16] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                               0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F};

/* Logical channel, SELECT the PKCS#15 ADF, open SCP03 at level with the
 * boolean option flag set (SCB_OPT_S16, SCB_OPT_KDF3, ...; 0: none),
 * checking the pseudo-random challenge against the default SD AID unless
 * no_sd_aid. */
static int lib_session_x(rig_t *r, uint8_t level, int flag, bool channel, bool no_sd_aid)
{
    if (flag != 0)
        TK_EQ_RC(scb_opts_set_int(r->opts, flag, 1), SCB_OK);
    if (no_sd_aid)
        TK_EQ_RC(scb_opts_unset(r->opts, SCB_OPT_SD_AID), SCB_OK);
    return rig_session(r, channel, level);
}

static int lib_session(rig_t *r, uint8_t level, int flag, bool channel)
{
    return lib_session_x(r, level, flag, channel, false);
}

/* A session forced into S8 mode ("s16" set to false). */
static int lib_session_s8(rig_t *r)
{
    TK_EQ_RC(scb_opts_set_int(r->opts, SCB_OPT_S16, 0), SCB_OK);
    return rig_session(r, false, 0x33);
}

/* SELECT the bootstrap EF and read it with READ BINARY APDUs through
 * scb_card_transmit (Le 00: the card sizes each chunk for the level). */
static int read_bootstrap(rig_t *r, uint8_t *buf, size_t *len)
{
    int rc = scb_select_fid(r->card, 0x6432, SCB_SEL_NO_RESP, NULL);
    size_t got = 0;
    while (rc == 0 && got < 1024) {
        uint8_t cmd[5] = {0x00, 0xB0, (uint8_t)(got >> 8), (uint8_t)got, 0x00};
        uint8_t resp[300];
        size_t rl = sizeof(resp);
        rc = scb_card_transmit(r->card, cmd, sizeof(cmd), resp, &rl);
        if (rc == 0 && (rl < 3 || scb_card_last_sw(r->card) != 0x9000 || got + rl - 2 > *len))
            rc = scb_card_last_sw(r->card) == 0x6982 ? SCB_E_SECURITY_STATUS : SCB_E_STATUS;
        if (rc == 0) {
            memcpy(buf + got, resp, rl - 2);
            got += rl - 2;
        }
    }
    *len = got;
    if (rc != 0 && getenv("SIM_DEBUG"))
        fprintf(stderr, "  read: %s (%s)\n", scb_error_name(rc), scb_card_errmsg(r->card));
    return rc;
}

/* UPDATE BINARY through scb_card_transmit. */
static int update(rig_t *r, size_t offset, const uint8_t *data, size_t n)
{
    uint8_t cmd[5 + 255], resp[64];
    size_t rl = sizeof(resp);
    cmd[0] = 0x00;
    cmd[1] = 0xD6;
    cmd[2] = (uint8_t)(offset >> 8);
    cmd[3] = (uint8_t)offset;
    cmd[4] = (uint8_t)n;
    memcpy(cmd + 5, data, n);
    int rc = scb_card_transmit(r->card, cmd, 5 + n, resp, &rl);
    if (rc == 0 && scb_card_last_sw(r->card) != 0x9000)
        rc = SCB_E_STATUS;
    return rc;
}

static void test_levels_modes_keys(void)
{
    static const uint8_t levels[] = {0x01, 0x03, 0x11, 0x13, 0x33};
    static const char *keys[3] = {
        "404142434445464748494A4B4C4D4E4F",
        "404142434445464748494A4B4C4D4E4F5051525354555657",
        "404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F"};
    for (int k = 0; k < 3; k++) {
        for (int s16 = 0; s16 < 2; s16++) {
            for (size_t l = 0; l < sizeof(levels); l++) {
                char profile[400];
                uint8_t key[32], buf[1024];
                size_t klen = tk_unhex(keys[k], key, sizeof(key)), n = sizeof(buf);
                rig_t r;
                int before = tk_failures;
                snprintf(profile, sizeof(profile),
                         "{\"scp03\": {\"s16\": %s, \"level_required\": %u, \"keys\": "
                         "{\"enc\": \"%s\", \"mac\": \"%s\", \"dek\": \"%s\"}}}",
                         s16 ? "true" : "false", levels[l], keys[k], keys[k], keys[k]);
                rig_open(&r, profile, key, klen, 0x30);
                int rc = lib_session(&r, levels[l], s16 ? SCB_OPT_S16 : 0, l % 2 == 0);
                TK_EQ_RC(rc, SCB_OK);
                if (rc != 0)
                    fprintf(stderr, "  key %zu s16 %d level %02X: %s\n", klen, s16, levels[l],
                            scb_card_errmsg(r.card));
                scb_scp03_info_t info;
                TK_EQ_RC(scb_scp03_info(r.card, &info), SCB_OK);
                TK_EQ_INT(info.challenge_verified, 1);
                TK_EQ_INT(info.s16, s16);
                TK_EQ_INT(scb_sim_session_level(r.sim, scb_card_channel(r.card)), levels[l]);
                TK_EQ_RC(read_bootstrap(&r, buf, &n), SCB_OK);
                TK_EQ_INT(n, 1024);
                TK_EQ_MEM(buf, sim_default_bootstrap_len, sim_default_bootstrap,
                          sim_default_bootstrap_len);
                /* write under the session (C-DEC of a full data field), read back */
                uint8_t patch[200];
                for (size_t i = 0; i < sizeof(patch); i++)
                    patch[i] = (uint8_t)(i * 7 + levels[l]);
                TK_EQ_RC(update(&r, 700, patch, sizeof(patch)), SCB_OK);
                uint8_t path[4] = {0x50, 0x15, 0x64, 0x32}, f[1024];
                size_t fn = sizeof(f);
                scb_sim_read_file(r.sim, path, 4, f, &fn);
                TK_EQ_MEM(f + 700, sizeof(patch), patch, sizeof(patch));
                n = sizeof(buf);
                TK_EQ_RC(read_bootstrap(&r, buf, &n), SCB_OK);
                TK_EQ_MEM(buf + 700, sizeof(patch), patch, sizeof(patch));
                if (tk_failures != before)
                    fprintf(stderr, "  ^ AES-%zu %s level %02X on channel %u\n", klen * 8,
                            s16 ? "S16" : "S8", levels[l], scb_card_channel(r.card));
                rig_close(&r);
            }
        }
    }
}

static void test_refusals(void)
{
    rig_t r;
    uint8_t buf[1024];
    size_t n = sizeof(buf);
    /* default card requires 33: 13 opens, the EF refuses (6982) */
    rig_open(&r, NULL, GP, 16, 0x30);
    TK_EQ_RC(lib_session(&r, 0x13, 0, true), SCB_OK);
    TK_EQ_RC(read_bootstrap(&r, buf, &n), SCB_E_SECURITY_STATUS);
    TK_EQ_INT(scb_card_last_sw(r.card), 0x6982);
    rig_close(&r);
    /* wrong keys: the pseudo-random challenge already gives it away; without
     * the SD AID the card cryptogram does not verify */
    static const uint8_t other[16] = {1};
    rig_open(&r, NULL, other, 16, 0x30);
    TK_EQ_RC(lib_session(&r, 0x33, 0, true), SCB_E_SCP_CHALLENGE);
    rig_close(&r);
    rig_open(&r, NULL, other, 16, 0x30);
    TK_EQ_RC(lib_session_x(&r, 0x33, 0, true, true), SCB_E_SCP_CARD_CRYPTOGRAM);
    rig_close(&r);
    /* an SD AID other than the card's: the challenge does not match */
    rig_open(&r, "{\"scp03\": {\"sd_aid\": \"A000000151000000\"}}", GP, 16, 0x30);
    TK_EQ_RC(lib_session(&r, 0x33, 0, true), SCB_E_SCP_CHALLENGE);
    rig_close(&r);
    /* unknown KVN */
    rig_open(&r, NULL, GP, 16, 0x31);
    TK_CHECK(lib_session(&r, 0x33, 0, true) != SCB_OK);
    TK_EQ_INT(scb_card_last_sw(r.card), 0x6A88);
    rig_close(&r);
    /* R-ENC/R-MAC not offered by i = 10 */
    rig_open(&r, "{\"scp03\": {\"i\": \"0x10\"}}", GP, 16, 0x30);
    TK_EQ_RC(lib_session(&r, 0x33, 0, true), SCB_E_SCP_LEVEL);
    rig_close(&r);
    /* an S16 card: a host forced into S8 gets 6700 to its 8-byte challenge;
     * a host that leaves the mode open finds S16 (6700, then 16 bytes) */
    rig_open(&r, "{\"scp03\": {\"s16\": true}}", GP, 16, 0x30);
    TK_CHECK(lib_session_s8(&r) != SCB_OK);
    TK_EQ_INT(scb_card_last_sw(r.card), 0x6700);
    rig_close(&r);
    rig_open(&r, "{\"scp03\": {\"s16\": true}}", GP, 16, 0x30);
    TK_EQ_RC(lib_session(&r, 0x33, 0, true), SCB_OK);
    scb_scp03_info_t info;
    TK_EQ_RC(scb_scp03_info(r.card, &info), SCB_OK);
    TK_EQ_INT(info.s16, 1);
    rig_close(&r);
}

static void test_channel_variants(void)
{
    /* MAC over the CLA: the card's choice vs the host's flag, on channel 1 */
    static const struct {
        const char *mode;
        int flag;
        bool ok;
    } m[] = {{"cleared", 0, true},
             {"as_sent", SCB_OPT_MAC_CLA_AS_SENT, true},
             {"either", SCB_OPT_MAC_CLA_AS_SENT, true},
             {"cleared", SCB_OPT_MAC_CLA_AS_SENT, false}};
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        char profile[128];
        uint8_t buf[1024];
        size_t n = sizeof(buf);
        rig_t r;
        snprintf(profile, sizeof(profile), "{\"scp03\": {\"mac_cla\": \"%s\"}}", m[i].mode);
        rig_open(&r, profile, GP, 16, 0x30);
        int rc = lib_session(&r, 0x33, m[i].flag, true);
        TK_EQ_INT(rc == SCB_OK, m[i].ok);
        if (rc == SCB_OK)
            TK_EQ_RC(read_bootstrap(&r, buf, &n), SCB_OK);
        rig_close(&r);
    }
    /* counter that counts only commands with data */
    for (int card = 0; card < 2; card++) {
        uint8_t buf[1024];
        size_t n = sizeof(buf);
        rig_t r;
        rig_open(&r, card ? "{\"scp03\": {\"counter_data_only\": true}}" : NULL, GP, 16, 0x30);
        TK_EQ_RC(lib_session(&r, 0x33, card ? SCB_OPT_COUNT_DATA_ONLY : 0, true), SCB_OK);
        TK_EQ_RC(read_bootstrap(&r, buf, &n), SCB_OK);
        TK_EQ_MEM(buf, sim_default_bootstrap_len, sim_default_bootstrap, sim_default_bootstrap_len);
        rig_close(&r);
    }
    /* T=0 (61xx + GET RESPONSE under the session) and extended length */
    static const char *transports[] = {"{\"t0\": true}", "{\"extended_length\": true}"};
    for (int t = 0; t < 2; t++) {
        uint8_t buf[1024];
        size_t n = sizeof(buf);
        rig_t r;
        rig_open(&r, transports[t], GP, 16, 0x30);
        TK_EQ_RC(lib_session(&r, 0x33, 0, true), SCB_OK);
        TK_EQ_RC(read_bootstrap(&r, buf, &n), SCB_OK);
        TK_EQ_MEM(buf, sim_default_bootstrap_len, sim_default_bootstrap, sim_default_bootstrap_len);
        rig_close(&r);
    }
}

static void test_put_keys(void)
{
    static const uint8_t k1[16] = {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
                                   0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F};
    rig_t r;
    scb_keys_t *nk = NULL;
    uint8_t buf[1024];
    size_t n = sizeof(buf);
    rig_open(&r, NULL, GP, 16, 0x30);
    TK_EQ_RC(lib_session(&r, 0x33, 0, false), SCB_OK);
    TK_EQ_RC(scb_keys_new(&nk, k1, k1, k1, 16, 0x31), SCB_OK);
    TK_EQ_RC(scb_put_keys(r.card, nk, 0), SCB_OK);       /* add 31 */
    TK_EQ_RC(scb_put_keys(r.card, nk, 0), SCB_E_STATUS); /* 31 exists: 6A80 */
    TK_EQ_INT(scb_card_last_sw(r.card), 0x6A80);
    scb_keys_free(&r.keys);
    r.keys = nk;
    /* re-selecting the application ends the card's session (GP): close ours first */
    TK_EQ_RC(scb_scp03_close(r.card), SCB_OK);
    TK_EQ_RC(lib_session(&r, 0x33, 0, false), SCB_OK);
    TK_EQ_RC(read_bootstrap(&r, buf, &n), SCB_OK);
    rig_close(&r);
}

static void test_kdf3(void)
{
    rig_t r;
    uint8_t buf[1024];
    size_t n = sizeof(buf);
    /* master 40..4F on the card; the host diversifies with the card's KDD */
    rig_open(&r, "{\"scp03\": {\"keys\": {\"master\": \"404142434445464748494A4B4C4D4E4F\"}}}",
             GP, 16, 0x30);
    TK_EQ_RC(lib_session(&r, 0x33, SCB_OPT_KDF3, true), SCB_OK);
    TK_EQ_RC(read_bootstrap(&r, buf, &n), SCB_OK);
    rig_close(&r);
}

/* The card's faults, as the host reports them. */
static void test_faults(void)
{
    static const struct {
        const char *profile;
        int during_open;   /* 1: the handshake fails, 0: the read fails */
        int rc;
    } f[] = {
        {"{\"faults\": {\"bad_card_cryptogram\": true}}", 1, SCB_E_SCP_CARD_CRYPTOGRAM},
        {"{\"faults\": {\"bad_challenge\": true}}", 1, SCB_E_SCP_CHALLENGE},
        {"{\"faults\": {\"kvn_mismatch\": true}}", 1, SCB_E_SCP_KVN},
        {"{\"faults\": {\"corrupt_rmac_at\": 7}}", 0, SCB_E_SCP_RMAC},
        {"{\"faults\": {\"bad_padding_at\": 7}}", 0, SCB_E_SCP_PADDING},
        {"{\"faults\": {\"disconnect_after\": 6}}", 0, SCB_E_CARD_REMOVED},
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        rig_t r;
        uint8_t buf[1024];
        size_t n = sizeof(buf);
        rig_open(&r, f[i].profile, GP, 16, 0x30);
        /* APDUs: 1 MANAGE CHANNEL, 2 SELECT, 3 IU, 4 EA, 5 SELECT EF, 6.. READ */
        int rc = lib_session(&r, 0x33, 0, true);
        if (f[i].during_open) {
            TK_EQ_RC(rc, f[i].rc);
        } else {
            TK_EQ_RC(rc, SCB_OK);
            TK_EQ_RC(read_bootstrap(&r, buf, &n), f[i].rc);
            TK_EQ_INT(scb_scp03_is_open(r.card), 0);
        }
        rig_close(&r);
    }
}

int main(void)
{
    TK_RUN(test_levels_modes_keys);
    TK_RUN(test_refusals);
    TK_RUN(test_channel_variants);
    TK_RUN(test_put_keys);
    TK_RUN(test_kdf3);
    TK_RUN(test_faults);
    return tk_done();
}
