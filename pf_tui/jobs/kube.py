"""The Kubernetes side of the Job operator, on the official ``kubernetes`` client.

Exactly the calls the operator's RBAC allows (deploy/kubernetes, Role ``pf-tui-operator``):
``list`` and ``watch`` of ``batch/v1`` Jobs in one namespace, and ``patch`` of a Job's
annotations. Jobs travel as their plain JSON objects (the watch is read with
``deserialize=False``): the operator reads four fields and must not fail on a model's strictness.

The client is synchronous, so the list-and-watch loop runs in its own daemon thread and hands
each Job to the event loop (:class:`JobWatch`); a patch runs in a worker thread.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes import watch as kwatch

log = logging.getLogger("pf_tui.jobs")

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
CONNECT_TIMEOUT_S = 10.0
PATCH_TIMEOUT_S = 30.0
MAX_BACKOFF_S = 30.0
MERGE_PATCH = "application/merge-patch+json"

JsonObject = dict[str, Any]
BatchApi = kclient.BatchV1Api


class KubeConfigError(Exception):
    """No usable Kubernetes configuration (not in a cluster, no kubeconfig, no ``--kube-url``)."""


def build_api(kube_url: str | None = None) -> kclient.BatchV1Api:
    """The ``batch/v1`` API: ``kube_url`` as is (plain, no credentials: tests and
    ``kubectl proxy``), else the pod's service account, else ``$KUBECONFIG`` or
    ``~/.kube/config``."""
    configuration = kclient.Configuration()
    if kube_url:
        configuration.host = kube_url.rstrip("/")
    else:
        try:
            kconfig.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except kconfig.ConfigException:
            try:
                kconfig.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            except (kconfig.ConfigException, OSError) as exc:
                raise KubeConfigError(
                    "no Kubernetes configuration: not in a cluster, and no kubeconfig "
                    f"($KUBECONFIG or ~/.kube/config) could be loaded ({type(exc).__name__})"
                ) from None
    return kclient.BatchV1Api(kclient.ApiClient(configuration))


def default_namespace() -> str:
    """The pod's own namespace in a cluster, else ``default``."""
    try:
        found = SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    except OSError:
        return "default"
    return found or "default"


def patch_annotations(
    api: kclient.BatchV1Api, namespace: str, name: str, uid: str, values: Mapping[str, str]
) -> None:
    """Merge ``values`` into a Job's annotations. The uid rides along as a precondition: a Job
    deleted and re-created under the same name answers 409 instead of being annotated."""
    body = {"metadata": {"uid": uid, "annotations": dict(values)}}
    # Unread (``_preload_content=False``): the raw urllib3 reply, not the V1Job it is typed as.
    response: Any = api.patch_namespaced_job(
        name,
        namespace,
        body,
        _content_type=MERGE_PATCH,
        _preload_content=False,
        _request_timeout=(CONNECT_TIMEOUT_S, PATCH_TIMEOUT_S),
    )
    response.release_conn()


class JobWatch:
    """List, then watch, the Jobs of one namespace in a daemon thread, forever (until
    :meth:`stop`); every Job seen goes to ``emit`` as its JSON object.

    A watch ends after ``resync_s`` (the server's ``timeoutSeconds``, or a read timeout a little
    later where the server does not honour it), and the loop lists again: every Job is seen again
    at least that often, which is when an ``unknown`` outcome or a deferred Job is retried. Any
    failure (a dropped connection, 410 Gone, a 5xx) is logged and the loop lists again after a
    backoff (1 s doubling to 30 s).
    """

    def __init__(
        self,
        api: kclient.BatchV1Api,
        namespace: str,
        emit: Callable[[JsonObject], None],
        *,
        resync_s: float = 60.0,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.emit = emit
        self.resync_s = resync_s
        self._stop = threading.Event()
        self._watch: kwatch.Watch | None = None
        self._thread = threading.Thread(target=self._run, name="pf-tui-job-watch", daemon=True)
        self.lists = 0
        """How many times the Jobs were listed (tests wait on it)."""

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end (it ends at the next event or timeout; it never holds up the
        process: a daemon thread)."""
        self._stop.set()
        watch = self._watch
        if watch is not None:
            watch.stop()  # type: ignore[no-untyped-call]

    def _list(self) -> tuple[list[JsonObject], str | None]:
        response: Any = self.api.list_namespaced_job(
            self.namespace,
            _preload_content=False,
            _request_timeout=(CONNECT_TIMEOUT_S, PATCH_TIMEOUT_S),
        )
        try:
            listing = json.loads(response.data)
        finally:
            response.release_conn()
        items = listing.get("items") or []
        version = (listing.get("metadata") or {}).get("resourceVersion")
        return [i for i in items if isinstance(i, dict)], version if version else None

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                items, version = self._list()
                self.lists += 1
                for item in items:
                    self.emit(item)
                self._watch_from(version)
                backoff = 1.0
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.warning(
                    "job watch failed; listing again",
                    extra={
                        "fields": {
                            "namespace": self.namespace,
                            "error": f"{type(exc).__name__}: {exc}"[:500],
                            "retry_in_s": backoff,
                        }
                    },
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _watch_from(self, version: str | None) -> None:
        watch = kwatch.Watch()  # type: ignore[no-untyped-call]
        self._watch = watch
        kwargs: dict[str, Any] = {
            "timeout_seconds": max(1, int(self.resync_s)),
            # A server that ignores timeoutSeconds still ends the watch once it has been idle
            # a little longer than a resync: the read times out and the loop lists again.
            "_request_timeout": (CONNECT_TIMEOUT_S, self.resync_s + min(15.0, self.resync_s)),
            "deserialize": False,
        }
        if version is not None:
            kwargs["resource_version"] = version
        try:
            events = watch.stream(  # type: ignore[no-untyped-call]
                self.api.list_namespaced_job, self.namespace, **kwargs
            )
            for event in events:
                if self._stop.is_set():
                    break
                kind = event.get("type") if isinstance(event, dict) else None
                if kind in ("ADDED", "MODIFIED") and isinstance(event.get("object"), dict):
                    self.emit(event["object"])
                elif kind == "ERROR":
                    status = event.get("object") or {}
                    raise WatchError(f"{status.get('code')} {status.get('reason')}")
        finally:
            self._watch = None


class WatchError(Exception):
    """The watch sent an ERROR event (410 Gone: the resource version is too old)."""
