// Statements about the rows of dependent tables (PreflightFacts::dependents): the chains of
// foreign keys from the pending table down to a dependent table, written once over a Dialect.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/facts.h"
#include "store/sql/builder.h"

namespace batch_cleanup::store::sql {

// The edges from the pending table down to dependents[edge], the first one referencing the
// pending table.
std::vector<const DependentTable*> dependent_path(const std::vector<DependentTable>& dependents,
                                                  int edge);

// Appends "EXISTS (SELECT 1 FROM <t1> d1 WHERE d1.c = <row>.pc AND EXISTS (... <tk> dk ...))":
// the pending row `row` has a row in dependents[edge]'s table through its path.
void append_has_dependent(Builder& b, const std::vector<DependentTable>& dependents, int edge,
                          std::string_view row);

// Appends "SELECT count(*) FROM <tk> dk WHERE EXISTS (SELECT 1 FROM <tk-1> ... EXISTS (SELECT 1
// FROM <pending> p WHERE p.pc = d1.c AND <condition on p>))": the rows of dependents[edge]'s
// table that reference, through its path, a pending row `condition` selects (it appends the
// condition on the pending alias "p").
void append_count_dependent_rows(Builder& b, const std::vector<DependentTable>& dependents,
                                 int edge, const std::string& pending,
                                 const std::function<void(Builder&)>& condition);

// Appends "EXISTS (SELECT 1 FROM <tk-1> dk-1 WHERE <row>.c = dk-1.pc AND ... EXISTS (SELECT 1
// FROM <pending> p WHERE p.pc = d1.c AND <condition on p>))": the row `row` of dependents[edge]'s
// table references, through the edge's path, a pending row `condition` selects.
void append_reaches_pending(Builder& b, const std::vector<DependentTable>& dependents, int edge,
                            std::string_view row, const std::string& pending,
                            const std::function<void(Builder&)>& condition);

// Appends " FROM <tk> dk JOIN <tk-1> dk-1 ON dk.c = dk-1.pc ... JOIN <pending> p ON d1.c =
// p.pc": each row of dependents[edge]'s table joined along the edge's path to the pending row it
// references (a locking read of it locks the rows of every table on the path).
void append_dependent_join(Builder& b, const std::vector<DependentTable>& dependents, int edge,
                           const std::string& pending);

// The table an edge found at `parent_index` of `dependents` references, as a walk of the keys
// names it (`pending_name` for -1, the pending table), and the depth of the edges below it.
struct WalkParent {
  std::string name;
  int depth = 1;
};
WalkParent walk_parent(const std::vector<DependentTable>& dependents, int parent_index,
                       const std::string& pending_name);

// Whether deleting a parent row refuses while the edge's rows exist (RESTRICT, NO ACTION).
bool refuses(const DependentTable& edge);

}  // namespace batch_cleanup::store::sql
