// Pushing an exposition to a Prometheus Pushgateway (--push-metrics URL), over its HTTP API:
// PUT URL/metrics/job/<job>/<label>/<value>... replaces every metric of that group.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace batch_cleanup::http {

// The labels that name a group: job first, then the others in order.
using GroupingKey = std::vector<std::pair<std::string, std::string>>;

// Throws ConfigError unless `url` is http://[USER:PASSWORD@]HOST[:PORT][/PATH] (or https:// when
// cpp-httplib was built with TLS). The user information is sent as HTTP basic auth, and its
// secrets are registered with logging::register_secrets: no log line prints them.
void check_push_url(const std::string& url);

// `url` with its user information, if any, replaced by *** ("http://***@host:9091"): the only
// form of it that is printed.
std::string redact_push_url(const std::string& url);

// The path of a group under `url`'s path: "/metrics/job/batch_cleanup/instance/host". Values
// that are empty or hold a '/' are base64url-encoded ("instance@base64/...").
std::string grouping_path(const std::string& url, const GroupingKey& key);

// PUTs `exposition` (text format 0.0.4) to the group, with basic auth when the URL holds a user.
// Throws std::runtime_error when the Pushgateway cannot be reached or does not answer 2xx (with its
// status and body). Waits at most 5 s to connect and 10 s for the answer.
void push_metrics(const std::string& url, const GroupingKey& key, const std::string& exposition);

}  // namespace batch_cleanup::http
