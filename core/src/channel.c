/*
 * Logical channels (ISO 7816-4 11.1.2, ETSI TS 102 221 11.1.17): the card
 * opens them (MANAGE CHANNEL through the transport's transmit), or the
 * transport does, together with the application (scb_transport_t
 * channel_open / channel_transmit / channel_close: a modem's AT+CCHO,
 * +CGLA, +CCHC: 3GPP TS 27.007 8.45, 8.43, 8.46).
 *
 * A channel the transport opened is one the handle knows by the transport's
 * session, and by the card's number only when the transport tells it. The
 * engine then leaves the channel bits of CLA at 0 (27.007 8.45: the MT
 * manages the logical channel part of the class byte), and what it sends on
 * that channel goes through the one wire path (card.c) like any command:
 * traced and counted as the bytes the transport was given. Opening and
 * closing such a channel is no APDU of the engine's: it is traced as a note
 * of what the transport did, and not counted.
 *
 * Which way a channel opens is the transport's to say (SCB_TPQ_CHANNELS);
 * in AUTO the first MANAGE CHANNEL the path refuses decides for the handle.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define MAX_CHANNEL 19u

/* ------------------------------------------------------------------------ */
/* Where the handle is                                                       */
/* ------------------------------------------------------------------------ */
static scb__tp_channel_t *tp_channel_by_id(scb_card_t *card, uint8_t id)
{
    for (size_t i = 0; i < SCB__TP_CHANNELS; i++)
        if (card->tpch[i].open && card->tpch[i].id == id)
            return &card->tpch[i];
    return NULL;
}

const scb__tp_channel_t *scb__tp_channel(const scb_card_t *card)
{
    if (card->channel == 0)
        return NULL;
    for (size_t i = 0; i < SCB__TP_CHANNELS; i++)
        if (card->tpch[i].open && card->tpch[i].id == card->channel)
            return &card->tpch[i];
    return NULL;
}

uint8_t scb__cla_channel(const scb_card_t *card)
{
    return card->channel <= MAX_CHANNEL ? card->channel : 0;
}

void scb__channels_lost(scb_card_t *card)
{
    memset(card->tpch, 0, sizeof(card->tpch));
    card->mc_opened = 0;
    card->channel = 0;
}

bool scb__channels_left(const scb_card_t *card)
{
    for (size_t i = 0; i < SCB__TP_CHANNELS; i++)
        if (card->tpch[i].open)
            return true;
    return card->mc_opened != 0;
}

int scb__tp_query(const scb_card_t *card, int what, long *value)
{
    if (card->tp.query == NULL)
        return SCB_E_UNSUPPORTED;
    return card->tp.query(card->tp.user, what, value) == 0 ? SCB_OK : SCB_E_UNSUPPORTED;
}

static bool has_tp_channels(const scb_card_t *card)
{
    return card->tp.channel_open != NULL;
}

/* How channels open on this handle: what the transport says (asked once),
 * AUTO until the first MANAGE CHANNEL decides it. */
int scb__channel_route(const scb_card_t *card)
{
    if (card->ch_route_known)
        return card->ch_route;
    long v = 0;
    if (!has_tp_channels(card))
        return SCB_TP_CHANNELS_MANAGE;
    if (scb__tp_query(card, SCB_TPQ_CHANNELS, &v) != SCB_OK || v < SCB_TP_CHANNELS_AUTO ||
        v > SCB_TP_CHANNELS_OWN)
        return SCB_TP_CHANNELS_OWN;
    return (int)v;
}

static int route(scb_card_t *card)
{
    if (!card->ch_route_known) {
        card->ch_route = scb__channel_route(card);
        card->ch_route_known = true;
    }
    return card->ch_route;
}

static const char *open_name(const scb_card_t *card)
{
    return card->tp.channel_open_name != NULL ? card->tp.channel_open_name : "channel open";
}

static const char *close_name(const scb_card_t *card)
{
    return card->tp.channel_close_name != NULL ? card->tp.channel_close_name : "channel close";
}

/* Why the transport's last operation failed, in its own words. */
static const char *tp_why(const scb_card_t *card, int rc)
{
    return card->tp_detail != NULL && card->tp_detail[0] != 0 ? card->tp_detail
                                                              : scb_strerror(rc);
}

/* A transport's channel operation failed: its own code when it is one it
 * may return, else a transport failure; the detail is the transport's. */
