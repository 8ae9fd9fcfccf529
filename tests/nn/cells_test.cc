// nn::RNNCell, nn::LSTMCell, nn::GRUCell: outputs and every gradient against
// PyTorch 1.13 with the same small weights, gradcheck in float64, unbatched vs
// batched agreement, default zero states, parameters, init, printing, errors.
//
// The reference values were printed by /usr/bin/python3 (torch 1.13, float64)
// with f(n, a, b, scale)[k] = (((k*a + b) % 17) / 17 - 0.5) * scale:
//   cell.weight_ih = f(G*C, 5, 1, 1.6).view(G, C); cell.weight_hh = f(G*H, 7, 3, 1.6).view(G, H)
//   cell.bias_ih = f(G, 3, 2, 0.8); cell.bias_hh = f(G, 11, 5, 0.8)           (when bias)
//   x = f(N*C, 4, 0, 2.0).view(N, C); h = f(N*H, 6, 1, 1.0).view(N, H)
//   c = f(N*H, 10, 7, 1.5).view(N, H)                                           (LSTM)
//   loss = (h1 * f(N*H, 9, 4, 2.0).view(N, H)).sum() [+ (c1 * f(N*H, 13, 2, 2.0).view(N, H)).sum()]
// with N = 2, C = 3, H = 2; the pasted lists are h1, c1, x.grad, h.grad, c.grad
// and the gradients of weight_ih, weight_hh, bias_ih, bias_hh.
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "autograd/op_testing.h"
#include "core/generator.h"
#include "core/native.h"
#include "nn/cells.h"

