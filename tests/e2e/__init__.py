"""End-to-end tests: the real ``flowjobs`` CLI and server, driven over HTTP."""
