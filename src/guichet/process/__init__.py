"""The process edge and long-running processes: start-up, signals, consumer threads, the all-in-one serve."""
