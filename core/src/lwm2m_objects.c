/*
 * OMA object definitions the library knows by name: names, JSON keys,
 * types, multiplicity, ranges and which resources are secret. From the OMA
 * LwM2M registry (OMA-SUP-XML_0-V1_2 Security, _1-V1_2 Server, _2-V1_1
 * Access Control, _21-V2_0 OSCORE). Resources without a value (Execute)
 * have type SCB_T_NONE. Keys are stable: they are the JSON format.
 *
 * The one definition of a valid value (scb_lwm2m_value_check): the JSON
 * output renders a value typed only when it passes, the JSON input refuses
 * a typed value that does not, and language bindings read values through
 * those, so every front end agrees on what a value means.
 *
 * Ranges: the registry's "Range or Enumeration" column (for an Integer the
 * value, for a String its length in bytes: Server URI "0..255"), and where
 * the column is empty but the resource's description bounds it, that bound:
 * the durations in seconds are non-negative: Security 11 Client Hold Off
 * Time ("The number of seconds to wait"), 12 Bootstrap-Server Account
 * Timeout ("If the value is set to 0 ... the Bootstrap-Server Account
 * lifetime is infinite"), Server 1 Lifetime ("If the value is set to 0,
 * the lifetime is infinite"), 2/3 Default Minimum/Maximum Period, 5
 * Disable Timeout.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    uint16_t id;
    uint8_t type;         /* enum scb_value_type */
    uint8_t multiple;
    uint8_t secret;
    uint8_t has_range;
    uint8_t check;        /* CHECK_*: a rule beyond type and range */
    int64_t min, max;
    const char *name;
    const char *key;
} res_def_t;

/* Rules the registry states in words ("The possible values are those
 * listed in the LwM2M Core Specification"). */
enum {
    CHECK_NONE,
    CHECK_BINDING,   /* Server 7: transport letters, each once, Q after U or S */
    CHECK_TRANSPORT, /* Server 22: "Only a single transport binding SHALL be present" */
};

typedef struct {
    uint16_t id;
    const char *name;
    const res_def_t *res;
    size_t count;
} obj_def_t;

#define ONE(i, t, n, k) {i, t, 0, 0, 0, CHECK_NONE, 0, 0, n, k}
#define RANGE(i, t, lo, hi, n, k) {i, t, 0, 0, 1, CHECK_NONE, lo, hi, n, k}
#define MULTI(i, t, n, k) {i, t, 1, 0, 0, CHECK_NONE, 0, 0, n, k}
#define MULTI_RANGE(i, t, lo, hi, n, k) {i, t, 1, 0, 1, CHECK_NONE, lo, hi, n, k}
#define SECRET(i, t, n, k) {i, t, 0, 1, 0, CHECK_NONE, 0, 0, n, k}
#define RULE(i, t, c, n, k) {i, t, 0, 0, 0, c, 0, 0, n, k}
/* a duration in seconds: any non-negative Integer */
#define SECONDS(i, n, k) RANGE(i, SCB_T_INTEGER, 0, INT64_MAX, n, k)

