// Writing configs out: the resolved config as YAML (`kiln config show`, run directories) and the
// config reference as Markdown (`kiln config reference` → docs/config-reference.md).
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "config/config.h"

namespace kiln {

// The whole config as a nested YAML tree in schema order (unset optionals are left out).
YAML::Node config_to_yaml(const Config& config);

// config_to_yaml as text, with a header comment; loading it back gives the same Config.
std::string resolved_config_text(const Config& config, const std::string& header_comment);

// The generated config reference (Markdown).
std::string config_reference_markdown();

}  // namespace kiln
