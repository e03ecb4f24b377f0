#ifndef CLUSTERPROC_CLINUX_SHIM_H
#define CLUSTERPROC_CLINUX_SHIM_H

/* Linux calls the Glibc module leaves out. unshare(2) is declared by <sched.h> only under
   _GNU_SOURCE, which the Glibc module is not built with; the flag values are the kernel's
   ABI (include/uapi/linux/sched.h). */
extern int unshare(int __flags);
#define CLINUX_CLONE_NEWNS 0x00020000
#define CLINUX_CLONE_NEWUSER 0x10000000
static inline int CLinux_unshare(int flags) { return unshare(flags); }

#endif
