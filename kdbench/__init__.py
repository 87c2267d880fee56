"""Distilling few-shot prompted LLM teachers into small students: LLKD and MCKD."""

__version__ = "0.1.0"
