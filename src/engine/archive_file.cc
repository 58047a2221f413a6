#include "engine/archive_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "batch_cleanup/errors.h"
#include "log/logger.h"
#include "util/private_file.h"
#include "util/time_format.h"

namespace batch_cleanup::engine {
namespace {

[[noreturn]] void io_error(const std::string& path, const char* what) {
  throw DatabaseError(ErrorCause::kOther, "",
                      "archive file '" + path + "': " + what + ": " + std::strerror(errno));
}

// A JSON string, invalid UTF-8 replaced.
std::string json_string(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The row as the line's "row" value: the store's JSON object verbatim when it is valid JSON on
// one line (numbers keep their digits, columns their order), else the JSON text as a string.
void append_row_value(std::string& out, const std::string& row_json) {
  if (row_json.find('\n') == std::string::npos && nlohmann::json::accept(row_json)) {
    out += row_json;
  } else {
    out += json_string(row_json);
  }
}

}  // namespace

ArchiveFile::ArchiveFile(std::string path) : path_(std::move(path)) {
  if (const auto warning = util::prepare_private_file(path_, "--archive-file", false)) {
    logging::logger()->warn("{}", *warning);
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw ConfigError("cannot open --archive-file '" + path_ + "': " + std::strerror(errno));
  }
  // A torn last line (a crash inside write()) must not swallow the next line.
  const off_t size = ::lseek(fd_, 0, SEEK_END);
  if (size > 0) {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(size - 1);
    char last = '\n';
    in.get(last);
    if (last != '\n') append("\n", true);
  }
}

ArchiveFile::~ArchiveFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ArchiveFile::append(const std::string& text, bool sync) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_error(path_, "write failed");
    }
    done += static_cast<std::size_t>(n);
  }
  if (sync && ::fdatasync(fd_) != 0) io_error(path_, "fdatasync failed");
}

std::map<std::string, std::vector<std::string>> ArchiveFile::unresolved_in_file() {
  std::map<std::string, std::vector<std::string>> rows;
  std::set<std::string> resolved;
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    const auto object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!object.is_object() || !object.contains("batch") || !object.contains("type")) continue;
    const std::string batch = object["batch"].get<std::string>();
    const std::string type = object["type"].get<std::string>();
    if (type == "row" && object.contains("key")) {
      rows[batch].push_back(object["key"].get<std::string>());
    } else if (type == "commit" || type == "rollback" || type == "reconciled") {
      resolved.insert(batch);
    }
  }
  for (const auto& batch : resolved) rows.erase(batch);
  return rows;
}

int ArchiveFile::reconcile(store::BatchStore& store) {
  std::lock_guard lock(mutex_);
  if (!file_scanned_) {
    for (auto& [batch, keys] : unresolved_in_file()) in_doubt_[batch] = std::move(keys);
    file_scanned_ = true;
  }
  int reconciled = 0;
  for (auto it = in_doubt_.begin(); it != in_doubt_.end(); it = in_doubt_.erase(it)) {
    const auto still_there = store.existing_keys(it->second);
    nlohmann::json line = {{"type", "reconciled"},
                           {"batch", it->first},
                           {"rolled_back_keys", still_there},
                           {"at", util::iso8601_utc(std::chrono::system_clock::now())}};
    append(line.dump() + "\n", true);
    logging::logger()->info(
        "archive file: batch {} had no outcome; reconciled: {} row(s) deleted, {} not deleted",
        it->first, it->second.size() - still_there.size(), still_there.size());
    ++reconciled;
  }
  return reconciled;
}

void ArchiveFile::begin_cycle(const std::string& cycle_id) {
  std::lock_guard lock(mutex_);
  cycle_id_ = cycle_id;
  batch_seq_ = 0;
}

void ArchiveFile::before_commit(const std::vector<store::PendingRow>& rows) {
  std::lock_guard lock(mutex_);
  const std::string batch = cycle_id_ + "-" + std::to_string(++batch_seq_);
  open_batches_[std::this_thread::get_id()] = batch;
  std::vector<std::string> keys;
  keys.reserve(rows.size());
  const std::string now = util::iso8601_utc(std::chrono::system_clock::now());
  // Written by hand, keys in the order nlohmann::json would sort them, without building a
  // document per row: this runs inside the batch's transaction, while its rows are locked.
  const std::string head = "{\"archived_at\":" + json_string(now) +
                           ",\"batch\":" + json_string(batch) +
                           ",\"cycle_id\":" + json_string(cycle_id_) + ",\"key\":";
  std::string text;
  for (const auto& row : rows) {
    text += head;
    text += json_string(row.key);
    text += ",\"reason\":";
    text += json_string(row.reason);
    text += ",\"row\":";
    append_row_value(text, row.row_json);
    text += ",\"type\":\"row\"}\n";
    keys.push_back(row.key);
  }
  // Until the outcome line is written, the batch counts as in doubt.
  in_doubt_[batch] = std::move(keys);
  append(text, true);
}

void ArchiveFile::after_commit(bool committed) noexcept {
  std::lock_guard lock(mutex_);
  const auto open = open_batches_.find(std::this_thread::get_id());
  if (open == open_batches_.end()) return;
  try {
    const nlohmann::json line = {{"type", committed ? "commit" : "rollback"},
                                 {"batch", open->second}};
    append(line.dump() + "\n", false);
    in_doubt_.erase(open->second);
  } catch (const std::exception& e) {
    // Left in doubt: reconciled when the next cycle starts.
    try {
      logging::logger()->warn("{}", e.what());
    } catch (...) {
    }
  }
  open_batches_.erase(open);
}

}  // namespace batch_cleanup::engine
