#!/bin/sh
# next-steps.sh [PREFIX] — what to do once hoptrace is there. Printed by
# `make run` (packaging/run.sh, PREFIX = the build directory's path and "/")
# and by the Debian package's postinst (installed as
# /usr/libexec/hoptrace/next-steps, PREFIX empty: the programs are on PATH),
# so both say the same.
b=${1:-}
cat <<EOM
next steps:
  check the configuration:   ${b}hoptraced -n && ${b}hopguard -n
  opt this shell in:         eval "\$(${b}hoptrace env)"
  see a chain:               ${b}hoptrace chain \$\$
  every new process:         ${b}hoptrace enable   (checks the library first; undo: ${b}hoptrace disable)
  which processes carry it:  ${b}hoptrace status
  watch decisions:           ${b}hoptrace log -f
  metrics (Prometheus):      ${b}hoptrace metrics
  manuals:                   hoptrace(8) hoptraced(8) hopguard(8) hoptrace.conf(5) hoptrace-acl(5)
EOM
