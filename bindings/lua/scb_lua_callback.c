/*
 * Lua functions as a card's transport and trace hook (scb_lua.h).
 *
 * Each hook calls its function on a Lua thread of its own, made with the
 * hook: a card operation may be started from any coroutine, and a hook
 * must never push onto the stack of a thread that is not running. The
 * hook thread's stack holds the function at FN_SLOT and, for transports,
 * the first failure message not yet taken at ERR_SLOT; the thread is
 * anchored in the registry until the hook is freed.
 *
 * The library calls the hooks from C with no Lua error handler between
 * them and the caller's pcall, so every Lua call that could raise (even
 * running out of memory while pushing the command) runs inside lua_pcall
 * on the hook thread: a failing Lua function becomes a transport error,
 * never a longjmp through the library.
 */
#include "scb_lua.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum { FN_SLOT = 1, ERR_SLOT = 2 };

struct scb_lua_callback {
    scb_bind_callback_t base;   /* first: the engine sees this */
    lua_State *thread;
    int ref;                    /* registry reference anchoring thread */
    int running;                /* the function is being called */
};

struct scb_lua_trace {
    scb_bind_trace_t base;      /* first */
    lua_State *thread;
    int ref;
    int running;
};

/* A thread holding the function at fn_index (FN_SLOT) and nil (ERR_SLOT),
 * anchored in the registry. Raises on out of memory, leaking nothing. */
static lua_State *hook_thread(lua_State *L, int fn_index, int *ref)
{
    luaL_checktype(L, fn_index, LUA_TFUNCTION);
    fn_index = lua_absindex(L, fn_index);
    lua_State *thread = lua_newthread(L);
    lua_pushvalue(L, fn_index);
    lua_xmove(L, thread, 1);
    lua_pushnil(thread);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);   /* pops the thread */
    return thread;
}

/* ---- transport ---------------------------------------------------------- */

typedef struct exchange {
    const uint8_t *cmd;
    size_t cmd_len;
    uint8_t *resp;
    size_t cap;
    long n;                     /* response length, or a negative code */
} exchange_t;

/* Runs protected on the hook thread: (fn, exchange) -> nothing on success,
 * the failure message when fn reported one. Raises when fn raises or
 * returns something that is neither. */
static int run_transport(lua_State *T)
{
    exchange_t *x = lua_touserdata(T, 2);
    lua_settop(T, 1);
    lua_pushlstring(T, (const char *)x->cmd, x->cmd_len);
    lua_call(T, 1, 3);   /* 1: response | 1: nil, 2: message, 3: code */
    if (lua_type(T, 1) == LUA_TSTRING) {
        size_t len = 0;
        const char *r = lua_tolstring(T, 1, &len);
        memcpy(x->resp, r, len < x->cap ? len : x->cap);
        /* more than cap is reported by the engine as an overlong response */
        x->n = len > (size_t)LONG_MAX ? LONG_MAX : (long)len;
        return 0;
    }
    if (!lua_toboolean(T, 1)) {
        int isnum = 0;
        lua_Integer code = lua_tointegerx(T, 3, &isnum);
        /* Only transport codes: the engine reacts to them (a removed card
         * drops its sessions); anything else would misreport the layer. */
        x->n = isnum && code >= INT_MIN && code <= 0 &&
                       scb_error_family((int)code) == SCB_FAMILY_TRANSPORT
                   ? (long)code
                   : SCB_E_TRANSPORT;
        if (lua_isnoneornil(T, 2))
            lua_pushliteral(T, "transport function returned nil");
        else
            luaL_tolstring(T, 2, NULL);
        return 1;
    }
    return luaL_error(T,
                      "transport function must return the response (a string: data + SW1 SW2) "
                      "or nil and a message, not a %s",
                      luaL_typename(T, 1));
}

/* Keep the value on top of T as the failure message unless an earlier one
 * is still there (the engine stops at the first transport failure); pops it. */
static void keep_error(lua_State *T)
{
    if (lua_isnil(T, ERR_SLOT))
        lua_replace(T, ERR_SLOT);
    else
        lua_pop(T, 1);
}

