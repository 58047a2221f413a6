// What a store finds out about the database before a cycle runs: facts only. The engine
// (engine/preflight.cc) decides from them whether the cycle may run and how, and words every
// message; the store then runs the plan it is given (BatchPlan).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace batch_cleanup::store {

struct RelationFacts {
  bool exists = false;
  std::string name;       // as the user wrote it (for messages)
  bool is_table = false;  // a table rows can be deleted from (plain or partitioned)
  std::string kind;       // what it is, in the backend's words: "relkind v", "type view"
  bool partitioned = false;
  bool can_select = false;
  bool can_delete = false;
  bool can_insert = false;
  bool can_update = false;  // on at least one column: what FOR UPDATE needs
};

struct ColumnFacts {
  bool checked = false;  // the configuration uses the column, so it was looked up
  bool exists = false;
  std::string type;  // as the catalog names it ("text", "timestamp with time zone")
  // How = compares the column's values (read for the email columns): the collation in force,
  // as the backend names it ("default", "C", "ci", "BINARY", "NOCASE", MySQL/MariaDB
  // "utf8mb4_general_ci"); empty when unknown.
  std::string collation;
  // The collation's equality is byte equality (PostgreSQL: a deterministic collation; SQLite:
  // BINARY). False too when it cannot be told (a SQLite view column that is an expression).
  bool collation_exact = true;
  // The type's own = ignores case whatever the collation (PostgreSQL citext, or a domain over
  // it).
  bool case_insensitive_type = false;
};

// How a creation column's values read as instants.
enum class TimeKind {
  kUnknown,      // not looked up (no --expire-after or --min-age)
  kWithZone,     // timestamptz
  kWithoutZone,  // timestamp: read in --created-time-zone
  kDate,         // date: read in --created-time-zone, no time of day
  kDynamic,      // SQLite: ISO-8601 text, Julian day numbers or Unix seconds, per value
  kNotATime,     // any other type
};

// Why batches cannot address rows physically (ctid or rowid ranges).
enum class PhysicalSupport {
  kAvailable,
  kPartitioned,      // PostgreSQL partitioned table: no ctid across partitions
  kWithoutRowid,     // SQLite WITHOUT ROWID table
  kRowidShadowed,    // SQLite: columns named rowid, _rowid_ and oid hide the rowid
  kServerTooOld,     // PostgreSQL before 14: no Tid Range Scan, every range would be a seq scan
  kNoPhysicalOrder,  // the backend has no row locator to range over (Capabilities)
};

// An index the users table lacks, and the statement that would add it.
struct IndexFacts {
  bool checked = false;
  bool present = false;
  std::string advice;  // CREATE INDEX ... in the backend's dialect (when !present)
  std::string served;  // what the index must serve, as the backend writes it: lower("email")
};

// How a backend's batches can range over the physical order of rows.
enum class PhysicalOrder {
  kNone,       // rows have no physical locator batches can range over
  kHeapPages,  // PostgreSQL: ctid ranges of the heap (Tid Range Scan)
  kRowid,      // SQLite: rowid ranges
};

// The ways a backend can keep one instance active per target (store/instance_lock.h).
enum class LockMechanism {
  kLeaseTable,    // a lease row, proven inside every batch (works through poolers)
  kAdvisoryLock,  // a session-level server lock (direct connections only)
  kLockFile,      // a lock on a file next to the database (one machine)
};

// What a backend can do. The engine decides from these (and the facts below), never from the
// backend's name; every field is the store's, filled by Store::inspect().
struct Capabilities {
  // The backend's label in reports, metrics, history and /status ("postgresql", "sqlite").
  std::string backend;
  // The server's product name, for messages ("PostgreSQL", "SQLite").
  std::string product;
  // Empty when the server is supported; otherwise the oldest version this store runs against,
  // in words ("PostgreSQL 12").
  std::string oldest_supported;
  PhysicalOrder physical_order = PhysicalOrder::kNone;
  // With PhysicalSupport::kServerTooOld: the server version physical ranges need, in words
  // ("PostgreSQL 14 or later (Tid Range Scan)").
  std::string physical_needs;
  bool email_ranges = false;      // batches over ranges of the pending email's unique index order
  bool email_keyset = false;      // key batches may walk the pending email's unique index
  bool skip_locked = false;       // FOR UPDATE SKIP LOCKED
  bool delete_returning = false;  // DELETE ... RETURNING (else: read the rows, then delete them)
  bool savepoints = false;
  // Every limit and setting a transaction makes ends with it (SET LOCAL): nothing outlives it
  // on a pooled connection.
  bool transaction_scoped_settings = false;
  // Creation times stored without an offset can be read in a named time zone.
  bool time_zones = false;
  // A pass splits into disjoint slices for --workers (BatchStore::plan_slices).
  bool parallel_slices = false;
  // A function of a column (lower(email)) still compares under the column's collation
  // (PostgreSQL); otherwise its result compares byte for byte (SQLite).
  bool functions_keep_collation = false;
  // Two columns of different collations compare under one of them without an error (MySQL and
  // MariaDB: a _bin collation wins over a _ci one), so --normalize-email collation needs both
  // email columns under the same collation.
  bool collations_mix_silently = false;
  std::vector<LockMechanism> lock_mechanisms;
};

