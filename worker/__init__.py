"""The worker process: hosts the interpreter workflow and every registered tool version."""
