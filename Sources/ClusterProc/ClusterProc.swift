// ClusterProc: everything cluster-specific: host lists, the SSH launcher, the family's union
// and namespace, and process status. The node side (ProcFS, the job supervisor, UserNames)
// lives in ClusterProcNode, which links neither libssh nor libfuse, and is part of
// ClusterProc's vocabulary too.
@_exported import ClusterProcNode