namespace loom::nn {
namespace {

using testing::expect_tensor;

constexpr std::int64_t N = 2, C = 3, H = 2;

Tensor f(const Shape& shape, int a, int b, double scale, DType dtype = kFloat64) {
  std::vector<double> v;
  for (std::int64_t k = 0; k < shape_numel(shape); ++k)
    v.push_back((static_cast<double>((k * a + b) % 17) / 17.0 - 0.5) * scale);
  return tensor(v, shape, dtype);
}

void set(const Tensor& param, const Tensor& value) {
  NoGradGuard no_grad;
  native::copy_(param, value);
}

// Puts the script's weights into a cell converted to `dtype`.
void set_weights(RNNCellBase& cell, DType dtype) {
  cell.to(dtype);
  const std::int64_t G = cell.weight_ih.size(0);
  set(cell.weight_ih, f({G, C}, 5, 1, 1.6));
  set(cell.weight_hh, f({G, H}, 7, 3, 1.6));
  if (cell.bias_ih.defined()) {
    set(cell.bias_ih, f({G}, 3, 2, 0.8));
    set(cell.bias_hh, f({G}, 11, 5, 0.8));
  }
}

struct Reference {
  const char* name;
  std::vector<double> h1, c1, grad_x, grad_h, grad_c, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh;
};

// PyTorch 1.13's values (see the top of this file).
const std::vector<Reference>& references() {
  static const std::vector<Reference> refs = {
    // RNNCell(3, 2)
    {"RNNCell(3, 2)", {0.5094137232171289, 0.06909388563303155, -0.864808512511588, -0.08285460214271731},
     {},
     {0.6486441484607222, -0.13090910503946213, -0.06744736421370143, 0.5268884396160811, -0.2477416140938716, 0.00581527468478666},
     {-0.2185752668482094, -0.12972882969214447, -0.4603573322133378, -0.10537768792321624},
     {},
     {0.3492835161516135, 0.11594863492822186, 0.09023065450629635, -0.2622774377250289, 0.2880760731027815, -0.4468040941801715},
     {0.1454748979228828, 0.07428218740607213, -0.062344530009038196, -0.29219623594356203},
     {-0.49583662259970723, 1.1695012105090974},
     {-0.49583662259970723, 1.1695012105090974}},
    // RNNCell(3, 2, nonlinearity='relu')
    {"RNNCell(3, 2, nonlinearity='relu')", {0.5619377162629758, 0.06920415224913501, 0.0, 0.0},
     {},
     {0.7474048442906573, -0.09965397923875434, -0.09965397923875435, 0.0, 0.0, 0.0},
     {-0.14948096885813145, -0.1494809688581315, 0.0, 0.0},
     {},
     {0.5294117647058824, 0.28027681660899656, 0.031141868512110735, -0.5294117647058822, -0.2802768166089965, -0.03114186851211073},
     {0.23356401384083045, 0.0467128027681661, -0.2335640138408304, -0.04671280276816609},
     {-0.5294117647058824, 0.5294117647058822},
     {-0.5294117647058824, 0.5294117647058822}},
    // RNNCell(3, 2, bias=False, nonlinearity='relu')
    {"RNNCell(3, 2, bias=False, nonlinearity='relu')", {1.0325259515570935, 0.0, 0.0, 0.0},
     {},
     {0.3737024221453287, 0.12456747404844289, -0.12456747404844294, 0.0, 0.0, 0.0},
     {0.2740484429065744, -0.07474048442906576, 0.0, 0.0},
     {},
     {0.5294117647058824, 0.28027681660899656, 0.031141868512110735, 0.0, 0.0, 0.0},
     {0.23356401384083045, 0.0467128027681661, 0.0, 0.0},
     {},
     {}},
    // LSTMCell(3, 2)
    {"LSTMCell(3, 2)", {0.002790287416157056, -0.28392811193440937, 0.06375585702984306, -0.06004821338033215},
     {0.006139973392971898, -0.5655525416773479, 0.2498581292551419, -0.12379275144399801},
     {-0.174586709945397, -0.03514557347979197, 0.03196427865792778, -0.0045066484680656264, 0.027001439316084598, -0.06196063167258997},
     {-0.10157732907363458, -0.10280327309381909, -0.04344824926169789, 0.04256680125718426},
     {-0.4205965828485528, 0.4852008564527639, 0.1019939095157588, 0.06311814055849752},
     {0.03374283035729816, 0.03607788122220651, -0.016418886960292044, 0.09522980201970552, 0.055264840129342865, 0.0007021794018432972, -0.029751410166480606, -0.011514589991530868, -0.006030366149071878, 0.17728367592733282, 0.08307625156250475, 0.02132055339890635, 0.6390215294867468, 0.3459288924408851, 0.02988671472894499, -0.41046316472693456, -0.17659978696698728, -0.06527313597539067, -0.0071884427844194805, -0.016704064928177314, 0.012609927701263427, 0.05877337216236837, 0.017887068384309243, 0.01682329770809376},
     {0.01716329653676262, -0.008501324838259567, 0.04261928077355743, 0.005346709937216981, -0.012596102561371586, -0.005294785596404656, 0.0768659099180629, 0.022436204745056688, 0.2828741851126407, 0.05157993699520523, -0.17599866014347387, -0.06186949020768875, -0.004783674160179468, 0.007494416618601444, 0.024275898108926795, 0.013522436826304274},
     {0.004961983087930253, -0.08492554401702063, 0.03875324287176819, -0.20019077677525965, -0.6228218537224564, 0.496959677739888, -0.020220697055485404, -0.08688339552837566},
     {0.004961983087930253, -0.08492554401702063, 0.03875324287176819, -0.20019077677525965, -0.6228218537224564, 0.496959677739888, -0.020220697055485404, -0.08688339552837566}},
    // GRUCell(3, 2)
    {"GRUCell(3, 2)", {-0.18581316634675402, -0.26242084632852447, 0.5340671479045036, -0.015764498616734235},
     {},
     {0.00965846817312873, -0.1659780293847386, -0.0213601523900476, -0.03928809464248512, 0.15500239916284056, -0.1606001400858668},
     {-0.20534749371323993, 0.11891031466753543, -0.24952107183928393, 0.4015193638584904},
     {},
     {0.019174486382826386, 0.009761971207513306, 0.0015211928822115965, -0.013630840257562164, -0.016959130395534865, 0.00904247660089415, -0.03246421520328874, 0.021693970683048052, -0.04119557732128249, -0.09153051394636763, -0.12256786354682167, 0.06949836946977862, 0.28366061852395613, 0.11104321461834613, 0.056223577477978404, -0.08990473209397895, 0.15828129398938662, -0.21331099214924268},
     {0.008410678794499056, 0.0019371608380199334, -0.007231456396027668, 0.004937274567693662, -0.009462334365852275, -0.02736756189643335, -0.04964492567324056, 0.03862885343494607, 0.08321180407792, 0.022081120244090608, -0.010326133608399325, -0.06671275329818213},
     {-0.02000159474754029, -0.0070726165431919865, 0.1150861450084657, -0.06595436790096487, -0.36681198329942133, 0.5273953054271519},
     {-0.02000159474754029, -0.0070726165431919865, 0.1150861450084657, -0.06595436790096487, -0.20860453831383213, 0.2610292437755513}},
    // GRUCell(3, 2, bias=False)
    {"GRUCell(3, 2, bias=False)", {-0.4341620032062341, -0.08464551663212647, 0.47328127685640436, 0.12314581059580915},
     {},
     {-0.04360416075967216, -0.052921682104163786, -0.04555203079493175, -0.06562328422990117, 0.1284537092376542, -0.04245886846514915},
     {-0.25202278047542115, 0.19723024155721658, -0.2492524859856976, 0.42698576113526165},
     {},
     {0.0005498280198074868, 0.0038358248552590717, -0.003549320977407325, -0.011719813562307328, -0.013266886756436712, 0.006446444190862951, 0.016733362841315696, 0.038295656605588015, -0.028759135508198364, -0.06551830040282289, -0.14198465909507638, 0.104562175096474, 0.21371157146315028, 0.044784477408477116, 0.08164026317476339, -0.16985570003895695, 0.045062137810263, -0.14638335697725058},
     {0.0006856636143351911, -0.0021854100931351108, -0.006053290930419836, 0.0034166062446976484, 0.011061968141191885, -0.017074854474633222, -0.042317445037943116, 0.061839382384768694, 0.07510514389902706, 0.028511823174337456, -0.029332566433756146, -0.04412665893348092},
     {},
     {}},

  };
  return refs;
}

std::shared_ptr<RNNCellBase> make_cell(int index) {
  switch (index) {
    case 0: return std::make_shared<RNNCellImpl>(C, H);
    case 1: return std::make_shared<RNNCellImpl>(RNNCellOptions(C, H).nonlinearity("relu"));
    case 2: return std::make_shared<RNNCellImpl>(RNNCellOptions(C, H).bias(false).nonlinearity("relu"));
    case 3: return std::make_shared<LSTMCellImpl>(C, H);
    case 4: return std::make_shared<GRUCellImpl>(C, H);
    default: return std::make_shared<GRUCellImpl>(GRUCellOptions(C, H).bias(false));
  }
}

// Runs `cell` on (x, h[, c]) and returns (h1, c1) (c1 undefined except LSTM).
std::pair<Tensor, Tensor> step(const RNNCellBase& cell, const Tensor& x, const Tensor& h, const Tensor& c) {
  if (auto* lstm = dynamic_cast<const LSTMCellImpl*>(&cell)) {
    auto [h1, c1] = lstm->forward(x, LSTMCellImpl::State{h, c});
    return {h1, c1};
  }
  if (auto* rnn = dynamic_cast<const RNNCellImpl*>(&cell)) return {rnn->forward(x, h), Tensor()};
  return {dynamic_cast<const GRUCellImpl&>(cell).forward(x, h), Tensor()};
}

void check_against_pytorch(DType dtype, double rtol, double atol) {
  for (int k = 0; k < static_cast<int>(references().size()); ++k) {
    const Reference& ref = references()[k];
    SCOPED_TRACE(std::string(ref.name) + (dtype == kFloat64 ? " float64" : " float32"));
    auto cell = make_cell(k);
    set_weights(*cell, dtype);
    Tensor x = f({N, C}, 4, 0, 2.0, dtype).requires_grad_();
    Tensor h = f({N, H}, 6, 1, 1.0, dtype).requires_grad_();
    Tensor c = f({N, H}, 10, 7, 1.5, dtype).requires_grad_();
    auto [h1, c1] = step(*cell, x, h, c);
    expect_tensor(h1, {N, H}, ref.h1, rtol, atol, "h1");
    Tensor loss = (h1 * f({N, H}, 9, 4, 2.0, dtype)).sum();
    if (c1.defined()) {
      expect_tensor(c1, {N, H}, ref.c1, rtol, atol, "c1");
      loss = loss + (c1 * f({N, H}, 13, 2, 2.0, dtype)).sum();
    }
    loss.backward();
    expect_tensor(x.grad(), {N, C}, ref.grad_x, rtol, atol, "grad x");
    expect_tensor(h.grad(), {N, H}, ref.grad_h, rtol, atol, "grad h");
    if (c1.defined()) expect_tensor(c.grad(), {N, H}, ref.grad_c, rtol, atol, "grad c");
    else EXPECT_FALSE(c.grad().defined());
    const std::int64_t G = cell->weight_ih.size(0);
    expect_tensor(cell->weight_ih.grad(), {G, C}, ref.grad_w_ih, rtol, atol, "grad weight_ih");
    expect_tensor(cell->weight_hh.grad(), {G, H}, ref.grad_w_hh, rtol, atol, "grad weight_hh");
    if (!ref.grad_b_ih.empty()) {
      expect_tensor(cell->bias_ih.grad(), {G}, ref.grad_b_ih, rtol, atol, "grad bias_ih");
      expect_tensor(cell->bias_hh.grad(), {G}, ref.grad_b_hh, rtol, atol, "grad bias_hh");
    } else {
      EXPECT_FALSE(cell->bias_ih.defined());
    }
  }
}

TEST(Cells, MatchPyTorchFloat64) { check_against_pytorch(kFloat64, 1e-10, 1e-12); }
TEST(Cells, MatchPyTorchFloat32) { check_against_pytorch(kFloat32, 1e-4, 1e-5); }

// gradcheck in float64 over every input and parameter (random upstream gradient).
TEST(Cells, Gradcheck) {
  for (int k = 0; k < static_cast<int>(references().size()); ++k) {
    SCOPED_TRACE(references()[k].name);
    manual_seed(100 + k);
    auto cell = make_cell(k);
    cell->to(kFloat64);
    // Random inputs; a relu pre-activation within eps of its kink would show as a failure.
    Tensor x = testing::leaf({3, C}, 200 + k);
    Tensor h = testing::leaf({3, H}, 300 + k);
    Tensor c = testing::leaf({3, H}, 400 + k);
    std::vector<Tensor> inputs = {x, h, c};
    for (const Tensor& p : cell->parameters()) inputs.push_back(p);
    const RNNCellBase& ref = *cell;
    auto fn = [&](const std::vector<Tensor>& in) {
      auto [h1, c1] = step(ref, in[0], in[1], in[2]);
      return c1.defined() ? std::vector<Tensor>{h1, c1} : std::vector<Tensor>{h1};
    };
    if (dynamic_cast<const LSTMCellImpl*>(cell.get()) == nullptr) c.requires_grad_(false);
    EXPECT_GRADCHECK(fn, inputs);
  }
}

TEST(Cells, UnbatchedMatchesBatchedAndStatesDefaultToZeros) {
  for (int k = 0; k < static_cast<int>(references().size()); ++k) {
    SCOPED_TRACE(references()[k].name);
    auto cell = make_cell(k);
    cell->to(kFloat64);
    Tensor x = testing::uniform({3, C}, 500 + k);
    Tensor h = testing::uniform({3, H}, 600 + k);
    Tensor c = testing::uniform({3, H}, 700 + k);
    auto [h1, c1] = step(*cell, x, h, c);
    for (std::int64_t n = 0; n < 3; ++n) {
      auto [hn, cn] = step(*cell, x.select(0, n), h.select(0, n), c.select(0, n));
      ASSERT_EQ(hn.shape(), (Shape{H}));
      expect_tensor(hn, {H}, h1.select(0, n).to_vector<double>(), 1e-14, 1e-15, "unbatched h");
      if (c1.defined()) expect_tensor(cn, {H}, c1.select(0, n).to_vector<double>(), 1e-14, 1e-15, "unbatched c");
    }
    // No state given: the same as explicit zeros, batched and unbatched.
    Tensor z = zeros({3, H}, kFloat64);
    Tensor expected = step(*cell, x, z, z).first;
    Tensor got;
    if (auto* lstm = dynamic_cast<LSTMCellImpl*>(cell.get())) {
      got = std::get<0>(lstm->forward(x));
      EXPECT_EQ(std::get<0>(lstm->forward(x.select(0, 1))).to_vector<double>(), expected.select(0, 1).to_vector<double>());
    } else if (auto* rnn = dynamic_cast<RNNCellImpl*>(cell.get())) {
      got = rnn->forward(x);
    } else {
      got = dynamic_cast<GRUCellImpl&>(*cell).forward(x);
    }
    EXPECT_EQ(got.to_vector<double>(), expected.to_vector<double>());
  }
}

TEST(Cells, ParametersInitAndPrinting) {
  manual_seed(7);
  // [(n, tuple(p.shape)) for n, p in nn.LSTMCell(3, 4).named_parameters()] in torch 1.13.
  LSTMCell lstm(3, 4);
  auto params = lstm->named_parameters();
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[0].first, "weight_ih");
  EXPECT_EQ(params[0].second.shape(), (Shape{16, 3}));
  EXPECT_EQ(params[1].first, "weight_hh");
  EXPECT_EQ(params[1].second.shape(), (Shape{16, 4}));
  EXPECT_EQ(params[2].first, "bias_ih");
  EXPECT_EQ(params[2].second.shape(), (Shape{16}));
  EXPECT_EQ(params[3].first, "bias_hh");
  EXPECT_EQ(params[3].second.shape(), (Shape{16}));
  EXPECT_EQ(GRUCell(3, 4)->weight_hh.shape(), (Shape{12, 4}));
  EXPECT_EQ(RNNCell(3, 4)->weight_ih.shape(), (Shape{4, 3}));
  EXPECT_EQ(RNNCell(RNNCellOptions(3, 4).bias(false))->parameters().size(), 2u);

