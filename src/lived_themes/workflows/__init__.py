"""The bodies of the commands that are not a run: ``init`` (starter files), ``review``, ``evaluate``,
``adjudicate`` and ``llm-prompt``. Each reads files or a config, calls library stages, writes its outputs."""
