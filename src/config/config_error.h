// Errors found while loading a config. One ConfigError carries every problem found, each with
// the place it came from ("file.yml:12:5", "--set optimizer.lr=x"), so a user fixes them all at once.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace kiln {

struct Diagnostic {
  std::string where;    // "file:line:column", "--set key=value", or "" when no one place is to blame
  std::string message;  // names the key(s), what was expected and what was found

  std::string text() const { return where.empty() ? message : where + ": " + message; }
};

class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Diagnostic> diagnostics);
  explicit ConfigError(Diagnostic d) : ConfigError(std::vector<Diagnostic>{std::move(d)}) {}
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace kiln
