# Debian bookworm mipsel (mipsel-linux-gnu): cmake -DCMAKE_TOOLCHAIN_FILE=cross/toolchain-mipsel.cmake
# Sysroot: `cross/sysroot mipsel build-sysroot/mipsel` (see toolchain-debian.cmake). Runs under qemu-mipsel.
set(CMAKE_SYSTEM_PROCESSOR mipsel)
set(aterm_cross_arch mipsel)
set(aterm_cross_triplet mipsel-linux-gnu)
set(aterm_cross_qemu qemu-mipsel)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-debian.cmake)
