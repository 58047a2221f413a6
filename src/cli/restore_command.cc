#include "cli/restore_command.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "batch_cleanup/errors.h"
#include "cli/exit_codes.h"
#include "config/since_time.h"
#include "engine/preflight.h"
#include "log/logger.h"
#include "log/mask.h"
#include "store/store.h"

namespace batch_cleanup::cli {

CLI::App* declare_restore_command(CLI::App& app, RestoreOptions& options) {
  auto* restore = app.add_subcommand(
      "restore",
      "Put archived rows back into the pending table (needs --archive-table); a row whose key, "
      "email or other unique constraint's values a pending row already has is skipped, never "
      "overwritten, and reported with the constraint's name, its columns and the masked value");
  restore->fallthrough();
  auto* cycle =
      restore->add_option("--cycle", options.cycle_id, "Only the rows archived by this cycle id");
  auto* since = restore->add_option(
      "--since", options.since,
      "Only the rows archived at or after this time: ISO-8601 (2026-11-29T16:00:00Z) or a "
      "duration ago (2h, 7d)");
  cycle->excludes(since);
  return restore;
}

namespace {

int restore(const CleanupConfig& config, const RestoreOptions& options, const std::string& output) {
  if (config.archive_table.empty()) {
    throw ConfigError("restore needs --archive-table: the table the rows were archived to");
  }
  store::RestoreRequest request;
  request.cycle_id = options.cycle_id;
  if (!options.since.empty()) {
    request.since = config::parse_since(options.since, std::chrono::system_clock::now());
  }
  auto store = store::make_store(config);
  try {
    store->connect();
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable) throw ConnectionError(e.what());
    throw;
  }
  engine::check_restore_tables(config, store->inspect());
  auto& archive = store->archive();
  const auto facts = archive.inspect_archive();
  if (!facts.exists && facts.required_database.empty()) {
    throw ConfigError("archive table '" + facts.name +
                      "' does not exist. HINT: check --archive-table");
  }
  engine::check_archive_table(facts);
  const auto result = archive.restore(request, config.dry_run);

  const auto email = [&](const std::string& raw) {
    return logging::maybe_mask_email(raw, config.log_pii);
  };
  // The conflicting values: masked as emails are (the key's are shown, as the key is).
  const auto values = [&](const store::RestoreConflict& conflict) {
    std::vector<std::string> shown;
    for (std::size_t c = 0; c < conflict.values.size(); ++c) {
      const bool key = c < conflict.columns.size() && conflict.columns[c] == config.pending_key;
      shown.push_back(key ? conflict.values[c] : email(conflict.values[c]));
    }
    return shown;
  };
  // "unique constraint NAME (a, b) = (x, y)", or "" for a conflict no constraint names.
  const auto described = [&](const store::RestoreConflict& conflict) {
    if (conflict.columns.empty()) return std::string();
    const auto shown = values(conflict);
    const bool one = shown.size() == 1;
    return fmt::format(" [{}{}{}{} = {}{}{}]",
                       conflict.constraint.empty() ? "" : "unique " + conflict.constraint + " ",
                       one ? "" : "(", fmt::join(conflict.columns, ", "), one ? "" : ")",
                       one ? "" : "(", fmt::join(shown, ", "), one ? "" : ")");
  };
  for (const auto& conflict : result.conflicts) {
    logging::logger()->warn("not restored: key={} email={}: {}{}", conflict.row.key,
                            email(conflict.row.email), conflict.reason, described(conflict));
  }
  logging::logger()->info("restore{}: {} archived row(s) selected, {} restored, {} skipped",
                          config.dry_run ? " (dry run)" : "", result.selected, result.restored,
                          result.skipped);
  std::int64_t skipped = result.skipped;
  for (const auto& table : result.dependents) {
    for (const auto& conflict : table.conflicts) {
      logging::logger()->warn("not restored: {} row {}: {}{}", table.table, conflict.row.key,
                              conflict.reason, described(conflict));
    }
    logging::logger()->info(
        "restore{}: {}: {} archived dependent row(s) selected, {} restored, {} skipped",
        config.dry_run ? " (dry run)" : "", table.table, table.selected, table.restored,
        table.skipped);
    skipped += table.skipped;
  }
  if (output == "json") {
    nlohmann::json conflicts = nlohmann::json::array();
    for (const auto& conflict : result.conflicts) {
      conflicts.push_back({{"key", conflict.row.key},
                           {"email", email(conflict.row.email)},
                           {"reason", conflict.reason},
                           {"constraint", conflict.constraint},
                           {"columns", conflict.columns},
                           {"values", values(conflict)}});
    }
    nlohmann::json dependents = nlohmann::json::array();
    for (const auto& table : result.dependents) {
      nlohmann::json listed = nlohmann::json::array();
      for (const auto& conflict : table.conflicts) {
        listed.push_back({{"row", conflict.row.key},
                          {"reason", conflict.reason},
                          {"constraint", conflict.constraint},
                          {"columns", conflict.columns},
                          {"values", values(conflict)}});
      }
      dependents.push_back({{"table", table.table},
                            {"selected", table.selected},
                            {"restored", table.restored},
                            {"skipped", table.skipped},
                            {"conflicts", listed}});
    }
    nlohmann::json report = {{"dry_run", config.dry_run},   {"selected", result.selected},
                             {"restored", result.restored}, {"skipped", result.skipped},
                             {"conflicts", conflicts},      {"dependents", dependents}};
    std::cout << report.dump() << std::endl;
  } else {
    std::cout << fmt::format("restore{}: selected={} restored={} skipped={}\n",
                             config.dry_run ? " (dry run: nothing written)" : "", result.selected,
                             result.restored, result.skipped);
    for (const auto& conflict : result.conflicts) {
      std::cout << fmt::format("  skipped: key={} email={}: {}{}\n", conflict.row.key,
                               email(conflict.row.email), conflict.reason, described(conflict));
    }
    for (const auto& table : result.dependents) {
      std::cout << fmt::format("  {}: selected={} restored={} skipped={}\n", table.table,
                               table.selected, table.restored, table.skipped);
      for (const auto& conflict : table.conflicts) {
        std::cout << fmt::format("    skipped: {}: {}{}\n", conflict.row.key, conflict.reason,
                                 described(conflict));
      }
    }
    std::cout << std::flush;
  }
  return skipped > 0 ? kExitRowsFailed : kExitSuccess;
}

}  // namespace

int run_restore(const CleanupConfig& config, const RestoreOptions& options,
                const std::string& output) {
  try {
    try {
      return restore(config, options, output);
    } catch (const DatabaseError& e) {
      // A missing privilege is the operator's to grant, like the preflight's findings (exit 2).
      if (e.cause() != ErrorCause::kPrivilege) throw;
      throw ConfigError(std::string("restore refused: ") + e.what() +
                        " HINT: restore needs INSERT on " + config.pending_table +
                        " and SELECT, DELETE on " + config.archive_table);
    }
  } catch (const std::exception& e) {
    if (output == "json") {
      const nlohmann::json report = {{"dry_run", config.dry_run},
                                     {"selected", 0},
                                     {"restored", 0},
                                     {"skipped", 0},
                                     {"conflicts", nlohmann::json::array()},
                                     {"error", e.what()}};
      std::cout << report.dump() << std::endl;
    }
    throw;  // the caller logs it and maps it to the exit code
  }
}

}  // namespace batch_cleanup::cli
