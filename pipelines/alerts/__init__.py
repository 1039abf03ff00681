"""Alerts: alert rules over watchlists, and the notifier (Slack, email, Telegram, webhooks).

- :mod:`~pipelines.alerts.models`    rules, channels, events and messages (validation, no I/O)
- :mod:`~pipelines.alerts.rules`     pure rule evaluation and delivery decisions
- :mod:`~pipelines.alerts.render`    Slack blocks, email HTML/text, Telegram text, webhook JSON
- :mod:`~pipelines.alerts.channels`  one sender per channel type (httpx, smtplib), secrets by name
- :mod:`~pipelines.alerts.notify`    deliveries with retries, backoff and the delivery log
- :mod:`~pipelines.alerts.service`   one cycle of ``python -m pipelines alerts --loop`` (watchlists
  are read from the search index: :mod:`pipelines.search.signals`)
"""
