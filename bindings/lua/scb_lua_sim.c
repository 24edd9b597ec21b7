/*
 * The virtual card (core/sim) for Lua: a card from a profile given as a
 * path, JSON text or a Lua table (scb_lua.h). The card handle over it is
 * the shared scb_bind_card_open_sim.
 */
#include "scb_lua.h"
#include "scb_lua_json.h"

#include <json-c/json.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

int scb_lua_sim_new(lua_State *L, int profile_index, scb_sim_t **out, char *detail,
                    size_t detail_len)
{
    switch (lua_type(L, profile_index)) {
    case LUA_TNIL:
    case LUA_TNONE:
        return scb_sim_new(out, NULL, detail, detail_len);
    case LUA_TSTRING: {
        const char *s = lua_tostring(L, profile_index);
        if (strlen(s) != lua_rawlen(L, profile_index)) {
            snprintf(detail, detail_len, "profile: text contains a NUL byte");
            return SCB_E_VALIDATION;
        }
        const char *p = s + strspn(s, " \t\r\n");
        return *p == '{' ? scb_sim_new_from_json(out, s, detail, detail_len)
                         : scb_sim_new(out, s, detail, detail_len);
    }
    case LUA_TTABLE: {
        json_object *tree = NULL;
        int status = scb_lua_json_build(L, profile_index, &tree);
        if (status == LUA_ERRMEM)
            lua_error(L);
        if (status != LUA_OK) {
            snprintf(detail, detail_len, "profile: %s", lua_tostring(L, -1));
            lua_pop(L, 1);
            return SCB_E_VALIDATION;
        }
        const char *text = json_object_to_json_string_ext(tree, JSON_C_TO_STRING_PLAIN);
        int rc = text != NULL ? scb_sim_new_from_json(out, text, detail, detail_len) : SCB_E_NOMEM;
        /* profiles carry key sets */
        scb_lua_json_wipe(tree, text);
        json_object_put(tree);
        return rc;
    }
    default:
        return luaL_error(L, "profile must be nil, a file path, JSON text or a table, not a %s",
                          luaL_typename(L, profile_index));
    }
}
