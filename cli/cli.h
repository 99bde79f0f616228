/*
 * cli.h — the `hoptrace` CLI's subcommands (cli/cmd_*.c). Each takes argv
 * after the subcommand name (argv[0] is the subcommand) and returns the
 * process exit status.
 */
#ifndef HOPTRACE_CLI_H
#define HOPTRACE_CLI_H

int cli_log(int argc, char **argv);     /* hoptrace log [-f] [FILE]  */
void cli_log_default(const char *path); /* FILE when none is given (the config's audit_log) */
int cli_policy(int argc, char **argv);  /* hoptrace policy check FILE */

#endif
