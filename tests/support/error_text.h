// Small assertions about error messages, shared by tests that check what an error says.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <string>

namespace kiln::testing {

// EXPECT_TRUE(contains(message, "part")) prints both strings when it fails.
inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

// The what() of the exception f() throws, or "(no exception)".
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace kiln::testing