static const res_def_t security_res[] = {
    RANGE(0, SCB_T_STRING, 0, 255, "LwM2M Server URI", "server_uri"),
    ONE(1, SCB_T_BOOLEAN, "Bootstrap-Server", "bootstrap_server"),
    RANGE(2, SCB_T_INTEGER, 0, 4, "Security Mode", "security_mode"),
    ONE(3, SCB_T_OPAQUE, "Public Key or Identity", "public_key_or_identity"),
    ONE(4, SCB_T_OPAQUE, "Server Public Key", "server_public_key"),
    SECRET(5, SCB_T_OPAQUE, "Secret Key", "secret_key"),
    RANGE(6, SCB_T_INTEGER, 0, 255, "SMS Security Mode", "sms_security_mode"),
    SECRET(7, SCB_T_OPAQUE, "SMS Binding Key Parameters", "sms_binding_key_params"),
    SECRET(8, SCB_T_OPAQUE, "SMS Binding Secret Key(s)", "sms_binding_secret_keys"),
    ONE(9, SCB_T_STRING, "LwM2M Server SMS Number", "sms_server_number"),
    RANGE(10, SCB_T_INTEGER, 1, 65534, "Short Server ID", "short_server_id"),
    SECONDS(11, "Client Hold Off Time", "client_hold_off_time"),
    SECONDS(12, "Bootstrap-Server Account Timeout", "bootstrap_server_account_timeout"),
    RANGE(13, SCB_T_UNSIGNED, 0, 3, "Matching Type", "matching_type"),
    ONE(14, SCB_T_STRING, "SNI", "sni"),
    RANGE(15, SCB_T_UNSIGNED, 0, 3, "Certificate Usage", "certificate_usage"),
    MULTI(16, SCB_T_UNSIGNED, "DTLS/TLS Ciphersuite", "dtls_tls_ciphersuite"),
    ONE(17, SCB_T_OBJLNK, "OSCORE Security Mode", "oscore_security_mode"),
    MULTI_RANGE(18, SCB_T_UNSIGNED, 0, 65535, "Groups To Use by Client", "groups_to_use"),
    MULTI_RANGE(19, SCB_T_UNSIGNED, 0, 65535, "Signature Algorithms Supported by Server",
                "signature_algorithms_supported"),
    MULTI_RANGE(20, SCB_T_UNSIGNED, 0, 65535, "Signature Algorithms To Use by Client",
                "signature_algorithms_to_use"),
    MULTI_RANGE(21, SCB_T_UNSIGNED, 0, 65535, "Signature Algorithm Certs Supported by Server",
                "signature_algorithm_certs_supported"),
    RANGE(22, SCB_T_UNSIGNED, 0, 65535, "TLS 1.3 Features To Use by Client",
          "tls13_features_to_use"),
    RANGE(23, SCB_T_UNSIGNED, 0, 65535, "TLS Extensions Supported by Server",
          "tls_extensions_supported"),
    RANGE(24, SCB_T_UNSIGNED, 0, 65535, "TLS Extensions To Use by Client",
          "tls_extensions_to_use"),
    MULTI_RANGE(25, SCB_T_STRING, 0, 255, "Secondary LwM2M Server URI", "secondary_server_uri"),
    ONE(26, SCB_T_OBJLNK, "MQTT Server", "mqtt_server"),
    MULTI(27, SCB_T_OBJLNK, "LwM2M COSE Security", "cose_security"),
    RANGE(28, SCB_T_INTEGER, 0, 15, "RDS Destination Port", "rds_destination_port"),
    RANGE(29, SCB_T_INTEGER, 0, 15, "RDS Source Port", "rds_source_port"),
    ONE(30, SCB_T_STRING, "RDS Application ID", "rds_application_id"),
};

static const res_def_t server_res[] = {
    RANGE(0, SCB_T_INTEGER, 1, 65534, "Short Server ID", "short_server_id"),
    SECONDS(1, "Lifetime", "lifetime"),
    SECONDS(2, "Default Minimum Period", "default_min_period"),
    SECONDS(3, "Default Maximum Period", "default_max_period"),
    ONE(4, SCB_T_NONE, "Disable", "disable"),
    SECONDS(5, "Disable Timeout", "disable_timeout"),
    ONE(6, SCB_T_BOOLEAN, "Notification Storing When Disabled or Offline",
        "notification_storing"),
    RULE(7, SCB_T_STRING, CHECK_BINDING, "Binding", "binding"),
    ONE(8, SCB_T_NONE, "Registration Update Trigger", "registration_update_trigger"),
    ONE(9, SCB_T_NONE, "Bootstrap-Request Trigger", "bootstrap_request_trigger"),
    ONE(10, SCB_T_OBJLNK, "APN Link", "apn_link"),
    RANGE(11, SCB_T_UNSIGNED, 0, 255, "TLS-DTLS Alert Code", "tls_dtls_alert_code"),
    ONE(12, SCB_T_TIME, "Last Bootstrapped", "last_bootstrapped"),
    ONE(13, SCB_T_UNSIGNED, "Registration Priority Order", "registration_priority_order"),
    ONE(14, SCB_T_UNSIGNED, "Initial Registration Delay Timer",
        "initial_registration_delay_timer"),
    ONE(15, SCB_T_BOOLEAN, "Registration Failure Block", "registration_failure_block"),
    ONE(16, SCB_T_BOOLEAN, "Bootstrap on Registration Failure",
        "bootstrap_on_registration_failure"),
    ONE(17, SCB_T_UNSIGNED, "Communication Retry Count", "communication_retry_count"),
    ONE(18, SCB_T_UNSIGNED, "Communication Retry Timer", "communication_retry_timer"),
    ONE(19, SCB_T_UNSIGNED, "Communication Sequence Delay Timer",
        "communication_sequence_delay_timer"),
    ONE(20, SCB_T_UNSIGNED, "Communication Sequence Retry Count",
        "communication_sequence_retry_count"),
    ONE(21, SCB_T_BOOLEAN, "Trigger", "trigger"),
    RULE(22, SCB_T_STRING, CHECK_TRANSPORT, "Preferred Transport", "preferred_transport"),
    ONE(23, SCB_T_BOOLEAN, "Mute Send", "mute_send"),
    MULTI(24, SCB_T_OBJLNK, "Alternate APN Links", "alternate_apn_links"),
    MULTI(25, SCB_T_STRING, "Supported Server Versions", "supported_server_versions"),
    RANGE(26, SCB_T_INTEGER, 0, 1, "Default Notification Mode", "default_notification_mode"),
    RANGE(27, SCB_T_UNSIGNED, 0, 255, "Profile ID Hash Algorithm",
          "profile_id_hash_algorithm"),
};

