# Runs a command (LAUNCH: arguments separated by "|") with a time bound and checks how it ended.
#   cmake -DLAUNCH="mpirun|-n|3|probe|--throw-on-rank|1" -DEXPECT_FAILURE=ON
#         -DEXPECT_STDERR="rank 1: …" -DBOUND_SECONDS=60 -P expect_exit.cmake
# EXPECT_FAILURE=ON: the command must exit non-zero before BOUND_SECONDS (a hang is the failure
# this guards against); OFF: it must exit 0. EXPECT_STDERR, when given, must occur in stderr.
string(REPLACE "|" ";" command "${LAUNCH}")
list(REMOVE_ITEM command "")
string(TIMESTAMP start "%s")
execute_process(COMMAND ${command} TIMEOUT ${BOUND_SECONDS}
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(TIMESTAMP end "%s")
math(EXPR seconds "${end} - ${start}")
message(STATUS "exit: ${result} after ${seconds} s\n--- stdout ---\n${out}\n--- stderr ---\n${err}")
if(result MATCHES "timeout|Process terminated due to timeout")
  message(FATAL_ERROR "did not finish within ${BOUND_SECONDS} s: ranks hung instead of the job failing fast")
endif()
if(EXPECT_FAILURE)
  if(result EQUAL 0)
    message(FATAL_ERROR "expected a non-zero exit status, got 0")
  endif()
elseif(NOT result EQUAL 0)
  message(FATAL_ERROR "expected exit status 0, got '${result}'")
endif()
if(DEFINED EXPECT_STDERR AND NOT err MATCHES "${EXPECT_STDERR}")
  message(FATAL_ERROR "stderr does not contain '${EXPECT_STDERR}'")
endif()
