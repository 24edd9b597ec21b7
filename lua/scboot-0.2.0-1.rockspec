-- LuaRocks package of the Lua module, built by the project's CMake (the C
-- library is linked into the module statically, so the rock installs just
-- scboot.lua and scboot/core.so). From a source checkout:
--   luarocks --lua-version 5.4 make lua/scboot-0.2.0-1.rockspec
rockspec_format = "3.0"
package = "scboot"
version = "0.2.0-1"
source = {
  -- `luarocks make` builds the checkout it runs in; a packed source rock
  -- would point here at the project's release archive.
  url = "git+file://.",
}
description = {
  summary = "LwM2M bootstrap information from a smartcard (UICC) over GlobalPlatform SCP03",
  detailed = [[
Reads the LwM2M bootstrap accounts (Security, Server and other objects) that
a UICC stores under PKCS#15 (OMA LwM2M appendix), through an SCP03 secure
channel at level 0x33, from PC/SC readers, cellular modems (AT+CSIM) or any
Lua transport function; includes a virtual card for tests. Building needs
CMake, SWIG 4, OpenSSL 3, pcsc-lite and json-c development files.
]],
  license = "See the repository",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  OPENSSL = { header = "openssl/evp.h" },
  PCSCLITE = { header = "PCSC/winscard.h" },
  JSONC = { header = "json-c/json.h" },
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    SCB_BUILD_LUA = "ON",
    SCB_BUILD_PYTHON = "OFF",
    SCB_BUILD_CLI = "OFF",
    SCB_BUILD_TESTS = "OFF",
  },
  -- CMake's install target would add the C library, headers and CMake
  -- files; the rock takes the two module files from the build tree.
  install_pass = false,
  install = {
    lua = { scboot = "build.luarocks/lua/scboot.lua" },
    lib = { ["scboot.core"] = "build.luarocks/lua/scboot/core.so" },
  },
}
