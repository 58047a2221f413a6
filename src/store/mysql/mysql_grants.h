// The privileges of the connected MySQL/MariaDB account as SHOW GRANTS lists them: its own and
// those of its enabled role. information_schema's *_PRIVILEGES views leave out a role's grants,
// so the preflight reads SHOW GRANTS. Column-level grants count as the privilege on the table
// (the statements that need them fail with a privilege error if a column is left out).
#pragma once

#include <string>
#include <vector>

#include "store/facts.h"
#include "store/mysql/mysql_session.h"
#include "store/table_names.h"

namespace batch_cleanup::store::mysql {

class MysqlGrants {
 public:
  // Adds one line of SHOW GRANTS ("GRANT SELECT, DELETE ON `app`.`t` TO `u`@`%`"); lines that
  // grant roles, proxies or routines are ignored.
  void add(const std::string& line);
  // Whether `privilege` ("SELECT") is granted on `schema`.`table` (globally, on a matching
  // database pattern, or on the table).
  bool has(const std::string& privilege, const std::string& schema, const std::string& table) const;

 private:
  struct Grant {
    std::string schema;                   // "*": every database; else a pattern (% and _ wildcards)
    std::string table;                    // "*": every table of the database
    std::vector<std::string> privileges;  // upper case; "ALL PRIVILEGES" for all
  };
  std::vector<Grant> grants_;
};

// The schemas of the pending and users tables, as the server resolved them.
struct GrantSchemas {
  std::string pending;
  std::string users;
};

// Into `facts`: the pending and users tables' privileges (can_select, can_delete, can_insert,
// can_update), the grantee, and what the run lacks beyond them: on the lease table SELECT,
// INSERT, UPDATE (and CREATE while it does not exist), and unless --no-history on the history
// table SELECT, INSERT (and CREATE while it does not exist). Throws DatabaseError.
void probe_grants(MysqlSession& session, const TableNames& names, const CleanupConfig& config,
                  const GrantSchemas& schemas, PreflightFacts& facts);

}  // namespace batch_cleanup::store::mysql
