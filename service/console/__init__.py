"""The browser console (zh-CN): operators' seat, regulators' desk and admins' pages, server-rendered with
Jinja2 and htmx (vendored under static/), behind server-side sessions (service/users)."""
