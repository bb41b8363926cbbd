// Device registration by a company needs proof of possession, and a device leaving a company
// takes none of that tenancy's data to the next (DESIGN.md section 5, docs/device-claim.md).
// Each case performs the attack against the real daemon, broker, agents and SQLite file.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>

#include "aterm/common/claim_code.h"
#include "aterm/common/clock.h"
#include "aterm/common/json.h"
#include "cloud_stack.h"

namespace {

using namespace aterm;
using namespace aterm::test;

const cJSON* member(const cJSON* obj, const char* key) {
  return obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : nullptr;
}

// The id of `company`'s destination "default" (created when missing).
std::string destination(https_client& c) {
  auto list = c.request("GET", "destinations");
  const cJSON* all = member(list.json.get(), "destinations");
  for (const cJSON* d = all ? all->child : nullptr; d != nullptr; d = d->next) {
    if (common::json_string(d, "name").value_or("") == "default") {
      return std::to_string(common::json_int(d, "id").value_or(0));
    }
  }
  auto made = c.request("POST", "destinations", R"({"name":"default"})");
  REQUIRE_MESSAGE(made.status == 201, made.body);
  return std::to_string(made.num("id"));
}

http_answer claim(https_client& c, const std::string& dest, const std::string& device,
                  const std::string& code) {
  common::json_ptr body(cJSON_CreateObject());
  cJSON_AddStringToObject(body.get(), "device_id", device.c_str());
  if (!code.empty()) cJSON_AddStringToObject(body.get(), "claim_code", code.c_str());
  return c.request("POST", "destinations/" + dest + "/devices", common::print_json(body.get()));
}

// {"devices":[{"id","claim_code"}, ...]}
std::string batch_body(const std::vector<std::pair<std::string, std::string>>& devices) {
  common::json_ptr body(cJSON_CreateObject());
  cJSON* arr = cJSON_AddArrayToObject(body.get(), "devices");
  for (const auto& [id, code] : devices) {
    cJSON* d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "id", id.c_str());
    cJSON_AddStringToObject(d, "claim_code", code.c_str());
    cJSON_AddItemToArray(arr, d);
  }
  return common::print_json(body.get());
}

// A code of the right form that is not `device`'s (its last character changed).
std::string wrong_code(std::string code) {
  code.back() = code.back() == 'A' ? 'B' : 'A';
  return code;
}

bool has_state(const http_answer& a) {
  const cJSON* st = member(a.json.get(), "state");
  return st != nullptr && !cJSON_IsNull(st);
}

// The device as the site administrators see it in the unassigned list, once it sent a state.
bool unassigned_with_state(cloud_stack& s, https_client& admin, const std::string& device) {
  return s.wait_for(admin, "admin/devices/unassigned", [&](const http_answer& a) {
    const cJSON* all = member(a.json.get(), "devices");
    for (const cJSON* d = all ? all->child : nullptr; d != nullptr; d = d->next) {
      if (common::json_string(d, "id").value_or("") == device) {
        const cJSON* st = member(d, "state");
        return st != nullptr && !cJSON_IsNull(st);
      }
    }
    return false;
  });
}

std::size_t history_size(https_client& c, const std::string& device) {
  auto h = c.request("GET", "devices/" + device + "/history");
  return static_cast<std::size_t>(cJSON_GetArraySize(member(h.json.get(), "history")));
}

}  // namespace

TEST_CASE("claiming_unowned_device_without_code_is_refused") {
  cloud_stack s;
  s.start_agent("free-r1");  // connected, registered to no company, with a state stored
  auto admin = s.client("platform");
  REQUIRE(unassigned_with_state(s, admin, "free-r1"));
  auto acme = s.client("acme");
  const std::string dest = destination(acme);

  const auto no_code = claim(acme, dest, "free-r1", "");
  const auto wrong = claim(acme, dest, "free-r1", wrong_code(s.claim_code("free-r1")));
  MESSAGE("no code: " << no_code.status << " " << no_code.body);
  MESSAGE("wrong code: " << wrong.status << " " << wrong.body);
  CHECK(no_code.status == 404);
  CHECK(wrong.status == 404);
  CHECK(wrong.body == no_code.body);
  CHECK(no_code.str("error") == "not_found");

  // Nothing of the device is readable or commandable by the company.
  auto read = acme.request("GET", "devices/free-r1");
  CHECK(read.status == 404);
  CHECK_FALSE(has_state(read));
  CHECK(acme.request("GET", "devices/free-r1/history").status == 404);
  auto reboot = acme.request("POST", "devices/free-r1/commands", R"({"op":"reboot"})");
  MESSAGE("reboot: " << reboot.status << " " << reboot.body);
  CHECK(reboot.status == 404);
  CHECK(unassigned_with_state(s, admin, "free-r1"));
}

