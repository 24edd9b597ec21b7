/* The scripted transport: expected command -> canned response. */
#include "testkit.h"

/* ---- scripted transport ---- */
tk_script_t *tk_script_new(void)
{
    tk_script_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    return s;
}

void tk_script_free(tk_script_t *s)
{
    free(s);
}

void tk_script_add(tk_script_t *s, const char *cmd_hex, const char *resp_hex)
{
    if (s->count >= TK_SCRIPT_MAX)
        abort();
    tk_step_t *st = &s->steps[s->count++];
    memset(st, 0, sizeof(*st));
    if (cmd_hex != NULL)
        st->cmd_len = tk_unhex(cmd_hex, st->cmd, sizeof(st->cmd));
    if (resp_hex != NULL)
        st->resp_len = tk_unhex(resp_hex, st->resp, sizeof(st->resp));
}

void tk_script_add_error(tk_script_t *s, const char *cmd_hex, int error)
{
    tk_script_add(s, cmd_hex, NULL);
    s->steps[s->count - 1].error = error;
}

static int script_transmit(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                           size_t *resp_len)
{
    tk_script_t *s = user;
    if (s->responder != NULL)
        return s->responder(s, cmd, cmd_len, resp, resp_len);
    if (s->pos >= s->count) {
        s->overruns++;
        if (!s->quiet) {
            char h[2 * 600 + 1];
            fprintf(stderr, "script: unexpected command after the end: %s\n",
                    tk_hex(cmd, cmd_len, h, sizeof(h)));
        }
        return SCB_E_TRANSPORT;
    }
    const tk_step_t *st = &s->steps[s->pos++];
    if (st->cmd_len != 0 && (st->cmd_len != cmd_len || memcmp(st->cmd, cmd, cmd_len) != 0)) {
        s->mismatches++;
        if (!s->quiet) {
            char h1[2 * 600 + 1], h2[2 * 600 + 1];
            fprintf(stderr, "script step %zu: command\n  sent     %s\n  expected %s\n",
                    s->pos - 1, tk_hex(cmd, cmd_len, h1, sizeof(h1)),
                    tk_hex(st->cmd, st->cmd_len, h2, sizeof(h2)));
        }
    }
    if (st->error != 0)
        return st->error;
    if (st->resp_len > *resp_len)
        return SCB_E_BUFFER_TOO_SMALL;
    memcpy(resp, st->resp, st->resp_len);
    *resp_len = st->resp_len;
    return 0;
}

scb_card_t *tk_card(tk_script_t *s)
{
    scb_transport_t tp = {0};
    tp.version = SCB_TRANSPORT_VERSION;
    tp.user = s;
    tp.flags = s->flags;
    tp.transmit = script_transmit;
    scb_card_t *card = NULL;
    int rc = scb_card_open_transport(&card, &tp);
    if (rc != 0) {
        fprintf(stderr, "tk_card: %s\n", scb_strerror(rc));
        abort();
    }
    return card;
}

bool tk_script_complete(const tk_script_t *s)
{
    return s->pos == s->count && s->mismatches == 0 && s->overruns == 0;
}


/* ---- trace collector ---- */
static void trace_event(void *user, const scb_trace_event_t *ev)
{
    tk_trace_t *t = user;
    if (t->n < TK_TRACE_LINES)
        scb_trace_format(ev, t->lines[t->n++], sizeof(t->lines[0]));
}

void tk_trace_on(scb_card_t *card, tk_trace_t *t)
{
    memset(t, 0, sizeof(*t));
    scb_trace_t tr = {SCB_TRACE_VERSION, t, trace_event};
    if (scb_card_set_trace(card, &tr) != SCB_OK)
        abort();
}

bool tk_traced(const tk_trace_t *t, const char *prefix)
{
    for (size_t i = 0; i < t->n; i++)
        if (strncmp(t->lines[i], prefix, strlen(prefix)) == 0)
            return true;
    return false;
}
