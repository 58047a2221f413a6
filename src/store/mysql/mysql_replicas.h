// The replicas --max-replication-lag watches on MySQL/MariaDB (--replica-url): after each batch
// commits, its GTID (@@last_gtid of the primary's session); between batches, how long the
// farthest replica has been missing a commit, asked without waiting
// (MASTER_GTID_WAIT(gtid, 0) on each replica: 0 once applied). A replica whose SQL thread is
// stopped applies nothing, so its lag grows until it runs again. An unreachable replica counts
// as missing every commit not yet confirmed.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store/batch_types.h"
#include "store/mysql/mysql_session.h"

namespace batch_cleanup::store::mysql {

class MysqlReplicas {
 public:
  // `urls`: mysql:// URLs. Throws ConfigError for a malformed one.
  MysqlReplicas(const std::vector<std::string>& urls, std::chrono::milliseconds connect_timeout);
  ~MysqlReplicas();
  MysqlReplicas(const MysqlReplicas&) = delete;
  MysqlReplicas& operator=(const MysqlReplicas&) = delete;

  // After a commit on `primary`: remembers its GTID (none with the binary log off).
  void committed(MysqlSession& primary);
  // The farthest replica's lag behind the oldest commit it has not applied.
  ReplicationLag lag();

 private:
  struct Replica {
    std::unique_ptr<MysqlSession> session;
    std::size_t applied = 0;  // commits_ confirmed applied (a prefix)
  };
  // Whether `replica` applied `gtid` (connects when needed); false when it cannot say.
  bool applied(Replica& replica, const std::string& gtid);

  std::vector<Replica> replicas_;
  std::chrono::milliseconds connect_timeout_;
  // The cycle's commits not yet applied everywhere: GTID and when it committed.
  std::deque<std::pair<std::string, std::chrono::steady_clock::time_point>> commits_;
};

}  // namespace batch_cleanup::store::mysql
