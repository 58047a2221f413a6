#include "log/mask.h"

#include <gtest/gtest.h>

namespace batch_cleanup::logging {
namespace {

// Overlapping secrets are all found in the text as given: replacing the longer one first used
// to cut the shorter one apart, which then stayed (found by fuzz/secret_redaction_fuzz.cc).
TEST(MaskTest, ScrubAllFindsOverlappingSecretsInTheOriginalText) {
  EXPECT_EQ(scrub_all("user:S3cretPw&x=y rest", {"Pw&x=y rest", "user:S3cretPw"}), "***");
  EXPECT_EQ(scrub_all("a S3cret b S3cret c", {"S3cret", "b S3"}), "a *** *** c");
  EXPECT_EQ(scrub_all("nothing here", {"S3cret", ""}), "nothing here");
  EXPECT_EQ(scrub_all("", {"S3cret"}), "");
}

TEST(MaskTest, MasksTheLocalPart) {
  EXPECT_EQ(mask_email("john@example.com"), "j***@example.com");
  EXPECT_EQ(mask_email("j@example.com"), "j***@example.com");
  EXPECT_EQ(mask_email("O'Brien+tag@x.org"), "O***@x.org");
}

TEST(MaskTest, OddInput) {
  EXPECT_EQ(mask_email(""), "");
  EXPECT_EQ(mask_email("no-at-sign"), "***");
  EXPECT_EQ(mask_email("@example.com"), "***");
  EXPECT_EQ(mask_email("a@b@example.com"), "a***@example.com");
}

TEST(MaskTest, KeepsWholeUtf8Characters) {
  EXPECT_EQ(mask_email("\xC3\xA9lodie@example.fr"), "\xC3\xA9***@example.fr");  // élodie
  EXPECT_EQ(mask_email("\xE7\x8E\x8B@example.cn"), "\xE7\x8E\x8B***@example.cn");
}

TEST(MaskTest, MaybeMask) {
  EXPECT_EQ(maybe_mask_email("john@example.com", true), "john@example.com");
  EXPECT_EQ(maybe_mask_email("john@example.com", false), "j***@example.com");
}

TEST(MaskTest, ScrubRemovesEverySecret) {
  EXPECT_EQ(scrub("pw s3cr3t and s3cr3t", "s3cr3t"), "pw *** and ***");
  EXPECT_EQ(scrub("nothing", ""), "nothing");
}

}  // namespace
}  // namespace batch_cleanup::logging
