# The CUDA-side libraries the toolkit's FindCUDAToolkit does not cover, as imported targets:
#   Renorm::cudnn  cuDNN 9 (cudnn.h, libcudnn; hints CUDNN_ROOT)
#   Renorm::nccl   NCCL (nccl.h, libnccl; hints NCCL_ROOT; the CUDA toolkit ships it here)
# Used by the build and, installed beside RenormConfig.cmake, by consumers of the installed library, so
# that the exported link interface names these targets, never the build machine's file paths. A target
# is defined only when its header and library are both found.
function(_renorm_import_library target header library root_var)
  if(TARGET ${target})
    return()
  endif()
  set(hints ${${root_var}} $ENV{${root_var}} ${CUDAToolkit_LIBRARY_ROOT} /usr/local/cuda)
  string(TOUPPER ${library} up)
  find_path(RENORM_${up}_INCLUDE_DIR ${header} HINTS ${hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
  find_library(RENORM_${up}_LIBRARY ${library} HINTS ${hints} ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib64 lib)
  if(RENORM_${up}_INCLUDE_DIR AND RENORM_${up}_LIBRARY)
    add_library(${target} UNKNOWN IMPORTED GLOBAL)
    set_target_properties(${target} PROPERTIES
      IMPORTED_LOCATION "${RENORM_${up}_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${RENORM_${up}_INCLUDE_DIR}")
  endif()
endfunction()
_renorm_import_library(Renorm::cudnn cudnn.h cudnn CUDNN_ROOT)
_renorm_import_library(Renorm::nccl nccl.h nccl NCCL_ROOT)
