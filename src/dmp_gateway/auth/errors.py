"""Authentication and authorization errors (stdlib only).

    AuthError        a request to the FHIR API is refused; `fhir/` turns it into an OperationOutcome
      Unauthorized   401: no token, or a token we cannot trust (RFC 6750 §3.1 `invalid_token`)
      Forbidden      403: a valid token that lacks a scope or a right (RFC 6750 §3.1 `insufficient_scope`)
    OAuthError       the token endpoint refuses a request: OAuth JSON body, as Lifen answers (seed-flow §2.3)

The `message` of an AuthError never contains the token or any claim value beyond scope names.
"""

from __future__ import annotations

REALM = "dmp-gateway"


def _quoted(value: str) -> str:
    """An RFC 7230 quoted-string: WWW-Authenticate parameters must not break on quotes or backslashes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AuthError(Exception):
    """The request is not allowed."""

    #: HTTP status of the answer.
    status: int = 403
    #: FHIR STU3 IssueType code of the OperationOutcome (http://hl7.org/fhir/STU3/valueset-issue-type.html).
    code: str = "forbidden"

    def __init__(self, message: str | None = None, *, www_authenticate: str | None = None) -> None:
        self.message = message or (type(self).__doc__ or "").strip()
        #: Value of the `WWW-Authenticate` response header, or None for no header.
        self.www_authenticate = www_authenticate
        super().__init__(self.message)


class Unauthorized(AuthError):
    """A valid bearer token is required."""

    status = 401
    code = "login"

    def __init__(self, message: str | None = None, *, error: str | None = "invalid_token") -> None:
        """`error=None` is for a request without credentials: RFC 6750 §3.1 says to send no error code then."""
        super().__init__(message)
        challenge = f"Bearer realm={_quoted(REALM)}"
        if error is not None:
            challenge += f", error={_quoted(error)}, error_description={_quoted(self.message)}"
        self.www_authenticate = challenge


class Forbidden(AuthError):
    """The token does not allow this operation."""

    status = 403
    code = "forbidden"

    def __init__(self, message: str | None = None, *, scope: str | None = None) -> None:
        """With `scope`, the message names it and the challenge is `insufficient_scope` (RFC 6750 §3.1)."""
        super().__init__(message or (f"scope {scope} is required" if scope else None))
        #: The missing scope, when that is the reason.
        self.scope = scope
        if scope is not None:
            self.www_authenticate = (
                f"Bearer realm={_quoted(REALM)}, error={_quoted('insufficient_scope')}, scope={_quoted(scope)}"
            )


class OAuthError(Exception):
    """The token request was refused (RFC 6749 §5.2)."""

    def __init__(self, status: int, error: str, error_description: str) -> None:
        super().__init__(f"{error}: {error_description}")
        self.status = status
        #: RFC 6749 §5.2 error code: invalid_request, invalid_client, unsupported_grant_type, access_denied...
        self.error = error
        self.error_description = error_description

    def body(self) -> dict[str, str]:
        """The JSON body Lifen's token endpoint sends: `{"error": ..., "error_description": ...}`."""
        return {"error": self.error, "error_description": self.error_description}


__all__ = ["AuthError", "Unauthorized", "Forbidden", "OAuthError", "REALM"]
