#include "store/sqlite/sqlite_demo_data.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cstdio>
#include <memory>
#include <random>
#include <stdexcept>

namespace batch_cleanup::store {
namespace {

using Db = std::unique_ptr<sqlite3, decltype(&sqlite3_close)>;
using Stmt = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;

void exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error("demo database: " + message);
  }
}

Stmt prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("demo database: ") + sqlite3_errmsg(db));
  }
  return Stmt(stmt, &sqlite3_finalize);
}

Db open(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw, &sqlite3_close);
  if (rc != SQLITE_OK) {
    throw std::runtime_error("cannot open demo database '" + path +
                             "': " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  return db;
}

std::string uuid_like(std::mt19937_64& random) {
  const auto a = random();
  const auto b = random();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFF,
                     0x8000 | (b >> 48 & 0x3FFF), b & 0xFFFFFFFFFFFFull);
}

const char* kFirstNames[] = {"ana",    "ben",   "chloe", "david", "elif", "farah",
                             "george", "hana",  "ivan",  "julia", "kofi", "lena",
                             "marco",  "nadia", "omar",  "priya"};
const char* kLastNames[] = {"smith", "garcia", "chen",   "muller", "rossi",  "kowalski",
                            "silva", "nguyen", "haddad", "tanaka", "okafor", "jensen"};
const char* kDomains[] = {"example.com", "mail.example.org", "corp.example.net", "example.io"};

std::string email_for(std::int64_t n) {
  return fmt::format("{}.{}{}@{}", kFirstNames[n % 16], kLastNames[(n / 16) % 12], n,
                     kDomains[(n / 7) % 4]);
}

std::string flip_case(std::string email) {
  // Capitalise the local part's first letter and the domain: Ana.Smith1@EXAMPLE.COM
  if (!email.empty())
    email[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(email[0])));
  const auto at = email.find('@');
  for (std::size_t i = at + 1; i < email.size(); ++i) {
    email[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(email[i])));
  }
  return email;
}

}  // namespace

DemoDatabase create_demo_database(const std::string& path, std::int64_t users, std::uint64_t seed) {
  std::remove(path.c_str());
  std::remove((path + "-journal").c_str());
  Db db = open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  exec(db.get(),
       "CREATE TABLE core_mstr_one_qlick_users_tbl ("
       " user_id TEXT PRIMARY KEY, email TEXT UNIQUE, phone TEXT UNIQUE,"
       " full_name TEXT, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);"
       "CREATE TABLE core_mstr_one_qlick_pending_users_tbl ("
       " pending_user_id TEXT PRIMARY KEY, email TEXT UNIQUE, phone TEXT UNIQUE,"
       " full_name TEXT, otp_hash TEXT, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);");
  std::mt19937_64 random(seed);
  DemoDatabase out;
  out.path = path;
  out.users = users;
  exec(db.get(), "BEGIN");
  {
    auto insert =
        prepare(db.get(),
                "INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email, phone, full_name)"
                " VALUES (?, ?, ?, ?)");
    for (std::int64_t n = 0; n < users; ++n) {
      const std::string id = uuid_like(random);
      const std::string email = email_for(n);
      const std::string phone = fmt::format("+1555{:07}", n);
      const std::string name = fmt::format("{} {}", kFirstNames[n % 16], kLastNames[(n / 16) % 12]);
      sqlite3_bind_text(insert.get(), 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert.get(), 2, email.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert.get(), 3, phone.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert.get(), 4, name.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(insert.get()) != SQLITE_DONE)
        throw std::runtime_error(sqlite3_errmsg(db.get()));
      sqlite3_reset(insert.get());
    }
  }
  {
    auto insert =
        prepare(db.get(),
                "INSERT INTO core_mstr_one_qlick_pending_users_tbl"
                " (pending_user_id, email, phone, full_name, otp_hash) VALUES (?, ?, ?, ?, ?)");
    const std::int64_t pending = users / 2;
    std::int64_t next_user = 0;
    for (std::int64_t n = 0; n < pending; ++n) {
      const auto roll = static_cast<int>(random() % 100);
      DemoRowKind kind = roll < 40   ? DemoRowKind::kExactDuplicate
                         : roll < 50 ? DemoRowKind::kCaseVariant
                         : roll < 55 ? DemoRowKind::kNullEmail
                                     : DemoRowKind::kNewSignup;
      std::string email;
      switch (kind) {
        case DemoRowKind::kExactDuplicate:
          email = email_for(next_user++ % users);
          break;
        case DemoRowKind::kCaseVariant:
          email = flip_case(email_for(next_user++ % users));
          break;
        case DemoRowKind::kNullEmail:
          break;
        case DemoRowKind::kNewSignup:
          email = email_for(users + n);
          break;
      }
      const std::string id = uuid_like(random);
      const std::string otp = fmt::format("{:016x}", random());
      sqlite3_bind_text(insert.get(), 1, id.c_str(), -1, SQLITE_TRANSIENT);
      if (kind == DemoRowKind::kNullEmail) {
        sqlite3_bind_null(insert.get(), 2);
      } else {
        sqlite3_bind_text(insert.get(), 2, email.c_str(), -1, SQLITE_TRANSIENT);
      }
      sqlite3_bind_null(insert.get(), 3);
      sqlite3_bind_text(insert.get(), 4, "pending sign-up", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert.get(), 5, otp.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(insert.get()) != SQLITE_DONE)
        throw std::runtime_error(sqlite3_errmsg(db.get()));
      sqlite3_reset(insert.get());
      out.pending.emplace(id, kind);
    }
  }
  exec(db.get(), "COMMIT");
  return out;
}

std::vector<std::string> remaining_demo_pending_keys(const std::string& path) {
  Db db = open(path, SQLITE_OPEN_READONLY);
  auto select =
      prepare(db.get(), "SELECT pending_user_id FROM core_mstr_one_qlick_pending_users_tbl");
  std::vector<std::string> keys;
  while (sqlite3_step(select.get()) == SQLITE_ROW) {
    keys.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(select.get(), 0)));
  }
  return keys;
}

}  // namespace batch_cleanup::store
