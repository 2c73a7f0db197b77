"""The token endpoint (seed-flow §2.3 bodies), JWKS, discovery, and the FastAPI guards, over ASGI."""

import base64

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from dmp_gateway.auth.clients import ClientConfig, ClientRegistry, hash_secret
from dmp_gateway.auth.dependencies import CurrentPrincipal, require_scope, scope_for
from dmp_gateway.auth.errors import AuthError
from dmp_gateway.auth.jwks import parse_jwks
from dmp_gateway.auth.routes import router
from dmp_gateway.auth.setup import AuthServices
from dmp_gateway.auth.verifier import TokenVerifier

UNAUTHORIZED = {"error": "access_denied", "error_description": "Unauthorized"}
BAD_DATABASE_REFERENCE = {"error": "invalid_request", "error_description": "A valid database_reference must be provided."}


@pytest.fixture(scope="module")
def registry() -> ClientRegistry:
    hashed = hash_secret("s3cret")
    return ClientRegistry(
        [
            ClientConfig(client_id="ehr", secret_hash=hashed, workspace_id="42", scopes=("PATIENT_CREATE", "BINARY_CREATE"),
                         database_reference="db-1", organization="Organization/77"),
            ClientConfig(client_id="batch", secret_hash=hashed, workspace_id="7", scopes=("PATIENT_READ",)),
        ]
    )


def make_app(services: AuthServices) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    app.state.auth = services

    @app.exception_handler(AuthError)
    async def auth_error(request: Request, exc: AuthError) -> JSONResponse:  # fhir/outcomes.py does this for real
        headers = {"WWW-Authenticate": exc.www_authenticate} if exc.www_authenticate else {}
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status, headers=headers)

    @app.get("/whoami")
    async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject, "workspace": principal.workspace_id}

    @app.post("/Patient", dependencies=[Depends(require_scope(scope_for("Patient", "create")))])
    async def create_patient() -> dict[str, bool]:
        return {"created": True}

    return app


@pytest.fixture
def services(issuer, verifier, registry) -> AuthServices:
    return AuthServices(issuer=issuer, verifier=verifier, clients=registry)


@pytest.fixture
async def http(services):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app(services)), base_url="http://gw") as client:
        yield client


def form(**changes):
    base = {"grant_type": "client_credentials", "client_id": "ehr", "client_secret": "s3cret",
            "audience": "https://dmp-gateway.local/", "database_reference": "db-1"}
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


async def test_client_credentials_token(http, verifier):
    response = await http.post("/oauth/token", data=form())
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "scope", "expires_in", "token_type"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, "PATIENT_CREATE BINARY_CREATE")
    assert response.headers["cache-control"] == "no-store"
    principal = await verifier.verify(body["access_token"])
    assert (principal.kind, principal.subject, principal.workspace_id) == ("application", "ehr", "42")
    assert principal.may_send_as("Organization/42") and principal.may_request_as("Organization/77")
    assert principal.scopes == {"PATIENT_CREATE", "BINARY_CREATE"}


