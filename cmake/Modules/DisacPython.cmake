# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
# Helpers for python/disac/CMakeLists.txt (see the comment at its top).

# disac_install_subpackages(<destination of the package>)
# Installs every sub-package of the current source folder (a sub-folder, at any depth, holding an
# __init__.py) to <destination>/<its path>, every .py found by glob except the qa_*.py tests, and adds
# each qa_*.py of them as a ctest test <dotted path>.qa_<name> run from the build tree's copy.
function(disac_install_subpackages destination)
    file(GLOB_RECURSE inits RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} CONFIGURE_DEPENDS
         "${CMAKE_CURRENT_SOURCE_DIR}/*/__init__.py")
    list(FILTER inits EXCLUDE REGEX "(^|/)__pycache__/")
    foreach(init ${inits})
        get_filename_component(subpackage "${init}" DIRECTORY)
        file(GLOB modules RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} CONFIGURE_DEPENDS
             "${CMAKE_CURRENT_SOURCE_DIR}/${subpackage}/*.py")
        set(installed ${modules})
        list(FILTER installed EXCLUDE REGEX "(^|/)qa_[^/]*\\.py$")
        GR_PYTHON_INSTALL(FILES ${installed} DESTINATION ${destination}/${subpackage})
        set(tests ${modules})
        list(FILTER tests INCLUDE REGEX "(^|/)qa_[^/]*\\.py$")
        foreach(qa_file ${tests})
            # blocks/qa_bar.py -> test "blocks.qa_bar"
            string(REGEX REPLACE "\\.py$" "" test_name "${qa_file}")
            string(REPLACE "/" "." test_name "${test_name}")
            GR_ADD_TEST(${test_name} ${PYTHON_EXECUTABLE} -B
                        ${PROJECT_BINARY_DIR}/test_modules/gnuradio/disac/${qa_file})
        endforeach()
    endforeach()
endfunction()

# disac_check_listed(<this CMakeLists.txt>)
# Fails the configure step when a module in the package's own folder (not a sub-package, not a qa_
# test) is named nowhere in the given CMakeLists.txt: a module it would silently not install.
function(disac_check_listed cmakelists)
    file(READ "${cmakelists}" listing)
    file(GLOB top_files RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*.py")
    list(FILTER top_files EXCLUDE REGEX "^qa_")
    foreach(py_file ${top_files})
        string(REGEX MATCH "[ \t\n/]${py_file}[ \t\n)]" found "${listing}")
        if(NOT found)
            message(FATAL_ERROR "python/disac/${py_file} is not listed in ${cmakelists}: add it to the FILES "
                                "of the first GR_PYTHON_INSTALL (gr_modtool add does it), or move it into a "
                                "sub-package")
        endif()
    endforeach()
endfunction()
