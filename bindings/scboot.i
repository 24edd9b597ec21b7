/*
 * scboot.i: the SWIG interface shared by every binding language.
 *
 * It declares which parts of scboot.h are wrapped and how their arguments
 * map, in language-neutral terms. Each language supplies, in
 * bindings/<language>/, the typemaps named below and the few functions
 * that enter its interpreter (transport and trace callbacks), and includes
 * this file at the end:
 *
 *   Python: swig -python -threads -module _core -interface _scboot bindings/python/scboot_python.i
 *   Lua:    bindings/lua/scboot_lua.i
 *
 * Typemaps every language defines (argument names in the declarations are
 * matched through %apply below):
 *   (const uint8_t *IN_BYTES, size_t IN_LEN)   byte string in; nil/None = NULL, 0
 *   const uint8_t IN_ARRAY[ANY]                byte string of exactly ANY bytes
 *   (uint8_t *OUT_BYTES, size_t *OUT_LEN)      byte string out, written into a buffer
 *                                              of SCB_BIND_BYTES_MAX bytes (where it
 *                                              comes from is the language's choice);
 *                                              empty unless the call returned 0
 *   uint8_t OUT_ARRAY[ANY]                     ANY bytes out
 *   (const uint8_t **VIEW_DATA, size_t *VIEW_LEN)  bytes owned by a handle, copied out
 *   (char *DETAIL, size_t DETAIL_LEN)          a text out (a detail message, the ICCID)
 *   char **OUT_SECRET_TEXT                     text the call malloc'd (it may hold
 *                                              secrets): converted, then released
 *                                              with scbj_free, which wipes it
 *   SWIGTYPE **OUT_HANDLE                      a new handle out (nil/None when NULL)
 *   SWIGTYPE **FREE_HANDLE                     a handle in, for scb_*_free
 *   SWIGTYPE *OUT_STRUCT                       a struct the wrapper allocates, out
 *   uint8_t [ANY] (struct members)             read as a byte string of ANY bytes
 * and the macro SCB_BLOCKING(function): the function may wait for a card or
 * run a language callback (Python releases the GIL around it).
 *
 * Functions return the C result (0 or a negative SCB_E_* code) followed by
 * their outputs; each language's thin layer turns codes into its errors.
 */
%module scboot_core

%{
#include "scboot.h"
#include "scboot/apdu.h"
#include "scboot/pkcs15.h"
#include "scboot/transport.h"
#include "scboot_json.h"
#include "scb_bind.h"
#include "scb_bind_sim.h"
%}

%include <stdint.i>
%include <typemaps.i>
%include <carrays.i>

/* ---- argument mapping ------------------------------------------------ */
%apply (const uint8_t *IN_BYTES, size_t IN_LEN) {
    (const uint8_t *apdu, size_t apdu_len),
    (const uint8_t *aid, size_t aid_len),
    (const uint8_t *path, size_t path_len),
    (const uint8_t *data, size_t len),
    (const uint8_t *pin, size_t pin_len),
    (const uint8_t *fcp, size_t len),
    (const uint8_t *v, size_t len),
    (const uint8_t *key, size_t key_len),
    (const uint8_t *enc, size_t enc_len),
    (const uint8_t *mac, size_t mac_len),
    (const uint8_t *dek, size_t dek_len),
    (const uint8_t *host_challenge, size_t host_challenge_len),
    (const uint8_t *sd_aid, size_t sd_aid_len),
    (const uint8_t *value, size_t value_len),
    (const uint8_t *value, size_t len),
    (const uint8_t *path, size_t len),
    (const uint8_t *cmd, size_t len),
    (const uint8_t *challenge, size_t len),
    (const uint8_t *auth_id, size_t auth_id_len)
};
%apply const uint8_t IN_ARRAY[ANY] { const uint8_t kdd[10] };
%apply (uint8_t *OUT_BYTES, size_t *OUT_LEN) {
    (uint8_t *resp, size_t *resp_len),
    (uint8_t *buf, size_t *len)
};
%apply uint8_t OUT_ARRAY[ANY] { uint8_t kcv[3], uint8_t digest[32], uint8_t atr[33] };
%apply (const uint8_t **VIEW_DATA, size_t *VIEW_LEN) {
    (const uint8_t **data, size_t *len),
    (const uint8_t **value, size_t *value_len)
};
%apply (char *DETAIL, size_t DETAIL_LEN) {
    (char *detail, size_t detail_len),
    (char *out, size_t out_len)
};
%apply SWIGTYPE **OUT_HANDLE {
    scb_card_t **out, scb_keys_t **out, scb_bootstrap_t **out, scb_readers_t **out,
    scb_sim_t **out, scb_opts_t **out
};
%apply SWIGTYPE **FREE_HANDLE {
    scb_card_t **card, scb_keys_t **keys, scb_bootstrap_t **bs, scb_readers_t **r,
    scb_sim_t **sim, scb_opts_t **opts
};
%apply char **OUT_SECRET_TEXT { char **out };
%apply SWIGTYPE *OUT_STRUCT {
    scb_fcp_t *fcp, scb_fcp_t *out, scb_scp03_info_t *out, scb_app_template_t *out,
    scb_dodf_entry_t *out, scb_bs_object_t *out, scb_bs_instance_t *out,
    scb_bs_resource_t *out, scb_resource_info_t *info, scb_access_info_t *info,
    scb_sim_faults_t *out, scb_scp03_info_t *info, scb_opt_info_t *out,
    scb_path_select_t *out, scb_pin_object_t *out
};
%apply unsigned char *OUTPUT { uint8_t *channel };
%apply unsigned short *OUTPUT { uint16_t *id, uint16_t *resource_id, uint16_t *obj,
                                uint16_t *inst };
