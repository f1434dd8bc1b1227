"""Command-line applications of gr-disac (the `disac` command and its subcommands)."""