static int tp_failure(scb_card_t *card, int rc, const char *what)
{
    if (!(scb_error_family(rc) == SCB_FAMILY_TRANSPORT || rc == SCB_E_NOT_FOUND ||
          rc == SCB_E_NO_CHANNEL || rc == SCB_E_UNSUPPORTED || rc == SCB_E_BAD_RESPONSE ||
          rc == SCB_E_NOMEM || rc == SCB_E_INVALID_ARG || rc == SCB_E_INTERNAL))
        rc = SCB_E_TRANSPORT;
    if (rc == SCB_E_CARD_RESET || rc == SCB_E_CARD_REMOVED) {
        scb__sm_abort(card);
        scb__channels_lost(card);
    }
    const char *hint = rc == SCB_E_CARD_REMOVED ? " (the card went away)" : "";
    return scb__fail(card, rc, "%s: %s%s", what, tp_why(card, rc), hint);
}

/* ------------------------------------------------------------------------ */
/* MANAGE CHANNEL                                                            */
/* ------------------------------------------------------------------------ */
static void apdu_init(scb_apdu_t *a, uint8_t ins, uint8_t p1, uint8_t p2)
{
    memset(a, 0, sizeof(*a));
    a->ins = ins;
    a->p1 = p1;
    a->p2 = p2;
}

/* Whether the handle has channel id open (0 always is). */
static bool is_open(scb_card_t *card, uint8_t id)
{
    return id == 0 || (id <= MAX_CHANNEL && (card->mc_opened & (1u << id)) != 0) ||
           tp_channel_by_id(card, id) != NULL;
}

/* MANAGE CHANNEL open, issued from the basic channel: 00 70 00 00 01, the
 * card picks the number. */
static int manage_open_on_0(scb_card_t *card, uint8_t *channel)
{
    scb_apdu_t a;
    apdu_init(&a, 0x70, 0x00, 0x00);
    a.has_le = true;
    a.ne = 1;
    a.flags = SCB__APDU_NO_SM | SCB__APDU_RAW_CLA;
    uint8_t r[4];
    size_t rlen = sizeof(r);
    uint16_t sw = 0;
    int rc = scb__transmit(card, &a, r, &rlen, &sw);
    if (rc != SCB_OK)
        return rc;
    if (sw == 0x6A81 || sw == 0x6881)
        return scb__fail(card, SCB_E_NO_CHANNEL,
                         "MANAGE CHANNEL open: card answered %04X (no logical channel "
                         "available)", sw);
    if (!scb__sw_ok(sw))
        return scb__sw_error(card, sw, "MANAGE CHANNEL open");
    if (rlen != 1 || r[0] == 0 || r[0] > MAX_CHANNEL)
        return scb__fail(card, SCB_E_BAD_RESPONSE,
                         "MANAGE CHANNEL open: expected one channel number 1..19, got %zu "
                         "byte(s)%s", rlen, rlen == 1 ? " out of range" : "");
    card->channel = r[0];
    card->mc_opened |= 1u << r[0];
    *channel = r[0];
    scb__note(card, "logical channel %u opened", (unsigned)r[0]);
    return SCB_OK;
}

/* A failure leaves the handle on the channel it was on (when that is
 * still open). */
static int manage_open(scb_card_t *card, uint8_t *channel)
{
    const uint8_t was = card->channel;
    card->channel = 0; /* the basic channel, also from a transport's channel */
    int rc = manage_open_on_0(card, channel);
    if (rc != SCB_OK && is_open(card, was))
        card->channel = was;
    return rc;
}

static int manage_close(scb_card_t *card, uint8_t ch)
{
    scb_apdu_t a;
    apdu_init(&a, 0x70, 0x80, ch);
    a.flags = SCB__APDU_NO_SM | SCB__APDU_RAW_CLA;
    card->channel = 0; /* whatever happens, the handle is back on 0 */
    card->mc_opened &= ~(1u << ch);
    size_t rlen = 0;
    int rc = scb__command(card, &a, NULL, &rlen, "MANAGE CHANNEL close");
    if (rc != SCB_OK)
        return rc;
    scb__note(card, "logical channel %u closed", (unsigned)ch);
    return SCB_OK;
}

/* The path, not the card, refused MANAGE CHANNEL: the transport failed it
 * (a modem's ERROR / +CME ERROR to AT+CSIM, or "cannot carry"), or the
 * answer is "instruction / class not supported", which a UICC does not
 * give (it implements MANAGE CHANNEL, TS 102 221 11.1.17): a filter in
 * between does. */
static bool refused_by_path(const scb_card_t *card, int rc)
{
    return rc == SCB_E_MODEM || rc == SCB_E_MODEM_CME || rc == SCB_E_UNSUPPORTED ||
           (rc == SCB_E_STATUS && (card->last_sw == 0x6D00 || card->last_sw == 0x6E00));
}

