// SPDX-License-Identifier: GPL-2.0-only
// Errors for impossible configurations. Every message names the field at fault,
// e.g. "port[3].width: 32 is not one of 1, 2, 4, 8, 16".
#pragma once

#include <stdexcept>
#include <string>

namespace ntblab::model {

class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string field, const std::string& what)
      : std::runtime_error(field + ": " + what), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

}  // namespace ntblab::model
