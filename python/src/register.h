// SPDX-License-Identifier: GPL-2.0-only
// One registration function per area of the model.
#pragma once

#include <pybind11/pybind11.h>

namespace ntblab::python {
/// ntblab.timing: PCIe link arithmetic and the analytic path model.
void register_timing(pybind11::module_& m);
void register_switch_model(pybind11::module_& m);
}  // namespace ntblab::python
