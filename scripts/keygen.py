"""Print a new secret for .env: `keygen.py fernet|token|ed25519` (used by `make run`)."""

import base64
import secrets
import sys


def main(kind: str) -> str:
    if kind == "fernet":
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()
    if kind == "ed25519":
        from cryptography.hazmat.primitives import serialization as s
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        raw = Ed25519PrivateKey.generate().private_bytes(
            s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption()
        )
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    if kind == "token":
        return secrets.token_urlsafe(48)
    raise SystemExit("usage: keygen.py fernet|token|ed25519")


if __name__ == "__main__":
    print(main(sys.argv[1] if len(sys.argv) > 1 else ""))
