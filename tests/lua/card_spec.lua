-- Cards: the virtual card in process and Lua transports; APDUs, channels,
-- SCP03, failures as nil, message, code, trace hooks, binary safety.
local scboot = require "scboot"
local env = require "testenv"

local SELECT_BOOTSTRAP_EF = "\x00\xA4\x00\x0C\x02\x64\x32"
local READ_BINARY = "\x00\xB0\x00\x00\x00"

local function sw(resp) return string.unpack(">I2", resp, #resp - 1) end

describe("a card over the virtual card", function()
  local card
  before_each(function() card = assert(scboot.sim()) end)
  after_each(function() card:close() end)

  it("transmits APDUs and keeps the status word", function()
    local resp = assert(card:transmit(env.SELECT_PKCS15))
    assert.are.equal(0x9000, sw(resp))
    assert.are.equal(0x9000, card:last_sw())
    assert.is_true(card:apdu_count() >= 1)
    -- any status word is a result, not a failure
    resp = assert(card:transmit("\x00\xA4\x04\x00\x03\x01\x02\x03"))
    assert.are.equal(0x6A82, sw(resp))
    assert.is_nil(card:reader())
    assert.matches("in%-process transport, channel 0", tostring(card))
  end)

  it("opens and closes logical channels", function()
    assert.are.equal(1, card:open_channel())
    assert.are.equal(1, card:channel())
    assert.are.equal(0x9000, sw(assert(card:transmit(env.SELECT_PKCS15))))
    assert.is_true(card:close_channel())
    assert.are.equal(0, card:channel())
    assert.is_true(card:select_channel(0))
  end)

  it("opens a logical channel with its application selected", function()
    local pkcs15 = "\xA0\x00\x00\x00\x63\x50\x4B\x43\x53\x2D\x31\x35"
    assert.are.equal(1, card:open_channel(pkcs15))
    assert.are.equal(1, card:channel())
    assert.is_true(card:close_channel())
    env.assert_failure(scboot.E.NOT_FOUND, card:open_channel("\x01\x02\x03"))
    assert.are.equal(0, card:channel())
    assert.has_error(function() card:open_channel(42) end)
  end)

  it("opens SCP03 and reads the protected bootstrap EF through it", function()
    local keys = env.keys()
    assert.are.equal(1, card:open_channel())
    assert(card:transmit(env.SELECT_PKCS15))
    -- without the secure channel the EF is refused (6982)
    assert(card:transmit(SELECT_BOOTSTRAP_EF))
    assert.are.equal(0x6982, sw(assert(card:transmit(READ_BINARY))))
    assert.is_true(card:open_scp03(keys))
    assert.are.equal(scboot.level.DEFAULT, card:scp03_level())
    local resp = assert(card:transmit(READ_BINARY))
    assert.are.equal(0x9000, sw(resp))
    local t = assert(scboot.decode(resp:sub(1, -3)))
    assert.are.equal(86400, t.servers[1].lifetime)
    assert.is_true(card:close_scp03())
    assert.is_nil(card:scp03_level())
    assert.is_true(card:close_channel())
    keys:close()
  end)

  it("accepts keys as hex, as bytes (keys_raw) or JSON and never shows them", function()
    local binary = assert(scboot.unhex(env.KEY))
    for _, keys in ipairs{
      env.keys(),
      assert(scboot.keys_raw{ enc = binary, mac = binary, dek = binary, kvn = 0x30 }),
      assert(scboot.keys(string.format('{"enc":"%s","mac":"%s","kvn":48}', env.KEY, env.KEY))),
    } do
      assert(card:transmit(env.SELECT_PKCS15))
      assert.is_true(card:open_scp03(keys, scboot.level.CMAC))
      assert.are.equal(0x30, keys:kvn())
      assert.are.equal(16, keys:length())
      assert.not_matches("4041", tostring(keys))
      keys:close()
      assert.matches("closed", tostring(keys))
    end
  end)

  it("reports an R-MAC the card corrupted (fault injection)", function()
    assert(card:transmit(env.SELECT_PKCS15))
    assert.is_true(card:open_scp03(env.keys()))
    assert(card:transmit(SELECT_BOOTSTRAP_EF))
    assert.is_true(card.sim:set_faults{ corrupt_rmac_at = card.sim:apdu_count() + 1 })
    env.assert_failure(scboot.E.SCP_RMAC, card:transmit(READ_BINARY))
    -- the session is gone after a failure
    env.assert_failure(scboot.E.SCP_NO_SESSION, card:transmit(READ_BINARY))
  end)

  it("reports an unplugged card, and works again once reinserted", function()
    assert(card:transmit(env.SELECT_PKCS15))
    assert.is_true(card.sim:unplug())
    env.assert_failure(scboot.E.CARD_REMOVED, card:transmit(env.SELECT_PKCS15))
    env.assert_failure(scboot.E.CARD_REMOVED, card:open_channel())
    assert.is_true(card.sim:reinsert())
    assert.are.equal(0x9000, sw(assert(card:transmit(env.SELECT_PKCS15))))
  end)

  it("rolls to a new card with the next ICCID each time a host starts on one", function()
    local sim = assert(scboot.virtual_card({ iccid = "89883000000000000019" }))
    assert.is_true(sim:set_rolling())
    local seen = {}
    for i = 1, 3 do
      assert.are.equal("\x90\x00", assert(sim:process("\x00\xA4\x08\x0C\x02\x2F\xE2")))
      seen[i] = assert(sim:read_file("\x2F\xE2"))
      assert(sim:process(env.SELECT_PKCS15))
    end
    -- EF.ICCID in BCD, nibbles swapped: ...19, ...20, ...21
    assert.are.same({ "\x98\x88\x03\x00\x00\x00\x00\x00\x00\x91",
                      "\x98\x88\x03\x00\x00\x00\x00\x00\x00\x02",
                      "\x98\x88\x03\x00\x00\x00\x00\x00\x00\x12" }, seen)
    assert.is_true(sim:set_rolling(false))
    sim:close()
    env.assert_failure(scboot.E.STATE, sim:set_rolling())
  end)

  it("hands out trace lines, masking nothing it should show and no key", function()
    local lines = {}
    assert.is_true(card:set_trace(function(kind, line) lines[#lines + 1] = { kind, line } end))
    assert(card:transmit(env.SELECT_PKCS15))
    assert.is_true(card:open_scp03(env.keys()))
    assert(card:transmit(SELECT_BOOTSTRAP_EF))
    assert.is_true(card:set_trace(nil))
    assert(card:transmit(READ_BINARY))
    local text = {}
    for _, l in ipairs(lines) do
      assert.are.equal("integer", math.type(l[1]))
      text[#text + 1] = l[2]
    end
    text = table.concat(text, "\n")
    assert.matches("A>> 00 A4 04 00 0C A0 00 00 00 63", text)
    assert.matches("S>> 00 A4 00 0C 02 64 32", text)   -- plaintext under SM
    assert.is_nil(text:find("S>> 00 B0", 1, true))      -- after the hook was removed
    assert.is_nil(text:find("40 41 42 43 44 45 46 47", 1, true))
  end)

  it("goes on when the trace function raises (a Lua warning)", function()
    assert.is_true(card:set_trace(function() error("trace hook broke") end))
    assert.are.equal(0x9000, sw(assert(card:transmit(env.SELECT_PKCS15))))
  end)
end)

describe("failures return nil, message, code", function()
  it("wrong keys: the card cryptogram does not verify", function()
    local card <close> = assert(scboot.sim())
    assert(card:transmit(env.SELECT_PKCS15))
    local msg = env.assert_failure(scboot.E.SCP_CARD_CRYPTOGRAM,
                                   card:open_scp03(env.keys{ mac = ("11"):rep(16) }))
    assert.not_matches("1111", msg)
    assert.not_matches("4041", msg)
  end)

  it("a level the card refuses, and a key version it does not have", function()
    local card <close> = assert(scboot.sim{ scp03 = { i = "0x00" } })   -- no R-MAC
    assert(card:transmit(env.SELECT_PKCS15))
    local msg = env.assert_failure(scboot.E.SCP_NO_KEYSET, card:open_scp03(env.keys{ kvn = 0x31 }))
    assert.matches("6A88", msg)
    env.assert_failure(scboot.E.SCP_LEVEL, card:open_scp03(env.keys(), 0x33))
    env.assert_failure(scboot.E.INVALID_ARG, card:open_scp03(env.keys(), 0x1FF))
  end)

  it("a card challenge that does not match the Security Domain AID", function()
    local card <close> = assert(scboot.sim{ faults = { bad_challenge = true } })
    assert(card:transmit(env.SELECT_PKCS15))
    env.assert_failure(scboot.E.SCP_CHALLENGE,
                       card:open_scp03(env.keys(), nil, { sd_aid = env.PKCS15_AID }))
  end)

  it("invalid key sets", function()
    env.assert_failure(scboot.E.INVALID_ARG, scboot.keys{ enc = "0011", mac = "0011" })
    env.assert_failure(scboot.E.INVALID_ARG, scboot.keys{ enc = env.KEY, mac = env.KEY .. "0011" })
    env.assert_failure(scboot.E.INVALID_ARG, scboot.keys{ enc = env.KEY })
    env.assert_failure(scboot.E.VALIDATION, scboot.keys('{"enc": "00"}'))
  end)

  it("a closed card", function()
    local card = assert(scboot.sim())
    card:close()
    assert.is_true(card:is_closed())
    assert.is_true(card:close())   -- twice is fine
    env.assert_failure(scboot.E.STATE, card:transmit(env.SELECT_PKCS15))
    env.assert_failure(scboot.E.STATE, card:open_channel())
    env.assert_failure(scboot.E.STATE, card:close_channel())
    env.assert_failure(scboot.E.STATE, card:open_scp03(env.keys()))
    env.assert_failure(scboot.E.STATE, card:read_bootstrap{ keys = env.keys() })
    env.assert_failure(scboot.E.STATE, card:set_trace(print))
    assert.matches("closed", tostring(card))
  end)

  it("a library refusal: closing channel 0, transmitting nothing", function()
    local card <close> = assert(scboot.sim())
    local _, msg, code = card:close_channel()
    assert.is_string(msg)
    assert.is_true(code < 0)
    env.assert_failure(scboot.E.INVALID_ARG, card:transmit(nil))
  end)

  it("a virtual card profile with a mistake", function()
    local msg = env.assert_failure(scboot.E.VALIDATION, scboot.sim{ channnels = 3 })
    assert.matches("channnels", msg)
    env.assert_failure(scboot.E.VALIDATION, scboot.virtual_card('{"t0": 1'))
    env.assert_failure(scboot.E.VALIDATION, scboot.virtual_card{ faults = { delay_ms = print } })
    local _, _, code = scboot.virtual_card("/nonexistent/profile.json")
    assert.is_true(code < 0)
  end)

  it("no PC/SC reader by that name", function()
    local _, msg, code = scboot.open("there is no such reader")
    assert.is_string(msg)
    if os.getenv("SCB_WITH_PCSC") == "OFF" then
      -- a library built without PC/SC says so, for readers and lists alike
      assert.are.equal(scboot.E.UNSUPPORTED, code)
      assert.matches("no PC/SC support (built with SCB_WITH_PCSC=OFF)", msg, 1, true)
      local _, lmsg, lcode = scboot.readers()
      assert.are.equal(scboot.E.UNSUPPORTED, lcode)
      assert.are.equal(msg, lmsg)
      return
    end
    assert.is_true(code == scboot.E.NO_READER or code == scboot.E.NO_SERVICE)
  end)

  it("no modem on that device", function()
    local _, msg, code = scboot.open_modem("/nonexistent/ttyUSB9")
    assert.is_string(msg)
    assert.are.equal("transport", scboot.family(code))
  end)
end)

describe("programming errors raise", function()
  it("wrong argument types and unknown options", function()
    local card <close> = assert(scboot.sim())
    assert.has_error(function() card:transmit(42) end)
    assert.has_error(function() card:transmit({}) end)
    assert.has_error(function() card:open_scp03("not keys") end)
    assert.has_error(function() card:open_scp03(env.keys(), 0x33, { kvm = 1 }) end)
    assert.has_error(function() card:read_bootstrap{ keys = env.keys(), pathh = "" } end)
    assert.has_error(function() card:read_bootstrap{} end)   -- neither keys nor no_secure_channel
    assert.has_error(function() card:select_channel(1.5) end)
    assert.has_error(function() card:set_trace("print") end)
    assert.has_error(function() card.sim:set_faults{ disconect_after = 1 } end)
    assert.has_error(function() card.sim:set_faults{ disconnect_after = true } end)
    assert.has_error(function() scboot.from_transmit(nil) end)
    assert.has_error(function() scboot.from_transmit(print, { t1 = true }) end)
    assert.has_error(function() scboot.keys{ enc = 1, mac = 2 } end)
    assert.has_error(function() scboot.keys() end)
    assert.has_error(function() scboot.keys{ enc = env.KEY, mac = env.KEY, kvn = "0x30" } end)
    assert.has_error(function() scboot.open(42) end)
    assert.has_error(function() scboot.virtual_card(42) end)
  end)
end)

describe("Lua transports", function()
  it("are binary safe both ways: NUL and FF bytes", function()
    local seen
    local card <close> = assert(scboot.from_transmit(function(apdu)
      seen = apdu
      return "\0\xFF\0\xFF\0" .. "\x90\x00"
    end))
    local cmd = "\x80\xE2\x00\xFF\x05\0\xFF\0\xFF\0"
    assert.are.equal("\0\xFF\0\xFF\0\x90\x00", card:transmit(cmd))
    assert.are.equal(cmd, seen)
  end)

  it("run the engine: 61xx is followed by GET RESPONSE", function()
    local log = {}
    local card <close> = assert(scboot.from_transmit(function(apdu)
      log[#log + 1] = scboot.hex(apdu)
      if apdu:byte(2) == 0xC0 then return "\1\2\3\x90\x00" end
      return "\x61\x03"
    end))
    assert.are.equal("\1\2\3\x90\x00", card:transmit("\x80\xCA\x00\xFE\x00"))
    assert.are.same({ "80ca00fe00", "00c0000003" }, log)
  end)

  it("carry a full SCP03 session to a virtual card", function()
    local sim = assert(scboot.virtual_card())
    local card <close> = assert(scboot.from_transmit(function(apdu) return sim:process(apdu) end))
    assert(card:transmit(env.SELECT_PKCS15))
    assert.is_true(card:open_scp03(env.keys()))
    assert(card:transmit(SELECT_BOOTSTRAP_EF))
    local resp = assert(card:transmit(READ_BINARY))
    assert.are.equal(0x9000, sw(resp))
    card:close()
    sim:close()
  end)

  it("may use another card while the engine waits for them (nested transmits)", function()
    local inner <close> = assert(scboot.sim())
    local card <close> = assert(scboot.from_transmit(function(apdu)
      -- a T=0 style answer from the outer path: 61xx first, then the data
      if apdu:byte(2) == 0xC0 then return assert(inner:transmit(env.SELECT_PKCS15)) end
      assert(inner:transmit(env.SELECT_PKCS15))
      return "\x61\x28"
    end))
    local direct = assert(inner:transmit(env.SELECT_PKCS15))
    assert.are.equal(direct, card:transmit("\x80\xCA\x00\xFE\x00"))
    assert.are.equal(0x9000, sw(direct))
    assert.are.equal(0x28 + 2, #direct)
  end)

  it("report the message of an error raised inside them", function()
    local card <close> = assert(scboot.from_transmit(function() error("reader on fire") end))
    local msg = env.assert_failure(scboot.E.TRANSPORT, card:transmit(env.SELECT_PKCS15))
    assert.matches("reader on fire", msg)
    -- error objects other than strings are reported through tostring
    local obj = setmetatable({}, { __tostring = function() return "custom error object" end })
    local card2 <close> = assert(scboot.from_transmit(function() error(obj) end))
    assert.matches("custom error object", env.assert_failure(scboot.E.TRANSPORT,
                                                            card2:transmit(env.SELECT_PKCS15)))
  end)

  it("may report a failure as nil, message, code, e.g. a removed card", function()
    local plugged = true
    local sim = assert(scboot.virtual_card())
    local card <close> = assert(scboot.from_transmit(function(apdu)
      if not plugged then return nil, "unplugged by the test", scboot.E.CARD_REMOVED end
      return sim:process(apdu)
    end))
    assert(card:transmit(env.SELECT_PKCS15))
    plugged = false
    local msg = env.assert_failure(scboot.E.CARD_REMOVED, card:transmit(env.SELECT_PKCS15))
    assert.matches("unplugged by the test", msg)
    -- codes outside the transport range are reported as SCB_E_TRANSPORT
    local card2 <close> = assert(scboot.from_transmit(function() return nil, "odd", scboot.E.PARSE end))
    assert.matches("odd", env.assert_failure(scboot.E.TRANSPORT, card2:transmit("\0\0\0\0")))
    local card3 <close> = assert(scboot.from_transmit(function() return nil end))
    env.assert_failure(scboot.E.TRANSPORT, card3:transmit("\0\0\0\0"))
    card:close()
    sim:close()
  end)

  it("must return a string: anything else is a transport failure", function()
    local card <close> = assert(scboot.from_transmit(function() return 0x9000 end))
    local msg = env.assert_failure(scboot.E.TRANSPORT, card:transmit("\0\0\0\0"))
    assert.matches("must return the response", msg)
  end)

  it("report an overlong response as a bad response", function()
    local card <close> = assert(scboot.from_transmit(function() return ("\0"):rep(70000) end))
    env.assert_failure(scboot.E.BAD_RESPONSE, card:transmit("\0\0\0\0"))
  end)

  it("do not carry an old message into a later, different failure", function()
    local fail = true
    local card <close> = assert(scboot.from_transmit(function()
      if fail then error("first problem") end
      return "\x90\x00"
    end))
    assert.matches("first problem", env.assert_failure(scboot.E.TRANSPORT, card:transmit("\0\0\0\0")))
    fail = false
    assert.are.equal("\x90\x00", card:transmit("\0\0\0\0"))
    local _, msg = card:close_channel()   -- refused by the library, not the transport
    assert.not_matches("first problem", msg)
  end)

  it("work from inside coroutines, and cannot yield", function()
    local card <close> = assert(scboot.from_transmit(function() return "\x90\x00" end))
    local co = coroutine.wrap(function()
      local r = card:transmit("\0\0\0\0")
      coroutine.yield(r)
      return card:transmit("\0\0\0\0")
    end)
    assert.are.equal("\x90\x00", co())
    assert.are.equal("\x90\x00", co())
    local yielding <close> = assert(scboot.from_transmit(function() coroutine.yield() end))
    local result = table.pack(coroutine.wrap(function() return yielding:transmit("\0\0\0\0") end)())
    assert.is_nil(result[1])
    assert.matches("yield", result[2])
    assert.are.equal(scboot.E.TRANSPORT, result[3])
  end)
end)

describe("re-entering a card from its own hooks", function()
  it("is refused: the engine is inside an operation", function()
    local card
    card = assert(scboot.from_transmit(function()
      assert(card:transmit("\0\0\0\0"))   -- the card is busy: this raises
      return "\x90\x00"
    end))
    local msg = env.assert_failure(scboot.E.TRANSPORT, card:transmit("\0\0\0\0"))
    assert.matches("inside an operation", msg)
    card:close()
  end)

  it("closing the card, its keys or its virtual card from a trace function is refused", function()
    local card <close> = assert(scboot.sim())
    local keys = env.keys()
    local refusals = {}
    assert(card:transmit(env.SELECT_PKCS15))
    assert(card:set_trace(function()   -- runs during the handshake below
      for _, what in ipairs{ { card:close() }, { keys:close() }, { card.sim:close() },
                             { card:open_channel() } } do
        refusals[#refusals + 1] = what[3]
      end
    end))
    assert.is_true(card:open_scp03(keys))
    assert.is_true(#refusals > 0)
    for _, code in ipairs(refusals) do assert.are.equal(scboot.E.STATE, code) end
    assert(card:set_trace(nil))
    assert.is_false(card:is_closed())
    assert.are.equal(0x9000, sw(assert(card:transmit(SELECT_BOOTSTRAP_EF))))
    assert.is_true(keys:close())   -- outside an operation it works
  end)
end)

describe("lifetimes", function()
  it("closes cards in <close> variables at the end of the scope", function()
    local outside
    do
      local card <close> = assert(scboot.sim())
      outside = card
      assert.is_false(card:is_closed())
    end
    assert.is_true(outside:is_closed())
  end)

  it("collects dropped cards, their transport functions and virtual cards", function()
    local weak = setmetatable({}, { __mode = "v" })
    do
      local fn = function() return "\x90\x00" end
      weak.fn = fn
      local card = assert(scboot.from_transmit(fn))
      weak.card = card
      assert(card:transmit("\0\0\0\0"))
      assert(card:set_trace(function() end))
      local simcard = assert(scboot.sim())
      weak.sim = simcard.sim
      weak.keys = env.keys()
    end
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak.card)
    assert.is_nil(weak.fn)     -- the registry no longer holds it
    assert.is_nil(weak.sim)
    assert.is_nil(weak.keys)
  end)

  it("closes the cards of a virtual card that is closed first", function()
    local sim = assert(scboot.virtual_card())
    local a, b = assert(sim:card()), assert(sim:card())
    assert.is_true(sim:close())
    assert.is_true(a:is_closed())
    assert.is_true(b:is_closed())
    env.assert_failure(scboot.E.STATE, sim:card())
    env.assert_failure(scboot.E.STATE, sim:process("\0\0\0\0"))
  end)
end)

describe("card:set_timeout", function()
  it("bounds every call: a slow card ends in E.TIMEOUT naming the step", function()
    local card <close> = assert(scboot.sim{ faults = { delay_ms = 60 } })
    assert.are.equal(30, card:timeout())
    assert.is_true(card:set_timeout(0.1))
    local msg = env.assert_failure(scboot.E.TIMEOUT, card:read_bootstrap{ keys = env.keys() })
    assert.matches("took longer than 100 ms", msg)
    assert.is_true(card:set_timeout(nil))
    assert.is_nil(card:timeout())
    assert.has_error(function() card:set_timeout("1") end)
  end)
end)
