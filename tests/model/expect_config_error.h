// SPDX-License-Identifier: GPL-2.0-only
// For the model's tests: expect a call to throw ConfigError naming `field`
// (its field(), and its message mentions it).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "ntblab/model/config_error.h"

namespace model_test {

template <class Fn>
void expect_config_error(Fn&& fn, const std::string& field) {
  try {
    fn();
    ADD_FAILURE() << "no ConfigError, expected one for " << field;
  } catch (const ntblab::model::ConfigError& e) {
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

}  // namespace model_test
