/* SCP03 key sets from JSON: each key lands in its slot, optional parts,
 * and validation messages that name the field but never the key. */
#include "internal.h"
#include "scboot_json.h"
#include "testkit.h"

static char detail[256];

static void check_detail(const char *want)
{
    tk_checks++;
    if (strstr(detail, want) == NULL) {
        tk_failures++;
        fprintf(stderr, "detail '%s' lacks '%s'\n", detail, want);
    }
}

#define ENC16 "404142434445464748494a4b4c4d4e4f"
#define MAC16 "505152535455565758595A5B5C5D5E5F"
#define DEK16 "606162636465666768696a6b6c6d6e6f"
#define KEY24 "000102030405060708090a0b0c0d0e0f1011121314151617"
#define KEY32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* The KCV of the key a slot holds equals the KCV of the bytes we meant. */
static void check_slot(const scb_keys_t *k, int type, const char *hex)
{
    uint8_t key[32], want[3], got[3];
    size_t len = tk_unhex(hex, key, sizeof(key));
    TK_EQ_RC(scb_kcv(key, len, want), SCB_OK);
    TK_EQ_RC(scb_keys_kcv(k, type, got), SCB_OK);
    TK_EQ_MEM(got, 3, want, 3);
}

static void test_valid(void)
{
    scb_keys_t *k = NULL;
    TK_EQ_RC(scbj_keys_from_json("{\"enc\": \"" ENC16 "\", \"mac\": \"" MAC16 "\", \"dek\": \"" DEK16
                                 "\", \"kvn\": 48}",
                                 &k, detail, sizeof(detail)),
             SCB_OK);
    TK_CHECK(k != NULL);
    TK_EQ_INT(scb_keys_length(k), 16);
    TK_EQ_INT(scb_keys_kvn(k), 48);
    TK_EQ_INT(scb_keys_has_dek(k), 1);
    check_slot(k, SCB_KEY_ENC, ENC16);
    check_slot(k, SCB_KEY_MAC, MAC16);
    check_slot(k, SCB_KEY_DEK, DEK16);
    scb_keys_free(&k);

    /* no DEK, default KVN; a null DEK is the same */
    TK_EQ_RC(scbj_keys_from_json("{\"enc\": \"" KEY32 "\", \"mac\": \"" KEY32 "\"}", &k, detail,
                                 sizeof(detail)),
             SCB_OK);
    TK_EQ_INT(scb_keys_length(k), 32);
    TK_EQ_INT(scb_keys_kvn(k), 0);
    TK_EQ_INT(scb_keys_has_dek(k), 0);
    scb_keys_free(&k);
    TK_EQ_RC(scbj_keys_from_json("{\"enc\": \"" KEY24 "\", \"mac\": \"" KEY24
                                 "\", \"dek\": null, \"kvn\": 255}",
                                 &k, detail, sizeof(detail)),
             SCB_OK);
    TK_EQ_INT(scb_keys_length(k), 24);
    TK_EQ_INT(scb_keys_kvn(k), 255);
    TK_EQ_INT(scb_keys_has_dek(k), 0);
    scb_keys_free(&k);

    /* embedded in a larger document */
    json_object *doc = json_tokener_parse("{\"keys\": {\"enc\": \"" ENC16 "\", \"mac\": \"" MAC16
                                          "\"}}");
    TK_EQ_RC(scbj_keys_from_object(json_object_object_get(doc, "keys"), &k, detail,
                                   sizeof(detail)),
             SCB_OK);
    check_slot(k, SCB_KEY_MAC, MAC16);
    scb_keys_free(&k);
    json_object_put(doc);
}

