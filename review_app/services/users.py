"""The users file, for the app's sign-in: it lives in pipeline.users, since the command line
(whitelist and evidence commands too) records its actions under the same known users."""

from pipeline.users import DEFAULT_PATH, MIN_PASSWORD, NAME_RE, ROLES, User, UsersFile

__all__ = ["DEFAULT_PATH", "MIN_PASSWORD", "NAME_RE", "ROLES", "User", "UsersFile"]
