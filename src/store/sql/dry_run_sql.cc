#include "store/sql/dry_run_sql.h"

#include <algorithm>

#include "store/reasons.h"
#include "store/sql/dependents_sql.h"

namespace batch_cleanup::store::sql {

EmailCollisions email_collisions(Executor& executor, const PredicateSpec& spec, int sample_size) {
  Builder b(executor.dialect());
  b.sql("SELECT n, count(*) OVER () FROM (SELECT " +
        executor.dialect().bytes(normalized_email(spec.normalize, "u." + spec.email)) +
        " AS n FROM " + spec.users + " u WHERE u." + spec.email +
        " IS NOT NULL GROUP BY 1 HAVING count(*) > 1) s ORDER BY n LIMIT ")
      .value(std::int64_t{sample_size});
  const Rows rows = executor.run(b.build());
  EmailCollisions out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.count = rows.integer(r, 1);
    out.sample.push_back(rows.text(r, 0));
  }
  return out;
}

Value normalized_list(Executor& executor, const std::vector<std::string>& values) {
  const Dialect& d = executor.dialect();
  Builder b(d);
  b.sql("SELECT " + d.list_aggregate("lower(" + d.trim("k.value") + ")") + " FROM ");
  d.list_rows(b, "items");
  return executor.run(b.build(), {{"items", d.list_value(values)}}).text(0, 0);
}

std::int64_t SqlDryRunQueries::count_candidates() {
  Builder b(executor_.dialect());
  b.sql("SELECT count(*) FROM " + tables_.pending + " p WHERE ");
  append_predicate(b, tables_.predicate, "p", Probe::kAny);
  return executor_.run(b.build()).integer(0, 0);
}

std::vector<PendingRow> SqlDryRunQueries::sample_candidates(std::int64_t limit) {
  const Dialect& d = executor_.dialect();
  const auto& spec = tables_.predicate;
  Builder b(d);
  b.sql("SELECT " + d.text("p." + tables_.key) + ", " + d.text("p." + spec.email) + ", ");
  append_reason(b, spec, "p", Probe::kAny);
  b.sql(" FROM " + tables_.pending + " p WHERE ");
  append_predicate(b, spec, "p", Probe::kAny);
  b.sql(" ORDER BY p." + tables_.key + " LIMIT ").value(std::max<std::int64_t>(0, limit));
  const Rows rows = executor_.run(b.build());
  std::vector<PendingRow> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.push_back({rows.text(r, 0), rows.text(r, 1)});
    out.back().reason = rows.text(r, 2);
  }
  return out;
}

// One pass over the pending table; each policy's users side is a distinct set joined by hash
// (or a transient index), so no policy probes the users table once per pending row.
PolicyPreview SqlDryRunQueries::preview_policies(std::int64_t candidates) {
  const Dialect& d = executor_.dialect();
  const auto& spec = tables_.predicate;
  const bool email = spec.match_email;
  const bool normalizing = email && rewrites_email(spec.normalize);
  const bool phone = !spec.phone.empty();
  const bool expiry = has_expiry(spec);
  const bool exemptions = has_exemptions(spec);
  const bool conditions = !spec.conditions.empty();
  if (email && !normalizing && !phone && !expiry && !exemptions && !conditions &&
      spec.min_age.count() <= 0) {
    // The candidates are exactly the rows whose email exists in users: already counted.
    PolicyPreview preview;
    preview.email = candidates;
    return preview;
  }

  Builder b(d);
  // The outer counts read the flags of the inner select: e, x, ph, ex, old, ok, keep.
  std::string matched;
  for (const auto& [on, flag] : {std::pair{email, "e"}, {phone, "ph"}, {expiry, "ex"}}) {
    if (on) matched += (matched.empty() ? "" : " OR ") + std::string(flag);
  }
  const std::string m = "(" + matched + ")";
  b.sql("SELECT " + d.count_if(email ? "e" : d.false_value()) + ", " +
        d.count_if(normalizing ? "e AND NOT x" : d.false_value()) + ", " +
        d.count_if(phone ? "ph" : d.false_value()) + ", " +
        d.count_if(expiry ? "ex" : d.false_value()) + ", " + d.count_if(m + " AND NOT old") + ", " +
        d.count_if(m + " AND old AND ok AND keep") + ", " + d.count_if(m + " AND old AND NOT ok") +
        " FROM (SELECT ");
  if (email) b.sql("ue.n IS NOT NULL AS e, ");
  if (normalizing) b.sql("ux.n IS NOT NULL AS x, ");
  if (phone) b.sql("up.n IS NOT NULL AS ph, ");
  if (expiry) {
    b.sql("coalesce(");
    append_expired(b, spec, "p");
    b.sql(", " + d.false_value() + ") AS ex, ");
  }
  if (spec.min_age.count() > 0) {
    b.sql("coalesce(");
    append_old_enough(b, spec, "p");
    b.sql(", " + d.false_value() + ") AS old, ");
  } else {
    b.sql(d.true_value() + " AS old, ");
  }
  if (conditions) {
    b.sql("coalesce(");
    append_conditions(b, spec, "p");
    b.sql(", " + d.false_value() + ") AS ok, ");
  } else {
    b.sql(d.true_value() + " AS ok, ");
  }
  if (exemptions) {
    b.sql("NOT (");
    append_not_exempt(b, spec, "p");
    b.sql(") AS keep");
  } else {
    b.sql(d.false_value() + " AS keep");
  }
  b.sql(" FROM " + tables_.pending + " p");
  // The users' emails, each distinct value once: byte for byte (a collation that equates more
  // would keep one of several spellings, which the byte comparison then misses), or under the
  // columns' collation with --normalize-email collation.
  const auto distinct = [&](const std::string& expr) {
    return spec.normalize == EmailNormalization::kCollation ? expr : d.bytes(expr);
  };
  if (email) {
    b.sql(" LEFT JOIN (SELECT DISTINCT " +
          distinct(normalized_email(spec.normalize, "u." + spec.email)) + " AS n FROM " +
          spec.users + " u) ue ON " +
          email_equal(d, spec.normalize, "ue.n",
                      normalized_email(spec.normalize, "p." + spec.email)));
  }
  if (normalizing) {
    b.sql(" LEFT JOIN (SELECT DISTINCT " + distinct("u." + spec.email) + " AS n FROM " +
          spec.users + " u) ux ON " + d.text_equal("ux.n", "p." + spec.email));
  }
  if (phone) {
    b.sql(" LEFT JOIN (SELECT DISTINCT u." + spec.phone + " AS n FROM " + spec.users + " u WHERE " +
          d.trim("u." + spec.phone) + " <> '') up ON up.n = p." + spec.phone);
  }
  b.sql(") s");
  const Rows row = executor_.run(b.build());

  PolicyPreview preview;
  if (email) preview.email = row.integer(0, 0);
  if (normalizing) preview.email_extra_from_normalization = row.integer(0, 1);
  if (phone) preview.phone = row.integer(0, 2);
  if (expiry) preview.expired = row.integer(0, 3);
  if (spec.min_age.count() > 0) preview.kept_by_min_age = row.integer(0, 4);
  if (exemptions) preview.kept_by_exclusion = row.integer(0, 5);
  if (conditions) preview.kept_by_condition = row.integer(0, 6);
  if (normalizing) {
    auto collisions = email_collisions(executor_, spec, 5);
    preview.users_email_collisions = collisions.count;
    preview.collision_sample = std::move(collisions.sample);
  }
  return preview;
}

