/*
 * chainfmt.h — human renderings of collector answers for the `hoptrace` CLI
 * (docs/query-protocol.md). Pure: JSON text in, text out. Each returns 0, or
 * -1 when the answer is malformed (nothing is printed then; the reason is in
 * chainfmt_error()). Strings from the answer are printed with control
 * characters replaced by '?', so a hostile argv0 cannot drive the terminal.
 */
#ifndef HOPTRACE_CHAINFMT_H
#define HOPTRACE_CHAINFMT_H

#include <stdio.h>

/* who/chain answer: the `tree` as an indented tree, then one summary line per
 * entry of `chains`. */
int chainfmt_tree(const char *json, FILE *out);
/* graph answer ({"procs":[..],"chans":[..],"holds":[..]}) as Graphviz dot. */
int chainfmt_dot(const char *json, FILE *out);
/* ps answer as a table. */
int chainfmt_ps(const char *json, FILE *out);
/* status answer: one "key: value" line per counter (nested keys joined by '.'). */
int chainfmt_status(const char *json, FILE *out);
/* Why the last call returned -1 (static text). */
const char *chainfmt_error(void);

#endif
