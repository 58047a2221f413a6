#include "cli/explain.h"

#include <iostream>

#include "cli/exit_codes.h"
#include "log/logger.h"
#include "store/cleanup_store.h"

namespace batch_cleanup::cli {

int run_explain(const CleanupConfig& config) {
  CleanupConfig read_only = config;
  read_only.dry_run = true;  // the session cannot write
  auto store = store::make_store(read_only);
  store->connect();
  const auto preflight = store->preflight();
  for (const auto& warning : preflight.warnings) logging::logger()->warn("{}", warning);
  store->begin_pass();
  std::cout << "-- backend " << store->backend_name() << ", strategy " << preflight.strategy
            << ", batch size " << config.batch_size << "\n\n"
            << store->explain_batch(config.batch_size);
  return kExitSuccess;
}

}  // namespace batch_cleanup::cli
