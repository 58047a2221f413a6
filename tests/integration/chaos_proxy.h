// A TCP proxy between batch_cleanup and its server (PostgreSQL, MariaDB: it looks for the
// statements' text) that can cut the connection at the worst moment: right after it forwarded a
// COMMIT to the server, before the server's answer reaches the client. The server commits; the
// client cannot know (an in-doubt commit). Or right before it: the server rolls back, and the
// client cannot know that either.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace batch_cleanup::testing {

class ChaosProxy {
 public:
  // Listens on 127.0.0.1:`port`, forwarding to 127.0.0.1:`server_port`.
  ChaosProxy(int port, int server_port);
  ~ChaosProxy();
  ChaosProxy(const ChaosProxy&) = delete;
  ChaosProxy& operator=(const ChaosProxy&) = delete;

  // The `n`-th COMMIT of a transaction that deleted (one whose statements included a DELETE)
  // from now on (1: the next) is forwarded, then both sides are closed.
  void cut_after_batch_commit(int n) {
    forward_cut_commit_ = true;
    cut_at_commit_ = commits_seen_ + n;
  }
  // The same, but that COMMIT is not forwarded: the server sees the connection close mid
  // transaction and rolls it back.
  void cut_before_batch_commit(int n) {
    forward_cut_commit_ = false;
    cut_at_commit_ = commits_seen_ + n;
  }
  int batch_commits_seen() const { return commits_seen_; }
  int cuts() const { return cuts_; }

 private:
  void accept_loop();
  void relay(int client, int server);

  int listener_ = -1;
  int server_port_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> commits_seen_{0};
  std::atomic<int> cut_at_commit_{-1};
  std::atomic<bool> forward_cut_commit_{true};
  std::atomic<int> cuts_{0};
  std::thread acceptor_;
  std::vector<std::thread> relays_;
};

}  // namespace batch_cleanup::testing
