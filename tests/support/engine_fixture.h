// The one fixture of the engine's unit tests: an engine over the in-memory fake store, with
// retries fast enough for a unit test. Each suite derives from it and adds its data.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "engine/cleanup_engine.h"
#include "support/fake_store.h"

namespace batch_cleanup::testing {

class EngineFixture : public ::testing::Test {
 protected:
  EngineFixture() {
    config_.retry_base_delay = std::chrono::milliseconds(1);
    config_.retry_max_delay = std::chrono::milliseconds(4);
    config_.batch_size = 3;
  }

  // A pending row `key` with `email` (nullopt: NULL).
  void add_pending(const std::string& key, std::optional<std::string> email) {
    db_.pending[key] = FakeRow{key, std::move(email), false, ""};
  }

  // An engine over the fake database, with config_ as it is now.
  engine::CleanupEngine make_engine() {
    return engine::CleanupEngine(config_, std::make_unique<FakeStore>(db_), stop_);
  }

  // One cycle of a fresh engine.
  CycleReport run() { return make_engine().run_cycle(); }

  CleanupConfig config_;
  FakeDatabase db_;
  std::shared_ptr<engine::StopFlag> stop_ = std::make_shared<engine::StopFlag>();
};

}  // namespace batch_cleanup::testing
