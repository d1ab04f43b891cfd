# Embed SQL migration files into a C source:
#   cmake -DOUT=file.c -DNAME=symbol -DFILES="a.sql;b.sql" -P embed_sql.cmake
# defines `const hl_migration NAME[]` (name = file name without .sql) and
# `const size_t NAME_count`.
set(body "")
set(count 0)
foreach(f ${FILES})
  get_filename_component(base ${f} NAME_WE)
  file(READ ${f} sql)
  string(REPLACE "\\" "\\\\" sql "${sql}")
  string(REPLACE "\"" "\\\"" sql "${sql}")
  string(REPLACE "\n" "\\n\"\n\"" sql "${sql}")
  string(APPEND body "  {\"${base}\",\n\"${sql}\"},\n")
  math(EXPR count "${count} + 1")
endforeach()
file(WRITE ${OUT} "/* generated from SQL migrations; do not edit */\n#include \"hl/migrate.h\"\nconst hl_migration ${NAME}[] = {\n${body}};\nconst size_t ${NAME}_count = ${count};\n")