TEST_CASE("registration_does_not_reveal_other_company_devices") {
  cloud_stack s;
  s.register_device("globex", "globex-r1");
  auto acme = s.client("acme");
  const std::string dest = destination(acme);

  // Another company's device with its right code, with a wrong one, and an unknown id with a
  // wrong one: one answer.
  const auto foreign_right = claim(acme, dest, "globex-r1", s.claim_code("globex-r1"));
  const auto foreign_wrong = claim(acme, dest, "globex-r1", wrong_code(s.claim_code("globex-r1")));
  const auto unknown = claim(acme, dest, "nobody-r1", wrong_code(s.claim_code("nobody-r1")));
  MESSAGE("foreign, right code: " << foreign_right.status << " " << foreign_right.body);
  MESSAGE("unknown: " << unknown.status << " " << unknown.body);
  CHECK(foreign_right.status == 404);
  CHECK(foreign_right.body == unknown.body);
  CHECK(foreign_wrong.body == unknown.body);
  CHECK(foreign_right.body.find("globex") == std::string::npos);

  // 499 unknown ids with their right codes and the foreign one: nothing registered, the answer
  // is the same 404 naming no device.
  std::vector<std::pair<std::string, std::string>> devices;
  for (int i = 0; i < 499; ++i) {
    const std::string id = "probe-" + std::to_string(i);
    devices.emplace_back(id, common::claim::format(common::claim::derive(
                                 *common::claim::load_key_file(s.pki().claim_key().string()), id)));
  }
  devices.emplace_back("globex-r1", s.claim_code("globex-r1"));
  auto batch = acme.request("POST", "destinations/" + dest + "/devices", batch_body(devices));
  MESSAGE("500-id batch: " << batch.status << " " << batch.body.substr(0, 200));
  CHECK(batch.status == 404);
  CHECK(batch.body == unknown.body);
  CHECK(acme.request("GET", "devices/probe-0").status == 404);
  CHECK(cJSON_GetArraySize(member(acme.request("GET", "devices").json.get(), "devices")) == 0);
  // globex keeps its device.
  CHECK(s.client("globex").request("GET", "devices/globex-r1").status == 200);
}

TEST_CASE("next_company_reads_nothing_of_previous_tenancy") {
  cloud_stack s;
  const std::string device = "move-r1";
  s.register_device("acme", device);
  s.start_agent(device);
  auto acme = s.client("acme");
  REQUIRE(s.wait_for(acme, "devices/" + device, [](const http_answer& a) { return has_state(a); }));
  auto cmd = acme.request("POST", "devices/" + device + "/commands", R"({"op":"state.refresh"})");
  REQUIRE(cmd.status == 202);
  REQUIRE(s.wait_for(acme, "devices/" + device,
                     [&](const http_answer&) { return history_size(acme, device) >= 2; }));
  auto admin = s.client("platform");

  SUBCASE("a site administrator unassigns it") {
    auto left = admin.request("POST", "admin/devices/" + device + "/unassign");
    MESSAGE("unassign: " << left.status << " " << left.body);
    CHECK(left.status == 204);
  }
  SUBCASE("its company's contract ends while it stays connected") {
    auto end = admin.request("PATCH", "admin/companies/acme",
                             R"({"contract_end":"2020-01-01T00:00:00Z"})");
    REQUIRE_MESSAGE(end.status == 200, end.body);
    auto run = s.cli(
        {"jobs", "run", "--as-of", common::format_utc(common::system_clock::instance().now())});
    MESSAGE("jobs run: " << run.out);
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("device.unassign device=" + device) != std::string::npos);
  }

  auto globex = s.client("globex");
  auto claimed = claim(globex, destination(globex), device, s.claim_code(device));
  REQUIRE_MESSAGE(claimed.status == 200, claimed.body);
  auto read = globex.request("GET", "devices/" + device);
  MESSAGE("globex reads: " << read.body);
  CHECK(read.status == 200);
  CHECK_FALSE(has_state(read));
  CHECK(cJSON_GetArraySize(member(read.json.get(), "recent_commands")) == 0);
  CHECK(history_size(globex, device) == 0);
  CHECK(globex.request("GET", "commands/" + cmd.str("id")).status == 404);
}

