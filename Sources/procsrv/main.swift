import ClusterProc
print("procsrv: not yet")
