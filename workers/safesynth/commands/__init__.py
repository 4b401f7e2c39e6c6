"""CLI command groups beyond the core ones in safesynth.cli, one module each.

cli.py mounts them; each module keeps its heavy imports inside the command so
`safesynth --help` stays fast.
"""
