import NineP
print("ninep-bench: not yet")
