"""The commands of integrity and trust: ``verify`` (every file against its sha256, and a trusted
signature with --key), ``sign`` a published version, ``keygen`` (a signing key pair), and
``inspect`` (what a version's pickles would import and run, without unpickling them)."""

from __future__ import annotations

import os
from typing import Any

import click

from mlops.cli._common import Settings, json_option, pass_settings, public_keys_option
from mlops.cli._format import count, print_json
from mlops.errors import IntegrityError, PickleInspectionError
from mlops.model import lineage
from mlops.utils.humanize import format_bytes

# --- verify ------------------------------------------------------------------------------------------------


@click.command("verify")
@click.argument("path")
@public_keys_option(
    "--key", "keys", help="Also require a signature by this public key over every file (repeatable: any of them)."
)
@json_option
@pass_settings
def verify_command(settings: Settings, path: str, keys: tuple[str, ...], as_json: bool) -> None:
    """Check every file of PATH against its sha256 in the manifest.

    Prints OK, or names the first file that is missing, truncated or changed (status 1).
    Remote files are downloaded and hashed again, never taken from the local cache. With --key
    (or MLOPS_TRUSTED_KEYS), the version must also be signed by a trusted key, covering every file.
    """
    version = lineage.open_version(path, storage_options=settings.storage_options, trusted_keys=list(keys) or None)
    summary = f"{version.kind} {version.name} {version.version}"
    try:
        version.verify()
    except IntegrityError as exc:
        if as_json:
            print_json({"path": version.path, "ok": False, "error": str(exc), "file": exc.file})
        raise
    files = version.files
    if as_json:
        print_json({"path": version.path, "ok": True, "files": len(files), "signed_by": version.signer})
    else:
        total = format_bytes(sum(e.size for e in files.values()))
        signed = f"; signed by the trusted key {version.signer[:16]}" if version.signer else ""
        click.echo(f"OK  {summary}: {count(len(files), 'file')} ({total}) match meta.json{signed}")


# --- keygen, inspect, sign ---------------------------------------------------------------------------------


