#ifndef CLUSTERPROC_CFUSE3_SHIM_H
#define CLUSTERPROC_CFUSE3_SHIM_H
#define FUSE_USE_VERSION 314
#include <fuse3/fuse_lowlevel.h>

/* unshare(2) is declared by <sched.h> only under _GNU_SOURCE, which the Glibc module is
   not built with; the flag values are the kernel's ABI (include/uapi/linux/sched.h). */
extern int unshare(int __flags);
#define CFUSE_CLONE_NEWNS 0x00020000
#define CFUSE_CLONE_NEWUSER 0x10000000
static inline int CFuse_unshare(int flags) { return unshare(flags); }

#endif
