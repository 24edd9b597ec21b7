/*
 * Transports that open logical channels themselves (scb_transport_t
 * channel_open / channel_transmit / channel_close), against the virtual
 * card. The transport here plays the part 3GPP TS 27.007 gives a modem's
 * MT for +CCHO / +CGLA / +CCHC: it opens the channel with MANAGE CHANNEL
 * and selects the application on it, and sets the channel bits of the CLA
 * of whatever it sends on the session (8.45). It tells the card's channel
 * number or keeps it to itself, and may refuse MANAGE CHANNEL coming from
 * the library (answering 6E00 as a filter in a modem does).
 *
 * What is checked: the job reads through such a channel at level 0x33; the
 * trace's commands and the count are exactly what the library gave the
 * transport (its own MANAGE CHANNEL / SELECT are no APDUs of the
 * library's, they are notes); with a known number the library's CLA names
 * the channel and mac_cla_as_sent works; without it mac_cla_as_sent is
 * refused before INITIALIZE UPDATE; channels the handle left open are
 * closed at free; a version-1 transport struct is still accepted.
 */
#include "internal.h"
#include "scboot_sim.h"
#include "testkit.h"

#define AID_HEX "A000000063504B43532D3135"

typedef struct {
    scb_sim_t *sim;
    bool tell;                /* report the channel number from channel_open */
    int route;                /* answer to SCB_TPQ_CHANNELS, -1: no answer */
    bool refuse_manage;       /* answer 6E00 to MANAGE CHANNEL from the library */
    int opens, closes;        /* channel operations seen */
    char given[128][2 * 300 + 1]; /* what the library handed over (transmit, channel_transmit) */
    size_t ngiven;
    uint8_t last_cla;         /* CLA of the last command on a session, as given */
} mt_t;

static void log_given(mt_t *m, const uint8_t *cmd, size_t len)
{
    if (m->ngiven < SCB_ARRAY_LEN(m->given))
        tk_hex(cmd, len, m->given[m->ngiven++], sizeof(m->given[0]));
}

static int card_apdu(mt_t *m, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
    return scb_sim_process(m->sim, cmd, len, resp, resp_len);
}

static int mt_transmit(void *user, const uint8_t *cmd, size_t len, uint8_t *resp,
                       size_t *resp_len)
{
    mt_t *m = user;
    log_given(m, cmd, len);
    if (m->refuse_manage && len >= 2 && cmd[1] == 0x70) {
        resp[0] = 0x6E;
        resp[1] = 0x00;
        *resp_len = 2;
        return 0;
    }
    return card_apdu(m, cmd, len, resp, resp_len);
}

/* Sessions are 100 + the card's channel (1..3: first interindustry CLA). */
static int mt_open(void *user, const uint8_t *aid, size_t aid_len, long *session, int *number)
{
    mt_t *m = user;
    m->opens++;
    uint8_t r[300];
    size_t rl = sizeof(r);
    const uint8_t mc[5] = {0x00, 0x70, 0x00, 0x00, 0x01};
    if (card_apdu(m, mc, sizeof(mc), r, &rl) != 0 || rl != 3 || r[1] != 0x90)
        return SCB_E_NO_CHANNEL;
    const uint8_t ch = r[0];
    uint8_t sel[5 + 16] = {ch, 0xA4, 0x04, 0x0C, (uint8_t)aid_len};
    memcpy(sel + 5, aid, aid_len);
    rl = sizeof(r);
    if (card_apdu(m, sel, 5 + aid_len, r, &rl) != 0 || rl != 2 || r[0] != 0x90) {
        const uint8_t close[4] = {0x00, 0x70, 0x80, ch};
        size_t cl = sizeof(r);
        card_apdu(m, close, sizeof(close), r, &cl);
        return SCB_E_NOT_FOUND;
    }
    *session = 100 + ch;
    *number = m->tell ? ch : -1;
    return 0;
}

static int mt_channel_transmit(void *user, long session, const uint8_t *cmd, size_t len,
                               uint8_t *resp, size_t *resp_len)
{
    mt_t *m = user;
    log_given(m, cmd, len);
    m->last_cla = cmd[0];
    uint8_t c[SCB__CMD_MAX];
    memcpy(c, cmd, len);
    c[0] = (uint8_t)((c[0] & 0xFC) | (session - 100)); /* the MT sets the channel */
    return card_apdu(m, c, len, resp, resp_len);
}

