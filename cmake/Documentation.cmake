# The man pages batch_cleanup(1) and batch_cleanup.toml(5) and the bash and zsh completions,
# written at build time by the binary itself (its hidden `generate-docs` subcommand walks the
# declared options: src/cli/docs_command.h), so they cannot drift from the command line.

find_program(BATCH_CLEANUP_GZIP gzip REQUIRED)
set(BATCH_CLEANUP_DOCS_DIR ${CMAKE_CURRENT_BINARY_DIR}/docs)
# An empty environment: BATCH_CLEANUP_* variables of the build must not reach the parser.
set(_generate env -i $<TARGET_FILE:batch_cleanup_cli> generate-docs)

set(_outputs)
foreach(_page batch_cleanup.1 batch_cleanup.toml.5)
  set(_template ${PROJECT_SOURCE_DIR}/docs/man/${_page}.in)
  set(_out ${BATCH_CLEANUP_DOCS_DIR}/${_page})
  add_custom_command(OUTPUT ${_out} ${_out}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${BATCH_CLEANUP_DOCS_DIR}
    COMMAND ${_generate} man --template ${_template} --date ${BATCH_CLEANUP_RELEASE_DATE}
            --example ${PROJECT_SOURCE_DIR}/deploy/batch_cleanup.toml --output ${_out}
    COMMAND ${BATCH_CLEANUP_GZIP} -9 -n -k -f ${_out}
    DEPENDS batch_cleanup_cli ${_template} ${PROJECT_SOURCE_DIR}/deploy/batch_cleanup.toml
    COMMENT "Generating man page ${_page}"
    VERBATIM)
  list(APPEND _outputs ${_out} ${_out}.gz)
endforeach()
foreach(_shell bash zsh)
  set(_out ${BATCH_CLEANUP_DOCS_DIR}/completion.${_shell})
  add_custom_command(OUTPUT ${_out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${BATCH_CLEANUP_DOCS_DIR}
    COMMAND ${_generate} ${_shell} --output ${_out}
    DEPENDS batch_cleanup_cli
    COMMENT "Generating the ${_shell} completion"
    VERBATIM)
  list(APPEND _outputs ${_out})
endforeach()
add_custom_target(batch_cleanup_docs ALL DEPENDS ${_outputs})

# Installed by `cmake --install` and by the Debian package (cmake/Packaging.cmake).
set(BATCH_CLEANUP_BASH_COMPLETION_DIR share/bash-completion/completions)
set(BATCH_CLEANUP_ZSH_COMPLETION_DIR share/zsh/vendor-completions)
install(FILES ${BATCH_CLEANUP_DOCS_DIR}/batch_cleanup.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${BATCH_CLEANUP_DOCS_DIR}/batch_cleanup.toml.5.gz
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${BATCH_CLEANUP_DOCS_DIR}/completion.bash
        DESTINATION ${BATCH_CLEANUP_BASH_COMPLETION_DIR} RENAME batch_cleanup)
install(FILES ${BATCH_CLEANUP_DOCS_DIR}/completion.zsh
        DESTINATION ${BATCH_CLEANUP_ZSH_COMPLETION_DIR} RENAME _batch_cleanup)
