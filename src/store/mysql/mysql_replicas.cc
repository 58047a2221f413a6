#include "store/mysql/mysql_replicas.h"

#include <algorithm>

#include "batch_cleanup/errors.h"
#include "config/mysql_url.h"

namespace batch_cleanup::store::mysql {

MysqlReplicas::MysqlReplicas(const std::vector<std::string>& urls,
                             std::chrono::milliseconds connect_timeout)
    : connect_timeout_(connect_timeout) {
  for (const auto& url : urls) {
    replicas_.push_back({std::make_unique<MysqlSession>(config::parse_mysql_url(url)), 0});
  }
}

MysqlReplicas::~MysqlReplicas() = default;

void MysqlReplicas::committed(MysqlSession& primary) {
  const std::string gtid = primary.exec("SELECT @@last_gtid").text(0, 0);
  if (gtid.empty()) return;  // no binary log: nothing to replicate
  commits_.emplace_back(gtid, std::chrono::steady_clock::now());
}

bool MysqlReplicas::applied(Replica& replica, const std::string& gtid) {
  try {
    if (!replica.session->connected()) {
      replica.session->connect(connect_timeout_, connect_timeout_ + std::chrono::seconds(5));
    }
    const auto waited = replica.session->exec("SELECT MASTER_GTID_WAIT(?, 0)", {gtid});
    return !waited.is_null(0, 0) && waited.integer(0, 0) == 0;
  } catch (const DatabaseError&) {
    replica.session->close();  // asked again at the next batch
    return false;
  }
}

ReplicationLag MysqlReplicas::lag() {
  ReplicationLag lag;
  lag.standbys = static_cast<int>(replicas_.size());
  const auto now = std::chrono::steady_clock::now();
  for (auto& replica : replicas_) {
    // Commits are applied in order: the first one missing decides.
    while (replica.applied < commits_.size() && applied(replica, commits_[replica.applied].first)) {
      ++replica.applied;
    }
    if (replica.applied < commits_.size()) {
      lag.time = std::max(lag.time, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        now - commits_[replica.applied].second));
    }
  }
  // Commits every replica applied are forgotten.
  std::size_t done = commits_.size();
  for (const auto& replica : replicas_) done = std::min(done, replica.applied);
  commits_.erase(commits_.begin(), commits_.begin() + static_cast<std::ptrdiff_t>(done));
  for (auto& replica : replicas_) replica.applied -= done;
  return lag;
}

}  // namespace batch_cleanup::store::mysql
