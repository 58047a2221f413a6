#include "cli/explain.h"

#include <iostream>

#include "cli/exit_codes.h"
#include "engine/preflight.h"
#include "engine/preflight_dependents.h"
#include "log/logger.h"
#include "store/store.h"

namespace batch_cleanup::cli {

int run_explain(const CleanupConfig& config) {
  CleanupConfig read_only = config;
  read_only.dry_run = true;  // the session cannot write
  auto store = store::make_store(read_only);
  store->connect();
  const auto decision = engine::decide_preflight(read_only, store->inspect());
  for (const auto& warning : decision.warnings) logging::logger()->warn("{}", warning);
  store->configure(decision.plan);
  auto& batches = store->batches();
  batches.begin_pass();
  std::cout << "-- backend " << store->backend_name() << ", strategy " << decision.strategy
            << ", batch size " << config.batch_size << "\n";
  for (const auto& note : decision.notes) std::cout << "-- " << note << "\n";
  if (!decision.dependents.empty()) {
    // What a cycle would do through the foreign keys now (counted like a dry run's).
    const auto counts = store->dry_run().count_dependents(decision.dependents);
    for (const auto& rows : engine::dependent_rows(decision.dependents, counts)) {
      std::cout << "-- a cycle now: " << engine::describe_dependent_rows(rows) << "\n";
    }
    if (counts.refused_total > 0) {
      std::cout << "-- a cycle now: " << counts.refused_total
                << " candidate(s) would be refused by RESTRICT / NO ACTION foreign keys and kept\n";
    }
  }
  std::cout << "\n" << batches.explain(config.batch_size);
  return kExitSuccess;
}

}  // namespace batch_cleanup::cli
