/*
 * Lua 5.4 typemaps and glue for the shared interface (bindings/scboot.i).
 * Built with: swig -lua -nomoduleglobal bindings/lua/scboot_lua.i
 * The result is the C module scboot.core (luaopen_scboot_core, from
 * %module scboot_core); users never see it: lua/scboot.lua is the API.
 *
 * Conventions of the wrapped functions: they return the C result (0 or a
 * negative SCB_E_* code) followed by their outputs, e.g.
 *   rc, response = core.scb_card_transmit(card, apdu)
 * Byte strings are Lua strings both ways (any bytes, NUL and FF included);
 * integers are Lua integers. A wrong argument type or an out-of-range
 * integer raises a Lua error (a programming error, not a card failure).
 */
%module scboot_core

%{
#include "scb_lua.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
%}

/* Loaded here first so that the integer typemaps below replace theirs
 * (SWIG reads each library file once; scboot.i includes them again). */
%include <stdint.i>
%include <typemaps.i>

/* Lua has no interpreter lock to release around calls that wait. */
#define SCB_BLOCKING(f)

/* ---- integers ------------------------------------------------------------
 * SWIG's Lua typemaps pass every number as lua_Number; error codes, status
 * words and sizes must be Lua integers, and a fractional or out-of-range
 * argument must not be truncated silently. */
