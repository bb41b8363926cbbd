// The three commands of `aterm-agent` (DESIGN.md section 7). main.cpp parses arguments and calls
// these; each returns the process exit code and logs its errors (never a secret).
#pragma once

#include <istream>
#include <ostream>
#include <string>

namespace aterm::agent {

// `aterm-agent run --config F`: one router until SIGTERM/SIGINT (then offline presence and a
// clean disconnect). Exit 0 after a clean shutdown, 1 on a configuration or start-up error.
int run_agent(const std::string& config_path);

// `aterm-agent login-check --config F --login-id ID`, password on `password_in` (first line).
// Asks the running agent over local_socket when it listens, so single use and the failure count
// live in one place; when no agent runs (the data_dir lock is free) it checks the store itself,
// under that lock, and queues the events in the outbox for the agent's next start.
// Exit 0 accepted, 1 refused, 2 error (bad config, the agent runs but cannot be asked, I/O).
int login_check(const std::string& config_path, const std::string& login_id,
                std::istream& password_in);

// `aterm-agent login-logout --config F --login-id ID`: the technician left the router's UI; ends
// the local session the login opened (technician_login.ended), through the running agent or,
// when none runs, on the store itself as login-check does.
// Exit 0 ended, 1 no open session of that id, 2 error.
int login_logout(const std::string& config_path, const std::string& login_id);

// `aterm-agent claim-code --config F`: prints the router's claim code (docs/device-claim.md) in
// label form on `out`, from claim_code_file (default: data_dir/claim-code), the file the
// factory provisions with the code printed on the label. The code is for the owner of the
// router, who reads it on the router's own console; it never goes over MQTT.
// Exit 0 printed, 2 error (bad config, no file, not a claim code).
int print_claim_code(const std::string& config_path, std::ostream& out);

#if ATERM_AGENT_SIMULATE
// `aterm-agent simulate --config F --count N [--id-prefix P]`: N sim routers in one process,
// all on one event_loop thread (each connected router adds its MQTT link's I/O thread). Router i is
// "<P><i, 5 digits>" with its data under data_dir/<id>/; its certificate comes from
// simulate.cert_dir/<id>.pem|.key or is minted from simulate.ca_cert + simulate.ca_key and
// written 0600 under data_dir/<id>/tls/. Simulated routers have no local socket.
// Only in builds with ATERM_AGENT_SIMULATE (host builds; router builds leave it out).
int simulate(const std::string& config_path, long count, const std::string& id_prefix);
#endif

}  // namespace aterm::agent