%apply long long *OUTPUT { int64_t *out, long long *out };
%apply unsigned long long *OUTPUT { uint64_t *out };
%apply int *OUTPUT { int *out };
%apply double *OUTPUT { double *out };
%apply size_t *INOUT { size_t *count };
%array_functions(scb_odf_entry_t, scb_odf_entry_array)

/* ---- what may block -------------------------------------------------- */
SCB_BLOCKING(scb_card_open_pcsc);
SCB_BLOCKING(scb_card_open_modem);
SCB_BLOCKING(scb_readers_list);
SCB_BLOCKING(scb_card_free);
SCB_BLOCKING(scb_card_begin);
SCB_BLOCKING(scb_card_end);
SCB_BLOCKING(scb_card_transmit);
SCB_BLOCKING(scb_card_transmit_plain);
SCB_BLOCKING(scb_channel_open);
SCB_BLOCKING(scb_channel_open_app);
SCB_BLOCKING(scb_channel_close);
SCB_BLOCKING(scb_select_aid);
SCB_BLOCKING(scb_select_fid);
SCB_BLOCKING(scb_select_path);
SCB_BLOCKING(scb_read_binary);
SCB_BLOCKING(scb_read_record);
SCB_BLOCKING(scb_update_binary);
SCB_BLOCKING(scb_verify_pin);
SCB_BLOCKING(scb_bind_transmit_loop);
SCB_BLOCKING(scb_scp03_open);
SCB_BLOCKING(scb_scp03_probe);
SCB_BLOCKING(scb_read_bootstrap);
SCB_BLOCKING(scb_write_bootstrap);
SCB_BLOCKING(scb_app_open);
SCB_BLOCKING(scb_rotate_keys);
SCB_BLOCKING(scb_put_keys);
SCB_BLOCKING(scb_app_close);
SCB_BLOCKING(scb_read_iccid);
SCB_BLOCKING(scb_sim_process);
SCB_BLOCKING(scb_bind_sim_serve_vpcd);
SCB_BLOCKING(scb_keys_open_pkcs11);
SCB_BLOCKING(scb_pkcs11_import);
SCB_BLOCKING(scb_pkcs11_generate);
SCB_BLOCKING(scbj_keys_from_json_ex);
SCB_BLOCKING(scb_keys_kcv);
SCB_BLOCKING(scb_keys_diversify_kdf3);

/* ---- replaced by scb_bind.h (function pointers, pointer-holding structs) */
%ignore scb_keys_new;
%ignore scb_transport;
%ignore scb_card_open_transport;
%ignore scb_at_channel;
%ignore scb_card_open_at;
%ignore scb_trace;
%ignore scb_trace_event;
%ignore scb_card_set_trace;
%ignore scb_trace_format;
%ignore scb_card_set_rng;
%ignore scb_bind_callback;
%ignore scb_bind_trace;
%ignore scb_bind_card_open_callback;
%ignore scb_bind_card_set_trace;
%ignore scb_bootstrap_security;      /* views with pointer members: the JSON */
%ignore scb_bootstrap_server;        /* model (to_dict) serves them */
%ignore scb_security;
%ignore scb_server;
%ignore scb_pkcs15_parse_odf;        /* scb_pkcs15_parse_odf_entries has it all */
%ignore scb_value_from_int;          /* values are built through the JSON model */
%ignore scb_value_from_uint;
%ignore scb_value_from_float;
%ignore scb_value_from_objlnk;
%ignore scb_sim_transport;
%ignore scb_card_open_sim;
%ignore scb_card_open_sim_owned;
%ignore scb_sim_serve_vpcd;
%ignore scbj_bootstrap_to_object;    /* json-c objects: C only */
%ignore scbj_bootstrap_from_object;
%ignore scbj_keys_from_object;
%ignore scbj_keys_from_object_ex;
%ignore scb_pkcs11_list;             /* a C callback per object: the CLI lists */
%ignore scb_p11_object;
%ignore scb_p11_object_fn;
%ignore scbj_free;
%ignore scb_bs_resource::value;      /* a pointer into the model: value_bytes() */

/* Structs the library fills are read-only views. */
%immutable;
%include "scboot.h"
%include "scboot/apdu.h"
%include "scboot/pkcs15.h"
%include "scboot/transport.h"
%include "scboot_json.h"
%include "scb_bind.h"
%mutable;
/* The virtual card; its fault settings are written by the binding. */
%include "scboot_sim.h"
%include "scb_bind_sim.h"

%extend scb_bs_resource {
    /* The value of a single-instance resource. */
    void value_bytes(const uint8_t **VIEW_DATA, size_t *VIEW_LEN)
    {
        *VIEW_DATA = $self->value;
        *VIEW_LEN = $self->value_len;
    }
}

/* The PKCS#15 application identifier (ISO 7816-15), as a byte string. */
%inline %{
static void scb_bind_pkcs15_default_aid(const uint8_t **VIEW_DATA, size_t *VIEW_LEN)
{
    *VIEW_DATA = scb_pkcs15_default_aid();
    *VIEW_LEN = SCB_PKCS15_AID_LEN;
}
%}
