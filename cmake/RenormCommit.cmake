# cmake -DSOURCE_DIR=... -DOUT=.../renorm_commit.h -P RenormCommit.cmake: writes RENORM_COMMIT, the source
# tree's commit ("-dirty" when tracked files have changes; "unknown" outside a git checkout), so that the
# numbers renorm-reproduce writes name the code that produced them. Run at every build; the header is
# rewritten only when the text changes (configure_file), so nothing rebuilds needlessly.
execute_process(COMMAND git -C ${SOURCE_DIR} rev-parse --short=12 HEAD RESULT_VARIABLE rc
  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT rc EQUAL 0)
  set(commit "unknown")
else()
  execute_process(COMMAND git -C ${SOURCE_DIR} status --porcelain --untracked-files=no
    OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT changes STREQUAL "")
    string(APPEND commit "-dirty")
  endif()
endif()
file(WRITE ${OUT}.in "#pragma once\n#define RENORM_COMMIT \"${commit}\"\n")
configure_file(${OUT}.in ${OUT} COPYONLY)
