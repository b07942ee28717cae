# _tncrypto for the CMake ports (esp32, rp2): the binding plus the crypto core.
add_library(usermod_tncrypto INTERFACE)
get_filename_component(TNCORE_DIR ${CMAKE_CURRENT_LIST_DIR}/../core ABSOLUTE)
target_sources(usermod_tncrypto INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/mod_tncrypto.c
    ${TNCORE_DIR}/util.c
    ${TNCORE_DIR}/x25519.c
    ${TNCORE_DIR}/chacha20.c
    ${TNCORE_DIR}/poly1305.c
    ${TNCORE_DIR}/aead.c
    ${TNCORE_DIR}/salsa20.c
    ${TNCORE_DIR}/blake2s.c
)
target_include_directories(usermod_tncrypto INTERFACE ${TNCORE_DIR})
target_link_libraries(usermod INTERFACE usermod_tncrypto)
# The rp2 port builds MinSizeRel (-Os). The symmetric ciphers run faster
# on Cortex-M0+ at -O2 (5-10%, measured with tools/bench/crypto_m0_unicorn.py);
# X25519 is faster at -Os there, so it keeps the port's default.
set_source_files_properties(${TNCORE_DIR}/chacha20.c ${TNCORE_DIR}/poly1305.c
    PROPERTIES COMPILE_OPTIONS "-O2")
