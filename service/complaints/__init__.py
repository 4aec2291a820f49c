"""Complaints (投诉) as tickets: opened by an operator or from a follow-up, sent to the provider, answered by
the provider's app, resolved by an operator, read by the area's regulator, counted in the provider's quality."""