// What deleting a parent row does to the rows of a table whose foreign key references it.
enum class OnDelete {
  kCascade,     // the referencing rows are deleted with it
  kSetNull,     // their referencing columns are set to NULL
  kSetDefault,  // their referencing columns are set to their defaults
  kRestrict,    // the delete is refused while a referencing row exists (RESTRICT)
  kNoAction,    // the same, checked at the end of the statement or, deferred, at commit
};

// One foreign key that references the pending table, or (depth > 1) a table whose rows a
// cascade from the pending table deletes. Only CASCADE edges are followed further down: rows
// set to NULL or DEFAULT stay, and a refused delete removes nothing.
struct DependentTable {
  std::string table;   // the referencing table, schema-qualified, for messages ("public.otp")
  std::string schema;  // its schema (SQLite: the attached database) and name, as the catalog
  std::string name;    // spells them (the store quotes them)
  std::vector<std::string> columns;  // the referencing columns, in the key's order
  std::string parent_table;          // the referenced table, as `table` (the pending table too)
  std::vector<std::string> parent_columns;  // the referenced columns, in the same order
  OnDelete action = OnDelete::kNoAction;
  int depth = 1;  // 1: references the pending table; 2: references a depth-1 table; ...
  int via = -1;   // index in PreflightFacts::dependents of the edge whose table is parent_table
                  // (-1: parent_table is the pending table)
  std::string constraint;  // the foreign key's name ("" when it has none: SQLite)
  // An index leads with the referencing columns, so finding a parent's rows is a lookup; when
  // false, every cascaded or checked delete scans the table.
  bool indexed = false;
};

// The cluster the connected server belongs to, when it replicates synchronously (MariaDB
// Galera: wsrep_on). Every transaction is one write set, which the cluster refuses past its
// limits (ERROR 1180 from wsrep_max_ws_rows and wsrep_max_ws_size).
struct ClusterFacts {
  bool galera = false;
  int nodes = 0;                         // wsrep_cluster_size
  std::string state;                     // wsrep_local_state_comment ("Synced", "Donor/Desynced")
  std::int64_t max_write_set_rows = 0;   // wsrep_max_ws_rows; 0: no limit
  std::int64_t max_write_set_bytes = 0;  // wsrep_max_ws_size; 0: no limit
  // What deleting one pending row adds to a write set, about (the table's average row length
  // and the key's overhead); 0: unknown.
  std::int64_t bytes_per_row = 0;
  // Rows every batch transaction writes besides the pending rows (the lease's heartbeat, which
  // proves the instance lock inside each batch).
  std::int64_t own_rows_per_batch = 0;
};

// A privilege the connected account lacks on a table a run writes besides the pending table
// (the lease, the history), where the store can list the account's grants (MySQL/MariaDB).
struct MissingGrant {
  std::string privileges;  // "SELECT, INSERT, UPDATE"
  std::string table;       // as the user wrote it
  std::string needed_for;  // "the lease (--lease-table)"
  std::string grant;       // the statement that grants them
};

struct PreflightFacts {
  Capabilities capabilities;
  ClusterFacts cluster;
  int server_version_num = 0;  // the server's version as a number (PostgreSQL's server_version_num)
  std::string server_version;  // human-readable
  // How names resolve, for messages about missing tables.
  bool names_case_sensitive = true;  // PostgreSQL: quoted identifiers are exact
  bool has_roles = true;             // privileges belong to a role (PostgreSQL)

  RelationFacts pending;
  RelationFacts users;
  // The account as a GRANT statement names it ('cleanup'@'%'); empty where it is not read.
  std::string grantee;
  // Privileges a run (not a dry run) needs on the lease and history tables and lacks; empty
  // where they are not probed.
  std::vector<MissingGrant> missing_grants;
  bool same_relation = false;  // pending and users are one table (also through an alias)
  // What a statement selecting from the users table reads, resolved through views (recursively),
  // materialized views (what they were built from) and inheritance (children, partitions): the
  // relations, schema-qualified, the users table itself included.
  std::vector<std::string> users_reads;
  // The relations of users_reads that the pending table's statements read too (the pending
  // table, its children or partitions): not empty when the users table is the pending table in
  // disguise.
  std::vector<std::string> shared_reads;
  // What the users side reads that cannot be followed, in words: "foreign table public.f
  // (server s)", "function public.f()", "virtual table main.v".
  std::vector<std::string> unverified_reads;

