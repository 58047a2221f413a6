// The store-independent pieces of the deletion policies: how the predicate and the reason are
// put together from a store's conditions, and how per-policy counts are tallied.
#include <gtest/gtest.h>

#include "store/cleanup_store.h"

namespace batch_cleanup::store {
namespace {

TEST(PolicySqlTest, OnlyTheEmailPolicyIsTheOriginalPredicate) {
  PolicySql sql;
  sql.email = "EXISTS (e)";
  EXPECT_EQ(deletion_predicate(sql), "EXISTS (e)");
  EXPECT_EQ(reason_expression(sql), "'email exists in users'");
}

TEST(PolicySqlTest, PoliciesAreOredAndProtectionsAnded) {
  PolicySql sql;
  sql.email = "E";
  sql.phone = "P";
  sql.expired = "X";
  sql.old_enough = "OLD";
  sql.not_exempt = "NOT EXEMPT";
  // Without the parentheses, "E OR P OR X AND OLD" would let a young email match through.
  EXPECT_EQ(deletion_predicate(sql), "(E OR P OR X) AND OLD AND NOT EXEMPT");
  EXPECT_EQ(reason_expression(sql),
            "CASE WHEN E THEN 'email exists in users' WHEN P THEN 'phone exists in users' ELSE "
            "'expired' END");
  sql.email.clear();
  sql.phone.clear();
  EXPECT_EQ(deletion_predicate(sql), "X AND OLD AND NOT EXEMPT");
  EXPECT_EQ(reason_expression(sql), "'expired'");
  sql.phone = "P";
  EXPECT_EQ(reason_expression(sql), "CASE WHEN P THEN 'phone exists in users' ELSE 'expired' END");
}

TEST(PolicySqlTest, NormalizedEmail) {
  EXPECT_EQ(normalized_email(EmailNormalization::kNone, "u.email"), "u.email");
  EXPECT_EQ(normalized_email(EmailNormalization::kLower, "u.email"), "lower(u.email)");
  EXPECT_EQ(normalized_email(EmailNormalization::kLowerTrim, "u.email"), "lower(trim(u.email))");
}

TEST(PolicySqlTest, SingleReasonOnlyWithOnePolicy) {
  CleanupConfig config;
  EXPECT_EQ(single_reason(config), kEmailReason);
  config.match_phone = true;
  EXPECT_EQ(single_reason(config), "");
  config.match_email = false;
  EXPECT_EQ(single_reason(config), kPhoneReason);
  config.match_phone = false;
  config.expire_after = std::chrono::hours(24);
  EXPECT_EQ(single_reason(config), kExpiredReason);
}

TEST(PolicySqlTest, TallyFromRowsFromASingleReasonOrAlreadyCounted) {
  BatchResult rows;
  rows.deleted = 3;
  rows.deleted_rows = {{"k1", "a"}, {"k2", "b"}, {"k3", "c"}};
  rows.deleted_rows[0].reason = kEmailReason;
  rows.deleted_rows[1].reason = kExpiredReason;
  rows.deleted_rows[2].reason = kExpiredReason;
  tally_policies(rows, "");
  EXPECT_EQ(rows.deleted_by_policy.email, 1);
  EXPECT_EQ(rows.deleted_by_policy.expired, 2);

  BatchResult counted_by_row_count;  // rows not returned: one policy gets them all
  counted_by_row_count.deleted = 5;
  tally_policies(counted_by_row_count, kPhoneReason);
  EXPECT_EQ(counted_by_row_count.deleted_by_policy.phone, 5);

  BatchResult counted_by_store;  // the statement already counted per reason
  counted_by_store.deleted = 4;
  counted_by_store.deleted_by_policy = {3, 0, 1};
  tally_policies(counted_by_store, kEmailReason);
  EXPECT_EQ(counted_by_store.deleted_by_policy.email, 3);
  EXPECT_EQ(counted_by_store.deleted_by_policy.expired, 1);
}

TEST(PolicySqlTest, ExclusionDomainDropsSpacesAndALeadingAt) {
  EXPECT_EQ(exclusion_domain(" @Partner.org "), "Partner.org");
  EXPECT_EQ(exclusion_domain("partner.org"), "partner.org");
  EXPECT_EQ(exclusion_domain(" @ "), "");
  EXPECT_EQ(exclusion_domain("\t@partner.org\r\n"), "partner.org");
  EXPECT_EQ(exclusion_email("\tCEO@Example.com  "), "CEO@Example.com");
}

}  // namespace
}  // namespace batch_cleanup::store
