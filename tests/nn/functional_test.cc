// nn::functional losses (nn/functional.h) and nn::utils spellings:
//  - values and gradients, every reduction, against PyTorch 1.13
//    (tests/data/functional/losses.h5, written by
//    /usr/bin/python3 tests/fixtures/make_functional_losses.py);
//  - gradcheck in float64 (finite differences);
//  - CUDA against the CPU (skipped without a GPU), float32 against float64,
//    float32 under bfloat16 autocast;
//  - errors in PyTorch's words.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autograd/autocast.h"
#include "autograd/gradcheck.h"
#include "core/hdf5_file.h"
#include "core/tensor_io.h"
#include "nn/functional.h"
#include "nn/utils.h"
#include "autograd/op_testing.h"
#include "testing.h"

namespace loom {
namespace {

namespace F = nn::functional;

const std::string& losses_path() {
  static const std::string path = testing::source_path("tests/data/functional/losses.h5");
  return path;
}
const std::map<std::string, Tensor>& stored() {
  static const std::map<std::string, Tensor> file = load_tensors(losses_path());
  return file;
}
// Opened per use: a static Hdf5File would outlive the HDF5 library at exit.
Hdf5File file() { return Hdf5File::open_read(losses_path()); }
Tensor at(const std::string& key) {
  auto it = stored().find(key);
  if (it == stored().end()) throw std::runtime_error("losses.h5 lacks " + key);
  return it->second;
}
bool has(const std::string& key) { return stored().count(key) != 0; }

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& [key, value] : stored()) {
    std::string name = key.substr(0, key.find('/'));
    if (key == name + "/input") names.push_back(name);
  }
  return names;
}

Reduction reduction_of(const std::string& r) {
  return r == "none" ? Reduction::None : r == "sum" ? Reduction::Sum : Reduction::Mean;
}

// The stored case `name` computed by loom with `reduction` on `input` and
// `target` (which carry whatever dtype, device and requires_grad the caller
// gave them); weights from the file, moved to the input's device and dtype
// (rounded to `weight_rounding` first when given).
Tensor compute(const std::string& name, const Tensor& input, const Tensor& target, Reduction reduction,
               std::optional<DType> weight_rounding = std::nullopt) {
  const std::string function = file().attr_string("/" + name, "function");
  auto operand = [&](const char* what) {
    if (!has(name + "/" + what)) return Tensor();
    Tensor w = at(name + "/" + what);
    if (weight_rounding) w = w.to(*weight_rounding);
    return w.to(input.device()).to(input.dtype());
  };
  const Tensor weight = operand("weight"), pos_weight = operand("pos_weight");
  auto attr = [&](const char* what, double fallback) {
    return file().has_attr("/" + name, what) ? file().attr_double("/" + name, what) : fallback;
  };
  if (function == "nll_loss")
    return F::nll_loss(input, target,
                       F::NLLLossFuncOptions().weight(weight).reduction(reduction).ignore_index(
                           static_cast<std::int64_t>(attr("ignore_index", -100))));
  if (function == "cross_entropy")
    return F::cross_entropy(input, target,
                            F::CrossEntropyFuncOptions()
                                .weight(weight)
                                .reduction(reduction)
                                .ignore_index(static_cast<std::int64_t>(attr("ignore_index", -100)))
                                .label_smoothing(attr("label_smoothing", 0.0)));
  if (function == "binary_cross_entropy")
    return F::binary_cross_entropy(input, target,
                                   F::BinaryCrossEntropyFuncOptions().weight(weight).reduction(reduction));
  if (function == "binary_cross_entropy_with_logits")
    return F::binary_cross_entropy_with_logits(
        input, target,
        F::BinaryCrossEntropyWithLogitsFuncOptions().weight(weight).pos_weight(pos_weight).reduction(reduction));
  if (function == "mse_loss") return F::mse_loss(input, target, F::MSELossFuncOptions().reduction(reduction));
  if (function == "l1_loss") return F::l1_loss(input, target, F::L1LossFuncOptions().reduction(reduction));
  if (function == "smooth_l1_loss")
    return F::smooth_l1_loss(input, target,
                             F::SmoothL1LossFuncOptions().reduction(reduction).beta(attr("beta", 1.0)));
  throw std::runtime_error("unknown function " + function);
}

struct Result {
  Tensor loss, grad_input, grad_target;
};

// Runs case `name` with `reduction` on `device` in `dtype` (the class
// targets stay Int64), backward with the stored upstream gradient.
Result run_case(const std::string& name, const std::string& reduction, Device device, DType dtype) {
  // Fresh leaves: clone() so that the stored tensors never require grad.
  Tensor input = at(name + "/input").to(dtype).to(device).clone().requires_grad_();
  Tensor target = at(name + "/target").to(device);
  const bool float_target = is_floating(target.dtype());
  if (float_target) target = target.to(dtype).clone().requires_grad_();
  Tensor loss = compute(name, input, target, reduction_of(reduction));
  if (reduction == "none")
    loss.backward(at(name + "/upstream").to(loss.dtype()).to(device));
  else
    loss.backward();
  return {loss, input.grad(), float_target ? target.grad() : Tensor()};
}

