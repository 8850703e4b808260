# Install rules and the Debian package (included by the top-level CMakeLists.txt).
#   bin/glm4v, bin/glm4v-desktop
#   lib/glm4v-desktop/libglm4v-worker.so              (the window's engine, loaded after its first frame)
#   share/applications/glm4v-desktop.desktop          (menus and launchers find it here)
#   share/icons/hicolor/{scalable,256x256}/apps/glm4v-desktop.{svg,png}
#   share/doc/glm4v-desktop/                           (README, docs)
include(GNUInstallDirs)

# Installed binaries keep finding libtorch in the virtual environment they were linked against, and CUDA's
# libraries: `cmake --install` strips the build RPATH, and CMake counts the project's own .venv as inside the
# project, so its library folder is named here (GLM4V_BUNDLE_TORCH below replaces it for the .deb).
foreach(target glm4v glm4v-desktop glm4v-worker)
    if(TARGET ${target})
        set_target_properties(${target} PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON INSTALL_RPATH "${TORCH_INSTALL_PREFIX}/lib")
    endif()
endforeach()

if(TARGET glm4v)
    install(TARGETS glm4v RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT app)
endif()
if(TARGET glm4v-desktop)
    install(TARGETS glm4v-desktop RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT app)
    install(TARGETS glm4v-worker LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/glm4v-desktop COMPONENT app)
    install(FILES ${PROJECT_SOURCE_DIR}/packaging/glm4v-desktop.desktop
            DESTINATION ${CMAKE_INSTALL_DATADIR}/applications COMPONENT app)
    install(FILES ${PROJECT_SOURCE_DIR}/assets/glm4v-desktop.svg
            DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps COMPONENT app)
    install(FILES ${PROJECT_SOURCE_DIR}/assets/glm4v-desktop.png
            DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/256x256/apps COMPONENT app)
endif()
foreach(doc README.md docs/gui.md docs/history.md docs/screenshot.png)
    if(EXISTS ${PROJECT_SOURCE_DIR}/${doc})
        install(FILES ${PROJECT_SOURCE_DIR}/${doc} DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT app)
    endif()
endforeach()

# The binaries find libtorch through the RPATH CMake gives them from the virtual environment; a package
# must carry libtorch itself. Set GLM4V_BUNDLE_TORCH (for the .deb) to install the wheel's shared libraries and
# the CUDA libraries it came with (PyPI's nvidia-* packages) under lib/glm4v, in the wheel's own layout
# (torch/lib beside nvidia/<package>/lib): libtorch finds CUDA's libraries through RPATHs relative to itself,
# $ORIGIN/../../nvidia/cu13/lib and the like. The binaries' RPATH then points at lib/glm4v/torch/lib.
option(GLM4V_BUNDLE_TORCH "Install libtorch's and CUDA's shared libraries with the binaries (for the .deb)" OFF)
if(GLM4V_BUNDLE_TORCH AND TORCH_INSTALL_PREFIX)
    set(glm4v_bundle ${CMAKE_INSTALL_LIBDIR}/glm4v)
    foreach(target glm4v glm4v-desktop)
        if(TARGET ${target})
            set_target_properties(${target} PROPERTIES INSTALL_RPATH_USE_LINK_PATH OFF
                                  INSTALL_RPATH "$ORIGIN/../${glm4v_bundle}/torch/lib")
        endif()
    endforeach()
    if(TARGET glm4v-worker)
        set_target_properties(glm4v-worker PROPERTIES INSTALL_RPATH_USE_LINK_PATH OFF INSTALL_RPATH "$ORIGIN/../glm4v/torch/lib")
    endif()
    install(DIRECTORY ${TORCH_INSTALL_PREFIX}/lib/ DESTINATION ${glm4v_bundle}/torch/lib COMPONENT app
            FILES_MATCHING PATTERN "*.so*")
    if(IS_DIRECTORY ${TORCH_INSTALL_PREFIX}/../nvidia)
        install(DIRECTORY ${TORCH_INSTALL_PREFIX}/../nvidia/ DESTINATION ${glm4v_bundle}/nvidia COMPONENT app
                FILES_MATCHING PATTERN "*.so*")
    endif()
    # Depends from the project's own binaries only (deb_depends.cmake says why).
    set(glm4v_deb_binaries "$<TARGET_FILE:glm4v>")
    if(TARGET glm4v-worker)
        string(APPEND glm4v_deb_binaries ";$<TARGET_FILE:glm4v-desktop>;$<TARGET_FILE:glm4v-worker>")
    endif()
    file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/deb_binaries.cmake CONTENT
         "set(GLM4V_DEB_BINARIES \"${glm4v_deb_binaries}\")\nset(GLM4V_DEB_TORCH_LIB \"${TORCH_INSTALL_PREFIX}/lib\")\n")
    set(CPACK_GLM4V_DEB_BINARIES_FILE ${PROJECT_BINARY_DIR}/deb_binaries.cmake)
    set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/packaging/deb_depends.cmake)
endif()

set(CPACK_PACKAGE_NAME "glm4v-desktop")
set(CPACK_PACKAGE_VENDOR "glm4v-desktop")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "glm4v-desktop maintainers <glm4v-desktop@localhost>")
set(CPACK_GENERATOR "DEB")
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_DEBIAN_PACKAGE_SECTION "graphics")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
if(GLM4V_BUNDLE_TORCH)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF) # deb_depends.cmake instead
else()
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # dpkg-shlibdeps fills Depends from the linked libraries
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fonts-noto-cjk")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nvidia-driver")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "GLM-4V-9B vision-language model on your own NVIDIA GPU, offline.\n Drop a photo into the window and chat about it; every conversation is kept for follow-up\n questions later. The model files are not included.")
set(CPACK_STRIP_FILES OFF)
include(CPack)
