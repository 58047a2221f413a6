# The Debian package: `scripts/package.sh` (CPack's DEB generator) writes
# dist/batch-cleanup_<version>_<arch>.deb. Its files are the install component `deb`, laid out
# from / as Debian places them; `cmake --install` without --component leaves them out (it
# installs the library, headers, binary, man pages and completions under its prefix).
# Debian's hardening flags (dpkg-buildflags: fortify, full RELRO) for everything the package
# ships; lintian checks the binary for them.
# (Not in the sanitizer builds: the sanitizers replace the same functions.)
if(BATCH_CLEANUP_SANITIZE STREQUAL "")
  foreach(_target batch_cleanup batch_cleanup_cli)
    target_compile_definitions(${_target} PRIVATE $<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
  endforeach()
endif()
target_link_options(batch_cleanup_cli PRIVATE LINKER:-z,relro LINKER:-z,now)

set(BATCH_CLEANUP_DEB_DIR ${CMAKE_CURRENT_BINARY_DIR}/deb)
set(_deb COMPONENT deb EXCLUDE_FROM_ALL)
set(_docdir usr/share/doc/batch-cleanup)

# The Debian changelog (deploy/debian/changelog, checked against the version by
# cmake/Version.cmake), compressed as Debian policy wants it.
add_custom_command(OUTPUT ${BATCH_CLEANUP_DEB_DIR}/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${BATCH_CLEANUP_DEB_DIR}
  COMMAND ${CMAKE_COMMAND} -E copy ${PROJECT_SOURCE_DIR}/deploy/debian/changelog
          ${BATCH_CLEANUP_DEB_DIR}/changelog
  COMMAND ${BATCH_CLEANUP_GZIP} -9 -n -f ${BATCH_CLEANUP_DEB_DIR}/changelog
  DEPENDS ${PROJECT_SOURCE_DIR}/deploy/debian/changelog
  VERBATIM)
add_custom_target(batch_cleanup_deb_files ALL DEPENDS ${BATCH_CLEANUP_DEB_DIR}/changelog.gz)

set(_conffiles /etc/batch_cleanup/batch_cleanup.toml /etc/batch_cleanup/env
               /etc/batch_cleanup/pgpass)
list(JOIN _conffiles "\n" _conffiles_text)
file(WRITE ${BATCH_CLEANUP_DEB_DIR}/conffiles "${_conffiles_text}\n")

install(TARGETS batch_cleanup_cli RUNTIME DESTINATION usr/bin ${_deb})
# Stripped as dh_strip does (symbols, and the .comment and .note sections).
install(CODE "execute_process(COMMAND ${CMAKE_STRIP} --remove-section=.comment --remove-section=.note
                \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/usr/bin/batch_cleanup\"
                COMMAND_ERROR_IS_FATAL ANY)" ${_deb})
install(FILES ${BATCH_CLEANUP_DOCS_DIR}/batch_cleanup.1.gz DESTINATION usr/share/man/man1 ${_deb})
install(FILES ${BATCH_CLEANUP_DOCS_DIR}/batch_cleanup.toml.5.gz DESTINATION usr/share/man/man5
        ${_deb})
install(FILES ${BATCH_CLEANUP_DOCS_DIR}/completion.bash
        DESTINATION usr/${BATCH_CLEANUP_BASH_COMPLETION_DIR} RENAME batch_cleanup ${_deb})
install(FILES ${BATCH_CLEANUP_DOCS_DIR}/completion.zsh
        DESTINATION usr/${BATCH_CLEANUP_ZSH_COMPLETION_DIR} RENAME _batch_cleanup ${_deb})
# Debian 12's systemd unit directory (pkg-config --variable=systemdsystemunitdir systemd).
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/batch_cleanup.service
              ${PROJECT_SOURCE_DIR}/deploy/systemd/batch_cleanup-once.service
              ${PROJECT_SOURCE_DIR}/deploy/systemd/batch_cleanup-once.timer
        DESTINATION lib/systemd/system ${_deb})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/batch_cleanup.toml DESTINATION etc/batch_cleanup ${_deb})
# Templates for secrets: root only.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/env ${PROJECT_SOURCE_DIR}/deploy/debian/pgpass
        DESTINATION etc/batch_cleanup PERMISSIONS OWNER_READ OWNER_WRITE ${_deb})
# The scrape configuration, the alert rules and their promtool tests (every file of
# deploy/prometheus/).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/prometheus/
        DESTINATION usr/share/batch_cleanup/prometheus ${_deb})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/copyright ${BATCH_CLEANUP_DEB_DIR}/changelog.gz
              ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${_docdir} ${_deb})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/lintian-overrides
        DESTINATION usr/share/lintian/overrides RENAME batch-cleanup ${_deb})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME batch-cleanup)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${BATCH_CLEANUP_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "delete pending sign-ups whose email already exists in users")
set(CPACK_PACKAGE_DESCRIPTION
    "batch_cleanup removes rows of a table of pending (unverified) sign-ups whose\n"
    "email (or phone) already exists in the main users table, or that expired, on\n"
    "PostgreSQL or SQLite. It deletes in short batched transactions that re-check\n"
    "every row, skips rows other sessions hold locked, and reports what it did\n"
    "(logs, JSON reports, Prometheus metrics, a history table).\n"
    "\n"
    "This package holds the command line and daemon with its man pages, bash and\n"
    "zsh completions, systemd units (a daemon, and a timer for run-once mode), a\n"
    "sample configuration and the Prometheus alert rules.")
string(JOIN "" CPACK_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_PACKAGING_INSTALL_PREFIX /)
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_CURRENT_BINARY_DIR};batch_cleanup;deb;/")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: from dpkg-shlibdeps, i.e. the sonames the binary links.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${BATCH_CLEANUP_DEB_DIR}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/cpack)
include(CPack)
