# Debian bookworm armhf (arm-linux-gnueabihf): cmake -DCMAKE_TOOLCHAIN_FILE=cross/toolchain-armhf.cmake
# Sysroot: `cross/sysroot armhf build-sysroot/armhf` (see toolchain-debian.cmake). Runs under qemu-arm.
set(CMAKE_SYSTEM_PROCESSOR arm)
set(aterm_cross_arch armhf)
set(aterm_cross_triplet arm-linux-gnueabihf)
set(aterm_cross_qemu qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-debian.cmake)
