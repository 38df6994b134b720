"""The `resumeopt` command and the embedded platform that wires gateway, optimiser and store together."""
