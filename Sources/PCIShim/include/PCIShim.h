// What Swift cannot do with libpci directly: call its variadic functions, and
// survive its error callback, which must not return (the default one exits).
#pragma once
#include <pci/pci.h>

/// Allocates an access handle for the Linux sysfs method whose warnings are
/// silenced and whose fatal errors are caught by the guarded calls below.
struct pci_access *hsriov_pci_alloc(void);

/// pci_init under a guard; returns 0, or -1 with the library's message in errbuf.
int hsriov_pci_init(struct pci_access *acc, char *errbuf, int errlen);

/// Reads identity, class and the capability lists of one function, guarded.
/// Returns 0, or -1 with the library's message in errbuf.
int hsriov_pci_fill(struct pci_dev *dev, char *errbuf, int errlen);

/// pci_lookup_name for a vendor, or a vendor+device pair; NULL when pci.ids lacks it.
char *hsriov_pci_vendor_name(struct pci_access *acc, char *buf, int size, int vendor);
char *hsriov_pci_device_name(struct pci_access *acc, char *buf, int size, int vendor, int device);