static const res_def_t access_control_res[] = {
    RANGE(0, SCB_T_INTEGER, 1, 65534, "Object ID", "object_id"),
    RANGE(1, SCB_T_INTEGER, 0, 65535, "Object Instance ID", "object_instance_id"),
    MULTI_RANGE(2, SCB_T_INTEGER, 0, 31, "ACL", "acl"),
    RANGE(3, SCB_T_INTEGER, 0, 65535, "Access Control Owner", "access_control_owner"),
};

static const res_def_t oscore_res[] = {
    SECRET(0, SCB_T_OPAQUE, "OSCORE Master Secret", "master_secret"),
    ONE(1, SCB_T_OPAQUE, "OSCORE Sender ID", "sender_id"),
    ONE(2, SCB_T_OPAQUE, "OSCORE Recipient ID", "recipient_id"),
    ONE(3, SCB_T_INTEGER, "OSCORE AEAD Algorithm", "aead_algorithm"),
    ONE(4, SCB_T_INTEGER, "OSCORE HMAC Algorithm", "hmac_algorithm"),
    ONE(5, SCB_T_OPAQUE, "OSCORE Master Salt", "master_salt"),
    ONE(6, SCB_T_OPAQUE, "OSCORE ID Context", "id_context"),
};

static const obj_def_t objects[] = {
    {0, "LwM2M Security", security_res, SCB_ARRAY_LEN(security_res)},
    {1, "LwM2M Server", server_res, SCB_ARRAY_LEN(server_res)},
    {2, "LwM2M Access Control", access_control_res, SCB_ARRAY_LEN(access_control_res)},
    {21, "LwM2M OSCORE", oscore_res, SCB_ARRAY_LEN(oscore_res)},
};

static const obj_def_t *find_object(uint16_t id)
{
    for (size_t i = 0; i < SCB_ARRAY_LEN(objects); i++)
        if (objects[i].id == id)
            return &objects[i];
    return NULL;
}

static void fill(const res_def_t *r, scb_resource_info_t *info)
{
    info->name = r->name;
    info->key = r->key;
    info->type = r->type;
    info->multiple = r->multiple;
    info->secret = r->secret;
    info->has_range = r->has_range;
    info->min = r->min;
    info->max = r->max;
}

static const res_def_t *find_resource(uint16_t object_id, uint16_t resource_id)
{
    const obj_def_t *o = find_object(object_id);
    for (size_t i = 0; o != NULL && i < o->count; i++)
        if (o->res[i].id == resource_id)
            return &o->res[i];
    return NULL;
}

int scb_lwm2m_resource_info(uint16_t object_id, uint16_t resource_id, scb_resource_info_t *info)
{
    if (info == NULL)
        return SCB_E_INVALID_ARG;
    const res_def_t *r = find_resource(object_id, resource_id);
    if (r == NULL)
        return SCB_E_NOT_FOUND;
    fill(r, info);
    return SCB_OK;
}

/* The transport letters of the Binding resource. LwM2M 1.0 (TS 5.3.1.1)
 * lists U, UQ, S, SQ, US, UQS: Q (queue mode) follows the binding it
 * applies to. 1.1 adds T (TCP) and N (non-IP) and moves queue mode out of
 * the binding; 1.2 adds M (MQTT) and H (HTTP). A file does not say which
 * LwM2M version its client runs, so every letter of any version is
 * accepted, each once, and Q only after U or S. */
static const char transport_letters[] = "UTSNMH";

static bool valid_binding(const uint8_t *v, size_t len)
{
    unsigned seen = 0;
    for (size_t i = 0; i < len; i++) {
        const char *at = v[i] != 0 ? strchr("UTSNMHQ", v[i]) : NULL;
        if (at == NULL)
            return false;
        unsigned bit = 1u << (at - "UTSNMHQ");
        if ((seen & bit) || (v[i] == 'Q' && (i == 0 || (v[i - 1] != 'U' && v[i - 1] != 'S'))))
            return false;
        seen |= bit;
    }
    return len > 0;
}

/* What a valid integer of r is, for messages ("integer 1..65534"). */
static void integer_expected(const res_def_t *r, char *out, size_t cap)
{
    if (r->has_range && r->max == INT64_MAX && r->min == 0)
        snprintf(out, cap, "a non-negative integer");
    else if (r->has_range)
        snprintf(out, cap, "integer %lld..%lld", (long long)r->min, (long long)r->max);
    else
        snprintf(out, cap, r->type == SCB_T_UNSIGNED ? "an unsigned integer" : "an integer");
}

