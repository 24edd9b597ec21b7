/*
 * SCP03 explicit secure channel initiation (Amd D 7.1, 7.2; docs/scp03.md
 * "The handshake"): INITIALIZE UPDATE, strict parse of the card's answer, card
 * challenge and card cryptogram checks, EXTERNAL AUTHENTICATE, and
 * installation of the secure-messaging session on the card handle.
 */
#include "scp03.h"

#include <string.h>

/* The "i" parameter of the key information (docs/scp03.md "The handshake"). */
#define I_S16        0x01u
#define I_PSEUDO_RND 0x10u
#define I_RMAC       0x20u
#define I_RENC       0x60u /* R-MAC and R-ENC */

/* The secure-channel options of one handshake, read once from the options. */
typedef struct scp_params {
    uint8_t level;
    uint8_t kvn;              /* 0: the key set's own */
    unsigned flags;           /* SCB__SCP_* */
    bool s16_auto;            /* mode not forced: S8, then S16 on 6700 */
    const uint8_t *host_challenge;
    size_t host_challenge_len;
    const uint8_t *sd_aid;
    size_t sd_aid_len;
} scp_params_t;

static int read_params(scb_card_t *card, const scb_opts_t *o, scp_params_t *p)
{
    memset(p, 0, sizeof(*p));
    p->level = (uint8_t)scb__opt_int(o, SCB_OPT_LEVEL);
    p->kvn = (uint8_t)scb__opt_int(o, SCB_OPT_KVN);
    p->flags = (scb__opt_bool(o, SCB_OPT_S16) ? SCB__SCP_S16 : 0u) |
               (scb__opt_bool(o, SCB_OPT_COUNT_DATA_ONLY) ? SCB__SCP_COUNT_DATA_ONLY : 0u) |
               (scb__opt_bool(o, SCB_OPT_MAC_CLA_AS_SENT) ? SCB__SCP_MAC_CLA_AS_SENT : 0u) |
               (scb__opt_bool(o, SCB_OPT_KDF3) ? SCB__SCP_KDF3 : 0u);
    p->host_challenge = scb__opt_bytes(o, SCB_OPT_HOST_CHALLENGE, &p->host_challenge_len);
    p->sd_aid = scb__opt_bytes(o, SCB_OPT_SD_AID, &p->sd_aid_len);
    /* Without "s16" the mode is the card's: a given host challenge says it
     * by its length, otherwise S8 first and S16 when the card asks. */
    if (!scb_opts_is_set(o, SCB_OPT_S16)) {
        if (p->host_challenge != NULL && p->host_challenge_len == 16)
            p->flags |= SCB__SCP_S16;
        p->s16_auto = p->host_challenge == NULL;
    }
    /* With the channel bits in the MAC the host must know them, and on a
     * channel the transport opened without telling its number they are set
     * by the transport (3GPP TS 27.007 8.45): no guessing. */
    if ((p->flags & SCB__SCP_MAC_CLA_AS_SENT) && scb__tp_channel(card) != NULL &&
        scb__tp_channel(card)->number == 0)
        return scb__fail(card, SCB_E_UNSUPPORTED,
                         "mac_cla_as_sent: the transport opened this logical channel without "
                         "telling its number, so the CLA the card receives is not known here; "
                         "MAC the CLA with its channel bits cleared (the default)");
    const size_t chal_len = (p->flags & SCB__SCP_S16) ? 16 : 8;
    if (p->host_challenge != NULL && p->host_challenge_len != chal_len)
        return scb__fail(card, SCB_E_INVALID_ARG, "host challenge of %zu bytes; %s mode needs %zu",
                         p->host_challenge_len, (p->flags & SCB__SCP_S16) ? "S16" : "S8",
                         chal_len);
    return SCB_OK;
}