std::vector<double> host(const Tensor& t) { return t.to(kCPU).to(kFloat64).to_vector<double>(); }

TEST(FunctionalLosses, ValuesAndGradientsMatchPyTorchForEveryReduction) {
  const std::vector<std::string> names = case_names();
  ASSERT_EQ(names.size(), 17u);
  for (const std::string& name : names) {
    for (const char* reduction : {"none", "mean", "sum"}) {
      SCOPED_TRACE(name + " " + reduction);
      Result r = run_case(name, reduction, kCPU, kFloat64);
      const std::string prefix = name + "/" + reduction + "/";
      EXPECT_EQ(r.loss.shape(), at(prefix + "loss").shape());
      testing::expect_all_close(host(r.loss), at(prefix + "loss").to_vector<double>(), 1e-12, 1e-14, "loss");
      testing::expect_all_close(host(r.grad_input), at(prefix + "grad_input").to_vector<double>(), 1e-12, 1e-14,
                                "grad_input");
      ASSERT_EQ(r.grad_target.defined(), has(prefix + "grad_target"));
      if (r.grad_target.defined())
        testing::expect_all_close(host(r.grad_target), at(prefix + "grad_target").to_vector<double>(), 1e-12,
                                  1e-14, "grad_target");
    }
  }
}

TEST(FunctionalLosses, Float32AndBFloat16AutocastFollowFloat64) {
  for (const std::string& name : case_names()) {
    if (name == "bce_edges") continue;  // x = 1e-300 is 0 in float32: another problem
    SCOPED_TRACE(name);
    Result r64 = run_case(name, "mean", kCPU, kFloat64);
    Result r32 = run_case(name, "mean", kCPU, kFloat32);
    EXPECT_EQ(r32.loss.dtype(), kFloat32);
    testing::expect_all_close(host(r32.loss), host(r64.loss), 1e-5, 1e-6, "float32 loss");
    testing::expect_all_close(host(r32.grad_input), host(r64.grad_input), 1e-4, 1e-6, "float32 grad");
    // Under autocast a 16-bit input gives a float32 loss computed from the
    // float32 values of the rounded input: the same as float32 on them.
    Tensor in16 = at(name + "/input").to(kBFloat16);
    Tensor target = at(name + "/target");
    if (is_floating(target.dtype())) target = target.to(kBFloat16);
    Tensor autocast_loss;
    {
      autocast guard(kBFloat16);
      autocast_loss = compute(name, in16, target, Reduction::Mean);
    }
    EXPECT_EQ(autocast_loss.dtype(), kFloat32);
    Tensor plain = compute(name, in16.to(kFloat32), is_floating(target.dtype()) ? target.to(kFloat32) : target,
                           Reduction::Mean, kBFloat16);
    EXPECT_EQ(host(autocast_loss), host(plain));
  }
}

TEST(FunctionalLosses, CudaMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  for (const std::string& name : case_names()) {
    for (const char* reduction : {"none", "mean", "sum"}) {
      SCOPED_TRACE(name + " " + reduction);
      Result cpu = run_case(name, reduction, kCPU, kFloat64);
      Result cuda = run_case(name, reduction, kCUDA, kFloat64);
      testing::expect_all_close(host(cuda.loss), host(cpu.loss), 1e-12, 1e-14, "loss");
      testing::expect_all_close(host(cuda.grad_input), host(cpu.grad_input), 1e-12, 1e-14, "grad_input");
      if (cpu.grad_target.defined())
        testing::expect_all_close(host(cuda.grad_target), host(cpu.grad_target), 1e-12, 1e-14, "grad_target");
    }
  }
}

TEST(FunctionalLosses, GradcheckFloat64) {
  for (const std::string& name : case_names()) {
    if (name == "bce_edges") continue;  // clamped logs: not differentiable at the edges
    for (const char* reduction : {"none", "mean", "sum"}) {
      SCOPED_TRACE(name + " " + reduction);
      Tensor input = at(name + "/input").clone().requires_grad_();
      Tensor target = at(name + "/target");
      std::vector<Tensor> inputs = {input};
      const bool float_target = is_floating(target.dtype());
      if (float_target) {
        target = target.clone().requires_grad_();
        inputs.push_back(target);
      }
      // smooth_l1 and l1 have kinks at |d| = beta and d = 0: the drawn
      // values are at least 1e-3 away from them, far more than eps = 1e-6.
      GradcheckResult g = gradcheck(
          [&](const std::vector<Tensor>& in) {
            return compute(name, in[0], float_target ? in[1] : target, reduction_of(reduction));
          },
          inputs);
      EXPECT_TRUE(g.ok) << g.message;
    }
  }
}

