"""Command-line interface. Library code never imports from here."""
