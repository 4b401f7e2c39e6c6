"""safesynth: private synthetic tables from one spec, on a laptop or on Kubernetes.

Heavy imports (pandas, boto3, torch) are deferred to the modules that need them,
so `import safesynth.spec` stays cheap for the operator.
"""

__version__ = "0.1.0"
