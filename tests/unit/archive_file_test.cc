// The archive file's row lines: one JSON object per line, the store's row embedded as it came.
#include "engine/archive_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace batch_cleanup::engine {
namespace {

class ArchiveFileLinesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/bc_archive_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/archive.ndjson";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  std::vector<std::string> write_batch(const std::vector<store::PendingRow>& rows, bool committed) {
    {
      ArchiveFile file(path_);
      file.begin_cycle("c1");
      file.before_commit(rows);
      file.after_commit(committed);
    }
    std::vector<std::string> lines;
    std::ifstream in(path_);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(ArchiveFileLinesTest, TheRowIsEmbeddedVerbatimWithItsDigitsAndColumnOrder) {
  store::PendingRow row("p1", "a@example.com",
                        R"({"pending_user_id":"p1","score":1.50,"email":"a@example.com"})");
  row.reason = "email exists in users";
  const auto lines = write_batch({row}, true);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0],
            R"({"archived_at":)" + nlohmann::json::parse(lines[0])["archived_at"].dump() +
                R"(,"batch":"c1-1","cycle_id":"c1","key":"p1","reason":"email exists in users",)"
                R"("row":{"pending_user_id":"p1","score":1.50,"email":"a@example.com"},)"
                R"("type":"row"})");
  EXPECT_EQ(nlohmann::json::parse(lines[1]),
            nlohmann::json({{"type", "commit"}, {"batch", "c1-1"}}));
}

TEST_F(ArchiveFileLinesTest, RowsThatAreNotOneLineOfJsonAreKeptAsStrings) {
  std::vector<store::PendingRow> rows{
      {"p1", "", "not json"}, {"p2", "", "{\"a\":\n1}"}, {"p3\xff", "", R"({"a":"\u00e9"})"}};
  const auto lines = write_batch(rows, false);
  ASSERT_EQ(lines.size(), 4U);
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["row"], "not json");
  const auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["row"], "{\"a\":\n1}");
  // Invalid UTF-8 in a key is replaced; the line still parses, the row is an object.
  const auto third = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(third["key"], "p3\xef\xbf\xbd");
  EXPECT_EQ(third["row"]["a"], "\xc3\xa9");
  EXPECT_EQ(nlohmann::json::parse(lines[3])["type"], "rollback");
}

}  // namespace
}  // namespace batch_cleanup::engine
