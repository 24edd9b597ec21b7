-- Options of the card operations, mapped through the C library's option
-- table: every C option reaches Lua by its name and is honoured (kvn and
-- sd_aid against a virtual card holding two key sets), unknown names raise,
-- values and scopes the library refuses are nil, message, code; no job runs
-- without an authenticated secure channel; the key forms; error families.
local scboot = require "scboot"
local core = require "scboot.core"
local env = require "testenv"

local EF_PATH = "\x50\x15\x64\x32"
local ISD_AID = "\xA0\x00\x00\x01\x51\x00\x00\x00"   -- another Security Domain's AID

-- The card's second key set (version 0x31): other values than the first.
local K2 = { enc = ("2B"):rep(16), mac = ("7E"):rep(16), dek = ("15"):rep(16) }
local TWO_SETS = { scp03 = { keys = {
  { kvn = 0x30, enc = env.KEY, mac = env.KEY, dek = env.KEY },
  { kvn = 0x31, enc = K2.enc, mac = K2.mac, dek = K2.dek },
} } }

-- K2 without a version of its own (0: the card's first set unless the
-- operation's kvn says otherwise).
local function second_keys(kvn)
  return assert(scboot.keys{ enc = K2.enc, mac = K2.mac, dek = K2.dek, kvn = kvn })
end

-- The commands on the wire, as the card's trace shows them: a list of
-- {cla, ins, p1} (numbers) that grows while the hook is installed.
local function wire(card)
  local seen = {}
  assert(card:set_trace(function(kind, line)
    if kind == scboot.trace_kind.WIRE_CMD then
      local cla, ins, p1 = line:match("^A>> (%x%x) (%x%x) (%x%x)")
      seen[#seen + 1] = { tonumber(cla, 16), tonumber(ins, 16), tonumber(p1, 16) }
    end
  end))
  return seen
end

-- How many of the commands seen touch a file's contents or the keys:
-- READ BINARY, UPDATE BINARY, PUT KEY.
local function file_commands(seen)
  local n = 0
  for _, c in ipairs(seen) do
    if c[2] == 0xB0 or c[2] == 0xD6 or c[2] == 0xD8 then n = n + 1 end
  end
  return n
end

-- The P1 (key version) of every INITIALIZE UPDATE seen.
local function iu_versions(seen)
  local kvns = {}
  for _, c in ipairs(seen) do
    if c[2] == 0x50 and c[1] & 0x80 ~= 0 then kvns[#kvns + 1] = c[3] end
  end
  return kvns
end

local function bootstrap_bytes(lifetime)
  local t = assert(scboot.decode(assert(assert(scboot.sim()).sim:read_file(EF_PATH)),
                                 { secrets = true }))
  t.servers[1].lifetime = lifetime
  return assert(scboot.encode(t))
end

describe("options reach the C library by name", function()
  it("every option of the C table is known to Lua", function()
    local names = {}
    for id = 1, core.SCB_OPT_COUNT_ - 1 do
      local rc, info = core.scb_opt_info(id)
      assert.are.equal(0, rc)
      names[#names + 1] = info
    end
    assert.is_true(#names >= 24)
    for _, info in ipairs(names) do
      local value
      if info.type == core.SCB_OPT_T_INT then value = math.tointeger(info.dflt)
      elseif info.type == core.SCB_OPT_T_BOOL then value = false
      elseif info.type == core.SCB_OPT_T_ENUM then value = core.scb_opt_choice(info.id, info.dflt)
      else value = ("\0"):rep(info.min) end
      local card <close> = assert(scboot.sim())
      assert(card:transmit(env.SELECT_PKCS15))
      -- never "unknown option": the library sees it and decides
      local ok, _, msg, code = pcall(card.open_scp03, card, env.keys(), nil, { [info.name] = value })
      assert.is_true(ok, info.name .. ": " .. tostring(_))
      if info.scope & core.SCB_SCOPE_SCP == 0 then
        assert.are.equal(scboot.E.INVALID_ARG, code, info.name)
        assert.matches("option '" .. info.name .. "' does not apply", msg, 1, true)
      end
    end
  end)

  it("an option outside the call's scope is refused by the library before any APDU", function()
    local card <close> = assert(scboot.sim())
    local before = card.sim:apdu_count()
    local msg = env.assert_failure(scboot.E.INVALID_ARG, card:read_bootstrap{ keys = env.keys(), pad = true })
    assert.matches("'pad' does not apply", msg)
    msg = env.assert_failure(scboot.E.INVALID_ARG,
                             card:read_bootstrap{ keys = env.keys(), replace_kvn = 0x31 })
    assert.matches("replace_kvn", msg)
    msg = env.assert_failure(scboot.E.INVALID_ARG,
                             card:rotate_keys{ keys = env.keys(), new_keys = second_keys(0x31),
                                               path = "\x64\x32" })
    assert.matches("'path'", msg)
    msg = env.assert_failure(scboot.E.INVALID_ARG, card:open_app{ keys = env.keys(), baud = 9600 })
    assert.matches("'baud'", msg)
    assert.are.equal(before, card.sim:apdu_count())
    -- a modem option check comes before the device is opened
    msg = env.assert_failure(scboot.E.INVALID_ARG, scboot.open_modem("/nonexistent/tty", { kvn = 1 }))
    assert.matches("'kvn' does not apply to a modem", msg)
  end)

  it("values the library refuses are nil, message, code and never show a secret", function()
    local card <close> = assert(scboot.sim())
    local before = card.sim:apdu_count()
    for opts, name in pairs{
      [{ keys = env.keys(), kvn = 256 }] = "kvn",
      [{ keys = env.keys(), level = 0x07 }] = "level",
      [{ keys = env.keys(), sd_aid = "\1\2" }] = "sd_aid",
      [{ keys = env.keys(), path = "\x64" }] = "path",
      [{ no_secure_channel = true, pin = "98765432109876543" }] = "pin",
    } do
      local msg = env.assert_failure(scboot.E.INVALID_ARG, card:read_bootstrap(opts))
      assert.matches("'" .. name .. "'", msg, 1, true)
      assert.not_matches("98765432109876543", msg)
    end
    assert.are.equal(before, card.sim:apdu_count())
    local msg = env.assert_failure(scboot.E.INVALID_ARG,
                                   scboot.open_modem("/nonexistent/tty", { modem_channels = "atcsim" }))
    assert.matches("auto|csim|cgla", msg, 1, true)
    env.assert_failure(scboot.E.INVALID_ARG, scboot.open_modem("/nonexistent/tty", { baud = 1200 }))
  end)

  it("an unknown name, or a value of the wrong Lua type, is a programming error", function()
    local card <close> = assert(scboot.sim())
    local before = card.sim:apdu_count()
    local keys, new_keys = env.keys(), second_keys(0x31)
    for what, call in pairs{
      read_bootstrap = function(o) o.keys = keys; return card:read_bootstrap(o) end,
      write_bootstrap = function(o) o.keys, o.data = keys, "\0"; return card:write_bootstrap(o) end,
      rotate_keys = function(o) o.keys, o.new_keys = keys, new_keys; return card:rotate_keys(o) end,
      open_app = function(o) o.keys = keys; return card:open_app(o) end,
      open_scp03 = function(o) return card:open_scp03(keys, nil, o) end,
      probe_keys = function(o) return card:probe_keys(keys, o) end,
      open_modem = function(o) return scboot.open_modem("/nonexistent/tty", o) end,
    } do
      local ok, err = pcall(call, { kvm = 0x31 })
      assert.is_false(ok, what)
      assert.matches(what .. ": unknown option \"kvm\"", err, 1, true)
      ok, err = pcall(call, { kvn = "0x31" })
      assert.is_false(ok, what)
      assert.matches("option kvn takes an integer, not a string", err, 1, true)
    end
    -- a PIN of the wrong type is not shown either
    local ok, err = pcall(card.read_bootstrap, card, { no_secure_channel = true, pin = 424242 })
    assert.is_false(ok)
    assert.matches("option pin takes a byte string", err, 1, true)
    assert.not_matches("424242", err)
    assert.has_error(function() card:read_bootstrap{ keys = keys, skip_efdir = 1 } end)
    assert.has_error(function() card:open_scp03(keys, 0x33, { level = 0x33 }) end)   -- twice
    assert.has_error(function() scboot.open_modem("/nonexistent/tty", 115200) end)
    assert.are.equal(before, card.sim:apdu_count())
  end)

  it("the Lua spellings of earlier releases are refused, naming what replaced them", function()
    local card <close> = assert(scboot.sim())
    local before = card.sim:apdu_count()
    for opts, now in pairs{
      [{ secure = false }] = "no_secure_channel = true",
      [{ keys = env.keys(), logical_channel = false }] = "no_logical_channel = true",
      [{ keys = env.keys(), no_extauth = true }] = "card:probe_keys",
    } do
      local ok, err = pcall(card.read_bootstrap, card, opts)
      assert.is_false(ok)
      assert.matches(now, err, 1, true)
    end
    local ok, err = pcall(card.write_bootstrap, card, { keys = env.keys(), data = "\0", verify = false })
    assert.is_false(ok)
    assert.matches("no_verify = true", err, 1, true)
    assert.are.equal(before, card.sim:apdu_count())
  end)
end)

describe("kvn and sd_aid are honoured (a card with key sets 0x30 and 0x31)", function()
  it("read_bootstrap", function()
    local card <close> = assert(scboot.sim(TWO_SETS))
    local seen = wire(card)
    local second <close> = second_keys()
    -- without kvn the card answers with its first set: the keys do not fit
    env.assert_failure(scboot.E.SCP_CARD_CRYPTOGRAM, card:read_bootstrap{ keys = second })
    local t = assert(card:read_bootstrap{ keys = second, kvn = 0x31 })
    assert.are.equal(scboot.level.DEFAULT, t.info.scp_level)
    assert.are.equal(86400, t.servers[1].lifetime)
    -- kvn overrides the key set's own version
    env.assert_failure(scboot.E.SCP_CARD_CRYPTOGRAM, card:read_bootstrap{ keys = env.keys(), kvn = 0x31 })
    assert(card:read_bootstrap{ keys = env.keys() })
    assert.are.same({ 0x00, 0x31, 0x31, 0x30 }, iu_versions(seen))
    -- a version the card lacks: 6A88 to INITIALIZE UPDATE
    env.assert_failure(scboot.E.SCP_NO_KEYSET, card:read_bootstrap{ keys = second, kvn = 0x32 })
    -- sd_aid: the pseudo-random card challenge is checked against that AID
    assert(card:read_bootstrap{ keys = env.keys(), sd_aid = env.PKCS15_AID })
    local n = file_commands(seen)
    env.assert_failure(scboot.E.SCP_CHALLENGE, card:read_bootstrap{ keys = env.keys(), sd_aid = ISD_AID })
    assert.are.equal(n, file_commands(seen))
  end)

  it("write_bootstrap", function()
    local card <close> = assert(scboot.sim(TWO_SETS))
    local second <close> = second_keys()
    local before = card.sim:read_file(EF_PATH)
    local data = bootstrap_bytes(1234)
    env.assert_failure(scboot.E.SCP_CARD_CRYPTOGRAM, card:write_bootstrap{ keys = second, data = data })
    env.assert_failure(scboot.E.SCP_CHALLENGE,
                       card:write_bootstrap{ keys = second, kvn = 0x31, sd_aid = ISD_AID, data = data })
    assert.are.equal(before, card.sim:read_file(EF_PATH))
    local info = assert(card:write_bootstrap{ keys = second, kvn = 0x31, sd_aid = env.PKCS15_AID,
                                              data = data })
    assert.are.equal(scboot.level.DEFAULT, info.scp_level)
    assert.are.equal(data, card.sim:read_file(EF_PATH):sub(1, #data))
    assert.are.equal(1234, assert(card:read_bootstrap{ keys = env.keys() }).servers[1].lifetime)
  end)

  it("rotate_keys", function()
    local card <close> = assert(scboot.sim(TWO_SETS))
    local second <close> = second_keys()
    local third <close> = assert(scboot.keys{ enc = ("61"):rep(16), mac = ("62"):rep(16),
                                             dek = ("63"):rep(16), kvn = 0x32 })
    -- the current keys are known by version 0x31 only through kvn
    env.assert_failure(scboot.E.SCP_CARD_CRYPTOGRAM,
                       card:rotate_keys{ keys = second, new_keys = third, replace_kvn = 0x31 })
    env.assert_failure(scboot.E.SCP_CHALLENGE,
                       card:rotate_keys{ keys = second, kvn = 0x31, sd_aid = ISD_AID,
                                         new_keys = third, replace_kvn = 0x31 })
    assert(card:read_bootstrap{ keys = second, kvn = 0x31 })   -- nothing changed yet
    assert(card:rotate_keys{ keys = second, kvn = 0x31, sd_aid = env.PKCS15_AID,
                             new_keys = third, replace_kvn = 0x31 })
    assert(card:read_bootstrap{ keys = third })
    env.assert_failure(scboot.E.SCP_NO_KEYSET, card:read_bootstrap{ keys = second, kvn = 0x31 })
    assert(card:read_bootstrap{ keys = env.keys() })   -- set 0x30 untouched
  end)

  it("probe_keys checks the card cryptogram without EXTERNAL AUTHENTICATE", function()
    local card <close> = assert(scboot.sim(TWO_SETS))
    assert(card:transmit(env.SELECT_PKCS15))
    local seen = wire(card)
    local second <close> = second_keys()
    env.assert_failure(scboot.E.SCP_CARD_CRYPTOGRAM, card:probe_keys(second))
    local info = assert(card:probe_keys(second, { kvn = 0x31, sd_aid = env.PKCS15_AID }))
    assert.are.equal(0x31, info.kvn)
    assert.are.equal(0x70, info.i)
    assert.is_false(info.s16)
    assert.is_true(info.challenge_verified)
    assert.are.equal(10, #info.kdd)
    assert.are.equal("integer", math.type(info.sequence_counter))
    assert.is_false(assert(card:probe_keys(env.keys())).challenge_verified)
    env.assert_failure(scboot.E.SCP_CHALLENGE, card:probe_keys(env.keys(), { sd_aid = ISD_AID }))
    for _, c in ipairs(seen) do assert.are_not.equal(0x82, c[2]) end   -- no EXTERNAL AUTHENTICATE
    assert.is_nil(card:scp03_level())
    -- plain commands go on; the bootstrap EF stays closed without a session
    assert(card:transmit("\x00\xA4\x00\x0C\x02\x64\x32"))
    assert.are.equal("\x69\x82", card:transmit("\x00\xB0\x00\x00\x00"))
  end)
end)

describe("no job without an authenticated secure channel", function()
  -- Cards on which a job could only go on without EXTERNAL AUTHENTICATE
  -- having succeeded at the level asked for.
  local cards = {
    ["a card whose i parameter lacks R-ENC"] = { scp03 = { i = "0x30" } },
    ["a card that rejects EXTERNAL AUTHENTICATE"] = { faults = { sw_at = 5, sw = "0x6300" } },
    ["a card whose cryptogram does not verify"] = { faults = { bad_card_cryptogram = true } },
  }
  local jobs = {
    read = function(card) return card:read_bootstrap{ keys = env.keys() } end,
    write = function(card) return card:write_bootstrap{ keys = env.keys(), data = bootstrap_bytes(77) } end,
    rotate = function(card)
      return card:rotate_keys{ keys = env.keys(), new_keys = second_keys(0x31) }
    end,
  }
  for what, profile in pairs(cards) do
    for job, run in pairs(jobs) do
      it(job .. " on " .. what .. ": a secure-channel error, no file touched", function()
        local card <close> = assert(scboot.sim(profile))
        local before = card.sim:read_file(EF_PATH)
        local seen = wire(card)
        local result = table.pack(run(card))
        assert.are.equal(3, result.n)
        assert.is_nil(result[1])
        assert.are.equal("secure", scboot.family(result[3]), result[2])
        assert.are.equal(0, file_commands(seen))
        assert.are.equal(before, card.sim:read_file(EF_PATH))
        assert.are.equal(0, card:channel())
      end)
    end
  end

  it("the EXTERNAL AUTHENTICATE the card rejects is on the wire, and no SELECT after it", function()
    local card <close> = assert(scboot.sim(cards["a card that rejects EXTERNAL AUTHENTICATE"]))
    local lines = {}
    assert(card:set_trace(function(kind, line) lines[#lines + 1] = line end))
    env.assert_failure(scboot.E.SCP_AUTH_REJECTED, card:read_bootstrap{ keys = env.keys() })
    local text = table.concat(lines, "\n")
    assert.matches("A>> 8%x 82 33 00 10", text)          -- EXTERNAL AUTHENTICATE, level 33
    assert.matches("A<< (6300)", text, 1, true)
    assert.not_matches("A>> 8%x 82[^\n]*\n.*A>> %x%x A4", text)   -- no SELECT after it
  end)

  it("the key probe's old spelling runs nothing at all", function()
    for job, call in pairs{
      read = function(card) return card:read_bootstrap{ keys = env.keys(), no_extauth = true } end,
      write = function(card)
        return card:write_bootstrap{ keys = env.keys(), data = "\0", no_extauth = true }
      end,
      rotate = function(card)
        return card:rotate_keys{ keys = env.keys(), new_keys = second_keys(0x31), no_extauth = true }
      end,
      open_scp03 = function(card) return card:open_scp03(env.keys(), nil, { no_extauth = true }) end,
    } do
      local card <close> = assert(scboot.sim())
      local ok, err = pcall(call, card)
      assert.is_false(ok, job)
      assert.matches("unknown option \"no_extauth\"", err, 1, true)
      assert.are.equal(0, card.sim:apdu_count(), job)
    end
  end)
end)

describe("key forms", function()
  local binary = assert(scboot.unhex(env.KEY))

  it("scboot.keys takes hex, scboot.keys_raw bytes: the same key either way", function()
    local spaced = env.KEY:gsub("(%x%x)", "%1 ")
    for _, keys in ipairs{
      assert(scboot.keys{ enc = env.KEY, mac = env.KEY:lower(), dek = spaced, kvn = 0x30 }),
      assert(scboot.keys_raw{ enc = binary, mac = binary, dek = binary, kvn = 0x30 }),
    } do
      local card <close> = assert(scboot.sim())
      assert(card:transmit(env.SELECT_PKCS15))
      assert(card:probe_keys(keys))   -- the card agrees
      assert.is_true(keys:has_dek())
      assert.are.equal(16, keys:length())
    end
    local aes256 = assert(scboot.keys_raw{ enc = ("\x01"):rep(32), mac = ("\xFE"):rep(32) })
    assert.are.equal(32, aes256:length())
  end)

  it("a key in the other form is refused, saying which form was expected", function()
    local msg = env.assert_failure(scboot.E.INVALID_ARG,
                                   scboot.keys{ enc = binary, mac = env.KEY, kvn = 0x30 })
    assert.matches("enc must be hex", msg)
    assert.matches("scboot.keys_raw", msg, 1, true)
    assert.is_nil(msg:find(binary, 1, true))
    msg = env.assert_failure(scboot.E.INVALID_ARG,
                             scboot.keys_raw{ enc = binary, mac = env.KEY, kvn = 0x30 })
    assert.matches("mac must be the key's 16, 24 or 32 bytes, not hex text", msg)
    assert.not_matches("4041", msg)
    assert.not_matches("404142", msg:lower())
    -- hex of no key's length, digits that are not hex, a raw key of no AES length
    msg = env.assert_failure(scboot.E.INVALID_ARG, scboot.keys{ enc = env.KEY:sub(2), mac = env.KEY })
    assert.matches("32, 48 or 64 hex digits", msg)
    env.assert_failure(scboot.E.INVALID_ARG, scboot.keys{ enc = env.KEY:sub(3) .. "G0", mac = env.KEY })
    env.assert_failure(scboot.E.INVALID_ARG, scboot.keys_raw{ enc = binary:sub(2), mac = binary:sub(2) })
    -- one length for the whole set
    msg = env.assert_failure(scboot.E.INVALID_ARG,
                             scboot.keys{ enc = env.KEY, mac = env.KEY .. ("00"):rep(8) })
    assert.matches("of one length", msg)
  end)

  it("programming errors raise", function()
    assert.has_error(function() scboot.keys_raw('{"enc": "00"}') end)
    assert.has_error(function() scboot.keys_raw{ enc = binary, mac = binary, kvn = 0x30, format = "raw" } end)
    assert.has_error(function() scboot.keys{ enc = 0x40, mac = env.KEY } end)
    assert.has_error(function() scboot.keys_raw{ enc = binary, mac = binary, kvn = 1.5 } end)
  end)
end)

describe("error families", function()
  -- as scboot.h documents them for each family and code
  local documented = {
    usage = { "INVALID_ARG", "STATE", "DATA_TOO_LARGE" },
    other = { "NOMEM", "INTERNAL", "CRYPTO", "UNSUPPORTED" },
    transport = { "TRANSPORT", "NO_SERVICE", "NO_READER", "NO_CARD", "CARD_REMOVED", "MODEM",
                  "MODEM_CME" },
    card = { "STATUS", "BAD_RESPONSE" },
    secure = { "SCP_CARD_CRYPTOGRAM", "SCP_RMAC", "SCP_LEVEL", "SCP_NO_KEYSET", "SCP_KVN" },
    data = { "PARSE", "NO_BOOTSTRAP", "FILE_TOO_LARGE" },
    write = { "WRITE_INCOMPLETE", "VERIFY_MISMATCH" },
  }

  it("scboot.family names each code's family", function()
    for family, names in pairs(documented) do
      for _, name in ipairs(names) do
        assert.are.equal(family, scboot.family(assert(scboot.E[name], name)), name)
      end
    end
    assert.are.equal("ok", scboot.family(0))
    assert.are.equal("other", scboot.family(-9999))
    assert.are.equal("other", scboot.family(math.mininteger))
    local known = { ok = true, usage = true, transport = true, card = true, secure = true,
                    data = true, write = true, keystore = true, other = true }
    for name, code in pairs(scboot.E) do
      assert.is_true(known[scboot.family(code)], name)
    end
    assert.has_error(function() scboot.family("SCB_E_PARSE") end)
    assert.has_error(function() scboot.family(-1.5) end)
  end)

  it("failures carry codes whose families say what went wrong", function()
    local card <close> = assert(scboot.sim())
    local _, _, code = card:read_bootstrap{ keys = env.keys{ mac = ("11"):rep(16) } }
    assert.are.equal("secure", scboot.family(code))
    _, _, code = card:read_bootstrap{ keys = env.keys(), path = "\x6F\x01" }
    assert.are.equal("card", scboot.family(code))
    _, _, code = card:read_bootstrap{ keys = env.keys(), kvn = 300 }
    assert.are.equal("usage", scboot.family(code))
    card.sim:unplug()
    _, _, code = card:read_bootstrap{ keys = env.keys() }
    assert.are.equal("transport", scboot.family(code))
  end)
end)
