"""Outgoing and incoming mail: the message format, transports, the delivery worker, inbound
parsing (see README.md, "Mail")."""
