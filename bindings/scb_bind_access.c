/* Bootstrap access binding glue: scb_access_opts_t from flat arguments
 * (see scb_bind.h). */
#include "scb_bind.h"

static int fill_opts(scb_access_opts_t *o, const scb_keys_t *keys, unsigned access_flags,
                     int level, unsigned scp_flags, const uint8_t *aid, size_t aid_len)
{
    if (level < -1 || level > 0xFF)
        return SCB_E_INVALID_ARG;
    scb_access_opts_init(o);
    o->flags = access_flags | (keys == NULL ? SCB_ACCESS_NO_SECURE_CHANNEL : 0u);
    o->keys = keys;
    if (level >= 0)
        o->scp.level = (uint8_t)level;
    o->scp.flags = scp_flags;
    o->aid = aid;
    o->aid_len = aid_len;
    return SCB_OK;
}

int scb_bind_read_bootstrap(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags,
                            int level, unsigned scp_flags, const uint8_t *path, size_t path_len,
                            const uint8_t *aid, size_t aid_len, const uint8_t *pin,
                            size_t pin_len, int pin_ref, scb_bootstrap_t **out,
                            scb_access_info_t *info)
{
    scb_access_opts_t o;
    int rc = fill_opts(&o, keys, access_flags, level, scp_flags, aid, aid_len);
    if (rc != SCB_OK)
        return rc;
    if (pin_ref < 0 || pin_ref > 0xFF)
        return SCB_E_INVALID_ARG;
    o.path = path;
    o.path_len = path_len;
    o.pin = pin;
    o.pin_len = pin_len;
    o.pin_ref = (uint8_t)pin_ref;
    return scb_read_bootstrap(card, &o, out, info);
}

int scb_bind_write_bootstrap(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags,
                             int level, unsigned scp_flags, const uint8_t *path, size_t path_len,
                             const uint8_t *aid, size_t aid_len, const uint8_t *data, size_t len,
                             scb_access_info_t *info)
{
    scb_access_opts_t o;
    int rc = fill_opts(&o, keys, access_flags, level, scp_flags, aid, aid_len);
    if (rc != SCB_OK)
        return rc;
    o.path = path;
    o.path_len = path_len;
    return scb_write_bootstrap(card, &o, data, len, info);
}

int scb_bind_app_open(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags, int level,
                      unsigned scp_flags, const uint8_t *aid, size_t aid_len,
                      scb_access_info_t *info)
{
    scb_access_opts_t o;
    int rc = fill_opts(&o, keys, access_flags, level, scp_flags, aid, aid_len);
    if (rc != SCB_OK)
        return rc;
    return scb_app_open(card, &o, info);
}

int scb_bind_rotate_keys(scb_card_t *card, const scb_keys_t *keys, unsigned access_flags,
                         int level, unsigned scp_flags, const uint8_t *aid, size_t aid_len,
                         const scb_keys_t *new_keys, int replace_kvn, scb_access_info_t *info)
{
    if (keys == NULL || replace_kvn < 0 || replace_kvn > 0xFF)
        return SCB_E_INVALID_ARG;
    scb_access_opts_t o;
    int rc = fill_opts(&o, keys, access_flags, level, scp_flags, aid, aid_len);
    if (rc != SCB_OK)
        return rc;
    return scb_rotate_keys(card, &o, new_keys, (uint8_t)replace_kvn, info);
}
