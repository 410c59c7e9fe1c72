// ethtool's ETHTOOL_GPERMADDR: a NIC's factory MAC, which sysfs does not show once
// the address has been changed (bond slaves take the bond's). An ioctl with a
// variable-length struct, simpler in C than through Swift's importer.
#pragma once

/// Writes the permanent MAC of `ifname` into `mac`; returns 0, or a negative errno.
int hsriov_permanent_mac(const char *ifname, unsigned char mac[6]);
