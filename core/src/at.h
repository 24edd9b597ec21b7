/*
 * The AT command layer (ITU-T V.250, 3GPP TS 27.007) under the modem
 * transport, and the serial device as an AT channel. Internal.
 *
 * scb__at_command() sends one command line and reads lines until the final
 * result code, skipping echoes, blank lines and unsolicited result codes
 * wherever they come, within a deadline. Failures leave a detail text that
 * names the command (never its arguments: they carry APDU bytes).
 */
#ifndef SCB_AT_H
#define SCB_AT_H

#include "scboot.h"
#include "scboot/transport.h"

#include <stdbool.h>

typedef struct scb_at scb_at_t;

/* line_cap: the longest line accepted (longer lines are dropped and, when
 * they were the expected information response, reported). */
int scb__at_new(scb_at_t **out, const scb_at_channel_t *ch, unsigned timeout_ms,
                size_t line_cap);
/* close_channel: call the channel's close() (false when opening failed and
 * the caller keeps the channel). Wipes the buffers (they held APDU hex). */
void scb__at_free(scb_at_t **at, bool close_channel);

/* scb__at_command flags */
#define SCB__AT_BARE_NUMBER 0x0001u /* the information response may also be a bare number
                                     * (27.007 8.45: +CCHO answers "<sessionid>") */
#define SCB__AT_NUMERIC_OK  0x0002u /* also accept V.250 numeric result codes 0 / 4
                                     * (the modem may still be in ATV0 before ATV1) */

/* Send "<cmd>\r" (cmd starts with "AT"). When info_prefix is not NULL the
 * command must answer exactly one line starting with it (e.g. "+CSIM:");
 * that line is copied to info (NUL-terminated, at most info_cap - 1 chars).
 * Returns 0 on OK, SCB_E_MODEM on ERROR, SCB_E_MODEM_CME on +CME ERROR,
 * SCB_E_TIMEOUT, SCB_E_CARD_REMOVED (the channel is gone; every later call
 * fails the same way), SCB_E_BAD_RESPONSE (missing / duplicate / overlong
 * information line) or SCB_E_TRANSPORT. */
int scb__at_command(scb_at_t *at, const char *cmd, const char *info_prefix, unsigned flags,
                    char *info, size_t info_cap);
/* Why the last command failed ("" after success). */
const char *scb__at_detail(const scb_at_t *at);
/* +CME ERROR number of the last command, -1 if none or not known. */
int scb__at_cme(const scb_at_t *at);
/* True once the channel reported end of file / removal. */
bool scb__at_gone(const scb_at_t *at);
/* Exclusive use of the channel (its optional begin/end). */
int scb__at_begin(scb_at_t *at);
int scb__at_end(scb_at_t *at);

/* The serial device as an AT channel (modem_tty.c): raw 8N1, CLOCAL,
 * RTS/CTS when rtscts. write_timeout_ms bounds a blocked write. On success
 * *out is filled and its close() restores the line settings. */
int scb__tty_channel_open(scb_at_channel_t *out, const char *device, unsigned baud, bool rtscts,
                          unsigned write_timeout_ms, char *detail, size_t detail_len);

#endif /* SCB_AT_H */
