"""safesynth: private synthetic tables from one spec, on a laptop or on Kubernetes.

Heavy imports (pandas, boto3, torch) are deferred to the modules that need them,
so `import safesynth.spec` stays cheap for the operator.
"""

__version__ = "0.1.0"


__all__ = ["SynthesisResult", "__version__", "evaluate", "synthesize"]


def __getattr__(name: str) -> object:
    """`from safesynth import synthesize, evaluate` without importing pandas for `import safesynth.spec`."""
    if name in ("synthesize", "evaluate", "SynthesisResult"):
        import importlib  # a dynamic import: `safesynth` itself stays below every layer that reads __version__

        return getattr(importlib.import_module("safesynth.api"), name)
    raise AttributeError(f"module 'safesynth' has no attribute {name!r}")
