"""E-mail: the SMTP client (``smtp``) and the templates Immich sends (``templates``).

A layer beside ``storage/``: it talks to the outside (an SMTP server) and knows no HTTP."""
