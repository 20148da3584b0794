// SPDX-License-Identifier: GPL-2.0-only
// The `ntblab` Python module: one register_<area>() per binding file.
#include <pybind11/pybind11.h>

#include "ntblab/model/config_error.h"
#include "register.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {  // ntblab._core, re-exported by python/ntblab/__init__.py
  m.doc() = "ntblab: a virtual lab for PCIe non-transparent bridging (PEX8749 model)";

  // ConfigError (a ValueError) with the offending field in .field.
  static py::exception<ntblab::model::ConfigError> config_error(m, "ConfigError",
                                                                 PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ntblab::model::ConfigError& e) {
      py::object type = py::reinterpret_borrow<py::object>(config_error.ptr());
      py::object err = type(e.what());
      err.attr("field") = e.field();
      PyErr_SetObject(config_error.ptr(), err.ptr());
    }
  });

  ntblab::python::register_timing(m);
  ntblab::python::register_switch_model(m);
}
