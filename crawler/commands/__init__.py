"""`animerec` subcommands of the crawler: one module per command."""
