/* The virtual card's rig (see sim_rig.h). */
#include "sim_rig.h"

uint16_t rig_rawb(scb_sim_t *sim, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *len)
{
    static const size_t cap = 65536 + 2;
    uint8_t *buf = malloc(cap);
    size_t rl = cap;
    uint16_t sw = 0;
    if (buf == NULL)
        abort();
    *len = 0;
    if (scb_sim_process(sim, cmd, n, buf, &rl) == SCB_OK && rl >= 2) {
        if (resp != NULL)
            memcpy(resp, buf, rl - 2);
        *len = rl - 2;
        sw = (uint16_t)(buf[rl - 2] << 8 | buf[rl - 1]);
    }
    free(buf);
    return sw;
}

uint16_t rig_raw(scb_sim_t *sim, const char *hex, uint8_t *resp, size_t *len)
{
    uint8_t cmd[1024];
    size_t n = tk_unhex(hex, cmd, sizeof(cmd));
    return rig_rawb(sim, cmd, n, resp, len);
}

/* The transport: the card, with the exchange kept and a command spoiled
 * when the test asked for it. */
static int rig_transmit(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                        size_t *resp_len)
{
    rig_t *r = user;
    rig_exchange_t *x = &r->kept[r->exchanges++ % RIG_KEEP];
    uint8_t spoiled[RIG_KEEP_LEN];
    if (r->spoil_at != 0 && cmd_len <= sizeof(spoiled)) {
        size_t at = r->spoil_at > 0 ? (size_t)r->spoil_at - 1 : cmd_len - (size_t)-r->spoil_at;
        if (at < cmd_len) {
            memcpy(spoiled, cmd, cmd_len);
            spoiled[at] ^= 0x01;
            cmd = spoiled;
        }
        r->spoil_at = 0;
    }
    x->cl = cmd_len;
    memcpy(x->c, cmd, cmd_len < RIG_KEEP_LEN ? cmd_len : RIG_KEEP_LEN);
    int rc = scb_sim_process(r->sim, cmd, cmd_len, resp, resp_len);
    x->rl = rc == SCB_OK ? *resp_len : 0;
    memcpy(x->r, resp, x->rl < RIG_KEEP_LEN ? x->rl : RIG_KEEP_LEN);
    return rc;
}

static void rig_handle(rig_t *r)
{
    scb_transport_t tp;
    TK_EQ_RC(scb_sim_transport(r->sim, &tp), SCB_OK);
    tp.user = r;
    tp.transmit = rig_transmit;
    TK_EQ_RC(scb_card_open_transport(&r->card, &tp), SCB_OK);
    TK_EQ_RC(scb_opts_new(&r->opts), SCB_OK);
    TK_EQ_RC(scb_opts_set_bytes(r->opts, SCB_OPT_SD_AID, scb_pkcs15_default_aid(),
                                SCB_PKCS15_AID_LEN),
             SCB_OK);
}

void rig_open(rig_t *r, const char *profile, const uint8_t *key, size_t klen, uint8_t kvn)
{
    char detail[256];
    scb_sim_t *sim = NULL;
    scb_keys_t *keys = NULL;
    if (scb_sim_new_from_json(&sim, profile, detail, sizeof(detail)) != SCB_OK) {
        fprintf(stderr, "profile rejected: %s\n", detail);
        abort();
    }
    if (key != NULL)
        TK_EQ_RC(scb_keys_new(&keys, key, key, key, klen, kvn), SCB_OK);
    rig_attach(r, sim, true, keys);
}

void rig_attach(rig_t *r, scb_sim_t *sim, bool owns_sim, scb_keys_t *keys)
{
    memset(r, 0, sizeof(*r));
    r->sim = sim;
    r->owns_sim = owns_sim;
    r->keys = keys;
    if (keys == NULL)
        TK_EQ_RC(scb_sim_host_keys(sim, &r->keys), SCB_OK);
    rig_handle(r);
}

void rig_close(rig_t *r)
{
    scb_opts_free(&r->opts);
    scb_keys_free(&r->keys);
    scb_card_free(&r->card);
    if (r->owns_sim)
        scb_sim_free(&r->sim);
    memset(r, 0, sizeof(*r));
}

const rig_exchange_t *rig_last(const rig_t *r, unsigned back)
{
    if (back >= RIG_KEEP || back >= r->exchanges)
        abort(); /* a test asking for more than was kept */
    return &r->kept[(r->exchanges - 1 - back) % RIG_KEEP];
}

