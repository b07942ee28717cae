# Top-level USER_C_MODULES file for the CMake ports (esp32, rp2):
#   make ... USER_C_MODULES=<repo>/cmodules/micropython.cmake
# Includes every binding module's cmodules/<name>/micropython.cmake (e.g. tncrypto -> _tncrypto,
# tnwg -> _tnwg), so a new module directory is picked up without editing this file.
file(GLOB TAILNET_CMODULE_FILES ${CMAKE_CURRENT_LIST_DIR}/*/micropython.cmake)
list(SORT TAILNET_CMODULE_FILES)
foreach(_tn_cmodule ${TAILNET_CMODULE_FILES})
    message(STATUS "tailnet: C module ${_tn_cmodule}")
    include(${_tn_cmodule})
endforeach()
