// Module printing: the default class name (demangled C++ type), operator<< for
// modules, module pointers and PackedSequence.
#include "nn/print.h"

#include <cxxabi.h>

#include <cstdlib>
#include <typeinfo>

#include "core/error.h"

namespace loom::nn {

namespace {

// "app::(anonymous namespace)::Net" -> "Net", "f(std::string)::Local" ->
// "Local", "ns::Box<ns::Cell>" -> "Box<ns::Cell>": everything after the last
// "::" that is not inside <...> or (...).
std::string without_scopes(const std::string& name) {
  int depth = 0;
  for (std::size_t i = name.size(); i-- > 1;) {
    char c = name[i];
    if (c == '>' || c == ')') ++depth;
    else if (c == '<' || c == '(') --depth;
    else if (depth == 0 && c == ':' && name[i - 1] == ':') return name.substr(i + 1);
  }
  return name;
}

// The demangled name of a type_info (the mangled one where demangling fails).
std::string demangled(const std::type_info& type) {
  int status = 0;
  char* text = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && text != nullptr ? std::string(text) : std::string(type.name());
  std::free(text);
  return out;
}

std::string field(const Tensor& t) { return t.defined() ? t.str() : "None"; }

}  // namespace

std::string Module::type() const {
  if (!name_.empty()) return name_;
  return without_scopes(demangled(typeid(*this)));
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.str(); }

std::string module_pointer_str(const Module* module) {
  LOOM_CHECK(module != nullptr, "cannot print a null module pointer (an empty std::shared_ptr<Module>)");
  return module->str();
}

std::string str(const PackedSequence& sequence) {
  return "PackedSequence(data=" + field(sequence.data) + ", batch_sizes=" + field(sequence.batch_sizes) +
         ", sorted_indices=" + field(sequence.sorted_indices) +
         ", unsorted_indices=" + field(sequence.unsorted_indices) + ")";
}

std::ostream& operator<<(std::ostream& os, const PackedSequence& sequence) { return os << str(sequence); }

}  // namespace loom::nn
