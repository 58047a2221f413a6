// MySQL/MariaDB: the foreign keys that reference the pending table, recursively through CASCADE
// edges (information_schema.REFERENTIAL_CONSTRAINTS and KEY_COLUMN_USAGE: InnoDB's keys; a
// MyISAM table keeps none), whether an index serves each (InnoDB creates one for every key that
// has none), and whether this session enforces them (foreign_key_checks).
#pragma once

#include <string>

#include "store/facts.h"
#include "store/mysql/mysql_session.h"

namespace batch_cleanup::store::mysql {

// InnoDB refuses a delete whose cascade reaches this depth (ON DELETE CASCADE or SET NULL of a
// row 15 keys below the deleted one: "Got error 193 ... from InnoDB", FK_MAX_CASCADE_DEL).
inline constexpr int kInnodbCascadeDepthLimit = 15;

// Fills facts.dependents, facts.foreign_keys_enforced and facts.foreign_keys_switch for the
// pending table `schema`.`table`, named `pending_name` in the facts. A dependent table of the
// same schema is named without it. Throws DatabaseError.
void inspect_dependents(MysqlSession& session, const std::string& schema, const std::string& table,
                        const std::string& pending_name, PreflightFacts& facts);

}  // namespace batch_cleanup::store::mysql