  // Every parameter U(-1/sqrt(H), 1/sqrt(H)): H = 25 -> bound 0.2.
  GRUCell big(30, 25);
  std::vector<double> all;
  for (const Tensor& p : big->parameters()) {
    std::vector<double> v = p.to_vector<double>();
    all.insert(all.end(), v.begin(), v.end());
  }
  double lo = 1, hi = -1, mean = 0;
  for (double v : all) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    mean += v;
  }
  mean /= static_cast<double>(all.size());
  EXPECT_GE(lo, -0.2);
  EXPECT_LT(hi, 0.2);
  EXPECT_LT(lo, -0.19);
  EXPECT_GT(hi, 0.19);
  EXPECT_NEAR(mean, 0.0, 0.01);  // 4200 values, sd of the mean ~ 0.0018

  // repr() of the same torch.nn cells in torch 1.13.
  EXPECT_EQ(RNNCell(3, 4)->str(), "RNNCell(3, 4)");
  EXPECT_EQ(RNNCell(RNNCellOptions(3, 4).bias(false).nonlinearity("relu"))->str(),
            "RNNCell(3, 4, bias=False, nonlinearity=relu)");
  EXPECT_EQ(LSTMCell(3, 4)->str(), "LSTMCell(3, 4)");
  EXPECT_EQ(GRUCell(GRUCellOptions(3, 4).bias(false))->str(), "GRUCell(3, 4, bias=False)");
}

