-- Shared by the Lua specs: where things are, the recorded vectors, the
-- virtual card's default key set, and a check for the nil, message, code
-- convention. Paths come from the environment ctest sets
-- (tests/lua/CMakeLists.txt).
local scboot = require "scboot"

local env = {}

env.source_dir = assert(os.getenv("SCB_SOURCE_DIR"), "SCB_SOURCE_DIR not set")
env.build_dir = assert(os.getenv("SCB_BUILD_DIR"), "SCB_BUILD_DIR not set")
env.vectors_dir = os.getenv("SCB_VECTORS_DIR") or (env.source_dir .. "/tests/vectors")

function env.read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

--- A vector file (tests/vectors/*.json) as a Lua table.
function env.vectors(name)
  return assert(scboot.json_decode(env.read_file(env.vectors_dir .. "/" .. name)))
end

--- The entry called name of a vector file.
function env.vector(file, name)
  for _, entry in ipairs(env.vectors(file).entries) do
    if entry.name == name then return entry end
  end
  error("no vector " .. name .. " in " .. file)
end

-- The virtual card's built-in Security Domain keys (core/sim: the
-- GlobalPlatform test key, KVN 0x30).
env.KEY = "404142434445464748494A4B4C4D4E4F"
function env.keys(overrides)
  local spec = { enc = env.KEY, mac = env.KEY, dek = env.KEY, kvn = 0x30 }
  for k, v in pairs(overrides or {}) do spec[k] = v end
  return assert(scboot.keys(spec))
end

env.PKCS15_AID = "\xA0\x00\x00\x00\x63\x50\x4B\x43\x53\x2D\x31\x35"
env.SELECT_PKCS15 = "\x00\xA4\x04\x00\x0C" .. env.PKCS15_AID

--- Assert the failure convention: exactly nil, a message naming the
-- code, and the code; returns the message.
function env.assert_failure(code, ...)
  local n = select("#", ...)
  local value, message, got = ...
  assert(n == 3, "expected 3 results (nil, message, code), got " .. n .. ": " .. tostring(message))
  assert(value == nil, "expected nil, got " .. tostring(value))
  assert(type(message) == "string" and #message > 0, "message must be a non-empty string")
  assert(math.type(got) == "integer", "code must be an integer")
  assert(got == code, string.format("expected code %d (%s), got %d: %s", code,
                                    require("scboot.core").scb_error_name(code), got, message))
  assert(message:find(require("scboot.core").scb_error_name(code), 1, true),
         "message should name the code: " .. message)
  return message
end

-- ---- processes (the card behind a vpcd reader, a fake modem) ------------

local ok_system, system = pcall(require, "system")   -- lua-system, a busted dependency
env.sleep = ok_system and system.sleep or function(s) os.execute("sleep " .. s) end
env.now = ok_system and system.monotime or os.time

--- Start a shell command in the background; returns its process id.
function env.spawn(command)
  local p = assert(io.popen(command .. " & echo $!"))
  local pid = math.tointeger(tonumber(p:read("l")))
  p:close()
  return assert(pid, "could not start " .. command)
end

--- Stop a process env.spawn started (by its id).
function env.kill(pid)
  os.execute("kill " .. pid .. " 2>/dev/null")
end

--- Whether pcscd's reader holds a card (an error when pcscd has no such reader).
function env.reader_present(reader)
  for _, r in ipairs(assert(scboot.readers())) do
    if r.name == reader then return r.present end
  end
  error("pcscd has no reader " .. reader .. " (tests/pcsc/setup-readers.sh)")
end

--- Wait until fn() is true (polling every 50 ms); returns its last value.
function env.wait_until(fn, timeout)
  local deadline = env.now() + (timeout or 10)
  local v = fn()
  while not v and env.now() < deadline do
    env.sleep(0.05)
    v = fn()
  end
  return v
end

return env
