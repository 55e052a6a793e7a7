"""Side-by-side measurements of aiosso against bare aiohttp, aiobotocore and botocore on threads.

Not part of the installed package and not tests: run ``python -m benchmarks --help``. See
``benchmarks/README.md`` for what is measured, how, the latest figures and how to add a scenario.
"""
