-- The gateway plugin example (lua/examples/gateway_plugin.lua): accounts on
-- insertion, digest re-checks on Register/Update and by timer, changes,
-- removal, errors, and the program itself.
local scboot = require "scboot"
local gateway = require "gateway_plugin"
local env = require "testenv"

-- A host that records what the plugin hands it.
local function host()
  local h = { events = {} }
  h.on_accounts = function(accounts, why) h.events[#h.events + 1] = { why, accounts } end
  h.on_removed = function(why) h.events[#h.events + 1] = { "removed", why } end
  h.on_error = function(msg, code) h.events[#h.events + 1] = { "error", msg, code } end
  return h
end

local function plugin_for(source, h, extra)
  local opts = { source = source, keys = env.keys(), on_accounts = h.on_accounts,
                 on_removed = h.on_removed, on_error = h.on_error }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return gateway.new(opts)
end

-- A source whose card is a Lua transport to whichever virtual card is in
-- `slot.sim`; like a modem it cannot tell presence without talking.
local function swappable(sim)
  local slot = { sim = sim, opened = 0 }
  slot.source = {
    name = "a swappable virtual card",
    present = function() return nil end,
    open = function()
      slot.opened = slot.opened + 1
      return scboot.from_transmit(function(apdu) return slot.sim:process(apdu) end)
    end,
  }
  return slot
end

-- A second card: same keys and layout, other accounts.
local OTHER_CARD = { bootstrap = { json = {
  security = { { server_uri = "coaps://other.example.org:5684", bootstrap_server = false,
                 security_mode = 0, public_key_or_identity = scboot.hex("gw-42"),
                 secret_key = ("ab"):rep(16), short_server_id = 42 } },
  servers = { { short_server_id = 42, lifetime = 600, binding = "U" } },
} } }

describe("the gateway plugin", function()
  it("hands the accounts of an inserted card to the host, secrets included", function()
    local source = gateway.sim()
    local h = host()
    local plugin <close> = plugin_for(source, h)
    plugin:poll()
    assert.are.equal(1, #h.events)
    local why, accounts = h.events[1][1], h.events[1][2]
    assert.are.equal("inserted", why)
    assert.are.equal("smartcard", accounts.source)
    assert.are.equal(64, #accounts.digest)
    assert.are.equal("coaps://bs.example.com:5684", accounts.bootstrap.uri)
    assert.are.equal(1, #accounts.servers)
    local s = accounts.servers[1]
    assert.are.equal("coaps://lwm2m.example.com:5684", s.uri)
    assert.are.equal(101, s.short_server_id)
    assert.are.equal(86400, s.lifetime)
    assert.are.equal("U", s.binding)
    assert.are.equal(0, s.security_mode)
    assert.are.equal("scboot-sim-device", s.identity)
    assert.are.equal(scboot.unhex("101112131415161718191a1b1c1d1e1f"), s.secret)
    assert.are.equal(accounts, plugin:current())
    plugin:poll()                      -- nothing new
    assert.are.equal(1, #h.events)
    source.close()
  end)

  it("re-checks on Register/Update and reports nothing when the card is unchanged", function()
    local source = gateway.sim()
    local h = host()
    local plugin <close> = plugin_for(source, h)
    plugin:poll()
    local before = source.card:apdu_count()
    assert.is_true(plugin:on_register())
    assert.is_true(plugin:on_update())
    assert.is_true(source.card:apdu_count() > before)   -- the card was read again
    assert.are.equal(1, #h.events)
    source.close()
  end)

  it("reports a changed card on the next Update", function()
    local a, b = assert(scboot.virtual_card()), assert(scboot.virtual_card(OTHER_CARD))
    local slot = swappable(a)
    local h = host()
    local plugin <close> = plugin_for(slot.source, h)
    plugin:poll()
    local first = h.events[1][2]
    slot.sim = b                       -- another card, no removal seen
    assert.is_true(plugin:on_update())
    assert.are.equal(2, #h.events)
    assert.are.equal("changed", h.events[2][1])
    local second = h.events[2][2]
    assert.are_not.equal(first.digest, second.digest)
    assert.is_nil(second.bootstrap)
    assert.are.equal("coaps://other.example.org:5684", second.servers[1].uri)
    assert.are.equal(600, second.servers[1].lifetime)
    assert.are.equal("gw-42", second.servers[1].identity)
    assert.are.equal(1, slot.opened)   -- the same card handle throughout
    plugin:close()
    a:close()
    b:close()
  end)

  it("forgets the accounts when the source says the card is gone", function()
    local source = gateway.sim()
    local h = host()
    local plugin <close> = plugin_for(source, h)
    plugin:poll()
    source.unplug()
    plugin:poll()
    assert.are.same({ "removed", "card removed" }, h.events[2])
    assert.is_nil(plugin:current())
    plugin:poll()
    assert.are.equal(2, #h.events)
    source.reinsert()
    plugin:poll()
    assert.are.equal("inserted", h.events[3][1])
    source.close()
  end)

  it("forgets the accounts when a re-check finds the card removed", function()
    local sim = assert(scboot.virtual_card())
    local slot = swappable(sim)
    local h = host()
    local plugin <close> = plugin_for(slot.source, h)
    plugin:poll()
    sim:unplug()
    assert.is_false(plugin:on_register())
    assert.are.same({ "removed", "card removed" }, h.events[2])
    assert.is_nil(plugin:current())
    plugin:poll()                      -- still out: nothing to report
    assert.are.equal(2, #h.events)
    sim:reinsert()
    plugin:poll()
    assert.are.equal("inserted", h.events[3][1])
    plugin:close()
    sim:close()
  end)

  it("re-checks by timer when asked to", function()
    local now = 1000
    local source = gateway.sim()
    local h = host()
    local plugin <close> = plugin_for(source, h, { recheck = 10, clock = function() return now end })
    plugin:poll()
    local count = source.card:apdu_count()
    now = now + 9
    plugin:poll()
    assert.are.equal(count, source.card:apdu_count())
    now = now + 1
    plugin:poll()
    assert.is_true(source.card:apdu_count() > count)
    source.close()
  end)

  it("reports a card it cannot read once, not on every poll", function()
    local source = gateway.sim()
    local h = host()
    local plugin <close> = plugin_for(source, h, { keys = env.keys{ mac = ("33"):rep(16) } })
    plugin:poll()
    plugin:poll()
    plugin:poll()
    assert.are.equal(1, #h.events)
    assert.are.equal("error", h.events[1][1])
    assert.are.equal(scboot.E.SCP_CARD_CRYPTOGRAM, h.events[1][3])
    assert.is_nil(plugin:current())
    source.close()
  end)

  it("reads a card without a secure channel when told to (no_secure_channel)", function()
    local source = gateway.sim{ bootstrap = { read = "always" } }
    local h = host()
    local plugin <close> = gateway.new{ source = source, no_secure_channel = true,
                                        on_accounts = h.on_accounts, on_error = h.on_error }
    plugin:poll()
    assert.are.equal(1, #h.events)
    assert.are.equal("inserted", h.events[1][1], tostring(h.events[1][2]))
    assert.are.equal("coaps://bs.example.com:5684", h.events[1][2].bootstrap.uri)
    source.close()
  end)

  it("refuses a plugin without keys or callbacks (programming errors)", function()
    assert.has_error(function() gateway.new{ source = gateway.pcsc(), on_accounts = print } end)
    assert.has_error(function() gateway.new{ source = gateway.pcsc(), keys = env.keys() } end)
    assert.has_error(function()
      gateway.new{ source = gateway.pcsc(), keys = env.keys(), on_accounts = print, recheck_s = 1 }
    end)
  end)
end)

describe("the gateway plugin program", function()
  local script = env.source_dir .. "/lua/examples/gateway_plugin.lua"
  local function run(args)
    local p = assert(io.popen("lua5.4 " .. script .. " " .. args .. " 2>&1"))
    local out = p:read("a")
    local _, _, status = p:close()
    return out, status
  end

  it("prints the virtual card's accounts with --sim --once, secrets hidden", function()
    local out, status = run("--sim --once")
    assert.are.equal(0, status, out)
    assert.matches("accounts inserted: digest %x+", out)
    assert.matches("bootstrap coaps://bs%.example%.com:5684", out)
    assert.matches("ssid 101", out)
    assert.matches("key <16 bytes>", out)
    assert.is_nil(out:find("101112131415", 1, true))
  end)

  it("shows the removal of an unplugged virtual card", function()
    local out, status = run("--sim --interval 0.05 --unplug-after 0.2 --count 2")
    assert.are.equal(0, status, out)
    assert.matches("accounts inserted.*accounts forgotten: card removed", out)
  end)

  it("reads without SCP03 with --no-scp03: the card's access rule refuses it", function()
    local out, status = run("--sim --no-scp03 --once")
    assert.are.equal(1, status, out)
    assert.matches("SCB_E_SECURITY_STATUS", out)
  end)

  it("answers missing or bad keys with one line, exit 2, never repeating the argument", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    local function file(name, text)
      local f = assert(io.open(dir .. "/" .. name, "w"))
      f:write(text)
      f:close()
      return dir .. "/" .. name
    end
    local almost = env.KEY:sub(1, -2) .. "G"   -- a key with a typing error: not hex, no file
    local cases = {
      { "--reader X", "--keys is needed for a real card" },
      { "--sim --keys " .. dir .. "/none.json",
        "--keys: neither a hex key (32, 48 or 64 hex digits) nor a readable key file " ..
        "(No such file or directory)" },
      { "--sim --keys " .. almost, "nor a readable key file (No such file or directory)" },
      { "--sim --keys 0011", "--keys: scboot.keys: enc must be hex, 32, 48 or 64 hex digits" },
      { "--sim --keys " .. file("cut.json", '{"enc": "' .. env.KEY .. '"'),
        "--keys: the key file is not a key set: JSON text: incomplete document" },
      { "--sim --keys " .. file("bare.json", env.KEY),
        "--keys: the key file is not a key set: (top level): expected a JSON object " ..
        '{"enc": hex, ...}, got bare hex' },
      { "--sim --keys " .. dir, "--keys: cannot read the key file (Is a directory)" },
    }
    for _, case in ipairs(cases) do
      local out, status = run(case[1])
      assert.are.equal(2, status, out)
      assert.are.equal("gateway_plugin: ", out:sub(1, 16), out)
      assert.is_truthy(out:find(case[2], 1, true), out)
      assert.are.equal(1, select(2, out:gsub("\n", "")), out)   -- one line
      assert.is_nil(out:find("traceback", 1, true), out)
      assert.is_nil(out:find(env.KEY:sub(1, 16), 1, true), out)    -- no key in it
    end
    os.execute("rm -rf " .. dir)
  end)

  it("answers wrong keys with one line about them", function()
    local out, status = run("--sim --once --keys 00112233445566778899AABBCCDDEEFF")
    assert.are.equal(1, status, out)
    assert.matches("\ngateway_plugin: card cryptogram does not verify: wrong keys", out)
    assert.is_nil(out:find("traceback", 1, true), out)
  end)

  it("explains its usage", function()
    local out, status = run("--help")
    assert.are.equal(0, status)
    assert.matches("usage:", out)
    out, status = run("--bogus")
    assert.are.equal(2, status)
    assert.matches("unknown argument %-%-bogus", out)
  end)
end)
