/*
 * JSON documents <-> Lua values (json-c), and the bootstrap model as the
 * Lua table of its JSON form (scb_lua.h). The bootstrap's shape is defined
 * once, by the C JSON glue (core/json, FORMAT.md); this file only maps
 * JSON onto Lua: objects -> tables with string keys, arrays -> sequences
 * (with a marker metatable), integers -> integers, the rest as they are.
 *
 * Every walk that pushes Lua values or may raise runs inside lua_pcall
 * while the json-c tree is held here, so that an out-of-memory error or a
 * bad Lua value never leaks the tree.
 */
#include "scb_lua.h"
#include "scb_lua_json.h"
#include "scboot_json.h"

#include <json-c/json.h>
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper nesting than this is refused; the bootstrap format needs 5 and
 * json-c's tokener stops at 32. A Lua table that nests deeper is almost
 * certainly a cycle. */
#define MAX_DEPTH 64

/* ---- JSON -> Lua -------------------------------------------------------- */

static void push_json(lua_State *L, json_object *o, int depth)
{
    if (depth > MAX_DEPTH)
        luaL_error(L, "JSON nested deeper than %d levels", MAX_DEPTH);
    luaL_checkstack(L, 4, "JSON nesting");
    switch (json_object_get_type(o)) {
    case json_type_null:
        lua_pushnil(L);
        break;
    case json_type_boolean:
        lua_pushboolean(L, json_object_get_boolean(o));
        break;
    case json_type_int: {
        int64_t v = json_object_get_int64(o);
        uint64_t u = json_object_get_uint64(o);
        /* above INT64_MAX: a float, as Lua's own tonumber() gives */
        if (v == INT64_MAX && u > (uint64_t)INT64_MAX)
            lua_pushnumber(L, (lua_Number)u);
        else
            lua_pushinteger(L, (lua_Integer)v);
        break;
    }
    case json_type_double:
        lua_pushnumber(L, json_object_get_double(o));
        break;
    case json_type_string:
        lua_pushlstring(L, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        break;
    case json_type_array: {
        size_t n = json_object_array_length(o);
        lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_json(L, json_object_array_get_idx(o, i), depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        luaL_newmetatable(L, SCB_LUA_ARRAY_MT);
        lua_setmetatable(L, -2);
        break;
    }
    case json_type_object:
        lua_createtable(L, 0, json_object_object_length(o));
        json_object_object_foreach(o, key, val) {
            lua_pushstring(L, key);
            push_json(L, val, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    }
}

static int push_json_protected(lua_State *L)
{
    push_json(L, lua_touserdata(L, 1), 0);
    return 1;
}

static void wipe(volatile char *p, size_t n)
{
    while (n-- > 0)
        *p++ = 0;
}

static void wipe_strings(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_string:
        wipe((volatile char *)json_object_get_string(o), (size_t)json_object_get_string_len(o));
        break;
    case json_type_array:
        for (size_t i = 0, n = json_object_array_length(o); i < n; i++)
            wipe_strings(json_object_array_get_idx(o, i));
        break;
    case json_type_object: {
        json_object_object_foreach(o, key, val) {
            (void)key;
            wipe_strings(val);
        }
        break;
    }
    default:
        break;
    }
}

void scb_lua_json_wipe(json_object *tree, const char *rendered)
{
    if (tree != NULL)
        wipe_strings(tree);
    if (rendered != NULL)
        wipe((volatile char *)rendered, strlen(rendered));
}

/* Push 0 and the Lua value of tree, then free tree (wiped first when it
 * held secrets). Re-raises a Lua error (out of memory) once tree is freed. */
static scb_lua_nret push_tree(lua_State *L, json_object *tree, int secrets)
{
    lua_pushinteger(L, SCB_OK);
    lua_pushcfunction(L, push_json_protected);
    lua_pushlightuserdata(L, tree);
    int status = lua_pcall(L, 1, 1, 0);
    if (secrets)
        scb_lua_json_wipe(tree, NULL);
    json_object_put(tree);
    if (status != LUA_OK)
        lua_error(L);
    return 2;
}

scb_lua_nret scb_lua_bootstrap_table(lua_State *L, const scb_bootstrap_t *bs, int secrets)
{
    luaL_checkstack(L, 4, NULL);   /* before anything is allocated */
    json_object *tree = NULL;
    int rc = scbj_bootstrap_to_object(bs, secrets ? SCBJ_SHOW_SECRETS : 0u, &tree);
    if (rc != SCB_OK) {
        lua_pushinteger(L, rc);
        lua_pushnil(L);
        return 2;
    }
    return push_tree(L, tree, secrets);
}

int scb_lua_bootstrap_from_table(lua_State *L, int value_index, scb_bootstrap_t **out,
                                 char *detail, size_t detail_len)
{
    *out = NULL;
    if (lua_type(L, value_index) != LUA_TTABLE)
        return luaL_error(L, "bootstrap data must be a table, not a %s",
                          luaL_typename(L, value_index));
    json_object *tree = NULL;
    int status = scb_lua_json_build(L, value_index, &tree);
    if (status == LUA_ERRMEM)
        lua_error(L);
    if (status != LUA_OK) {
        snprintf(detail, detail_len, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return SCB_E_VALIDATION;
    }
    int rc = scbj_bootstrap_from_object(tree, out, detail, detail_len);
    scb_lua_json_wipe(tree, NULL);
    json_object_put(tree);
    return rc;
}

scb_lua_nret scb_lua_json_decode(lua_State *L, const char *text)
{
    luaL_checkstack(L, 4, NULL);
    if (text == NULL) {
        lua_pushinteger(L, SCB_E_INVALID_ARG);
        lua_pushnil(L);
        lua_pushliteral(L, "JSON text: expected a string");
        return 3;
    }
    json_object *tree = NULL;
    char detail[160] = "";
    int rc = scbj_parse(text, &tree, detail, sizeof(detail));
    if (rc == SCB_E_NOMEM)
        return luaL_error(L, "out of memory");
    if (rc != SCB_OK) {
        lua_pushinteger(L, rc);
        lua_pushnil(L);
        lua_pushstring(L, detail);
        return 3;
    }
    if (tree == NULL) {   /* the text was "null" */
        lua_pushinteger(L, SCB_OK);
        lua_pushnil(L);
        return 2;
    }
    return push_tree(L, tree, 0);
}

/* ---- Lua -> JSON -------------------------------------------------------- */

typedef struct encoder {
    json_object *root;
    char path[200];             /* where we are, for messages: "a.b[2]" */
    size_t path_len;
} encoder_t;

/* Append to the path ("key" / ".key" / "[i]"), truncating when full. */
static void path_add(encoder_t *e, int n)
{
    size_t room = sizeof e->path - e->path_len;
    if (n > 0)
        e->path_len += (size_t)n < room ? (size_t)n : room - 1;
}

static void path_key(encoder_t *e, const char *key)
{
    char *end = e->path + e->path_len;
    size_t room = sizeof e->path - e->path_len;
    path_add(e, e->path_len > 0 ? snprintf(end, room, ".%s", key) : snprintf(end, room, "%s", key));
}

static void path_index(encoder_t *e, lua_Integer i)
{
    path_add(e, snprintf(e->path + e->path_len, sizeof e->path - e->path_len, "[%lld]",
                         (long long)i));
}

static int encode_fail(lua_State *L, encoder_t *e, const char *what)
{
    return luaL_error(L, "%s: %s", e->path_len > 0 ? e->path : "value", what);
}

static int is_array_marked(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    luaL_getmetatable(L, SCB_LUA_ARRAY_MT);
    int marked = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return marked;
}

/* 1: array (keys 1..n), 0: object (string keys, or empty and unmarked). */
static int table_is_array(lua_State *L, encoder_t *e, int idx)
{
    lua_Integer count = 0;
    int strings = 0, integers = 0;
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
        if (lua_type(L, -1) == LUA_TSTRING)
            strings++;
        else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 && lua_tointeger(L, -1) <= n)
            integers++;
        else
            encode_fail(L, e, "table keys must be strings (an object) or 1..n (an array)");
    }
    if (strings > 0 && integers > 0)
        encode_fail(L, e, "table mixes string keys and array items");
    if (integers > 0 && integers != n)
        encode_fail(L, e, "array has holes");
    return integers > 0 || (count == 0 && is_array_marked(L, idx));
}

/* A new node for the value at idx (tables: empty, filled after it is
 * attached, so that an error while filling leaks nothing). */
static json_object *new_node(lua_State *L, encoder_t *e, int idx, int depth)
{
    json_object *node = NULL;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return NULL;   /* JSON null */
    case LUA_TBOOLEAN:
        node = json_object_new_boolean(lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            node = json_object_new_int64(lua_tointeger(L, idx));
        } else {
            lua_Number x = lua_tonumber(L, idx);
            lua_Integer i = 0;
            if (!isfinite(x))
                encode_fail(L, e, "NaN and infinity have no JSON form");
            /* 86400 / 2 is a float in Lua 5.4; an integral value is written
             * as an integer so that integer resources accept it. */
            if (lua_numbertointeger(floor(x), &i) && (lua_Number)i == x)
                node = json_object_new_int64(i);
            else
                node = json_object_new_double(x);
        }
        break;
    case LUA_TSTRING: {
        size_t len = 0;
        const char *s = lua_tolstring(L, idx, &len);
        if (len > INT32_MAX)
            encode_fail(L, e, "string too long");
        node = json_object_new_string_len(s, (int)len);
        break;
    }
    case LUA_TTABLE:
        if (depth >= MAX_DEPTH)
            encode_fail(L, e, "tables nested deeper than 64 levels (a cycle?)");
        node = table_is_array(L, e, idx) ? json_object_new_array() : json_object_new_object();
        break;
    default:
        lua_pushfstring(L, "a %s has no JSON form", luaL_typename(L, idx));
        encode_fail(L, e, lua_tostring(L, -1));
    }
    if (node == NULL)
        luaL_error(L, "out of memory");
    return node;
}

static void encode_into(lua_State *L, encoder_t *e, json_object *parent, const char *key, int idx,
                        int depth);

static int compare_keys(const void *a, const void *b)
{
    const char *const *ka = a, *const *kb = b;
    return strcmp(*ka, *kb);
}

/* Object members in key order, so that the same table gives the same text. */
static void fill_object(lua_State *L, encoder_t *e, json_object *node, int idx, int depth)
{
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
    }
    /* The key array is Lua memory: collected even when an error follows. */
    const char **keys = lua_newuserdatauv(L, count * sizeof *keys + 1, 0);
    size_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        size_t len = 0;
        const char *key = lua_tolstring(L, -1, &len);   /* a string: checked before */
        if (strlen(key) != len)
            encode_fail(L, e, "object key contains a NUL byte");
        keys[k++] = key;   /* alive: a key of the table, which is on the stack */
    }
    qsort(keys, count, sizeof *keys, compare_keys);
    for (size_t i = 0; i < count; i++) {
        size_t saved = e->path_len;
        path_key(e, keys[i]);
        lua_getfield(L, idx, keys[i]);   /* raw: tables here have no __index */
        encode_into(L, e, node, keys[i], lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        e->path_len = saved;
        e->path[saved] = '\0';
    }
    lua_pop(L, 1);   /* the key array */
}