static int mt_close(void *user, long session)
{
    mt_t *m = user;
    m->closes++;
    const uint8_t close[4] = {0x00, 0x70, 0x80, (uint8_t)(session - 100)};
    uint8_t r[8];
    size_t rl = sizeof(r);
    return card_apdu(m, close, sizeof(close), r, &rl);
}

static int mt_query(void *user, int what, long *value)
{
    mt_t *m = user;
    if (what != SCB_TPQ_CHANNELS || m->route < 0)
        return SCB_E_UNSUPPORTED;
    *value = m->route;
    return 0;
}

typedef struct {
    mt_t mt;
    scb_card_t *card;
    scb_keys_t *keys;
    tk_trace_t trace;
} rig_t;

static rig_t *rig(const char *profile, bool tell, int route)
{
    rig_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    char detail[256] = "";
    if (scb_sim_new_from_json(&r->mt.sim, profile, detail, sizeof(detail)) != 0) {
        fprintf(stderr, "profile: %s\n", detail);
        abort();
    }
    TK_EQ_RC(scb_sim_host_keys(r->mt.sim, &r->keys), SCB_OK);
    r->mt.tell = tell;
    r->mt.route = route;
    scb_transport_t tp = {0};
    tp.version = SCB_TRANSPORT_VERSION;
    tp.user = &r->mt;
    tp.transmit = mt_transmit;
    tp.channel_open = mt_open;
    tp.channel_transmit = mt_channel_transmit;
    tp.channel_close = mt_close;
    tp.query = mt_query;
    tp.channel_open_name = "OPEN";
    tp.channel_close_name = "CLOSE";
    TK_EQ_RC(scb_card_open_transport(&r->card, &tp), SCB_OK);
    tk_trace_on(r->card, &r->trace);
    return r;
}

static void rig_free(rig_t *r)
{
    scb_card_free(&r->card);
    scb_keys_free(&r->keys);
    scb_sim_free(&r->mt.sim);
    free(r);
}

static bool traced(const rig_t *r, const char *prefix)
{
    return tk_traced(&r->trace, prefix);
}

/* The trace's commands ("A>> 84 B0 ..", masked: header only) are what the
 * transport was given, one for one. */
static void check_trace_is_given(const rig_t *r)
{
    size_t g = 0;
    for (size_t i = 0; i < r->trace.n; i++) {
        const char *l = r->trace.lines[i];
        if (strncmp(l, "A>> ", 4) != 0)
            continue;
        char hex[700];
        size_t o = 0;
        for (const char *p = l + 4; *p && *p != '[' && o + 1 < sizeof(hex); p++)
            if (*p != ' ')
                hex[o++] = *p;
        hex[o] = 0;
        TK_CHECK(g < r->mt.ngiven);
        if (g < r->mt.ngiven) {
            const bool same = strncmp(r->mt.given[g], hex, o) == 0 &&
                              (strchr(l, '[') != NULL || r->mt.given[g][o] == 0);
            TK_CHECK(same);
            if (!same)
                fprintf(stderr, "  traced %s, given %s\n", hex, r->mt.given[g]);
        }
        g++;
    }
    TK_EQ_INT(g, r->mt.ngiven);
    TK_EQ_INT(scb_card_apdu_count(r->card), r->mt.ngiven);
}

static scb_opts_t *g_opts;
static scb_opts_t *opts(void)
{
    scb_opts_free(&g_opts);
    TK_EQ_RC(scb_opts_new(&g_opts), SCB_OK);
    return g_opts;
}

/* The job through the transport's channel, number untold: the CLA goes
 * with channel bits 0, the transport puts it on the channel. */
