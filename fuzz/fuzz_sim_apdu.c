/*
 * libFuzzer harness for the virtual card's APDU path (scb_sim_process):
 * parsing, class decoding, channels, file system, T=0, and - with a real
 * SCP03 session opened by the test host first - unwrap, command handlers
 * under secure messaging and response wrapping.
 *
 * Input: byte 0 chooses the card and session:
 *   bit 0 T=0, bit 1 extended length, bit 2 S16, bit 3 counter_data_only,
 *   bit 4 open SCP03 on channel 0 (level from bits 5-7: 00 01 03 11 13 33 33 33)
 * then APDUs, each as a 1-byte length and that many bytes. Under a session,
 * APDUs that parse as short commands are wrapped by the host (valid MAC),
 * the others go to the card as they are.
 */
#include "sim_testhost.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t levels[8] = {0x00, 0x01, 0x03, 0x11, 0x13, 0x33, 0x33, 0x33};
    static const uint8_t select_adf[] = {0x00, 0xA4, 0x04, 0x0C, 0x0C, 0xA0, 0x00, 0x00, 0x00,
                                         0x63, 0x50, 0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};
    char json[160];
    scb_sim_t *sim = NULL;
    uint8_t resp[SIM_MAX_RESP];
    size_t rl;
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    snprintf(json, sizeof(json),
             "{\"t0\": %s, \"extended_length\": %s, \"scp03\": {\"s16\": %s, "
             "\"counter_data_only\": %s}}",
             (mode & 1) ? "true" : "false", (mode & 2) ? "true" : "false",
             (mode & 4) ? "true" : "false", (mode & 8) ? "true" : "false");
    if (scb_sim_new_from_json(&sim, json, NULL, 0) != 0)
        abort();
    th_t h;
    th_init(&h, sim, "404142434445464748494A4B4C4D4E4F");
    h.s16 = (mode & 4) != 0;
    h.count_data_only = (mode & 8) != 0;
    if (mode & 0x10) {
        rl = sizeof(resp);
        scb_sim_process(sim, select_adf, sizeof(select_adf), resp, &rl);
        if (!(mode & 1) && th_open(&h, 0x30, levels[mode >> 5]) != 0x9000)
            abort(); /* the card must accept its own default keys */
    }
    for (size_t pos = 1; pos < size;) {
        size_t n = data[pos++];
        if (n > size - pos)
            n = size - pos;
        const uint8_t *apdu = data + pos;
        pos += n;
        sim_cmd_t c;
        int err;
        if (h.open && (h.level & 0x01) && sim_apdu_parse(apdu, n, &c) == 0 && !c.extended &&
            c.lc <= 200 && sim_cla_channel(c.cla) == 0 && (c.cla & 0x0C) == 0) {
            th_sendb(&h, apdu, n, resp, &rl, &err);
        } else {
            rl = sizeof(resp);
            int rc = scb_sim_process(sim, apdu, n, resp, &rl);
            if (rc != 0 && rc != SCB_E_CARD_REMOVED)
                abort();
            if (rc == 0 && (rl < 2 || rl > SIM_MAX_RESP))
                abort();
        }
    }
    th_free(&h);
    scb_sim_free(&sim);
    return 0;
}