static void fill_array(lua_State *L, encoder_t *e, json_object *node, int idx, int depth)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        size_t saved = e->path_len;
        path_index(e, i);
        lua_rawgeti(L, idx, i);
        encode_into(L, e, node, NULL, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        e->path_len = saved;
        e->path[saved] = '\0';
    }
}

static void encode_into(lua_State *L, encoder_t *e, json_object *parent, const char *key, int idx,
                        int depth)
{
    luaL_checkstack(L, 6, "JSON nesting");
    json_object *node = new_node(L, e, idx, depth);
    if (parent == NULL) {
        e->root = node;
    } else {
        int rc = key != NULL ? json_object_object_add(parent, key, node)
                             : json_object_array_add(parent, node);
        if (rc != 0) {
            json_object_put(node);
            luaL_error(L, "out of memory");
        }
    }
    if (node != NULL && json_object_is_type(node, json_type_object))
        fill_object(L, e, node, idx, depth);
    else if (node != NULL && json_object_is_type(node, json_type_array))
        fill_array(L, e, node, idx, depth);
}

static int build_protected(lua_State *L)
{
    encoder_t *e = lua_touserdata(L, 2);
    encode_into(L, e, NULL, NULL, 1, 0);
    return 0;
}

int scb_lua_json_build(lua_State *L, int index, json_object **out)
{
    encoder_t e;
    memset(&e, 0, sizeof e);
    *out = NULL;
    index = lua_absindex(L, index);
    luaL_checkstack(L, 4, NULL);
    lua_pushcfunction(L, build_protected);
    lua_pushvalue(L, index);
    lua_pushlightuserdata(L, &e);
    int status = lua_pcall(L, 2, 0, 0);
    if (status != LUA_OK) {
        json_object_put(e.root);
        return status;
    }
    *out = e.root;
    return LUA_OK;
}

static int push_string_protected(lua_State *L)
{
    lua_pushstring(L, lua_touserdata(L, 1));
    return 1;
}

scb_lua_nret scb_lua_json_encode(lua_State *L, int value_index)
{
    json_object *tree = NULL;
    int status = scb_lua_json_build(L, value_index, &tree);
    if (status == LUA_ERRMEM)
        lua_error(L);
    if (status != LUA_OK) {
        lua_pushinteger(L, SCB_E_VALIDATION);
        lua_insert(L, -2);   /* rc, message */
        return 2;
    }
    lua_pushinteger(L, SCB_OK);
    const char *text = tree != NULL ? json_object_to_json_string_ext(
                                          tree, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                                    : "null";
    lua_pushcfunction(L, push_string_protected);
    lua_pushlightuserdata(L, (void *)text);
    status = lua_pcall(L, 1, 1, 0);
    json_object_put(tree);
    if (status != LUA_OK)
        lua_error(L);
    return 2;
}
