"""A local, MAL-shaped web site built from the shared MAL data, for tests, the demo and benchmarks.

`data` loads the CSVs once, `pages` renders the HTML/JSON bodies, `faults` injects the site's
hostile behaviour (rate limits, bans, captchas, errors), `app` wires the aiohttp routes and `server`
runs it in a background thread (`ReplicaServer`).
"""