/* A hint for the status words INITIALIZE UPDATE typically fails with. */
static const char *iu_sw_hint(uint16_t sw)
{
    switch (sw) {
    case 0x6700: return " (wrong length: does the card run the other mode? unless s16 is given, the mode is detected)";
    case 0x6982: return " (security status: wrong Security Domain selected?)";
    case 0x6983: return " (keys blocked?)";
    case 0x6985: return " (conditions of use not satisfied)";
    case 0x6D00: return " (not supported: no Security Domain selected?)";
    default: return "";
    }
}

/* Everything one handshake holds that must be wiped. */
typedef struct handshake {
    scb_keys_t *diversified; /* KDF3 keys, or NULL */
    scb__scp03_derived_t derived;
    scb__scp03_session_t *sess; /* until installed on the card */
    uint8_t expected_challenge[16];
} handshake_t;

static void handshake_wipe(handshake_t *h)
{
    scb_keys_free(&h->diversified);
    scb__scp03_session_free(&h->sess);
    scb__cleanse(h, sizeof(*h));
}

/* The card's INITIALIZE UPDATE answer, checked field by field. */
static int parse_iu_response(scb_card_t *card, const uint8_t *r, size_t rlen, bool s16,
                             uint8_t kvn_asked)
{
    scb_scp03_info_t *info = &card->scp_info;
    size_t chal_len = s16 ? 16 : 8;
    if (rlen < 13)
        return scb__fail(card, SCB_E_SCP_PROTOCOL,
                         "INITIALIZE UPDATE response of %zu bytes is too short for key "
                         "diversification data and key information (13 bytes)",
                         rlen);
    memset(info, 0, sizeof(*info));
    memcpy(info->kdd, r, 10);
    info->kvn = r[10];
    info->i_param = r[12];
    info->s16 = (r[12] & I_S16) != 0;
    card->has_scp_info = true;
    if (r[11] != 0x03)
        return scb__fail(card, SCB_E_SCP_PROTOCOL,
                         "INITIALIZE UPDATE response byte 11: secure channel protocol %02X, not 03",
                         r[11]);
    if (info->s16 != s16)
        return scb__fail(card, SCB_E_SCP_MODE,
                         "card runs SCP03 in %s mode (i = %02X) but the host asked for %s",
                         info->s16 ? "S16" : "S8", info->i_param, s16 ? "S16" : "S8");
    /* 10 KDD + 3 key info + challenge + cryptogram [+ 3 sequence counter iff i has 10] */
    bool has_seq = (info->i_param & I_PSEUDO_RND) != 0;
    size_t want = 13 + 2 * chal_len + (has_seq ? 3 : 0);
    if (rlen != want)
        return scb__fail(card, SCB_E_SCP_PROTOCOL,
                         "INITIALIZE UPDATE response is %zu bytes, expected %zu for %s mode with "
                         "i = %02X (%s sequence counter)",
                         rlen, want, s16 ? "S16" : "S8", info->i_param,
                         has_seq ? "with" : "without");
    if (has_seq) {
        memcpy(info->seq_counter, r + 13 + 2 * chal_len, 3);
        info->has_seq_counter = 1;
    }
    if (kvn_asked != 0 && info->kvn != kvn_asked)
        return scb__fail(card, SCB_E_SCP_KVN,
                         "asked for key version 0x%02X, card answered with key version 0x%02X",
                         kvn_asked, info->kvn);
    return SCB_OK;
}

/* INITIALIZE UPDATE: 80 50 KVN 00 Lc <host challenge> 00, always in clear.
 * A card in S16 mode answers 6700 to an 8-byte challenge (Amd D 1.2 7.1.1:
 * Lc is 08 or 10 by mode); unless a mode was forced the command is sent
 * once more with 16 bytes, as established hosts do: a failed INITIALIZE
 * UPDATE opens no session and does not count toward the Security Domain's
 * lock. The answer's length and i parameter are then checked against the
 * mode (parse_iu_response). */
