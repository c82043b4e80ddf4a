// The budgets of tests/emu/budgets.txt (issue 23), enforced on the emulated device: the norm family at
// several shapes (launches; distinct bytes where the build counts them: not under ASan), and one warm
// training step of the CIFAR CNN (launches + library calls, synchronizations, allocations). Every
// emulated configuration runs it (1, 8 and 132 SMs: other chunk plans, other block orders).
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "budgets.h"
#include "support/cnn_step.h"
#include "norm_ops.h"

using namespace renorm;

namespace {
test::Budgets budgets() { return test::read_budgets(RENORM_BUDGETS_FILE); }

std::string kernels_of(const renorm_emu::Account& a) {
  std::string s;
  for (const auto& [kernel, n] : a.launches)
    s += (s.empty() ? "" : ", ") + test::shown_kernel(kernel) + (n > 1 ? " x" + std::to_string(n) : "");
  return s;
}

}  // namespace

TEST_CASE("budget: the norm family within tests/emu/budgets.txt at every shape", "[cuda][budget]") {
  const test::Budgets b = budgets();
  // The byte budgets hold where F dwarfs the per-(n,c) values (partials, coefficients): issue 23's CIFAR
  // shape and its acceptance shape. The small ones check the launches and the least bytes: C = 48 (a
  // partial tile whose lines other tiles share), odd C (the scalar apply), M = B (one microbatch), and a
  // [B, C] norm (rows = M).
  // The cooperative launches run where they fit on every emulated device (their grid small: the emulator
  // keeps every thread of the grid alive at once): B 4, 16x16, C 32, M 4 checks their bytes.
  struct Case {
    int64_t b, h, w, c, m;
    bool bytes, cooperative;
  };
  for (const Case sh : {Case{128, 32, 32, 32, 4, true, false}, Case{96, 12, 12, 48, 3, true, false},
                        Case{4, 16, 16, 32, 4, true, true}, Case{12, 6, 6, 48, 3, false, true},
                        Case{6, 5, 5, 3, 2, false, true}, Case{8, 4, 4, 16, 8, false, true},
                        Case{32, 1, 1, 40, 4, false, true}}) {
    test::NormOps norm(kernels::NormShape{sh.b / sh.m, sh.m * sh.h * sh.w, sh.c});
    const double f = norm.pass_bytes();
    for (const test::NormOp& op : norm.ops(sh.cooperative)) {
      const bool fits = op.run();  // warm: the caching allocator holds the scratch, the arrival counters exist
      renorm_emu::reset_account();
      REQUIRE(op.run() == fits);
      const renorm_emu::Account a = renorm_emu::account();
      if (!fits) {  // too many blocks for this device at once: nothing launched
        CHECK(a.total_launches() == 0);
        continue;
      }
      const test::NormBudget& want = b.norm.at(op.name);
      INFO("norm." << op.name << " at B " << sh.b << ", " << sh.h << "x" << sh.w << ", C " << sh.c << ", M " << sh.m
                   << ": " << a.total_launches() << " launches (" << kernels_of(a) << "), distinct "
                   << double(a.bytes_distinct_all) / f << " F");
      CHECK(a.total_launches() <= want.launches);
      CHECK(a.syncs + a.allocations + a.memsets + a.copies == 0);
      if (renorm_emu::traffic_counted()) {
        CHECK(double(a.bytes_distinct_all) >= op.min_passes * f);  // nothing moves less than its inputs and outputs
        if (sh.bytes && want.distinct_passes > 0) CHECK(double(a.bytes_distinct_all) <= want.distinct_passes * f);
      }
    }
  }
}

TEST_CASE("budget: one warm CIFAR CNN training step within tests/emu/budgets.txt", "[cuda][budget][step]") {
  const test::Budgets b = budgets();
  renorm_emu::set_reference_libraries(true);
  struct Off {
    ~Off() { renorm_emu::set_reference_libraries(false); }
  } off;
  test::CnnStep step(NormKind::BatchRenorm, 8, 4);
  step.run();  // warm: plans, scratch, optimizer state
  step.run();
  renorm_emu::reset_account();
  step.run();
  const renorm_emu::Account a = renorm_emu::account();
  std::printf("one warm CIFAR CNN step (brn, B 8, M 4) on the emulated device: %llu launches + %llu library calls, "
              "%llu memsets, %llu copies (%llu pageable), %llu syncs, %llu allocations\n  %s\n",
              (unsigned long long)a.total_launches(), (unsigned long long)a.library_calls, (unsigned long long)a.memsets,
              (unsigned long long)a.copies, (unsigned long long)a.pageable_copies, (unsigned long long)a.syncs,
              (unsigned long long)a.allocations, kernels_of(a).c_str());
  CHECK(a.total_launches() + a.library_calls <= b.step.at("launches_and_library_calls"));
  CHECK(a.syncs <= b.step.at("syncs"));
  CHECK(a.allocations <= b.step.at("allocations"));
  CHECK(a.pageable_copies <= b.step.at("pageable_copies"));
}

TEST_CASE("budget: a malformed budgets file is one line naming the file and line", "[cuda][budget]") {
  const std::string path = "renorm-test-budgets.txt";
  {
    std::ofstream out(path);
    out << "# ok\nnorm.forward 2 2.10\nnorm.backward two 3.1\n";
  }
  try {
    test::read_budgets(path);
    FAIL("accepted");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(path + ":3: expected") == 0);
  }
  std::remove(path.c_str());
}
