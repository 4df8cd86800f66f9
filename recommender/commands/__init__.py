"""`animerec` subcommands of the recommender: one module per command."""