int rig_session(rig_t *r, bool channel, uint8_t level)
{
    uint8_t ch = 0;
    if (channel)
        TK_EQ_RC(scb_channel_open(r->card, &ch), SCB_OK);
    /* a session the handle had here (or its failure) is over */
    TK_EQ_RC(scb_scp03_close(r->card), SCB_OK);
    TK_EQ_RC(scb_select_aid(r->card, scb_pkcs15_default_aid(), SCB_PKCS15_AID_LEN,
                            SCB_SEL_NO_RESP, NULL),
             SCB_OK);
    TK_EQ_RC(scb_opts_set_int(r->opts, SCB_OPT_LEVEL, level), SCB_OK);
    return scb_scp03_open(r->card, r->keys, r->opts);
}

static uint16_t send(rig_t *r, bool plain, const char *hex, uint8_t *resp, size_t *len, int *rc)
{
    uint8_t cmd[1024], *buf = malloc(65536 + 2);
    size_t n = tk_unhex(hex, cmd, sizeof(cmd)), rl = 65536 + 2;
    uint16_t sw = 0;
    if (buf == NULL)
        abort();
    int res = plain ? scb_card_transmit_plain(r->card, cmd, n, buf, &rl)
                    : scb_card_transmit(r->card, cmd, n, buf, &rl);
    *len = 0;
    if (res == SCB_OK && rl >= 2) {
        if (resp != NULL)
            memcpy(resp, buf, rl - 2);
        *len = rl - 2;
        sw = (uint16_t)(buf[rl - 2] << 8 | buf[rl - 1]);
    }
    if (rc != NULL)
        *rc = res;
    free(buf);
    return sw;
}

uint16_t rig_send(rig_t *r, const char *hex, uint8_t *resp, size_t *len, int *rc)
{
    return send(r, false, hex, resp, len, rc);
}

uint16_t rig_send_plain(rig_t *r, const char *hex, uint8_t *resp, size_t *len, int *rc)
{
    return send(r, true, hex, resp, len, rc);
}

/* ---- recorded sessions ---- */
static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* The recorded INITIALIZE UPDATE (command and response data). */
static size_t recorded_iu(json_object *e, uint8_t *c, size_t *cl, uint8_t *r, size_t cap)
{
    json_object *ex = member(e, "exchanges");
    if (ex == NULL || json_object_array_length(ex) < 2) {
        fprintf(stderr, "%s: no recorded handshake\n", tk_json_str(e, "name"));
        abort();
    }
    json_object *x = json_object_array_get_idx(ex, 0);
    *cl = tk_unhex(tk_json_str(x, "c"), c, 64);
    size_t rl = tk_unhex(tk_json_str(x, "r"), r, cap);
    return rl >= 2 ? rl - 2 : 0;
}

scb_sim_t *rig_sim_from_vector(json_object *e)
{
    json_object *keys = member(e, "keys");
    const char *sd_aid = tk_json_str(e, "sd_aid");
    uint8_t c[64], r[64];
    size_t cl, rl = recorded_iu(e, c, &cl, r, sizeof(r));
    const bool s16 = rl >= 13 && (r[12] & 0x01);
    const size_t clen = s16 ? 16 : 8;
    if (rl < 13 + 2 * clen)
        abort();
    char kdd[24], json[640];
    tk_hex(r, 10, kdd, sizeof(kdd));
    /* KVN, i and the sequence counter as the card answered */
    const unsigned seq =
        (r[12] & 0x10) ? (unsigned)(r[13 + 2 * clen] << 16 | r[14 + 2 * clen] << 8 | r[15 + 2 * clen])
                       : 1;
    snprintf(json, sizeof(json),
             "{\"scp03\": {\"keys\": {\"kvn\": %u, \"enc\": \"%s\", \"mac\": \"%s\", \"dek\": \"%s\"},"
             " \"i\": %u, \"kdd\": \"%s\", \"sequence_counter\": %u%s%s%s}}",
             r[10], tk_json_str(keys, "enc"), tk_json_str(keys, "mac"), tk_json_str(keys, "dek"),
             r[12], kdd, seq, sd_aid ? ", \"sd_aid\": \"" : "", sd_aid ? sd_aid : "",
             sd_aid ? "\"" : "");
    scb_sim_t *sim = NULL;
    char detail[256];
    if (scb_sim_new_from_json(&sim, json, detail, sizeof(detail)) != SCB_OK) {
        fprintf(stderr, "%s: profile rejected: %s\n", tk_json_str(e, "name"), detail);
        abort();
    }
    /* without the SD AID the card cannot derive the recorded challenge */
    if (sd_aid == NULL && scb_sim_set_card_challenge(sim, r + 13, clen) != SCB_OK)
        abort();
    /* the ADF (its SD) selected on the basic channel, as when recorded */
    size_t n;
    if (rig_raw(sim, "00A4040C0CA000000063504B43532D3135", NULL, &n) != 0x9000)
        abort();
    return sim;
}

