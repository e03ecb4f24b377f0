import ClusterProc
print("cluster-launch: not yet")
