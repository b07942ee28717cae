# _tnnet (netstack hot loops) for the CMake ports (esp32, rp2).
add_library(usermod_tnnet INTERFACE)
target_sources(usermod_tnnet INTERFACE ${CMAKE_CURRENT_LIST_DIR}/mod_tnnet.c)
target_link_libraries(usermod INTERFACE usermod_tnnet)
