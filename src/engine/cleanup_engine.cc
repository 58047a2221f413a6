// A cycle: preflight, lock, guards, then the batches (engine_workers.cc, batch_loop.cc) or the
// dry run, and its report and history row, whatever ends it.
#include "engine/cleanup_engine.h"

#include <fmt/format.h>

#include <cmath>

#include "batch_cleanup/errors.h"
#include "config/condition.h"
#include "config/duration.h"
#include "config/options.h"
#include "engine/batch_lane.h"
#include "engine/cycle_log.h"
#include "engine/engine_support.h"
#include "engine/preflight.h"
#include "engine/preflight_dependents.h"
#include "log/log_context.h"
#include "log/mask.h"
#include "util/time_format.h"

namespace batch_cleanup::engine {
namespace {

// At most this many history records wait for a reachable database (the oldest go first).
constexpr std::size_t kMaxPendingHistory = 100;

// Releases the instance lock when a cycle ends, however it ends (unless it is kept between
// cycles).
struct LockReleaseAtEnd {
  EngineSession& session;
  ~LockReleaseAtEnd() { session.release_after_cycle(); }
};

}  // namespace

CleanupEngine::CleanupEngine(CleanupConfig config, std::unique_ptr<store::Store> store,
                             std::shared_ptr<StopFlag> stop)
    : config_(std::move(config)), session_(config_, std::move(store), std::move(stop)) {
  session_.set_on_connect([this] { flush_pending_history(); });
}

CleanupEngine::~CleanupEngine() = default;

void CleanupEngine::set_store_factory(std::function<std::unique_ptr<store::Store>()> factory) {
  store_factory_ = std::move(factory);
}

void CleanupEngine::keep_lock_between_cycles(bool keep) { session_.keep_lock_between_cycles(keep); }

bool CleanupEngine::lead(store::LeaseFacts& lease) {
  if (!session_.connected()) session_.connect();
  // The lock's name is the pending table as the server resolves it: inspect once first.
  if (!prepared_once_) {
    CycleReport scratch;
    prepare(scratch);
  }
  return session_.lead(lease);
}

void CleanupEngine::resign() noexcept { session_.resign(); }

std::optional<std::chrono::system_clock::time_point> CleanupEngine::last_cycle() const {
  return session_.last_cycle();
}

void CleanupEngine::set_progress_observer(std::function<void(const CycleProgress&)> observer) {
  progress_observer_ = std::move(observer);
}

CycleReport CleanupEngine::run_cycle(const std::string& mode) {
  auto outcome = run(mode);
  if (outcome.failure) std::rethrow_exception(outcome.failure);
  return std::move(outcome.report);
}

CycleOutcome CleanupEngine::run(const std::string& mode) {
  CycleOutcome outcome;
  CycleReport& report = outcome.report;
  report.cycle_id = util::random_id();
  report.dry_run = config_.dry_run;
  report.backend = session_.store().backend_name();
  const auto start = Clock::now();
  const auto started = std::chrono::system_clock::now();
  report.started_at = util::iso8601_utc(started);
  logging::CycleLogScope log_scope(report.cycle_id);

  {
    LockReleaseAtEnd release{session_};
    try {
      outcome.ran = run_cycle_body(report);
    } catch (const std::exception& e) {
      outcome.failure = std::current_exception();
      // Reports, JSON and history show it: no secret, and no address unless --log-pii.
      report.error =
          logging::maybe_mask_emails_in(logging::scrub_registered(e.what()), config_.log_pii);
    }
    // A completed cycle (a daemon's or a run-once's) moves the schedule every daemon on these
    // tables follows (the lock's record).
    if (outcome.ran && !outcome.failure && !report.interrupted && session_.lock_held()) {
      try {
        session_.run([&] { session_.store().instance_lock().record_cycle(started); });
      } catch (const std::exception& e) {
        logging::logger()->warn("cycle {}: could not record its end in the lock: {}",
                                report.cycle_id, e.what());
      }
    }
  }
  report.duration_ms = ms_since(start);
  report.finished_at = util::iso8601_utc(std::chrono::system_clock::now());
  if (!outcome.ran) return outcome;  // another instance held the lock: nothing was done
  log_cycle_end(report);
  record_history(report, mode);
  return outcome;
}

void CleanupEngine::log_cycle_end(const CycleReport& report) const {
  if (config_.dry_run) {
    if (!report.error.empty()) return;  // the failure is logged by whoever handles it
    logging::CountsLogScope counts({{"candidates", report.candidates}});
    logging::logger()->info(
        "cycle {} dry run: {} candidate(s) would be deleted; nothing written ({:.0f} ms)",
        report.cycle_id, report.candidates, report.duration_ms);
    return;
  }
  const char* how = !report.error.empty() ? "failed"
                    : report.interrupted  ? "interrupted"
                                          : "finished";
  logging::CountsLogScope counts({{"candidates", report.candidates},
                                  {"deleted", report.deleted},
                                  {"deleted_email", report.deleted_by_policy.email},
                                  {"deleted_phone", report.deleted_by_policy.phone},
                                  {"deleted_expired", report.deleted_by_policy.expired},
                                  {"failed", report.failed},
                                  {"skipped", report.skipped},
                                  {"no_longer_matching", report.no_longer_matching},
                                  {"batches", report.batches},
                                  {"duration_ms", std::llround(report.duration_ms)}});
  // A failed cycle's line says what it committed before the failure.
  const auto line = fmt::format(
      "cycle {} {}: candidates={} deleted={} failed={} skipped={} no_longer_matching={} "
      "batches={} duration={:.0f}ms batch_p50={:.1f}ms batch_p99={:.1f}ms "
      "by_policy=email:{},phone:{},expired:{}",
      report.cycle_id, how, report.candidates, report.deleted, report.failed, report.skipped,
      report.no_longer_matching, report.batches, report.duration_ms, report.batch_p50_ms,
      report.batch_p99_ms, report.deleted_by_policy.email, report.deleted_by_policy.phone,
      report.deleted_by_policy.expired);
  if (report.error.empty()) {
    logging::logger()->info("{}", line);
  } else {
    logging::logger()->warn("{}; error: {}", line, report.error);
  }
  for (const auto& rows : report.dependent_rows) {
    logging::logger()->info(
        "cycle {}: foreign key: {} row(s) of {} {}", report.cycle_id, rows.rows, rows.table,
        rows.action == "cascade" ? "deleted with them" : "changed (" + rows.action + ")");
  }
}

void CleanupEngine::prepare(CycleReport& report) {
  PreflightDecision decision;
  try {
    decision = session_.with_retries(
        [&] { return decide_preflight(config_, session_.store().inspect()); });
  } catch (const ConfigError& e) {
    // A schema change under a running job (a table dropped, a column renamed): this cycle
    // fails, the next one looks again. Before the first success, it is the configuration's.
    if (!prepared_once_) throw;
    throw DatabaseError(
        ErrorCause::kUndefinedObject, "",
        std::string(e.what()) + " (it was fine before: the next cycle checks again)");
  }
  session_.with_retries([&] { session_.store().configure(decision.plan); });
  plan_ = decision.plan;
  prepared_once_ = true;
  strategy_ = decision.strategy;
  email_comparison_ = decision.email_comparison;
  dependents_ = decision.dependents;
  // Warnings and notes once per job (they repeat every cycle otherwise).
  if (preflight_warnings_ != decision.warnings) {
    for (const auto& warning : decision.warnings) logging::logger()->warn("{}", warning);
    preflight_warnings_ = decision.warnings;
  }
  if (logged_notes_ != decision.notes) {
    for (const auto& note : decision.notes) logging::logger()->info("{}", note);
    logged_notes_ = decision.notes;
  }
  report.strategy = strategy_;
  report.warnings = preflight_warnings_;
}

bool CleanupEngine::take_lock_for_cycle(CycleReport& report) {
  // A dry run writes nothing, not even a lock: it neither takes nor needs one.
  if (config_.dry_run) return true;
  if (!session_.lock_held()) return session_.acquire_lock(report);
  // The daemon's leader holds it already.
  if (session_.keep_lock(report, /*now=*/true)) return true;
  report.interrupted = false;
  report.skipped_by_lock = true;
  report.skipped_reason = "lease_held";
  return false;
}

bool CleanupEngine::run_cycle_body(CycleReport& report) {
  if (!session_.connected()) session_.connect();
  prepare(report);
  if (!take_lock_for_cycle(report)) return false;
  const std::string refusal = session_.with_retries([&] { return check_guards(); });
  if (!refusal.empty()) {
    if (!config_.dry_run) throw GuardError(refusal);
    logging::logger()->warn("{} (a run without --dry-run would be refused)", refusal);
    report.warnings.push_back(refusal);
  }
  logging::logger()->info(
      "cycle {} started ({}{}, strategy {}, batch size {}{}; {})", report.cycle_id, report.backend,
      config_.dry_run ? ", dry run" : "", strategy_, config_.batch_size,
      config_.workers > 1 && !config_.dry_run ? fmt::format(", {} workers", config_.workers)
                                              : std::string(),
      describe_policies(config_));

  if (config_.dry_run) {
    run_dry(report);
    return true;
  }
  prepare_archives(report.cycle_id);
  run_batches(report);
  if (!config_.archive_table.empty()) report.archived = report.deleted;
  purge_archive(report);
  return true;
}

void CleanupEngine::prepare_archives(const std::string& cycle_id) {
  store::Store& store = session_.store();
  if (!config_.archive_table.empty()) {
    session_.with_retries([&] { prepare_archive(store, cycle_id); });
  }
  if (!config_.archive_file.empty()) {
    if (!archive_file_) archive_file_ = std::make_unique<ArchiveFile>(config_.archive_file);
    session_.with_retries([&] { return archive_file_->reconcile(store.batches()); });
    archive_file_->begin_cycle(cycle_id);
    store.batches().set_commit_observer(archive_file_.get());
  }
}

void CleanupEngine::record_history(const CycleReport& report, const std::string& mode) {
  if (config_.dry_run || !config_.record_history) return;
  RunRecord run = make_run_record(report, mode);
  run.job = config_.job_name;
  pending_history_.push_back(std::move(run));
  while (pending_history_.size() > kMaxPendingHistory) pending_history_.pop_front();
  if (session_.connected()) flush_pending_history();
}

void CleanupEngine::flush_pending_history() {
  if (!config_.record_history) return;
  while (!pending_history_.empty()) {
    const RunRecord& run = pending_history_.front();
    try {
      session_.store().history().record_run(run);
    } catch (const DatabaseError& e) {
      if (e.kind() == ErrorKind::kRetryable) {
        session_.connected() = false;  // kept for the next connection
        logging::logger()->warn(
            "cycle {} is not in the history table yet ({}): written when the "
            "database answers again",
            run.cycle_id, e.what());
        return;
      }
      logging::logger()->warn(
          "could not record cycle {} in the history table '{}': {}. HINT: grant the role CREATE "
          "on the schema (or create the table) and INSERT on it, or pass --no-history",
          run.cycle_id, config_.history_table, e.what());
    } catch (const std::exception& e) {
      logging::logger()->warn("could not record cycle {} in the history table '{}': {}",
                              run.cycle_id, config_.history_table, e.what());
    }
    pending_history_.pop_front();
  }
}

std::string CleanupEngine::check_guards() {
  auto& queries = session_.store().dry_run();
  if (!config_.allow_empty_users && session_.run([&] { return queries.users_table_empty(); })) {
    return "guard 'users-not-empty' refused to run: the users table '" + config_.users_table +
           "' is empty, which usually means the wrong table or database. HINT: check "
           "--users-table and --database-url, or pass --allow-empty-users to run anyway";
  }
  if (config_.max_deletes < 0 && config_.max_fraction <= 0) return {};
  const std::int64_t candidates = session_.run([&] { return queries.count_candidates(); });
  // --guards-count all: the rows of the dependent tables the cycle would delete or change too.
  const bool dependents = config_.guards_count_dependents && !dependents_.empty();
  store::DependentCounts counts;
  std::int64_t deleted = candidates;
  std::int64_t dependent_rows = 0;
  if (dependents) {
    counts = session_.run([&] { return queries.count_dependents(dependents_); });
    deleted = candidates - counts.refused_total;
    for (std::size_t i = 0; i < dependents_.size(); ++i) {
      if (!refuses_delete(dependents_[i])) dependent_rows += counts.rows[i];
    }
  }
  if (config_.max_deletes >= 0 && deleted + dependent_rows > config_.max_deletes) {
    if (dependents) {
      return fmt::format(
          "guard 'max-deletes' refused to run: this cycle would delete or change {} rows ({} "
          "pending, {} of the tables whose foreign keys reference them), more than --max-deletes "
          "{} (--guards-count all). HINT: check what would go with --dry-run; if it is expected, "
          "raise --max-deletes (or remove it) to run anyway",
          deleted + dependent_rows, deleted, dependent_rows, config_.max_deletes);
    }
    return fmt::format(
        "guard 'max-deletes' refused to run: this cycle would delete {} rows, more than "
        "--max-deletes {}. HINT: check what would go with --dry-run; if it is expected, raise "
        "--max-deletes (or remove it) to run anyway",
        candidates, config_.max_deletes);
  }
  if (config_.max_fraction > 0) {
    const std::int64_t total = session_.run([&] { return queries.count_pending(); });
    if (total > 0 && static_cast<double>(deleted) > config_.max_fraction * total) {
      return fmt::format(
          "guard 'max-fraction' refused to run: this cycle would delete {} of the {} rows of "
          "'{}' ({:.1f}%), more than --max-fraction {} ({:.1f}%). HINT: check what would go with "
          "--dry-run; if it is expected, raise --max-fraction (or remove it) to run anyway",
          deleted, total, config_.pending_table, 100.0 * static_cast<double>(deleted) / total,
          config_.max_fraction, 100.0 * config_.max_fraction);
    }
    for (std::size_t i = 0; dependents && i < dependents_.size(); ++i) {
      const auto& edge = dependents_[i];
      if (refuses_delete(edge) || counts.rows[i] == 0) continue;
      const std::int64_t rows = session_.run([&] { return queries.count_dependent_table(edge); });
      if (rows > 0 && static_cast<double>(counts.rows[i]) > config_.max_fraction * rows) {
        return fmt::format(
            "guard 'max-fraction' refused to run: this cycle would {} {} of the {} rows of '{}' "
            "({:.1f}%, through its foreign key to '{}'), more than --max-fraction {} ({:.1f}%, "
            "--guards-count all). HINT: check what would go with --dry-run; if it is expected, "
            "raise --max-fraction (or remove it, or pass --guards-count pending) to run anyway",
            edge.action == store::OnDelete::kCascade ? "delete" : "change", counts.rows[i], rows,
            edge.table, 100.0 * static_cast<double>(counts.rows[i]) / rows, edge.parent_table,
            config_.max_fraction, 100.0 * config_.max_fraction);
      }
    }
  }
  return {};
}

void prepare_archive(store::Store& store, const std::string& cycle_id) {
  auto& archive = store.archive();
  auto facts = archive.inspect_archive();
  if (!facts.exists && facts.required_database.empty()) {
    archive.create();
    logging::logger()->info("created archive table {}", facts.name);
    facts = archive.inspect_archive();
  }
  check_archive_table(facts);
  archive.begin_cycle(cycle_id);
}

void CleanupEngine::purge_archive(CycleReport& report) {
  if (config_.archive_table.empty() || config_.archive_retention.count() <= 0) return;
  try {
    report.archive_purged =
        session_.store().archive().purge(config_.archive_retention, config_.batch_size);
    if (report.archive_purged > 0) {
      logging::logger()->info("cycle {}: purged {} archive row(s) older than {}", report.cycle_id,
                              report.archive_purged,
                              config::format_duration(config_.archive_retention));
    }
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable) session_.connected() = false;
    const std::string warning = std::string("archive retention purge failed: ") + e.what();
    logging::logger()->warn("{}", warning);
    report.warnings.push_back(warning);
  }
}

