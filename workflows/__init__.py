"""The deterministic side of Treeflow: tree spec, compiler and the interpreter workflow.

Nothing here performs I/O; tool metadata is read from `activities`, tools never run here.
"""
