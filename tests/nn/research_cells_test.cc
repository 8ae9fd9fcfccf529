// nn/research_cells.h against PyTorch: the cases in tests/data/variants/
// (rnn-variant-case/1, docs/variant-cases.md; written by
// tests/fixtures/make_variant_cases.py from the Python cells of
// tests/fixtures/research_cells.py) are run here step by step with loom's
// LayerNorm cells, zoneout, weight drop and locked dropout, in float64 and
// float32, and every output, final state and gradient is compared. Then
// gradcheck (float64 finite differences) of each cell and regulariser, the
// Philox masks, and the error messages.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "autograd/functions.h"
#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "core/generator.h"
#include "core/hdf5_file.h"
#include "core/native.h"
#include "core/tensor_io.h"
#include "nn/reference_case.h"
#include "nn/research_cells.h"
#include "testing.h"

namespace loom {
namespace {

// ---- reading a case ------------------------------------------------------------------------

struct VariantCase {
  std::string name, mode, variant, layout, dropout_mode;
  std::int64_t input_size = 0, hidden_size = 0, num_layers = 0;
  bool bias = false, batch_first = false, bidirectional = false, training = false, layer_norm = false;
  double dropout = 0, zoneout_h = 0, zoneout_c = 0, weight_drop = 0, eps = 0;
  std::map<std::string, Tensor> arrays;  // every dataset by path, as stored (float64 / int64)

