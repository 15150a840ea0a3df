"""The side-effect side of Treeflow: the tool SDK, the versioned registry and built-in tools.

This package imports nothing else of Treeflow's; workflows read its metadata only.
"""
