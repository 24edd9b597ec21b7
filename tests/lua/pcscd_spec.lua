-- Through the real pcscd: the virtual card served to a vpcd reader by the
-- CLI (`scboot sim --vpcd`), scboot.open / scboot.readers, and the gateway
-- plugin watching the reader while the card comes and goes. Tagged pcscd:
-- ctest runs these alone (lua.pcscd, RESOURCE_LOCK pcscd).
local scboot = require "scboot"
local gateway = require "gateway_plugin"
local env = require "testenv"

local READER, PORT = "Virtual PCD 00 01", 35964   -- tests/pcsc/setup-readers.sh

describe("#pcscd a virtual card behind a vpcd reader", function()
  local cli = assert(os.getenv("SCB_CLI"), "SCB_CLI not set")
  local pid

  local function present() return env.reader_present(READER) end

  local function insert()
    assert.is_true(env.wait_until(function() return not present() end), "a card is already in " .. READER)
    pid = env.spawn(string.format("%s sim --vpcd 127.0.0.1:%d >/dev/null 2>&1", cli, PORT))
    assert.is_true(env.wait_until(present), "the card did not appear in " .. READER)
  end

  local function remove()
    env.kill(pid)
    pid = nil
    assert.is_true(env.wait_until(function() return not present() end), "the card did not leave")
  end

  after_each(function()
    if pid then remove() end
  end)

  it("is listed, opened by name and read through SCP03", function()
    env.assert_failure(scboot.E.NO_CARD, scboot.open(READER))
    insert()
    local card <close> = assert(scboot.open(READER))
    assert.are.equal(READER, card:reader())
    assert.matches("reader " .. READER, tostring(card))
    local t = assert(card:read_bootstrap{ keys = env.keys() })
    assert.are.equal(86400, t.servers[1].lifetime)
    assert.are.equal(scboot.level.DEFAULT, t.info.scp_level)
  end)

  it("reports the removal of the card during a session", function()
    insert()
    local card <close> = assert(scboot.open(READER))
    assert(card:read_bootstrap{ keys = env.keys() })
    remove()
    local _, msg, code = card:read_bootstrap{ keys = env.keys() }
    assert.is_string(msg)
    assert.is_true(code == scboot.E.CARD_REMOVED or code == scboot.E.NO_CARD
                   or code == scboot.E.CARD_RESET, msg)
  end)

  it("feeds the gateway plugin: accounts on insertion, forgotten on removal, back again", function()
    local events = {}
    local plugin <close> = gateway.new{
      source = gateway.pcsc(READER), keys = env.keys(),
      on_accounts = function(accounts, why) events[#events + 1] = why .. " " .. accounts.servers[1].uri end,
      on_removed = function(why) events[#events + 1] = "removed: " .. why end,
      on_error = function(msg) events[#events + 1] = "error: " .. msg end,
    }
    plugin:poll()
    assert.are.same({}, events)
    insert()
    plugin:poll()
    assert.are.same({ "inserted coaps://lwm2m.example.com:5684" }, events)
    assert.is_true(plugin:on_register())
    remove()
    plugin:poll()
    assert.are.same("removed: card removed", events[2])
    assert.is_nil(plugin:current())
    insert()
    plugin:poll()
    assert.are.same("inserted coaps://lwm2m.example.com:5684", events[3])
    -- removed between two Updates: the re-check finds out
    remove()
    assert.is_false(plugin:on_update())
    assert.are.same("removed: card removed", events[4])
    assert.are.equal(4, #events)
  end)
end)
