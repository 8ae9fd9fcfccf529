#include "nn/reference_case.h"

#include <cmath>
#include <map>
#include <memory>

#include "autograd/functions.h"
#include "core/hdf5_file.h"
#include "core/native.h"
#include "core/tensor_io.h"
#include "nn/packed_sequence.h"
#include "nn/rnn.h"

namespace loom::nn {

ReferenceTolerance ReferenceTolerance::for_dtype(DType dtype) {
  if (dtype == kFloat32) return {1e-4, 1e-5};
  if (dtype == kBFloat16 || dtype == kFloat16) {
    const double u = dtype == kBFloat16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
    return {2 * u, 2 * u, 2 * u};
  }
  return {1e-9, 1e-11};
}

ReferenceTolerance ReferenceTolerance::for_case(std::int64_t T, std::int64_t num_layers) const {
  if (per_rounding <= 0) return *this;
  const double t = per_rounding * static_cast<double>(std::max<std::int64_t>(T, 1)) *
                   static_cast<double>(std::max<std::int64_t>(num_layers, 1));
  ReferenceTolerance r{t, t, per_rounding};
  r.scale_atol = scale_atol;
  return r;
}

namespace {

struct CaseConfig {
  std::string mode, layout;
  RNNOptions options{1, 1};
  bool variant = false;   // rnn-variant-case/1 (docs/variant-cases.md)
  bool training = false;  // variant cases: run in training mode with the stored masks/
};

CaseConfig read_config(const Hdf5File& f) {
  std::string format = f.attr_string("/", "format");
  LOOM_CHECK(format == "rnn-reference-case/1" || format == "rnn-variant-case/1",
             "{}: not a reference case (format '{}', expected 'rnn-reference-case/1' or "
             "'rnn-variant-case/1')", f.path(), format);
  CaseConfig c;
  c.variant = format == "rnn-variant-case/1";
  c.mode = f.attr_string("/", "mode");
  c.layout = f.attr_string("/", "layout");
  RNNOptions o(f.attr_int("/", "input_size"), f.attr_int("/", "hidden_size"));
  o.num_layers(f.attr_int("/", "num_layers"))
      .bias(f.attr_int("/", "bias") != 0)
      .batch_first(f.attr_int("/", "batch_first") != 0)
      .bidirectional(f.attr_int("/", "bidirectional") != 0)
      .proj_size(f.attr_int("/", "proj_size"))
      .dropout(f.attr_double("/", "dropout"));
  if (c.mode == "RNN_RELU") o.nonlinearity("relu");
  if (c.variant) {  // the research variants' attributes (docs/variant-cases.md)
    LOOM_CHECK(c.mode == "LSTM" || c.mode == "GRU", "{}: a variant case must be LSTM or GRU, got mode '{}'",
               f.path(), c.mode);
    o.layer_norm(f.attr_int("/", "layer_norm") != 0)
        .layer_norm_eps(f.attr_double("/", "layer_norm_eps"))
        .zoneout_h(f.attr_double("/", "zoneout_h"))
        .zoneout_c(f.attr_double("/", "zoneout_c"))
        .weight_drop(f.attr_double("/", "weight_drop"))
        .dropout_mode(f.attr_string("/", "dropout_mode"));
    c.training = f.attr_int("/", "training") != 0;
  }
  LOOM_CHECK(c.mode == "RNN_TANH" || c.mode == "RNN_RELU" || c.mode == "LSTM" || c.mode == "GRU",
             "{}: unknown mode '{}'", f.path(), c.mode);
  LOOM_CHECK(c.layout == "batched" || c.layout == "unbatched" || c.layout == "packed",
             "{}: unknown layout '{}'", f.path(), c.layout);
  c.options = o;
  return c;
}

// Checks the sizes the attributes declare against the stored parameters of
// layer 0 and the number of layers against the stored datasets, before a
// module of those sizes is allocated: a damaged hidden_size or num_layers
// (2^40, say) is refused instead of exhausting memory.
void check_sizes(const Hdf5File& f, const CaseConfig& c) {
  const RNNOptions& o = c.options;
  const std::int64_t G = c.mode == "LSTM" ? 4 : c.mode == "GRU" ? 3 : 1;
  LOOM_CHECK(o.input_size_ > 0 && o.hidden_size_ > 0 && o.num_layers_ > 0 && o.proj_size_ >= 0,
             "{}: input_size {}, hidden_size {}, num_layers {}, proj_size {}: sizes must be positive",
             f.path(), o.input_size_, o.hidden_size_, o.num_layers_, o.proj_size_);
  LOOM_CHECK(f.is_group("params"), "{}: no group 'params'", f.path());
  const std::int64_t datasets = static_cast<std::int64_t>(f.list("params").size());
  LOOM_CHECK(o.num_layers_ <= datasets, "{}: num_layers {} but 'params' holds only {} datasets",
             f.path(), o.num_layers_, datasets);
  const std::int64_t H_out = o.proj_size_ > 0 ? o.proj_size_ : o.hidden_size_;
  auto expect = [&](const std::string& name, std::int64_t rows_per_gate, std::int64_t cols) {
    std::vector<std::int64_t> shape = f.shape("params/" + name);
    LOOM_CHECK(shape.size() == 2 && shape[0] % G == 0 && shape[0] / G == rows_per_gate &&
                   shape[1] == cols,
               "{}: params/{} has shape {}, but the attributes (mode {}, input_size {}, hidden_size "
               "{}, proj_size {}) imply [{} * {}, {}]",
               f.path(), name, shape_string(shape), c.mode, o.input_size_, o.hidden_size_,
               o.proj_size_, G, rows_per_gate, cols);
  };
  expect("weight_ih_l0", o.hidden_size_, o.input_size_);
  expect("weight_hh_l0", o.hidden_size_, H_out);
  for (std::int64_t l = 1; l < o.num_layers_; ++l)
    LOOM_CHECK(f.is_dataset(fmt::format("params/weight_hh_l{}", l)),
               "{}: num_layers is {} but there is no dataset params/weight_hh_l{}", f.path(),
               o.num_layers_, l);
}

std::unique_ptr<RNNBase> make_module(const CaseConfig& c) {
  if (c.mode == "LSTM") return std::make_unique<LSTMImpl>(c.options);
  if (c.mode == "GRU") return std::make_unique<GRUImpl>(c.options);
  return std::make_unique<RNNImpl>(c.options);
}

void compare(ReferenceCaseReport& report, const std::string& name, const Tensor& actual,
             const Tensor& expected, ReferenceTolerance tol) {
  ReferenceQuantity q{name};
  if (!actual.defined()) {
    q.ok = false;
    q.worst_ratio = INFINITY;
  } else if (actual.shape() != expected.shape()) {
    fail("{}: '{}' has shape {} in loom but {} in the file", report.path, name,
         shape_str(actual.shape()), shape_str(expected.shape()));
  } else {
    std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
    if (tol.scale_atol) {
      double scale = 1;
      for (double v : e) scale = std::max(scale, std::abs(v));
      tol.atol *= scale;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
      double diff = std::abs(a[i] - e[i]);
      if (std::isnan(diff)) diff = INFINITY;
      q.max_abs_error = std::max(q.max_abs_error, diff);
      q.worst_ratio = std::max(q.worst_ratio, diff / (tol.atol + tol.rtol * std::abs(e[i])));
    }
    q.ok = q.worst_ratio <= 1;
  }
  report.ok = report.ok && q.ok;
  report.quantities.push_back(q);
}

}  // namespace

namespace {

ReferenceCaseReport run_case(const std::string& path, Device device, DType dtype,
                             ReferenceTolerance tol) {
  Hdf5File f = Hdf5File::open_read(path);
  CaseConfig c = read_config(f);
  check_sizes(f, c);
  bool lstm = c.mode == "LSTM", packed = c.layout == "packed";
  TensorOptions opts = TensorOptions(dtype).device(device);
  auto load = [&](const std::string& name) { return from_host_array(f.read(name), opts); };
  // The stored results stay float64: rounding them to `dtype` would hide error.
  auto reference = [&](const std::string& name) {
    return from_host_array(f.read(name), TensorOptions(kFloat64));
  };

  std::unique_ptr<RNNBase> module = make_module(c);
  module->to(device);
  module->to(dtype);
  module->eval();
  if (c.training) {  // a variant case's training run: the stored masks, not drawn ones
    std::map<std::string, Tensor> masks;  // none when no feature in use draws one
    if (f.is_group("masks"))
      for (const std::string& name : f.list("masks"))
      masks[name] = from_host_array(f.read("masks/" + name), TensorOptions(kFloat64));
    module->set_variant_masks(std::move(masks));
    module->train();
  }
  for (auto& [name, param] : module->named_parameters()) {
    LOOM_CHECK(f.has("params/" + name), "{}: missing dataset params/{}", path, name);
    Tensor value = load("params/" + name);
    LOOM_CHECK(value.shape() == param.shape(), "{}: params/{} has shape {}, expected {}", path, name,
               shape_str(value.shape()), shape_str(param.shape()));
    native::copy_(param, value);
  }
  for (const std::string& name : f.list("params"))
    LOOM_CHECK(module->named_parameter(name).defined(), "{}: unexpected parameter params/{}", path, name);

  Tensor input = load("input").requires_grad_();
  const std::int64_t T = c.layout == "unbatched" || !c.options.batch_first_ ? input.size(0) : input.size(1);
  tol = tol.for_case(T, c.options.num_layers_);
  Tensor h0 = f.has("h0") ? load("h0").requires_grad_() : Tensor();
  Tensor c0 = lstm && f.has("c0") ? load("c0").requires_grad_() : Tensor();
  std::optional<LSTMImpl::State> state;
  if (h0.defined() || c0.defined()) state = LSTMImpl::State{h0, c0};

  Tensor output, h_n, c_n;
  if (packed) {
    std::vector<std::int64_t> lengths = from_host_array(f.read("lengths")).to_vector<std::int64_t>();
    std::int64_t L = input.size(c.options.batch_first_ ? 1 : 0);
    PackedSequence seq = pack_padded_sequence(input, lengths, c.options.batch_first_, false);
    PackedSequence out;
    if (lstm) {
      auto [o, s] = static_cast<LSTMImpl&>(*module).forward(seq, state);
      out = o, h_n = std::get<0>(s), c_n = std::get<1>(s);
    } else if (c.mode == "GRU") {
      std::tie(out, h_n) = static_cast<GRUImpl&>(*module).forward(seq, h0);
    } else {
      std::tie(out, h_n) = static_cast<RNNImpl&>(*module).forward(seq, h0);
    }
    output = std::get<0>(pad_packed_sequence(out, c.options.batch_first_, 0.0, L));
  } else if (lstm) {
    auto [o, s] = static_cast<LSTMImpl&>(*module).forward(input, state);
    output = o, h_n = std::get<0>(s), c_n = std::get<1>(s);
  } else if (c.mode == "GRU") {
    std::tie(output, h_n) = static_cast<GRUImpl&>(*module).forward(input, h0);
  } else {
    std::tie(output, h_n) = static_cast<RNNImpl&>(*module).forward(input, h0);
  }

  ReferenceCaseReport report;
  report.path = path;
  report.tolerance = tol;
  report.summary = fmt::format("{} {}{}", c.mode, module->extra_repr(), packed ? " packed" : "");
  report.summary += fmt::format(" {}{}", c.layout == "unbatched" ? "unbatched" : "", h0.defined() ? " h0" : "");
  if (c.variant) report.summary += c.training ? " train(stored masks)" : " eval";
  compare(report, "output", output, reference("output"), tol);
  compare(report, "h_n", h_n, reference("h_n"), tol);
  if (lstm) compare(report, "c_n", c_n, reference("c_n"), tol);

  Tensor loss = sum(output * load("grad_output")) + sum(h_n * load("grad_h_n"));
  if (lstm) loss = loss + sum(c_n * load("grad_c_n"));
  loss.backward();

  compare(report, "grad/input", input.grad(), reference("grad/input"), tol);
  if (h0.defined()) compare(report, "grad/h0", h0.grad(), reference("grad/h0"), tol);
  if (c0.defined()) compare(report, "grad/c0", c0.grad(), reference("grad/c0"), tol);
  for (auto& [name, param] : module->named_parameters())
    compare(report, "grad/params/" + name, param.grad(), reference("grad/params/" + name), tol);
  return report;
}

}  // namespace

ReferenceCaseReport run_reference_case(const std::string& path, Device device, DType dtype,
                                       ReferenceTolerance tol) {
  try {
    return run_case(path, device, dtype, tol);
  } catch (const Error& e) {
    // Refusals from the module or the layers (shapes, options) do not name the file.
    if (std::string(e.what()).find(path) != std::string::npos) throw;
    fail("reference case '{}': {}", path, e.what());
  }
}

}  // namespace loom::nn
