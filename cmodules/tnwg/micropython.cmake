# _tnwg for the CMake ports (esp32, rp2): the binding plus the WireGuard engine.
# The crypto core is compiled once by cmodules/tncrypto (usermod_tncrypto).
add_library(usermod_tnwg INTERFACE)
set(TNWG_CORE_DIR ${CMAKE_CURRENT_LIST_DIR}/../core)
target_sources(usermod_tnwg INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/mod_tnwg.c
    ${TNWG_CORE_DIR}/wg.c
    ${TNWG_CORE_DIR}/wg_noise.c
    ${TNWG_CORE_DIR}/wg_cookie.c
    ${TNWG_CORE_DIR}/wg_timers.c
    ${TNWG_CORE_DIR}/wg_transport.c
    ${TNWG_CORE_DIR}/wg_replay.c
)
target_include_directories(usermod_tnwg INTERFACE ${TNWG_CORE_DIR})
target_link_libraries(usermod INTERFACE usermod_tnwg)
