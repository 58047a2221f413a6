// The part both SQL stores share: they build their roles, this hands them out.
#pragma once

#include <memory>
#include <stdexcept>

#include "store/store.h"

namespace batch_cleanup::store {

class RoleStore : public Store {
 public:
  BatchStore& batches() override { return required(batches_, "batches() before configure()"); }
  DryRunQueries& dry_run() override { return required(dry_run_, "dry_run() before configure()"); }
  HistoryTable& history() override { return required(history_, "no history table"); }
  ArchiveTable& archive() override { return required(archive_, "no archive table"); }
  InstanceLock& instance_lock() override { return required(lock_, "no instance lock"); }

 protected:
  std::unique_ptr<BatchStore> batches_;     // built by configure()
  std::unique_ptr<DryRunQueries> dry_run_;  // built by configure()
  std::unique_ptr<HistoryTable> history_;
  std::unique_ptr<ArchiveTable> archive_;
  std::unique_ptr<InstanceLock> lock_;

 private:
  template <typename Role>
  static Role& required(const std::unique_ptr<Role>& role, const char* missing) {
    if (!role) throw std::logic_error(missing);
    return *role;
  }
};

}  // namespace batch_cleanup::store