%fragment("scb_lua_integer_arg", "header") {
SWIGINTERN int scb_lua_integer_arg(lua_State *L, int idx, lua_Integer min, lua_Integer max,
                                   lua_Integer *out)
{
    int isnum = 0;
    lua_Integer v = lua_tointegerx(L, idx, &isnum);
    if (!isnum || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}
}
%define SCB_LUA_INTEGER(TYPE, MIN, MAX)
%typemap(in, checkfn="lua_isnumber", fragment="scb_lua_integer_arg") TYPE (lua_Integer v = 0) {
    if (!scb_lua_integer_arg(L, $input, (lua_Integer)(MIN), (lua_Integer)(MAX), &v)) {
        lua_pushfstring(L, "%s: argument %d must be an integer in %I..%I", "$symname", $argnum,
                        (lua_Integer)(MIN), (lua_Integer)(MAX));
        SWIG_fail;
    }
    $1 = ($1_ltype)v;
}
%typemap(out) TYPE %{ lua_pushinteger(L, (lua_Integer)$1); SWIG_arg++; %}
%typemap(in, numinputs=0) TYPE *OUTPUT ($*1_ltype temp = 0) %{ $1 = &temp; %}
%typemap(argout) TYPE *OUTPUT %{ lua_pushinteger(L, (lua_Integer)*$1); SWIG_arg++; %}
%typemap(in, checkfn="lua_isnumber", fragment="scb_lua_integer_arg") TYPE *INOUT
    ($*1_ltype temp = 0, lua_Integer v = 0) {
    if (!scb_lua_integer_arg(L, $input, (lua_Integer)(MIN), (lua_Integer)(MAX), &v)) {
        lua_pushfstring(L, "%s: argument %d must be an integer in %I..%I", "$symname", $argnum,
                        (lua_Integer)(MIN), (lua_Integer)(MAX));
        SWIG_fail;
    }
    temp = ($*1_ltype)v;
    $1 = &temp;
}
%typemap(argout) TYPE *INOUT %{ lua_pushinteger(L, (lua_Integer)*$1); SWIG_arg++; %}
%enddef
SCB_LUA_INTEGER(signed char, SCHAR_MIN, SCHAR_MAX)
SCB_LUA_INTEGER(unsigned char, 0, UCHAR_MAX)
SCB_LUA_INTEGER(short, SHRT_MIN, SHRT_MAX)
SCB_LUA_INTEGER(unsigned short, 0, USHRT_MAX)
SCB_LUA_INTEGER(int, INT_MIN, INT_MAX)
SCB_LUA_INTEGER(unsigned int, 0, UINT_MAX)
SCB_LUA_INTEGER(long, LONG_MIN, LONG_MAX)
SCB_LUA_INTEGER(unsigned long, 0, LUA_MAXINTEGER)
SCB_LUA_INTEGER(long long, LLONG_MIN, LLONG_MAX)
SCB_LUA_INTEGER(unsigned long long, 0, LUA_MAXINTEGER)
%apply unsigned long { size_t };
%apply unsigned long *OUTPUT { size_t *OUTPUT };
%apply unsigned long *INOUT { size_t *INOUT };

/* ---- bytes in ------------------------------------------------------------ */
%typemap(in) (const uint8_t *IN_BYTES, size_t IN_LEN) {
    if (lua_isnil(L, $input)) {
        $1 = NULL;
        $2 = 0;
    } else if (lua_type(L, $input) == LUA_TSTRING) {
        size_t n = 0;
        $1 = ($1_ltype)lua_tolstring(L, $input, &n);
        $2 = n;
    } else {
        SWIG_fail_arg("$symname", $argnum, "byte string or nil");
    }
}
%typemap(typecheck) (const uint8_t *IN_BYTES, size_t IN_LEN) {
    $1 = lua_isnil(L, $input) || lua_type(L, $input) == LUA_TSTRING;
}

%typemap(in) const uint8_t IN_ARRAY[ANY] {
    size_t n = 0;
    if (lua_type(L, $input) != LUA_TSTRING)
        SWIG_fail_arg("$symname", $argnum, "byte string");
    $1 = ($1_ltype)lua_tolstring(L, $input, &n);
    if (n != $1_dim0) {
        lua_pushfstring(L, "%s: argument %d must be %d bytes, got %d", "$symname", $argnum,
                        (int)$1_dim0, (int)n);
        SWIG_fail;
    }
}

/* ---- bytes out -----------------------------------------------------------
 * Responses land in a buffer of SCB_BIND_BYTES_MAX bytes kept per Lua state
 * (a userdata in the registry, so Lua frees it with the state): no 64 KB
 * allocation per APDU. A call made while the buffer is lent out (from
 * inside a Lua transport function) gets a malloc'd one of its own. */
%fragment("scb_lua_outbuf", "header") {
typedef struct scb_lua_outbuf {
    int lent;
    uint8_t bytes[SCB_BIND_BYTES_MAX];
} scb_lua_outbuf_t;

static const char scb_lua_outbuf_key = 0;   /* its address is the registry key */

/* A buffer for one call; NULL when out of memory (a Lua error is raised
 * instead when Lua cannot make the shared buffer). */
SWIGINTERN uint8_t *scb_lua_outbuf_take(lua_State *L, scb_lua_outbuf_t **shared)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &scb_lua_outbuf_key);
    scb_lua_outbuf_t *b = (scb_lua_outbuf_t *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (b == NULL) {
        b = (scb_lua_outbuf_t *)lua_newuserdatauv(L, sizeof *b, 0);
        b->lent = 0;
        lua_rawsetp(L, LUA_REGISTRYINDEX, &scb_lua_outbuf_key);
    }
    if (!b->lent) {
        b->lent = 1;
        *shared = b;
        return b->bytes;
    }
    *shared = NULL;
    return (uint8_t *)malloc(SCB_BIND_BYTES_MAX);
}

SWIGINTERN void scb_lua_outbuf_give_back(uint8_t *buf, scb_lua_outbuf_t *shared)
{
    if (shared != NULL)
        shared->lent = 0;
    else
        free(buf);
}
}
%typemap(in, numinputs=0, fragment="scb_lua_outbuf") (uint8_t *OUT_BYTES, size_t *OUT_LEN)
    (uint8_t *buf = NULL, scb_lua_outbuf_t *shared = NULL, size_t len = SCB_BIND_BYTES_MAX) {
    buf = scb_lua_outbuf_take(L, &shared);
    if (buf == NULL) {
        lua_pushliteral(L, "out of memory");
        SWIG_fail;
    }
    $1 = buf;
    $2 = &len;
}
%typemap(argout) (uint8_t *OUT_BYTES, size_t *OUT_LEN) {
    size_t n = (result == 0 && *$2 <= SCB_BIND_BYTES_MAX) ? *$2 : 0;
    lua_pushlstring(L, (const char *)$1, n);
    SWIG_arg++;
}
%typemap(freearg) (uint8_t *OUT_BYTES, size_t *OUT_LEN) {
    if (buf$argnum != NULL)
        scb_lua_outbuf_give_back(buf$argnum, shared$argnum);
}

%typemap(in, numinputs=0) uint8_t OUT_ARRAY[ANY] (uint8_t temp[$1_dim0]) {
    memset(temp, 0, sizeof temp);
    $1 = temp;
}
%typemap(argout) uint8_t OUT_ARRAY[ANY] {
    lua_pushlstring(L, (const char *)$1, $1_dim0);
    SWIG_arg++;
}

%typemap(in, numinputs=0) (const uint8_t **VIEW_DATA, size_t *VIEW_LEN)
    (const uint8_t *p = NULL, size_t n = 0) {
    $1 = ($1_ltype)&p;
    $2 = &n;
}
%typemap(argout) (const uint8_t **VIEW_DATA, size_t *VIEW_LEN) {
    lua_pushlstring(L, *$1 != NULL ? (const char *)*$1 : "", *$1 != NULL ? *$2 : 0);
    SWIG_arg++;
}

