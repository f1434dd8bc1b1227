# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
# disac_find_gnuradio(MIN_VERSION <v> BELOW_VERSION <v>)
#
# Finds GNU Radio for a Python-only module without a compiler:
#   - GR_VERSION and GR_PREFIX: asked from ${PYTHON_EXECUTABLE} (`from gnuradio import gr`), i.e. the
#     runtime the blocks and the qa tests will really use; fails unless MIN_VERSION <= GR_VERSION <
#     BELOW_VERSION;
#   - GR_CMAKE_MODULES_DIR: the folder of GNU Radio's CMake helpers (GrPython.cmake, GrTest.cmake),
#     searched in Gnuradio_DIR (if given) and <GR_PREFIX>/lib[/<multiarch>|64]/cmake/gnuradio; it is
#     appended to CMAKE_MODULE_PATH.
# (CMake's own multiarch detection, CMAKE_LIBRARY_ARCHITECTURE, comes from a compiler; here the
# multiarch triplet is the interpreter's sysconfig MULTIARCH, e.g. x86_64-linux-gnu on Debian.)
function(disac_find_gnuradio)
    cmake_parse_arguments(ARG "" "MIN_VERSION;BELOW_VERSION" "" ${ARGN})
    execute_process(
        COMMAND "${PYTHON_EXECUTABLE}" -c
                "import sysconfig; from gnuradio import gr; print(gr.version()); print(gr.prefix()); print(sysconfig.get_config_var('MULTIARCH') or '')"
        OUTPUT_VARIABLE probe ERROR_VARIABLE probe_error RESULT_VARIABLE probe_status
        OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT probe_status EQUAL 0)
        message(FATAL_ERROR "GNU Radio does not import under PYTHON_EXECUTABLE=${PYTHON_EXECUTABLE}:\n"
                            "${probe_error}\nInstall Debian's gnuradio, or pass -DPYTHON_EXECUTABLE="
                            "<a python that has it>, e.g. a venv made with --system-site-packages.")
    endif()
    string(REPLACE "\n" ";" probe "${probe}")
    list(GET probe 0 version)
    list(GET probe 1 prefix)
    list(LENGTH probe probe_length)
    set(multiarch "")
    if(probe_length GREATER 2)
        list(GET probe 2 multiarch)
    endif()
    string(REGEX MATCH "^[0-9]+(\\.[0-9]+)*" numeric_version "${version}")
    if(numeric_version VERSION_LESS ARG_MIN_VERSION OR NOT numeric_version VERSION_LESS ARG_BELOW_VERSION)
        message(FATAL_ERROR "GNU Radio ${version} found under ${PYTHON_EXECUTABLE}; gr-disac needs "
                            ">= ${ARG_MIN_VERSION} and < ${ARG_BELOW_VERSION}")
    endif()
    set(suffixes lib/cmake/gnuradio lib64/cmake/gnuradio)
    if(multiarch)
        list(INSERT suffixes 0 lib/${multiarch}/cmake/gnuradio)
    endif()
    find_path(GR_CMAKE_MODULES_DIR GrPython.cmake
              HINTS ${Gnuradio_DIR}
              PATHS ${prefix}
              PATH_SUFFIXES ${suffixes}
              NO_DEFAULT_PATH)
    if(NOT GR_CMAKE_MODULES_DIR)
        message(FATAL_ERROR "GNU Radio's CMake modules (GrPython.cmake) not found under ${prefix} "
                            "(${suffixes}): install gnuradio-dev, or pass -DGnuradio_DIR=<folder of GrPython.cmake>")
    endif()
    list(APPEND CMAKE_MODULE_PATH "${GR_CMAKE_MODULES_DIR}")
    set(CMAKE_MODULE_PATH "${CMAKE_MODULE_PATH}" PARENT_SCOPE)
    set(GR_VERSION "${version}" PARENT_SCOPE)
    set(GR_PREFIX "${prefix}" PARENT_SCOPE)
    message(STATUS "gr-disac: GNU Radio ${version} (prefix ${prefix}), CMake modules in ${GR_CMAKE_MODULES_DIR}")
endfunction()
