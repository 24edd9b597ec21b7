/* The scripted AT channel (see at_script.h). */
#include "at_script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

at_script_t *as_new(void)
{
    at_script_t *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->wline = malloc(AS_MAX_LINE)) == NULL ||
        (s->out = malloc(AS_MAX_OUT)) == NULL)
        abort();
    return s;
}

void as_free(at_script_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->count; i++) {
        free(s->steps[i].expect);
        free(s->steps[i].reply);
        free(s->steps[i].late);
    }
    for (size_t i = 0; i < s->logged; i++)
        free(s->log[i]);
    free(s->wline);
    free(s->out);
    free(s);
}

static char *dup_or_null(const char *t)
{
    if (t == NULL)
        return NULL;
    char *d = strdup(t);
    if (d == NULL)
        abort();
    return d;
}

void as_add_error(at_script_t *s, const char *expect, const char *reply, int read_error)
{
    if (s->count >= AS_MAX_STEPS)
        abort();
    as_step_t *st = &s->steps[s->count++];
    st->expect = dup_or_null(expect);
    st->reply = dup_or_null(reply);
    st->read_error = read_error;
}

void as_add(at_script_t *s, const char *expect, const char *reply)
{
    as_add_error(s, expect, reply, 0);
}

void as_late(at_script_t *s, const char *late, unsigned late_ms)
{
    as_step_t *st = &s->steps[s->count - 1];
    st->late = dup_or_null(late);
    st->late_ms = late_ms;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void as_add_init(at_script_t *s)
{
    as_add(s, "AT", "\r\nOK\r\n");
    as_add(s, "ATE0V1", "\r\nOK\r\n");
    as_add(s, "AT+CMEE=1", "\r\nOK\r\n");
}

static void queue(at_script_t *s, const char *bytes, size_t n)
{
    if (s->out_pos == s->out_len)
        s->out_pos = s->out_len = 0;
    if (s->out_len + n > AS_MAX_OUT)
        abort();
    memcpy(s->out + s->out_len, bytes, n);
    s->out_len += n;
}

static bool matches(const char *expect, const char *line)
{
    if (expect == NULL)
        return true;
    size_t n = strlen(expect);
    if (n > 0 && expect[n - 1] == '*')
        return strncmp(expect, line, n - 1) == 0;
    return strcmp(expect, line) == 0;
}

/* A complete command line arrived: answer it from the next step. */
static void on_command(at_script_t *s)
{
    s->wline[s->wlen] = 0;
    s->commands++;
    if (s->logged < AS_MAX_LOG)
        s->log[s->logged++] = dup_or_null(s->wline);
    if (s->echo) {
        queue(s, s->wline, s->wlen);
        queue(s, "\r", 1);
    }
    if (s->pos >= s->count) {
        s->overruns++;
        if (!s->quiet)
            fprintf(stderr, "at_script: unexpected command after the end: %.80s\n", s->wline);
        return;
    }
    const as_step_t *st = &s->steps[s->pos++];
    if (!matches(st->expect, s->wline)) {
        s->mismatches++;
        if (!s->quiet)
            fprintf(stderr, "at_script step %zu:\n  got      %.200s\n  expected %.200s\n",
                    s->pos - 1, s->wline, st->expect);
    }
    if (st->reply != NULL)
        queue(s, st->reply, strlen(st->reply));
    if (st->read_error != 0)
        s->read_error = st->read_error;
    if (st->late != NULL) {
        if (s->late_count >= AS_MAX_LATE)
            abort();
        long long due = now_ms() + st->late_ms;
        size_t i = s->late_count++;
        for (; i > 0 && s->late[i - 1].due_ms > due; i--)
            s->late[i] = s->late[i - 1];
        s->late[i].due_ms = due;
        s->late[i].bytes = st->late;
    }
}

/* Late bytes whose time has come join the output. */
static void release_late(at_script_t *s)
{
    const long long now = now_ms();
    size_t done = 0;
    while (done < s->late_count && s->late[done].due_ms <= now) {
        queue(s, s->late[done].bytes, strlen(s->late[done].bytes));
        done++;
    }
    memmove(s->late, s->late + done, (s->late_count - done) * sizeof(s->late[0]));
    s->late_count -= done;
}

static int as_write(void *user, const uint8_t *data, size_t len)
{
    at_script_t *s = user;
    s->writes++;
    if (s->write_error != 0)
        return s->write_error;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\r') {
            on_command(s);
            s->wlen = 0;
        } else if (s->wlen + 1 < AS_MAX_LINE) {
            s->wline[s->wlen++] = (char)data[i];
        }
    }
    return 0;
}

static int as_read(void *user, uint8_t *buf, size_t cap, int timeout_ms)
{
    at_script_t *s = user;
    release_late(s);
    if (s->out_pos == s->out_len && s->late_count > 0) {
        /* wait for the next late bytes, as long as the reader waits */
        long long wait = s->late[0].due_ms - now_ms();
        sleep_ms(wait < timeout_ms ? wait : timeout_ms);
        release_late(s);
    }
    if (s->out_pos < s->out_len) {
        size_t n = s->out_len - s->out_pos;
        if (s->chunk != 0 && n > s->chunk)
            n = s->chunk;
        if (n > cap)
            n = cap;
        memcpy(buf, s->out + s->out_pos, n);
        s->out_pos += n;
        return (int)n;
    }
    if (s->read_error != 0)
        return s->read_error;
    if (s->babble != NULL) {
        size_t n = strlen(s->babble) < cap ? strlen(s->babble) : cap;
        memcpy(buf, s->babble, n);
        return (int)n;
    }
    if (s->late_count == 0)
        sleep_ms(timeout_ms); /* nothing to say: wait as a silent modem would */
    return 0;
}

static int as_begin(void *user)
{
    ((at_script_t *)user)->begins++;
    return 0;
}

static int as_end(void *user)
{
    ((at_script_t *)user)->ends++;
    return 0;
}

static void as_close(void *user)
{
    ((at_script_t *)user)->closes++;
}

scb_at_channel_t as_channel(at_script_t *s, bool with_lock)
{
    scb_at_channel_t ch;
    memset(&ch, 0, sizeof(ch));
    ch.version = SCB_AT_CHANNEL_VERSION;
    ch.user = s;
    ch.write = as_write;
    ch.read = as_read;
    ch.close = as_close;
    if (with_lock) {
        ch.begin = as_begin;
        ch.end = as_end;
    }
    return ch;
}

bool as_complete(const at_script_t *s)
{
    return s->pos == s->count && s->mismatches == 0 && s->overruns == 0;
}

scb_card_t *as_card(at_script_t *s, const scb_opts_t *opts)
{
    scb_opts_t *o = NULL;
    if (opts == NULL) {
        if (scb_opts_new(&o) != SCB_OK ||
            scb_opts_set_int(o, SCB_OPT_MODEM_TIMEOUT_MS, 200) != SCB_OK) {
            fprintf(stderr, "as_card: options: %s\n", scb_opts_errmsg(o));
            abort();
        }
        opts = o;
    }
    scb_at_channel_t ch = as_channel(s, false);
    scb_card_t *card = NULL;
    char detail[256] = "";
    int rc = scb_card_open_at(&card, &ch, opts, detail, sizeof(detail));
    scb_opts_free(&o);
    if (rc != 0) {
        fprintf(stderr, "as_card: %s: %s\n", scb_error_name(rc), detail);
        abort();
    }
    return card;
}
