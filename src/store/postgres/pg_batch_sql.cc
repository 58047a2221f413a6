#include "store/postgres/pg_batch_sql.h"

#include <functional>

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

// kRows: the `returned` expressions, the reason (and the row as JSON) per deleted row.
// kCountPerReason: one row per reason, its count. kWindowCounts: the same after a summary row
// (NULL, the last locator of the CTE "matched", its row count), for a keyset window.
enum class Returns { kRows, kCountPerReason, kWindowCounts };

// A DELETE ... WHERE `where` returning what `returns` says (`returned` over p; empty when
// counting). With the archive on, the same statement inserts the deleted rows into it, with their
// reason and the cycle id (slot "cycle"). `first_cte`, when set, writes a CTE that comes before
// the DELETE's (the keyset window).
sql::Statement deleting(const PgBatchTables& t, const Append& where,
                        const std::vector<std::string>& returned, Returns returns, bool whole_rows,
                        const Append& first_cte = {}) {
  sql::Builder b(dialect());
  const bool archive = !t.archive.empty();
  const bool counting = returns != Returns::kRows;
  const std::string reason_alias = "bc_r" + std::to_string(returned.size());
  const auto open_cte = [&] {
    b.sql("WITH ");
    if (first_cte) {
      first_cte(b);
      b.sql(", ");
    }
    b.sql("d AS (");
  };
  const auto head = [&] {
    b.sql("DELETE FROM " + t.pending + " p WHERE ");
    where(b);
    b.sql(" RETURNING ");
  };
  const std::string counted =
      (returns == Returns::kWindowCounts
           ? " SELECT NULL::text, (SELECT loc::text FROM matched ORDER BY loc DESC LIMIT 1), "
             "(SELECT count(*) FROM matched) UNION ALL SELECT " +
                 reason_alias + ", NULL, count(*) FROM d GROUP BY 1"
           : " SELECT " + reason_alias + ", count(*) FROM d GROUP BY 1");
  if (!archive) {
    if (counting) {
      open_cte();
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
  open_cte();
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
    columns += dialect().quote(column.name) + ", ";
    values += "(d.bc_row)." + dialect().quote(column.name) + ", ";
  }
  b.sql(" AS " + reason_alias + ", p AS bc_row), bc_archived AS (INSERT INTO " + t.archive + " (" +
        columns + "archived_at, cycle_id, reason) SELECT " + values + "now(), ")
      .slot("cycle")
      .sql(", d." + reason_alias + " FROM d)");
  // The rows the cascade will delete, as the statement's snapshot sees them: archived by the
  // same statement, children from the rows archived for their parent. The batch locked its
  // parent rows by an earlier statement (PgBatches: no fast path), so no child can commit
  // for them in between.
  for (std::size_t i = 0; i < t.cascaded.size(); ++i) {
    const auto& c = t.cascaded[i];
    std::string cols;
    std::string fk;
    std::string pk;
    for (const auto& column : c.columns) cols += column + ", ";
    for (std::size_t k = 0; k < c.fk_columns.size(); ++k) {
      fk += (k == 0 ? "" : ", ") + std::string("c.") + c.fk_columns[k];
      pk += (k == 0 ? "" : ", ") +
            (c.parent < 0 ? "(d.bc_row)." + c.parent_columns[k] : "s." + c.parent_columns[k]);
    }
    const std::string from =
        c.parent < 0 ? " FROM d" : " FROM bc_dep" + std::to_string(c.parent) + " s";
    std::string copied;
    for (const auto& column : c.columns) copied += "c." + column + ", ";
    b.sql(", bc_dep" + std::to_string(i) + " AS (INSERT INTO " + c.archive + " (" + cols +
          "archived_at, cycle_id) SELECT " + copied + "now(), ")
        .slot("cycle")
        .sql(" FROM " + c.table + " c WHERE (" + fk + ") IN (SELECT " + pk + from +
             ") RETURNING *)");
  }
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
  const auto window_where = [&t](KeysetWindow window) {
    return [&t, window](sql::Builder& b) {
      if (window.after) {
        b.sql("p." + t.keyset + " > ").slot("after").cast(t.keyset_type).sql(" AND ");
      }
      if (window.upto) {
        b.sql("p." + t.keyset + " <= ").slot("upto").cast(t.keyset_type).sql(" AND ");
      }
      predicate(b, t);
    };
  };
  const Append in_window = [&t](sql::Builder& b) {
    b.sql("p." + t.keyset + " = ANY (ARRAY(SELECT loc FROM matched)) AND ");
    predicate(b, t);
  };
  for (const bool after : {false, true}) {
    for (const bool upto : {false, true}) {
      const KeysetWindow window{after, upto};
      const Append matched = [&t, where = window_where(window)](sql::Builder& b) {
        b.sql("matched AS MATERIALIZED (SELECT p." + t.keyset + " AS loc FROM " + t.pending +
              " p WHERE ");
        where(b);
        b.sql(" ORDER BY p." + t.keyset + " LIMIT ").slot("limit").sql(")");
      };
      s.fast_window[window.index()] =
          deleting(t, in_window, {}, Returns::kWindowCounts, false, matched);
      s.lock_window[window.index()] =
          locking(t, plan, t.keyset, window_where(window), "limit", last_key);
      if (plan.addressing != Addressing::kEmailRanges) continue;
      const auto bounds = [&t, window](sql::Builder& b) {
        if (window.after) {
          b.sql(" AND p." + t.keyset + " > ").slot("after").cast(t.keyset_type);
        }
        if (window.upto) {
          b.sql(" AND p." + t.keyset + " <= ").slot("upto").cast(t.keyset_type);
        }
      };
      sql::Builder end(dialect());
      end.sql("SELECT p." + t.keyset + "::text FROM " + t.pending + " p WHERE p." + t.keyset +
              " IS NOT NULL");
      bounds(end);
      end.sql(" ORDER BY p." + t.keyset + " OFFSET ").slot("span").sql(" LIMIT 1");
      s.range_end[window.index()] = end.build();
      s.range_delete[window.index()] = deleting(
          t,
          [&t, window, bounds](sql::Builder& b) {
            b.sql("p." + t.keyset + " IS NOT NULL");
            bounds(b);
            b.sql(" AND ");
            sql::append_predicate_in_email_range(b, t.predicate, "p",
                                                 {window.after, window.upto, t.keyset_type});
          },
          {}, Returns::kCountPerReason, false);
    }
  }
  s.delete_locked = deleting(
      t,
      [&t](sql::Builder& b) {
        b.sql("p." + t.keyset + " = ANY (")
            .slot("locators")
            .cast(t.keyset_type + "[]")
            .sql(") AND ");
        predicate(b, t);
      },
      {"p." + t.keyset + "::text"}, Returns::kRows, whole_rows);
  s.delete_one = deleting(
      t,
      [&t](sql::Builder& b) {
        b.sql("p." + t.keyset + " = ").slot("locator").cast(t.keyset_type).sql(" AND ");
        predicate(b, t);
      },
      {"p." + t.keyset + "::text"}, Returns::kRows, whole_rows);
  return s;
}

}  // namespace batch_cleanup::store::postgres
