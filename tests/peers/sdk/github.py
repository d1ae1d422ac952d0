"""A stand-in for the GitHub REST API on 127.0.0.1, for tests/it/sdk.rs.

    python github.py '{"token": "ghp_..."}'

Prints `PORT <n>` once it listens. Like GitHub, it answers 401 unless the request carries
`Authorization: Bearer <token>`; it serves `GET /user` and
`POST /repos/{owner}/{repo}/issues`, and 404 otherwise. `GET /__requests` returns every
request it got (method, path, headers, JSON body), oldest first, so the test can check what
keyport sent.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import peer_http  # noqa: E402

TOKEN = peer_http.config()["token"]
SEEN = []


def handle(request):
    if request.route == "/__requests":
        return 200, {}, SEEN
    try:
        body = request.json()
    except ValueError:
        body = {"unparsable": request.body.decode("utf-8", "replace")}
    SEEN.append(
        {
            "method": request.method,
            "path": request.path,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": body,
        }
    )
    if request.headers.get("Authorization") != "Bearer " + TOKEN:
        return 401, {}, {"message": "Bad credentials", "status": "401"}
    parts = request.route.strip("/").split("/")
    if request.method == "GET" and parts == ["user"]:
        return 200, {}, {"login": "keyport-octocat", "id": 583231, "name": "Keyport Octocat",
                         "html_url": "https://github.com/keyport-octocat", "public_repos": 8}
    if request.method == "POST" and len(parts) == 4 and parts[0] == "repos" and parts[3] == "issues":
        owner, repo = parts[1], parts[2]
        number = 41 + sum(1 for r in SEEN if r["method"] == "POST")
        return 201, {}, {
            "id": 1000 + number,
            "number": number,
            "title": (body or {}).get("title"),
            "state": "open",
            "html_url": f"https://github.com/{owner}/{repo}/issues/{number}",
        }
    return 404, {}, {"message": "Not Found"}


peer_http.serve(handle)
