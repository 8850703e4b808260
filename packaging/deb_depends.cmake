# CPack project config (CPACK_PROJECT_CONFIG_FILE) for a .deb that carries libtorch and CUDA's libraries
# (GLM4V_BUNDLE_TORCH): the package's Depends. dpkg-shlibdeps over the whole package fails on the bundled
# libraries (they need the driver's libcuda.so.1, which no package provides), so it runs over the project's own
# binaries only, finding libtorch in the virtual environment, where it has no Debian package: those are the
# package's own (--ignore-missing-info).
if(NOT CPACK_GENERATOR STREQUAL "DEB" OR NOT CPACK_GLM4V_DEB_BINARIES_FILE)
    return()
endif()
include(${CPACK_GLM4V_DEB_BINARIES_FILE}) # GLM4V_DEB_BINARIES, GLM4V_DEB_TORCH_LIB
set(work ${CPACK_PACKAGE_DIRECTORY}/_glm4v_shlibdeps)
file(WRITE ${work}/debian/control "Source: glm4v-desktop\n\nPackage: glm4v-desktop\nArchitecture: any\n")
set(args)
foreach(binary ${GLM4V_DEB_BINARIES})
    list(APPEND args -e${binary})
endforeach()
execute_process(COMMAND dpkg-shlibdeps -O --ignore-missing-info -l${GLM4V_DEB_TORCH_LIB} ${args}
                WORKING_DIRECTORY ${work} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "shlibs:Depends=([^\n]*)")
    message(FATAL_ERROR "dpkg-shlibdeps on the project's binaries failed (${rc}): ${err}")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${CMAKE_MATCH_1}, ${CPACK_DEBIAN_PACKAGE_DEPENDS}")
