-- The README's Lua snippet, as written there: taken from README.md (the
-- first lua block of its "Lua 5.4" section) and run by lua5.4 against the
-- CLI's virtual card served to "Virtual PCD 00 00", the reader it opens.
-- Tagged pcscd: ctest runs it with the other pcscd specs (lua.pcscd).
local env = require "testenv"

local READER, PORT = "Virtual PCD 00 00", 35963   -- tests/pcsc/setup-readers.sh

local function snippet()
  local readme = env.read_file(env.source_dir .. "/README.md")
  local section = assert(readme:match("\n## Lua 5%.4\n(.-)\n## "),
                         "README.md has no Lua 5.4 section")
  return assert(section:match("```lua\n(.-)```"), "no lua block in the README's Lua section")
end

describe("#pcscd the README's Lua snippet", function()
  it("runs as written", function()
    local code = snippet()
    assert.matches('scboot.open%("' .. READER:gsub("%p", "%%%0") .. '"%)', code)
    local cli = assert(os.getenv("SCB_CLI"), "SCB_CLI not set")
    local function present() return env.reader_present(READER) end
    assert.is_true(env.wait_until(function() return not present() end),
                   "a card is already in " .. READER)
    local pid = env.spawn(string.format("%s sim --vpcd 127.0.0.1:%d >/dev/null 2>&1", cli, PORT))
    local ok, err = pcall(function()
      assert.is_true(env.wait_until(present), "the card did not appear in " .. READER)
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write(code)
      f:close()
      local p = assert(io.popen("lua5.4 " .. path .. " 2>&1"))
      local out = p:read("a")
      local _, _, status = p:close()
      os.remove(path)
      assert.are.equal(0, status, out)
      assert.matches("^86400\t%x+\n$", out)
      assert.are.equal(64, #out:match("\t(%x+)"))
    end)
    env.kill(pid)
    env.wait_until(function() return not present() end)
    assert(ok, err)
  end)
end)
