-- Provisioning from Lua: scboot.encode, card:write_bootstrap,
-- card:rotate_keys, card:open_app / close_app against the virtual card,
-- and every way they fail (nil, message, code).
local scboot = require "scboot"
local env = require "testenv"

local EF_PATH = "\x50\x15\x64\x32"

-- The virtual card's whole bootstrap EF.
local function ef_bytes(card)
  return assert(card.sim:read_file(EF_PATH))
end

-- The file at the start of the EF: the container header gives its length
-- (bytes after it are padding or an older, longer file's tail).
local function stored_file(card, len)
  return ef_bytes(card):sub(1, len)
end

describe("scboot.encode", function()
  it("encodes a decoded file (secrets shown) to one that decodes the same", function()
    -- the recorded Nordic file (not the same bytes back: it uses wider TLV
    -- lengths than the minimal ones scboot writes)
    local raw = scboot.unhex(env.vector("lwm2m.json", "nordic_bootstrap").raw)
    local t = assert(scboot.decode(raw, { secrets = true }))
    local again = assert(scboot.decode(assert(scboot.encode(t)), { secrets = true }))
    assert.are.same(t.security, again.security)
    assert.are.same(t.servers, again.servers)
    assert.are.equal("coap://leshan.eclipseprojects.io:5783", again.security[1].server_uri)
  end)

  it("encodes a table read from the card (path, aid, info, raw are ignored)", function()
    local card <close> = assert(scboot.sim())
    local t = assert(card:read_bootstrap{ keys = env.keys(), secrets = true })
    local again = assert(scboot.decode(assert(scboot.encode(t)), { secrets = true }))
    assert.are.same(t.security, again.security)
    assert.are.same(t.servers, again.servers)
    assert.are.same(t.objects, again.objects)
  end)

  it("refuses redacted secrets and bad fields, naming the field", function()
    local t = assert(scboot.decode(ef_bytes(assert(scboot.sim()))))   -- redacted
    local msg = env.assert_failure(scboot.E.VALIDATION, scboot.encode(t))
    assert.matches("secret_key", msg)
    local shown = assert(scboot.decode(ef_bytes(assert(scboot.sim())), { secrets = true }))
    shown.servers[1].lifetime = "a day"
    msg = env.assert_failure(scboot.E.VALIDATION, scboot.encode(shown))
    assert.matches("servers%[0%]%.lifetime", msg)   -- the JSON model's (0-based) place
    shown.servers[1].lifetime = 60
    shown.servers[1].colour = "blue"
    env.assert_failure(scboot.E.VALIDATION, scboot.encode(shown))
    env.assert_failure(scboot.E.VALIDATION, scboot.encode{ security = { { server_uri = print } } })
  end)

  it("raises for what is not a table (a programming error)", function()
    assert.has_error(function() scboot.encode("\x00") end)
  end)
end)

describe("card:write_bootstrap", function()
  it("writes a changed account under SCP03 0x33 and reads it back", function()
    local card <close> = assert(scboot.sim())
    local t = assert(card:read_bootstrap{ keys = env.keys(), secrets = true })
    t.servers[1].lifetime = 3600
    t.security[1].server_uri = "coaps://bs.example.org:5684"
    local info = assert(card:write_bootstrap{ data = t, keys = env.keys() })
    assert.are.equal(scboot.level.DEFAULT, info.scp_level)
    assert.is_true(info.apdus > 0)
    assert.are.equal(0, card:channel())
    local back = assert(card:read_bootstrap{ keys = env.keys() })
    assert.are.equal(3600, back.servers[1].lifetime)
    assert.are.equal("coaps://bs.example.org:5684", back.security[1].server_uri)
    assert.are_not.equal(t.digest, back.digest)
    assert.are.equal(back.raw, stored_file(card, #back.raw))
  end)

  it("writes file bytes as given, byte for byte", function()
    local card <close> = assert(scboot.sim())
    local raw = scboot.unhex(env.vector("lwm2m.json", "nordic_bootstrap").raw)
    assert(card:write_bootstrap{ data = raw, keys = env.keys() })
    assert.are.equal(raw, stored_file(card, #raw))
    -- the read stops where the container header says the file ends (the
    -- recorded file carries two bytes of FF padding after it)
    local back = assert(card:read_bootstrap{ keys = env.keys() })
    assert.are.equal(raw:sub(1, #back.raw), back.raw)
    assert.are.equal(string.rep("\xFF", #raw - #back.raw), raw:sub(#back.raw + 1))
    assert.are.equal(assert(scboot.decode(raw)).digest, back.digest)
  end)

  it("pads with FF on request, and takes a remembered path and AID", function()
    local card <close> = assert(scboot.sim())
    local first = assert(card:read_bootstrap{ keys = env.keys(), secrets = true })
    assert(card:write_bootstrap{ data = first, keys = env.keys(), pad = true,
                                 path = first.path, aid = first.aid })
    local ef = ef_bytes(card)
    local written = assert(scboot.encode(first))
    assert.are.equal(written, ef:sub(1, #written))
    assert.are.equal(string.rep("\xFF", #ef - #written), ef:sub(#written + 1))
  end)

  it("fails with nil, message, code", function()
    local card <close> = assert(scboot.sim())
    local t = assert(card:read_bootstrap{ keys = env.keys(), secrets = true })
    local before = ef_bytes(card)
    -- secrets redacted: nothing is sent
    local redacted = assert(card:read_bootstrap{ keys = env.keys() })
    local count = card.sim:apdu_count()
    env.assert_failure(scboot.E.VALIDATION, card:write_bootstrap{ data = redacted, keys = env.keys() })
    assert.are.equal(count, card.sim:apdu_count())
    -- larger than the EF (or 32 KB): refused before anything is written
    env.assert_failure(scboot.E.DATA_TOO_LARGE,
                       card:write_bootstrap{ data = string.rep("\x00", 40000), keys = env.keys() })
    -- a wrong MAC key: the handshake fails (the card cryptogram is an S-MAC one)
    env.assert_failure(scboot.E.SCP_CARD_CRYPTOGRAM,
                       card:write_bootstrap{ data = t, keys = env.keys{ mac = string.rep("11", 16) } })
    -- a wrong ENC key passes the handshake; the card cannot decrypt the
    -- first encrypted command and refuses it: a secure-channel failure (a
    -- fixed host challenge: about one random session in 256 decrypts to
    -- valid-looking padding, and the card answers the garbage instead)
    env.assert_failure(scboot.E.SCP_REJECTED,
                       card:write_bootstrap{ data = t, keys = env.keys{ enc = string.rep("11", 16) },
                                             host_challenge = "\x11\x22\x33\x44\x55\x66\x77\x88" })
    -- a level without C-DEC is not enough for a write: refused before the card
    env.assert_failure(scboot.E.INVALID_ARG,
                       card:write_bootstrap{ data = t, keys = env.keys(), level = scboot.level.CMAC })
    assert.are.equal(before, ef_bytes(card))
    -- the card goes away half-way: the card holds a partial file
    assert.is_true(card.sim:set_faults{ disconnect_after = card.sim:apdu_count() + 9 })
    t.servers[1].lifetime = 7
    local _, msg, code = card:write_bootstrap{ data = t, keys = env.keys() }
    assert.is_true(code == scboot.E.WRITE_INCOMPLETE or code == scboot.E.CARD_REMOVED, msg)
    card:close()
    assert.are.equal(scboot.E.STATE, select(3, card:write_bootstrap{ data = t, keys = env.keys() }))
  end)

  it("raises for programming errors", function()
    local card <close> = assert(scboot.sim())
    assert.has_error(function() card:write_bootstrap{ data = "\x00" } end)           -- no keys
    assert.has_error(function() card:write_bootstrap{ keys = env.keys() } end)       -- no data
    assert.has_error(function() card:write_bootstrap{ data = "", keys = env.keys(), pda = true } end)
  end)
end)

describe("card:rotate_keys", function()
  local new_spec = { enc = string.rep("5A", 16), mac = string.rep("A5", 16),
                     dek = string.rep("3C", 16), kvn = 0x31 }

  it("replaces the key set: the new keys work, the old ones no longer", function()
    local card <close> = assert(scboot.sim())
    local new_keys <close> = assert(scboot.keys(new_spec))
    local info = assert(card:rotate_keys{ keys = env.keys(), new_keys = new_keys, replace_kvn = 0x30 })
    assert.is_true(info.apdus > 0)
    assert(card:read_bootstrap{ keys = new_keys })
    local _, msg, code = card:read_bootstrap{ keys = env.keys() }
    -- the card has no set 0x30 any more: 6A88 to INITIALIZE UPDATE
    assert.are.equal(scboot.E.SCP_NO_KEYSET, code, msg)
  end)

  it("fails with nil, message, code", function()
    local card <close> = assert(scboot.sim())
    local new_keys <close> = assert(scboot.keys(new_spec))
    -- the current keys must carry the DEK that wraps the new ones
    env.assert_failure(scboot.E.INVALID_ARG,
                       card:rotate_keys{ keys = assert(scboot.keys{ enc = env.KEY, mac = env.KEY, kvn = 0x30 }),
                                         new_keys = new_keys, replace_kvn = 0x30 })
    env.assert_failure(scboot.E.SCP_CARD_CRYPTOGRAM,
                       card:rotate_keys{ keys = env.keys{ mac = string.rep("22", 16) },
                                         new_keys = new_keys, replace_kvn = 0x30 })
    -- the old keys still work after the failures
    assert(card:read_bootstrap{ keys = env.keys() })
    -- a value the library refuses is a failure, found before the card is touched
    local count = card.sim:apdu_count()
    assert.matches("replace_kvn", env.assert_failure(scboot.E.INVALID_ARG,
      card:rotate_keys{ keys = env.keys(), new_keys = new_keys, replace_kvn = 256 }))
    assert.are.equal(count, card.sim:apdu_count())
    assert.has_error(function() card:rotate_keys{ keys = env.keys() } end)
  end)
end)

describe("card:open_app", function()
  it("opens the application secured: transmits go through SCP03 on its channel", function()
    local card <close> = assert(scboot.sim())
    local info = assert(card:open_app{ keys = env.keys() })
    assert.are.equal(env.PKCS15_AID, info.aid)
    assert.are.equal(1, card:channel())
    assert.are.equal(scboot.level.DEFAULT, card:scp03_level())
    -- SELECT the bootstrap EF and READ BINARY, wrapped by the library
    local resp = assert(card:transmit("\x00\xA4\x00\x0C\x02\x64\x32"))
    assert.are.equal("\x90\x00", resp)
    resp = assert(card:transmit("\x00\xB0\x00\x00\x10"))
    assert.are.equal("\x90\x00", resp:sub(-2))
    assert.are.equal(ef_bytes(card):sub(1, 16), resp:sub(1, 16))
    assert.is_true(card:close_app())
    assert.are.equal(0, card:channel())
    assert.is_nil(card:scp03_level())
  end)

  it("opens without a secure channel when asked, and fails with nil, message, code", function()
    local card <close> = assert(scboot.sim())
    assert(card:open_app{ no_secure_channel = true })
    assert.is_nil(card:scp03_level())
    assert(card:close_app())
    env.assert_failure(scboot.E.NOT_FOUND, card:open_app{ keys = env.keys(), aid = "\xA0\x00\x00\x00\x01", skip_efdir = true })
    assert.has_error(function() card:open_app{} end)
  end)
end)
