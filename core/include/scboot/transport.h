/*
 * scboot/transport.h: card handles over a caller's transport, and the
 * modem transport over a caller's AT channel. Every byte to or from a card
 * passes the library's one transmit path, whatever the transport: tracing,
 * APDU counting and the secure channel work the same over each.
 */
#ifndef SCBOOT_TRANSPORT_H
#define SCBOOT_TRANSPORT_H

#include <scboot.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* A caller transport                                                        */
/* ------------------------------------------------------------------------ */
/* Version 2 added the channel operations, query and the trace names below;
 * a version-1 struct (which ends at close) is still accepted. */
#define SCB_TRANSPORT_VERSION 2

/* Transport feature flags (scb_transport_t.flags) */
#define SCB_TP_EXTENDED_LENGTH 0x0001u /* the path carries extended-length APDUs */
#define SCB_TP_T0              0x0002u /* T=0: case-4 responses come back as 61xx */

typedef struct scb_transport {
    unsigned version;                /* SCB_TRANSPORT_VERSION (or 1) */
    void *user;                      /* passed to every callback */
    unsigned flags;                  /* SCB_TP_* */
    /* Send one command APDU, receive the response (data + SW1 SW2).
     * *resp_len: capacity on entry, bytes written on return.
     * Return 0 or a negative SCB_E_* transport code. Required. */
    int (*transmit)(void *user, const uint8_t *cmd, size_t cmd_len,
                    uint8_t *resp, size_t *resp_len);
    /* Optional: exclusive access for one operation (PC/SC
     * SCardBeginTransaction/EndTransaction). May be NULL. */
    int (*begin)(void *user);
    int (*end)(void *user);
    /* Optional: called once by scb_card_free. May be NULL. */
    void (*close)(void *user);

    /* ---- version 2 ---- */
    /* Optional, all three or none: logical channels the transport opens
     * itself, as a modem does with AT+CCHO / +CGLA / +CCHC (3GPP TS 27.007
     * 8.45, 8.43, 8.46). channel_open opens a channel AND selects the application
     * aid (1..16 bytes) on it; *session receives the transport's name for
     * the channel, *number the channel number the card assigned (1..19), or
     * -1 when the transport cannot tell. Without a number the library never
     * puts one into CLA: the transport (the modem, 27.007 8.45) sets the
     * channel bits of what it sends on the session. channel_open returns 0,
     * SCB_E_NOT_FOUND (no such application), SCB_E_NO_CHANNEL (none free),
     * SCB_E_UNSUPPORTED (the transport cannot open channels after all: the
     * library then uses MANAGE CHANNEL) or a transport code. What the
     * library sends on the channel goes through channel_transmit (as
     * transmit); channel_close ends the session. */
    int (*channel_open)(void *user, const uint8_t *aid, size_t aid_len, long *session,
                        int *number);
    int (*channel_transmit)(void *user, long session, const uint8_t *cmd, size_t cmd_len,
                            uint8_t *resp, size_t *resp_len);
    int (*channel_close)(void *user, long session);
    /* Optional: answer one question (SCB_TPQ_*) in *value; 0, or
     * SCB_E_UNSUPPORTED for a question the transport does not answer. */
    int (*query)(void *user, int what, long *value);
    /* Optional: how traces name channel_open and channel_close (a modem:
     * "+CCHO", "+CCHC"); NULL: "channel open", "channel close". */
    const char *channel_open_name;
    const char *channel_close_name;
} scb_transport_t;

/* Questions for scb_transport_t.query. */
#define SCB_TPQ_CHANNELS 1 /* how the library opens logical channels: enum scb_tp_channels */
#define SCB_TPQ_LAST_CME 2 /* +CME ERROR number of the last operation (-1: none), a modem */

/* How logical channels are opened. Without an answer to SCB_TPQ_CHANNELS:
 * _OWN when the transport has channel operations, _MANAGE otherwise. */
