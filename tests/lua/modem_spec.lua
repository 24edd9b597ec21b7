-- scboot.open_modem against the fake modem of tests/modem (AT on a
-- pseudo-terminal, refusing MANAGE CHANNEL inside AT+CSIM and offering
-- +CCHO/+CGLA) in front of the virtual card (sim_stdio).
local scboot = require "scboot"
local env = require "testenv"

describe("a card in a modem", function()
  local fake_modem = env.source_dir .. "/tests/modem/fake_modem.py"
  local sim_stdio = assert(os.getenv("SCB_SIM_STDIO"), "SCB_SIM_STDIO not set")
  local out, pid, device

  before_each(function()
    out = os.tmpname()
    pid = env.spawn(string.format("/usr/bin/python3 %s --card-cmd %s --refuse-manage-channel cme "
                                  .. "--urc-rate 0.3 > %s 2>/dev/null", fake_modem, sim_stdio, out))
    device = env.wait_until(function()
      local f = io.open(out)
      local line = f and f:read("l")
      if f then f:close() end
      return line
    end)
    assert.is_string(device, "the fake modem printed no device")
  end)

  after_each(function()
    env.kill(pid)
    os.remove(out)
  end)

  it("reads the bootstrap accounts through AT+CSIM / +CCHO / +CGLA", function()
    local card <close> = assert(scboot.open_modem(device))
    local t = assert(card:read_bootstrap{ keys = env.keys() })
    assert.are.equal(86400, t.servers[1].lifetime)
    assert.are.equal(scboot.level.DEFAULT, t.info.scp_level)
    local warm = assert(card:read_bootstrap{ keys = env.keys(), path = t.path, aid = t.aid })
    assert.are.equal(t.digest, warm.digest)
  end)

  it("takes the library's modem options by name", function()
    -- csim: logical channels only through MANAGE CHANNEL in AT+CSIM, which
    -- this modem refuses with +CME ERROR
    local csim <close> = assert(scboot.open_modem(device, { modem_channels = "csim",
                                                            modem_timeout_ms = 3000 }))
    local t, msg, code = csim:read_bootstrap{ keys = env.keys() }
    assert.is_nil(t)
    assert.are.equal("transport", scboot.family(code), msg)
    assert.matches("CME ERROR", msg)
    csim:close()   -- the port is held exclusively while open
    local cgla <close> = assert(scboot.open_modem(device, { modem_channels = "cgla", baud = 115200 }))
    assert.are.equal(86400, assert(cgla:read_bootstrap{ keys = env.keys() }).servers[1].lifetime)
  end)

  it("reports a modem that goes away as a removed card", function()
    local card <close> = assert(scboot.open_modem(device, { baud = 115200 }))
    assert(card:read_bootstrap{ keys = env.keys() })
    env.kill(pid)
    local gone = env.wait_until(function()
      local _, _, code = card:transmit(env.SELECT_PKCS15)
      return code == scboot.E.CARD_REMOVED
    end)
    assert.is_true(gone)
    env.assert_failure(scboot.E.CARD_REMOVED, card:read_bootstrap{ keys = env.keys() })
  end)
end)
