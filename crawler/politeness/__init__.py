"""A politeness budget shared by every worker: a token bucket per site in Redis, shared pauses for
HTTP 429 (Retry-After) and for bans and captchas (exponential backoff). See :mod:`.middleware`."""
