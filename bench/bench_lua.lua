-- Binding overhead per transmit: card:transmit from Lua over the in-process
-- virtual card, against the same transmits in a C loop
-- (scb_bind_transmit_loop) on the same card. The card's own work is in
-- both; the difference is what the Lua layer and the SWIG wrapper add.
--
--   LUA_CPATH="build/lua/?.so;;" LUA_PATH="build/lua/?.lua;;" lua5.4 bench/bench_lua.lua
--
-- Prints "name: value unit" lines. SCB_BENCH_N sets the transmits per batch
-- (default 200000); the best of 7 interleaved batches counts (process CPU time).
local scboot = require "scboot"
local core = require "scboot.core"

local N = math.tointeger(tonumber(os.getenv("SCB_BENCH_N") or "")) or 200000
local BATCHES = 7
local SELECT_MF = "\x00\xA4\x00\x0C\x02\x3F\x00"   -- no response data: the card's cheapest answer

local card = assert(scboot.sim())
assert(card:transmit(SELECT_MF) == "\x90\x00", "the virtual card should answer 90 00")
local h = card._h

local function batch(run)
  collectgarbage()
  local t0 = os.clock()
  run()
  return (os.clock() - t0) / N * 1e9
end

local runs = {
  c = function() assert(core.scb_bind_transmit_loop(h, SELECT_MF, N) == 0) end,
  core = function()
    local transmit = core.scb_card_transmit
    for _ = 1, N do transmit(h, SELECT_MF) end
  end,
  lua = function()
    for _ = 1, N do card:transmit(SELECT_MF) end
  end,
}
-- Interleaved batches, the best of each: load from other processes hits
-- all three alike.
local best = { c = math.huge, core = math.huge, lua = math.huge }
for _ = 1, BATCHES do
  for name, run in pairs(runs) do best[name] = math.min(best[name], batch(run)) end
end
local c_ns, core_ns, lua_ns = best.c, best.core, best.lua
card:close()

print(string.format("c_transmit_ns: %.0f ns", c_ns))
print(string.format("lua_transmit_ns: %.0f ns", lua_ns))
print(string.format("lua_core_transmit_overhead_ns: %.0f ns", core_ns - c_ns))
print(string.format("lua_transmit_overhead_ns: %.0f ns", lua_ns - c_ns))
