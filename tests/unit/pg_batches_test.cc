// The PostgreSQL batch loop (PgBatches::run_batch) and its ctid-range window below the store,
// without a server: a scripted session (PgScript, in the way of pgbackrest's harnessPq) answers
// every statement, so the real algorithm is driven through rollback-and-halve, the fast path's
// fallback to the careful path, the isolation of a refused row by halves, a commit in doubt and a
// connection lost mid-batch. Each test asserts the statements sent, their slot values, the result
// and where the pass goes on.
#include "store/postgres/pg_batches.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batch_cleanup/errors.h"
#include "store/postgres/pg_executor.h"
#include "store/postgres/pg_session.h"
#include "store/reasons.h"

namespace batch_cleanup::store::postgres {
namespace {

using Params = std::vector<std::optional<std::string>>;
using Rows = std::vector<std::vector<std::optional<std::string>>>;

struct Sent {
  std::string sql;
  Params params;
  bool has(const std::string& value) const {
    return std::find(params.begin(), params.end(), std::optional<std::string>(value)) !=
           params.end();
  }
};

// The statements of a physical batch, told apart by their text.
bool is_fast_delete(const Sent& s) {
  return s.sql.rfind("DELETE FROM", 0) == 0 && s.sql.find("ctid >=") != std::string::npos;
}
bool is_lock(const Sent& s) { return s.sql.find("SKIP LOCKED") != std::string::npos; }
bool is_delete_locked(const Sent& s) {
  return s.sql.find("DELETE FROM") != std::string::npos && !s.params.empty() && s.params[0] &&
         s.params[0]->rfind("{", 0) == 0;
}

// Plays the server. The test's `on` answers what it cares about (nullopt: the default answer:
// the pass's sizing queries, BEGIN with a transaction id, and empty results for the rest).
class ScriptedServer final : public PgScript {
 public:
  std::function<std::optional<PgResult>(const Sent&)> on;
  std::vector<Sent> sent;
  bool up = true;

  PgResult answer(const std::string& sql, const Params* params) override {
    sent.push_back({sql, params != nullptr ? *params : Params{}});
    const Sent& s = sent.back();
    if (on) {
      if (auto result = on(s)) return std::move(*result);
    }
    if (sql.rfind("BEGIN", 0) == 0) {
      return sql.find("txid_current") != std::string::npos ? PgResult::of_rows({{"1234"}})
                                                           : PgResult::of_rows({});
    }
    if (sql.find("pg_relation_size") != std::string::npos) return PgResult::of_rows({{"100"}});
    if (sql.find("TABLESAMPLE") != std::string::npos) return PgResult::of_rows({{"50", "50"}});
    if (sql.find("block_size')::bigint") != std::string::npos) {
      return PgResult::of_rows({{"8192"}});
    }
    return PgResult::of_rows({});
  }
  bool connected() const override { return up; }
  // The connection dies under the statement being answered.
  [[noreturn]] void drop_connection() {
    up = false;
    throw DatabaseError(ErrorCause::kConnectionLost, "08006", "server closed the connection");
  }

  std::vector<Sent> matching(const std::function<bool(const Sent&)>& which) const {
    std::vector<Sent> out;
    for (const auto& s : sent) {
      if (which(s)) out.push_back(s);
    }
    return out;
  }
  // The statements sent from the first one `which` matches on, their text only.
  std::vector<std::string> texts_from(const std::function<bool(const Sent&)>& which) const {
    std::vector<std::string> out;
    bool on_it = false;
    for (const auto& s : sent) {
      on_it = on_it || which(s);
      if (on_it) out.push_back(s.sql);
    }
    return out;
  }
};

// `n` deleted rows as fast_delete_returning returns them: key, email, reason.
Rows deleted_rows(int n, int first = 0) {
  Rows rows;
  for (int i = first; i < first + n; ++i) {
    rows.push_back({"k" + std::to_string(i), "e" + std::to_string(i), kEmailReason});
  }
  return rows;
}

class PgBatchesTest : public ::testing::Test {
 protected:
  PgBatchesTest() : session_(""), executor_(session_) {
    session_.use_script(&server_);
    sql::PredicateSpec predicate;
    predicate.users = "\"users\"";
    predicate.email = "\"email\"";
    setup_.tables = {"\"pending\"",
                     "\"key\"",
                     "\"email\"",
                     "text",
                     predicate,
                     "",
                     {{"key", false}, {"email", false}},
                     "\"key\"",
                     "text",
                     {}};
    setup_.plan.addressing = Addressing::kPhysical;
    setup_.lock_timeout = "2000ms";
    setup_.single_reason = kEmailReason;
    batches_ = make_physical_batches(session_, executor_, setup_, "16384");
    batches_->begin_pass();
    server_.sent.clear();
  }

