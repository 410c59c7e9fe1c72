#include "NetShim.h"
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

// The kernel's MAX_ADDR_LEN: the longest hardware address it returns.
#define ADDRESS_CAPACITY 32

int hsriov_permanent_mac(const char *ifname, unsigned char mac[6]) {
    // struct ethtool_perm_addr ends in a flexible array: give it room behind the header.
    _Alignas(struct ethtool_perm_addr) unsigned char buffer[sizeof(struct ethtool_perm_addr) + ADDRESS_CAPACITY];
    struct ethtool_perm_addr *request = (struct ethtool_perm_addr *)buffer;
    struct ifreq ifr;
    int fd, status, saved;

    if (strlen(ifname) >= IFNAMSIZ) return -EINVAL;
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    memset(buffer, 0, sizeof buffer);
    request->cmd = ETHTOOL_GPERMADDR;
    request->size = ADDRESS_CAPACITY;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_data = (void *)request;
    status = ioctl(fd, SIOCETHTOOL, &ifr);
    saved = errno;
    close(fd);
    if (status < 0) return -saved;
    if (request->size != 6) return -EOPNOTSUPP;
    memcpy(mac, request->data, 6);
    return 0;
}
