"""The CPU spellcheck internals: vocabularies (vocabulary.py) and the text repairs (repair.py)."""
