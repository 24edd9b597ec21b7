/*
 * The card end of an SCP03 session, for tests: built from a recorded
 * entry's session keys with the crypto facade only (never with the
 * library's wrap/unwrap), it checks a wire command's C-MAC, decrypts it,
 * and seals responses with R-ENC / R-MAC, malformed on purpose when a test
 * wants that. Short APDUs on channels 0-3, MAC CLA with channel bits
 * cleared (the library's default).
 *
 * It answers through the scripted transport's responder: INITIALIZE UPDATE
 * and EXTERNAL AUTHENTICATE get the recorded responses, every later
 * command goes to the test's `answer` callback with the decrypted command.
 */
#ifndef SCP03_CARD_ORACLE_H
#define SCP03_CARD_ORACLE_H

#include "crypto.h"
#include "scp03_testdata.h"

typedef struct oracle oracle_t;
/* Build the wire response (data + SW) to a plain command; return length. */
typedef size_t (*oracle_answer_fn)(oracle_t *o, const uint8_t *hdr, const uint8_t *plain,
                                   size_t plain_len, uint8_t *resp);
struct oracle {
    scb_aes_t *enc, *mac, *rmac;
    uint8_t mcv[16];
    uint64_t counter;
    size_t mac_len;
    uint8_t level;
    json_object *entry; /* the recorded session */
    size_t commands;    /* wire commands seen */
    int bad_cmac;       /* commands whose C-MAC did not verify */
    oracle_answer_fn answer;
    void *user;
};

static void oracle_init(oracle_t *o, json_object *entry, uint8_t level)
{
    memset(o, 0, sizeof(*o));
    scb_aes_t **keys[3] = {&o->enc, &o->mac, &o->rmac};
    static const char *const names[3] = {"s_enc", "s_mac", "s_rmac"};
    for (int i = 0; i < 3; i++) {
        uint8_t k[32];
        size_t n = tk_unhex(scp03_field(entry, "session", names[i]), k, sizeof(k));
        if (scb__aes_new(keys[i], k, n) != 0)
            abort();
    }
    o->mac_len = 8; /* the recorded sessions are S8 */
    o->level = level;
    o->entry = entry;
}

static void oracle_free(oracle_t *o)
{
    scb__aes_free(&o->enc);
    scb__aes_free(&o->mac);
    scb__aes_free(&o->rmac);
}

static void oracle_icv(oracle_t *o, bool response, uint8_t icv[16])
{
    uint8_t block[16] = {0};
    for (int i = 0; i < 8; i++)
        block[15 - i] = (uint8_t)(o->counter >> (8 * i));
    if (response)
        block[0] = 0x80;
    scb__aes_ecb_block(o->enc, block, icv);
}

/* Encrypt n bytes (a multiple of 16, padding already in) as R-ENC does. */
static void oracle_encrypt(oracle_t *o, const uint8_t *padded, size_t n, uint8_t *out)
{
    uint8_t icv[16];
    oracle_icv(o, true, icv);
    scb__aes_cbc_encrypt(o->enc, icv, padded, n, out);
}

/* Append R-MAC (over MCV || data || SW) and SW to data[0..n). */
static size_t oracle_seal(oracle_t *o, uint8_t *data, size_t n, uint16_t sw)
{
    uint8_t m[16], swb[2] = {(uint8_t)(sw >> 8), (uint8_t)sw};
    scb__cmac_begin(o->rmac);
    scb__cmac_update(o->rmac, o->mcv, 16);
    scb__cmac_update(o->rmac, data, n);
    scb__cmac_update(o->rmac, swb, 2);
    scb__cmac_end(o->rmac, m);
    memcpy(data + n, m, o->mac_len);
    memcpy(data + n + o->mac_len, swb, 2);
    return n + o->mac_len + 2;
}

/* A well-formed response at level 33: pad, encrypt, R-MAC; an error
 * status (not 9000, 62xx, 63xx) goes alone. */
static size_t oracle_respond(oracle_t *o, const uint8_t *plain, size_t n, uint16_t sw,
                             uint8_t *resp)
{
    if (sw != 0x9000 && (sw >> 8) != 0x62 && (sw >> 8) != 0x63) {
        resp[0] = (uint8_t)(sw >> 8);
        resp[1] = (uint8_t)sw;
        return 2;
    }
    uint8_t padded[272];
    size_t p = 0;
    if (n > 0) {
        memcpy(padded, plain, n);
        padded[n] = 0x80;
        p = (n / 16 + 1) * 16;
        memset(padded + n + 1, 0, p - n - 1);
        oracle_encrypt(o, padded, p, resp);
    }
    return oracle_seal(o, resp, p, sw);
}

/* Check the C-MAC of a wire command, advance MCV/counter, decrypt. */
static size_t oracle_command(oracle_t *o, const uint8_t *wire, size_t len, bool ea, uint8_t *plain)
{
    if (len < 5 || (size_t)wire[4] + 5 > len || wire[4] < o->mac_len)
        abort();
    size_t lc = wire[4], body = lc - o->mac_len;
    uint8_t hdr[5] = {(uint8_t)(wire[0] & 0xFC), wire[1], wire[2], wire[3], wire[4]};
    uint8_t m[16];
    scb__cmac_begin(o->mac);
    scb__cmac_update(o->mac, o->mcv, 16);
    scb__cmac_update(o->mac, hdr, 5);
    scb__cmac_update(o->mac, wire + 5, body);
    scb__cmac_end(o->mac, m);
    if (memcmp(m, wire + 5 + body, o->mac_len) != 0)
        o->bad_cmac++;
    memcpy(o->mcv, m, 16);
    if (!ea)
        o->counter++;
    if (!(o->level & 0x02) || body == 0) {
        memcpy(plain, wire + 5, body);
        return body;
    }
    uint8_t icv[16];
    oracle_icv(o, false, icv);
    scb__aes_cbc_decrypt(o->enc, icv, wire + 5, body, plain);
    size_t n = body;
    while (n > 0 && plain[n - 1] == 0)
        n--;
    return n > 0 ? n - 1 : 0; /* drop the 80 marker */
}

/* Scripted-transport responder: recorded IU/EA, then the oracle. */
static int oracle_responder(tk_script_t *s, const uint8_t *cmd, size_t len, uint8_t *resp,
                            size_t *resp_len)
{
    oracle_t *o = s->user;
    size_t i = o->commands++;
    if (i < 2) {
        uint8_t rec[600];
        size_t rl = tk_unhex(scp03_exchange(o->entry, i, "c"), rec, sizeof(rec));
        if (i == 1)
            oracle_command(o, cmd, len, true, rec + 300);
        else if (rl != len || memcmp(rec, cmd, len) != 0)
            s->mismatches++;
        *resp_len = tk_unhex(scp03_exchange(o->entry, i, "r"), resp, 700);
        return 0;
    }
    uint8_t plain[600];
    size_t n = oracle_command(o, cmd, len, false, plain);
    *resp_len = o->answer(o, cmd, plain, n, resp);
    return 0;
}

#endif /* SCP03_CARD_ORACLE_H */
