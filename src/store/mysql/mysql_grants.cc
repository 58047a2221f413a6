#include "store/mysql/mysql_grants.h"

#include <algorithm>
#include <cctype>

#include "config/identifier.h"
#include "store/mysql/mysql_dialect.h"

namespace batch_cleanup::store::mysql {
namespace {

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

// A name of SHOW GRANTS: `quoted` (`` doubles a backtick), or * as it stands.
std::string unquote(const std::string& text) {
  if (text.size() < 2 || text.front() != '`') return text;
  std::string out;
  for (std::size_t i = 1; i + 1 < text.size(); ++i) {
    out += text[i];
    if (text[i] == '`' && text[i + 1] == '`') ++i;
  }
  return out;
}

// `db`.`table`, `db`.*, *.*: split at the dot outside backticks.
std::pair<std::string, std::string> split_target(const std::string& target) {
  bool quoted = false;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == '`') quoted = !quoted;
    if (target[i] == '.' && !quoted) {
      return {unquote(target.substr(0, i)), unquote(target.substr(i + 1))};
    }
  }
  return {unquote(target), "*"};
}

// A database pattern of a GRANT: % any run, _ any one character, \ escapes them.
bool like(const std::string& pattern, std::size_t p, const std::string& text, std::size_t t) {
  while (p < pattern.size()) {
    const char c = pattern[p];
    if (c == '%') {
      for (std::size_t rest = t; rest <= text.size(); ++rest) {
        if (like(pattern, p + 1, text, rest)) return true;
      }
      return false;
    }
    if (t == text.size()) return false;
    if (c == '\\' && p + 1 < pattern.size()) {
      if (pattern[p + 1] != text[t]) return false;
      p += 2;
    } else {
      if (c != '_' && c != text[t]) return false;
      ++p;
    }
    ++t;
  }
  return t == text.size();
}

// The privileges of "SELECT, INSERT (a, b), DELETE": upper case, column lists dropped.
std::vector<std::string> privilege_list(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  int depth = 0;
  const auto flush = [&] {
    const auto first = current.find_first_not_of(' ');
    const auto last = current.find_last_not_of(' ');
    if (first != std::string::npos) out.push_back(upper(current.substr(first, last - first + 1)));
    current.clear();
  };
  for (const char c : text) {
    if (c == '(') ++depth;
    if (depth == 0 && c == ',') {
      flush();
      continue;
    }
    if (depth == 0) current += c;
    if (c == ')') --depth;
  }
  flush();
  return out;
}

}  // namespace

void MysqlGrants::add(const std::string& line) {
  if (line.rfind("GRANT ", 0) != 0) return;
  const auto on = line.find(" ON ");
  if (on == std::string::npos) return;  // GRANT role TO account
  const auto to = line.find(" TO ", on);
  std::string target =
      line.substr(on + 4, to == std::string::npos ? std::string::npos : to - on - 4);
  for (const char* routine : {"PROCEDURE ", "FUNCTION ", "PACKAGE "}) {
    if (target.rfind(routine, 0) == 0) return;
  }
  if (target.rfind("TABLE ", 0) == 0) target = target.substr(6);
  const auto [schema, table] = split_target(target);
  grants_.push_back({schema, table, privilege_list(line.substr(6, on - 6))});
}

bool MysqlGrants::has(const std::string& privilege, const std::string& schema,
                      const std::string& table) const {
  return std::any_of(grants_.begin(), grants_.end(), [&](const Grant& grant) {
    const bool covers = (grant.schema == "*" || like(grant.schema, 0, schema, 0)) &&
                        (grant.table == "*" || grant.table == table);
    return covers &&
           std::any_of(grant.privileges.begin(), grant.privileges.end(), [&](const std::string& p) {
             return p == privilege || p == "ALL PRIVILEGES" || p == "ALL";
           });
  });
}

void probe_grants(MysqlSession& session, const TableNames& names, const CleanupConfig& config,
                  const GrantSchemas& schemas, PreflightFacts& facts) {
  MysqlGrants grants;
  const auto rows = session.exec("SHOW GRANTS");
  for (std::size_t r = 0; r < rows.size(); ++r) grants.add(rows.text(r, 0));
  const auto user = session.exec(
      "SELECT substring_index(current_user(), '@', 1), substring_index(current_user(), '@', -1)");
  facts.grantee = session.literal(sql::Value{user.text(0, 0)}) + "@" +
                  session.literal(sql::Value{user.text(0, 1)});
  const auto privileges = [&](RelationFacts& relation, const std::string& schema,
                              const std::string& table) {
    relation.can_select = grants.has("SELECT", schema, table);
    relation.can_delete = grants.has("DELETE", schema, table);
    relation.can_insert = grants.has("INSERT", schema, table);
    // FOR UPDATE needs only SELECT on MariaDB (facts' can_update: what FOR UPDATE needs).
    relation.can_update = relation.can_select;
  };
  privileges(facts.pending, schemas.pending, names.pending.name);
  privileges(facts.users, schemas.users, names.users.name);
  const auto check = [&](const config::QualifiedName& name, std::vector<std::string> needed,
                         const std::string& needed_for) {
    const std::string schema =
        name.schema.empty() ? session.exec("SELECT database()").text(0, 0) : name.schema;
    const bool exists = !session
                             .exec(
                                 "SELECT 1 FROM information_schema.tables WHERE table_schema = ? "
                                 "AND table_name = ?",
                                 {schema, name.name})
                             .empty();
    if (!exists) needed.insert(needed.begin(), "CREATE");
    std::string lacking;
    for (const auto& privilege : needed) {
      if (grants.has(privilege, schema, name.name)) continue;
      lacking += (lacking.empty() ? "" : ", ") + privilege;
    }
    if (lacking.empty()) return;
    const std::string table = mysql_dialect().quote(config::QualifiedName{schema, name.name});
    facts.missing_grants.push_back({lacking, name.display(), needed_for,
                                    "GRANT " + lacking + " ON " + table + " TO " + facts.grantee});
  };
  check(config::parse_table_name(config.lease_table, "lease table"), {"SELECT", "INSERT", "UPDATE"},
        "the lease (--lease-table)");
  if (config.record_history) {
    check(names.history, {"SELECT", "INSERT"}, "the run history (--history-table)");
  }
}

}  // namespace batch_cleanup::store::mysql
