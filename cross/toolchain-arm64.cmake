# Debian bookworm arm64 (aarch64-linux-gnu): cmake -DCMAKE_TOOLCHAIN_FILE=cross/toolchain-arm64.cmake
# Sysroot: `cross/sysroot arm64 build-sysroot/arm64` (see toolchain-debian.cmake). Runs under qemu-aarch64.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(aterm_cross_arch arm64)
set(aterm_cross_triplet aarch64-linux-gnu)
set(aterm_cross_qemu qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-debian.cmake)
