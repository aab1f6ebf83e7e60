"""The `guichet` command: argument parsing in main.py, the work in the modules beside it."""
