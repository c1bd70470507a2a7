"""The audit commands: `dossier export`, `verify-export`, `digest` and `verify --digest`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from infra.cli import app
from infra.container import Container
from resolvers.ids import to_global_id
from tests.integration.test_audit_support import build_history, tamper

KEY = "cli-signing-key"


@pytest.fixture
def cli(database_url: str) -> CliRunner:
    return CliRunner(env={"DOSSIER_DATABASE_URL": database_url, "DOSSIER_EXPORT_SIGNING_KEY": KEY})


def test_export_then_verify_from_the_file_alone(
    container: Container, cli: CliRunner, tmp_path: Path
) -> None:
    ids = build_history(container)
    out = tmp_path / "acme.jsonl"
    result = cli.invoke(app, ["export", str(ids["acme"]), "--format", "jsonl", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest_path = tmp_path / "acme.jsonl.manifest.json"
    manifest = json.loads(manifest_path.read_text())
    head = container.verify_audit_chains({str(ids["acme"]): None})[str(ids["acme"])].head_hash
    assert (manifest["eventCount"], manifest["headHash"], manifest["chainValid"]) == (6, head, True)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["type"] for line in lines] == [
        "ClientRegistered",
        "ClientDetailsUpdated",
        "CommentAdded",
        "ClientPutOnHold",
        "ClientHoldReleased",
        "ClientDetailsUpdated",
    ]
    assert [line["stored"]["originatorVersion"] for line in lines] == [1, 2, 1, 3, 4, 5]

    verified = cli.invoke(app, ["verify-export", str(out), str(manifest_path)])
    assert verified.exit_code == 0, verified.output
    assert f"OK: 6 events, chain head {head}" in verified.output

    wrong_key = cli.invoke(app, ["verify-export", str(out), str(manifest_path), "--key", "x"])
    assert wrong_key.exit_code == 1
    assert "the signature does not match" in wrong_key.output

    # Rewrite one line's stored state in the file: its link and the file hash no longer hold.
    lines[3]["stored"]["state"]["reason"] = "Paid in full"
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    broken = cli.invoke(app, ["verify-export", str(out), str(manifest_path)])
    assert broken.exit_code == 1
    assert "the file's SHA-256 differs from the manifest's" in broken.output
    assert "line 4 (version 3): its hash does not follow" in broken.output


def test_export_signed_with_ed25519_as_csv(
    container: Container, database_url: str, tmp_path: Path
) -> None:
    ids = build_history(container)
    private = Ed25519PrivateKey.generate()
    key_file = tmp_path / "signing.pem"
    key_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_file = tmp_path / "signing.pub.pem"
    public_file.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    cli = CliRunner(
        env={"DOSSIER_DATABASE_URL": database_url, "DOSSIER_EXPORT_SIGNING_KEY_FILE": str(key_file)}
    )
    out = tmp_path / "globex.csv"
    gid = to_global_id("Client", ids["globex"])
    result = cli.invoke(app, ["export", gid, "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = tmp_path / "globex.csv.manifest.json"
    assert json.loads(manifest.read_text())["signature"]["algorithm"] == "Ed25519"
    assert len(out.read_text().splitlines()) == 3  # header and two events
    ok = cli.invoke(
        app, ["verify-export", str(out), str(manifest), "--public-key", str(public_file)]
    )
    assert ok.exit_code == 0, ok.output
    other = Ed25519PrivateKey.generate().public_key()
    other_file = tmp_path / "other.pub.pem"
    other_file.write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    bad = cli.invoke(
        app, ["verify-export", str(out), str(manifest), "--public-key", str(other_file)]
    )
    assert bad.exit_code == 1
    assert "the signature does not match" in bad.output


def test_export_refuses_unknown_clients_and_formats(
    container: Container, cli: CliRunner, tmp_path: Path
) -> None:
    build_history(container)
    out = str(tmp_path / "x.jsonl")
    unknown = cli.invoke(app, ["export", "00000000-0000-0000-0000-000000000007", "--out", out])
    assert unknown.exit_code == 1
    assert "No client" in unknown.output
    assert cli.invoke(app, ["export", "nonsense", "--out", out]).exit_code == 2
    bad_format = cli.invoke(
        app, ["export", "00000000-0000-0000-0000-000000000007", "--format", "xml", "--out", out]
    )
    assert bad_format.exit_code == 2


def test_digest_then_verify(container: Container, cli: CliRunner, tmp_path: Path) -> None:
    ids = build_history(container)
    kept = tmp_path / "digest.json"
    result = cli.invoke(app, ["digest", "--out", str(kept)])
    assert result.exit_code == 0, result.output
    assert len(json.loads(kept.read_text())["clients"]) == 3  # every firm's clients

    ok = cli.invoke(app, ["verify", "--digest", str(kept)])
    assert ok.exit_code == 0, ok.output
    assert "the current history extends the digest (3 clients)" in ok.output

    tamper(container, ids["umbrella"], 1, lambda s: s.update(name="Umbrella Corp"))
    broken = cli.invoke(app, ["verify", "--digest", str(kept)])
    assert broken.exit_code == 1
    assert (
        f"{to_global_id('Client', ids['umbrella'])}: TAMPERED: the stored event at version 1"
        in broken.output
    )
    assert to_global_id("Client", ids["acme"]) not in broken.output

    firm_only = cli.invoke(app, ["verify", "--digest", str(kept), "--firm", "firm-a"])
    assert firm_only.exit_code == 1
    assert "NOT_FOUND" in firm_only.output

    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"rootHash": 5}')
    assert cli.invoke(app, ["verify", "--digest", str(garbage)]).exit_code == 2