  // A batch that deletes `rows` rows, then loses its connection during COMMIT.
  void lose_the_commit_of(int rows) {
    server_.on = [this, rows](const Sent& s) -> std::optional<PgResult> {
      if (is_fast_delete(s)) return PgResult::of_rows(deleted_rows(rows));
      if (s.sql == "COMMIT") server_.drop_connection();
      return std::nullopt;
    };
  }

  BatchResult next(std::int64_t target, RowDetail detail = RowDetail::kKeys) {
    return batches_->run_next_batch({target, detail, /*track_commit_lsn=*/false, 0});
  }

  ScriptedServer server_;
  PgSession session_;
  PgExecutor executor_;
  PgBatchSetup setup_;
  std::unique_ptr<PgBatches> batches_;
};

// 50 tuples a page: a batch of 5 rows covers line pointers (0,0) to (0,6), and may delete at most
// 4 x 5 = 20. The range deleted 25: it is rolled back to its savepoint and halved to (0,3), which
// commits; the next batch starts there.
TEST_F(PgBatchesTest, ARangeThatDeletedMoreThanItsBoundIsRolledBackAndHalved) {
  int fast = 0;
  server_.on = [&](const Sent& s) -> std::optional<PgResult> {
    if (!is_fast_delete(s)) return std::nullopt;
    return PgResult::of_rows(++fast == 1 ? deleted_rows(25) : deleted_rows(3));
  };
  const auto result = next(5);
  const auto fasts = server_.matching(is_fast_delete);
  ASSERT_EQ(fasts.size(), 2u);
  EXPECT_TRUE(fasts[0].has("(0,0)") && fasts[0].has("(0,6)"));
  EXPECT_TRUE(fasts[1].has("(0,0)") && fasts[1].has("(0,3)"));
  EXPECT_EQ(
      server_.texts_from([](const Sent& s) { return s.sql.rfind("BEGIN", 0) == 0; }),
      (std::vector<std::string>{server_.sent.front().sql, "SAVEPOINT bc_fast",
                                "SELECT set_config('lock_timeout', $1, true)", fasts[0].sql,
                                "ROLLBACK TO SAVEPOINT bc_fast", "RELEASE SAVEPOINT bc_fast",
                                "SAVEPOINT bc_fast", "SELECT set_config('lock_timeout', $1, true)",
                                fasts[1].sql, "RELEASE SAVEPOINT bc_fast", "COMMIT"}));
  EXPECT_EQ(result.deleted, 3);
  EXPECT_EQ(result.matched, 3);
  EXPECT_EQ(result.deleted_rows.size(), 3u);
  EXPECT_EQ(result.deleted_by_policy.email, 3);
  EXPECT_FALSE(result.exhausted);
  server_.sent.clear();
  next(5);
  ASSERT_FALSE(server_.matching(is_fast_delete).empty());
  EXPECT_TRUE(server_.matching(is_fast_delete).front().has("(0,3)"));
}

// A row refused on the fast path (a foreign key) sends the range down the careful path: its
// rows are locked, deleted in one statement, and the refused one is isolated by halves; the
// other three commit, the refused row is reported with its code.
TEST_F(PgBatchesTest, ARefusedRowSendsTheRangeDownTheCarefulPathWhereHalvingIsolatesIt) {
  server_.on = [&](const Sent& s) -> std::optional<PgResult> {
    if (is_fast_delete(s)) {
      throw DatabaseError(ErrorCause::kRowRefused, "23503", "violates foreign key constraint");
    }
    if (is_lock(s)) {
      return PgResult::of_rows({{std::nullopt, std::nullopt, std::nullopt, "4"},
                                {"(0,1)", "k1", "e1", std::nullopt},
                                {"(0,2)", "k2", "e2", std::nullopt},
                                {"(0,3)", "k3", "e3", std::nullopt},
                                {"(0,4)", "k4", "e4", std::nullopt}});
    }
    if (is_delete_locked(s)) {
      const std::string& locators = *s.params[0];
      if (locators.find("(0,2)") != std::string::npos) {
        throw DatabaseError(ErrorCause::kRowRefused, "23503", "violates foreign key constraint");
      }
      Rows rows;
      for (const char* ctid : {"(0,1)", "(0,3)", "(0,4)"}) {
        if (locators.find(ctid) != std::string::npos) rows.push_back({ctid, kEmailReason});
      }
      return PgResult::of_rows(rows);
    }
    return std::nullopt;
  };
  const auto result = next(5);
  EXPECT_EQ(result.matched, 4);
  EXPECT_EQ(result.deleted, 3);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_EQ(result.failures[0].row.key, "k2");
  EXPECT_EQ(result.failures[0].sqlstate, "23503");
  EXPECT_EQ(result.no_longer_matching, 0);
  std::vector<std::string> deleted;
  for (const auto& row : result.deleted_rows) deleted.push_back(row.key);
  EXPECT_EQ(deleted, (std::vector<std::string>{"k1", "k3", "k4"}));
  // The 4 rows, the bad half (k1, k2), each of its rows alone, the good half (k3, k4): 5.
  EXPECT_EQ(server_.matching(is_delete_locked).size(), 5u);
  ASSERT_GE(result.events.size(), 2u);
  EXPECT_EQ(result.events[0].kind, BatchEvent::Kind::kRangeHeldOrRefused);
  EXPECT_EQ(result.events[1].kind, BatchEvent::Kind::kBatchRefused);
  // The fast path's savepoint rolled back and --lock-timeout restored before the lock.
  const auto after_fast = server_.texts_from(is_fast_delete);
  ASSERT_GE(after_fast.size(), 5u);
  EXPECT_EQ(after_fast[1], "ROLLBACK TO SAVEPOINT bc_fast");
  EXPECT_EQ(after_fast[2], "RELEASE SAVEPOINT bc_fast");
  EXPECT_EQ(after_fast[3], "SELECT set_config('lock_timeout', $1, true)");
  EXPECT_EQ(server_.sent.back().sql, "COMMIT");
}

// The connection dies during COMMIT: the batch is in doubt. Asked by its transaction id, the
// database says it committed: the batch counts, and the pass moves past it.
TEST_F(PgBatchesTest, ACommitInDoubtThatCommittedCountsOnceAndThePassMovesOn) {
  lose_the_commit_of(5);
  try {
    next(5);
    FAIL() << "the batch did not report its commit in doubt";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.cause(), ErrorCause::kInDoubt) << e.what();
  }
  server_.up = true;  // connected again
  server_.sent.clear();
  server_.on = [&](const Sent& s) -> std::optional<PgResult> {
    if (s.sql.find("txid_status") != std::string::npos) {
      EXPECT_TRUE(s.has("1234"));  // the transaction id BEGIN returned
      return PgResult::of_rows({{"committed"}});
    }
    if (is_fast_delete(s)) return PgResult::of_rows({});
    return std::nullopt;
  };
  const auto outcome = batches_->resolve_in_doubt();
  EXPECT_EQ(outcome.state, InDoubtOutcome::State::kCommitted);
  EXPECT_EQ(outcome.result.deleted, 5);
  EXPECT_EQ(outcome.result.deleted_by_policy.email, 5);
  next(5);
  ASSERT_FALSE(server_.matching(is_fast_delete).empty());
  EXPECT_TRUE(server_.matching(is_fast_delete).front().has("(0,6)"));  // past the batch
  // Resolved once: nothing is in doubt any more.
  EXPECT_EQ(batches_->resolve_in_doubt().state, InDoubtOutcome::State::kNone);
}

// The same, but the database says it rolled back: the pass stays where it was, and the same
// range runs again.
TEST_F(PgBatchesTest, ACommitInDoubtThatRolledBackIsRunAgain) {
  lose_the_commit_of(5);
  EXPECT_THROW(next(5), DatabaseError);
  server_.up = true;
  server_.sent.clear();
  server_.on = [&](const Sent& s) -> std::optional<PgResult> {
    if (s.sql.find("txid_status") != std::string::npos) return PgResult::of_rows({{"aborted"}});
    return std::nullopt;
  };
  EXPECT_EQ(batches_->resolve_in_doubt().state, InDoubtOutcome::State::kRolledBack);
  next(5);
  ASSERT_FALSE(server_.matching(is_fast_delete).empty());
  const auto again = server_.matching(is_fast_delete).front();
  EXPECT_TRUE(again.has("(0,0)") && again.has("(0,6)"));
}

// A connection lost in the middle of a batch: nothing of it committed, nothing is in doubt, and
// the pass does not move.
TEST_F(PgBatchesTest, AConnectionLostMidBatchLeavesThePassWhereItWas) {
  server_.on = [&](const Sent& s) -> std::optional<PgResult> {
    if (is_fast_delete(s)) server_.drop_connection();
    return std::nullopt;
  };
  try {
    next(5);
    FAIL() << "the batch survived a lost connection";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.cause(), ErrorCause::kConnectionLost);
    EXPECT_TRUE(e.ends_session());
  }
  // No COMMIT was sent, and no ROLLBACK on a dead connection.
  EXPECT_TRUE(server_.matching([](const Sent& s) { return s.sql == "COMMIT"; }).empty());
  EXPECT_EQ(batches_->resolve_in_doubt().state, InDoubtOutcome::State::kNone);
  server_.up = true;
  server_.sent.clear();
  server_.on = nullptr;
  next(5);
  ASSERT_FALSE(server_.matching(is_fast_delete).empty());
  EXPECT_TRUE(server_.matching(is_fast_delete).front().has("(0,0)"));
}

}  // namespace
}  // namespace batch_cleanup::store::postgres
