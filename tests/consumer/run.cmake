# Installs the build tree into a scratch prefix, configures and builds tests/consumer against it with
# find_package(Renorm), and runs the result. Invoked by the CTest test install_and_consume.
file(REMOVE_RECURSE ${WORK_DIR})
macro(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer test: '${ARGN}' failed with ${rc}")
  endif()
endmacro()
step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
# The exported link interface names targets that the package finds on the consumer's machine
# (find_dependency, RenormCudaLibraries.cmake), never a file of the build machine's.
file(GLOB exported ${WORK_DIR}/prefix/lib*/cmake/Renorm/RenormTargets*.cmake)
foreach(f ${exported})
  file(STRINGS ${f} links REGEX "INTERFACE_LINK_LIBRARIES")
  if(links MATCHES "\"/|;/")
    message(FATAL_ERROR "consumer test: ${f} links a library by its absolute path on the build machine: ${links}")
  endif()
endforeach()
set(extra)
if(SANITIZE)
  set(extra -DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined)
endif()
step(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
     -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} ${extra})
step(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
step(${WORK_DIR}/build/consumer)
