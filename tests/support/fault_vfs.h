// An SQLite VFS that injects the faults a disk gives: a full disk (SQLITE_FULL) and I/O errors
// (SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC), on the real files of the default VFS. Installed as
// the default VFS for as long as a FaultVfs lives, so any connection the store opens in this
// process goes through it. One at a time; not for use across processes.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace batch_cleanup::testing {

class FaultVfs {
 public:
  FaultVfs() {
    base_ = sqlite3_vfs_find(nullptr);
    if (base_ == nullptr || active_ != nullptr) throw std::logic_error("FaultVfs: no base VFS");
    vfs_ = *base_;
    vfs_.zName = "batch_cleanup_fault";
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + base_->szOsFile;
    vfs_.pAppData = this;
    vfs_.xOpen = &FaultVfs::open;
    active_ = this;
    if (sqlite3_vfs_register(&vfs_, 1) != SQLITE_OK) throw std::logic_error("FaultVfs: register");
  }
  ~FaultVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(base_, 1);
    active_ = nullptr;
  }
  FaultVfs(const FaultVfs&) = delete;
  FaultVfs& operator=(const FaultVfs&) = delete;

  // Every write after the next `writes` fails with `code` (SQLITE_FULL, SQLITE_IOERR_WRITE).
  void fail_writes_after(int writes, int code) {
    write_code_ = code;
    writes_left_ = writes;
  }
  // Every fsync fails with SQLITE_IOERR_FSYNC.
  void fail_syncs() { sync_fails_ = true; }
  // The disk is well again.
  void heal() {
    writes_left_ = -1;
    sync_fails_ = false;
  }
  // How many operations failed so far.
  int faults() const { return faults_; }

 private:
  struct File {
    sqlite3_file base;   // pMethods: ours
    sqlite3_file* real;  // the default VFS's file, just after this struct
  };

  static File* self(sqlite3_file* file) { return reinterpret_cast<File*>(file); }

  static int open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
                  int* out_flags) {
    auto* wrapper = self(file);
    wrapper->real = reinterpret_cast<sqlite3_file*>(wrapper + 1);
    auto* me = static_cast<FaultVfs*>(vfs->pAppData);
    const int rc = me->base_->xOpen(me->base_, name, wrapper->real, flags, out_flags);
    if (rc != SQLITE_OK) {
      wrapper->base.pMethods = nullptr;
      return rc;
    }
    me->methods_ = *wrapper->real->pMethods;
    me->methods_.xClose = &FaultVfs::close;
    me->methods_.xRead = [](sqlite3_file* f, void* data, int amount, sqlite3_int64 offset) {
      auto* r = self(f)->real;
      return r->pMethods->xRead(r, data, amount, offset);
    };
    me->methods_.xWrite = &FaultVfs::write;
    me->methods_.xTruncate = [](sqlite3_file* f, sqlite3_int64 size) {
      auto* r = self(f)->real;
      return r->pMethods->xTruncate(r, size);
    };
    me->methods_.xSync = &FaultVfs::sync;
    me->methods_.xFileSize = [](sqlite3_file* f, sqlite3_int64* size) {
      auto* r = self(f)->real;
      return r->pMethods->xFileSize(r, size);
    };
    me->methods_.xLock = [](sqlite3_file* f, int lock) {
      auto* r = self(f)->real;
      return r->pMethods->xLock(r, lock);
    };
    me->methods_.xUnlock = [](sqlite3_file* f, int lock) {
      auto* r = self(f)->real;
      return r->pMethods->xUnlock(r, lock);
    };
    me->methods_.xCheckReservedLock = [](sqlite3_file* f, int* out) {
      auto* r = self(f)->real;
      return r->pMethods->xCheckReservedLock(r, out);
    };
    me->methods_.xFileControl = [](sqlite3_file* f, int op, void* arg) {
      auto* r = self(f)->real;
      return r->pMethods->xFileControl(r, op, arg);
    };
    me->methods_.xSectorSize = [](sqlite3_file* f) {
      auto* r = self(f)->real;
      return r->pMethods->xSectorSize(r);
    };
    me->methods_.xDeviceCharacteristics = [](sqlite3_file* f) {
      auto* r = self(f)->real;
      return r->pMethods->xDeviceCharacteristics(r);
    };
    // No shared memory (WAL) or memory mapping through the wrapper: rollback journals only.
    me->methods_.iVersion = 1;
    wrapper->base.pMethods = &me->methods_;
    return SQLITE_OK;
  }

  static int close(sqlite3_file* file) {
    auto* r = self(file)->real;
    return r->pMethods->xClose(r);
  }

  static int write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
    FaultVfs* me = active_;
    if (me != nullptr && me->writes_left_ >= 0) {
      if (me->writes_left_ == 0) {
        ++me->faults_;
        return me->write_code_;
      }
      --me->writes_left_;
    }
    auto* r = self(file)->real;
    return r->pMethods->xWrite(r, data, amount, offset);
  }

  static int sync(sqlite3_file* file, int flags) {
    FaultVfs* me = active_;
    if (me != nullptr && me->sync_fails_) {
      ++me->faults_;
      return SQLITE_IOERR_FSYNC;
    }
    auto* r = self(file)->real;
    return r->pMethods->xSync(r, flags);
  }

  static inline FaultVfs* active_ = nullptr;
  sqlite3_vfs* base_ = nullptr;
  sqlite3_vfs vfs_{};
  sqlite3_io_methods methods_{};
  std::atomic<int> writes_left_{-1};
  int write_code_ = SQLITE_FULL;
  std::atomic<bool> sync_fails_{false};
  std::atomic<int> faults_{0};
};

}  // namespace batch_cleanup::testing
