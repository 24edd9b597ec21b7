/* One-line rendering of trace events: "A>> ..", "A<< .. (9000)", "S>>"/"S<<"
 * for the plaintext seen under secure messaging, "# note". */
#include "internal.h"

#include <stdio.h>
#include <string.h>

int scb_trace_format(const scb_trace_event_t *ev, char *buf, size_t len)
{
    if (ev == NULL || buf == NULL || len == 0)
        return SCB_E_INVALID_ARG;
    const char *prefix;
    bool resp = false;
    switch (ev->kind) {
    case SCB_TRACE_WIRE_CMD: prefix = "A>> "; break;
    case SCB_TRACE_WIRE_RESP: prefix = "A<< "; resp = true; break;
    case SCB_TRACE_PLAIN_CMD: prefix = "S>> "; break;
    case SCB_TRACE_PLAIN_RESP: prefix = "S<< "; resp = true; break;
    case SCB_TRACE_NOTE:
        return snprintf(buf, len, "# %s", ev->text != NULL ? ev->text : "") < 0
                   ? SCB_E_INTERNAL
                   : (int)strnlen(buf, len);
    default:
        return SCB_E_INVALID_ARG;
    }
    size_t o = (size_t)snprintf(buf, len, "%s", prefix);
    if (o >= len)
        return (int)(len - 1);
    const uint8_t *d = ev->data;
    size_t n = ev->data != NULL ? ev->len : 0;
    if (ev->masked) {
        /* Command: header shown, data hidden. Response: SW only. */
        if (!resp) {
            o += scb__hex(d, n, buf + o, len - o, true);
            if (o < len)
                o += (size_t)snprintf(buf + o, len - o, " [data masked]");
        } else {
            uint16_t sw = n == 2 ? (uint16_t)(d[0] << 8 | d[1]) : 0;
            o += (size_t)snprintf(buf + o, len - o, "[%zu bytes masked] (%04X)",
                                  ev->full_len >= 2 ? ev->full_len - 2 : 0, sw);
        }
    } else if (resp && n >= 2) {
        o += scb__hex(d, n - 2, buf + o, len - o, true);
        if (o < len)
            o += (size_t)snprintf(buf + o, len - o, "%s(%02X%02X)", n > 2 ? " " : "",
                                  d[n - 2], d[n - 1]);
    } else {
        o += scb__hex(d, n, buf + o, len - o, true);
    }
    if (o >= len)
        o = len - 1;
    buf[o] = 0;
    return (int)o;
}
