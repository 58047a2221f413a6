# The version is project(VERSION) in CMakeLists.txt and nothing else: this configures
# <batch_cleanup/version.h> from it, for the library, --version and the packages.
configure_file(${CMAKE_CURRENT_LIST_DIR}/version.h.in
               ${CMAKE_CURRENT_BINARY_DIR}/include/batch_cleanup/version.h @ONLY)
target_include_directories(batch_cleanup
  PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_BINARY_DIR}/include>)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/include/batch_cleanup/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/batch_cleanup)

# The Debian changelog (deploy/debian/changelog) records each release; its newest entry must be
# this version, so a release cannot be packaged without its entry. The entry also gives the
# release date (the man pages' footer) and the maintainer (the package's).
file(STRINGS ${PROJECT_SOURCE_DIR}/deploy/debian/changelog _changelog_top LIMIT_COUNT 1)
if(NOT _changelog_top MATCHES "^batch-cleanup \\(([^)]+)\\) ")
  message(FATAL_ERROR "deploy/debian/changelog: the first line is not 'batch-cleanup (VERSION) ...'")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "deploy/debian/changelog: the newest entry is ${CMAKE_MATCH_1}, the project "
                      "is ${PROJECT_VERSION}: add an entry for ${PROJECT_VERSION} (dch -v)")
endif()
file(STRINGS ${PROJECT_SOURCE_DIR}/deploy/debian/changelog _changelog_trailer
     REGEX "^ -- " LIMIT_COUNT 1)
set(_months Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)
if(NOT _changelog_trailer MATCHES
   "^ -- (.+ <[^>]+>)  [A-Z][a-z][a-z], ([0-9][0-9]?) ([A-Z][a-z][a-z]) ([0-9][0-9][0-9][0-9]) ")
  message(FATAL_ERROR "deploy/debian/changelog: the first ' -- NAME <EMAIL>  DATE' line is malformed")
endif()
set(BATCH_CLEANUP_MAINTAINER "${CMAKE_MATCH_1}")
set(_day "${CMAKE_MATCH_2}")
set(_year "${CMAKE_MATCH_4}")
list(FIND _months "${CMAKE_MATCH_3}" _month)
math(EXPR _month "${_month} + 1")
string(REGEX REPLACE "^([0-9])$" "0\\1" _month "${_month}")
string(REGEX REPLACE "^([0-9])$" "0\\1" _day "${_day}")
set(BATCH_CLEANUP_RELEASE_DATE "${_year}-${_month}-${_day}")
