// Where the kiln source tree is, for tests that read its configs or fixtures.
//
// $KILN_SOURCE_DIR when set: CTest sets it for the RELOCATABLE tests (tests/CMakeLists.txt), and
// launch/gpu/device-check.sh sets it where a carried test executable runs on another machine.
// Otherwise the tree CMake compiled in (the KILN_SOURCE_DIR definition of the other tests). A
// relocatable test run by hand without the variable fails with a message that says what to set,
// instead of reading a path that does not exist there.
#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace kiln::test {

inline std::string source_dir() {
  if (const char* env = std::getenv("KILN_SOURCE_DIR"); env && *env) return env;
#ifdef KILN_SOURCE_DIR
  return KILN_SOURCE_DIR;
#else
  throw std::runtime_error(
      "KILN_SOURCE_DIR is not set: point it at the kiln source tree (the folder holding configs/), "
      "e.g. KILN_SOURCE_DIR=$PWD from the repository root");
#endif
}

}  // namespace kiln::test
