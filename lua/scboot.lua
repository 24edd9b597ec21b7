--- scboot: LwM2M bootstrap information from a smartcard (UICC), over
-- GlobalPlatform SCP03 and PKCS#15: the Lua face of the C library.
--
--     local scboot = require "scboot"
--     local keys = assert(scboot.keys{enc = "404142434445464748494A4B4C4D4E4F",
--                                     mac = "404142434445464748494A4B4C4D4E4F",
--                                     dek = "404142434445464748494A4B4C4D4E4F", kvn = 0x30})
--     local card <close> = assert(scboot.open())          -- first PC/SC reader with a card
--     local bs = assert(card:read_bootstrap{keys = keys})  -- SCP03 level 0x33
--     print(bs.servers[1].lifetime, bs.digest)
--
-- Failures of the card, the channel or the data, and option values the
-- library refuses, return nil, message, code (code: a negative number,
-- scboot.E.<NAME>; scboot.family(code) names its kind); only programming
-- errors (wrong argument types, unknown option names) raise. Byte strings
-- (APDUs, responses, AIDs, paths, file contents) are Lua strings of any
-- bytes. This layer holds no protocol logic: that lives in C (scboot.core).
local core = require "scboot.core"

local M = {}
M.version = core.scb_version()

--- Error codes by name without the SCB_E_ prefix: scboot.E.CARD_REMOVED.
M.E = {}
--- SCP03 security levels: NONE, CMAC, CDEC, RMAC, RENC, DEFAULT (0x33).
M.level = {}
--- Trace line kinds: WIRE_CMD, WIRE_RESP, PLAIN_CMD, PLAIN_RESP, NOTE.
M.trace_kind = {}
for name, value in pairs(core) do
  local e = name:match("^SCB_E_(.+)$")
  local l = name:match("^SCB_SL_(.+)$")
  local t = name:match("^SCB_TRACE_(.+)$")
  if e then M.E[e] = value end
  if l then M.level[l] = value end
  if t and t ~= "VERSION" then M.trace_kind[t] = value end
end

local E = M.E

-- ---------------------------------------------------------------------------
-- results and arguments
-- ---------------------------------------------------------------------------

--- The message of a code: the library's detail when there is one, else
-- the code's text, followed by its name: "R-MAC verification failed
-- (SCB_E_SCP_RMAC)".
function M.message(code, detail)
  local text = (detail ~= nil and detail ~= "") and detail or core.scb_strerror(code)
  return string.format("%s (%s)", text, core.scb_error_name(code))
end

local function fail(code, detail)
  return nil, M.message(code, detail), code
end

--- The family of a code, as the C library groups codes
-- (scb_error_family): "usage", "transport", "card", "secure", "data",
-- "write", "keystore" or "other" ("ok" for 0, "other" for a number that
-- is no code). Act on the family rather than on ranges of numbers.
function M.family(code)
  if math.type(code) ~= "integer" then error("family: the code must be an integer", 2) end
  -- scb_error_family takes a C int: a number beyond one is no code
  if code < -0x80000000 or code > 0x7FFFFFFF then code = -0x7FFFFFFF end
  return core.scb_error_family_name(core.scb_error_family(code))
end

local function is_transport_code(code)
  return core.scb_error_family(code) == core.SCB_FAMILY_TRANSPORT
end

local function check_type(value, expected, what, level)
  if type(value) ~= expected then
    error(string.format("%s: expected a %s, got a %s", what, expected, type(value)), level + 1)
  end
end

-- Option tables are checked by name: a typo must not silently give the default.
local function check_options(opts, allowed, what)
  if opts == nil then return {} end
  check_type(opts, "table", what, 3)
  for k in pairs(opts) do
    if allowed[k] == nil then
      error(string.format("%s: unknown option %q", what, tostring(k)), 3)
    end
  end
  return opts
end

--- Lower-case hex of a byte string.
function M.hex(bytes)
  check_type(bytes, "string", "hex", 2)
  return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

--- Bytes of a hex string (white space ignored), or nil, message, code.
function M.unhex(text)
  check_type(text, "string", "unhex", 2)
  local digits = text:gsub("%s", "")
  if #digits % 2 ~= 0 or digits:find("%X") then
    return fail(E.INVALID_ARG, "not an even number of hex digits")
  end
  return (digits:gsub("%x%x", function(b) return string.char(tonumber(b, 16)) end))
end

-- ---------------------------------------------------------------------------
-- key sets
-- ---------------------------------------------------------------------------

local Keys = { __name = "scboot.keys" }
Keys.__index = Keys

-- A key set's fields; enc and mac are required, dek only for PUT KEY.
local key_fields = { enc = true, mac = true, dek = true, kvn = true }

-- Digit counts of hex AES-128, -192 and -256 keys.
local hex_key_digits = { [32] = true, [48] = true, [64] = true }