void CleanupEngine::run_dry(CycleReport& report) {
  auto& queries = session_.store().dry_run();
  session_.with_retries([&] {
    report.candidates = queries.count_candidates();
    report.policies = queries.preview_policies(report.candidates);
    report.policies.email_comparison = email_comparison_;
    report.dependents.clear();
    report.refused_by_dependents = -1;
    if (!dependents_.empty()) {
      const auto counts = queries.count_dependents(dependents_);
      report.dependents = dependent_rows(dependents_, counts);
      report.refused_by_dependents = counts.refused_total;
    }
    report.policies.expired_rule = config::describe_expiry(config_);
    for (const auto& condition : config_.conditions) {
      report.policies.conditions.push_back(
          config::describe_condition(*config::parse_condition(condition)));
    }
    for (auto& email : report.policies.collision_sample) {
      email = logging::maybe_mask_email(email, config_.log_pii);
    }
    report.sample.clear();
    for (const auto& row : queries.sample_candidates(config_.sample_size)) {
      report.sample.push_back(
          {row.key, logging::maybe_mask_email(row.email, config_.log_pii), row.reason});
    }
  });
  log_policy_preview(config_, report);
  for (const auto& row : report.sample) {
    logging::logger()->info("would delete pending row key={} email={} ({})", row.key, row.email,
                            row.reason);
  }
}

}  // namespace batch_cleanup::engine
