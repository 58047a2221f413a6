// Process exit codes of the command line (the contract in README.md).
#pragma once

namespace batch_cleanup::cli {

constexpr int kExitSuccess = 0;      // also when nothing matched, and after SIGINT/SIGTERM
constexpr int kExitRowsFailed = 1;   // the cycle finished but some rows could not be deleted
                                     // (also: a cycle failed on a fatal database error)
constexpr int kExitUsage = 2;        // usage, configuration or guard error; also the database
                                     // refusing the credentials, the client's address
                                     // (pg_hba) or a privilege the run needs: retrying cannot
                                     // help, the configuration (or the grants) must change
constexpr int kExitUnreachable = 3;  // database unreachable after retries
constexpr int kExitLeaseHeld = 4;    // --run-once without --wait-lock: another instance holds
                                     // the lock, the cycle did nothing

}  // namespace batch_cleanup::cli
