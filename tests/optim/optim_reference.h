// Reads tests/data/optim/optim_reference.txt, the PyTorch 1.13 numbers written
// by tests/fixtures/make_optim_trajectories.py (format described there), and
// builds loom optimizers from its option lists.
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "optim/optim.h"
#include "testing.h"

namespace loom::testing::optim_reference {

using Options = std::map<std::string, std::string>;

struct GroupSpec {
  std::vector<int> indices;
  Options options;  // overrides of the case's defaults
};

struct TrajectoryCase {
  std::string name, kind;
  Options defaults;
  std::vector<GroupSpec> groups;  // empty: one group of every parameter
  std::vector<Shape> shapes;
  std::vector<std::vector<double>> init;
  // grads[t - 1][p]; nullopt where .grad is None at step t.
  std::vector<std::vector<std::optional<std::vector<double>>>> grads;
  // expected[dtype][t - 1][p], dtype "float64" or "float32".
  std::map<std::string, std::vector<std::vector<std::vector<double>>>> expected;
  // ASGD only: averaged[dtype][t - 1][p], the state "ax" after step t (absent
  // for a parameter without state yet).
  std::map<std::string, std::map<std::size_t, std::map<int, std::vector<double>>>> averaged;
};

struct ClipCase {
  std::string name;
  bool by_value = false;
  double max_norm = 0, norm_type = 0, clip_value = 0;
  std::vector<Shape> shapes;
  std::vector<std::optional<std::vector<double>>> grads;
  std::map<std::string, double> total;                                // by dtype
  std::map<std::string, std::map<int, std::vector<double>>> clipped;  // dtype -> param -> values
};

struct ScheduleStep {
  int t;
  double metric;
  std::vector<double> lrs;
};

struct ScheduleCase {
  std::string name, kind;
  Options options;
  std::vector<double> group_lrs;
  std::vector<ScheduleStep> steps;  // steps[t], t = 0 after construction
};

struct ErrorCase {
  std::string kind;
  Options options;
  std::string message;
};

struct Reference {
  std::vector<TrajectoryCase> cases;
  std::vector<ClipCase> clips;
  std::vector<ScheduleCase> schedules;
  std::vector<ErrorCase> errors;

  const TrajectoryCase& find_case(const std::string& name) const {
    for (const auto& c : cases)
      if (c.name == name) return c;
    throw std::runtime_error("no optimizer case " + name);
  }
};

inline double to_number(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0') throw std::runtime_error("not a number: " + s);
  return v;
}

inline std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

inline Options parse_options(const std::vector<std::string>& words, std::size_t from) {
  Options out;
  for (std::size_t i = from; i < words.size(); ++i) {
    auto eq = words[i].find('=');
    if (eq == std::string::npos) throw std::runtime_error("bad option " + words[i]);
    out[words[i].substr(0, eq)] = words[i].substr(eq + 1);
  }
  return out;
}

inline std::vector<double> numbers(const std::vector<std::string>& words, std::size_t from) {
  std::vector<double> out;
  for (std::size_t i = from; i < words.size(); ++i) out.push_back(to_number(words[i]));
  return out;
}

// `relative`: under the source tree; another file in the same format (e.g.
// tests/data/nonfinite/optim_nonfinite.txt) may be read too.
inline Reference load(const std::string& relative = "tests/data/optim/optim_reference.txt") {
  const std::string path = source_path(relative);
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  Reference ref;
  TrajectoryCase* tc = nullptr;
  ClipCase* cc = nullptr;
  ScheduleCase* sc = nullptr;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    // "head | tail": the tail is free text (an error message) or options.
    const auto bar = line.find(" |");
    const std::string head = bar == std::string::npos ? line : line.substr(0, bar);
    const std::string tail =
        bar == std::string::npos || bar + 3 > line.size() ? "" : line.substr(bar + 3);
    auto w = split_words(head);
    const std::string& tag = w[0];
    if (tag == "case") {
      tc = &ref.cases.emplace_back();
      tc->name = w[1];
      tc->kind = w[2];
      tc->defaults = parse_options(w, 3);
    } else if (tag == "clip" || tag == "clipvalue") {
      cc = &ref.clips.emplace_back();
      cc->name = w[1];
      cc->by_value = tag == "clipvalue";
      if (cc->by_value) {
        cc->clip_value = to_number(w[2]);
      } else {
        cc->max_norm = to_number(w[2]);
        cc->norm_type = to_number(w[3]);
      }
    } else if (tag == "schedule") {
      sc = &ref.schedules.emplace_back();
      sc->name = w[1];
      sc->kind = w[2];
      sc->options = parse_options(w, 3);
    } else if (tag == "error") {
      ref.errors.push_back({w[1], parse_options(w, 2), tail});
    } else if (tag == "end") {
      tc = nullptr, cc = nullptr, sc = nullptr;
    } else if (tag == "group") {
      GroupSpec g;
      for (std::size_t i = 1; i < w.size(); ++i) g.indices.push_back(std::stoi(w[i]));
      g.options = parse_options(split_words(tail), 0);
      tc->groups.push_back(g);
    } else if (tag == "shape") {
      Shape s;
      for (std::size_t i = 2; i < w.size(); ++i) s.push_back(std::stoll(w[i]));
      (tc ? tc->shapes : cc->shapes).push_back(s);
    } else if (tag == "init") {
      tc->init.push_back(numbers(w, 2));
    } else if (tag == "grad") {
      const auto t = static_cast<std::size_t>(std::stoi(w[1]));
      std::optional<std::vector<double>> g;
      if (w[3] != "none") g = numbers(w, 3);
      if (cc) {
        cc->grads.push_back(g);
      } else {
        if (tc->grads.size() < t) tc->grads.resize(t);
        tc->grads[t - 1].push_back(g);
      }
    } else if (tag == "float64" || tag == "float32") {
      const auto t = static_cast<std::size_t>(std::stoi(w[1]));
      auto& e = tc->expected[tag];
      if (e.size() < t) e.resize(t);
      e[t - 1].push_back(numbers(w, 3));
    } else if (tag == "averaged") {
      tc->averaged[w[1]][static_cast<std::size_t>(std::stoi(w[2])) - 1][std::stoi(w[3])] = numbers(w, 4);
    } else if (tag == "total") {
      cc->total[w[1]] = to_number(w[2]);
    } else if (tag == "clipped") {
      cc->clipped[w[1]][std::stoi(w[2])] = numbers(w, 3);
    } else if (tag == "group_lrs") {
      sc->group_lrs = numbers(w, 1);
    } else if (tag == "lr") {
      sc->steps.push_back({std::stoi(w[1]), to_number(w[2]), numbers(w, 3)});
    } else {
      throw std::runtime_error("unknown record " + tag + " in " + path);
    }
  }
  return ref;
}

