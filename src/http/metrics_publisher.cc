#include "http/metrics_publisher.h"

#include "batch_cleanup/history.h"
#include "http/pushgateway.h"
#include "log/logger.h"
#include "observability/prometheus.h"
#include "observability/textfile.h"
#include "util/private_file.h"

namespace batch_cleanup::http {

MetricsPublisher::MetricsPublisher(std::vector<JobService> jobs, PublishOptions options)
    : jobs_(std::move(jobs)), options_(std::move(options)), host_(host_name()) {
  options_.named_jobs = options_.named_jobs || jobs_.size() != 1;
  if (!options_.metrics_file.empty()) {
    observability::check_writable_location(options_.metrics_file, "--metrics-file");
    if (const auto warning =
            util::wide_permissions_warning(options_.metrics_file, "--metrics-file")) {
      logging::logger()->warn("{}", *warning);
    }
  }
  if (!options_.push_url.empty()) check_push_url(options_.push_url);
}

void MetricsPublisher::cycle_ended(std::size_t index) {
  const observability::ExpositionOptions batch{.label_jobs = options_.named_jobs,
                                               .process_metrics = false};
  if (!options_.metrics_file.empty()) {
    std::vector<observability::JobStatus> all;
    for (const auto& job : jobs_) all.push_back({job.name, job.service->status()});
    try {
      std::lock_guard lock(file_mutex_);
      observability::write_file_atomically(options_.metrics_file,
                                           observability::render_metrics(all, batch));
    } catch (const std::exception& e) {
      logging::logger()->warn("metrics file not written: {}", e.what());
    }
  }
  if (!options_.push_url.empty()) {
    const auto& job = jobs_.at(index);
    GroupingKey key{{"job", "batch_cleanup"}, {"instance", host_}};
    if (options_.named_jobs) key.emplace_back(observability::kJobLabel, job.name);
    try {
      push_metrics(options_.push_url, key,
                   observability::render_metrics({{job.name, job.service->status()}}, batch));
    } catch (const std::exception& e) {
      logging::logger()->warn("{}", e.what());
    }
  }
}

}  // namespace batch_cleanup::http
