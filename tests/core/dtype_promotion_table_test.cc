// torch.result_type for every pair of loom's eight dtypes, as tensors with
// dimensions, 0-dim tensors and Python scalars: PyTorch 1.13's answers in
// tests/data/dtypes/result_type.txt (made by
// tests/fixtures/make_dtype_promotion.py), checked against loom's
// result_type, and through the ops that use it.
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "autograd/functions.h"
#include "core/native.h"
#include "core/type_promotion.h"
#include "testing.h"

namespace loom {
namespace {

DType parse_dtype(const std::string& name) {
  static const std::map<std::string, DType> names = {
      {"float32", kFloat32}, {"float64", kFloat64}, {"int64", kInt64}, {"bool", kBool},
      {"bfloat16", kBFloat16}, {"float16", kFloat16}, {"int32", kInt32}, {"uint8", kUInt8}};
  auto it = names.find(name);
  if (it == names.end()) throw std::runtime_error("unknown dtype " + name);
  return it->second;
}

// "t:int32" -> ones([2], int32); "z:int32" -> a 0-dim ones.
Tensor tensor_operand(const std::string& spec) {
  const DType t = parse_dtype(spec.substr(2));
  return native::ones(spec[0] == 't' ? Shape{2} : Shape{}, TensorOptions(t));
}

// "s:int" -> 2, "s:float" -> 2.5, "s:bool" -> true (the generator's scalars).
Scalar scalar_operand(const std::string& spec) {
  const std::string kind = spec.substr(2);
  if (kind == "int") return Scalar(2);
  if (kind == "float") return Scalar(2.5);
  if (kind == "bool") return Scalar(true);
  throw std::runtime_error("unknown scalar " + spec);
}

TEST(DtypePromotionTable, ResultTypeMatchesPyTorchForEveryPair) {
  std::ifstream in(testing::source_path("tests/data/dtypes/result_type.txt"));
  ASSERT_TRUE(in) << "missing tests/data/dtypes/result_type.txt";
  std::string line;
  int checked = 0, scalars = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string a, b, want;
    ASSERT_TRUE(static_cast<bool>(fields >> a >> b >> want)) << line;
    const DType expected = parse_dtype(want);
    const Tensor ta = tensor_operand(a);
    DType got;
    if (b[0] == 's') {
      got = result_type(ta, scalar_operand(b));
      ++scalars;
    } else {
      const Tensor tb = tensor_operand(b);
      got = result_type(ta, tb);
      // Addition follows result_type (bool + bool is an "or"): the dtype of a + b.
      EXPECT_EQ((ta + tb).dtype(), expected) << line;
    }
    EXPECT_EQ(got, expected) << line;
    ++checked;
  }
  EXPECT_EQ(checked, 304);  // 16 x 16 tensor pairs + 16 x 3 tensor-scalar pairs
  EXPECT_EQ(scalars, 48);
}

TEST(DtypePromotionTable, PromoteTypesOfTheNewDtypes) {
  // torch.promote_types(torch.uint8, torch.int32) -> int32, and so on.
  EXPECT_EQ(promote_types(kUInt8, kInt32), kInt32);
  EXPECT_EQ(promote_types(kUInt8, kBool), kUInt8);
  EXPECT_EQ(promote_types(kInt32, kInt64), kInt64);
  EXPECT_EQ(promote_types(kUInt8, kInt64), kInt64);
  EXPECT_EQ(promote_types(kInt32, kFloat16), kFloat16);
  EXPECT_EQ(promote_types(kUInt8, kBFloat16), kBFloat16);
  EXPECT_EQ(promote_types(kInt32, kFloat32), kFloat32);
  // torch.can_cast
  EXPECT_TRUE(can_cast(kUInt8, kInt32));
  EXPECT_TRUE(can_cast(kInt64, kUInt8));  // integer to integer is allowed, as torch.can_cast
  EXPECT_FALSE(can_cast(kFloat32, kInt32));
  EXPECT_FALSE(can_cast(kUInt8, kBool));
}

}  // namespace
}  // namespace loom
