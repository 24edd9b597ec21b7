--[[
gateway_plugin.lua: the LwM2M bootstrap accounts of a smartcard, for a
gateway whose plugins run in Lua.

The plugin watches one card source (a PC/SC reader, a modem's UICC, the
virtual card, or anything that opens a scboot card) and
  * reads the bootstrap accounts (PKCS#15, SCP03 level 0x33) when a card
    appears and hands them to the host as a Lua table,
  * re-checks the card's bootstrap file when the host's LwM2M client
    registers or updates (plugin:on_register(), plugin:on_update()) and
    every `recheck` seconds, comparing digests, and reports a change,
  * forgets the accounts when the card goes away, and tells the host.
The LwM2M spec puts card-provisioned accounts first in the boot order
(smartcard, factory, registration, client-initiated bootstrap): a host
prefers them while the card is there.

As a module (LUA_PATH must reach this file and scboot):

    local gateway = require "gateway_plugin"
    local plugin = gateway.new{
      source = gateway.pcsc("Virtual PCD 00 01"),   -- or gateway.sim(), gateway.modem(dev)
      keys = scboot.keys{enc = ..., mac = ..., dek = ..., kvn = ...},
      on_accounts = function(accounts, why) ... end, -- why: "inserted" | "changed"
      on_removed = function(why) ... end,
      on_error = function(message, code) ... end,    -- optional
    }
    -- the host's timer:             plugin:poll()
    -- the LwM2M client's hooks:     plugin:on_register() / plugin:on_update()
    plugin:close()

As a program, with a demo host that prints what it is handed:

    lua5.4 lua/examples/gateway_plugin.lua --sim --once
    lua5.4 lua/examples/gateway_plugin.lua --reader "Virtual PCD 00 01" --keys keys.json

Run with --help for the options.
]]
local scboot = require "scboot"

local M = {}

-- Failures that mean "the card is not there (any more)", as opposed to a
-- card that is there but cannot be read.
local GONE = {
  [scboot.E.CARD_REMOVED] = true, [scboot.E.NO_CARD] = true,
  [scboot.E.NO_READER] = true, [scboot.E.NO_SERVICE] = true,
}

-- ---------------------------------------------------------------------------
-- card sources: present() -> true | false | nil (cannot tell), open() -> card
-- ---------------------------------------------------------------------------

--- A PC/SC reader (nil: the first reader holding a card).
function M.pcsc(reader)
  local source = { name = reader and ("reader " .. reader) or "the first PC/SC reader with a card" }
  function source.present()
    local list = scboot.readers()
    if list == nil then return false end   -- no pcscd: no card either
    for _, r in ipairs(list) do
      if (reader == nil or r.name == reader) and r.present then return true end
    end
    return false
  end
  function source.open() return scboot.open(reader) end
  return source
end

--- The UICC of a cellular modem (AT+CSIM); presence shows in its answers.
-- opts: the modem options of scboot.open_modem ({baud = 115200, ...}).
function M.modem(device, opts)
  return {
    name = "modem " .. device,
    present = function() return nil end,
    open = function() return scboot.open_modem(device, opts) end,
  }
end

--- The virtual card in this process (profile: see scboot.virtual_card),
-- with unplug() and reinsert() to take it out and put it back.
function M.sim(profile)
  local sim = assert(scboot.virtual_card(profile))
  local plugged = true
  local source = { name = "the virtual card", card = sim }
  function source.present() return plugged end
  function source.open() return sim:card() end
  function source.unplug()
    plugged = false
    return sim:unplug()
  end
  function source.reinsert()
    plugged = true
    return sim:reinsert()
  end
  function source.close() sim:close() end
  return source
end

-- ---------------------------------------------------------------------------
-- accounts
-- ---------------------------------------------------------------------------

-- The accounts of a bootstrap table: the bootstrap-server account and the
-- LwM2M server accounts, each Security instance joined with the Server
-- instance of the same Short Server ID. Opaque values (identity, key) are
-- given as bytes; the complete instances stay available as security/server.
local function accounts_of(t)
  local servers_by_ssid = {}
  for _, s in ipairs(t.servers) do
    if s.short_server_id ~= nil then servers_by_ssid[s.short_server_id] = s end
  end
  local function bytes(hex)
    if type(hex) ~= "string" then return nil end
    return scboot.unhex(hex)
  end
  local accounts = { digest = t.digest, source = "smartcard", servers = {} }
  for _, sec in ipairs(t.security) do
    local account = {
      uri = sec.server_uri,
      security_mode = sec.security_mode,
      identity = bytes(sec.public_key_or_identity),
      secret = bytes(sec.secret_key),
      server_public_key = bytes(sec.server_public_key),
      security = sec,
    }
    if sec.bootstrap_server then
      accounts.bootstrap = account
    else
      local srv = servers_by_ssid[sec.short_server_id]
      account.short_server_id = sec.short_server_id
      account.server = srv
      account.lifetime = srv and srv.lifetime
      account.binding = srv and srv.binding
      accounts.servers[#accounts.servers + 1] = account
    end
  end
  return accounts
end

-- ---------------------------------------------------------------------------
-- the plugin
-- ---------------------------------------------------------------------------

local Plugin = {}
Plugin.__index = Plugin

local function monotonic_clock()
  local ok, system = pcall(require, "system")
  if ok and system.monotime then return system.monotime end
  return os.time
end

local known_options = {
  source = true, keys = true, no_secure_channel = true, level = true, recheck = true,
  clock = true,
  on_accounts = true, on_removed = true, on_error = true,
}

--- A plugin. opts: source (required), keys (scboot.keys; or
-- no_secure_channel = true for cards without a secure channel), level
-- (SCP03 level, default 0x33), recheck (seconds between digest re-checks
-- while present; nil: only on Register/Update), clock (seconds, default
-- monotonic), and the host's callbacks on_accounts(accounts, why),
-- on_removed(why), on_error(message, code).
function M.new(opts)
  for k in pairs(opts) do
    if not known_options[k] then error("gateway_plugin: unknown option " .. tostring(k), 2) end
  end
  assert(opts.source, "gateway_plugin: a source is required")
  assert(opts.keys or opts.no_secure_channel, "gateway_plugin: keys, or no_secure_channel = true")
  assert(type(opts.on_accounts) == "function", "gateway_plugin: on_accounts is required")
  return setmetatable({
    source = opts.source,
    read_opts = { keys = opts.keys, no_secure_channel = opts.no_secure_channel, level = opts.level,
                  secrets = true },
    recheck = opts.recheck,
    clock = opts.clock or monotonic_clock(),
    on_accounts = opts.on_accounts,
    on_removed = opts.on_removed or function() end,
    on_error = opts.on_error or function() end,
    card = nil,            -- the open card while one is present
    where = nil,           -- { path = ..., aid = ... } of its bootstrap file
    accounts = nil,
    last_check = nil,
    last_error = nil,      -- reported once until it changes
  }, Plugin)
end

function Plugin:report_error(message, code)
  if message ~= self.last_error then
    self.last_error = message
    self.on_error(message, code)
  end
end

-- Read the bootstrap file: warm (remembered path and AID) when possible,
-- else the full search. Returns the table or nil, message, code.
function Plugin:read(warm)
  local opts = {}
  for k, v in pairs(self.read_opts) do opts[k] = v end
  if warm and self.where then
    opts.path, opts.aid = self.where.path, self.where.aid
    local t, msg, code = self.card:read_bootstrap(opts)
    if t ~= nil or GONE[code] then return t, msg, code end
    opts.path, opts.aid = nil, nil   -- the card's layout changed: search again
  end
  return self.card:read_bootstrap(opts)
end

function Plugin:forget(why)
  local had = self.accounts ~= nil
  if self.card then self.card:close() end
  self.card, self.where, self.accounts, self.last_check = nil, nil, nil, nil
  if had then self.on_removed(why) end
end

-- Take in a bootstrap table just read: remember where it is and hand the
-- accounts to the host when they are new or changed.
function Plugin:take(t)
  self.where = { path = t.path, aid = t.aid }
  self.last_check = self.clock()
  self.last_error = nil
  local why = self.accounts == nil and "inserted"
           or (t.digest ~= self.accounts.digest and "changed" or nil)
  if why then
    self.accounts = accounts_of(t)
    self.on_accounts(self.accounts, why)
  end
end

--- Look at the source: read a card that appeared, forget one that left,
-- re-check when `recheck` seconds have passed. Call it from the host's timer.
function Plugin:poll()
  local present = self.source.present()
  if self.card == nil then
    if present == false then return end
    local card, msg, code = self.source.open()
    if card == nil then
      if not GONE[code] then self:report_error(msg, code) end
      return
    end
    self.card = card
    local t
    t, msg, code = self:read(false)
    if t == nil then
      self.card:close()
      self.card = nil
      if not GONE[code] then self:report_error(msg, code) end
      return
    end
    self:take(t)
  elseif present == false then
    self:forget("card removed")
  elseif self.recheck and self.clock() - self.last_check >= self.recheck then
    self:check()
  end
end

--- Re-read the bootstrap file now and compare its digest (the LwM2M
-- client's duty on each Register/Update): reports a change, or the card's
-- removal. Returns true while a card with accounts is present.
function Plugin:check()
  if self.card == nil then
    self:poll()
    return self.accounts ~= nil
  end
  local t, msg, code = self:read(true)
  if t == nil then
    if GONE[code] or code == scboot.E.CARD_RESET then
      -- gone, or reset by someone else: start over with the next poll
      self:forget(GONE[code] and "card removed" or "card reset")
      if not GONE[code] then self:poll() end
    else
      self:report_error(msg, code)
    end
    return self.accounts ~= nil
  end
  self:take(t)
  return true
end

Plugin.on_register = Plugin.check
Plugin.on_update = Plugin.check

--- The accounts handed out last, nil while no card is present.
function Plugin:current() return self.accounts end

--- Stop: close the card (the host is told the accounts are gone).
function Plugin:close()
  self:forget("plugin closed")
end
Plugin.__close = Plugin.close

M.accounts_of = accounts_of

-- ---------------------------------------------------------------------------
-- the demo host
-- ---------------------------------------------------------------------------

local USAGE = [[
usage: lua5.4 gateway_plugin.lua SOURCE [options]
sources:
  --sim [--profile FILE]      the virtual card, in this process
  --reader NAME               a PC/SC reader ("" = the first with a card)
  --modem DEVICE [--baud N]   the UICC of a modem on a serial device
options:
  --keys KEYS      hex key used as ENC, MAC and DEK, or a JSON key set file
                   (default with --sim: the virtual card's keys)
  --kvn N          key version for a hex key (default 0x30)
  --level N        SCP03 level (default 0x33); --no-scp03 reads in the clear
  --interval S     seconds between polls (default 1)
  --recheck S      seconds between digest re-checks (default 30)
  --once           print the accounts of the first card and exit (1: none)
  --count N        exit after N events (accounts, changes, removals)
  --unplug-after S with --sim: take the virtual card out after S seconds
exit status: 0; 1 with --once when no accounts were read; 2 a bad argument or key
]]

local function parse_args(argv)
  local o = { interval = 1, recheck = 30, kvn = 0x30 }
  local i = 1
  local function value()
    i = i + 1
    if argv[i] == nil then error(argv[i - 1] .. " needs a value") end
    return argv[i]
  end
  while argv[i] do
    local a = argv[i]
    if a == "--sim" then o.sim = true
    elseif a == "--profile" then o.profile = value()
    elseif a == "--reader" then o.reader = value()
    elseif a == "--modem" then o.modem = value()
    elseif a == "--baud" then o.baud = math.tointeger(tonumber(value()))
    elseif a == "--keys" then o.keys = value()
    elseif a == "--kvn" then o.kvn = math.tointeger(tonumber(value()))
    elseif a == "--level" then o.level = math.tointeger(tonumber(value()))
    elseif a == "--no-scp03" then o.no_scp03 = true
    elseif a == "--interval" then o.interval = tonumber(value())
    elseif a == "--recheck" then o.recheck = tonumber(value())
    elseif a == "--once" then o.once = true
    elseif a == "--count" then o.count = math.tointeger(tonumber(value()))
    elseif a == "--unplug-after" then o.unplug_after = tonumber(value())
    elseif a == "--help" or a == "-h" then o.help = true
    else error("unknown argument " .. a) end
    i = i + 1
  end
  return o
end

-- The key set of --keys (a hex key for ENC, MAC and DEK, or a JSON key set
-- file), or nil and one line saying what is wrong. The line never repeats
-- the argument: it may be a key, or a key with a typing error.
local function load_keys(o)
  if o.no_scp03 then return nil end
  local spec = o.keys
  if spec == nil then
    if not o.sim then
      return nil, "--keys is needed for a real card (a hex key or a JSON key set file; "
                  .. "or --no-scp03)"
    end
    spec = "404142434445464748494A4B4C4D4E4F"   -- the virtual card's test key
  end
  if spec:find("^%x+$") then
    local keys, msg = scboot.keys{ enc = spec, mac = spec, dek = spec, kvn = o.kvn }
    if keys == nil then return nil, "--keys: " .. msg end
    return keys
  end
  local f, why = io.open(spec, "r")
  if f == nil then
    -- io.open's message starts with the name given: drop it
    why = why:sub(1, #spec + 2) == spec .. ": " and why:sub(#spec + 3) or why
    return nil, "--keys: neither a hex key (32, 48 or 64 hex digits) nor a readable key file ("
                .. why .. ")"
  end
  local text, read_error = f:read("a")   -- nil for a directory, which io.open opens
  f:close()
  if text == nil then
    return nil, "--keys: cannot read the key file (" .. tostring(read_error) .. ")"
  end
  local keys, msg = scboot.keys(text)
  if keys == nil then return nil, "--keys: the key file is not a key set: " .. msg end
  return keys
end

-- What the demo host prints: never a secret, only its length.
local function describe_account(kind, a)
  local parts = { string.format("  %-9s %s", kind, tostring(a.uri)) }
  if a.short_server_id then parts[#parts + 1] = "ssid " .. a.short_server_id end
  parts[#parts + 1] = "mode " .. tostring(a.security_mode)
  if a.identity then parts[#parts + 1] = string.format("identity %q", a.identity) end
  if a.secret then parts[#parts + 1] = string.format("key <%d bytes>", #a.secret) end
  if a.lifetime then parts[#parts + 1] = "lifetime " .. a.lifetime end
  if a.binding then parts[#parts + 1] = "binding " .. a.binding end
  return table.concat(parts, "  ")
end

local function print_accounts(accounts, why)
  print(string.format("accounts %s: digest %s", why, accounts.digest))
  if accounts.bootstrap then print(describe_account("bootstrap", accounts.bootstrap)) end
  for _, a in ipairs(accounts.servers) do print(describe_account("server", a)) end
  io.stdout:flush()
end

local function main(argv)
  local ok, o = pcall(parse_args, argv)
  if not ok or o.help or not (o.sim or o.reader or o.modem) then
    io.stderr:write(ok and "" or ("gateway_plugin: " .. o .. "\n"), USAGE)
    return (ok and o.help) and 0 or 2
  end
  local keys, why = load_keys(o)
  if why ~= nil then
    io.stderr:write("gateway_plugin: ", why, "\n")
    return 2
  end
  local source = o.sim and M.sim(o.profile)
              or o.modem and M.modem(o.modem, { baud = o.baud })
              or M.pcsc(o.reader ~= "" and o.reader or nil)
  local events, failed = 0, false
  local plugin = M.new{
    source = source, keys = keys, no_secure_channel = keys == nil or nil, level = o.level,
    recheck = o.recheck,
    on_accounts = function(accounts, why)
      events = events + 1
      print_accounts(accounts, why)
    end,
    on_removed = function(why)
      events = events + 1
      print("accounts forgotten: " .. why)
      io.stdout:flush()
    end,
    on_error = function(message)
      failed = true
      io.stderr:write("gateway_plugin: ", message, "\n")
    end,
  }
  print("gateway_plugin: watching " .. source.name)
  local ok_sleep, system = pcall(require, "system")
  local sleep = ok_sleep and system.sleep or function(s) os.execute("sleep " .. s) end
  local started = plugin.clock()
  while true do
    plugin:poll()
    if o.once and (plugin:current() or failed) then break end
    if o.count and events >= o.count then break end
    if o.unplug_after and source.unplug and plugin.clock() - started >= o.unplug_after then
      source.unplug()
      o.unplug_after = nil
    end
    sleep(o.interval)
  end
  local found = plugin:current() ~= nil
  plugin:close()
  if source.close then source.close() end
  if keys then keys:close() end
  return (o.once and not found) and 1 or 0
end

-- Run as a program (lua5.4 gateway_plugin.lua ...), a module otherwise.
if arg ~= nil and arg[0] ~= nil and debug.getinfo(1, "S").source == "@" .. arg[0] then
  os.exit(main(arg), true)
end

return M