  bool lstm() const { return mode == "LSTM"; }
  int D() const { return bidirectional ? 2 : 1; }
  bool has(const std::string& k) const { return arrays.count(k) > 0; }
  const Tensor& at(const std::string& k) const {
    auto it = arrays.find(k);
    if (it == arrays.end()) throw std::runtime_error(name + ": no dataset " + k);
    return it->second;
  }
};

void collect(const Hdf5File& f, const std::string& group, std::map<std::string, Tensor>& out) {
  for (const std::string& child : f.list(group)) {
    const std::string path = group == "/" ? child : group + "/" + child;
    if (f.is_group(path)) collect(f, path, out);
    else out[path] = from_host_array(f.read(path), TensorOptions(f.dtype(path)));  // as stored
  }
}

VariantCase read_case(const std::string& path) {
  const Hdf5File f = Hdf5File::open_read(path);
  VariantCase c;
  c.name = std::filesystem::path(path).filename().string();
  EXPECT_EQ(f.attr_string("/", "format"), "rnn-variant-case/1") << path;
  c.mode = f.attr_string("/", "mode");
  c.variant = f.attr_string("/", "variant");
  c.layout = f.attr_string("/", "layout");
  c.dropout_mode = f.attr_string("/", "dropout_mode");
  c.input_size = f.attr_int("/", "input_size");
  c.hidden_size = f.attr_int("/", "hidden_size");
  c.num_layers = f.attr_int("/", "num_layers");
  EXPECT_EQ(f.attr_int("/", "proj_size"), 0);
  c.bias = f.attr_int("/", "bias") != 0;
  c.batch_first = f.attr_int("/", "batch_first") != 0;
  c.bidirectional = f.attr_int("/", "bidirectional") != 0;
  c.training = f.attr_int("/", "training") != 0;
  c.layer_norm = f.attr_int("/", "layer_norm") != 0;
  c.dropout = f.attr_double("/", "dropout");
  c.zoneout_h = f.attr_double("/", "zoneout_h");
  c.zoneout_c = f.attr_double("/", "zoneout_c");
  c.weight_drop = f.attr_double("/", "weight_drop");
  c.eps = f.attr_double("/", "layer_norm_eps");
  collect(f, "/", c.arrays);
  return c;
}

std::vector<std::string> case_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(testing::source_path("tests/data/variants")))
    if (e.path().extension() == ".h5") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// ---- running a case with loom's cells ------------------------------------------------------------

std::string suffix(std::int64_t layer, int direction) {
  return fmt::format("_l{}{}", layer, direction ? "_reverse" : "");
}

// Plain LSTM / GRU steps (torch.nn.LSTMCell / GRUCell math, from functions.h
// only) for the variants without layer norm.
std::pair<Tensor, Tensor> plain_lstm(const Tensor& x, const Tensor& h, const Tensor& c,
                                     const std::map<std::string, Tensor>& p, const Tensor& w_hh) {
  Tensor a = linear(x, p.at("weight_ih"), p.count("bias_ih") ? p.at("bias_ih") : Tensor()) +
             linear(h, w_hh, p.count("bias_hh") ? p.at("bias_hh") : Tensor());
  auto g = chunk(a, 4, 1);
  Tensor c1 = sigmoid(g[1]) * c + sigmoid(g[0]) * tanh(g[2]);
  return {sigmoid(g[3]) * tanh(c1), c1};
}

Tensor plain_gru(const Tensor& x, const Tensor& h, const std::map<std::string, Tensor>& p, const Tensor& w_hh) {
  auto i = chunk(linear(x, p.at("weight_ih"), p.count("bias_ih") ? p.at("bias_ih") : Tensor()), 3, 1);
  auto r = chunk(linear(h, w_hh, p.count("bias_hh") ? p.at("bias_hh") : Tensor()), 3, 1);
  Tensor reset = sigmoid(i[0] + r[0]), update = sigmoid(i[1] + r[1]);
  Tensor n = tanh(i[2] + reset * r[2]);
  return rsub(update, 1.0) * n + update * h;
}

struct RunResult {
  Tensor output, h_n, c_n;
  std::map<std::string, Tensor> grads;  // "input", "h0", "c0", "params/<name>"
};

// Runs case c in `dtype` with loom's cells and differentiates the FIXTURES.md
// scalar sum(output * grad_output) + sum(h_n * grad_h_n) [+ sum(c_n * grad_c_n)].
RunResult run_case(const VariantCase& c, DType dtype, Device device = kCPU) {
  const TensorOptions opt = TensorOptions(dtype).device(device);
  auto load = [&](const std::string& k) { return native::to(native::to(c.at(k), dtype), device); };
  const std::int64_t H = c.hidden_size;
  Tensor x = load("input").requires_grad_(true);
  Tensor xs = c.batch_first ? transpose(x, 0, 1) : x;  // (L, N, C)
  const std::int64_t L = xs.size(0), N = xs.size(1);
  std::vector<std::int64_t> lengths(N, L);
  if (c.layout == "packed") lengths = c.at("lengths").to_vector<std::int64_t>();
  std::vector<double> act(L * N);
  for (std::int64_t t = 0; t < L; ++t)
    for (std::int64_t b = 0; b < N; ++b) act[t * N + b] = t < lengths[b] ? 1.0 : 0.0;
  Tensor active = tensor(act, {L, N, 1}, opt);
  Tensor h0 = c.has("h0") ? load("h0").requires_grad_(true) : Tensor();
  Tensor c0 = c.has("c0") ? load("c0").requires_grad_(true) : Tensor();

  std::map<std::string, Tensor> leaves;  // "params/<name>" -> the tensor whose gradient is its gradient
  std::vector<std::shared_ptr<nn::LayerNormCellBase>> cells;  // kept alive for the backward pass
  std::vector<Tensor> h_n, c_n;
  Tensor layer_in = xs;
  for (std::int64_t layer = 0; layer < c.num_layers; ++layer) {
    if (layer > 0 && c.training && c.dropout > 0) {
      Tensor m = load(fmt::format("masks/dropout_l{}", layer));
      layer_in = c.dropout_mode == "locked" ? nn::locked_dropout(layer_in, m, c.dropout, true)
                                            : div(layer_in * m, 1 - c.dropout);
    }
    std::vector<Tensor> outs;
    for (int d = 0; d < c.D(); ++d) {
      const std::string k = suffix(layer, d);
      std::map<std::string, Tensor> p;  // the cell's names (weight_ih, layer_norm_c_bias, ...)
      std::shared_ptr<nn::LayerNormCellBase> cell;
      if (c.layer_norm) {
        const nn::LayerNormCellOptions o =
            nn::LayerNormCellOptions(layer_in.size(2), H).bias(c.bias).layer_norm_eps(c.eps);
        if (c.lstm()) cell = std::make_shared<nn::LayerNormLSTMCellImpl>(o);
        else cell = std::make_shared<nn::LayerNormGRUCellImpl>(o);
        cell->to(dtype);
        cell->to(device);
        for (const auto& [name, t] : cell->named_parameters()) {
          native::copy_(t, c.at("params/" + name + k));
          p[name] = t;
        }
        cells.push_back(cell);
      } else {
        for (const char* name : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"})
          if (c.has(std::string("params/") + name + k)) p[name] = load(std::string("params/") + name + k).requires_grad_(true);
      }
      for (const auto& [name, t] : p) leaves["params/" + name + k] = t;
      const Tensor w_hh = nn::weight_drop(p.at("weight_hh"),
                                          c.training && c.weight_drop > 0 ? load("masks/weight_drop" + k) : Tensor(),
                                          c.weight_drop, c.training);
      const Tensor zh = c.has("masks/zoneout_h" + k) ? load("masks/zoneout_h" + k) : Tensor();
      const Tensor zc = c.has("masks/zoneout_c" + k) ? load("masks/zoneout_c" + k) : Tensor();
      const std::int64_t idx = layer * c.D() + d;
      Tensor h = h0.defined() ? select(h0, 0, idx) : zeros({N, H}, opt);
      Tensor cs = c0.defined() ? select(c0, 0, idx) : zeros({N, H}, opt);
      std::vector<Tensor> out(L);
      for (std::int64_t s = 0; s < L; ++s) {
        const std::int64_t t = d ? L - 1 - s : s;
        const Tensor a = select(active, 0, t);
        const Tensor xt = select(layer_in, 0, t);
        Tensor h_new;
        if (c.lstm()) {
          Tensor c_new;
          if (cell) {
            auto [h1, c1] = static_cast<nn::LayerNormLSTMCellImpl&>(*cell).forward(xt, {{h, cs}}, w_hh);
            h_new = h1, c_new = c1;
          } else {
            std::tie(h_new, c_new) = plain_lstm(xt, h, cs, p, w_hh);
          }
          c_new = nn::zoneout(cs, c_new, c.zoneout_c, zc.defined() ? select(zc, 0, t) : Tensor(), c.training);
          cs = a * c_new + rsub(a, 1.0) * cs;
        } else {
          h_new = cell ? static_cast<nn::LayerNormGRUCellImpl&>(*cell).forward(xt, h, w_hh) : plain_gru(xt, h, p, w_hh);
        }
        h_new = nn::zoneout(h, h_new, c.zoneout_h, zh.defined() ? select(zh, 0, t) : Tensor(), c.training);
        h = a * h_new + rsub(a, 1.0) * h;
        out[t] = a * h;
      }
      outs.push_back(stack(out, 0));
      h_n.push_back(h);
      c_n.push_back(cs);
    }
    layer_in = cat(outs, 2);
  }
  RunResult r;
  r.output = c.batch_first ? transpose(layer_in, 0, 1) : layer_in;
  r.h_n = stack(h_n, 0);
  Tensor loss = sum(r.output * load("grad_output")) + sum(r.h_n * load("grad_h_n"));
  if (c.lstm()) {
    r.c_n = stack(c_n, 0);
    loss = loss + sum(r.c_n * load("grad_c_n"));
  }
  std::vector<std::string> names = {"input"};
  std::vector<Tensor> inputs = {x};
  if (h0.defined()) names.push_back("h0"), inputs.push_back(h0);
  if (c0.defined()) names.push_back("c0"), inputs.push_back(c0);
  for (const auto& [name, t] : leaves) names.push_back(name), inputs.push_back(t);
  std::vector<Tensor> g = autograd::grad({loss}, inputs, {});
  for (std::size_t i = 0; i < names.size(); ++i) r.grads[names[i]] = g[i];
  return r;
}

// Compares one case's run with its stored PyTorch numbers; returns the worst
// normwise-scaled |error| seen (for the report).
double check_case(const VariantCase& c, DType dtype, Device device = kCPU) {
  const bool f64 = dtype == kFloat64;
  // FIXTURES.md's tolerances: float64 rtol 1e-9, atol 1e-11; float32 rtol
  // 1e-4, atol 1e-5, the atol scaled by max(1, max|expected|) of the quantity.
  // The scaling is stated, not silent: a weight gradient is a sum over steps
  // and batch entries, and where its terms cancel, a small element carries the
  // float32 rounding of the large ones (seen: grad/params/weight_hh_l0_reverse
  // of lstm_ln_l2_bi_packed_nobias_train, element -0.2117 off by 3.2e-5 in a
  // tensor whose largest element is 67).
  const double rtol = f64 ? 1e-9 : 1e-4, atol = f64 ? 1e-11 : 1e-5;
  RunResult r = run_case(c, dtype, device);
  double worst = 0;
  auto cmp = [&](const Tensor& actual, const std::string& key) {
    const Tensor& e = c.at(key);
    EXPECT_EQ(actual.shape(), e.shape()) << c.name << " " << key;
    if (actual.shape() != e.shape()) return;
    const std::vector<double> expected = e.to_vector<double>();
    double scale = 1;
    if (!f64)
      for (double v : expected) scale = std::max(scale, std::abs(v));
    worst = std::max(worst, testing::expect_all_close(actual.to_vector<double>(), expected, rtol, atol * scale,
                                                      fmt::format("{} {} {}", c.name, dtype, key)));
  };
  cmp(r.output, "output");
  cmp(r.h_n, "h_n");
  if (c.lstm()) cmp(r.c_n, "c_n");
  std::size_t grads = 0;
  for (const auto& [key, t] : c.arrays) {
    if (key.rfind("grad/", 0) != 0) continue;
    const std::string name = key.substr(5);
    ++grads;
    auto it = r.grads.find(name);
    EXPECT_TRUE(it != r.grads.end()) << c.name << ": loom has no gradient for " << name;
    if (it != r.grads.end()) cmp(it->second, key);
  }
  // Every gradient loom computed is in the file (no parameter left unchecked).
  EXPECT_EQ(grads, r.grads.size()) << c.name;
  return worst;
}

TEST(ResearchCellsReference, EveryVariantCaseMatchesPyTorch) {
  const auto files = case_files();
  ASSERT_GE(files.size(), 14u) << "tests/data/variants/ is incomplete";
  std::map<std::string, int> seen;  // feature -> cases
  double worst64 = 0, worst32 = 0;
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    VariantCase c = read_case(path);
    for (const char* f : {"layer_norm", "zoneout", "weight_drop", "locked_dropout"})
      if (c.variant.find(f) != std::string::npos) seen[std::string(f) + (c.training ? "_train" : "_eval")]++;
    worst64 = std::max(worst64, check_case(c, kFloat64));
    worst32 = std::max(worst32, check_case(c, kFloat32));
  }
  for (const char* f : {"layer_norm", "zoneout", "weight_drop", "locked_dropout"})
    for (const char* m : {"_train", "_eval"}) EXPECT_GE(seen[std::string(f) + m], 1) << f << m;
  ::testing::Test::RecordProperty("worst_abs_err_f64", fmt::format("{:.3g}", worst64));
  ::testing::Test::RecordProperty("worst_abs_err_f32", fmt::format("{:.3g}", worst32));
  std::printf("variant cases: %zu, worst |error| float64 %.3g, float32 %.3g\n", files.size(), worst64, worst32);
}

// The same cases with the cells on CUDA (the composed ops' CUDA kernels),
// against the same PyTorch numbers and tolerances. Skipped without a GPU.
TEST(ResearchCellsCuda, EveryVariantCaseMatchesPyTorchOnCuda) {
  LOOM_SKIP_WITHOUT_CUDA();
  double worst64 = 0, worst32 = 0;
  for (const std::string& path : case_files()) {
    SCOPED_TRACE(path);
    VariantCase c = read_case(path);
    worst64 = std::max(worst64, check_case(c, kFloat64, kCUDA));
    worst32 = std::max(worst32, check_case(c, kFloat32, kCUDA));
  }
  std::printf("variant cases on CUDA: worst |error| float64 %.3g, float32 %.3g\n", worst64, worst32);
}

// The stored training masks matter: running a training case with one mask
// element flipped changes the numbers (the comparison above cannot pass by
// ignoring masks).
TEST(ResearchCellsReference, MasksAreUsed) {
  VariantCase c = read_case(testing::source_path("tests/data/variants/lstm_all_l2_bi_bf_packed_h0_train.h5"));
  for (const char* key : {"masks/zoneout_h_l0", "masks/zoneout_c_l1_reverse", "masks/weight_drop_l0",
                          "masks/dropout_l1"}) {
    VariantCase changed = c;
    Tensor m = native::clone(c.at(key));
    std::vector<double> v = m.to_vector<double>();
    v[0] = 1 - v[0];
    changed.arrays[key] = tensor(v, m.shape(), TensorOptions(kFloat64));
    RunResult a = run_case(c, kFloat64), b = run_case(changed, kFloat64);
    const Tensor diff = native::unary(native::UnaryOp::Abs, native::binary(native::BinaryOp::Sub,
                                      a.grads.at("input"), b.grads.at("input")));
    double worst = 0;
    for (double e : diff.to_vector<double>()) worst = std::max(worst, e);
    EXPECT_GT(worst, 1e-6) << key;
  }
}

// The standard runner (loom-rnn-check's) runs a variant case as the variant
// layer (nn::LSTM/GRU options from the attributes, the stored masks in
// training), not as a plain layer: it passes, and with the variant
// attributes dropped (a plain layer) it would not (tests/nn/rnn_variants_test.cc
// runs every case through it).
TEST(ResearchCellsReference, PlainRunnerRunsVariantCasesAsVariants) {
  const std::string path = testing::source_path("tests/data/variants/lstm_all_l2_bi_bf_packed_h0_train.h5");
  nn::ReferenceCaseReport r = nn::run_reference_case(path, kCPU, kFloat64, {});
  EXPECT_TRUE(r.ok) << r.summary;
  EXPECT_NE(r.summary.find("layer_norm=True"), std::string::npos) << r.summary;
  EXPECT_NE(r.summary.find("train(stored masks)"), std::string::npos) << r.summary;
}

// ---- gradcheck (float64 central differences) ----------------------------------------------------

Tensor randn64(const Shape& s) { return randn(s, TensorOptions(kFloat64)); }

TEST(ResearchCellsGradcheck, LayerNormLSTMCell) {
  manual_seed(7);
  nn::LayerNormLSTMCell cell(nn::LayerNormLSTMCellOptions(3, 4));
  cell->to(kFloat64);
  for (const Tensor& p : cell->parameters()) native::copy_(p, randn64(p.shape()) * 0.5 + (p.dim() == 1 ? 0.3 : 0.0));
  std::vector<Tensor> inputs = {randn64({2, 3}).requires_grad_(true), randn64({2, 4}).requires_grad_(true),
                                randn64({2, 4}).requires_grad_(true)};
  for (const Tensor& p : cell->parameters()) inputs.push_back(p);
  const Tensor w_hh = cell->weight_hh;
  auto f = [&](const std::vector<Tensor>& in) -> std::vector<Tensor> {
    auto [h, c] = cell->forward(in[0], {{in[1], in[2]}});
    return {h, c};
  };
  GradcheckResult r = gradcheck(f, inputs, {1e-6, 1e-7, 1e-5});
  EXPECT_TRUE(r.ok) << r.message;
  // Through a weight-dropped W_hh too.
  Tensor mask = nn::keep_mask(w_hh.shape(), 0.3, TensorOptions(kFloat64));
  auto g = [&](const std::vector<Tensor>& in) -> std::vector<Tensor> {
    auto [h, c] = cell->forward(in[0], {{in[1], in[2]}}, nn::weight_drop(w_hh, mask, 0.3, true));
    return {h, c};
  };
  r = gradcheck(g, inputs, {1e-6, 1e-7, 1e-5});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(ResearchCellsGradcheck, LayerNormGRUCell) {
  manual_seed(8);
  nn::LayerNormGRUCell cell(nn::LayerNormGRUCellOptions(3, 4).layer_norm_eps(1e-3));
  cell->to(kFloat64);
  for (const Tensor& p : cell->parameters()) native::copy_(p, randn64(p.shape()) * 0.5 + (p.dim() == 1 ? 0.3 : 0.0));
  std::vector<Tensor> inputs = {randn64({3, 3}).requires_grad_(true), randn64({3, 4}).requires_grad_(true)};
  for (const Tensor& p : cell->parameters()) inputs.push_back(p);
  GradcheckResult r = gradcheck([&](const std::vector<Tensor>& in) { return cell->forward(in[0], in[1]); }, inputs,
                                {1e-6, 1e-7, 1e-5});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(ResearchCellsGradcheck, Regularisers) {
  manual_seed(9);
  Tensor prev = randn64({3, 4}).requires_grad_(true), next = randn64({3, 4}).requires_grad_(true);
  Tensor zm = nn::zoneout_mask({3, 4}, 0.4, TensorOptions(kFloat64));
  for (bool training : {true, false}) {
    GradcheckResult r = gradcheck(
        [&](const std::vector<Tensor>& in) { return nn::zoneout(in[0], in[1], 0.4, zm, training); }, {prev, next});
    EXPECT_TRUE(r.ok) << r.message;
  }
  Tensor x = randn64({5, 3, 4}).requires_grad_(true);
  Tensor lm = nn::keep_mask({3, 4}, 0.5, TensorOptions(kFloat64));
  GradcheckResult r =
      gradcheck([&](const std::vector<Tensor>& in) { return nn::locked_dropout(in[0], lm, 0.5, true); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

// ---- values of the regularisers and the masks --------------------------------------------------------

TEST(ResearchCells, RegularisersFollowTheirDefinitions) {
  Tensor prev = tensor({1.0, 2.0, 3.0, 4.0}, {2, 2}), next = tensor({10.0, 20.0, 30.0, 40.0}, {2, 2});
  Tensor m = tensor({1.0, 0.0, 0.0, 1.0}, {2, 2});
  EXPECT_EQ(nn::zoneout(prev, next, 0.25, m, true).to_vector<double>(), (std::vector<double>{1, 20, 30, 4}));
  EXPECT_EQ(nn::zoneout(prev, next, 0.25, Tensor(), false).to_vector<double>(),
            (std::vector<double>{0.25 * 1 + 0.75 * 10, 0.25 * 2 + 0.75 * 20, 0.25 * 3 + 0.75 * 30,
                                 0.25 * 4 + 0.75 * 40}));
  EXPECT_TRUE(nn::zoneout(prev, next, 0.0, Tensor(), true).is_same(next));
  EXPECT_EQ(nn::weight_drop(next, m, 0.5, true).to_vector<double>(), (std::vector<double>{20, 0, 0, 80}));
  EXPECT_TRUE(nn::weight_drop(next, m, 0.5, false).is_same(next));
  Tensor seq = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}, {2, 2, 2});  // (L=2, N=2, F=2)
  Tensor lm = tensor({1.0, 0.0, 0.0, 1.0}, {2, 2});
  EXPECT_EQ(nn::locked_dropout(seq, lm, 0.5, true).to_vector<double>(),
            (std::vector<double>{2, 0, 0, 8, 10, 0, 0, 16}));  // the same mask at both steps
}

TEST(ResearchCells, MasksComeFromPhiloxAndHaveTheirRates) {
  manual_seed(123);
  Tensor a = nn::zoneout_mask({200, 50}, 0.3);
  manual_seed(123);
  Tensor b = nn::zoneout_mask({200, 50}, 0.3);
  EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>());  // the seed replays the mask
  double ones = 0;
  for (double v : a.to_vector<double>()) {
    EXPECT_TRUE(v == 0 || v == 1);
    ones += v;
  }
  EXPECT_NEAR(ones / 10000, 0.3, 0.02);  // 4.6 standard deviations of a Bernoulli(0.3) mean over 1e4
  Tensor k = nn::keep_mask({10000}, 0.3);
  double kept = 0;
  for (double v : k.to_vector<double>()) kept += v;
  EXPECT_NEAR(kept / 10000, 0.7, 0.02);
}

TEST(ResearchCells, BadArgumentsAreRefusedClearly) {
  Tensor s = zeros({2, 4});
  testing::expect_error_containing([&] { nn::zoneout(s, s, 1.0, s, true); }, "probability has to be in [0, 1)");
  testing::expect_error_containing([&] { nn::zoneout(s, s, 0.5, Tensor(), true); }, "training needs a mask");
  testing::expect_error_containing([&] { nn::weight_drop(s, zeros({4, 2}), 0.5, true); }, "training needs a mask");
  testing::expect_error_containing([&] { nn::keep_mask({2}, -0.1); }, "probability has to be in [0, 1)");
  testing::expect_error_containing([&] { nn::locked_dropout(s, s, 0.5, true); }, "expected a (L, N, F) sequence");
  testing::expect_error_containing([&] { nn::LayerNormLSTMCell(nn::LayerNormCellOptions(0, 4)); },
                                   "input_size must be greater than zero");
  testing::expect_error_containing([&] { nn::LayerNormGRUCell(nn::LayerNormCellOptions(3, 4).layer_norm_eps(0)); },
                                   "layer_norm_eps must be greater than zero");
  nn::LayerNormLSTMCell cell(3, 4);
  testing::expect_error_containing([&] { cell->forward(zeros({2, 5})); }, "inconsistent input_size");
  testing::expect_error_containing([&] { cell->forward(zeros({2, 3}), {{zeros({2, 4}), Tensor()}}); },
                                   "give both h and c");
  testing::expect_error_containing([&] { cell->forward(zeros({2, 3}), std::nullopt, zeros({4, 4})); },
                                   "weight_hh has shape");
  // Unbatched input gives unbatched states.
  auto [h, c] = cell->forward(zeros({3}));
  EXPECT_EQ(h.shape(), (Shape{4}));
  EXPECT_EQ(c.shape(), (Shape{4}));
}

TEST(ResearchCells, ParameterNamesAndRepr) {
  nn::LayerNormLSTMCell lstm(nn::LayerNormCellOptions(3, 4).bias(false));
  std::vector<std::string> names;
  for (const auto& [n, t] : lstm->named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"weight_ih", "weight_hh", "layer_norm_ih_weight", "layer_norm_ih_bias",
                                             "layer_norm_hh_weight", "layer_norm_hh_bias", "layer_norm_c_weight",
                                             "layer_norm_c_bias"}));
  EXPECT_EQ(lstm->layer_norm_c_weight.to_vector<double>(), (std::vector<double>(4, 1.0)));
  EXPECT_EQ(lstm->type(), "LayerNormLSTMCell");
  EXPECT_EQ(lstm->extra_repr(), "3, 4, bias=False");
  nn::LayerNormGRUCell gru(3, 4);
  EXPECT_EQ(gru->named_parameters().size(), 8u);  // 4 weights/biases + 4 layer-norm tensors, no layer_norm_c
  EXPECT_FALSE(gru->layer_norm_c_weight.defined());
}

}  // namespace
}  // namespace loom
