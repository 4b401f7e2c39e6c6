"""An emulated Kubernetes API server (and a test kubelet) for cluster tests without a cluster.

See README.md in this folder for what is emulated and what is not.
"""
