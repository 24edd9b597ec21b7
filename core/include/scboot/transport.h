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
#define SCB_TRANSPORT_VERSION 1

/* Transport feature flags (scb_transport_t.flags) */
#define SCB_TP_EXTENDED_LENGTH 0x0001u /* the path carries extended-length APDUs */
#define SCB_TP_T0              0x0002u /* T=0: case-4 responses come back as 61xx */

typedef struct scb_transport {
    unsigned version;                /* SCB_TRANSPORT_VERSION */
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
} scb_transport_t;

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

/* Values of the "modem_channels" option. */
enum scb_modem_channels {
    SCB_MODEM_CH_AUTO = 0, /* MANAGE CHANNEL through +CSIM; when the modem refuses
                            * it and answers AT+CCHO=? and AT+CGLA=?, +CCHO/+CGLA */
    SCB_MODEM_CH_CSIM = 1, /* everything through +CSIM */
    SCB_MODEM_CH_CGLA = 2  /* logical channels always with +CCHO/+CGLA/+CCHC */
};
#define SCB_MODEM_DEFAULT_BAUD 115200u
#define SCB_MODEM_DEFAULT_TIMEOUT_MS 5000u

/* The modem over channel (the struct is copied); opts as for
 * scb_card_open_modem (baud and rtscts do not apply). */
SCB_API int scb_card_open_at(scb_card_t **out, const scb_at_channel_t *channel,
                             const scb_opts_t *opts, char *detail, size_t detail_len);
/* Number of the last +CME ERROR on a modem handle (during the last
 * transmit), -1 when there was none, it was verbose text without a known
 * number, or the handle is not a modem handle. */
SCB_API int scb_card_modem_cme(const scb_card_t *card);
/* How logical channels are carried now: SCB_MODEM_CH_CSIM or _CGLA
 * (SCB_MODEM_CH_AUTO until the first logical channel decided it), -1 when
 * the handle is not a modem handle. */
SCB_API int scb_card_modem_channels(const scb_card_t *card);

#ifdef __cplusplus
}
#endif
#endif /* SCBOOT_TRANSPORT_H */
