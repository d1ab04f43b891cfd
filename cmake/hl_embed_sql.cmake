# hl_embed_sql(<target> <symbol> <dir>): compile <dir>/*.sql into <target> as
# the migration list <symbol> (see embed_sql.cmake).
function(hl_embed_sql target symbol dir)
  file(GLOB sqls CONFIGURE_DEPENDS ${dir}/*.sql)
  list(SORT sqls)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.c)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNAME=${symbol} "-DFILES=${sqls}"
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_sql.cmake
    DEPENDS ${sqls} ${PROJECT_SOURCE_DIR}/cmake/embed_sql.cmake
    COMMENT "embed migrations ${symbol}" VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
