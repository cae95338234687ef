"""HTTPS pages of the Sphere console, fetched as a browser would see them.

Used for what only the rendered console shows (the logon banner). The
certificate is not validated here on purpose: it is judged by the certificate
checks, and a banner check must still be able to read the page of a server
whose certificate is wrong.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

from sphere_stig.outcome import CollectionError

log = logging.getLogger(__name__)

NAME = "http"
MAX_BODY = 2_000_000


@dataclass(frozen=True)
class HttpPage:
    url: str
    status: int
    content_type: str
    body: str
    # Every URL visited, the first being the one asked for.
    history: tuple[str, ...] = ()


def fetch(
    host: str, url: str, server_name: str, address: str, timeout: float
) -> HttpPage:
    """GET ``url`` (which names ``server_name``) from ``address``, following redirects."""
    import requests
    from requests.adapters import HTTPAdapter

    class _PinnedAddress(HTTPAdapter):
        # Connect to the inventory address while the URL and SNI keep the
        # host name, so virtual hosts and certificates see the real name.
        def get_connection_with_tls_context(
            self, request, verify, proxies=None, cert=None
        ):
            conn = super().get_connection_with_tls_context(
                request, verify, proxies, cert
            )
            conn.host = address
            conn.assert_hostname = False
            conn.conn_kw = {
                **getattr(conn, "conn_kw", {}),
                "server_hostname": server_name,
            }
            return conn

    session = requests.Session()
    session.trust_env = False
    session.mount("https://", _PinnedAddress())
    session.mount("http://", _PinnedAddress())
    log.debug("RUN GET %s via %s", url, address)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            response = session.get(
                url, timeout=timeout, verify=False, allow_redirects=True
            )
    except requests.exceptions.ConnectTimeout:
        raise CollectionError(
            host, f"HTTPS GET {url}", f"no answer within {timeout:g} s"
        ) from None
    except requests.exceptions.ConnectionError as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else str(exc)
        raise CollectionError(host, f"HTTPS GET {url}", reason) from None
    except requests.exceptions.RequestException as exc:
        raise CollectionError(host, f"HTTPS GET {url}", str(exc)) from None
    finally:
        session.close()
    return HttpPage(
        url=response.url,
        status=response.status_code,
        content_type=response.headers.get("Content-Type", ""),
        body=response.text[:MAX_BODY],
        history=tuple(r.url for r in response.history) + (response.url,),
    )
