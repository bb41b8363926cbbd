# Shared part of the cross/toolchain-ARCH.cmake files: Debian's cross compilers
# (g++-<triplet>) against a sysroot made by `cross/sysroot ARCH DIR`, and qemu-user as
# CMAKE_CROSSCOMPILING_EMULATOR so try_run and tests run the target binaries.
# REQUIRES: aterm_cross_arch (Debian architecture), aterm_cross_triplet, aterm_cross_qemu and
# CMAKE_SYSTEM_PROCESSOR set by the including file.
#
# The sysroot is $ENV{ATERM_SYSROOT} when set, else <source>/build-sysroot/<arch> (where
# scripts/cross-build keeps it).
set(CMAKE_SYSTEM_NAME Linux)

if(DEFINED ENV{ATERM_SYSROOT} AND NOT "$ENV{ATERM_SYSROOT}" STREQUAL "")
  set(aterm_sysroot "$ENV{ATERM_SYSROOT}")
else()
  get_filename_component(aterm_sysroot "${CMAKE_CURRENT_LIST_DIR}/../build-sysroot/${aterm_cross_arch}"
                         ABSOLUTE)
endif()
if(NOT EXISTS "${aterm_sysroot}/.complete")
  message(FATAL_ERROR "No ${aterm_cross_arch} sysroot at ${aterm_sysroot}: run "
                      "`cross/sysroot ${aterm_cross_arch} ${aterm_sysroot}` (or scripts/cross-build)")
endif()
set(CMAKE_SYSROOT "${aterm_sysroot}")

set(CMAKE_C_COMPILER ${aterm_cross_triplet}-gcc)
set(CMAKE_CXX_COMPILER ${aterm_cross_triplet}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${aterm_cross_triplet})

find_program(aterm_qemu ${aterm_cross_qemu})
if(aterm_qemu)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${aterm_qemu};-L;${aterm_sysroot}")
endif()

# Libraries, headers and CMake packages from the sysroot only; programs from the host.
set(CMAKE_FIND_ROOT_PATH "${aterm_sysroot}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(ENV{PKG_CONFIG_SYSROOT_DIR} "${aterm_sysroot}")
set(ENV{PKG_CONFIG_LIBDIR}
    "${aterm_sysroot}/usr/lib/${aterm_cross_triplet}/pkgconfig:${aterm_sysroot}/usr/share/pkgconfig")

# Shared libraries needed only indirectly (libssl by libpaho-mqtt3as) are resolved in the sysroot.
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "-Wl,-rpath-link,${aterm_sysroot}/usr/lib/${aterm_cross_triplet}:${aterm_sysroot}/lib/${aterm_cross_triplet}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${CMAKE_EXE_LINKER_FLAGS_INIT}")