TEST(FunctionalLosses, DefaultsAreTheUnweightedLosses) {
  Tensor x = at("ce_weight/input"), y = at("ce_weight/target");
  EXPECT_EQ(host(F::cross_entropy(x, y)), host(cross_entropy(x, y)));
  EXPECT_EQ(host(F::nll_loss(log_softmax(x, 1), y)), host(nll_loss(log_softmax(x, 1), y)));
  // An all-ones weight and label smoothing 0 are the plain losses.
  Tensor ones_w = ones({x.size(1)}, kFloat64);
  testing::expect_all_close(host(F::cross_entropy(x, y, F::CrossEntropyFuncOptions().weight(ones_w))),
                            host(cross_entropy(x, y)), 1e-15, 0, "weight of ones");
  EXPECT_EQ(kMean, Reduction::Mean);
  EXPECT_EQ(kSum, Reduction::Sum);
  EXPECT_EQ(kNone, Reduction::None);
}

TEST(FunctionalLosses, ErrorsInPyTorchWords) {
  Tensor x = at("ce_weight/input"), y = at("ce_weight/target");
  Tensor p = at("bce/input"), t = at("bce/target");
  EXPECT_LOOM_ERROR(F::cross_entropy(x, y, F::CrossEntropyFuncOptions().label_smoothing(1.5)),
                    "label_smoothing must be between 0.0 and 1.0. Got: 1.5");
  EXPECT_LOOM_ERROR(F::cross_entropy(x, y, F::CrossEntropyFuncOptions().label_smoothing(-0.1)),
                    "label_smoothing must be between 0.0 and 1.0. Got: -0.1");
  EXPECT_LOOM_ERROR(F::cross_entropy(x, tensor_int64({1, 2, 7, 0, 0}, {5}),
                                     F::CrossEntropyFuncOptions().label_smoothing(0.1)),
                    "Target 7 is out of bounds.");
  EXPECT_LOOM_ERROR(F::nll_loss(x, y, F::NLLLossFuncOptions().weight(ones({3}, kFloat64))),
                    "weight tensor should be defined either for all 4 classes or no classes but got weight tensor "
                    "of shape: [3]");
  EXPECT_LOOM_ERROR(F::nll_loss(x, y, F::NLLLossFuncOptions().weight(ones({4}, kFloat32))),
                    "expected scalar type Double but found Float");
  EXPECT_LOOM_ERROR(F::binary_cross_entropy(mul(p, 3.0), t), "all elements of input should be between 0 and 1");
  EXPECT_LOOM_ERROR(F::binary_cross_entropy(p, narrow(t, 0, 0, 2)),
                    "Using a target size ([2, 4]) that is different to the input size ([5, 4]) is deprecated. "
                    "Please ensure they have the same size.");
  Tensor w = ones({4}, kFloat64).requires_grad_();
  EXPECT_LOOM_ERROR(F::binary_cross_entropy(p, t, F::BinaryCrossEntropyFuncOptions().weight(w)),
                    "The function 'binary_cross_entropy' is not differentiable with respect to argument 'weight'. "
                    "This input cannot have requires_grad True.");
  EXPECT_LOOM_ERROR(F::binary_cross_entropy_with_logits(x, narrow(t, 0, 0, 2)),
                    "Target size ([2, 4]) must be the same as input size ([5, 4])");
  EXPECT_LOOM_ERROR(F::smooth_l1_loss(x, t, F::SmoothL1LossFuncOptions().beta(-1)),
                    "smooth_l1_loss does not support negative values for beta.");
  EXPECT_LOOM_ERROR(F::l1_loss(x, t.to(kFloat32)), "expected scalar type Double but found Float");
}

TEST(NnUtils, LibtorchSpellingsNameLoomsFunctions) {
  Tensor a = tensor({3.0, 4.0}, kFloat64).requires_grad_();  // a fresh leaf
  sum(mul(a, a)).backward();  // grad (6, 8), norm 10
  Tensor norm = nn::utils::clip_grad_norm_({a}, 5.0);
  EXPECT_DOUBLE_EQ(norm.item(), 10.0);
  testing::expect_all_close(host(a.grad()), std::vector<double>{3.0, 4.0}, 1e-6, 0, "clipped to norm 5");
  nn::utils::clip_grad_value_({a}, 3.5);
  testing::expect_all_close(host(a.grad()), std::vector<double>{3.0, 3.5}, 1e-6, 0, "clamped at 3.5");
  EXPECT_EQ(a.grad().to_vector<double>()[1], 3.5);
  Tensor x = tensor({1, 2, 3, 4, 5, 0}, {3, 2}, kFloat64);  // (T=3, N=2), lengths 3 and 2
  nn::utils::rnn::PackedSequence packed = nn::utils::rnn::pack_padded_sequence(x, std::vector<std::int64_t>{3, 2});
  EXPECT_EQ(host(packed.data), (std::vector<double>{1, 2, 3, 4, 5}));
  auto [padded, lengths] = nn::utils::rnn::pad_packed_sequence(packed);
  EXPECT_EQ(host(padded), host(x));
}

}  // namespace
}  // namespace loom
