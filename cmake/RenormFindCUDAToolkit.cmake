# renorm_find_cuda_toolkit([QUIET]): find_package(CUDAToolkit) that also works with Debian 12's CMake
# 3.25.1 and CUDA 13. That CMake's FindCUDAToolkit sets a deprecation property on CUDA::nvToolsExt
# without checking that the target exists, and CUDA 12.9 and later ship no nvToolsExt, so in a project
# that requires CMake >= 3.25 configuring stops with "set_property could not find TARGET
# CUDA::nvToolsExt" (later CMake releases check the target first). The module takes that branch only
# when the project requires 3.25 or later: for this one call it is told 3.24, on every CMake version (the
# only other effect: CUDA::nvToolsExt, where it exists, is not marked deprecated; renorm does not use it).
# Used by the build and by the installed package.
macro(renorm_find_cuda_toolkit)
  set(_renorm_cmake_minimum ${CMAKE_MINIMUM_REQUIRED_VERSION})
  set(CMAKE_MINIMUM_REQUIRED_VERSION 3.24)
  find_package(CUDAToolkit ${ARGN})
  set(CMAKE_MINIMUM_REQUIRED_VERSION ${_renorm_cmake_minimum})
endmacro()
