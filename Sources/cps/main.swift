import ClusterProc
print("cps: not yet")
