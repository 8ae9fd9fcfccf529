// Device parsing and CUDA detection.
#include <string>

#include "core/device.h"
#include "core/error.h"
#include "testing.h"

namespace loom {
namespace {

TEST(Device, ParsesCpuAndCuda) {
  Device cpu("cpu");
  EXPECT_TRUE(cpu.is_cpu());
  EXPECT_EQ(cpu, kCPU);
  Device cuda("cuda");
  EXPECT_TRUE(cuda.is_cuda());
  EXPECT_EQ(cuda.index, 0);
  Device cuda1("cuda:1");
  EXPECT_TRUE(cuda1.is_cuda());
  EXPECT_EQ(cuda1.index, 1);
  EXPECT_EQ(cuda1.str(), "cuda:1");
  EXPECT_EQ(Device("cuda:12").index, 12);
  EXPECT_EQ(cpu.str(), "cpu");
  EXPECT_EQ(kCUDA.str(), "cuda:0");
  EXPECT_EQ(fmt::format("{}", cuda1), "cuda:1");
  EXPECT_NE(Device("cuda:0"), Device("cuda:1"));
}

TEST(Device, RejectsOtherSpellingsWithPyTorchsMessage) {
  for (const char* spec : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1x", "CPU", ""}) {
    try {
      Device d{std::string_view(spec)};
      ADD_FAILURE() << "Device(\"" << spec << "\") parsed as " << d.str();
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()),
                std::string("Expected one of cpu, cuda device type at start of device string: ") +
                    spec);
    }
  }
}

TEST(Device, CudaDetectionIsConsistent) {
#if defined(LOOM_WITH_CUDA)
  EXPECT_TRUE(cuda_compiled());
#else
  EXPECT_FALSE(cuda_compiled());
  EXPECT_EQ(cuda_device_count(), 0);
#endif
  EXPECT_EQ(cuda_available(), cuda_device_count() > 0);
  if (cuda_available()) EXPECT_TRUE(cuda_compiled());
  EXPECT_EQ(testing::has_cuda_device(), cuda_available());
}

}  // namespace
}  // namespace loom
