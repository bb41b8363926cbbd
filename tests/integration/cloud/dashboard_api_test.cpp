// What the operators' dashboard relies on from the real daemon: names limited in characters (a
// Japanese name gets as many as an English one), the access log newest first with its paging,
// and the CSV export with the byte-order mark Japanese Excel needs.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "aterm/test/sql.h"
#include "cloud_stack.h"

namespace {

using namespace aterm::test;

// `n` times 仕 (3 bytes of UTF-8 each).
std::string japanese(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += "\xE4\xBB\x95";
  return s;
}

std::vector<std::int64_t> seqs(const http_answer& a) {
  std::vector<std::int64_t> out;
  const cJSON* records = cJSON_GetObjectItemCaseSensitive(a.json.get(), "records");
  const cJSON* r = nullptr;
  cJSON_ArrayForEach(r, records) {
    out.push_back(static_cast<std::int64_t>(cJSON_GetObjectItem(r, "seq")->valuedouble));
  }
  return out;
}

}  // namespace

TEST_CASE("destination_name_of_128_japanese_characters_accepted_129_refused") {
  cloud_stack s;
  auto acme = s.client("acme");
  const auto longest = japanese(128);
  auto r = acme.request("POST", "destinations", "{\"name\":\"" + longest + "\"}");
  CHECK(r.status == 201);
  CHECK(r.str("name") == longest);
  r = acme.request("POST", "destinations", "{\"name\":\"" + japanese(129) + "\"}");
  CHECK(r.status == 400);
  CHECK(query_int(s.db_path(), "SELECT count(*) FROM destinations WHERE length(name) > 128") == 0);
  // A rename is held to the same limit.
  const auto id = acme.request("POST", "destinations", R"({"name":"short"})").num("id");
  REQUIRE(id > 0);
  CHECK(acme.request("PATCH", "destinations/" + std::to_string(id),
                     "{\"name\":\"" + japanese(129) + "\"}")
            .status == 400);
  CHECK(acme.request("PATCH", "destinations/" + std::to_string(id),
                     "{\"name\":\"" + japanese(100) + "\"}")
            .status == 200);
}

TEST_CASE("access_log_newest_first_pages_backwards_and_csv_has_a_byte_order_mark") {
  cloud_stack s;
  auto acme = s.client("acme");
  for (int i = 0; i < 5; ++i) {
    REQUIRE(
        acme.request("POST", "destinations", "{\"name\":\"d" + std::to_string(i) + "\"}").status ==
        201);
  }
  auto page = acme.request("GET", "audit?order=newest&limit=3");
  REQUIRE(page.status == 200);
  auto first = seqs(page);
  REQUIRE(first.size() == 3);
  CHECK(first[0] > first[1]);
  CHECK(first[1] > first[2]);
  const auto before = page.num("next_before_seq");
  CHECK(before == first[2]);
  auto next =
      acme.request("GET", "audit?order=newest&limit=3&before_seq=" + std::to_string(before));
  REQUIRE(next.status == 200);
  auto second = seqs(next);
  REQUIRE(!second.empty());
  CHECK(second[0] < first[2]);
  // The oldest-first order stays the default.
  auto oldest = seqs(acme.request("GET", "audit?limit=3"));
  REQUIRE(oldest.size() == 3);
  CHECK(oldest[0] < oldest[1]);
  CHECK(acme.request("GET", "audit?order=sideways").status == 400);
  CHECK(acme.request("GET", "audit?before_seq=-1").status == 400);

  auto csv = acme.request("GET", "audit?format=csv&order=newest&action=destination.create");
  REQUIRE(csv.status == 200);
  CHECK(csv.body.rfind("\xEF\xBB\xBF", 0) == 0);
  // After the mark the header, then the newest record first.
  const auto d4 = csv.body.find("name=d4");
  const auto d0 = csv.body.find("name=d0");
  CHECK(d4 != std::string::npos);
  CHECK(d0 != std::string::npos);
  CHECK(d4 < d0);
}