enum scb_tp_channels {
    SCB_TP_CHANNELS_AUTO = 0,   /* MANAGE CHANNEL through transmit; channel_open when the
                                 * path refuses it (the transport fails it, or the card
                                 * answers 6D00 / 6E00, which a UICC does not: TS 102 221
                                 * 11.1.17), and from then on */
    SCB_TP_CHANNELS_MANAGE = 1, /* MANAGE CHANNEL through transmit only */
    SCB_TP_CHANNELS_OWN = 2     /* channel_open only */
};

/* Open a card handle over a caller transport. The struct is copied; the
 * transport's close() (if any) is called by scb_card_free. */
SCB_API int scb_card_open_transport(scb_card_t **out, const scb_transport_t *tp);

/* ------------------------------------------------------------------------ */
/* The modem over a caller's AT channel                                      */
/* ------------------------------------------------------------------------ */
/* For code that already owns the modem port (a gateway plugin, another
 * serial library, a multiplexer). What the modem transport does on the
 * line is described in the repository's docs/modem.md. */
#define SCB_AT_CHANNEL_VERSION 1
typedef struct scb_at_channel {
    unsigned version;             /* SCB_AT_CHANNEL_VERSION */
    void *user;                   /* passed to every callback */
    /* Write all len bytes. 0, or a negative SCB_E_* code (SCB_E_CARD_REMOVED
     * when the port is gone). Required. */
    int (*write)(void *user, const uint8_t *data, size_t len);
    /* Read at most cap bytes, waiting up to timeout_ms (0: do not wait).
     * Returns the number of bytes (0: nothing arrived in time), or a negative
     * SCB_E_* code (SCB_E_CARD_REMOVED at end of file). Required. */
    int (*read)(void *user, uint8_t *buf, size_t cap, int timeout_ms);
    /* Optional (may be NULL): keep other users off the port during one
     * operation (scb_card_begin / scb_card_end). */
    int (*begin)(void *user);
    int (*end)(void *user);
    /* Optional: called once by scb_card_free (not when opening fails). */
    void (*close)(void *user);
} scb_at_channel_t;

/* Values of the "modem_channels" option: how the modem's logical channels
 * are opened (the transport answers SCB_TPQ_CHANNELS with it). */
enum scb_modem_channels {
    SCB_MODEM_CH_AUTO = SCB_TP_CHANNELS_AUTO,   /* MANAGE CHANNEL through +CSIM; when the
                                                 * modem refuses it, +CCHO/+CGLA/+CCHC */
    SCB_MODEM_CH_CSIM = SCB_TP_CHANNELS_MANAGE, /* everything through +CSIM */
    SCB_MODEM_CH_CGLA = SCB_TP_CHANNELS_OWN     /* logical channels always with
                                                 * +CCHO/+CGLA/+CCHC */
};
#define SCB_MODEM_DEFAULT_BAUD 115200u
#define SCB_MODEM_DEFAULT_TIMEOUT_MS 5000u

/* The modem over channel (the struct is copied); opts as for
 * scb_card_open_modem (baud and rtscts do not apply). */
SCB_API int scb_card_open_at(scb_card_t **out, const scb_at_channel_t *channel,
                             const scb_opts_t *opts, char *detail, size_t detail_len);
/* Number of the last +CME ERROR on a modem handle (during the last call
 * that talked to the modem), -1 when there was none, it was verbose text
 * without a known number, or the transport does not say (SCB_TPQ_LAST_CME). */
SCB_API int scb_card_modem_cme(const scb_card_t *card);
/* How logical channels are carried now: SCB_MODEM_CH_CSIM or _CGLA
 * (SCB_MODEM_CH_AUTO until the first logical channel decided it), -1 when
 * the transport does not say how it opens them (SCB_TPQ_CHANNELS). */
SCB_API int scb_card_modem_channels(const scb_card_t *card);

#ifdef __cplusplus
}
#endif
#endif /* SCBOOT_TRANSPORT_H */
