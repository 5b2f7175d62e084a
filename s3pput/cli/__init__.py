"""Command-line layer: argparse in, frozen options, call the core, write records."""
