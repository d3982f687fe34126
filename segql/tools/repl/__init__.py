"""tools/repl."""