TEST(Cells, ErrorsInPyTorchWords) {
  // nn.RNN's message (torch 1.13's RNNCell only fails at forward, with "Unknown nonlinearity: gelu").
  EXPECT_ERROR_TEXT(RNNCell(RNNCellOptions(3, 4).nonlinearity("gelu")),
                    "Unknown nonlinearity 'gelu'. Select from 'tanh' or 'relu'.");
  // The rest: messages of torch 1.13 for c = nn.RNNCell(3, 4) / nn.LSTMCell / nn.GRUCell.
  RNNCell rnn(3, 4);
  EXPECT_ERROR_TEXT(rnn->forward(zeros({2, 5})), "input has inconsistent input_size: got 5 expected 3");
  EXPECT_ERROR_TEXT(rnn->forward(zeros({5})), "input has inconsistent input_size: got 5 expected 3");
  EXPECT_ERROR_TEXT(rnn->forward(zeros({2, 3}), zeros({3, 4})), "Input batch size 2 doesn't match hidden0 batch size 3");
  EXPECT_ERROR_TEXT(rnn->forward(zeros({2, 3}), zeros({2, 5})), "hidden0 has inconsistent hidden_size: got 5, expected 4");
  EXPECT_ERROR_TEXT(rnn->forward(zeros({2, 2, 3})), "RNNCell: Expected input to be 1-D or 2-D but received 3-D tensor");
  // torch 1.13 has no message of its own for a 2-D hidden with a 1-D input (it reports a
  // size taken from the unsqueezed 3-D tensor); loom says what is wrong.
  EXPECT_ERROR_TEXT(rnn->forward(zeros({3}), zeros({2, 4})),
                    "RNNCell: Expected hidden0 to be 1-D for a 1-D input, but received 2-D tensor");
  LSTMCell lstm(3, 4);
  EXPECT_ERROR_TEXT(lstm->forward(zeros({2, 2, 3})), "LSTMCell: Expected input to be 1-D or 2-D but received 3-D tensor");
  EXPECT_ERROR_TEXT(lstm->forward(zeros({2, 5})), "input has inconsistent input_size: got 5 expected 3");
  EXPECT_ERROR_TEXT(lstm->forward(zeros({2, 3}), LSTMCellImpl::State{zeros({3, 4}), zeros({2, 4})}),
                    "Input batch size 2 doesn't match hidden0 batch size 3");
  // torch 1.13 labels the cell state "hidden0" too.
  EXPECT_ERROR_TEXT(lstm->forward(zeros({2, 3}), LSTMCellImpl::State{zeros({2, 4}), zeros({3, 4})}),
                    "Input batch size 2 doesn't match hidden0 batch size 3");
  EXPECT_ERROR_TEXT(lstm->forward(zeros({2, 3}), LSTMCellImpl::State{zeros({2, 4}), zeros({2, 5})}),
                    "hidden0 has inconsistent hidden_size: got 5, expected 4");
  GRUCell gru(3, 4);
  EXPECT_ERROR_TEXT(gru->forward(zeros({2, 2, 3})), "GRUCell: Expected input to be 1-D or 2-D but received 3-D tensor");
  EXPECT_ERROR_TEXT(gru->forward(zeros({2, 3}), zeros({3, 4})), "Input batch size 2 doesn't match hidden0 batch size 3");
  EXPECT_ERROR_TEXT(gru->forward(zeros({2, 3}), zeros({2, 5})), "hidden0 has inconsistent hidden_size: got 5, expected 4");
}

}  // namespace
}  // namespace loom::nn