-- The bytes of a key given as hex (white space between digits allowed),
-- or nil and why not. The key's text is never part of the reason.
local function key_from_hex(value, name)
  local digits = value:gsub("%s", "")
  if digits:find("%X") or not hex_key_digits[#digits] then
    return nil, string.format("scboot.keys: %s must be hex, 32, 48 or 64 hex digits "
                              .. "(AES-128/192/256; key bytes go to scboot.keys_raw)", name)
  end
  return (digits:gsub("%x%x", function(b) return string.char(tonumber(b, 16)) end))
end

-- A key given as its bytes, or nil and why not: text that is all hex digits
-- of a key's length is hex someone meant for scboot.keys (a random 32-byte
-- key looks like that with odds below 2^-110). Never guessed either way.
local function key_from_raw(value, name)
  if hex_key_digits[#value] and not value:find("%X") then
    return nil, string.format("scboot.keys_raw: %s must be the key's 16, 24 or 32 bytes, "
                              .. "not hex text (hex goes to scboot.keys)", name)
  end
  return value
end

-- A key set from a table of keys in one form (convert: key_from_hex or
-- key_from_raw), or nil, message, code.
local function keys_from_table(spec, what, convert)
  check_type(spec, "table", what, 3)
  for k in pairs(spec) do
    if not key_fields[k] then error(string.format("%s: unknown field %q", what, tostring(k)), 3) end
  end
  local kvn = spec.kvn or 0
  if math.type(kvn) ~= "integer" then error(what .. ": kvn must be an integer 0..255", 3) end
  local bytes = {}
  for _, name in ipairs{ "enc", "mac", "dek" } do
    local value = spec[name]
    if value ~= nil then
      check_type(value, "string", what .. ": " .. name, 3)
      local why
      bytes[name], why = convert(value, name)
      if bytes[name] == nil then return fail(E.INVALID_ARG, why) end
    end
  end
  local rc, h = core.scb_bind_keys_new(bytes.enc, bytes.mac, bytes.dek, kvn)
  if rc ~= 0 then
    return fail(rc, what .. ": enc and mac (and dek) must be present, 16, 24 or 32 bytes each, "
                    .. "of one length; kvn 0..255")
  end
  return setmetatable({ _h = h, _in_use = 0 }, Keys)
end

--- An SCP03 static key set from hex: scboot.keys{enc = ..., mac = ...,
-- dek = ..., kvn = ...}, each key 32, 48 or 64 hex digits (AES-128/192/256,
-- one length for all; white space between digits allowed); dek optional,
-- needed for PUT KEY only; kvn 0..255, default 0. Or the JSON key set text
-- of core/json/FORMAT.md. Key bytes: scboot.keys_raw. Returns the key set,
-- or nil, message, code (scboot.E.INVALID_ARG for a key that is not hex;
-- messages never show key material). The keys live in C only and are
-- wiped on close.
function M.keys(spec)
  if type(spec) == "string" then
    local rc, h, detail = core.scbj_keys_from_json(spec)
    if rc ~= 0 then return fail(rc, detail) end
    return setmetatable({ _h = h, _in_use = 0 }, Keys)
  end
  return keys_from_table(spec, "scboot.keys", key_from_hex)
end

--- An SCP03 static key set from key bytes: scboot.keys_raw{enc = ...,
-- mac = ..., dek = ..., kvn = ...}, each key a string of 16, 24 or 32
-- bytes; otherwise as scboot.keys. Hex text is refused (it belongs to
-- scboot.keys).
function M.keys_raw(spec)
  return keys_from_table(spec, "scboot.keys_raw", key_from_raw)
end

--- A key set in a PKCS#11 token: scboot.keys_pkcs11(uri, pin, opts) with an
-- RFC 7512 URI "pkcs11:token=LABEL;object=NAME?module-path=PATH&pin-source=
-- file:PATH" naming the AES keys NAME/enc, NAME/mac, NAME/dek (without
-- module-path / module-name: p11-kit's configured modules). pin: the
-- token's user PIN, or nil for the URI's pin-source / pin-value. opts
-- (optional): {kvn = 0..255, generate = true (the set does not exist yet:
-- the rotation that first uses it generates it in the token), length = 16
-- or 32}. The key bytes never enter the process. Returns the key set, or
-- nil, message, code (scboot.E.P11_PIN, P11_OBJECT, ...).
local p11_fields = { kvn = true, generate = true, length = true }
function M.keys_pkcs11(uri, pin, opts)
  check_type(uri, "string", "keys_pkcs11: uri", 2)
  if pin ~= nil then check_type(pin, "string", "keys_pkcs11: pin", 2) end
  opts = opts or {}
  check_type(opts, "table", "keys_pkcs11: opts", 2)
  check_options(opts, p11_fields, "keys_pkcs11")
  local kvn = opts.kvn or 0
  if math.type(kvn) ~= "integer" or kvn < 0 or kvn > 255 then
    error("keys_pkcs11: kvn must be an integer 0..255", 2)
  end
  local flags = 0
  if opts.generate then
    local sizes = { [16] = 0, [24] = core.SCB_P11_AES192, [32] = core.SCB_P11_AES256 }
    local size = sizes[opts.length or 16]
    if size == nil then error("keys_pkcs11: length must be 16, 24 or 32", 2) end
    flags = core.SCB_P11_GENERATE | size
  end
  local rc, h, detail = core.scb_keys_open_pkcs11(uri, kvn, pin, flags)
  if rc ~= 0 then return fail(rc, detail) end
  return setmetatable({ _h = h, _in_use = 0 }, Keys)
end

function Keys:kvn() return self._h and core.scb_keys_kvn(self._h) end
function Keys:in_token() return self._h ~= nil and core.scb_keys_in_token(self._h) == 1 end
function Keys:length() return self._h and core.scb_keys_length(self._h) end
function Keys:has_dek() return self._h ~= nil and core.scb_keys_has_dek(self._h) == 1 end

--- Wipe and free the keys (also on collection and for <close> variables).
-- Returns true; refused (nil, message, code) while a card operation uses
-- them, i.e. when called from a transport or trace function.
function Keys:close()
  if self._in_use > 0 then
    return fail(E.STATE, "the key set is in use by a card operation")
  end
  local h = self._h
  if h ~= nil then
    self._h = nil
    core.scb_keys_free(h)
  end
  return true
end
Keys.__gc = Keys.close
Keys.__close = Keys.close

function Keys:__tostring()
  if self._h == nil then return "scboot.keys (closed)" end
  return string.format("scboot.keys (AES-%d, kvn 0x%02X)", core.scb_keys_length(self._h) * 8,
                       core.scb_keys_kvn(self._h))
end

-- The C handle of a key set argument; raises (at the caller of the
-- function calling this) for anything else.
local function keys_handle(keys, what, name)
  if getmetatable(keys) ~= Keys then
    error(string.format("%s: %s must be a key set made by scboot (scboot.keys, "
                        .. "scboot.keys_raw)", what, name or "keys"), 3)
  end
  if keys._h == nil then
    error(string.format("%s: the key set %s is closed", what, name or "keys"), 3)
  end
  return keys._h
end

-- fn(...) with the key sets (either may be nil) held open for the call (a
-- transport or trace function must not free them under the library), and
-- the options object o (may be nil) freed afterwards, whatever happens: it
-- may hold a PIN, which scb_opts_free wipes.
local function with_keys(keys, new_keys, o, fn, ...)
  if keys ~= nil then keys._in_use = keys._in_use + 1 end
  if new_keys ~= nil then new_keys._in_use = new_keys._in_use + 1 end
  local result = table.pack(pcall(fn, ...))
  if keys ~= nil then keys._in_use = keys._in_use - 1 end
  if new_keys ~= nil then new_keys._in_use = new_keys._in_use - 1 end
  if o ~= nil then core.scb_opts_free(o) end
  if not result[1] then error(result[2], 0) end
  return table.unpack(result, 2, result.n)
end

-- ---------------------------------------------------------------------------
-- options of the card operations
-- ---------------------------------------------------------------------------

-- The C library names every option once (name, type, scope, range:
-- scb_opt_find / scb_opt_info), and an option table is mapped through
-- that table alone: every option of the library reaches Lua under its C
-- name, and none is dropped. Besides them a call takes only the arguments
-- of this layer (keys, new_keys, data, secrets).

-- What a value of each option type must be in Lua, and how it is said.
local lua_type_of = {
  [core.SCB_OPT_T_INT] = "integer", [core.SCB_OPT_T_BOOL] = "boolean",
  [core.SCB_OPT_T_BYTES] = "string", [core.SCB_OPT_T_ENUM] = "string",
}
local function expected_value(info)
  if info.type == core.SCB_OPT_T_INT then return "an integer" end
  if info.type == core.SCB_OPT_T_BOOL then return "a boolean" end
  if info.type == core.SCB_OPT_T_ENUM then return "one of " .. info.arg .. " (a string)" end
  return "a byte string"
end

-- Option names of earlier releases of this module, named in the error
-- that refuses them.
local replaced = {
  secure = "no_secure_channel = true",
  logical_channel = "no_logical_channel = true",
  verify = "no_verify = true",
  no_extauth = "card:probe_keys(keys, opts) is the key probe; no job skips EXTERNAL "
               .. "AUTHENTICATE",
}

-- The C options of an option table (every key but the call's own),
-- checked by name and Lua type, as a list of {id, type, value}. Raises for
-- a programming error (a name the library does not know, a value of the
-- wrong type) at the caller of the public function that called this;
-- values are never shown (a PIN may be one).
local function c_options(what, opts, own)
  if opts == nil then return {} end
  check_type(opts, "table", what, 3)
  local list = {}
  for name, value in pairs(opts) do
    if not own[name] then
      local id = E.NOT_FOUND
      if type(name) == "string" and not name:find("\0", 1, true) then
        id = core.scb_opt_find(name)
      end
      local rc, info
      if id > 0 then rc, info = core.scb_opt_info(id) end
      if rc ~= 0 then
        local hint = replaced[name]
        error(string.format("%s: unknown option %q%s", what, tostring(name),
                            hint and (" (now: " .. hint .. ")") or ""), 3)
      end
      local want = lua_type_of[info.type]
      local fits = type(value) == want
      if want == "integer" then fits = math.type(value) == "integer" end
      if not fits then
        error(string.format("%s: option %s takes %s, not a %s", what, name, expected_value(info),
                            math.type(value) or type(value)), 3)
      end
      list[#list + 1] = { id, info.type, value }
    end
  end
  return list
end

-- A scb_opts_t holding the options of c_options, or nil, message, code
-- when the library refuses a value (out of range, a wrong length: its
-- message names the option and never a secret value). Whether an option
-- applies to the call is the call's own check. The caller frees it.
local function make_opts(list)
  local rc, o = core.scb_opts_new()
  if rc ~= 0 then return fail(rc) end
  for _, option in ipairs(list) do
    local id, t, value = option[1], option[2], option[3]
    if t == core.SCB_OPT_T_BYTES then
      rc = core.scb_opts_set_bytes(o, id, value)
    elseif t == core.SCB_OPT_T_ENUM then
      -- by name; a name with a NUL in it is none (C would see only its start)
      rc = core.scb_opts_set_text(o, id, value:find("\0", 1, true) and "" or value)
    elseif t == core.SCB_OPT_T_BOOL then
      rc = core.scb_opts_set_int(o, id, value and 1 or 0)
    else
      rc = core.scb_opts_set_int(o, id, value)
    end
    if rc ~= 0 then
      local detail = core.scb_opts_errmsg(o)
      core.scb_opts_free(o)
      return fail(rc, detail)
    end
  end
  return o
end

-- ---------------------------------------------------------------------------
-- bootstrap files as tables
-- ---------------------------------------------------------------------------

-- The table of a decoded model (format: core/json/FORMAT.md) plus raw.
-- The model is freed here, also when building the table fails.
local function bootstrap_table(bs, secrets)
  local ok, rc, t = pcall(core.scb_lua_bootstrap_table, bs, secrets and 1 or 0)
  local _, raw = core.scb_bootstrap_raw(bs)
  core.scb_bootstrap_free(bs)
  if not ok then error(rc, 0) end
  if rc ~= 0 then return fail(rc) end
  t.raw = raw
  return t
end

--- Decode a bootstrap file (EF.LwM2M_Bootstrap bytes, FF padding
-- allowed). Returns a table as `scboot read --json` prints it (security,
-- servers, objects, versions, digest as hex) plus raw (the bytes given),
-- or nil, message, code. Secret resources read "<redacted>" unless
-- opts.secrets is true.
function M.decode(raw, opts)
  check_type(raw, "string", "decode", 2)
  opts = check_options(opts, { secrets = true }, "decode")
  local rc, bs, detail = core.scb_bootstrap_decode(raw)
  if rc ~= 0 then return fail(rc, detail) end
  return bootstrap_table(bs, opts.secrets)
end

-- Members this layer adds to a decoded table (decode: raw; read_bootstrap:
-- path, aid, info): not part of the bootstrap format, dropped on the way
-- back so that a table read from a card can be written as it is.
local added_members = { raw = true, path = true, aid = true, info = true }

-- A bootstrap model (C handle) from a table of the decode format, or nil,
-- message, code. The caller frees the handle.
local function model_from_table(t)
  local plain = {}
  for k, v in pairs(t) do
    if not added_members[k] then plain[k] = v end
  end
  local rc, bs, detail = core.scb_lua_bootstrap_from_table(plain)
  if rc ~= 0 then return fail(rc, detail) end
  return bs
end

--- The file bytes of a bootstrap table (the format scboot.decode returns,
-- with secret resources given as their values: decode with secrets = true,
-- or build the table by hand; core/json/FORMAT.md). Minimal TLV lengths,
-- no padding. Returns the bytes, or nil, message, code (scboot.E.VALIDATION
-- naming the field, 0-based as in the JSON model: "servers[0].lifetime: ...").
function M.encode(t)
  check_type(t, "table", "encode", 2)
  local bs, msg, code = model_from_table(t)
  if bs == nil then return nil, msg, code end
  local rc, raw = core.scb_bootstrap_encode(bs)
  core.scb_bootstrap_free(bs)
  if rc ~= 0 then return fail(rc) end
  return raw
end

--- The JSON text of a Lua value (objects: string keys, in key order;
-- arrays: keys 1..n or a table decoded from a JSON array), or nil,
-- message, code.
function M.json_encode(value)
  local rc, text = core.scb_lua_json_encode(value)
  if rc ~= 0 then return fail(rc, text) end
  return text
end

--- The Lua value of a JSON text (arrays carry a marker metatable so that
-- they encode back as arrays), or nil, message, code.
function M.json_decode(text)
  check_type(text, "string", "json_decode", 2)
  local rc, value, detail = core.scb_lua_json_decode(text)
  if rc ~= 0 then return fail(rc, detail) end
  return value
end

-- ---------------------------------------------------------------------------
-- cards
-- ---------------------------------------------------------------------------

local Card = { __name = "scboot.card" }
Card.__index = Card

local function new_card(h, fields)
  local card = fields or {}
  card._h = h
  return setmetatable(card, Card)
end

local function closed()
  return fail(E.STATE, "the card is closed")
end

local function in_use()
  return fail(E.STATE, "the card is inside an operation: used from its own transport or trace function")
end

-- nil, message, code for rc from an operation on card: a Lua transport's
-- own message for transport failures, else the library's detail.
local function card_fail(card, rc)
  local detail = card._h and core.scb_card_errmsg(card._h) or ""
  if card._cb then
    local err = core.scb_lua_callback_take_error(card._cb)
    if err ~= nil and is_transport_code(rc) then detail = tostring(err) end
  end
  return fail(rc, detail)
end

-- The handle for an operation, or nil and the failure: the card is closed,
-- or its own Lua transport or trace function is running (the engine must
-- not be entered twice). Forgets a Lua transport's message left from a
-- failure the library recovered from, so that it is not reported later.
local callback_running, trace_running = core.scb_lua_callback_running, core.scb_lua_trace_running
local function handle(card)
  local cb, trace = card._cb, card._trace
  if (cb and callback_running(cb) == 1) or (trace and trace_running(trace) == 1) then
    return nil, in_use
  end
  if cb then core.scb_lua_callback_take_error(cb) end
  local h = card._h
  if h == nil then return nil, closed end
  return h
end

--- Connect through PC/SC. reader: nil = the first reader with a card; else
-- an exact name, a decimal index, or a unique substring of a name.
function M.open(reader)
  if reader ~= nil then check_type(reader, "string", "open", 2) end
  local rc, h, detail = core.scb_card_open_pcsc(reader)
  if rc ~= 0 then return fail(rc, detail) end
  return new_card(h)
end

--- The UICC in a cellular modem, through its AT interface (3GPP TS 27.007
-- AT+CSIM; logical channels through +CCHO / +CGLA / +CCHC where the modem
-- offers them): device e.g. "/dev/ttyUSB2". opts: the library's modem
-- options, baud (default 115200; USB modems ignore it), rtscts,
-- modem_channels ("auto" | "csim" | "cgla"), modem_timeout_ms,
-- modem_no_init, extended_length. The port is held exclusively until the
-- card is closed (another program's port: scboot.E.SHARING). A modem that
-- goes away gives scboot.E.CARD_REMOVED.
function M.open_modem(device, opts)
  check_type(device, "string", "open_modem", 2)
  if opts ~= nil and type(opts) ~= "table" then
    error("open_modem: opts must be a table of modem options, e.g. {baud = 115200}", 2)
  end
  local o, msg, code = make_opts(c_options("open_modem", opts, {}))
  if o == nil then return nil, msg, code end
  local rc, h, detail = core.scb_card_open_modem(device, o)
  core.scb_opts_free(o)
  if rc ~= 0 then return fail(rc, detail) end
  return new_card(h)
end

--- The PC/SC readers: a list of {name = ..., present = true|false}, or
-- nil, message, code (e.g. scboot.E.NO_SERVICE when pcscd is not running).
function M.readers()
  local rc, r, detail = core.scb_readers_list()
  if rc ~= 0 then return fail(rc, detail) end
  local list = {}
  for i = 0, core.scb_readers_count(r) - 1 do
    list[#list + 1] = { name = core.scb_readers_name(r, i),
                        present = core.scb_readers_card_present(r, i) == 1 }
  end
  core.scb_readers_free(r)
  return list
end

--- A card over a Lua function: fn(command) returns the response (data +
-- SW1 SW2) as a string, or nil, message [, code] when the exchange failed
-- (code: a transport code such as scboot.E.CARD_REMOVED; default
-- scboot.E.TRANSPORT). An error raised by fn ends the operation as a
-- transport failure whose message is fn's error. fn must not yield. opts:
-- t0 (case-4 responses come as 61xx), extended_length.
function M.from_transmit(fn, opts)
  check_type(fn, "function", "from_transmit", 2)
  opts = check_options(opts, { t0 = true, extended_length = true }, "from_transmit")
  local flags = (opts.t0 and core.SCB_TP_T0 or 0)
              | (opts.extended_length and core.SCB_TP_EXTENDED_LENGTH or 0)
  local cb = core.scb_lua_callback_new(fn, flags)
  local rc, h = core.scb_lua_card_open_callback(cb)
  if rc ~= 0 then
    core.scb_lua_callback_free(cb)
    return fail(rc)
  end
  return new_card(h, { _cb = cb })
end

--- Disconnect and free the card: its secure channel keys are wiped; a
-- virtual card opened with scboot.sim goes with it. Also runs on
-- collection and for <close> variables. Returns true; refused (nil,
-- message, code) from the card's own transport or trace function.
function Card:close()
  local cb, trace = self._cb, self._trace
  if (cb and callback_running(cb) == 1) or (trace and trace_running(trace) == 1) then
    return in_use()
  end
  local h = self._h
  if h ~= nil then
    self._h = nil
    core.scb_card_free(h)
  end
  if self._cb ~= nil then
    core.scb_lua_callback_free(self._cb)
    self._cb = nil
  end
  if self._trace ~= nil then
    core.scb_lua_trace_free(self._trace)
    self._trace = nil
  end
  local sim = self._sim
  self._sim = nil
  if sim ~= nil and self._owns_sim then sim:close() end
  return true
end
Card.__gc = Card.close
Card.__close = Card.close

function Card:__tostring()
  if self._h == nil then return "scboot.card (closed)" end
  local reader = core.scb_card_reader_name(self._h)
  return string.format("scboot.card (%s, channel %d)",
                       reader and ("reader " .. reader) or "in-process transport",
                       core.scb_card_channel(self._h))
end

function Card:is_closed() return self._h == nil end
--- The last status word received (unwrapped), 0 if none.
function Card:last_sw() return self._h and core.scb_card_last_sw(self._h) or 0 end
--- The library's detail text of the last failure ("" if none).
function Card:last_error() return self._h and core.scb_card_errmsg(self._h) or "" end
--- APDUs exchanged on the wire so far (GET RESPONSE included).
--- The bound on every call that talks to the card (a whole read, all its
-- APDUs), in seconds; nil: no bound. Past it the call returns nil, message,
-- scboot.E.TIMEOUT naming the step; a PC/SC card that stops answering
-- mid-APDU leaves the card unusable (open it again). Default 30.
function Card:timeout()
  local ms = self._h and core.scb_card_timeout(self._h) or 0
  return ms > 0 and ms / 1000 or nil
end

function Card:set_timeout(seconds)
  if seconds ~= nil and (type(seconds) ~= "number" or seconds <= 0 or seconds > 86400) then
    error("set_timeout: seconds must be a number in (0, 86400], or nil", 2)
  end
  if self._h == nil then return closed() end
  core.scb_card_set_timeout(self._h, seconds and math.max(1, math.floor(seconds * 1000 + 0.5)) or 0)
  return true
end

function Card:apdu_count() return self._h and core.scb_card_apdu_count(self._h) or 0 end
--- The PC/SC reader name, nil for other transports.
function Card:reader() return self._h and core.scb_card_reader_name(self._h) end
--- The logical channel commands go to.
function Card:channel() return self._h and core.scb_card_channel(self._h) end

--- Send one command APDU (bytes) on the card's channel, through the secure
-- channel when one is open; 61xx and 6Cxx are handled. Returns the
-- response (data + SW1 SW2, whatever the status word), or nil, message, code.
local scb_card_transmit = core.scb_card_transmit   -- the hot path: no table lookups
function Card:transmit(apdu)
  local h, why = self._h, closed
  if self._cb ~= nil or self._trace ~= nil then h, why = handle(self) end
  if h == nil then return why() end
  local rc, resp = scb_card_transmit(h, apdu)
  if rc ~= 0 then return card_fail(self, rc) end
  return resp
end

--- As transmit, but never through the secure channel.
function Card:transmit_plain(apdu)
  local h, why = handle(self)
  if h == nil then return why() end
  local rc, resp = core.scb_card_transmit_plain(h, apdu)
  if rc ~= 0 then return card_fail(self, rc) end
  return resp
end

--- MANAGE CHANNEL open: the card's commands go to the new channel; returns
-- its number. With aid (a binary string), the channel opens with that
-- application selected on it, the transport's own way when it has one (a
-- modem's AT+CCHO); an unknown application is nil, message,
-- scboot.E.NOT_FOUND and leaves nothing open.
function Card:open_channel(aid)
  local h, why = handle(self)
  if h == nil then return why() end
  local rc, channel
  if aid == nil then
    rc, channel = core.scb_channel_open(h)
  else
    check_type(aid, "string", "open_channel", 2)
    rc, channel = core.scb_channel_open_app(h, aid)
  end
  if rc ~= 0 then return card_fail(self, rc) end
  return channel
end

--- Close the current logical channel (its secure channel first) and go
-- back to channel 0. Returns true.
function Card:close_channel()
  local h, why = handle(self)
  if h == nil then return why() end
  local rc = core.scb_channel_close(h)
  if rc ~= 0 then return card_fail(self, rc) end
  return true
end

--- Switch to an already open logical channel. Returns true.
function Card:select_channel(channel)
  local h, why = handle(self)
  if h == nil then return why() end
  local rc = core.scb_channel_select(h, channel)
  if rc ~= 0 then return card_fail(self, rc) end
  return true
end

--- Open an SCP03 secure channel with the Security Domain selected on the
-- current channel. level: scboot.level.* combination (default 0x33; or
-- opts.level). opts: the library's secure-channel options, kvn (default:
-- the key set's), s16, kdf3 (keys are master keys), count_data_only,
-- mac_cla_as_sent, host_challenge, sd_aid (see scboot/apdu.h). Returns
-- true, or nil, message, code.
function Card:open_scp03(keys, level, opts)
  local kh = keys_handle(keys, "open_scp03")
  local list = c_options("open_scp03", opts, {})
  if level ~= nil then
    if opts ~= nil and opts.level ~= nil then error("open_scp03: level given twice", 2) end
    if math.type(level) ~= "integer" then error("open_scp03: level must be an integer", 2) end
    list[#list + 1] = { core.SCB_OPT_LEVEL, core.SCB_OPT_T_INT, level }
  end
  local h, why = handle(self)
  if h == nil then return why() end
  local o, msg, code = make_opts(list)
  if o == nil then return nil, msg, code end
  local rc = with_keys(keys, nil, o, core.scb_scp03_open, h, kh, o)
  if rc ~= 0 then return card_fail(self, rc) end
  return true
end

--- A key probe with the Security Domain selected on the current channel:
-- INITIALIZE UPDATE and the check of the card cryptogram (and, with
-- opts.sd_aid, of a pseudo-random card challenge), but no EXTERNAL
-- AUTHENTICATE, so a wrong key set never counts against the card's
-- authentication limit. opts as open_scp03 (level does not matter here).
-- Returns what the card said, {kvn, i (its i parameter), s16, kdd (bytes),
-- sequence_counter (nil when the card sends none), challenge_verified},
-- when it proved it holds these keys; else nil, message, code. No session
-- is open afterwards, whatever the result.
function Card:probe_keys(keys, opts)
  local kh = keys_handle(keys, "probe_keys")
  local list = c_options("probe_keys", opts, {})
  local h, why = handle(self)
  if h == nil then return why() end
  local o, msg, code = make_opts(list)
  if o == nil then return nil, msg, code end
  local rc, info = with_keys(keys, nil, o, core.scb_scp03_probe, h, kh, o)
  if rc ~= 0 then return card_fail(self, rc) end
  return {
    kvn = info.kvn, i = info.i_param, s16 = info.s16 == 1, kdd = info.kdd,
    sequence_counter = info.has_seq_counter == 1 and string.unpack(">I3", info.seq_counter) or nil,
    challenge_verified = info.challenge_verified == 1,
  }
end

--- Close the secure channel (no APDU; the session keys are wiped).
function Card:close_scp03()
  local h, why = handle(self)
  if h == nil then return why() end
  local rc = core.scb_scp03_close(h)
  if rc ~= 0 then return card_fail(self, rc) end
  return true
end

--- The security level in force on the current channel, nil if none.
function Card:scp03_level()
  local level = self._h and core.scb_scp03_level(self._h) or -1
  return level >= 0 and level or nil
end

local function access_info(info)
  return {
    channel = info.channel, scp_level = info.scp_level >= 0 and info.scp_level or nil,
    apdus = info.apdus, used_efdir = info.used_efdir == 1, label = info.label,
    ef_size = info.ef_size, oid_form = info.oid_form,
  }
end

-- The key handle of a job that may run without a secure channel (nil
-- then); raises, at the caller of the public function, when keys are
-- missing and running in the clear was not asked for.
local function job_keys(opts, what, verb)
  if opts.keys ~= nil then return keys_handle(opts.keys, what) end
  if opts.no_secure_channel ~= true then
    error(string.format("%s: give keys, or no_secure_channel = true to %s without a secure "
                        .. "channel", what, verb), 3)
  end
  return nil
end

-- The arguments of this layer, per call; everything else in an option
-- table is an option of the C library.
local read_own = { keys = true, secrets = true }
local write_own = { keys = true, data = true }
local rotate_own = { keys = true, new_keys = true }
local app_own = { keys = true }

--- Read the LwM2M bootstrap file: find the PKCS#15 application (EF.DIR or
-- the default AID), open a logical channel and SCP03 (level 0x33 unless
-- opts.level), follow ODF and DODF to the bootstrap EF, read and decode it.
-- opts: keys (scboot.keys; or no_secure_channel = true to read without a
-- secure channel), secrets (unredacted secret resources), and the
-- library's options of a read: the secure-channel options of open_scp03
-- (level, kvn, sd_aid, ...), aid, skip_efdir, no_logical_channel (stay on
-- channel 0), path (from an earlier read: skip the search), pin / pin_ref
-- (VERIFY first). Returns the table of scboot.decode plus path and aid
-- (pass them back for a warm read) and info (channel, scp_level, apdus,
-- used_efdir, label, ef_size, oid_form), or nil, message, code (also for
-- an option that does not apply to a read, or a value out of its range).
-- The job fails with a secure-channel error, before the bootstrap EF is
-- touched, unless a session at the level asked for is in force.
function Card:read_bootstrap(opts)
  local list = c_options("read_bootstrap", opts, read_own)
  opts = opts or {}
  local kh = job_keys(opts, "read_bootstrap", "read")
  local h, why = handle(self)
  if h == nil then return why() end
  local o, msg, code = make_opts(list)
  if o == nil then return nil, msg, code end
  local rc, bs, info = with_keys(opts.keys, nil, o, core.scb_read_bootstrap, h, kh, o)
  if rc ~= 0 then return card_fail(self, rc) end
  local t
  t, msg, code = bootstrap_table(bs, opts.secrets)
  if t == nil then return nil, msg, code end
  t.path = info.path:sub(1, info.path_len)
  t.aid = info.aid:sub(1, info.aid_len)
  t.info = access_info(info)
  return t
end

--- Write a bootstrap file to the card's bootstrap EF inside a secure
-- channel of at least C-DEC + C-MAC (level default 0x33), then read it
-- back to verify. opts: data (a table of the scboot.decode format with
-- secrets as values, e.g. a read_bootstrap{secrets = true} result, or the
-- file's bytes as a string), keys (required), and the library's options
-- of a write: those of read_bootstrap but pin, plus pad (fill the rest of
-- the EF with FF) and no_verify (skip the read-back). Data larger than the
-- EF is refused before anything is written (scboot.E.DATA_TOO_LARGE).
-- Returns the info table (channel, scp_level, apdus, ...), or nil,
-- message, code; scboot.E.WRITE_INCOMPLETE means the card holds a partial
-- file.
function Card:write_bootstrap(opts)
  check_type(opts, "table", "write_bootstrap", 2)
  local list = c_options("write_bootstrap", opts, write_own)
  local kh = keys_handle(opts.keys, "write_bootstrap")
  local raw = opts.data
  if type(raw) ~= "table" and type(raw) ~= "string" then
    error("write_bootstrap: data must be a bootstrap table or the file's bytes", 2)
  end
  local h, why = handle(self)
  if h == nil then return why() end
  local msg, code
  if type(raw) == "table" then
    raw, msg, code = M.encode(raw)
    if raw == nil then return nil, msg, code end
  end
  local o
  o, msg, code = make_opts(list)
  if o == nil then return nil, msg, code end
  local rc, info = with_keys(opts.keys, nil, o, core.scb_write_bootstrap, h, kh, o, raw)
  if rc ~= 0 then return card_fail(self, rc) end
  return access_info(info)
end

--- Key rotation in one call: open the application with opts.keys (the
-- current set, with its DEK), PUT KEY opts.new_keys (added, or replacing
-- the set opts.replace_kvn), check the card's key check values, prove the
-- new keys with a fresh handshake, close everything. Other options: those
-- of the library for the application and its secure channel (level, kvn:
-- the version the current keys are known by, sd_aid, aid, skip_efdir,
-- ...). Returns the info table, or nil, message, code (the card keeps its
-- old keys unless the PUT KEY itself succeeded: scboot.E.SCP_KCV when the
-- card's check values disagree).
function Card:rotate_keys(opts)
  check_type(opts, "table", "rotate_keys", 2)
  local list = c_options("rotate_keys", opts, rotate_own)
  local kh = keys_handle(opts.keys, "rotate_keys")
  local nh = keys_handle(opts.new_keys, "rotate_keys", "new_keys")
  local h, why = handle(self)
  if h == nil then return why() end
  local o, msg, code = make_opts(list)
  if o == nil then return nil, msg, code end
  local rc, info = with_keys(opts.keys, opts.new_keys, o, core.scb_rotate_keys, h, kh, nh, o)
  if rc ~= 0 then return card_fail(self, rc) end
  return access_info(info)
end

--- Open the PKCS#15 application as read_bootstrap does (EF.DIR or opts.aid,
-- a logical channel, SELECT, SCP03 with opts.keys; no_secure_channel =
-- true for none; the library's options of the application and its secure
-- channel): later card:transmit calls go to it, secured. Returns the info
-- table (with aid), or nil, message, code. Undo with close_app.
function Card:open_app(opts)
  local list = c_options("open_app", opts, app_own)
  opts = opts or {}
  local kh = job_keys(opts, "open_app", "open it")
  local h, why = handle(self)
  if h == nil then return why() end
  local o, msg, code = make_opts(list)
  if o == nil then return nil, msg, code end
  local rc, info = with_keys(opts.keys, nil, o, core.scb_app_open, h, kh, o)
  if rc ~= 0 then return card_fail(self, rc) end
  local t = access_info(info)
  t.aid = info.aid:sub(1, info.aid_len)
  return t
end

--- Close what open_app opened (the secure channel, then the logical
-- channel). Returns true, or nil, message, code.
function Card:close_app()
  local h, why = handle(self)
  if h == nil then return why() end
  local rc = core.scb_app_close(h)
  if rc ~= 0 then return card_fail(self, rc) end
  return true
end

--- Call fn(kind, line) for every APDU and note ("A>> 00 A4 ...", "S<<"
-- for plaintext under secure messaging; the library masks secrets); nil
-- removes the hook. Errors raised by fn cannot stop the card operation:
-- they become Lua warnings. Returns true.
function Card:set_trace(fn)
  if fn ~= nil then check_type(fn, "function", "set_trace", 2) end
  local h, why = handle(self)
  if h == nil then return why() end
  local t = fn and core.scb_lua_trace_new(fn)
  local rc = core.scb_lua_card_set_trace(h, t)
  if rc ~= 0 then
    core.scb_lua_trace_free(t)
    return card_fail(self, rc)
  end
  if self._trace ~= nil then core.scb_lua_trace_free(self._trace) end
  self._trace = t
  return true
end

-- ---------------------------------------------------------------------------
-- the virtual card
-- ---------------------------------------------------------------------------

local Sim = { __name = "scboot.virtual_card" }
Sim.__index = Sim

--- A virtual UICC in this process (core/sim): profile nil (the built-in
-- card), a file path, JSON text, or a table (core/sim/PROFILE.md). Returns
-- it, or nil, message, code. sim:card() connects a card to it.
function M.virtual_card(profile)
  local rc, h, detail = core.scb_lua_sim_new(profile)
  if rc ~= 0 then return fail(rc, detail) end
  return setmetatable({ _h = h, _cards = setmetatable({}, { __mode = "k" }) }, Sim)
end

--- A card whose transport is this virtual card.
function Sim:card()
  if self._h == nil then return fail(E.STATE, "the virtual card is closed") end
  local rc, h = core.scb_bind_card_open_sim(self._h)
  if rc ~= 0 then return fail(rc) end
  local card = new_card(h, { _sim = self })
  self._cards[card] = true
  return card
end

--- A card over a new virtual card (see virtual_card) that goes with it:
-- card.sim is the virtual card, for fault injection and unplugging.
function M.sim(profile)
  local sim, msg, code = M.virtual_card(profile)
  if sim == nil then return nil, msg, code end
  local card
  card, msg, code = sim:card()
  if card == nil then
    sim:close()
    return nil, msg, code
  end
  card._owns_sim = true
  card.sim = sim
  return card
end

local fault_fields = {
  delay_ms = "integer", disconnect_after = "integer", corrupt_rmac_at = "integer",
  bad_padding_at = "integer", sw_at = "integer", sw_at_value = "integer",
  bad_card_cryptogram = "boolean", bad_challenge = "boolean", kvn_mismatch = "boolean",
  rmac_on_error = "boolean", renc_overpad = "boolean",
}

--- Change fault injection settings (core/sim/scboot_sim.h): a table with
-- any of delay_ms, disconnect_after, corrupt_rmac_at, bad_padding_at,
-- sw_at, sw_at_value (APDU numbers count from the card's creation; see
-- apdu_count) and the booleans bad_card_cryptogram, bad_challenge,
-- kvn_mismatch, rmac_on_error, renc_overpad. Returns true.
function Sim:set_faults(changes)
  check_type(changes, "table", "set_faults", 2)
  for k, v in pairs(changes) do
    local kind = fault_fields[k]
    if kind == nil then error(string.format("set_faults: unknown fault %q", tostring(k)), 2) end
    if (kind == "integer" and math.type(v) ~= "integer") or (kind == "boolean" and type(v) ~= "boolean") then
      error(string.format("set_faults: %s must be a%s %s", k, kind == "integer" and "n" or "", kind), 2)
    end
  end
  if self._h == nil then return fail(E.STATE, "the virtual card is closed") end
  local _, faults = core.scb_sim_get_faults(self._h)
  for k, v in pairs(changes) do
    if type(v) == "boolean" then v = v and 1 or 0 end
    faults[k] = v
  end
  local rc = core.scb_sim_set_faults(self._h, faults)
  if rc ~= 0 then return fail(rc) end
  return true
end

--- APDUs the card has answered since it was made.
function Sim:apdu_count() return self._h and core.scb_sim_apdu_count(self._h) or 0 end

--- Take the card out: every later APDU fails with scboot.E.CARD_REMOVED.
function Sim:unplug()
  return self:set_faults{ disconnect_after = self:apdu_count() }
end

--- Put the card back (a power cycle: channels and sessions are gone,
-- files, keys and counters stay).
function Sim:reinsert()
  local ok, msg, code = self:set_faults{ disconnect_after = 0 }
  if not ok then return nil, msg, code end
  core.scb_sim_reset(self._h)
  return true
end

--- One command APDU as the card sees it (no engine in between: no
-- GET RESPONSE, no channel handling): the response, or nil, message, code
-- (scboot.E.CARD_REMOVED once unplugged). A Lua transport over a virtual
-- card: scboot.from_transmit(function(apdu) return sim:process(apdu) end).
function Sim:process(apdu)
  if self._h == nil then return fail(E.STATE, "the virtual card is closed") end
  local rc, resp = core.scb_sim_process(self._h, apdu)
  if rc ~= 0 then return fail(rc, rc == E.CARD_REMOVED and "the virtual card is unplugged" or nil) end
  return resp
end

--- A line of cards (on: true, the default; false: one card again), as
-- `scboot sim --rolling`: each time a host selects EF.ICCID after other
-- commands, the card becomes a new one made from its profile with the next
-- ICCID; faults carry over, files, keys and sessions start afresh.
-- Returns true, or nil, message, code.
function Sim:set_rolling(on)
  if self._h == nil then return fail(E.STATE, "the virtual card is closed") end
  local rc = core.scb_sim_set_rolling(self._h, on == false and 0 or 1)
  if rc ~= 0 then return fail(rc) end
  return true
end

--- Contents of an EF by path from the MF (bytes, without 3F00), bypassing
-- access rules; or nil, message, code.
function Sim:read_file(path)
  check_type(path, "string", "read_file", 2)
  if self._h == nil then return fail(E.STATE, "the virtual card is closed") end
  local rc, data = core.scb_sim_read_file(self._h, path)
  if rc ~= 0 then return fail(rc) end
  return data
end

--- Free the virtual card (its keys are wiped); cards connected to it are
-- closed first. Returns true, or nil, message, code when one of them is
-- inside an operation (called from its transport or trace function).
function Sim:close()
  for card in pairs(self._cards) do
    local ok, msg, code = card:close()
    if not ok then return nil, msg, code end
  end
  local h = self._h
  if h ~= nil then
    self._h = nil
    core.scb_sim_free(h)
  end
  return true
end
Sim.__gc = Sim.close
Sim.__close = Sim.close

return M