/* ------------------------------------------------------------------------ */
/* The transport's channels                                                  */
/* ------------------------------------------------------------------------ */
static int tp_open(scb_card_t *card, const uint8_t *aid, size_t aid_len)
{
    char aidhex[2 * 16 + 1];
    scb__hex(aid, aid_len, aidhex, sizeof(aidhex), false);
    size_t slot = 0;
    while (slot < SCB__TP_CHANNELS && card->tpch[slot].open)
        slot++;
    if (slot == SCB__TP_CHANNELS)
        return scb__fail(card, SCB_E_NO_CHANNEL,
                         "%d logical channels opened by the transport are open on this handle: "
                         "close one first", SCB__TP_CHANNELS);
    long session = 0;
    int number = -1;
    int rc = card->tp.channel_open(card->tp.user, aid, aid_len, &session, &number);
    if (rc != 0) {
        scb__note(card, "%s %s failed (%s)", open_name(card), aidhex, scb_error_name(rc));
        if (rc == SCB_E_NOT_FOUND)
            return scb__fail(card, rc, "AID %s: %s", aidhex, tp_why(card, rc));
        return tp_failure(card, rc, "logical channel open");
    }
    scb__tp_channel_t *tc = &card->tpch[slot];
    if (number != -1 && (number < 1 || number > (int)MAX_CHANNEL ||
                         tp_channel_by_id(card, (uint8_t)number) != NULL ||
                         (card->mc_opened & (1u << number)) != 0)) {
        /* not a channel this card can have given: do not use it */
        card->tp.channel_close(card->tp.user, session);
        return scb__fail(card, SCB_E_BAD_RESPONSE,
                         "%s: the transport reported channel number %d, which is not a free "
                         "channel 1..19", open_name(card), number);
    }
    tc->open = true;
    tc->session = session;
    tc->number = number > 0 ? (uint8_t)number : 0;
    tc->id = number > 0 ? (uint8_t)number : (uint8_t)(SCB_CHANNEL_UNNUMBERED + slot);
    card->channel = tc->id;
    if (number > 0)
        scb__note(card, "%s %s -> session %ld, logical channel %d", open_name(card), aidhex,
                  session, number);
    else
        scb__note(card, "%s %s -> session %ld", open_name(card), aidhex, session);
    return SCB_OK;
}

