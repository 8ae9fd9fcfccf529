// Printing of nn objects as PyTorch 1.13 prints them (repr), through
// std::ostream and fmt:
//   - a Module, and any pointer to one (std::shared_ptr<Net>, as libtorch's
//     `std::cout << net`): Module::str(), its class name and children,
//       Net(
//         (lstm): LSTM(3, 4, batch_first=True)
//         (fc): Linear(in_features=4, out_features=2, bias=True)
//       )
//   - a PackedSequence: PackedSequence(data=tensor(...), batch_sizes=tensor(...),
//     sorted_indices=None, unsorted_indices=None).
// Tensors print through core/tensor.h (operator<< and fmt::formatter<Tensor>).
// Included by nn/module.h and nn/packed_sequence.h, so printing is available
// wherever the types are.
#pragma once

#include <concepts>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "nn/module.h"
#include "nn/packed_sequence.h"

namespace loom::nn {

// Writes module.str() (PyTorch's repr of the module tree).
std::ostream& operator<<(std::ostream& os, const Module& module);

// The repr of the module `module` points to. Throws loom::Error for a null
// pointer (there is no module to print). More specialised than the standard
// library's operator<< for shared_ptr, which would print the address.
std::string module_pointer_str(const Module* module);
template <typename M>
  requires std::derived_from<M, Module>
std::ostream& operator<<(std::ostream& os, const std::shared_ptr<M>& module) {
  return os << module_pointer_str(module.get());
}

// PyTorch's repr of the PackedSequence namedtuple: each field's tensor repr, or
// None for an undefined tensor (the indices of a sequence packed sorted).
std::string str(const PackedSequence& sequence);
// Writes str(sequence).
std::ostream& operator<<(std::ostream& os, const PackedSequence& sequence);

}  // namespace loom::nn

// fmt::format("{}", module) for a Module or any class derived from it.
template <typename M>
struct fmt::formatter<M, char, std::enable_if_t<std::is_base_of_v<loom::nn::Module, M>>>
    : fmt::formatter<std::string_view> {
  auto format(const M& module, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(module.str(), ctx);
  }
};

// fmt::format("{}", net) for a std::shared_ptr to a module (throws loom::Error
// when null, like operator<<).
template <typename M>
struct fmt::formatter<std::shared_ptr<M>, char, std::enable_if_t<std::is_base_of_v<loom::nn::Module, M>>>
    : fmt::formatter<std::string_view> {
  auto format(const std::shared_ptr<M>& module, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(loom::nn::module_pointer_str(module.get()), ctx);
  }
};

// fmt::format("{}", packed).
template <>
struct fmt::formatter<loom::nn::PackedSequence> : fmt::formatter<std::string_view> {
  auto format(const loom::nn::PackedSequence& sequence, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(loom::nn::str(sequence), ctx);
  }
};
