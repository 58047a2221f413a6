#include "store/mysql/mysql_errors.h"

namespace batch_cleanup::store::mysql {

ErrorCause cause_of(unsigned code) {
  switch (code) {
    case 1205:  // ER_LOCK_WAIT_TIMEOUT (innodb_lock_wait_timeout, lock_wait_timeout)
      return ErrorCause::kLockTimeout;
    case 1213:  // ER_LOCK_DEADLOCK (also a Galera certification conflict)
    case 1180:  // ER_ERROR_DURING_COMMIT (Galera: wsrep_max_ws_rows, a conflict at commit)
      return ErrorCause::kConflict;
    case 1969:  // MariaDB ER_STATEMENT_TIMEOUT (max_statement_time)
    case 3024:  // MySQL ER_QUERY_TIMEOUT (max_execution_time)
    case 1317:  // ER_QUERY_INTERRUPTED (KILL QUERY: a cancel)
      return ErrorCause::kStatementTimeout;
    case 2002:  // CR_CONNECTION_ERROR (socket)
    case 2003:  // CR_CONN_HOST_ERROR
    case 2005:  // CR_UNKNOWN_HOST (unreachable, as libpq's unknown host is)
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST
    case 2055:  // CR_SERVER_LOST_EXTENDED
    case 1053:  // ER_SERVER_SHUTDOWN
    case 1927:  // MariaDB ER_CONNECTION_KILLED
      return ErrorCause::kConnectionLost;
    case 1040:  // ER_CON_COUNT_ERROR (too many connections)
    case 1203:  // ER_TOO_MANY_USER_CONNECTIONS
    case 1226:  // ER_USER_LIMIT_REACHED
      return ErrorCause::kServerBusy;
    case 1045:  // ER_ACCESS_DENIED_ERROR (credentials)
    case 1129:  // ER_HOST_IS_BLOCKED
    case 1130:  // ER_HOST_NOT_PRIVILEGED
    case 1251:  // ER_NOT_SUPPORTED_AUTH_MODE
      return ErrorCause::kAuthentication;
    case 1044:  // ER_DBACCESS_DENIED_ERROR
    case 1142:  // ER_TABLEACCESS_DENIED_ERROR
    case 1143:  // ER_COLUMNACCESS_DENIED_ERROR
    case 1227:  // ER_SPECIFIC_ACCESS_DENIED_ERROR
    case 1370:  // ER_PROCACCESS_DENIED_ERROR
      return ErrorCause::kPrivilege;
    case 1146:  // ER_NO_SUCH_TABLE
    case 1054:  // ER_BAD_FIELD_ERROR
    case 1049:  // ER_BAD_DB_ERROR
      return ErrorCause::kUndefinedObject;
    case 1451:  // ER_ROW_IS_REFERENCED_2 (a foreign key refuses the DELETE)
    case 1452:  // ER_NO_REFERENCED_ROW_2
    case 1644:  // ER_SIGNAL_EXCEPTION (a trigger's SIGNAL)
    case 1062:  // ER_DUP_ENTRY
    case 1048:  // ER_BAD_NULL_ERROR
    case 4025:  // MariaDB ER_CONSTRAINT_FAILED (CHECK)
    case 3819:  // MySQL ER_CHECK_CONSTRAINT_VIOLATED
      return ErrorCause::kRowRefused;
    default:
      break;
  }
  return ErrorCause::kOther;
}

ErrorCause cause_of(unsigned code, std::string_view message) {
  // ER_GET_ERRMSG "Got error 193 '<the key>' from InnoDB": HA_ERR_FK_DEPTH_EXCEEDED, the cascade
  // of this row would go deeper than InnoDB cascades (the statement is rolled back).
  if (code == 1296 && message.find("Got error 193 ") != std::string_view::npos) {
    return ErrorCause::kRowRefused;
  }
  return cause_of(code);
}

}  // namespace batch_cleanup::store::mysql
