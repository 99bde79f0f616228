/* unshim.h — see unshim.c. Call first thing in main(); returns only when the
 * process runs without the shim reporting (or could not re-exec). */
#ifndef HT_UNSHIM_H
#define HT_UNSHIM_H
void ht_unshim_self(char **argv);
#endif
