/*
 * Source-address binding for many client sockets: lets the kernel pick the
 * source port at connect time from the whole 4-tuple, so one bound source
 * address is not limited to one ephemeral port range per process
 * (IP_BIND_ADDRESS_NO_PORT, Linux 4.2). Shared by the client library and
 * the bench's light connections.
 */
#ifndef PZ_CLIENT_BIND_H
#define PZ_CLIENT_BIND_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

/* Call after uv_tcp_init and before uv_tcp_bind; best effort. */
static inline void pz_tcp_bind_no_port(uv_tcp_t *tcp) {
#ifdef IP_BIND_ADDRESS_NO_PORT
  uv_os_fd_t fd;
  int one = 1;
  if (uv_fileno((uv_handle_t *)tcp, &fd) == 0)
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                     sizeof(one));
#else
  (void)tcp;
#endif
}

#endif