/* SCB_OK, or SCB_E_PARSE with "expected ..." in why. */
static int check_value(const res_def_t *r, const uint8_t *v, size_t len, char *why, size_t cap)
{
    switch (r->type) {
    case SCB_T_INTEGER:
    case SCB_T_TIME:
    case SCB_T_UNSIGNED: {
        bool ok;
        if (r->type == SCB_T_UNSIGNED) {
            uint64_t x;
            ok = scb_value_to_uint(v, len, &x) == SCB_OK &&
                 (!r->has_range || (x >= (uint64_t)r->min && x <= (uint64_t)r->max));
        } else {
            int64_t x;
            ok = scb_value_to_int(v, len, &x) == SCB_OK &&
                 (!r->has_range || (x >= r->min && x <= r->max));
        }
        if (ok)
            return SCB_OK;
        char e[64];
        integer_expected(r, e, sizeof(e));
        snprintf(why, cap, "expected %s", e);
        return SCB_E_PARSE;
    }
    case SCB_T_STRING:
        if (scb_value_check_string(v, len) != SCB_OK) {
            snprintf(why, cap, "expected UTF-8 text without NUL characters");
            return SCB_E_PARSE;
        }
        if (r->has_range && (len < (uint64_t)r->min || len > (uint64_t)r->max)) {
            if (r->min > 0)
                snprintf(why, cap, "expected %lld..%lld bytes, got %zu", (long long)r->min,
                         (long long)r->max, len);
            else
                snprintf(why, cap, "expected at most %lld bytes, got %zu", (long long)r->max,
                         len);
            return SCB_E_PARSE;
        }
        if (r->check == CHECK_BINDING && !valid_binding(v, len)) {
            snprintf(why, cap, "expected transport binding letters (one or more of U, T, S, N, "
                               "M, H, each once; Q only after U or S)");
            return SCB_E_PARSE;
        }
        if (r->check == CHECK_TRANSPORT &&
            (len != 1 || v[0] == 0 || strchr(transport_letters, v[0]) == NULL)) {
            snprintf(why, cap, "expected one transport binding letter (U, T, S, N, M or H)");
            return SCB_E_PARSE;
        }
        return SCB_OK;
    case SCB_T_BOOLEAN: {
        int b;
        if (scb_value_to_bool(v, len, &b) == SCB_OK)
            return SCB_OK;
        snprintf(why, cap, "expected one byte 00 or 01 (a boolean)");
        return SCB_E_PARSE;
    }
    case SCB_T_FLOAT: {
        double d;
        if (scb_value_to_float(v, len, &d) == SCB_OK)
            return SCB_OK;
        snprintf(why, cap, "expected a float of 4 or 8 bytes");
        return SCB_E_PARSE;
    }
    case SCB_T_OBJLNK: {
        uint16_t o, i;
        if (scb_value_to_objlnk(v, len, &o, &i) == SCB_OK)
            return SCB_OK;
        snprintf(why, cap, "expected an object link of 4 bytes");
        return SCB_E_PARSE;
    }
    case SCB_T_OPAQUE:
        return SCB_OK;
    default:
        snprintf(why, cap, "has no value (an Execute resource)");
        return SCB_E_UNSUPPORTED;
    }
}

int scb_lwm2m_value_check(uint16_t object_id, uint16_t resource_id, const uint8_t *v, size_t len,
                          char *detail, size_t detail_len)
{
    char why[160] = "";
    if (detail != NULL && detail_len > 0)
        detail[0] = 0;
    if (v == NULL && len > 0)
        return SCB_E_INVALID_ARG;
    const res_def_t *r = find_resource(object_id, resource_id);
    if (r == NULL)
        return SCB_E_NOT_FOUND;
    int rc = check_value(r, v != NULL ? v : (const uint8_t *)"", len, why, sizeof(why));
    if (rc != SCB_OK && detail != NULL && detail_len > 0)
        snprintf(detail, detail_len, "%s", why);
    return rc;
}

int scb_lwm2m_resource_by_key(uint16_t object_id, const char *key, uint16_t *resource_id)
{
    if (key == NULL || resource_id == NULL)
        return SCB_E_INVALID_ARG;
    const obj_def_t *o = find_object(object_id);
    for (size_t i = 0; o != NULL && i < o->count; i++) {
        if (strcmp(o->res[i].key, key) == 0) {
            *resource_id = o->res[i].id;
            return SCB_OK;
        }
    }
    return SCB_E_NOT_FOUND;
}

const char *scb_lwm2m_object_name(uint16_t object_id)
{
    const obj_def_t *o = find_object(object_id);
    return o != NULL ? o->name : NULL;
}