/* Byte-array struct members (scb_fcp_t.aid, scb_access_info_t.path, ...). */
%typemap(out) uint8_t [ANY] %{ lua_pushlstring(L, (const char *)$1, $1_dim0); SWIG_arg++; %}

%typemap(in, numinputs=0) (char *DETAIL, size_t DETAIL_LEN) (char text[256]) {
    text[0] = '\0';
    $1 = text;
    $2 = sizeof text;
}
%typemap(argout) (char *DETAIL, size_t DETAIL_LEN) {
    lua_pushstring(L, $1);
    SWIG_arg++;
}

%typemap(in, numinputs=0) char **OUT_SECRET_TEXT (char *text = NULL) {
    $1 = &text;
}
%typemap(argout) char **OUT_SECRET_TEXT {
    if (*$1 != NULL)
        lua_pushstring(L, *$1);
    else
        lua_pushnil(L);
    SWIG_arg++;
}
%typemap(freearg) char **OUT_SECRET_TEXT {
    if ($1 != NULL)
        scbj_free(*$1);   /* wipes */
}

/* ---- handles and structs ------------------------------------------------- */
%typemap(in, numinputs=0) SWIGTYPE **OUT_HANDLE ($*1_ltype temp = NULL) {
    $1 = &temp;
}
%typemap(argout) SWIGTYPE **OUT_HANDLE {
    if (*$1 != NULL)
        SWIG_NewPointerObj(L, *$1, $*1_descriptor, 0);
    else
        lua_pushnil(L);
    SWIG_arg++;
}

%typemap(in, checkfn="SWIG_isptrtype") SWIGTYPE **FREE_HANDLE ($*1_ltype temp = NULL) {
    if (!SWIG_IsOK(SWIG_ConvertPtr(L, $input, (void **)&temp, $*1_descriptor, 0)))
        SWIG_fail_ptr("$symname", $argnum, $*1_descriptor);
    $1 = &temp;
}

%typemap(in, numinputs=0) SWIGTYPE *OUT_STRUCT {
    $1 = ($1_ltype)calloc(1, sizeof *$1);
    if ($1 == NULL) {
        lua_pushliteral(L, "out of memory");
        SWIG_fail;
    }
}
%typemap(argout) SWIGTYPE *OUT_STRUCT {
    SWIG_NewPointerObj(L, $1, $1_descriptor, 1);
    SWIG_arg++;
    $1 = NULL;   /* owned by the Lua object now */
}
%typemap(freearg) SWIGTYPE *OUT_STRUCT {
    free($1);
}

/* ---- Lua values handed to the glue (scb_lua.h) --------------------------- */
%typemap(in, checkfn="lua_isfunction") int LUA_FUNCTION "$1 = $input;"
%typemap(in) int LUA_VALUE "$1 = $input;"
%typemap(out) scb_lua_nret "SWIG_arg += $1;"

%apply int LUA_FUNCTION { int fn_index };
%apply int LUA_VALUE { int profile_index, int value_index };
%apply SWIGTYPE **OUT_HANDLE { scb_card_t **out, scb_sim_t **out, scb_bootstrap_t **out };
%apply (char *DETAIL, size_t DETAIL_LEN) { (char *detail, size_t detail_len) };
%include "scb_lua.h"

/* Structs of C callbacks, which Lua cannot fill (Lua transports come
 * through scb_lua_callback_new); their member "end" is a Lua keyword. */
%ignore scb_transport::end;
%ignore scb_at_channel;
%ignore scb_at_channel::end;
%ignore scb_card_open_at;

/* ---- the shared interface ------------------------------------------------ */
%include "../scboot.i"

/* require does not set globals: drop the two SWIG adds to _G when they are
 * this module's own (another SWIG module may have set them first). */
%init %{
    {
        static const char *const swig_globals[] = { "swig_type", "swig_equals" };
        static const lua_CFunction swig_fns[] = { SWIG_Lua_type, SWIG_Lua_class_equal };
        for (size_t i = 0; i < sizeof swig_globals / sizeof swig_globals[0]; i++) {
            lua_getglobal(L, swig_globals[i]);
            if (lua_tocfunction(L, -1) == swig_fns[i]) {
                lua_pushnil(L);
                lua_setglobal(L, swig_globals[i]);
            }
            lua_pop(L, 1);
        }
    }
%}