async def test_http_basic_client_authentication(http):
    basic = base64.b64encode(b"batch:s3cret").decode()
    response = await http.post("/oauth/token", data=form(client_id=None, client_secret=None, database_reference=None),
                               headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200, response.text


async def test_json_body_is_accepted(http):
    assert (await http.post("/oauth/token", json=form(client_id="batch"))).status_code == 200


@pytest.mark.parametrize(
    "changes",
    [{"client_secret": "wrong"}, {"client_id": "nobody"}, {"client_secret": None}, {"client_id": None}],
)
async def test_bad_client_credentials_get_lifens_401(http, changes):
    response = await http.post("/oauth/token", data=form(**changes))
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("authorization", ["Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()])
async def test_unreadable_basic_credentials_get_401(http, authorization):
    response = await http.post("/oauth/token", data=form(client_id=None, client_secret=None),
                               headers={"Authorization": authorization})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


@pytest.mark.parametrize("database_reference", [None, "", "db-2"])
async def test_missing_or_wrong_database_reference(http, database_reference):
    response = await http.post("/oauth/token", data=form(database_reference=database_reference))
    assert (response.status_code, response.json()) == (400, BAD_DATABASE_REFERENCE)


async def test_database_reference_is_ignored_for_clients_without_one(http):
    assert (await http.post("/oauth/token", data=form(client_id="batch", database_reference="x"))).status_code == 200


@pytest.mark.parametrize(
    "changes,error,description",
    [
        ({"grant_type": "password"}, "unsupported_grant_type", "grant_type must be client_credentials"),
        ({"grant_type": None}, "invalid_request", "grant_type is required"),
    ],
)
async def test_grant_type_errors(http, changes, error, description):
    response = await http.post("/oauth/token", data=form(**changes))
    assert (response.status_code, response.json()) == (400, {"error": error, "error_description": description})


async def test_wrong_audience_is_refused_as_lifen_does(http):
    response = await http.post("/oauth/token", data=form(audience="https://production.platform-apis/"))
    assert response.status_code == 403
    assert response.json() == {"error": "access_denied",
                               "error_description": "Service not enabled within domain: https://production.platform-apis/"}


async def test_audience_may_be_omitted(http):
    assert (await http.post("/oauth/token", data=form(audience=None))).status_code == 200


async def test_other_content_types_are_refused(http):
    response = await http.post("/oauth/token", content=b"grant_type=client_credentials", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400 and "x-www-form-urlencoded" in response.json()["error_description"]


async def test_repeated_parameters_are_refused(http):
    body = "grant_type=client_credentials&client_id=ehr&client_id=batch&client_secret=s3cret"
    response = await http.post("/oauth/token", content=body,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.json() == {"error": "invalid_request", "error_description": "parameter client_id is repeated"}


async def test_two_client_authentication_methods_are_refused(http):
    basic = base64.b64encode(b"ehr:s3cret").decode()
    response = await http.post("/oauth/token", data=form(), headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_served_jwks_verifies_issued_tokens(http, issuer, clock):
    document = (await http.get("/.well-known/jwks.json")).json()
    assert [key["kid"] for key in document["keys"]] == [issuer.key.kid]
    assert all("d" not in key for key in document["keys"])  # public halves only
    verifier = TokenVerifier.from_keys(parse_jwks(document), issuer=issuer.issuer, audience=issuer.audience, clock=clock)
    token = issuer.user_token(workspace_id="42", identities=[], scopes=["A"])
    assert (await verifier.verify(token)).scopes == {"A"}


async def test_openid_configuration(http, issuer):
    document = (await http.get("/.well-known/openid-configuration")).json()
    assert document["issuer"] == issuer.issuer
    assert document["jwks_uri"] == "http://gw/.well-known/jwks.json"
    assert document["token_endpoint"] == "http://gw/oauth/token"
    assert document["grant_types_supported"] == ["client_credentials"]


async def test_external_provider_mode_serves_no_tokens(verifier, registry):
    app = make_app(AuthServices(issuer=None, verifier=verifier, clients=registry))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        assert (await client.post("/oauth/token", data=form())).status_code == 404
        assert (await client.get("/.well-known/jwks.json")).status_code == 404


# --- dependencies --------------------------------------------------------------------------------


async def test_missing_bearer_token_is_401_with_a_bare_challenge(http):
    response = await http.get("/whoami")
    assert response.status_code == 401 and response.json()["code"] == "login"
    assert response.headers["www-authenticate"] == 'Bearer realm="dmp-gateway"'


@pytest.mark.parametrize("authorization", ["Basic abc", "Bearer", "Bearer not.a.jwt"])
async def test_unusable_authorization_is_401(http, authorization):
    response = await http.get("/whoami", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert 'error="invalid_' in response.headers["www-authenticate"]


async def test_bearer_token_gives_the_principal(http, issuer):
    token = issuer.user_token(workspace_id="Organization/42", identities=[], scopes=[], subject="alice")
    response = await http.get("/whoami", headers={"Authorization": f"bearer {token}"})
    assert response.json() == {"subject": "alice", "workspace": "42"}


async def test_missing_scope_is_403_naming_it(http, issuer):
    token = issuer.user_token(workspace_id="42", identities=[], scopes=["BINARY_CREATE"])
    response = await http.post("/Patient", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json() == {"code": "forbidden", "message": "scope PATIENT_CREATE is required"}
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_granted_scope_passes(http, issuer):
    token = issuer.user_token(workspace_id="42", identities=[], scopes=["PATIENT_CREATE"])
    assert (await http.post("/Patient", headers={"Authorization": f"Bearer {token}"})).json() == {"created": True}


async def test_missing_app_state_is_a_wiring_error(verifier):
    app = make_app(AuthServices(issuer=None, verifier=verifier, clients=ClientRegistry()))
    del app.state.auth
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        with pytest.raises(RuntimeError, match="app.state.auth"):
            await client.get("/.well-known/jwks.json")


@pytest.mark.parametrize(
    "resource_type,interaction,scope",
    [
        ("Binary", "create", "BINARY_CREATE"),
        ("DocumentReference", "create", "DOCUMENTREFERENCE_CREATE"),
        ("CommunicationRequest", "update", "COMMUNICATIONREQUEST_UPDATE"),
        ("Communication", "search", "COMMUNICATION_SEARCH"),
        ("Patient", "read", "PATIENT_READ"),
    ],
)
def test_scope_for(resource_type, interaction, scope):
    assert scope_for(resource_type, interaction) == scope


def test_scope_for_refuses_unknown_interactions():
    with pytest.raises(ValueError, match="interaction"):
        scope_for("Patient", "delete")  # type: ignore[arg-type]