static int initialize_update(scb_card_t *card, const scp_params_t *p, uint8_t kvn, bool *s16,
                             uint8_t host_challenge[16], uint8_t *r, size_t *rlen)
{
    const size_t cap = *rlen;
    for (int attempt = 0;; attempt++) {
        const size_t chal_len = *s16 ? 16 : 8;
        int rc;
        if (p->host_challenge != NULL) {
            memcpy(host_challenge, p->host_challenge, chal_len);
        } else {
            rc = scb__random(card, host_challenge, chal_len);
            if (rc != SCB_OK)
                return scb__fail(card, rc, "no random bytes for the host challenge");
        }
        scb_apdu_t iu = {.cla = 0x80,
                         .ins = 0x50,
                         .p1 = kvn,
                         .p2 = 0x00,
                         .data = host_challenge,
                         .lc = chal_len,
                         .ne = 256,
                         .has_le = true,
                         .flags = SCB__APDU_NO_SM};
        uint16_t sw = 0;
        *rlen = cap;
        rc = scb__transmit(card, &iu, r, rlen, &sw);
        if (rc == SCB_E_BUFFER_TOO_SMALL)
            return scb__fail(card, SCB_E_SCP_PROTOCOL,
                             "INITIALIZE UPDATE response is longer than %zu bytes", cap);
        if (rc != SCB_OK)
            return rc;
        if (sw == 0x6700 && p->s16_auto && !*s16 && attempt == 0) {
            scb__note(card, "INITIALIZE UPDATE: 6700 to an 8-byte host challenge; the card "
                            "runs S16: again with 16 bytes");
            *s16 = true;
            continue;
        }
        /* 6A88 "referenced data not found": no key set with this version
         * (GPCS 11.7.3); a code of its own so that callers need not read SWs. */
        if (sw == 0x6A88)
            return scb__fail(card, SCB_E_SCP_NO_KEYSET,
                             "INITIALIZE UPDATE: the card has no key set with version 0x%02X "
                             "(%04X): check the key version", kvn, sw);
        if (sw != 0x9000)
            return scb__fail(card, SCB_E_SCP_PROTOCOL,
                             "INITIALIZE UPDATE (key version 0x%02X, %s) answered %04X%s", kvn,
                             *s16 ? "S16" : "S8", sw, iu_sw_hint(sw));
        return SCB_OK;
    }
}

/* INITIALIZE UPDATE, its checks and, unless probe, EXTERNAL AUTHENTICATE
 * and the session's installation. */
