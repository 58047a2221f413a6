// The sample SQLite database of `batch_cleanup demo`: the original schema, realistic rows, and
// a record of what each pending row is, so the demo can explain every outcome.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace batch_cleanup::store {

enum class DemoRowKind {
  kExactDuplicate,  // same email as a user: must go
  kCaseVariant,     // same address in other letter case: kept (matching is exact)
  kNullEmail,       // no email: never matches
  kNewSignup,       // email no user has: kept
};

struct DemoDatabase {
  std::string path;
  std::int64_t users = 0;
  std::map<std::string, DemoRowKind> pending;  // pending key -> what it is
};

// Creates (replacing any existing file) a SQLite database at `path` with
// core_mstr_one_qlick_users_tbl and core_mstr_one_qlick_pending_users_tbl. `users` users;
// pending sign-ups are half as many: 40% exact duplicates, 10% case variants, 5% NULL
// emails, the rest new. Deterministic for a given seed. Throws std::runtime_error.
DemoDatabase create_demo_database(const std::string& path, std::int64_t users, std::uint64_t seed);

// Keys still present in the demo's pending table.
std::vector<std::string> remaining_demo_pending_keys(const std::string& path);

}  // namespace batch_cleanup::store
