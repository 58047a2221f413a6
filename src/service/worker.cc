#include "batch_cleanup/worker.h"

#include <memory>
#include <mutex>

namespace batch_cleanup {
namespace {

std::mutex g_worker_mutex;
std::shared_ptr<BatchCleanupService> g_worker;  // GUARDED_BY(g_worker_mutex)

std::shared_ptr<BatchCleanupService> current_worker() {
  std::lock_guard lock(g_worker_mutex);
  return g_worker;
}

}  // namespace

bool start_batch_cleanup_worker(const CleanupConfig& config) {
  std::lock_guard lock(g_worker_mutex);
  if (g_worker && g_worker->status().running) return false;
  auto service = std::make_shared<BatchCleanupService>(config);
  service->start();
  g_worker = std::move(service);
  return true;
}

bool start_batch_cleanup_worker() { return start_batch_cleanup_worker(config_from_environment()); }

void stop_batch_cleanup_worker() {
  std::shared_ptr<BatchCleanupService> worker;
  {
    std::lock_guard lock(g_worker_mutex);
    worker = g_worker;
  }
  if (worker) worker->stop();
}

ServiceStatus get_cleanup_status() {
  auto worker = current_worker();
  if (!worker) return ServiceStatus{};
  return worker->status();
}

std::int64_t run_cleanup_now() {
  auto worker = current_worker();
  if (worker) return worker->run_once().deleted;
  BatchCleanupService service(config_from_environment());
  return service.run_once().deleted;
}

}  // namespace batch_cleanup