static int handshake(scb_card_t *card, const scb_keys_t *keys, const scp_params_t *p, bool probe,
                     handshake_t *h)
{
    bool s16 = (p->flags & SCB__SCP_S16) != 0;
    size_t chal_len;
    uint8_t kvn = p->kvn != 0 ? p->kvn : scb_keys_kvn(keys); /* 0: card default */
    uint8_t host_challenge[16];
    uint8_t r[300];
    size_t rlen = sizeof(r);
    int rc = initialize_update(card, p, kvn, &s16, host_challenge, r, &rlen);
    if (rc != SCB_OK)
        return rc;
    chal_len = s16 ? 16 : 8;
    uint16_t sw;
    rc = parse_iu_response(card, r, rlen, s16, kvn);
    if (rc != SCB_OK)
        return rc;
    scb_scp03_info_t *info = &card->scp_info;
    const uint8_t *card_challenge = r + 13;
    const uint8_t *card_cryptogram = r + 13 + chal_len;

    /* KDF3: the given keys are master keys, diversified with the KDD. The
     * static keys are then host values of this card; token keys are never
     * read, only asked for the operations below. */
    char why[160] = "";
    const scb_keys_t *static_keys = keys;
    if (p->flags & SCB__SCP_KDF3) {
        rc = scb__keys_diversify_kdf3(keys, info->kdd, &h->diversified, why, sizeof(why));
        if (rc != SCB_OK)
            return scb__fail(card, rc, "KDF3 diversification failed: %s", why);
        static_keys = h->diversified;
    }

    /* A pseudo-random challenge is KDF(Key-ENC, 02, seq || SD AID): checking
     * it proves the card knows Key-ENC and that the challenge is fresh. */
    if (info->has_seq_counter && p->sd_aid != NULL) {
        rc = scb__scp03_card_challenge_keys(static_keys, info->seq_counter, p->sd_aid,
                                            p->sd_aid_len, chal_len, h->expected_challenge, why,
                                            sizeof(why));
        if (rc != SCB_OK)
            return scb__fail(card, rc, "card challenge derivation failed: %s", why);
        if (!scb__ct_equal(h->expected_challenge, card_challenge, chal_len))
            return scb__fail(card, SCB_E_SCP_CHALLENGE,
                             "pseudo-random card challenge does not match sequence counter "
                             "%02X%02X%02X and the Security Domain AID: wrong Key-ENC, wrong "
                             "AID, or a replayed answer",
                             info->seq_counter[0], info->seq_counter[1], info->seq_counter[2]);
        info->challenge_verified = 1;
    }

    rc = scb__scp03_derive_keys(static_keys, host_challenge, card_challenge, chal_len,
                                &h->derived, why, sizeof(why));
    if (rc != SCB_OK)
        return scb__fail(card, rc, "session key derivation failed: %s", why);
    if (!scb__ct_equal(h->derived.card_cryptogram, card_cryptogram, chal_len))
        return scb__fail(card, SCB_E_SCP_CARD_CRYPTOGRAM,
                         "card cryptogram does not verify: wrong keys for key version 0x%02X%s",
                         info->kvn,
                         (p->flags & SCB__SCP_KDF3) ? " (keys diversified with KDF3)"
                                                   : " (master keys needing KDF3?)");
    if (probe) {
        scb__note(card, "SCP03 key probe: card cryptogram verified; EXTERNAL AUTHENTICATE not "
                        "sent");
        return SCB_OK;
    }

    /* Refuse what the card cannot do before authenticating (docs/scp03.md "The handshake", step 4). */
    if ((p->level & SCB_SL_RMAC) && !(info->i_param & I_RMAC))
        return scb__fail(card, SCB_E_SCP_LEVEL,
                         "level %02X needs R-MAC, which the card does not offer (i = %02X)",
                         p->level, info->i_param);
    if ((p->level & SCB_SL_RENC) && (info->i_param & I_RENC) != I_RENC)
        return scb__fail(card, SCB_E_SCP_LEVEL,
                         "level %02X needs R-ENC, which the card does not offer (i = %02X)",
                         p->level, info->i_param);

    rc = scb__scp03_session_new(&h->sess, &h->derived, static_keys, p->level, p->flags);
    if (rc != SCB_OK)
        return scb__fail(card, rc, "cannot set up the session ciphers");

    /* EXTERNAL AUTHENTICATE: 84 82 SL 00 Lc <host cryptogram> <C-MAC>, MCV 0. */
    uint8_t buf[16 + 16];
    char detail[160];
    scb_apdu_t ea = {.cla = 0x80,
                     .ins = 0x82,
                     .p1 = p->level,
                     .p2 = 0x00,
                     .data = h->derived.host_cryptogram,
                     .lc = chal_len};
    scb_apdu_t wrapped;
    uint8_t wire_cla = scb__cla_for_channel(0x84, scb__cla_channel(card));
    rc = scb__scp03_wrap(h->sess, &ea, scb__scp03_mac_cla(h->sess, wire_cla), false, true, &wrapped,
                         buf, sizeof(buf), detail, sizeof(detail));
    if (rc != SCB_OK)
        return scb__fail(card, rc, "EXTERNAL AUTHENTICATE: %s", detail);
    wrapped.flags = SCB__APDU_NO_SM;
    rlen = sizeof(r);
    rc = scb__transmit(card, &wrapped, r, &rlen, &sw);
    if (rc != SCB_OK)
        return rc;
    if (sw != 0x9000)
        return scb__fail(card, SCB_E_SCP_AUTH_REJECTED,
                         "EXTERNAL AUTHENTICATE (level %02X) answered %04X%s", p->level, sw,
                         sw == 0x6300 ? " (host cryptogram rejected)" : "");
    if (rlen != 0) /* its response carries no R-MAC and no data */
        return scb__fail(card, SCB_E_SCP_PROTOCOL,
                         "EXTERNAL AUTHENTICATE answered with %zu data bytes, expected none", rlen);

    scb__sm_install(card, &scb__scp03_sm_ops, h->sess);
    h->sess = NULL; /* owned by the card now */
    scb__note(card, "SCP03 session open: level 0x%02X, %s, key version 0x%02X", p->level,
              s16 ? "S16" : "S8", info->kvn);
    return SCB_OK;
}

