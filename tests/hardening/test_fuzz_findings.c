/*
 * What fuzzing found, one test per finding (the fuzz input that found it
 * is kept in fuzz/corpus/<harness>/finding-*, replayed by fuzz_replay.*).
 */
#include "fuzzed_card.h"
#include "testkit.h"

/* fuzz_engine: a transport answering SCB_E_BUFFER_TOO_SMALL (the PC/SC
 * transport maps SCARD_E_INSUFFICIENT_BUFFER to it; the test kit's script
 * too) came out of scb_card_transmit as "your buffer is too small" with
 * *resp_len unchanged, so a caller growing its buffer to *resp_len would
 * retry forever. Codes that are not a transport's own are the transport's
 * failure, never the caller's or the card's. */
static void test_transport_codes_are_transport_failures(void)
{
    static const int foreign[] = {SCB_E_BUFFER_TOO_SMALL, SCB_E_SCP_RMAC, SCB_E_SCP_CARD_CRYPTOGRAM,
                                  SCB_E_STATUS, SCB_E_NOT_FOUND, SCB_E_WRITE_INCOMPLETE, 5};
    for (size_t i = 0; i < SCB_ARRAY_LEN(foreign); i++) {
        tk_script_t *s = tk_script_new();
        tk_script_add_error(s, NULL, foreign[i]);
        scb_card_t *card = tk_card(s);
        uint8_t resp[64];
        size_t rl = sizeof(resp);
        TK_EQ_RC(scb_card_transmit(card, (const uint8_t *)"\x00\xB0\x00\x00\x00", 5, resp, &rl),
                 SCB_E_TRANSPORT);
        TK_CHECK(strstr(scb_card_errmsg(card), "transport") != NULL);
        scb_card_free(&card);
        tk_script_free(s);
    }
    /* a transport's own codes come through as they are */
    static const int own[] = {SCB_E_CARD_REMOVED, SCB_E_CARD_RESET, SCB_E_TIMEOUT,
                              SCB_E_NO_SERVICE, SCB_E_MODEM_CME, SCB_E_BAD_RESPONSE, SCB_E_NOMEM};
    for (size_t i = 0; i < SCB_ARRAY_LEN(own); i++) {
        tk_script_t *s = tk_script_new();
        tk_script_add_error(s, NULL, own[i]);
        scb_card_t *card = tk_card(s);
        uint8_t resp[64];
        size_t rl = sizeof(resp);
        TK_EQ_RC(scb_card_transmit(card, (const uint8_t *)"\x00\xB0\x00\x00\x00", 5, resp, &rl),
                 own[i]);
        scb_card_free(&card);
        tk_script_free(s);
    }
}

/* fuzz_engine: READ BINARY took an answer ending in 6282 ("end of file
 * reached before Le bytes") without comparing its length with what was
 * asked, so scb_read_binary returned more bytes than the size asked for
 * (at most the buffer: no overflow, but callers size by what they ask). */
static void test_read_binary_end_of_file_longer_than_asked(void)
{
    tk_script_t *s = tk_script_new();
    tk_script_add(s, "00 B0 00 00 10", "000102030405060708090A0B0C0D0E0F1011121314 6282");
    tk_script_add(s, "00 B0 00 00 00", "00010203 6282"); /* until the end: Le 256, 4 bytes: fine */
    scb_card_t *card = tk_card(s);
    uint8_t buf[300];
    size_t len = sizeof(buf);
    TK_EQ_RC(scb_read_binary(card, 16, buf, &len), SCB_E_BAD_RESPONSE);
    TK_CHECK(strstr(scb_card_errmsg(card), "asked 16 bytes, got 21") != NULL);
    len = sizeof(buf);
    TK_EQ_RC(scb_read_binary(card, 0, buf, &len), SCB_OK);
    TK_EQ_INT(len, 4);
    TK_CHECK(tk_script_complete(s));
    scb_card_free(&card);
    tk_script_free(s);
}

/* fuzz_read_bootstrap: a write with FF padding (SCB_OPT_PAD) filled
 * its 32 KB work buffer with FF up to the EF size the card's FCP claimed,
 * which was never held against the 32 KB limit: a card claiming a larger
 * bootstrap EF overflowed the heap (ASan: heap-buffer-overflow in memset). */
static void count_updates(void *user, const scb_trace_event_t *ev)
{
    if (ev->kind == SCB_TRACE_WIRE_CMD && ev->len >= 2 && ev->data[1] == 0xD6)
        (*(int *)user)++;
}

static void test_write_padding_to_an_oversized_ef(void)
{
    static const uint8_t records[] = {
        FZ_CARD, 0,                   /* MANAGE CHANNEL open: 01 90 00 */
        FZ_RAW, 2, 0x90, 0x00,        /* SELECT ADF */
        FZ_CARD, 0, FZ_CARD, 0,       /* INITIALIZE UPDATE, EXTERNAL AUTHENTICATE */
        FZ_PLAIN, 27,                 /* SELECT 6432: FCP with size 01 80 00 (98304) */
        0x62, 0x17, 0x82, 0x02, 0x41, 0x21, 0x83, 0x02, 0x64, 0x32, 0x8A, 0x01, 0x05, 0x8C,
        0x03, 0x03, 0x40, 0x00, 0x80, 0x03, 0x01, 0x80, 0x00, 0x88, 0x00, 0x90, 0x00,
        FZ_CARD, 0,                   /* an UPDATE BINARY of the data would be taken */
    };
    static const uint8_t empty_file[4] = {0, 0, 0, 0};
    static const uint8_t path[2] = {0x64, 0x32};
    fz_card_t c;
    fz_card_init(&c, records, sizeof(records), 0, 0);
    scb_keys_t *keys = NULL;
    scb_card_t *card = fz_card_open(&c, &keys);
    int updates = 0;
    scb_trace_t t = {SCB_TRACE_VERSION, &updates, count_updates};
    TK_EQ_RC(scb_card_set_trace(card, &t), SCB_OK);
    scb_opts_t *o = NULL;
    TK_EQ_RC(scb_opts_new(&o), SCB_OK);
    TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_AID, scb_pkcs15_default_aid(), SCB_PKCS15_AID_LEN),
             SCB_OK);
    TK_EQ_RC(scb_opts_set_bytes(o, SCB_OPT_PATH, path, sizeof(path)), SCB_OK);
    TK_EQ_RC(scb_opts_set_int(o, SCB_OPT_PAD, 1), SCB_OK);
    TK_EQ_RC(scb_write_bootstrap(card, keys, o, empty_file, sizeof(empty_file), NULL),
             SCB_E_FILE_TOO_LARGE);
    scb_opts_free(&o);
    TK_CHECK(strstr(scb_card_errmsg(card), "98304") != NULL);
    TK_EQ_INT(updates, 0); /* nothing written */
    scb_card_free(&card);
    scb_keys_free(&keys);
    fz_card_free(&c);
}

int main(void)
{
    TK_RUN(test_transport_codes_are_transport_failures);
    TK_RUN(test_read_binary_end_of_file_longer_than_asked);
    TK_RUN(test_write_padding_to_an_oversized_ef);
    return tk_done();
}
