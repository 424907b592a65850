"""Scoring spellcheck engines: the token metric, the OCR-style noise and the dev/test sets."""
