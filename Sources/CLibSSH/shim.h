#ifndef CLUSTERPROC_CLIBSSH_SHIM_H
#define CLUSTERPROC_CLIBSSH_SHIM_H
#include <libssh/libssh.h>
#include <libssh/sftp.h>
#endif
