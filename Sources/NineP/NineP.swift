/// The Plan 9 file protocol (9P2000, 9P2000.u, 9P2000.L): wire format, server engine,
/// multiplexed client and transports. Knows nothing of /proc, SSH or clusters.
public enum NineP {}