static void test_read_unnumbered(void)
{
    rig_t *r = rig(NULL, false, -1);
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    TK_EQ_RC(scb_read_bootstrap(r->card, r->keys, opts(), &bs, &info), SCB_OK);
    TK_EQ_INT(info.scp_level, 0x33);
    TK_EQ_INT(info.channel, SCB_CHANNEL_UNNUMBERED);
    TK_EQ_INT(scb_bootstrap_server_count(bs), 1);
    TK_EQ_INT(r->mt.opens, 1);
    TK_EQ_INT(r->mt.closes, 1);
    TK_EQ_INT(r->mt.last_cla & 0x03, 0);
    TK_EQ_INT(info.apdus, r->mt.ngiven);
    fprintf(stderr, "  cold read through the transport's channel: %lu APDUs\n", info.apdus);
    TK_CHECK(traced(r, "# OPEN " AID_HEX " -> session 101"));
    TK_CHECK(traced(r, "# CLOSE session 101"));
    TK_CHECK(!traced(r, "A>> 00 70")); /* no MANAGE CHANNEL from the library */
    check_trace_is_given(r);
    TK_EQ_INT(scb_card_channel(r->card), 0);
    scb_bootstrap_free(&bs);
    rig_free(r);
}

/* Number told: the library's CLA names the channel (the same bits the
 * transport sets), and mac_cla_as_sent agrees with a card that MACs the
 * CLA as it receives it. Untold: mac_cla_as_sent is refused before
 * INITIALIZE UPDATE, with what to do instead. */
static void test_mac_cla_as_sent(void)
{
    const char *as_sent = "{\"scp03\": {\"mac_cla\": \"as_sent\"}}";
    rig_t *r = rig(as_sent, true, -1);
    scb_opts_t *o = opts();
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_MAC_CLA_AS_SENT, 1), SCB_OK);
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    TK_EQ_RC(scb_read_bootstrap(r->card, r->keys, o, &bs, &info), SCB_OK);
    TK_EQ_INT(info.channel, 1);
    TK_EQ_INT(info.scp_level, 0x33);
    TK_EQ_INT(r->mt.last_cla & 0x03, 1);
    TK_CHECK(traced(r, "# OPEN " AID_HEX " -> session 101, logical channel 1"));
    check_trace_is_given(r);
    scb_bootstrap_free(&bs);
    rig_free(r);

    r = rig(as_sent, false, -1);
    o = opts();
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_MAC_CLA_AS_SENT, 1), SCB_OK);
    TK_EQ_RC(scb_read_bootstrap(r->card, r->keys, o, &bs, &info), SCB_E_UNSUPPORTED);
    TK_CHECK(strstr(scb_card_errmsg(r->card), "mac_cla_as_sent") != NULL);
    TK_EQ_INT(r->mt.ngiven, 1); /* EF.DIR's record; no INITIALIZE UPDATE */
    TK_EQ_INT(r->mt.closes, 1);  /* and the channel closed again */
    TK_CHECK(bs == NULL);
    rig_free(r);
}

/* AUTO: MANAGE CHANNEL first; refused by the path (6E00), the transport's
 * channel, decided for the handle. Accepted: MANAGE CHANNEL as always. */
static void test_auto_route(void)
{
    rig_t *r = rig(NULL, false, SCB_TP_CHANNELS_AUTO);
    r->mt.refuse_manage = true;
    scb_bootstrap_t *bs = NULL;
    scb_access_info_t info;
    TK_EQ_RC(scb_read_bootstrap(r->card, r->keys, opts(), &bs, &info), SCB_OK);
    scb_bootstrap_free(&bs);
    TK_EQ_INT(r->mt.opens, 1);
    TK_CHECK(traced(r, "A>> 00 70 00 00 01"));
    TK_CHECK(traced(r, "# MANAGE CHANNEL refused"));
    check_trace_is_given(r);
    const size_t given = r->mt.ngiven;
    TK_EQ_RC(scb_read_bootstrap(r->card, r->keys, opts(), &bs, &info), SCB_OK);
    scb_bootstrap_free(&bs);
    TK_EQ_INT(r->mt.opens, 2);
    TK_CHECK(strcmp(r->mt.given[given], "0070000001") != 0); /* decided: not asked again */
    rig_free(r);

    r = rig(NULL, false, SCB_TP_CHANNELS_AUTO);
    TK_EQ_RC(scb_read_bootstrap(r->card, r->keys, opts(), &bs, &info), SCB_OK);
    scb_bootstrap_free(&bs);
    TK_EQ_INT(r->mt.opens, 0);
    TK_EQ_INT(info.channel, 1);
    rig_free(r);
}

