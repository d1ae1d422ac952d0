"""Prints a throwaway RSA key pair as JSON: `private_pkcs8`, `private_pkcs1` and `public`
(SubjectPublicKeyInfo), all PEM. Usage: python rsa_keygen.py [BITS]"""

import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

bits = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
none = serialization.NoEncryption()
pem = serialization.Encoding.PEM
print(json.dumps({
    "private_pkcs8": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, none).decode(),
    "private_pkcs1": key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, none).decode(),
    "public": key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
}))
