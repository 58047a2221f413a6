// Batch-job metrics: after every cycle, finished or failed, the metrics go to node_exporter's
// textfile collector (--metrics-file) and to a Prometheus Pushgateway (--push-metrics), so that a
// --run-once from cron, a systemd timer or a Kubernetes CronJob leaves them behind.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "http/status_server.h"

namespace batch_cleanup::http {

struct PublishOptions {
  std::string metrics_file;  // empty: no file
  std::string push_url;      // empty: no push
  // The jobs come from a configuration file's [[job]] tables: samples carry cleanup_job.
  bool named_jobs = false;
};

// Thread-safe: the jobs of a daemon end their cycles on their own threads.
class MetricsPublisher {
 public:
  // Checks the options (throws ConfigError for a file that cannot be created or a bad URL).
  // Every service must outlive the publisher.
  MetricsPublisher(std::vector<JobService> jobs, PublishOptions options);

  // After a cycle of jobs[index] ended: rewrites --metrics-file with every job's metrics
  // (atomically), and pushes that job's metrics to its Pushgateway group: job="batch_cleanup",
  // instance=<host name>, plus cleanup_job=<name> for named jobs. A failure is logged as a warning,
  // never thrown: it does not fail the cycle.
  void cycle_ended(std::size_t index);

  bool enabled() const { return !options_.metrics_file.empty() || !options_.push_url.empty(); }

 private:
  std::vector<JobService> jobs_;
  PublishOptions options_;
  std::string host_;
  std::mutex file_mutex_;  // one writer of the file at a time
};

}  // namespace batch_cleanup::http
