"""offbatch: batch ML predictions over Open Food Facts products, imported as reviewable insights."""

__version__ = "0.1.0"
