# Installs the build into PREFIX and checks that a desktop environment finds and can start the app there:
# the binaries run from the prefix (libtorch found through the install RPATH), the window names its installed
# engine module (lib/glm4v-desktop/libglm4v-worker.so), the desktop entry names the
# installed binary and icon, the icons are where the freedesktop icon theme looks, the PNG is 256x256, and
# desktop-file-validate (Debian's desktop-file-utils) accepts the entry.
#   cmake -DBUILD_DIR=... -DPREFIX=... -DWITH_WINDOW=0|1 -P check_install.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" --component app
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install failed (${rc})")
endif()

execute_process(COMMAND "${PREFIX}/bin/glm4v" --version RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "^glm4v [0-9]")
    message(FATAL_ERROR "the installed glm4v does not run: ${rc} ${out} ${err}")
endif()
if(NOT WITH_WINDOW)
    return()
endif()

set(entry "${PREFIX}/share/applications/glm4v-desktop.desktop")
foreach(f bin/glm4v-desktop share/applications/glm4v-desktop.desktop
          share/icons/hicolor/scalable/apps/glm4v-desktop.svg share/icons/hicolor/256x256/apps/glm4v-desktop.png)
    if(NOT EXISTS "${PREFIX}/${f}")
        message(FATAL_ERROR "not installed: ${f}")
    endif()
endforeach()
file(STRINGS "${entry}" exec REGEX "^Exec=")
file(STRINGS "${entry}" icon REGEX "^Icon=")
if(NOT exec MATCHES "^Exec=glm4v-desktop( |$)" OR NOT icon STREQUAL "Icon=glm4v-desktop")
    message(FATAL_ERROR "the desktop entry must start glm4v-desktop with its icon: ${exec} ${icon}")
endif()
# The window loads its engine from the module that --version names: it must be the installed one.
execute_process(COMMAND "${PREFIX}/bin/glm4v-desktop" --version RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "engine module: ([^\n]+)")
    message(FATAL_ERROR "the installed glm4v-desktop --version does not run or name its engine module: ${rc} ${out} ${err}")
endif()
set(module "${CMAKE_MATCH_1}")
file(REAL_PATH "${PREFIX}" prefix_real)
if(NOT EXISTS "${module}" OR NOT module MATCHES "^${prefix_real}/")
    message(FATAL_ERROR "the installed glm4v-desktop would load ${module}, not a module installed under ${PREFIX}")
endif()
execute_process(COMMAND ldd "${module}" OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(out MATCHES "not found")
    message(FATAL_ERROR "the installed engine module lacks libraries (its RPATH?): ${out}")
endif()
# PNG: width and height are the big-endian words at bytes 16 and 20 of the IHDR chunk.
file(READ "${PREFIX}/share/icons/hicolor/256x256/apps/glm4v-desktop.png" ihdr OFFSET 16 LIMIT 8 HEX)
if(NOT ihdr STREQUAL "0000010000000100")
    message(FATAL_ERROR "the 256x256 icon is not 256x256 (IHDR ${ihdr})")
endif()
find_program(validate desktop-file-validate)
if(validate)
    execute_process(COMMAND "${validate}" "${entry}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "desktop-file-validate: ${out} ${err}")
    endif()
else()
    message(WARNING "desktop-file-validate (desktop-file-utils) not found: the entry's syntax was not validated")
endif()
