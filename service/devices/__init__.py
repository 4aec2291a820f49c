"""Devices as first-class: the registry of one-touch phones and home sensors, their gateways' heartbeats,
and the alerts each device raised."""
