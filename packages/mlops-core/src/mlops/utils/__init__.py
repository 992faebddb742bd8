"""Small helpers every layer may use (internal): running I/O side by side, progress bars, install hints,
values written for people (sizes, numbers, timestamps)."""
