// SHOW GRANTS lines as MariaDB writes them, read into what they grant.
#include "store/mysql/mysql_grants.h"

#include <gtest/gtest.h>

namespace batch_cleanup::store::mysql {
namespace {

TEST(MysqlGrants, TableDatabaseAndGlobalGrants) {
  MysqlGrants grants;
  grants.add("GRANT USAGE ON *.* TO `lim`@`127.0.0.1` IDENTIFIED BY PASSWORD '*B69027D44F'");
  grants.add("GRANT SELECT, DELETE ON `app`.`pending` TO `lim`@`127.0.0.1`");
  grants.add("GRANT SELECT (email, user_id) ON `app`.`users` TO `lim`@`127.0.0.1`");
  grants.add("GRANT SELECT, INSERT, UPDATE, CREATE ON `ops`.* TO `bc_role`");
  EXPECT_TRUE(grants.has("SELECT", "app", "pending"));
  EXPECT_TRUE(grants.has("DELETE", "app", "pending"));
  EXPECT_FALSE(grants.has("INSERT", "app", "pending"));
  EXPECT_FALSE(grants.has("DELETE", "app", "users"));
  EXPECT_TRUE(grants.has("SELECT", "app", "users"));  // column-level counts
  EXPECT_TRUE(grants.has("CREATE", "ops", "batch_cleanup_leases"));
  EXPECT_FALSE(grants.has("CREATE", "app", "batch_cleanup_leases"));
}

TEST(MysqlGrants, AllPrivilegesPatternsAndQuotedNames) {
  MysqlGrants grants;
  grants.add("GRANT ALL PRIVILEGES ON `app\\_%`.* TO `u`@`%` WITH GRANT OPTION");
  grants.add("GRANT DELETE ON `we``ird`.`t` TO `u`@`%`");
  EXPECT_TRUE(grants.has("DELETE", "app_prod", "pending"));
  EXPECT_FALSE(grants.has("DELETE", "appXprod", "pending"));  // \_ is a literal _
  EXPECT_TRUE(grants.has("DELETE", "we`ird", "t"));
  MysqlGrants global;
  global.add("GRANT ALL PRIVILEGES ON *.* TO `bc_test`@`127.0.0.1` WITH GRANT OPTION");
  EXPECT_TRUE(global.has("CREATE", "any", "table"));
}

TEST(MysqlGrants, RolesProxiesAndRoutinesGrantNoTable) {
  MysqlGrants grants;
  grants.add("GRANT `bc_role` TO `lim`@`127.0.0.1`");
  grants.add("GRANT PROXY ON ''@'%' TO 'lim'@'%'");
  grants.add("GRANT EXECUTE ON PROCEDURE `app`.`pending` TO `lim`@`%`");
  grants.add("SET DEFAULT ROLE `bc_role` FOR `lim`@`127.0.0.1`");
  EXPECT_FALSE(grants.has("EXECUTE", "app", "pending"));
  EXPECT_FALSE(grants.has("SELECT", "app", "pending"));
}

}  // namespace
}  // namespace batch_cleanup::store::mysql
