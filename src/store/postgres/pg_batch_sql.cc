#include "store/postgres/pg_batch_sql.h"

#include <functional>

#include "config/identifier.h"
#include "store/postgres/pg_dialect.h"

namespace batch_cleanup::store::postgres {
namespace {

using Append = std::function<void(sql::Builder&)>;

const sql::Dialect& dialect() { return pg_dialect(); }

void predicate(sql::Builder& b, const PgBatchTables& t) {
  sql::append_predicate(b, t.predicate, "p", sql::Probe::kPerRow);
}

void reason(sql::Builder& b, const PgBatchTables& t) {
  b.sql("(");
  sql::append_reason(b, t.predicate, "p", sql::Probe::kPerRow);
  b.sql(")::text");
}

enum class Returns { kRows, kCountPerReason };

// A DELETE ... WHERE `where` returning the `returned` expressions (over p) for each deleted row,
// then its reason, then the row as JSON (`whole_rows`). With the archive on, the same statement
// inserts the deleted rows into it, with their reason and the cycle id (slot "cycle"). With
// kCountPerReason, `returned` must be empty and the statement returns one row per reason: the
// reason and how many rows it deleted (nothing per row crosses the network).
sql::Statement deleting(const PgBatchTables& t, const Append& where,
                        const std::vector<std::string>& returned, Returns returns,
                        bool whole_rows) {
  sql::Builder b(dialect());
  const bool archive = !t.archive.empty();
  const bool counting = returns == Returns::kCountPerReason;
  const std::string reason_alias = "bc_r" + std::to_string(returned.size());
  const auto head = [&] {
    b.sql("DELETE FROM " + t.pending + " p WHERE ");
    where(b);
    b.sql(" RETURNING ");
  };
  const std::string counted = " SELECT " + reason_alias + ", count(*) FROM d GROUP BY 1";
  if (!archive) {
    if (counting) {
      b.sql("WITH d AS (");
      head();
      reason(b, t);
      b.sql(" AS " + reason_alias + ")" + counted);
      return b.build();
    }
    head();
    for (const auto& expr : returned) b.sql(expr + ", ");
    reason(b, t);
    if (whole_rows) b.sql(", row_to_json(p)::text");
    return b.build();
  }
  b.sql("WITH d AS (");
  head();
  std::string selected;
  for (std::size_t i = 0; i < returned.size(); ++i) {
    b.sql(returned[i] + " AS bc_r" + std::to_string(i) + ", ");
    selected += "bc_r" + std::to_string(i) + ", ";
  }
  reason(b, t);
  selected += reason_alias;
  std::string columns;
  std::string values;
  for (const auto& column : t.pending_columns) {
    columns += config::quote_identifier(column.name) + ", ";
    values += "(d.bc_row)." + config::quote_identifier(column.name) + ", ";
  }
  b.sql(" AS " + reason_alias + ", p AS bc_row), bc_archived AS (INSERT INTO " + t.archive + " (" +
        columns + "archived_at, cycle_id, reason) SELECT " + values + "now(), ")
      .slot("cycle")
      .sql(", d." + reason_alias + " FROM d)");
  if (counting) {
    b.sql(counted);
  } else {
    b.sql(" SELECT " + selected + (whole_rows ? ", row_to_json(bc_row)::text" : "") + " FROM d");
  }
  return b.build();
}

// The careful path's lock statement: the matching rows of `where` (the range or the keyset),
// locked with SKIP LOCKED (or, without UPDATE privilege, not locked: they are then detected by
// the lock wait of the DELETE), plus a summary row.
sql::Statement locking(const PgBatchTables& t, const BatchPlan& plan, const std::string& locator,
                       const Append& matched_where, const std::string& order_and_limit_slot,
                       const std::string& summary_second) {
  sql::Builder b(dialect());
  const std::string from = " FROM " + t.pending + " p";
  b.sql("WITH matched AS MATERIALIZED (SELECT p." + locator + " AS loc" + from + " WHERE ");
  matched_where(b);
  if (!order_and_limit_slot.empty()) {
    b.sql(" ORDER BY p." + locator + " LIMIT ").slot(order_and_limit_slot);
  }
  b.sql("), locked AS (SELECT p." + locator + " AS loc, p." + t.key + "::text AS k, p." + t.email +
        "::text AS e" + from + " WHERE p." + locator + " = ANY (ARRAY(SELECT loc FROM matched))" +
        (plan.skip_locked ? " FOR UPDATE OF p SKIP LOCKED" : "") + ") SELECT NULL::text, " +
        summary_second +
        ", NULL::text, (SELECT count(*) FROM matched) UNION ALL SELECT loc::text, k, e, NULL FROM "
        "locked");
  return b.build();
}

}  // namespace

PgBatchStatements build_batch_statements(const PgBatchTables& t, const BatchPlan& plan,
                                         bool whole_rows) {
  PgBatchStatements s;
  if (plan.addressing == Addressing::kPhysical) {
    const Append range = [&t](sql::Builder& b) {
      b.sql("p.ctid >= ").slot("lo").cast("tid").sql(" AND p.ctid < ").slot("hi").cast("tid");
      b.sql(" AND ");
      predicate(b, t);
    };
    s.fast_delete = [&] {
      sql::Builder b(dialect());
      b.sql("DELETE FROM " + t.pending + " p WHERE ");
      range(b);
      return b.build();
    }();
    s.fast_delete_counting = deleting(t, range, {}, Returns::kCountPerReason, false);
    s.fast_delete_returning = deleting(
        t, range, {"p." + t.key + "::text", "p." + t.email + "::text"}, Returns::kRows, whole_rows);
    s.lock_range = locking(t, plan, "ctid", range, "", "NULL::text");
    s.delete_locked = deleting(
        t,
        [&t](sql::Builder& b) {
          b.sql("p.ctid = ANY (").slot("locators").cast("tid[]").sql(") AND ");
          predicate(b, t);
        },
        {"p.ctid::text"}, Returns::kRows, whole_rows);
    s.delete_one = deleting(
        t,
        [&t](sql::Builder& b) {
          b.sql("p.ctid = ").slot("locator").cast("tid").sql(" AND ");
          predicate(b, t);
        },
        {"p.ctid::text"}, Returns::kRows, whole_rows);
    return s;
  }
  const std::string last_key = "(SELECT loc::text FROM matched ORDER BY loc DESC LIMIT 1)";
  // Keyset windows: after the pass's last key (or from the start), up to the end of a worker's
  // slice (or to the end of the table).
  const auto keyset = [&](bool after, bool upto) {
    return locking(
        t, plan, t.key,
        [&t, after, upto](sql::Builder& b) {
          if (after) b.sql("p." + t.key + " > ").slot("after").cast(t.key_type).sql(" AND ");
          if (upto) b.sql("p." + t.key + " <= ").slot("upto").cast(t.key_type).sql(" AND ");
          predicate(b, t);
        },
        "limit", last_key);
  };
  s.lock_first = keyset(false, false);
  s.lock_after = keyset(true, false);
  s.lock_first_upto = keyset(false, true);
  s.lock_after_upto = keyset(true, true);
  s.delete_locked = deleting(
      t,
      [&t](sql::Builder& b) {
        b.sql("p." + t.key + " = ANY (").slot("locators").cast(t.key_type + "[]").sql(") AND ");
        predicate(b, t);
      },
      {"p." + t.key + "::text"}, Returns::kRows, whole_rows);
  s.delete_one = deleting(
      t,
      [&t](sql::Builder& b) {
        b.sql("p." + t.key + " = ").slot("locator").cast(t.key_type).sql(" AND ");
        predicate(b, t);
      },
      {"p." + t.key + "::text"}, Returns::kRows, whole_rows);
  return s;
}

}  // namespace batch_cleanup::store::postgres
