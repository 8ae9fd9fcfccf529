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
#include <type_traits>

#include <fmt/format.h>

#include "nn/module.h"
#include "nn/packed_sequence.h"

namespace loom::nn {

template <typename Impl>
class ModuleHolder;  // nn/module_holder.h (which includes this file through nn/module.h)

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

// Writes the held module's repr (libtorch's `std::cout << lstm` for a holder);
// throws loom::Error for an empty holder.
template <typename Impl>
std::ostream& operator<<(std::ostream& os, const ModuleHolder<Impl>& holder) {
  return os << module_pointer_str(holder.get());
}

// True for nn::ModuleHolder<Impl> and the holders LOOM_MODULE declares.
template <typename H, typename = void>
inline constexpr bool is_module_holder_v = false;
template <typename H>
inline constexpr bool is_module_holder_v<H, std::void_t<typename H::ContainedType>> =
    std::is_base_of_v<ModuleHolder<typename H::ContainedType>, H>;

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

// fmt::format("{}", lstm) for a holder (throws loom::Error when empty).
template <typename H>
struct fmt::formatter<H, char, std::enable_if_t<loom::nn::is_module_holder_v<H>>> : fmt::formatter<std::string_view> {
  auto format(const H& holder, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(loom::nn::module_pointer_str(holder.get()), ctx);
  }
};

// fmt::format("{}", packed).
template <>
struct fmt::formatter<loom::nn::PackedSequence> : fmt::formatter<std::string_view> {
  auto format(const loom::nn::PackedSequence& sequence, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(loom::nn::str(sequence), ctx);
  }
};
