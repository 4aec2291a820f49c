"""Proactive care (主动关爱): the day's list of elders an operator should call."""
