// systemd's service notification protocol (sd_notify(3)), implemented directly: one datagram
// per message to the AF_UNIX socket named by $NOTIFY_SOCKET. Without $NOTIFY_SOCKET (not
// started by systemd with Type=notify) every call is a no-op, so callers need no checks.
#pragma once

#include <chrono>
#include <string>

namespace batch_cleanup::systemd {

// Sends `state` (e.g. "READY=1\nSTATUS=waiting"). Returns false when $NOTIFY_SOCKET is unset or
// the datagram could not be sent (never throws).
bool notify(const std::string& state);

// Half of $WATCHDOG_USEC when the watchdog is enabled for this process ($WATCHDOG_PID unset or
// equal to our pid): how often to send "WATCHDOG=1". Zero when disabled.
std::chrono::microseconds watchdog_ping_interval();

}  // namespace batch_cleanup::systemd