  ColumnFacts key;
  ColumnFacts pending_email;
  ColumnFacts users_email;
  // How the batches compare the two emails, as their SQL writes it (users side u, pending side
  // p), where that is more than a plain = of the normalised values (MySQL/MariaDB: the BINARY
  // comparison that keeps a collation from widening the match); empty otherwise.
  std::string email_equality;
  ColumnFacts pending_phone;  // with --match phone
  ColumnFacts users_phone;
  ColumnFacts created;  // with --expire-after or --min-age
  TimeKind created_kind = TimeKind::kUnknown;
  ColumnFacts expires;  // with --expired-for
  TimeKind expires_kind = TimeKind::kUnknown;
  // The columns --where names, each once: its facts and how its values read as instants
  // (kNotATime for a column that holds no times).
  struct ConditionColumnFacts {
    std::string name;
    ColumnFacts column;
    TimeKind kind = TimeKind::kUnknown;
  };
  std::vector<ConditionColumnFacts> condition_columns;

  bool key_unique = false;  // a single-column unique index (or primary key) on the key column
  // PostgreSQL: a single-column unique index on the pending table's email column (what a keyset
  // over the email order needs).
  bool pending_email_unique = false;
  // PostgreSQL, with pending_email_unique on a plain table: the heap pages of the pending table,
  // and how many rows a heap page visited in email order serves (rows / distinct pages of a few
  // runs of 2,000 consecutive emails from random starts; 0: not measured). About 1 when the heap
  // is in no particular email order, up to the rows per page when it is in email order.
  long long pending_pages = 0;
  double email_order_rows_per_page = 0;
  // The server's shared_buffers, in pages (0: not read).
  long long shared_buffers_pages = 0;
  IndexFacts users_email_index;  // serves the (normalised) email probe of a batch
  IndexFacts users_phone_index;  // with --match phone
  // With --normalize-email: normalised emails several users rows share; -1: not counted.
  std::int64_t email_collisions = -1;

  // The foreign keys that reference the pending table, recursively through CASCADE edges,
  // parents before their children (inspect() fills it once the pending table is found).
  std::vector<DependentTable> dependents;
  // The connection enforces foreign keys (SQLite: PRAGMA foreign_keys). When false, a delete
  // neither cascades, nor sets NULL or DEFAULT, nor is refused: the referencing rows stay,
  // pointing at a row that no longer exists.
  bool foreign_keys_enforced = true;
  // Enforcement is a setting of each connection (SQLite: PRAGMA foreign_keys, off unless a
  // connection turns it on; batch_cleanup's connection turns it on), so the application's own
  // connections may not enforce what this one does.
  bool foreign_keys_per_connection = false;
  // The setting that turns enforcement off, for messages ("PRAGMA foreign_keys" on SQLite,
  // "foreign_key_checks" on MySQL/MariaDB).
  std::string foreign_keys_switch = "PRAGMA foreign_keys";
  // The database refuses a delete whose cascade (CASCADE, SET NULL, SET DEFAULT) acts on a row
  // this many keys below the deleted one (InnoDB: 15); 0: no limit.
  int cascade_depth_limit = 0;

  PhysicalSupport physical = PhysicalSupport::kAvailable;
  // The database file is read-only (SQLite; the path), so nothing can be deleted.
  std::string read_only_file;
  // When the server refused the configured --created-time-zone, its message.
  std::string created_time_zone_error;
  // The limits the role, the database or the server set for the session (PostgreSQL:
  // statement_timeout and lock_timeout as a session would start with them); zero: none.
  std::chrono::milliseconds server_statement_timeout{0};
  std::chrono::milliseconds server_lock_timeout{0};
};

// How batches address rows.
enum class Addressing {
  kPhysical,  // ranges of the physical order (PostgreSQL ctid, SQLite rowid)
  kKey,       // keyset order of the pending key
  // PostgreSQL: ranges of the pending email's order, the users side bounded by the same range,
  // so that the planner joins the two index ranges instead of probing per row
  kEmailRanges,
};

// What the engine decided, for the store to run.
struct BatchPlan {
  Addressing addressing = Addressing::kPhysical;
  // Lock the batch's rows with FOR UPDATE SKIP LOCKED (needs UPDATE privilege); otherwise rows
  // other sessions hold are detected by a lock wait of lock_probe_wait_ms each.
  bool skip_locked = true;
  long long lock_probe_wait_ms = 50;
  // Key batches (PostgreSQL): walk the pending email's unique index instead of the key's, so
  // that each batch's probes of the users' email index come in index order.
  bool keyset_by_email = false;
  // Every deleted row is inserted into the archive table (--archive-table, not a dry run) in the
  // deleting transaction, under the cycle ArchiveTable::begin_cycle() names.
  bool archive = false;
  // The foreign keys a delete acts through (not in a dry run): each batch counts the rows its
  // deletes take with them or change through them (BatchResult::dependent_rows).
  std::vector<DependentTable> dependents;
  // The limits every transaction sets (the configured ones, or the server's when lower).
  std::chrono::milliseconds statement_timeout{30000};
  std::chrono::milliseconds lock_timeout{2000};
  // The most rows one batch may delete (the cluster's write-set limits); 0: no limit. Batches
  // never ask for more, whatever --batch-size or --batch-time say.
  std::int64_t max_batch_rows = 0;
};

}  // namespace batch_cleanup::store
