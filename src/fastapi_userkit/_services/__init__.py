"""Services under the ``BaseUserManager`` facade and the routers: each flow written once.

- :mod:`~fastapi_userkit._services.sign_in`: credentials → checks → signed in, for the JSON
  login, the account pages and OAuth.
"""
