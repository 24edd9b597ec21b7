/*
 * Lua side of the binding glue (see bindings/scb_bind.h for the neutral
 * part): Lua functions as a card's transport and trace hook, bootstrap
 * models and JSON documents as Lua tables, Lua tables as virtual-card
 * profiles.
 *
 * Every function here is called from a SWIG wrapper, i.e. from Lua, with
 * the calling state L. Functions returning scb_lua_nret push their results
 * themselves and return how many they pushed (the wrapper returns those).
 * Lua errors (out of memory) are raised only where no C resource would
 * leak: C-side work that owns memory runs inside lua_pcall.
 */
#ifndef SCB_LUA_H
#define SCB_LUA_H

#include "scb_bind.h"
#include "scboot_sim.h"

#include <lua.h>

/* Number of values a function left on the Lua stack as its results. */
typedef int scb_lua_nret;

/* ------------------------------------------------------------------------ */
/* Transport: a Lua function as the card's transmit                          */
/* ------------------------------------------------------------------------ */
typedef struct scb_lua_callback scb_lua_callback_t;
/* The function at fn_index is called as fn(command) and returns the response
 * (data + SW1 SW2, a string), or nil, message [, code] when the exchange
 * failed; code, if given, must be a code of the transport family
 * (scb_error_family, e.g. SCB_E_CARD_REMOVED) and is what the engine sees,
 * else SCB_E_TRANSPORT. An error raised by fn is caught (lua_pcall) and
 * reported as SCB_E_TRANSPORT. Either way the message is kept for
 * scb_lua_callback_take_error. flags: SCB_TP_*. Raises a Lua error when
 * out of memory. */
scb_lua_callback_t *scb_lua_callback_new(lua_State *L, int fn_index, unsigned flags);
/* Forget fn and free cb (NULL is fine). Cards opened over cb must be
 * freed first. */
void scb_lua_callback_free(lua_State *L, scb_lua_callback_t *cb);
int scb_lua_card_open_callback(scb_card_t **out, scb_lua_callback_t *cb);
/* Push the message of the first failure since the last call (nil if none)
 * and forget it. */
scb_lua_nret scb_lua_callback_take_error(lua_State *L, scb_lua_callback_t *cb);
/* 1 while cb's function runs: the card it serves is inside an operation,
 * and using that card from the function would re-enter the engine. */
int scb_lua_callback_running(const scb_lua_callback_t *cb);

/* ------------------------------------------------------------------------ */
/* Trace: a Lua function called with each formatted trace line               */
/* ------------------------------------------------------------------------ */
typedef struct scb_lua_trace scb_lua_trace_t;
/* The function at fn_index is called as fn(kind, line). Errors it raises cannot
 * stop the card operation: they are reported through lua_warning. */
scb_lua_trace_t *scb_lua_trace_new(lua_State *L, int fn_index);
void scb_lua_trace_free(lua_State *L, scb_lua_trace_t *t);
/* Install t on card (t NULL: remove the hook). */
int scb_lua_card_set_trace(scb_card_t *card, scb_lua_trace_t *t);
/* 1 while t's function runs (see scb_lua_callback_running). */
int scb_lua_trace_running(const scb_lua_trace_t *t);

/* ------------------------------------------------------------------------ */
/* Bootstrap model and JSON documents as Lua tables (json-c)                 */
/* ------------------------------------------------------------------------ */
/* The bootstrap as the table of the JSON bootstrap format
 * (core/json/FORMAT.md: security, servers, objects, versions, digest):
 * JSON objects become tables with string keys, arrays sequences. Secret
 * resources are "<redacted>" unless secrets is non-zero. */
scb_lua_nret scb_lua_bootstrap_table(lua_State *L, const scb_bootstrap_t *bs, int secrets);
/* The model of the table at value_index, in the same format (secrets given
 * as their values), for writing to a card: 0 and *out, or
 * SCB_E_VALIDATION with the place and reason in detail (scbj_bootstrap_
 * from_object's messages; Lua values JSON cannot hold are refused the
 * way scb_lua_json_encode refuses them). The intermediate JSON tree is
 * wiped: it holds the accounts' keys. */
int scb_lua_bootstrap_from_table(lua_State *L, int value_index, scb_bootstrap_t **out,
                                 char *detail, size_t detail_len);
/* The two push rc (0 or a negative code) and then the table, or nil and a
 * message. Arrays carry a marker metatable (SCB_LUA_ARRAY_MT) so that
 * they encode back as arrays even when empty. */
#define SCB_LUA_ARRAY_MT "scboot.json.array"
/* Push rc and the value of a JSON text (null becomes nil). */
scb_lua_nret scb_lua_json_decode(lua_State *L, const char *text);
/* Push rc and the JSON text of the Lua value at value_index: a table with
 * the array marker or keys 1..n is an array, an empty table or one with
 * string keys an object; strings, integers, finite floats and booleans
 * are themselves. Anything else (functions, mixed keys, NaN, nesting
 * deeper than 64: a cycle) pushes SCB_E_VALIDATION and a message naming
 * the place ("objects[1].instances: ..."). */
scb_lua_nret scb_lua_json_encode(lua_State *L, int value_index);

/* ------------------------------------------------------------------------ */
/* The virtual card                                                          */
/* ------------------------------------------------------------------------ */
/* A virtual card from the profile at stack index profile_index: nil (the
 * built-in card), a file path, JSON text (starts with '{'), or a table
 * (encoded as scb_lua_json_encode does). Returns 0 or a code with a
 * message in detail. */
int scb_lua_sim_new(lua_State *L, int profile_index, scb_sim_t **out, char *detail, size_t detail_len);

#endif /* SCB_LUA_H */