static int tp_close(scb_card_t *card, scb__tp_channel_t *tc)
{
    const long session = tc->session;
    memset(tc, 0, sizeof(*tc));
    card->channel = 0;
    int rc = card->tp.channel_close(card->tp.user, session);
    if (rc != 0) {
        scb__note(card, "%s session %ld failed (%s)", close_name(card), session,
                  scb_error_name(rc));
        return tp_failure(card, rc, "logical channel close");
    }
    scb__note(card, "%s session %ld", close_name(card), session);
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                   */
/* ------------------------------------------------------------------------ */
int scb__channel_open(scb_card_t *card, uint8_t *channel)
{
    if (route(card) == SCB_TP_CHANNELS_OWN)
        return scb__fail(card, SCB_E_UNSUPPORTED,
                         "this transport opens logical channels only together with an "
                         "application (%s selects it): open one with scb_channel_open_app",
                         open_name(card));
    int rc = manage_open(card, channel);
    if (rc == SCB_OK && route(card) == SCB_TP_CHANNELS_AUTO)
        card->ch_route = SCB_TP_CHANNELS_MANAGE;
    if (rc != SCB_OK && route(card) == SCB_TP_CHANNELS_AUTO && refused_by_path(card, rc)) {
        char refusal[sizeof(card->errmsg)];
        memcpy(refusal, card->errmsg, sizeof(refusal));
        return scb__fail(card, rc, "%s; the transport can still open a channel together with "
                         "an application (scb_channel_open_app)", refusal);
    }
    return rc;
}

int scb__app_select(scb_card_t *card, const uint8_t *aid, size_t aid_len)
{
    int rc = scb__select_aid(card, aid, aid_len, SCB_SEL_NO_RESP, NULL);
    if (rc == SCB_E_STATUS && (card->last_sw == 0x6A86 || card->last_sw == 0x6A87))
        rc = scb__select_aid(card, aid, aid_len, SCB_SEL_FCP, NULL); /* some cards want P2 04 */
    return rc;
}

/* Close the channel just opened after the SELECT on it failed, keeping
 * the SELECT's detail and status word: that is what the caller must see. */
static int undo_open(scb_card_t *card, int rc)
{
    char keep[sizeof(card->errmsg)];
    const uint16_t sw = card->last_sw;
    memcpy(keep, card->errmsg, sizeof(keep));
    scb__channel_close(card);
    memcpy(card->errmsg, keep, sizeof(keep));
    card->last_sw = sw;
    return rc;
}

int scb__channel_open_app(scb_card_t *card, const uint8_t *aid, size_t aid_len)
{
    const int way = route(card);
    if (way == SCB_TP_CHANNELS_OWN)
        return tp_open(card, aid, aid_len);
    uint8_t ch = 0;
    int rc = manage_open(card, &ch);
    if (rc == SCB_OK) {
        if (way == SCB_TP_CHANNELS_AUTO)
            card->ch_route = SCB_TP_CHANNELS_MANAGE;
        rc = scb__app_select(card, aid, aid_len);
        return rc == SCB_OK ? SCB_OK : undo_open(card, rc);
    }
    if (way != SCB_TP_CHANNELS_AUTO || !refused_by_path(card, rc))
        return rc;
    /* MANAGE CHANNEL refused on the way to the card: the transport's own
     * channel, from now on. */
    char refusal[sizeof(card->errmsg)];
    memcpy(refusal, card->errmsg, sizeof(refusal));
    const uint16_t sw = card->last_sw;
    scb__note(card, "MANAGE CHANNEL refused on the way to the card: the transport opens the "
                    "channel (%s)", open_name(card));
    const int own = tp_open(card, aid, aid_len);
    if (own != SCB_E_UNSUPPORTED) {
        card->ch_route = SCB_TP_CHANNELS_OWN;
        return own;
    }
    /* The transport cannot either: the refusal is the answer, decided. */
    card->ch_route = SCB_TP_CHANNELS_MANAGE;
    card->last_sw = sw;
    return scb__fail(card, rc, "%s; the transport cannot open one either (%s): use the basic "
                     "channel (the no_logical_channel option)", refusal, tp_why(card, own));
}

int scb__channel_close(scb_card_t *card)
{
    if (card->channel == 0)
        return scb__fail(card, SCB_E_STATE, "the basic channel 0 cannot be closed");
    const uint8_t ch = card->channel;
    if (card->sm_channel == ch)
        scb__sm_close(card);
    scb__tp_channel_t *tc = tp_channel_by_id(card, ch);
    return tc != NULL ? tp_close(card, tc) : manage_close(card, ch);
}

void scb__channels_close_all(scb_card_t *card)
{
    for (size_t i = 0; i < SCB__TP_CHANNELS; i++) {
        if (!card->tpch[i].open)
            continue;
        card->channel = card->tpch[i].id;
        if (scb__channel_close(card) == SCB_E_TIMEOUT)
            return; /* a silent transport: do not wait once per channel */
    }
    for (uint8_t n = 1; n <= MAX_CHANNEL && card->mc_opened != 0; n++) {
        if ((card->mc_opened & (1u << n)) == 0)
            continue;
        card->channel = n;
        if (scb__channel_close(card) == SCB_E_TIMEOUT)
            return;
    }
}

/* ------------------------------------------------------------------------ */
/* Public calls                                                              */
/* ------------------------------------------------------------------------ */
int scb_channel_open(scb_card_t *card, uint8_t *channel)
{
    SCB__ENTER(card);
    if (channel == NULL)
        return scb__fail(card, SCB_E_INVALID_ARG, "scb_channel_open: channel is NULL");
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = scb__channel_open(card, channel);
    scb__end(card);
    return rc;
}

int scb_channel_open_app(scb_card_t *card, const uint8_t *aid, size_t aid_len, uint8_t *channel)
{
    SCB__ENTER(card);
    if (aid == NULL || aid_len < 1 || aid_len > 16 || channel == NULL)
        return scb__fail(card, SCB_E_INVALID_ARG,
                         "scb_channel_open_app: an AID of 1..16 bytes and a channel out");
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = scb__channel_open_app(card, aid, aid_len);
    scb__end(card);
    *channel = rc == SCB_OK ? card->channel : 0;
    return rc;
}

int scb_channel_close(scb_card_t *card)
{
    SCB__ENTER(card);
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = scb__channel_close(card);
    scb__end(card);
    return rc;
}

int scb_channel_select(scb_card_t *card, uint8_t channel)
{
    SCB__ENTER(card);
    if (channel > MAX_CHANNEL && tp_channel_by_id(card, channel) == NULL)
        return scb__fail(card, SCB_E_INVALID_ARG,
                         "logical channel %u: at most 19, or one the transport opened",
                         (unsigned)channel);
    card->channel = channel;
    return SCB_OK;
}
