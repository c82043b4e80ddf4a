# Finds cuDNN 9 (header cudnn.h, library libcudnn) and defines the imported target Renorm::cudnn.
# Used by the build and, installed beside RenormConfig.cmake, by consumers of the installed library.
if(TARGET Renorm::cudnn)
  return()
endif()
set(_renorm_cudnn_hints ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_LIBRARY_ROOT} /usr/local/cuda)
find_path(RENORM_CUDNN_INCLUDE_DIR cudnn.h HINTS ${_renorm_cudnn_hints} ${CUDAToolkit_INCLUDE_DIRS}
  PATH_SUFFIXES include)
find_library(RENORM_CUDNN_LIBRARY cudnn HINTS ${_renorm_cudnn_hints} ${CUDAToolkit_LIBRARY_DIR}
  PATH_SUFFIXES lib64 lib)
if(RENORM_CUDNN_INCLUDE_DIR AND RENORM_CUDNN_LIBRARY)
  add_library(Renorm::cudnn UNKNOWN IMPORTED)
  set_target_properties(Renorm::cudnn PROPERTIES
    IMPORTED_LOCATION "${RENORM_CUDNN_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${RENORM_CUDNN_INCLUDE_DIR}")
endif()