static long lua_transport_call(scb_bind_callback_t *base, const uint8_t *cmd, size_t cmd_len,
                               uint8_t *resp, size_t cap)
{
    scb_lua_callback_t *cb = (scb_lua_callback_t *)base;
    lua_State *T = cb->thread;
    if (!lua_checkstack(T, 4))
        return SCB_E_NOMEM;
    int top = lua_gettop(T);
    exchange_t x = { .cmd = cmd, .cmd_len = cmd_len, .resp = resp, .cap = cap, .n = 0 };
    lua_pushcfunction(T, run_transport);
    lua_pushvalue(T, FN_SLOT);
    lua_pushlightuserdata(T, &x);
    cb->running = 1;
    int status = lua_pcall(T, 2, 1, 0);
    cb->running = 0;
    if (status != LUA_OK) {
        keep_error(T);
        x.n = status == LUA_ERRMEM ? SCB_E_NOMEM : SCB_E_TRANSPORT;
    } else if (x.n < 0) {
        keep_error(T);
    }
    lua_settop(T, top);
    return x.n;
}

scb_lua_callback_t *scb_lua_callback_new(lua_State *L, int fn_index, unsigned flags)
{
    int ref = LUA_NOREF;
    lua_State *thread = hook_thread(L, fn_index, &ref);
    scb_lua_callback_t *cb = calloc(1, sizeof *cb);
    if (cb == NULL) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        luaL_error(L, "out of memory");
        return NULL;
    }
    cb->base.call = lua_transport_call;
    cb->base.flags = flags;
    cb->thread = thread;
    cb->ref = ref;
    return cb;
}

void scb_lua_callback_free(lua_State *L, scb_lua_callback_t *cb)
{
    if (cb == NULL)
        return;
    luaL_unref(L, LUA_REGISTRYINDEX, cb->ref);
    free(cb);
}

int scb_lua_card_open_callback(scb_card_t **out, scb_lua_callback_t *cb)
{
    return scb_bind_card_open_callback(out, cb != NULL ? &cb->base : NULL);
}

int scb_lua_callback_running(const scb_lua_callback_t *cb)
{
    return cb != NULL && cb->running;
}

scb_lua_nret scb_lua_callback_take_error(lua_State *L, scb_lua_callback_t *cb)
{
    if (cb == NULL) {
        lua_pushnil(L);
        return 1;
    }
    lua_State *T = cb->thread;
    luaL_checkstack(T, 2, NULL);
    lua_pushvalue(T, ERR_SLOT);
    lua_pushnil(T);
    lua_replace(T, ERR_SLOT);
    lua_xmove(T, L, 1);
    return 1;
}

/* ---- trace -------------------------------------------------------------- */

typedef struct trace_line {
    int kind;
    const char *text;
} trace_line_t;

static int run_trace(lua_State *T)
{
    const trace_line_t *line = lua_touserdata(T, 2);
    lua_settop(T, 1);
    lua_pushinteger(T, line->kind);
    lua_pushstring(T, line->text);
    lua_call(T, 2, 0);
    return 0;
}

static void lua_trace_line(scb_bind_trace_t *base, int kind, const char *text)
{
    scb_lua_trace_t *t = (scb_lua_trace_t *)base;
    lua_State *T = t->thread;
    if (!lua_checkstack(T, 4))
        return;
    int top = lua_gettop(T);
    trace_line_t line = { .kind = kind, .text = text };
    lua_pushcfunction(T, run_trace);
    lua_pushvalue(T, FN_SLOT);
    lua_pushlightuserdata(T, &line);
    t->running = 1;
    int status = lua_pcall(T, 2, 0, 0);
    t->running = 0;
    if (status != LUA_OK) {
        /* The operation goes on: say so the way Lua reports errors in
         * finalizers (a warning; the host decides where warnings go). */
        const char *msg = lua_type(T, -1) == LUA_TSTRING ? lua_tostring(T, -1)
                                                         : "(error object is not a string)";
        lua_warning(T, "scboot: error in trace function: ", 1);
        lua_warning(T, msg, 0);
    }
    lua_settop(T, top);
}

scb_lua_trace_t *scb_lua_trace_new(lua_State *L, int fn_index)
{
    int ref = LUA_NOREF;
    lua_State *thread = hook_thread(L, fn_index, &ref);
    scb_lua_trace_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        luaL_error(L, "out of memory");
        return NULL;
    }
    t->base.line = lua_trace_line;
    t->thread = thread;
    t->ref = ref;
    return t;
}

void scb_lua_trace_free(lua_State *L, scb_lua_trace_t *t)
{
    if (t == NULL)
        return;
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    free(t);
}

int scb_lua_trace_running(const scb_lua_trace_t *t)
{
    return t != NULL && t->running;
}

int scb_lua_card_set_trace(scb_card_t *card, scb_lua_trace_t *t)
{
    return scb_bind_card_set_trace(card, t != NULL ? &t->base : NULL);
}