// The reference, read once.
inline const Reference& reference() {
  static const Reference ref = load();
  return ref;
}

// Default options of optimizer `kind` with `options` applied by name.
inline std::unique_ptr<optim::OptimizerOptions> make_options(const std::string& kind,
                                                             const Options& options) {
  std::unique_ptr<optim::OptimizerOptions> o;
  if (kind == "SGD") o = std::make_unique<optim::SGDOptions>(0.0);
  else if (kind == "Adam") o = std::make_unique<optim::AdamOptions>();
  else if (kind == "AdamW") o = std::make_unique<optim::AdamWOptions>();
  else if (kind == "RMSprop") o = std::make_unique<optim::RMSpropOptions>();
  else if (kind == "ASGD") o = std::make_unique<optim::ASGDOptions>();
  else throw std::runtime_error("unknown optimizer " + kind);
  for (const auto& [k, v] : options) o->set_scalar(k, to_number(v));
  return o;
}

// Optimizer `kind` over `groups` with `defaults`.
inline std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& kind,
                                                        std::vector<optim::ParamGroup> groups,
                                                        const optim::OptimizerOptions& defaults) {
  using namespace optim;
  if (kind == "SGD") return std::make_unique<SGD>(std::move(groups), dynamic_cast<const SGDOptions&>(defaults));
  if (kind == "Adam") return std::make_unique<Adam>(std::move(groups), dynamic_cast<const AdamOptions&>(defaults));
  if (kind == "AdamW")
    return std::make_unique<AdamW>(std::move(groups), dynamic_cast<const AdamWOptions&>(defaults));
  if (kind == "RMSprop")
    return std::make_unique<RMSprop>(std::move(groups), dynamic_cast<const RMSpropOptions&>(defaults));
  if (kind == "ASGD")
    return std::make_unique<ASGD>(std::move(groups), dynamic_cast<const ASGDOptions&>(defaults));
  throw std::runtime_error("unknown optimizer " + kind);
}

// The case's optimizer over `params` (its groups, or one group of all).
inline std::unique_ptr<optim::Optimizer> make_case_optimizer(const TrajectoryCase& c,
                                                             const std::vector<Tensor>& params) {
  auto defaults = make_options(c.kind, c.defaults);
  std::vector<optim::ParamGroup> groups;
  if (c.groups.empty()) {
    groups.emplace_back(params);
  } else {
    for (const GroupSpec& g : c.groups) {
      std::vector<Tensor> ps;
      for (int i : g.indices) ps.push_back(params[i]);
      auto o = defaults->clone();
      for (const auto& [k, v] : g.options) o->set_scalar(k, to_number(v));
      groups.emplace_back(ps, *o);
    }
  }
  return make_optimizer(c.kind, std::move(groups), *defaults);
}

// The case's parameters at their initial values, in `dtype` on the CPU, requiring grad.
inline std::vector<Tensor> make_params(const TrajectoryCase& c, DType dtype) {
  std::vector<Tensor> params;
  for (std::size_t p = 0; p < c.shapes.size(); ++p)
    params.push_back(tensor(c.init[p], c.shapes[p], TensorOptions(dtype)).requires_grad_(true));
  return params;
}

// Sets each parameter's .grad to the case's gradient at step t (1-based), in
// the parameter's dtype and on its device (undefined where PyTorch's was None).
inline void set_grads(const TrajectoryCase& c, std::size_t t, const std::vector<Tensor>& params) {
  for (std::size_t p = 0; p < params.size(); ++p) {
    const auto& g = c.grads[t - 1][p];
    params[p].set_grad(g ? tensor(*g, c.shapes[p], TensorOptions(params[p].dtype()).device(params[p].device()))
                         : Tensor());
  }
}

}  // namespace loom::testing::optim_reference
