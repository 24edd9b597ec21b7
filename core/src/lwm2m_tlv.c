/* OMA-TLV reader and header writer (format in lwm2m_tlv.h). */
#include "lwm2m_tlv.h"

#include "internal.h"

#include <stdio.h>

const char *scb__tlv_type_name(int type)
{
    switch (type) {
    case SCB__TLV_OBJECT: return "object";
    case SCB__TLV_OBJECT_INSTANCE: return "object instance";
    case SCB__TLV_RESOURCE_INSTANCE: return "resource instance";
    case SCB__TLV_MULTIPLE_RESOURCE: return "multiple resource";
    case SCB__TLV_RESOURCE: return "resource";
    default: return "?";
    }
}

bool scb__tlv_child_allowed(int parent_type, int child_type)
{
    switch (parent_type) {
    case SCB__TLV_OBJECT:
        return child_type == SCB__TLV_OBJECT_INSTANCE;
    case SCB__TLV_OBJECT_INSTANCE:
        return child_type == SCB__TLV_RESOURCE || child_type == SCB__TLV_MULTIPLE_RESOURCE;
    case SCB__TLV_MULTIPLE_RESOURCE:
        return child_type == SCB__TLV_RESOURCE_INSTANCE;
    default:
        return false;
    }
}

int scb__tlv_read(const uint8_t *data, size_t end, size_t *pos, scb__tlv_t *out,
                  const char *where, char *detail, size_t detail_len)
{
    size_t p = *pos;
    const size_t start = p;
    if (p >= end)
        return scb__detail(detail, detail_len, SCB_E_PARSE,
                           "%s at offset %zu: expected a TLV, found the end", where, start);
    uint8_t t = data[p++];
    int type = t >> 6;
    size_t id_len = (t & 0x20) ? 2 : 1;
    size_t len_len = (t >> 3) & 3u;
    if (end - p < id_len + len_len)
        return scb__detail(detail, detail_len, SCB_E_PARSE,
                           "%s at offset %zu: TLV header truncated (type byte %02X needs %zu "
                           "more bytes, %zu left)",
                           where, start, t, id_len + len_len, end - p);
    uint16_t id = data[p];
    if (id_len == 2)
        id = (uint16_t)(id << 8 | data[p + 1]);
    p += id_len;
    size_t len = t & 7u;
    if (len_len != 0) { /* bits 2-0 are not a length then */
        len = 0;
        for (size_t i = 0; i < len_len; i++)
            len = len << 8 | data[p++];
    }
    if (len > end - p)
        return scb__detail(detail, detail_len, SCB_E_PARSE,
                           "%s at offset %zu: %s %u: length %zu runs past its parent (%zu "
                           "bytes left)",
                           where, start, scb__tlv_type_name(type), id, len, end - p);
    out->type = type;
    out->id = id;
    out->offset = start;
    out->value_offset = p;
    out->len = len;
    *pos = p + len;
    return SCB_OK;
}

size_t scb__tlv_header_size(uint16_t id, size_t len)
{
    size_t n = 1 + (id > 0xFF ? 2 : 1);
    if (len > 0xFFFF)
        n += 3;
    else if (len > 0xFF)
        n += 2;
    else if (len > 7)
        n += 1;
    return n;
}

size_t scb__tlv_write_header(uint8_t *buf, int type, uint16_t id, size_t len)
{
    size_t len_len = len > 0xFFFF ? 3 : len > 0xFF ? 2 : len > 7 ? 1 : 0;
    size_t p = 0;
    uint8_t t = (uint8_t)((unsigned)type << 6);
    if (id > 0xFF)
        t |= 0x20;
    t |= (uint8_t)(len_len << 3);
    if (len_len == 0)
        t |= (uint8_t)len;
    buf[p++] = t;
    if (id > 0xFF)
        buf[p++] = (uint8_t)(id >> 8);
    buf[p++] = (uint8_t)id;
    for (size_t i = len_len; i-- > 0;)
        buf[p++] = (uint8_t)(len >> (8 * i));
    return p;
}
