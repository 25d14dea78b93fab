"""Container image references: the OCI distribution grammar, checked before an image reaches an engine.

An executor's ``image`` ends up as an argument of ``podman|docker run`` (local
backend) or in a Pod's ``image`` (Kubernetes backend). A value such as
``--volume=/:/host`` or ``--privileged`` is no image: given to a container CLI
it is an option. ``reference_problem`` accepts only what the grammar of
github.com/distribution/reference allows::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] path-component [ "/" path-component ]*
    domain     := host [ ":" port ]      host: DNS name (letters, digits, inner '-') or [IPv6]
    path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*     separator: '.', '_', '__' or '-'+
    tag        := [\\w][\\w.-]{0,127}
    digest     := algorithm ":" hex      algorithm: [A-Za-z][A-Za-z0-9]* joined by [+._-]; hex: 32+ hex digits

with the name at most 255 characters, and the registered digest algorithms at
their exact lengths (sha256: 64 lower-case hex digits, sha384: 96, sha512: 128).
Nothing it accepts can start with '-' or hold white space or control characters.
Pure: no I/O, no imports of the rest of Poiesis (the bottom layer, beside
``poiesis.layout``).
"""

from __future__ import annotations

import re

#: the longest name (domain and path) the distribution grammar allows
NAME_MAX = 255
#: a bound on the whole reference: name, tag (128) and a sha512 digest, with their separators
REFERENCE_MAX = NAME_MAX + 1 + 128 + 1 + len("sha512:") + 128

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_ALGORITHM = r"[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*"
_DIGEST = rf"{_ALGORITHM}:[0-9a-fA-F]{{32,}}"
#: the whole grammar; groups: name, tag, digest. ASCII only (\w would take any letter otherwise).
REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?", re.ASCII)
#: registered algorithms (go-digest): their encoded part is lower-case hex of this length
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


def reference_problem(field: str, value: str) -> str | None:
    """Why ``value`` (the member ``field`` of a task) is not a valid image reference; None when it is.

    The message names the field and quotes the value (clipped), e.g.
    ``executors[0].image: '--volume=/:/host' is not a valid image reference (...)``.
    """
    why = _why(value)
    if why is None:
        return None
    shown = value if len(value) <= 80 else value[:77] + "..."
    return f"{field}: {shown!r} is not a valid image reference ({why})"


def _why(value: str) -> str | None:
    if not value:
        return "it is empty"
    if len(value) > REFERENCE_MAX:
        return f"longer than {REFERENCE_MAX} characters"
    if value.startswith("-"):
        return "it starts with '-', as a command-line option does"
    if any(c.isspace() or not c.isprintable() for c in value):
        return "it holds white space or control characters"
    match = REFERENCE.fullmatch(value)
    if match is None:
        return "expected [registry[:port]/]name[:tag][@algorithm:hex], the name in lower case"
    if len(match["name"]) > NAME_MAX:
        return f"its name is longer than {NAME_MAX} characters"
    digest = match["digest"]
    if digest:
        algorithm, hex_digits = digest.split(":", 1)
        length = _DIGEST_LENGTHS.get(algorithm)
        if length is not None and not re.fullmatch(rf"[0-9a-f]{{{length}}}", hex_digits):
            return f"a {algorithm} digest is {length} lower-case hex digits"
    return None
