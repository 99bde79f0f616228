/*
 * sockdiag.h — kernel socket lookups over NETLINK_SOCK_DIAG (raw netlink), and
 * "is this one of my addresses" over NETLINK_ROUTE. Everything is per network
 * namespace: the namespace of the calling thread when the socket was opened.
 *
 * Addresses are raw bytes in network order (4 for AF_INET, 16 for AF_INET6),
 * ports in host order. An AF_INET6 socket whose addresses are both IPv4-mapped
 * (a dual-stack socket speaking IPv4) is reported as AF_INET with the 4-byte
 * addresses (laddr/raddr bytes 4..15 zero): that is what the wire and the peer
 * host see. Lookups accept either form.
 *
 * Never blocks forever: replies are awaited with SO_RCVTIMEO 1 s (-ETIMEDOUT).
 * An nl socket must not be used by two threads at once.
 */
#ifndef HOPTRACE_COLLECTOR_SOCKDIAG_H
#define HOPTRACE_COLLECTOR_SOCKDIAG_H

#include <stdint.h>
#include <sys/types.h>

struct sd_inet {
	int family;                  /* AF_INET or AF_INET6 (see above) */
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;       /* host order */
	uint8_t state;               /* TCP_ESTABLISHED ... (netinet/tcp.h) */
	uint32_t uid;
	uint64_t ino;                /* socket inode; 0 for TIME_WAIT / SYN_RECV */
};

/* netlink socket fd (CLOEXEC, 1 s receive timeout) or -errno */
int sd_open(void);

/* Exact TCP lookup, local side first (as the connecting socket sees it).
 * 0 and *out, -ENOENT, or -errno. */
/* A process's TCP socket asked through a copy of its descriptor
 * (pidfd_getfd: the caller needs the ptrace right over pid, as root has): an
 * O(1) answer where a dump walks the whole established hash. 0 and *out
 * (connected: its 4-tuple and state), 1 when fd is no connected TCP socket
 * (unconnected, listening, another protocol or family), 2 when it is
 * connecting (SYN_SENT: nothing came by it yet, and no peer name), -1 when it
 * cannot be asked (no such fd, another inode than ino, no pidfd_getfd). The
 * copy is handed to dispose(ctx, fd) before returning (NULL: close()) — when
 * its owner closed meanwhile, the copy's close is the file's last, and a
 * lingering socket's last close blocks (the collector's closer thread). */
int sd_inet_of_fd(pid_t pid, int fd, uint64_t ino, struct sd_inet *out,
		  void (*dispose)(void *ctx, int fd), void *ctx);

int sd_inet_lookup(int nl, int family, const uint8_t *laddr, uint16_t lport,
		   const uint8_t *raddr, uint16_t rport, struct sd_inet *out);

/* Dumps every TCP socket of this netns (AF_INET, AF_INET6, or both if
 * family == 0) in the states of states_mask (1 << TCP_ESTABLISHED | ...;
 * 0 = all). cb returns non-zero to stop (the rest of the dump is drained).
 * Returns 0, -errno, or the callback's non-zero value. */
int sd_inet_dump(int nl, int family, uint32_t states_mask,
		 int (*cb)(void *ctx, const struct sd_inet *s), void *ctx);

/* Peer inode of a unix socket (UNIX_DIAG_PEER, exact lookup by inode).
 * 0; -ENOTCONN: a unix socket without a peer (never connected, a listener,
 * or its peer closed); -EAGAIN: connected, but the peer is a connection its
 * listener has not accepted yet (the kernel says inode 0 until accept()):
 * ask again later; -ENOENT: no such unix socket (gone, or another kind of
 * socket); or -errno. */
int sd_unix_peer(int nl, uint64_t ino, uint64_t *peer_ino);

/* Is unix socket ino a datagram socket nothing can come in through now: no
 * name (nobody can send to it), no peer (not connected: not one end of a
 * socketpair), nothing queued? A throw-away sender's socket (the shim's
 * doorbell) is one; bound, connected or with a datagram waiting it is not.
 * 1 or 0; -ENOENT: no such unix socket (gone, or another kind); or -errno. */
int sd_unix_dead_end(int nl, uint64_t ino);

/* Owner uid of a unix socket (UNIX_DIAG_UID, Linux 5.3+): 0; -ENOENT: no such
 * unix socket; -ENOTSUP: the kernel does not say; or -errno. */
int sd_unix_uid(int nl, uint64_t ino, uint32_t *uid);

/* Is addr one of this netns's own addresses (any interface, incl. loopback;
 * all of 127.0.0.0/8 and ::1; IPv4-mapped IPv6 is judged as IPv4)? 1 or 0.
 * The list is cached (thread-safe); a miss re-reads it at most once every 2 s,
 * sd_local_addrs_refresh() re-reads it now (0 or -errno). */
int sd_is_local_addr(int family, const uint8_t *addr);
int sd_local_addrs_refresh(void);

#endif