/* One handshake on the current channel: any session there ends first
 * (INITIALIZE UPDATE ends it on the card too). */
static int open_or_probe(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts,
                         bool probe)
{
    if (keys == NULL)
        return scb__fail(card, SCB_E_INVALID_ARG, "SCP03: no key set");
    scp_params_t p;
    int rc = read_params(card, opts, &p);
    if (rc != SCB_OK)
        return rc;
    scb__sm_close(card);
    card->has_scp_info = false;
    handshake_t h;
    memset(&h, 0, sizeof(h));
    rc = handshake(card, keys, &p, probe, &h);
    handshake_wipe(&h);
    if (rc != SCB_OK && !probe) {
        /* No session; secured transmits on this channel are refused until a
         * new one opens, also when none was open before (scb__sm_abort only
         * marks a handle that had a session): never fall back to clear. A
         * failed probe asked for no session, so it leaves the channel as
         * usable in clear as a successful one does. */
        scb__sm_abort(card);
        card->sm_broken = true;
        card->sm_channel = card->channel;
    }
    return rc;
}

int scb__scp03_open(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts)
{
    return open_or_probe(card, keys, opts, false);
}

int scb__scp03_probe(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts)
{
    return open_or_probe(card, keys, opts, true);
}

static int scp_entry(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts, bool probe)
{
    int rc = scb__opts_scope(opts, SCB_SCOPE_SCP, probe ? "a key probe" : "a secure channel",
                             card->errmsg, sizeof(card->errmsg));
    if (rc != SCB_OK)
        return rc;
    rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = open_or_probe(card, keys, opts, probe);
    scb__end(card);
    return rc;
}

int scb_scp03_open(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts)
{
    SCB__ENTER(card);
    return scp_entry(card, keys, opts, false);
}

int scb_scp03_probe(scb_card_t *card, const scb_keys_t *keys, const scb_opts_t *opts,
                    scb_scp03_info_t *info)
{
    SCB__ENTER(card);
    if (info != NULL)
        memset(info, 0, sizeof(*info));
    int rc = scp_entry(card, keys, opts, true);
    if (info != NULL && card->has_scp_info)
        *info = card->scp_info;
    return rc;
}

int scb_scp03_close(scb_card_t *card)
{
    SCB__ENTER(card);
    scb__sm_close(card);
    return SCB_OK;
}

/* A session belongs to the logical channel it was opened on. */
int scb_scp03_is_open(const scb_card_t *card)
{
    return card != NULL && card->sm == &scb__scp03_sm_ops && card->sm_state != NULL &&
           card->sm_channel == card->channel;
}

int scb_scp03_level(const scb_card_t *card)
{
    if (!scb_scp03_is_open(card))
        return -1;
    return scb__scp03_session_level(card->sm_state);
}

int scb_scp03_info(const scb_card_t *card, scb_scp03_info_t *out)
{
    if (card == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    if (!card->has_scp_info)
        return SCB_E_STATE;
    *out = card->scp_info;
    return SCB_OK;
}
