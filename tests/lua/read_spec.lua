-- card:read_bootstrap: the full secure read from the virtual card, warm
-- reads, card variants, and every way it fails (nil, message, code).
local scboot = require "scboot"
local env = require "testenv"

local function fresh_read(profile, opts)
  local card <close> = assert(scboot.sim(profile))
  return card:read_bootstrap(opts or { keys = env.keys() })
end

describe("read_bootstrap from the virtual card", function()
  it("reads the accounts through SCP03 at level 0x33 on a logical channel", function()
    local card <close> = assert(scboot.sim())
    local t = assert(card:read_bootstrap{ keys = env.keys() })
    assert.are.equal(2, #t.security)
    assert.are.equal("coaps://bs.example.com:5684", t.security[1].server_uri)
    assert.is_true(t.security[1].bootstrap_server)
    assert.are.equal(101, t.security[2].short_server_id)
    assert.are.equal(86400, t.servers[1].lifetime)
    assert.are.equal(0, #t.objects)
    assert.are.equal(scboot.level.DEFAULT, t.info.scp_level)
    assert.are.equal(1, t.info.channel)
    assert.is_true(t.info.used_efdir)
    assert.are.equal("LwM2M Bootstrap", t.info.label)
    assert.are.equal(env.PKCS15_AID, t.aid)
    assert.are.equal("\x64\x32", t.path)
    assert.are.equal(0, card:channel())      -- the channel is closed again
    -- raw is what the card holds, digest that of its meaningful bytes
    local stored = assert(card.sim:read_file("\x50\x15\x64\x32"))
    assert.are.equal(stored:sub(1, #t.raw), t.raw)
    assert.are.equal(assert(scboot.decode(stored)).digest, t.digest)
    -- an opaque resource reads as hex
    assert.are.equal(scboot.hex("scboot-sim-device"), t.security[1].public_key_or_identity)
  end)

  it("redacts secrets unless asked, and the secrets are the card's", function()
    local card <close> = assert(scboot.sim())
    local redacted = assert(card:read_bootstrap{ keys = env.keys() })
    assert.are.equal("<redacted>", redacted.security[1].secret_key)
    local shown = assert(card:read_bootstrap{ keys = env.keys(), secrets = true })
    assert.are.equal("000102030405060708090a0b0c0d0e0f", shown.security[1].secret_key)
  end)

  it("reads warm with the remembered path and AID: fewer APDUs, same digest", function()
    local card <close> = assert(scboot.sim())
    local cold = assert(card:read_bootstrap{ keys = env.keys() })
    local warm = assert(card:read_bootstrap{ keys = env.keys(), path = cold.path, aid = cold.aid })
    assert.are.equal(cold.digest, warm.digest)
    assert.is_true(warm.info.apdus < cold.info.apdus,
                   string.format("warm %d APDUs, cold %d", warm.info.apdus, cold.info.apdus))
  end)

  it("reads the Nordic card data (mis-encoded OID, bootstrap file in the clear)", function()
    local nordic = env.vector("lwm2m.json", "nordic_bootstrap")
    local t = assert(fresh_read({ dodf = { oid_form = "oid_do_misencoded" },
                                  bootstrap = { hex = nordic.raw, read = "always" } },
                                { no_secure_channel = true }))
    assert.are.equal("coap://leshan.eclipseprojects.io:5783", t.security[1].server_uri)
    assert.are.equal(3, t.security[1].security_mode)
    assert.is_nil(t.info.scp_level)
    assert.are.equal(scboot.decode(scboot.unhex(nordic.raw)).digest, t.digest)
  end)

  it("reads a bootstrap given to the card as a table (the JSON format)", function()
    local t = assert(fresh_read{ bootstrap = { json = {
      security = { { server_uri = "coaps://dm.example.net", bootstrap_server = false,
                     security_mode = 3, short_server_id = 7 } },
      servers = { { short_server_id = 7, lifetime = 3600 / 2, binding = "UQ" } },
    } } })
    assert.are.equal("coaps://dm.example.net", t.security[1].server_uri)
    assert.are.equal(1800, t.servers[1].lifetime)
  end)

  it("works on a T=0 card, without EF.DIR, and on the basic channel", function()
    assert(fresh_read{ t0 = true })
    local t = assert(fresh_read({ efdir = false }))
    assert.is_false(t.info.used_efdir)
    t = assert(fresh_read(nil, { keys = env.keys(), no_logical_channel = true }))
    assert.are.equal(0, t.info.channel)
    t = assert(fresh_read(nil, { keys = env.keys(), skip_efdir = true }))
    assert.is_false(t.info.used_efdir)
  end)

  it("verifies a PIN when the DODF entry is private", function()
    local profile = { pin = { ref = 1, value = "1234", tries = 3 },
                      dodf = { private = true, auth_id = "01" },
                      bootstrap = { read = "pin" } }
    local card <close> = assert(scboot.sim(profile))
    env.assert_failure(scboot.E.PIN_REQUIRED, card:read_bootstrap{ no_secure_channel = true })
    -- the library pads the PIN to the 8-byte block VERIFY carries (TS 102 221 9.5.1)
    local msg = env.assert_failure(scboot.E.PIN_WRONG, card:read_bootstrap{ no_secure_channel = true, pin = "9999" })
    assert.matches("2 tries left", msg)
    assert(card:read_bootstrap{ no_secure_channel = true, pin = "1234" })
  end)

  it("runs over a Lua transport, and inside a coroutine", function()
    local sim = assert(scboot.virtual_card())
    local card <close> = assert(scboot.from_transmit(function(apdu) return sim:process(apdu) end))
    local t = assert(coroutine.wrap(function() return card:read_bootstrap{ keys = env.keys() } end)())
    assert.are.equal(86400, t.servers[1].lifetime)
    card:close()
    sim:close()
  end)
end)

describe("read_bootstrap failures return nil, message, code", function()
  it("wrong keys", function()
    local msg = env.assert_failure(scboot.E.SCP_CARD_CRYPTOGRAM,
                                   fresh_read(nil, { keys = env.keys{ mac = ("22"):rep(16) } }))
    assert.not_matches("2222", msg)
  end)

  it("no secure channel, or a lower level than the card's access rule", function()
    env.assert_failure(scboot.E.SECURITY_STATUS, fresh_read(nil, { no_secure_channel = true }))
    env.assert_failure(scboot.E.SECURITY_STATUS,
                       fresh_read(nil, { keys = env.keys(), level = scboot.level.CMAC }))
  end)

  it("a card that leaves in the middle", function()
    local card <close> = assert(scboot.sim())
    assert.is_true(card.sim:set_faults{ disconnect_after = card.sim:apdu_count() + 6 })
    env.assert_failure(scboot.E.CARD_REMOVED, card:read_bootstrap{ keys = env.keys() })
  end)

  it("secure messaging broken by the card", function()
    for fault, code in pairs{ corrupt_rmac_at = scboot.E.SCP_RMAC,
                              bad_padding_at = scboot.E.SCP_PADDING } do
      local card <close> = assert(scboot.sim())
      local cold = assert(card:read_bootstrap{ keys = env.keys() })
      -- the warm read's APDUs: MANAGE CHANNEL, SELECT ADF, IU, EA, SELECT EF, READ..
      assert.is_true(card.sim:set_faults{ [fault] = card.sim:apdu_count() + 6 })
      env.assert_failure(code, card:read_bootstrap{ keys = env.keys(), path = cold.path,
                                                    aid = cold.aid })
      -- the card handle stays usable
      assert(card:read_bootstrap{ keys = env.keys() })
    end
  end)

  it("a card cryptogram that does not verify, a key version the card changes", function()
    env.assert_failure(scboot.E.SCP_CARD_CRYPTOGRAM,
                       fresh_read{ faults = { bad_card_cryptogram = true } })
    env.assert_failure(scboot.E.SCP_KVN, fresh_read{ faults = { kvn_mismatch = true } })
  end)

  it("no bootstrap entry, a malformed DODF, a wrong remembered path", function()
    local empty = env.vector("lwm2m.json", "nordic_dodf_empty")
    env.assert_failure(scboot.E.NO_BOOTSTRAP, fresh_read{ dodf = { hex = empty.raw } })
    local msg = env.assert_failure(scboot.E.PARSE, fresh_read{ dodf = { hex = "A1 27 30 00" } })
    assert.matches("EF.DODF", msg)
    env.assert_failure(scboot.E.NOT_FOUND, fresh_read(nil, { keys = env.keys(), path = "\x6F\x01" }))
  end)

  it("a malformed bootstrap file", function()
    local msg = env.assert_failure(scboot.E.PARSE,
                                   fresh_read{ bootstrap = { hex = "00 01 00 10 00 00 00 00 08" } })
    assert.is_true(#msg > #"(SCB_E_PARSE)")
  end)

  it("a status word the card should not have sent", function()
    -- APDUs of a cold read: READ RECORD EF.DIR, MANAGE CHANNEL, SELECT ADF,
    -- INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, SELECT ODF, ...
    for n, code in pairs{ [2] = scboot.E.STATUS, [3] = scboot.E.STATUS,
                          [4] = scboot.E.SCP_PROTOCOL, [5] = scboot.E.SCP_AUTH_REJECTED } do
      local card <close> = assert(scboot.sim())
      assert.is_true(card.sim:set_faults{ sw_at = card.sim:apdu_count() + n, sw_at_value = 0x6F00 })
      assert.matches("6F00", env.assert_failure(code, card:read_bootstrap{ keys = env.keys() }))
      assert.are.equal(0x6F00, card:last_sw())
    end
  end)

  it("a Lua transport that fails: its message, and the engine's reaction", function()
    local sim = assert(scboot.virtual_card())
    local n = 0
    local card <close> = assert(scboot.from_transmit(function(apdu)
      n = n + 1
      if n == 5 then error("link dropped at APDU 5") end
      return sim:process(apdu)
    end))
    local msg = env.assert_failure(scboot.E.TRANSPORT, card:read_bootstrap{ keys = env.keys() })
    assert.matches("link dropped at APDU 5", msg)
    assert(card:read_bootstrap{ keys = env.keys() })   -- later reads work again
    card:close()
    sim:close()
  end)
end)
