/*
 * ldpreload.c — implements ldpreload.h.
 */
#include <string.h>

#include "cli.h"
#include "ldpreload.h"

int ldp_is_shim(const char *tok, size_t l, const char *lib)
{
	size_t nl = strlen(CLI_SHIM_NAME);

	if (l == strlen(lib) && strncmp(tok, lib, l) == 0)
		return 1;
	/* any copy of the shim, wherever installed (a build tree, another prefix) */
	return l > nl && tok[l - nl - 1] == '/' && strncmp(tok + l - nl, CLI_SHIM_NAME, nl) == 0;
}

int ldp_list_has(const char *list, const char *item)
{
	size_t il = strlen(item);

	for (const char *p = list; p && *p;) {
		size_t l;
		p += strspn(p, " \t:\n");
		l = strcspn(p, " \t:\n");
		if (l == il && strncmp(p, item, l) == 0)
			return 1;
		p += l;
	}
	return 0;
}
