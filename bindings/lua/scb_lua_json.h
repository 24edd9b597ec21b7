/*
 * Lua value -> json-c tree, for the glue files that hand a Lua table to a
 * JSON-taking C function (scb_lua_json.c, scb_lua_sim.c). Not wrapped.
 */
#ifndef SCB_LUA_JSON_H
#define SCB_LUA_JSON_H

#include <lua.h>

struct json_object;

/* Build the JSON tree of the value at index (rules: scb_lua_json_encode in
 * scb_lua.h) under lua_pcall. LUA_OK and *out (the caller puts it), or
 * the Lua status with the message on top of the stack and *out NULL. */
int scb_lua_json_build(lua_State *L, int index, struct json_object **out);

/* Overwrite every string of tree and, if not NULL, the text json-c
 * rendered it to (json_object_to_json_string_ext, owned by the tree) with
 * zeros: before json_object_put, when the tree held secrets. */
void scb_lua_json_wipe(struct json_object *tree, const char *rendered);

#endif /* SCB_LUA_JSON_H */
