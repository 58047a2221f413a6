#include "log/mask.h"

#include <gtest/gtest.h>

namespace batch_cleanup::logging {
namespace {

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
