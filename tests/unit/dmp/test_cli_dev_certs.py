"""`dmp-gateway dev-certs DIR` writes the documented files and refuses to clobber them."""

from __future__ import annotations

from typer.testing import CliRunner

from dmp_gateway.cli import app


def test_dev_certs_command(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["dev-certs", str(tmp_path / "certs"), "--structure-id", "499700367909006"])
    assert result.exit_code == 0, result.output
    assert {line.rsplit("/", 1)[-1] for line in result.output.split()} == {
        "ca.pem", "ca.key", "server.pem", "server.key", "org-auth-cli.pem", "org-auth-cli.key",
        "org-sign.pem", "org-sign.key"}
    again = runner.invoke(app, ["dev-certs", str(tmp_path / "certs")])
    assert again.exit_code == 1
