/*
 * OMA-TLV (LwM2M Core TS, "TLV" data format): one type byte, an 8- or
 * 16-bit identifier, a length held in the type byte (0-7) or in an 8-, 16-
 * or 24-bit field, then the value.
 *
 *   type byte: bits 7-6 identifier type (00 object instance, 01 resource
 *              instance, 10 multiple resource, 11 resource with value),
 *              bit 5 identifier width (0: 8 bit, 1: 16 bit), bits 4-3
 *              length type (00: length in bits 2-0, 01/10/11: 8/16/24-bit
 *              length field), bits 2-0 the length when bits 4-3 are 00.
 */
#ifndef SCB_LWM2M_TLV_H
#define SCB_LWM2M_TLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum scb__tlv_type {
    SCB__TLV_OBJECT_INSTANCE = 0,
    SCB__TLV_RESOURCE_INSTANCE = 1,
    SCB__TLV_MULTIPLE_RESOURCE = 2,
    SCB__TLV_RESOURCE = 3
};
/* Pseudo type of the level above object instances (an object's TLV). */
#define SCB__TLV_OBJECT (-1)

#define SCB__TLV_MAX_LEN 0xFFFFFFu   /* largest value a 24-bit length can carry */
#define SCB__TLV_MAX_HEADER 6u       /* type + 16-bit id + 24-bit length */

typedef struct scb__tlv {
    int type;              /* enum scb__tlv_type */
    uint16_t id;
    size_t offset;         /* of the type byte */
    size_t value_offset;
    size_t len;
} scb__tlv_t;

/* Read the TLV at data[*pos]; it must end by `end` (its parent's end).
 * Advances *pos past it. Offsets are from data. On failure writes
 * "<where> at offset N: ..." to detail and returns SCB_E_PARSE. */
int scb__tlv_read(const uint8_t *data, size_t end, size_t *pos, scb__tlv_t *out,
                  const char *where, char *detail, size_t detail_len);

/* Nesting rules: an object holds object instances, an object instance
 * holds resources and multiple resources, a multiple resource holds
 * resource instances; resources and resource instances hold values. */
bool scb__tlv_child_allowed(int parent_type, int child_type);
/* "object instance", "resource", ... (parent SCB__TLV_OBJECT: "object") */
const char *scb__tlv_type_name(int type);

/* Encoding, shortest forms: 8-bit identifier when id <= 255, length in the
 * type byte when len <= 7, else the narrowest length field. len must not
 * exceed SCB__TLV_MAX_LEN. */
size_t scb__tlv_header_size(uint16_t id, size_t len);
/* Writes the header into buf (room for scb__tlv_header_size bytes) and
 * returns its size. */
size_t scb__tlv_write_header(uint8_t *buf, int type, uint16_t id, size_t len);

#endif /* SCB_LWM2M_TLV_H */
