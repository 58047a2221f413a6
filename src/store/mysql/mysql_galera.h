// Galera awareness of the MySQL/MariaDB store (facts only; the engine decides): whether the
// server is a node of a Galera cluster and the write-set limits every batch must stay under
// (ClusterFacts), and, between batches, how hard flow control holds the cluster
// (ReplicationLag's Galera fields).
#pragma once

#include <cstdint>
#include <string>

#include "batch_cleanup/config.h"
#include "store/batch_types.h"
#include "store/facts.h"
#include "store/mysql/mysql_session.h"

namespace batch_cleanup::store::mysql {

// wsrep_on, the cluster's size and state, wsrep_max_ws_rows and wsrep_max_ws_size, and about
// how many bytes a deleted row of `schema`.`table` adds to a write set. Throws DatabaseError.
ClusterFacts inspect_cluster(MysqlSession& session, const std::string& schema,
                             const std::string& table);

// Refuses (ConfigError, exit 2) a replication-lag limit nothing can watch: off a Galera node,
// --max-replication-lag without --replica-url, and --max-replication-lag-bytes.
void refuse_unwatched_replication_lag(const CleanupConfig& config, const ClusterFacts& cluster);

// Reads flow control between batches: the time it paused replication since the previous
// reading, this node's receive queue and gcs.fc_limit. One per connection.
class GaleraFlowControl {
 public:
  explicit GaleraFlowControl(MysqlSession& session) : session_(session) {}
  // Throws DatabaseError.
  ReplicationLag read();

 private:
  MysqlSession& session_;
  std::int64_t last_paused_ns_ = -1;  // wsrep_flow_control_paused_ns at the previous reading
  int generation_ = -1;               // the connection it was read on (a new one restarts)
};

}  // namespace batch_cleanup::store::mysql
