-- scboot.decode, the bootstrap table format, JSON and hex helpers.
local scboot = require "scboot"
local core = require "scboot.core"
local env = require "testenv"

-- The value a fact [object, instance, resource, (resource instance,) value]
-- of tests/vectors/lwm2m.json names in a decoded table. Resource keys come
-- from the library's object table (scb_lwm2m_resource_info).
local function fact_value(t, obj, inst, res, rinst)
  local rc, info = core.scb_lwm2m_resource_info(obj, res)
  local key = rc == 0 and info.key or tostring(res)
  local value
  if obj == 0 or obj == 1 then
    for _, i in ipairs(obj == 0 and t.security or t.servers) do
      if i.instance == inst then value = i[key] end
    end
  else
    for _, o in ipairs(t.objects) do
      if o.id == obj then
        for _, i in ipairs(o.instances) do
          if i.id == inst then value = i.resources[key] end
        end
      end
    end
  end
  if rinst ~= nil and type(value) == "table" then value = value[tostring(rinst)] end
  return value
end

local function check_facts(t, facts)
  for _, f in ipairs(facts) do
    local rinst = #f == 5 and f[4] or nil
    local want = f[#f]
    local got = fact_value(t, f[1], f[2], f[3], rinst)
    if type(want) == "table" then   -- {"hex": ..}: opaque bytes
      if type(got) == "table" then got = got.hex end
      assert.are.equal(want.hex:lower(), got)
    else
      assert.are.equal(want, got)
      if math.type(want) == "integer" then assert.are.equal("integer", math.type(got)) end
    end
  end
end

-- A bootstrap file with one Security instance whose identity is the
-- opaque bytes 00 FF 00 and security mode 3, written out by hand:
-- nobjects, size, { object id, version 00, length, OMA-TLV }.
local BINARY_FILE = "\x00\x01\x00\x11" .. "\x00\x00\x00\x00\x0C"
  .. "\x08\x00\x09" .. "\xC8\x03\x03\x00\xFF\x00" .. "\xC1\x02\x03"

describe("scboot.decode", function()
  local nordic = env.vector("lwm2m.json", "nordic_bootstrap")
  local nordic_raw = assert(scboot.unhex(nordic.raw))

  it("decodes the Nordic bootstrap file (lwm2m.json) with its facts", function()
    local t = assert(scboot.decode(nordic_raw))
    assert.are.equal(nordic.expect.objects, #t.security)
    assert.are.equal(0, #t.servers)
    assert.are.equal(0, #t.objects)
    check_facts(t, nordic.expect.facts)
    assert.is_nil(t.versions)   -- object 0 has the implicit version 00
  end)

  it("keeps the file bytes, FF padding included, as raw", function()
    local t = assert(scboot.decode(nordic_raw))
    assert.are.equal(nordic_raw, t.raw)
    assert.are.equal(nordic.expect.trailing_padding:lower(), scboot.hex(t.raw:sub(-2)))
  end)

  it("digests the meaningful bytes only (no padding)", function()
    local t = assert(scboot.decode(nordic_raw))
    local unpadded = assert(scboot.decode(nordic_raw:sub(1, 4 + nordic.expect.size)))
    assert.matches("^%x+$", t.digest)
    assert.are.equal(64, #t.digest)
    assert.are.equal(t.digest, unpadded.digest)
    local other = assert(scboot.decode(BINARY_FILE))
    assert.are_not.equal(t.digest, other.digest)
  end)

  it("gives integers as Lua integers and booleans as booleans", function()
    local t = assert(scboot.decode(nordic_raw))
    assert.are.equal("integer", math.type(t.security[1].security_mode))
    assert.are.equal("integer", math.type(t.security[1].instance))
    assert.is_true(t.security[1].bootstrap_server)
  end)

  it("is binary safe: opaque values with 00 and FF bytes", function()
    local t = assert(scboot.decode(BINARY_FILE))
    assert.are.equal("00ff00", t.security[1].public_key_or_identity)
    assert.are.equal(BINARY_FILE, t.raw)
  end)

  describe("on the virtual card's bootstrap file", function()
    local sim = assert(scboot.virtual_card())
    -- the EF behind the PKCS#15 ADF (5015) as the sim stores it: 1024 bytes, FF padded
    local raw = assert(sim:read_file("\x50\x15\x64\x32"))
    sim:close()

    it("reads servers, security and versions", function()
      local t = assert(scboot.decode(raw))
      assert.are.equal(1024, #t.raw)
      assert.are.equal(86400, t.servers[1].lifetime)
      assert.are.equal(101, t.servers[1].short_server_id)
      assert.are.equal("U", t.servers[1].binding)
      assert.are.equal("coaps://bs.example.com:5684", t.security[1].server_uri)
      assert.are.equal("coaps://lwm2m.example.com:5684", t.security[2].server_uri)
      assert.are.equal("1.1", t.versions["1"])
    end)

    it("redacts secret resources unless secrets are asked for", function()
      local redacted = assert(scboot.decode(raw))
      assert.are.equal(core.SCBJ_REDACTED, redacted.security[1].secret_key)
      assert.are.equal(core.SCBJ_REDACTED, redacted.security[2].secret_key)
      local shown = assert(scboot.decode(raw, { secrets = true }))
      assert.are.equal("000102030405060708090a0b0c0d0e0f", shown.security[1].secret_key)
      assert.are.equal("101112131415161718191a1b1c1d1e1f", shown.security[2].secret_key)
      assert.are.equal(redacted.digest, shown.digest)
    end)

    it("works as documented from the lua5.4 command line", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write(raw)
      f:close()
      local cmd = string.format(
        [[lua5.4 -e 'print(require("scboot").decode(io.open(%q,"rb"):read("a")).servers[1].lifetime)']],
        path)
      local p = assert(io.popen(cmd))
      local out = p:read("a")
      local ok = p:close()
      os.remove(path)
      assert.is_true(ok)
      assert.are.equal("86400\n", out)
    end)
  end)

  describe("failures", function()
    it("returns nil, message, SCB_E_PARSE for malformed files, naming what and where", function()
      local msg = env.assert_failure(scboot.E.PARSE, scboot.decode("\x00\x01\x00"))
      assert.matches("header", msg)
      -- the size field promises more bytes than there are
      env.assert_failure(scboot.E.PARSE, scboot.decode("\x00\x01\x00\x36\x00\x00\x00"))
      -- an instance TLV that claims one byte more than its object holds
      local overrun = BINARY_FILE:gsub("\x08\x00\x09", "\x08\x00\x0A")
      env.assert_failure(scboot.E.PARSE, scboot.decode(overrun))
      env.assert_failure(scboot.E.PARSE, scboot.decode(""))
    end)

    it("raises for arguments of the wrong type (programming errors)", function()
      assert.has_error(function() scboot.decode(nil) end)
      assert.has_error(function() scboot.decode(42) end)
      assert.has_error(function() scboot.decode(nordic_raw, { secret = true }) end)
    end)
  end)
end)

describe("JSON helpers", function()
  it("round-trips a document, arrays staying arrays even when empty", function()
    local text = '{"a":[],"b":{"c":[1,2.5,"x\\u0000y",true,false]},"d":{}}'
    local v = assert(scboot.json_decode(text))
    assert.are.equal(0, #v.a)
    assert.are.equal("x\0y", v.b.c[3])
    assert.are.equal("integer", math.type(v.b.c[1]))
    assert.are.equal(text, assert(scboot.json_encode(v)))
  end)

  it("writes object keys in order and integral floats as integers", function()
    assert.are.equal('{"a":1,"b":43200,"c":0.5}', scboot.json_encode{ c = 0.5, b = 86400 / 2, a = 1 })
  end)

  it("returns nil, message, code for what has no JSON form, naming the place", function()
    local msg = env.assert_failure(scboot.E.VALIDATION, scboot.json_encode{ a = { print } })
    assert.matches("a%[1%]", msg)
    msg = env.assert_failure(scboot.E.VALIDATION, scboot.json_encode{ x = 0 / 0 })
    assert.matches("^x: NaN", msg)
    env.assert_failure(scboot.E.VALIDATION, scboot.json_encode{ 1, 2, k = 3 })
    env.assert_failure(scboot.E.VALIDATION, scboot.json_encode{ [1] = 1, [3] = 3 })
    local cycle = {}
    cycle.self = cycle
    msg = env.assert_failure(scboot.E.VALIDATION, scboot.json_encode(cycle))
    assert.matches("cycle", msg)
    env.assert_failure(scboot.E.VALIDATION, scboot.json_decode('{"a": }'))
    env.assert_failure(scboot.E.VALIDATION, scboot.json_decode('[1] 2'))
    -- as strict as the library's formats: a member twice, placed by line and column
    local v, msg = scboot.json_decode('{"a": 1,\n "a": 2}')
    assert.is_nil(v)
    assert.truthy(msg:find("a: key appears twice (line 2, column 2", 1, true), msg)
    assert.is_nil((scboot.json_decode("null")))
  end)
end)

describe("hex helpers", function()
  it("convert both ways, binary safe", function()
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    all = table.concat(all)
    assert.are.equal(all, scboot.unhex(scboot.hex(all)))
    assert.are.equal("\x00\xA4\x04\x00", scboot.unhex("00 a4 04 00"))
  end)

  it("return nil, message, code for text that is not hex", function()
    env.assert_failure(scboot.E.INVALID_ARG, scboot.unhex("0g"))
    env.assert_failure(scboot.E.INVALID_ARG, scboot.unhex("abc"))
  end)
end)
