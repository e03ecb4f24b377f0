import NineP

/// Everything cluster-specific: host lists, the /proc file system, jobs, the SSH launcher,
/// the family's namespace and process status.
public enum ClusterProc {}