static void test_invalid(void)
{
    static const struct {
        const char *json;
        const char *want;
    } bad[] = {
        {"[]", "(top level): expected a JSON object"},
        {"{\"mac\": \"" MAC16 "\"}", "enc: missing"},
        {"{\"enc\": \"" ENC16 "\"}", "mac: missing"},
        {"{\"enc\": \"" ENC16 "\", \"mac\": null}", "mac: missing"},
        {"{\"enc\": \"00112233445566778899aabbccddee\", \"mac\": \"" MAC16 "\"}",
         "enc: expected 32, 48 or 64 hex digits (an AES-128/192/256 key), got 30"},
        {"{\"enc\": \"zz112233445566778899aabbccddeeff\", \"mac\": \"" MAC16 "\"}",
         "enc: not hex (character 1)"},
        {"{\"enc\": \"" ENC16 "\", \"mac\": \"" KEY24 "\"}", "mac: 24 bytes, but enc has 16"},
        {"{\"enc\": \"" ENC16 "\", \"mac\": \"" MAC16 "\", \"dek\": \"" KEY32 "\"}",
         "dek: 32 bytes, but enc has 16"},
        {"{\"enc\": \"<redacted>\", \"mac\": \"" MAC16 "\"}", "enc: is \"<redacted>\""},
        {"{\"enc\": 5, \"mac\": \"" MAC16 "\"}", "enc: expected a string of hex digits"},
        {"{\"enc\": \"" ENC16 "\", \"mac\": \"" MAC16 "\", \"kvn\": 256}", "kvn: expected integer 0..255"},
        {"{\"enc\": \"" ENC16 "\", \"mac\": \"" MAC16 "\", \"kvn\": -1}", "kvn: expected integer 0..255"},
        {"{\"enc\": \"" ENC16 "\", \"mac\": \"" MAC16 "\", \"kvn\": \"1\"}", "kvn: expected integer 0..255"},
        {"{\"enc\": \"" ENC16 "\", \"mac\": \"" MAC16 "\", \"kcv\": \"000000\"}",
         "(top level): unknown key 'kcv'"},
        {"{\"enc\": \"" ENC16 "\",", "JSON text: "},
        /* a raw key where the file belongs: said so, not "integer beyond 64 bits" */
        {ENC16 "\n", "(top level): expected a JSON object {\"enc\": hex, ...}, got bare hex"},
        {"40414243444546474849505152535455", "(top level): expected a JSON object {\"enc\": hex"},
        {"\xEF\xBB\xBF  " MAC16 " " MAC16 "\r\n", "got bare hex"},
        /* the place of a bad digit, not the digit */
        {"{\"enc\": \"" ENC16 "\", \"mac\": \"5051525354555657z8595A5B5C5D5E5F\"}",
         "mac: not hex (character 17)"},
        {"{\"enc\": \"" ENC16 "\", \"mac\": \"" MAC16 "\", \"dek\": \"606162636465666768696a6b6c6d6e6\u00e9\"}",
         "dek: expected 32, 48 or 64 hex digits"},
        {"{\"enc\": \"" ENC16 "\", \"mac\": \"" MAC16 "\", \"dek\": \"\u00e9606162636465666768696a6b6c6d6e\"}",
         "dek: not hex (character 1)"},
        /* json-c would keep the second "enc" */
        {"{\"enc\": \"" ENC16 "\",\n \"mac\": \"" MAC16 "\",\n \"enc\": \"" DEK16 "\"}",
         "enc: key appears twice (line 3, column 2; first at line 1, column 2)"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad); i++) {
        scb_keys_t *k = (scb_keys_t *)&detail; /* must come back NULL */
        detail[0] = 0;
        TK_EQ_RC(scbj_keys_from_json(bad[i].json, &k, detail, sizeof(detail)), SCB_E_VALIDATION);
        TK_CHECK(k == NULL);
        check_detail(bad[i].want);
        /* no key material in the message */
        TK_CHECK(strstr(detail, "4142") == NULL && strstr(detail, "5152") == NULL &&
                 strstr(detail, "0011") == NULL && strstr(detail, "0102") == NULL);
    }
    scb_keys_t *k = NULL;
    TK_EQ_RC(scbj_keys_from_json(NULL, &k, detail, sizeof(detail)), SCB_E_INVALID_ARG);
    /* a byte order mark is fine */
    TK_EQ_RC(scbj_keys_from_json("\xEF\xBB\xBF{\"enc\": \"" ENC16 "\", \"mac\": \"" MAC16 "\"}", &k,
                                 detail, sizeof(detail)),
             SCB_OK);
    scb_keys_free(&k);
    TK_EQ_RC(scbj_keys_from_object(NULL, &k, detail, sizeof(detail)), SCB_E_INVALID_ARG);
}

int main(void)
{
    TK_RUN(test_valid);
    TK_RUN(test_invalid);
    return tk_done();
}