DependentCounts SqlDryRunQueries::count_dependents(const std::vector<DependentTable>& dependents) {
  const auto& spec = tables_.predicate;
  const auto candidate = [&](Builder& b) { append_predicate(b, spec, "p", Probe::kAny); };
  // A candidate no refusing key holds back: what the delete removes.
  const auto deleted = [&](Builder& b) {
    candidate(b);
    for (std::size_t i = 0; i < dependents.size(); ++i) {
      if (!refuses(dependents[i])) continue;
      b.sql(" AND NOT ");
      append_has_dependent(b, dependents, static_cast<int>(i), "p");
    }
  };
  DependentCounts out;
  for (std::size_t i = 0; i < dependents.size(); ++i) {
    const int edge = static_cast<int>(i);
    const bool refusing = refuses(dependents[i]);
    Builder rows(executor_.dialect());
    if (refusing) {
      append_count_dependent_rows(rows, dependents, edge, tables_.pending, candidate);
    } else {
      append_count_dependent_rows(rows, dependents, edge, tables_.pending, deleted);
    }
    out.rows.push_back(executor_.run(rows.build()).integer(0, 0));
    out.refused.push_back(0);
    if (!refusing) continue;
    Builder refused(executor_.dialect());
    refused.sql("SELECT count(*) FROM " + tables_.pending + " p WHERE ");
    candidate(refused);
    refused.sql(" AND ");
    append_has_dependent(refused, dependents, edge, "p");
    out.refused.back() = executor_.run(refused.build()).integer(0, 0);
  }
  if (std::count(out.refused.begin(), out.refused.end(), 0) + 1 <
      static_cast<std::ptrdiff_t>(out.refused.size())) {
    // Several refusing keys: a candidate two of them hold back counts once.
    Builder total(executor_.dialect());
    total.sql("SELECT count(*) FROM " + tables_.pending + " p WHERE ");
    candidate(total);
    total.sql(" AND (");
    bool first = true;
    for (std::size_t i = 0; i < dependents.size(); ++i) {
      if (out.refused[i] == 0) continue;
      if (!first) total.sql(" OR ");
      first = false;
      append_has_dependent(total, dependents, static_cast<int>(i), "p");
    }
    total.sql(")");
    out.refused_total = executor_.run(total.build()).integer(0, 0);
  } else {
    for (const auto n : out.refused) out.refused_total += n;
  }
  return out;
}

std::int64_t SqlDryRunQueries::count_dependent_table(const DependentTable& dependent) {
  const Dialect& d = executor_.dialect();
  return executor_
      .run(Builder(d)
               .sql("SELECT count(*) FROM " +
                    d.quote(config::QualifiedName{dependent.schema, dependent.name}))
               .build())
      .integer(0, 0);
}

std::int64_t SqlDryRunQueries::count_pending() {
  return executor_
      .run(Builder(executor_.dialect()).sql("SELECT count(*) FROM " + tables_.pending).build())
      .integer(0, 0);
}

bool SqlDryRunQueries::users_table_empty() {
  const auto rows = executor_.run(Builder(executor_.dialect())
                                      .sql("SELECT 1 FROM " + tables_.predicate.users + " LIMIT 1")
                                      .build());
  return rows.empty();
}

}  // namespace batch_cleanup::store::sql
