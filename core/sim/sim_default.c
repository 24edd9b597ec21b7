/*
 * The built-in default card's bootstrap file, written out by hand in the
 * EF.LwM2M_Bootstrap format (LwM2M Core TS appendix "Storage of LwM2M
 * Bootstrap Information on the Smartcard"; docs/lwm2m-card.md):
 *
 *   nobjects:u16 size:u16 { object_id:u16 version length:u16 OMA-TLV }*
 *
 * OMA-TLV type byte: bits 7-6 identifier type (00 object instance, 11
 * resource with value), bit 5 identifier length (0: 8 bit), bits 4-3 length
 * type (00: length in bits 2-0, 01: 8-bit length follows).
 *   08 = object instance, 8-bit id, 8-bit length
 *   C1 = resource, 8-bit id, length 1;  C4 = length 4
 *   C8 = resource, 8-bit id, 8-bit length
 * The profile pads the EF with FF after these 195 bytes.
 */
#include "sim_internal.h"

const uint8_t sim_default_bootstrap[] = {
    0x00, 0x02,             /* 2 objects */
    0x00, 0xBF,             /* 191 bytes follow */

    /* ---- object 0 (LwM2M Security), version 00 = implicit 1.0, 162 bytes of TLV ---- */
    0x00, 0x00, 0x00, 0x00, 0xA2,
    /* instance /0/0: the bootstrap-server account, 75 bytes */
    0x08, 0x00, 0x4B,
    /* /0/0/0 LwM2M Server URI, 27 bytes */
    0xC8, 0x00, 0x1B,
    'c', 'o', 'a', 'p', 's', ':', '/', '/', 'b', 's', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
    '.', 'c', 'o', 'm', ':', '5', '6', '8', '4',
    /* /0/0/1 Bootstrap-Server = true */
    0xC1, 0x01, 0x01,
    /* /0/0/2 Security Mode = 0 (PSK) */
    0xC1, 0x02, 0x00,
    /* /0/0/3 Public Key or Identity = PSK identity "scboot-sim-device", 17 bytes */
    0xC8, 0x03, 0x11,
    's', 'c', 'b', 'o', 'o', 't', '-', 's', 'i', 'm', '-', 'd', 'e', 'v', 'i', 'c', 'e',
    /* /0/0/5 Secret Key = PSK, 16 bytes (test data) */
    0xC8, 0x05, 0x10,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,

    /* instance /0/1: a LwM2M server account, 81 bytes */
    0x08, 0x01, 0x51,
    /* /0/1/0 LwM2M Server URI, 30 bytes */
    0xC8, 0x00, 0x1E,
    'c', 'o', 'a', 'p', 's', ':', '/', '/', 'l', 'w', 'm', '2', 'm', '.', 'e', 'x', 'a', 'm',
    'p', 'l', 'e', '.', 'c', 'o', 'm', ':', '5', '6', '8', '4',
    /* /0/1/1 Bootstrap-Server = false */
    0xC1, 0x01, 0x00,
    /* /0/1/2 Security Mode = 0 (PSK) */
    0xC1, 0x02, 0x00,
    /* /0/1/3 PSK identity "scboot-sim-device", 17 bytes */
    0xC8, 0x03, 0x11,
    's', 'c', 'b', 'o', 'o', 't', '-', 's', 'i', 'm', '-', 'd', 'e', 'v', 'i', 'c', 'e',
    /* /0/1/5 PSK, 16 bytes (test data) */
    0xC8, 0x05, 0x10,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F,
    /* /0/1/10 Short Server ID = 101 */
    0xC1, 0x0A, 0x65,

    /* ---- object 1 (LwM2M Server), version 01 01 = 1.1, 18 bytes of TLV ---- */
    0x00, 0x01, 0x01, 0x01, 0x00, 0x12,
    /* instance /1/0, 15 bytes */
    0x08, 0x00, 0x0F,
    /* /1/0/0 Short Server ID = 101 */
    0xC1, 0x00, 0x65,
    /* /1/0/1 Lifetime = 86400 s (4-byte integer) */
    0xC4, 0x01, 0x00, 0x01, 0x51, 0x80,
    /* /1/0/6 Notification Storing = true */
    0xC1, 0x06, 0x01,
    /* /1/0/7 Binding = "U" */
    0xC1, 0x07, 'U',
};
const size_t sim_default_bootstrap_len = sizeof(sim_default_bootstrap);
