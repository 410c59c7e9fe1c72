#include "PCIShim.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

// libpci calls acc->error on fatal problems and expects it never to return.
// We jump back to the guarded call instead, keeping the message.
static _Thread_local jmp_buf *guard;
static _Thread_local char guard_message[256];

static void on_error(char *msg, ...) PCI_NONRET;
static void on_error(char *msg, ...) {
    va_list args;
    va_start(args, msg);
    vsnprintf(guard_message, sizeof guard_message, msg, args);
    va_end(args);
    if (guard) longjmp(*guard, 1);
    // Unguarded: libpci's own contract leaves nothing else to do.
    fprintf(stderr, "libpci: %s\n", guard_message);
    _Exit(70);
}

static void on_warning(char *msg, ...) { (void)msg; }

struct pci_access *hsriov_pci_alloc(void) {
    struct pci_access *acc = pci_alloc();
    if (!acc) return NULL;
    acc->method = PCI_ACCESS_SYS_BUS_PCI;
    acc->error = on_error;
    acc->warning = on_warning;
    acc->debug = on_warning;
    return acc;
}

#define GUARDED(call)                                                  \
    do {                                                               \
        jmp_buf here;                                                  \
        guard = &here;                                                 \
        if (setjmp(here)) {                                            \
            guard = NULL;                                              \
            snprintf(errbuf, (size_t)errlen, "%s", guard_message);    \
            return -1;                                                 \
        }                                                              \
        call;                                                          \
        guard = NULL;                                                  \
        return 0;                                                      \
    } while (0)

int hsriov_pci_init(struct pci_access *acc, char *errbuf, int errlen) {
    GUARDED(pci_init(acc));
}

int hsriov_pci_fill(struct pci_dev *dev, char *errbuf, int errlen) {
    GUARDED(pci_fill_info(dev, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CAPS | PCI_FILL_EXT_CAPS));
}

char *hsriov_pci_vendor_name(struct pci_access *acc, char *buf, int size, int vendor) {
    return pci_lookup_name(acc, buf, size, PCI_LOOKUP_VENDOR | PCI_LOOKUP_NO_NUMBERS, vendor);
}

char *hsriov_pci_device_name(struct pci_access *acc, char *buf, int size, int vendor, int device) {
    return pci_lookup_name(acc, buf, size, PCI_LOOKUP_DEVICE | PCI_LOOKUP_NO_NUMBERS, vendor, device);
}
