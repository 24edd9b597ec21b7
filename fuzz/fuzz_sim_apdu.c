/*
 * libFuzzer harness for the virtual card's APDU path (scb_sim_process):
 * parsing, class decoding, channels, file system, T=0, and - with a real
 * SCP03 session opened first by the library's host - unwrap, command
 * handlers under secure messaging and response wrapping.
 *
 * Input: byte 0 chooses the card and session:
 *   bit 0 T=0, bit 1 extended length, bit 2 S16, bit 3 counter_data_only,
 *   bit 4 open SCP03 on channel 0 (level from bits 5-7: 00 01 03 11 13 33 33 33)
 * then APDUs, each as a 1-byte length and that many bytes. While the
 * session is open (the library ends it when an answer fails its checks),
 * APDUs that parse as short commands for channel 0 without SM go through
 * scb_card_transmit (wrapped with a valid MAC, answers unwrapped and
 * checked, 61xx / 6Cxx followed); the others go to the card as they are.
 * SCB_FUZZ_VERBOSE=1 prints what each APDU got.
 */
#include "sim_internal.h"
#include "sim_rig.h"

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
    static _Thread_local uint8_t resp[SIM_MAX_RESP];
    size_t rl;
    if (size < 1)
        return 0;
    const char *v = getenv("SCB_FUZZ_VERBOSE");
    const bool verbose = v != NULL && *v == '1';
    uint8_t mode = data[0];
    snprintf(json, sizeof(json),
             "{\"t0\": %s, \"extended_length\": %s, \"scp03\": {\"s16\": %s, "
             "\"counter_data_only\": %s}}",
             (mode & 1) ? "true" : "false", (mode & 2) ? "true" : "false",
             (mode & 4) ? "true" : "false", (mode & 8) ? "true" : "false");
    if (scb_sim_new_from_json(&sim, json, NULL, 0) != 0)
        abort();
    rig_t r;
    rig_attach(&r, sim, true, NULL);
    if (mode & 4)
        scb_opts_set_int(r.opts, SCB_OPT_S16, 1);
    if (mode & 8)
        scb_opts_set_int(r.opts, SCB_OPT_COUNT_DATA_ONLY, 1);
    const uint8_t level = levels[mode >> 5];
    if (mode & 0x10) {
        rl = sizeof(resp);
        scb_sim_process(sim, select_adf, sizeof(select_adf), resp, &rl);
        scb_opts_set_int(r.opts, SCB_OPT_LEVEL, level);
        if (scb_scp03_open(r.card, r.keys, r.opts) != SCB_OK)
            abort(); /* the card must accept its own default keys */
        if (verbose)
            fprintf(stderr, "  open level %02X\n", level);
    }
    for (size_t pos = 1; pos < size;) {
        size_t n = data[pos++];
        if (n > size - pos)
            n = size - pos;
        const uint8_t *apdu = data + pos;
        pos += n;
        sim_cmd_t c;
        rl = sizeof(resp);
        if (scb_scp03_is_open(r.card) && (level & SCB_SL_CMAC) && sim_apdu_parse(apdu, n, &c) == 0 &&
            !c.extended && c.lc <= 200 && sim_cla_channel(c.cla) == 0 && (c.cla & 0x0C) == 0) {
            int rc = scb_card_transmit(r.card, apdu, n, resp, &rl);
            if (rc > 0)
                abort();
            if (verbose)
                fprintf(stderr, "  sec %s %04X len %zu\n", scb_error_name(rc),
                        rc == SCB_OK ? scb_card_last_sw(r.card) : 0, rc == SCB_OK ? rl - 2 : 0);
        } else {
            int rc = scb_sim_process(sim, apdu, n, resp, &rl);
            if (rc != 0 && rc != SCB_E_CARD_REMOVED)
                abort();
            if (rc == 0 && (rl < 2 || rl > SIM_MAX_RESP))
                abort();
            if (verbose)
                fprintf(stderr, "  raw rc %d %02X%02X len %zu\n", rc, rc == 0 ? resp[rl - 2] : 0,
                        rc == 0 ? resp[rl - 1] : 0, rc == 0 ? rl - 2 : 0);
        }
    }
    rig_close(&r);
    return 0;
}