void rig_attach_vector(rig_t *r, json_object *e, const uint8_t *dek)
{
    json_object *k = member(e, "keys");
    uint8_t enc[32], mac[32], rdek[32], c[64], resp[64], hc[16], aid[16];
    size_t cl;
    recorded_iu(e, c, &cl, resp, sizeof(resp));
    size_t klen = tk_unhex(tk_json_str(k, "enc"), enc, sizeof(enc));
    tk_unhex(tk_json_str(k, "mac"), mac, sizeof(mac));
    tk_unhex(tk_json_str(k, "dek"), rdek, sizeof(rdek));
    if (dek != NULL && klen != 16)
        abort();
    /* the key version INITIALIZE UPDATE asked for (0: the card's default) */
    scb_keys_t *keys = NULL;
    TK_EQ_RC(scb_keys_new(&keys, enc, mac, dek != NULL ? dek : rdek, klen, c[2]), SCB_OK);
    rig_attach(r, rig_sim_from_vector(e), true, keys);
    scb_opts_t *o = r->opts;
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_LEVEL, tk_json_int(e, "level", 0x33)), SCB_OK);
    json_object *s16 = member(e, "s16");
    if (s16 != NULL && json_object_get_boolean(s16))
        TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_S16, 1), SCB_OK);
    size_t hlen = tk_unhex(tk_json_str(e, "host_challenge"), hc, sizeof(hc));
    TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_HOST_CHALLENGE, hc, hlen), SCB_OK);
    if (tk_json_str(e, "sd_aid") != NULL) {
        size_t alen = tk_unhex(tk_json_str(e, "sd_aid"), aid, sizeof(aid));
        TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_SD_AID, aid, alen), SCB_OK);
    } else {
        TK_EQ_RC(scb_opts_unset(o, SCB_OPT_SD_AID), SCB_OK);
    }
}

void rig_check_handshake(const rig_t *r, json_object *e)
{
    json_object *ex = member(e, "exchanges");
    for (unsigned k = 0; k < 2; k++) {
        json_object *x = json_object_array_get_idx(ex, k);
        const rig_exchange_t *w = rig_last(r, 1 - k);
        TK_EQ_HEX(w->c, w->cl, tk_json_str(x, "c"));
        TK_EQ_HEX(w->r, w->rl, tk_json_str(x, "r"));
    }
}

/* ---- answers ---- */
int rig_answer(uint8_t *resp, size_t *resp_len, const uint8_t *data, size_t n, uint16_t sw)
{
    if (*resp_len < n + 2)
        abort();
    if (n > 0)
        memcpy(resp, data, n);
    resp[n] = (uint8_t)(sw >> 8);
    resp[n + 1] = (uint8_t)sw;
    *resp_len = n + 2;
    return SCB_SIM_HOOK_ANSWER;
}

int rig_answer_sealed(scb_sim_t *sim, uint8_t *resp, size_t *resp_len, const uint8_t *data,
                      size_t n, uint16_t sw, unsigned flags)
{
    if (scb_sim_seal(sim, data, n, sw, flags, resp, resp_len) != SCB_OK)
        abort();
    return SCB_SIM_HOOK_WIRE;
}

int rig_bad_answer(scb_sim_t *sim, int kind, const uint8_t *data, size_t n, uint8_t *resp,
                   size_t *resp_len)
{
    uint8_t b[32];
    switch (kind) {
    case RIG_FLIP_RMAC:
        rig_answer_sealed(sim, resp, resp_len, data, n, 0x9000, 0);
        resp[*resp_len - 3] ^= 0x01;
        return SCB_SIM_HOOK_WIRE;
    case RIG_FLIP_DATA:
        rig_answer_sealed(sim, resp, resp_len, data, n, 0x9000, 0);
        resp[3] ^= 0x80;
        return SCB_SIM_HOOK_WIRE;
    case RIG_NO_MARKER:
        memset(b, 0x11, 16);
        memset(b + 16, 0x00, 16);
        return rig_answer_sealed(sim, resp, resp_len, b, 32, 0x9000, SCB_SIM_SEAL_NO_PAD);
    case RIG_NOT_BLOCKS:
        memset(b, 0x5A, 17);
        return rig_answer_sealed(sim, resp, resp_len, b, 17, 0x9000, SCB_SIM_SEAL_NO_ENC);
    case RIG_ERROR_WITH_DATA:
        b[0] = 0x01;
        return rig_answer_sealed(sim, resp, resp_len, b, 1, 0x6A88, SCB_SIM_SEAL_ERROR_RMAC);
    case RIG_TOO_SHORT:
        memcpy(resp, "\x01\x02\x03\x90\x00", 5);
        *resp_len = 5;
        return SCB_SIM_HOOK_WIRE;
    default:
        abort();
    }
}
