# Cross build for arm64 with Debian's cross compiler (gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross) and arm64 libraries (libssl-dev, libpcsclite-dev,
# libjson-c-dev, libp11-kit-dev), either
#   - installed as Debian multiarch packages (libssl-dev:arm64 ... in
#     /usr/lib/aarch64-linux-gnu): the default; or
#   - the same packages unpacked into a directory, -DSCB_CROSS_SYSROOT=DIR
#     (DIR/usr/lib/aarch64-linux-gnu, DIR/usr/include, .pc files whose
#     prefix points into DIR), for a machine whose amd64 packages are at
#     other versions than the archive's arm64 ones (Multi-Arch: same
#     packages must match, so installing them would change the host);
#     DIR/lib links the cross libc's files.
# Test programs run under qemu-user (Debian's qemu-user):
# CMAKE_CROSSCOMPILING_EMULATOR, with the cross libc as its -L prefix.
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
# (./project.sh cross arm64 does all of it.)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# try_compile projects read this file again: pass the sysroot on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SCB_CROSS_SYSROOT)

find_program(SCB_QEMU_AARCH64 qemu-aarch64)
if(NOT SCB_QEMU_AARCH64)
  set(SCB_QEMU_AARCH64 qemu-aarch64)
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR ${SCB_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)   # cmake, swig, scdoc: the host's

if(SCB_CROSS_SYSROOT)
  set(_libdir ${SCB_CROSS_SYSROOT}/usr/lib/aarch64-linux-gnu)
  set(CMAKE_FIND_ROOT_PATH ${SCB_CROSS_SYSROOT})
  set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
  # packages both there and on the host (an arm64 install of scboot itself)
  set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
  set(CMAKE_C_FLAGS_INIT
      "-isystem ${SCB_CROSS_SYSROOT}/usr/include/aarch64-linux-gnu -isystem ${SCB_CROSS_SYSROOT}/usr/include")
  # the libraries' own dependencies (libscboot.so -> libcrypto.so.3) at link time
  foreach(kind EXE SHARED MODULE)
    set(CMAKE_${kind}_LINKER_FLAGS_INIT "-L${_libdir} -Wl,-rpath-link,${_libdir}")
  endforeach()
  set(ENV{PKG_CONFIG_LIBDIR} "${_libdir}/pkgconfig:${SCB_CROSS_SYSROOT}/usr/share/pkgconfig")
  # qemu's prefix: the sysroot, whose lib/ links the cross libc
  # (/usr/aarch64-linux-gnu/lib: cmake/cross.sh makes the links), so that
  # every program finds both without LD_LIBRARY_PATH.
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SCB_QEMU_AARCH64} -L ${SCB_CROSS_SYSROOT})
else()
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
endif()
