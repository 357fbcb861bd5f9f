// The extension module zipsift._core: each part of the core registers its own bindings.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace zipsift {
void bind_ncd(py::module_& m);
void bind_ngram(py::module_& m);
void bind_submodular(py::module_& m);
void bind_conditional(py::module_& m);
}  // namespace zipsift

PYBIND11_MODULE(_core, m) {
    m.doc() = "zipsift's native core. Use the zipsift package, not this module.";
    zipsift::bind_ncd(m);
    zipsift::bind_ngram(m);
    zipsift::bind_submodular(m);
    zipsift::bind_conditional(m);
}
