/// The version every tool of cluster-proc prints for `--version`.
public enum ClusterProcVersion {
    public static let current = "0.1.0"
}