@click.command("keygen")
@click.argument("name", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing key pair of that name.")
@click.option(
    "--encrypt",
    is_flag=True,
    help="Encrypt the private key with a passphrase (from MLOPS_SIGNING_KEY_PASSWORD, else asked for).",
)
@json_option
def keygen_command(name: str, force: bool, encrypt: bool, as_json: bool) -> None:
    """Create an ECDSA P-256 key pair: NAME (private, mode 0600) and NAME.pub (public).

    Sign versions with the private key (publish(..., signing_key='NAME') or MLOPS_SIGNING_KEY=NAME)
    and give NAME.pub to those who load them (trusted_keys=['NAME.pub'] or MLOPS_TRUSTED_KEYS).
    OpenSSF model_signing verifies the same signatures: model_signing verify key VERSION
    --signature VERSION/mlops.sig --public_key NAME.pub.
    """
    from mlops.trust.keys import PASSWORD_ENV, generate_key_pair, load_trusted_key

    password: bytes | None = None
    if encrypt:
        text = os.environ.get(PASSWORD_ENV) or click.prompt(
            "Passphrase for the private key", hide_input=True, confirmation_prompt=True
        )
        password = str(text).encode()
    private, public = generate_key_pair(name, force=force, password=password)
    fingerprint = load_trusted_key(public).fingerprint
    if as_json:
        print_json({"private_key": private, "public_key": public, "fingerprint": fingerprint}, ascii_only=True)
        return
    click.echo(f"private key  {private}  (mode 0600{', encrypted' if password else ''}: keep it secret)")
    click.echo(f"public key   {public}  (give it to whoever loads your versions)")
    click.echo(f"fingerprint  {fingerprint}")


@click.command("inspect")
@click.argument("path")
@click.option("--file", "files", multiple=True, metavar="RELPATH", help="Only this file of the version (repeatable).")
@json_option
@pass_settings
def inspect_command(settings: Settings, path: str, files: tuple[str, ...], as_json: bool) -> None:
    """List what each pickle of PATH would import and run when loaded, without unpickling it.

    For every pickled file (the data processor, model.joblib, model.pt...): the classes and
    callables loading it imports (dangerous ones flagged), the modules it imports, and the
    classes, functions and modules whose code is stored in the file by value. Each file is
    checked against its sha256 first, so the report is about the bytes that would be loaded.
    Flags are hints: only a signature by a key you trust (trusted_keys=, MLOPS_TRUSTED_KEYS)
    makes loading safe.
    """
    from mlops.trust.pickle_inspect import inspect_bytes
    from mlops.versions import published as versions

    version = lineage.open_version(path, storage_options=settings.storage_options)
    wanted = versions.pickle_files(version)
    if files:
        unknown = [f for f in files if f not in versions.manifest_hashes(version)]
        if unknown:
            raise click.BadParameter(
                f"{version.path} has no file {unknown[0]!r}; `mlops show --all-files {path}` lists them",
                param_hint="--file",
            )
        wanted = list(files)
    reports: list[dict[str, Any]] = []
    for relpath in wanted:
        data = versions.read_verified(version, relpath)
        try:
            report = inspect_bytes(data).to_json()
        except PickleInspectionError as exc:
            report = {"error": str(exc)}
        reports.append({"file": relpath, "size": len(data), **report})
    if as_json:
        print_json({"path": version.path, "version": versions.describe(version), "files": reports}, ascii_only=True)
        return
    click.echo(f"{versions.describe(version)}  {version.path}")
    if not reports:
        click.echo(
            "no pickled files: loading this version unpickles nothing (formats such as Keras' model.h5 can "
            "still run code: Lambda layers and custom objects)"
        )
    for report in reports:
        _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    click.echo("")
    if "error" in report:
        click.echo(f"{report['file']}  cannot be inspected: {report['error']}")
        return
    dangerous = report["dangerous"]
    verdict = f"{len(dangerous)} DANGEROUS import(s)" if dangerous else "no dangerous import found"
    click.echo(f"{report['file']}  ({report['container']}, {report['size']} bytes): {verdict}")
    click.echo("  imports (loading looks these up, and calls most of them):")
    for ref in report["imports"]:
        note = f"   DANGEROUS: {ref['dangerous']}" if ref["dangerous"] else ""
        note = note or ("   rebuilds code stored in the file" if ref["rebuilds_code"] else "")
        click.echo(f"    {ref['module']}.{ref['name']}{note}")
    if report["modules_imported"]:
        click.echo(f"  modules imported: {', '.join(report['modules_imported'])}")
    if report["by_value"]:
        click.echo("  stored by value (their code is in the file and runs when used):")
        for item in report["by_value"]:
            qualified = item["name"] if item["kind"] == "module" else f"{item['module']}.{item['name']}"
            click.echo(f"    {item['kind']:<9} {qualified}")


@click.command("sign")
@click.argument("path")
@click.option("--key", "key", metavar="NAME", help="Private key (from `mlops keygen`); default: MLOPS_SIGNING_KEY.")
@json_option
@pass_settings
def sign_command(settings: Settings, path: str, key: str | None, as_json: bool) -> None:
    """Sign the published version at PATH: write PATH/mlops.sig over every file's sha256.

    Reads no data (the hashes come from the manifest); the version must not be signed already.
    Verify with `mlops verify PATH --key NAME.pub`, or OpenSSF's model_signing.
    """
    from mlops.errors import SigningKeyError
    from mlops.trust.policy import signing_key_from
    from mlops.versions import published as versions

    signing_key = signing_key_from(key)
    if signing_key is None:
        raise SigningKeyError(
            "no key to sign with: pass --key NAME (a private key from `mlops keygen`) or set MLOPS_SIGNING_KEY"
        )
    version = lineage.open_version(path, storage_options=settings.storage_options)
    written = versions.sign_version(version, signing_key)
    if as_json:
        print_json(
            {"path": version.path, "signature": written, "fingerprint": signing_key.fingerprint}, ascii_only=True
        )
    else:
        click.echo(f"signed {versions.describe(version)}: {written}")


COMMANDS = (verify_command, keygen_command, inspect_command, sign_command)