/* An application the transport does not find; a channel without one;
 * channels left open at free. */
static void test_not_found_and_leftovers(void)
{
    rig_t *r = rig(NULL, false, -1);
    scb_opts_t *o = opts();
    const uint8_t other[7] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02};
    TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_AID, other, sizeof(other)), SCB_OK);
    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(scb_read_bootstrap(r->card, r->keys, o, &bs, NULL), SCB_E_NOT_FOUND);
    TK_CHECK(strstr(scb_card_errmsg(r->card),
                    "PKCS#15 application not found on the card: AID A0000000871002") != NULL);
    TK_EQ_INT(r->mt.ngiven, 0);
    uint8_t ch = 0;
    TK_EQ_RC(scb_channel_open(r->card, &ch), SCB_E_UNSUPPORTED);
    TK_CHECK(strstr(scb_card_errmsg(r->card), "OPEN") != NULL);
    scb_access_info_t info;
    TK_EQ_RC(scb_app_open(r->card, r->keys, opts(), &info), SCB_OK);
    TK_EQ_INT(info.channel, SCB_CHANNEL_UNNUMBERED);
    const uint8_t pkcs15[12] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};
    TK_EQ_RC(scb_channel_select(r->card, 0), SCB_OK);
    TK_EQ_RC(scb_channel_open_app(r->card, pkcs15, sizeof(pkcs15), &ch), SCB_OK);
    TK_EQ_INT(ch, SCB_CHANNEL_UNNUMBERED + 1);
    TK_EQ_INT(r->mt.closes, 0);
    scb_card_free(&r->card); /* both are closed */
    TK_EQ_INT(r->mt.closes, 2);
    rig_free(r);
}

/* The struct a program built against version 1 passes ends at close. */
static int v1_transmit(void *user, const uint8_t *cmd, size_t len, uint8_t *resp,
                       size_t *resp_len)
{
    (void)cmd;
    (void)len;
    ++*(int *)user;
    resp[0] = 0x90;
    resp[1] = 0x00;
    *resp_len = 2;
    return 0;
}

static void test_version_1_struct(void)
{
    struct v1 {
        unsigned version;
        void *user;
        unsigned flags;
        int (*transmit)(void *, const uint8_t *, size_t, uint8_t *, size_t *);
        int (*begin)(void *);
        int (*end)(void *);
        void (*close)(void *);
    };
    int calls = 0;
    /* exactly its size on the heap: reading past it is a sanitizer error */
    struct v1 *old = calloc(1, sizeof(*old));
    if (old == NULL)
        abort();
    old->version = 1;
    old->user = &calls;
    old->transmit = v1_transmit;
    scb_card_t *c = NULL;
    TK_EQ_RC(scb_card_open_transport(&c, (const scb_transport_t *)(const void *)old), SCB_OK);
    free(old);
    uint8_t resp[8];
    size_t rl = sizeof(resp);
    TK_EQ_RC(scb_card_transmit(c, (const uint8_t *)"\x00\xA4\x00\x0C", 4, resp, &rl), SCB_OK);
    TK_EQ_INT(calls, 1);
    TK_EQ_INT(scb_card_modem_channels(c), -1);
    TK_EQ_INT(scb_card_modem_cme(c), -1);
    scb_card_free(&c);

    /* channel operations come all three or not at all */
    scb_transport_t tp = {0};
    tp.version = SCB_TRANSPORT_VERSION;
    tp.transmit = v1_transmit;
    tp.user = &calls;
    tp.channel_open = mt_open;
    TK_EQ_RC(scb_card_open_transport(&c, &tp), SCB_E_INVALID_ARG);
    TK_CHECK(c == NULL);
}

int main(void)
{
    TK_RUN(test_read_unnumbered);
    TK_RUN(test_mac_cla_as_sent);
    TK_RUN(test_auto_route);
    TK_RUN(test_not_found_and_leftovers);
    TK_RUN(test_version_1_struct);
    scb_opts_free(&g_opts);
    return tk_done();
}
