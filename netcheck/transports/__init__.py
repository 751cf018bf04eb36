"""How an agent reaches a host: `local` (in this process) and `ssh` (a zipapp over SSH)."""
