#include "store/mysql/mysql_galera.h"

#include <algorithm>
#include <map>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::store::mysql {
namespace {

// What a deleted row adds to a write set besides its row image: the key and the event's
// header, about (Galera's own figure is not exposed).
constexpr std::int64_t kWriteSetRowOverhead = 64;

// Status variables by lowercase name (information_schema.GLOBAL_STATUS, which names them in
// capitals).
std::map<std::string, std::string> global_status(MysqlSession& session, const char* names) {
  std::map<std::string, std::string> values;
  const auto rows =
      session.exec(std::string("SELECT lower(variable_name), variable_value FROM "
                               "information_schema.global_status WHERE lower(variable_name) IN (") +
                   names + ")");
  for (std::size_t r = 0; r < rows.size(); ++r) values[rows.text(r, 0)] = rows.text(r, 1);
  return values;
}

std::int64_t number(const std::map<std::string, std::string>& values, const std::string& name) {
  const auto found = values.find(name);
  if (found == values.end() || found->second.empty()) return 0;
  try {
    return std::stoll(found->second);
  } catch (const std::exception&) {
    return 0;
  }
}

// gcs.fc_limit out of wsrep_provider_options ("...; gcs.fc_limit = 16; ..."); 0: not there.
std::int64_t fc_limit(const std::string& options) {
  const std::string key = "gcs.fc_limit";
  const auto at = options.find(key);
  if (at == std::string::npos) return 0;
  const auto equals = options.find('=', at + key.size());
  if (equals == std::string::npos) return 0;
  try {
    return std::stoll(options.substr(equals + 1));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

ClusterFacts inspect_cluster(MysqlSession& session, const std::string& schema,
                             const std::string& table) {
  ClusterFacts cluster;
  // @@wsrep_on exists on every MariaDB server (OFF without a provider); MySQL has none.
  if (!session.mariadb()) return cluster;
  const auto settings = session.exec(
      "SELECT @@global.wsrep_on, @@global.wsrep_max_ws_rows, @@global.wsrep_max_ws_size");
  cluster.galera = settings.integer(0, 0) != 0;
  if (!cluster.galera) return cluster;
  cluster.max_write_set_rows = settings.integer(0, 1);
  cluster.max_write_set_bytes = settings.integer(0, 2);
  cluster.own_rows_per_batch = 1;  // the lease row's heartbeat (mysql_instance_lock.cc)
  const auto status = global_status(session, "'wsrep_cluster_size', 'wsrep_local_state_comment'");
  cluster.nodes = static_cast<int>(number(status, "wsrep_cluster_size"));
  const auto state = status.find("wsrep_local_state_comment");
  if (state != status.end()) cluster.state = state->second;
  const auto length = session.exec(
      "SELECT coalesce(avg_row_length, 0) FROM information_schema.tables WHERE table_schema = ? "
      "AND table_name = ?",
      {schema, table});
  if (!length.empty()) cluster.bytes_per_row = length.integer(0, 0) + kWriteSetRowOverhead;
  return cluster;
}

void refuse_unwatched_replication_lag(const CleanupConfig& config, const ClusterFacts& cluster) {
  if (cluster.galera) return;  // flow control is watched, whichever limit was given
  if (config.max_replication_lag_bytes > 0) {
    throw ConfigError(
        "--max-replication-lag-bytes is not supported on MySQL/MariaDB: replicas report no byte "
        "position to compare. HINT: use --max-replication-lag with --replica-url");
  }
  if (config.max_replication_lag.count() > 0 && config.replica_urls.empty()) {
    throw ConfigError(
        "--max-replication-lag needs --replica-url on MySQL/MariaDB (a primary cannot see how "
        "far its replicas are), except on a Galera cluster node. HINT: name each replica with "
        "--replica-url, or pace the batches with --sleep or --max-rate");
  }
}

ReplicationLag GaleraFlowControl::read() {
  const auto status = global_status(
      session_, "'wsrep_flow_control_paused_ns', 'wsrep_local_recv_queue', 'wsrep_cluster_size'");
  const auto options = session_.exec("SELECT @@global.wsrep_provider_options");
  ReplicationLag lag;
  lag.galera = true;
  lag.standbys = std::max(0, static_cast<int>(number(status, "wsrep_cluster_size")) - 1);
  lag.recv_queue = number(status, "wsrep_local_recv_queue");
  lag.recv_queue_limit = options.empty() ? 0 : fc_limit(options.text(0, 0));
  const std::int64_t paused_ns = number(status, "wsrep_flow_control_paused_ns");
  if (generation_ == session_.generation() && last_paused_ns_ >= 0 && paused_ns > last_paused_ns_) {
    // Rounded up: any pause since the previous reading counts.
    lag.flow_control_paused =
        std::chrono::milliseconds((paused_ns - last_paused_ns_ + 999999) / 1000000);
  }
  last_paused_ns_ = paused_ns;
  generation_ = session_.generation();
  return lag;
}

}  // namespace batch_cleanup::store::mysql
