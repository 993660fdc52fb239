"""Services under the ``BaseUserManager`` facade and the routers: each flow written once.

- :mod:`~fastapi_userkit._services.sign_in`: credentials → checks → signed in, for the JSON
  login, the account pages and OAuth.
- :mod:`~fastapi_userkit._services.registration`: registration with its conflict handling, for
  ``POST /register`` and the sign-up page.
- :mod:`~fastapi_userkit._services.passwords`: the password policy, the size guard, hashing with
  no connection held, checking a login (dummy hash for unknown users).
- :mod:`~fastapi_userkit._services.updates`: a new user's columns and an update, validated and
  written (conditionally, for single-use tokens).
- :mod:`~fastapi_userkit._services.tokens`: the verification and reset tokens, issued and
  redeemed once.
- :mod:`~fastapi_userkit._services.sessions`: ending a user's sessions in the strategies and
  stores it is given; the authentication side offers a request's.

The last four never import the manager (it imports them) nor the authentication package.
"""
