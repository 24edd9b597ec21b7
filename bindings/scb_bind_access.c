/* Bootstrap access binding glue: options from flat arguments (see
 * scb_bind.h). */
#include "scb_bind.h"

#include <stddef.h>

static int set_flags(scb_opts_t *o, unsigned access_flags, int level, unsigned scp_flags)
{
    static const struct {
        unsigned bit;
        int id;
        int access;
    } map[] = {
        {SCB_SCP_S16, SCB_OPT_S16, 0},
        {SCB_SCP_COUNT_DATA_ONLY, SCB_OPT_COUNT_DATA_ONLY, 0},
        {SCB_SCP_MAC_CLA_AS_SENT, SCB_OPT_MAC_CLA_AS_SENT, 0},
        {SCB_SCP_KDF3, SCB_OPT_KDF3, 0},
        {SCB_ACCESS_NO_SECURE_CHANNEL, SCB_OPT_NO_SECURE_CHANNEL, 1},
        {SCB_ACCESS_SKIP_EFDIR, SCB_OPT_SKIP_EFDIR, 1},
        {SCB_ACCESS_NO_LOGICAL_CHANNEL, SCB_OPT_NO_LOGICAL_CHANNEL, 1},
        {SCB_ACCESS_PAD_FF, SCB_OPT_PAD, 1},
        {SCB_ACCESS_NO_VERIFY, SCB_OPT_NO_VERIFY, 1},
    };
    int rc = SCB_OK;
    if (level < -1 || level > 0xFF)
        return SCB_E_INVALID_ARG;
    if (level >= 0)
        rc = scb_opts_set_int(o, SCB_OPT_LEVEL, level);
    for (size_t i = 0; rc == SCB_OK && i < sizeof(map) / sizeof(map[0]); i++)
        if (((map[i].access ? access_flags : scp_flags) & map[i].bit) != 0)
            rc = scb_opts_set_int(o, map[i].id, 1);
    return rc;
}

static int make_opts(scb_opts_t **o, const scb_keys_t *keys, unsigned access_flags, int level,
                     unsigned scp_flags, const uint8_t *aid, size_t aid_len)
{
    int rc = scb_opts_new(o);
    if (rc == SCB_OK)
        rc = set_flags(*o, access_flags | (keys == NULL ? SCB_ACCESS_NO_SECURE_CHANNEL : 0u),
                       level, scp_flags & ~SCB_SCP_NO_EXTAUTH);
    if (rc == SCB_OK && aid != NULL)
        rc = scb_opts_set_bytes(*o, SCB_OPT_AID, aid, aid_len);
    return rc;
}

int scb_bind_read_bootstrap(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags,
                            int level, unsigned scp_flags, const uint8_t *path, size_t path_len,
                            const uint8_t *aid, size_t aid_len, const uint8_t *pin,
                            size_t pin_len, int pin_ref, scb_bootstrap_t **out,
                            scb_access_info_t *info)
{
    scb_opts_t *o = NULL;
    int rc = make_opts(&o, keys, access_flags, level, scp_flags, aid, aid_len);
    if (rc == SCB_OK && path != NULL)
        rc = scb_opts_set_bytes(o, SCB_OPT_PATH, path, path_len);
    if (rc == SCB_OK && pin != NULL)
        rc = scb_opts_set_bytes(o, SCB_OPT_PIN, pin, pin_len);
    if (rc == SCB_OK && pin_ref != 0)
        rc = scb_opts_set_int(o, SCB_OPT_PIN_REF, pin_ref);
    if (rc == SCB_OK)
        rc = scb_read_bootstrap(card, keys, o, out, info);
    scb_opts_free(&o);
    return rc;
}

int scb_bind_write_bootstrap(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags,
                             int level, unsigned scp_flags, const uint8_t *path, size_t path_len,
                             const uint8_t *aid, size_t aid_len, const uint8_t *data, size_t len,
                             scb_access_info_t *info)
{
    scb_opts_t *o = NULL;
    int rc = make_opts(&o, keys, access_flags, level, scp_flags, aid, aid_len);
    if (rc == SCB_OK && path != NULL)
        rc = scb_opts_set_bytes(o, SCB_OPT_PATH, path, path_len);
    if (rc == SCB_OK)
        rc = scb_write_bootstrap(card, keys, o, data, len, info);
    scb_opts_free(&o);
    return rc;
}

int scb_bind_app_open(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags, int level,
                      unsigned scp_flags, const uint8_t *aid, size_t aid_len,
                      scb_access_info_t *info)
{
    scb_opts_t *o = NULL;
    int rc = make_opts(&o, keys, access_flags, level, scp_flags, aid, aid_len);
    if (rc == SCB_OK)
        rc = scb_app_open(card, keys, o, info);
    scb_opts_free(&o);
    return rc;
}

int scb_bind_rotate_keys(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags,
                         int level, unsigned scp_flags, const uint8_t *aid, size_t aid_len,
                         const scb_keys_t *new_keys, int replace_kvn, scb_access_info_t *info)
{
    if (keys == NULL || replace_kvn < 0 || replace_kvn > 0xFF)
        return SCB_E_INVALID_ARG;
    scb_opts_t *o = NULL;
    int rc = make_opts(&o, keys, access_flags, level, scp_flags, aid, aid_len);
    if (rc == SCB_OK && replace_kvn != 0)
        rc = scb_opts_set_int(o, SCB_OPT_REPLACE_KVN, replace_kvn);
    if (rc == SCB_OK)
        rc = scb_rotate_keys(card, keys, new_keys, o, info);
    scb_opts_free(&o);
    return rc;
}

int scb_bind_scp03_open(scb_card_t *card, const scb_keys_t *keys, int level, int kvn,
                        unsigned flags, const uint8_t *host_challenge, size_t host_challenge_len,
                        const uint8_t *sd_aid, size_t sd_aid_len)
{
    if (level < 0 || level > 0xFF || kvn < -1 || kvn > 0xFF)
        return SCB_E_INVALID_ARG;
    scb_opts_t *o = NULL;
    int rc = scb_opts_new(&o);
    if (rc == SCB_OK)
        rc = set_flags(o, 0, level, flags & ~SCB_SCP_NO_EXTAUTH);
    if (rc == SCB_OK && kvn > 0)
        rc = scb_opts_set_int(o, SCB_OPT_KVN, kvn);
    if (rc == SCB_OK && host_challenge != NULL)
        rc = scb_opts_set_bytes(o, SCB_OPT_HOST_CHALLENGE, host_challenge, host_challenge_len);
    if (rc == SCB_OK && sd_aid != NULL)
        rc = scb_opts_set_bytes(o, SCB_OPT_SD_AID, sd_aid, sd_aid_len);
    if (rc == SCB_OK)
        rc = (flags & SCB_SCP_NO_EXTAUTH) ? scb_scp03_probe(card, keys, o, NULL)
                                          : scb_scp03_open(card, keys, o);
    scb_opts_free(&o);
    return rc;
}
