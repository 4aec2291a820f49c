"""The 12349 call log: every call an operator takes or makes, with its type and outcome."""
