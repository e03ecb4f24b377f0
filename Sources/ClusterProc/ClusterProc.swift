import NineP
// The node side (ProcFS, Job, UserNames) is part of ClusterProc's vocabulary too.
@_exported import ClusterProcNode

/// Everything cluster-specific: host lists, the SSH launcher, the family's union and
/// namespace, and process status. The node side (ProcFS, the job supervisor) lives in
/// ClusterProcNode, which links neither libssh nor libfuse.
public enum ClusterProc {}