TEST_CASE("wrong device claims are throttled per company and access-logged") {
  cloud_stack_options o;
  o.device = R"("claim_failures": 3, "claim_window_s": 3)";
  cloud_stack s(o);
  auto acme = s.client("acme");
  const std::string dest = destination(acme);
  for (int i = 0; i < 3; ++i) {
    CHECK(claim(acme, dest, "acme-x1", wrong_code(s.claim_code("acme-x1"))).status == 404);
  }
  // Past the limit even the right code waits: guessing gets no further answers.
  auto throttled = claim(acme, dest, "acme-x1", s.claim_code("acme-x1"));
  MESSAGE("after 3 wrong claims: " << throttled.status << " " << throttled.body);
  CHECK(throttled.status == 429);
  CHECK(throttled.str("error") == "throttled");
  CHECK_FALSE(throttled.header("retry-after").empty());
  // Another company is not held back.
  auto globex = s.client("globex");
  CHECK(claim(globex, destination(globex), "globex-x1", s.claim_code("globex-x1")).status == 200);
  auto log = acme.request("GET", "audit?action=device.register");
  CHECK(log.body.find("claim throttled") != std::string::npos);
  // Once the window has passed, the right code registers.
  CHECK(s.wait_for(acme, "devices/acme-x1", [&](const http_answer& a) {
    return a.status == 200 || claim(acme, dest, "acme-x1", s.claim_code("acme-x1")).status == 200;
  }));
}

TEST_CASE("a company registers devices with their claim codes, in JSON and as CSV lines") {
  cloud_stack s;
  auto acme = s.client("acme");
  const std::string dest = destination(acme);
  auto one = claim(acme, dest, "acme-n1", s.claim_code("acme-n1"));
  CHECK_MESSAGE(one.status == 200, one.body);
  // Lower case and without dashes as typed from a label.
  std::string typed = s.claim_code("acme-n2");
  typed.erase(std::remove(typed.begin(), typed.end(), '-'), typed.end());
  for (auto& ch : typed) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto batch = acme.request("POST", "destinations/" + dest + "/devices",
                            batch_body({{"acme-n2", typed}, {"acme-n3", s.claim_code("acme-n3")}}));
  CHECK_MESSAGE(batch.status == 200, batch.body);
  CHECK(cJSON_GetArraySize(member(batch.json.get(), "devices")) == 2);

  const std::string csv = "device_id,claim_code\r\nacme-c1," + s.claim_code("acme-c1") +
                          "\r\n\"acme-c2\", " + s.claim_code("acme-c2") + "\r\n";
  auto uploaded = acme.request("POST", "destinations/" + dest + "/devices", csv,
                               {{"Content-Type", "text/csv"}});
  CHECK_MESSAGE(uploaded.status == 200, uploaded.body);
  for (const char* id : {"acme-n1", "acme-n2", "acme-n3", "acme-c1", "acme-c2"}) {
    CAPTURE(id);
    CHECK(acme.request("GET", std::string("devices/") + id).status == 200);
  }
  // A CSV line without its code is a wrong claim of the whole upload.
  auto missing = acme.request("POST", "destinations/" + dest + "/devices",
                              "acme-c3," + s.claim_code("acme-c3") + "\nacme-c4,\n",
                              {{"Content-Type", "text/csv"}});
  CHECK(missing.status == 404);
  CHECK(acme.request("GET", "devices/acme-c3").status == 404);
  auto bad_line = acme.request("POST", "destinations/" + dest + "/devices", "acme-c5\n",
                               {{"Content-Type", "text/csv"}});
  CHECK(bad_line.status == 400);
}
