"""What a local supervisor and its tasks inherit from the launching shell: an allow-list.

A task gets the worker contract's variables and the config's ``env`` (both from the job spec)
plus only the variables below taken from the environment of the command that launched the job,
never the rest of it: the shell may hold the annotation token, the job key, cloud credentials
or anything else a user exported, and a task (which runs model code) needs none of it. On
Google Batch a task starts from the VM's environment likewise, not from the launcher's.
"""

from __future__ import annotations

from collections.abc import Mapping

INHERITED = frozenset({
    # The process basics.
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    # The Python that runs the worker, as the launching command found it.
    "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
    # Reaching storage and the webhook: certificates, proxies, the GCS emulator and credentials
    # file a local task needs to read gs:// input (a path, not a secret value).
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT",
    # Compute placement and threads.
    "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    # Where the model cache is and whether it may be downloaded (paths and a switch; HF_TOKEN,
    # a secret, is not inherited).
    "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE",
})
# The engine's own settings (model, revision, device, batch size, options: no secret among them):
# the launcher counts already-predicted products with the engine version they name, so the tasks
# must run that same engine, not the default one.
INHERITED_PREFIXES = ("LC_", "OFFBATCH_VLLM_")


def inherited(environ: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed part of ``environ``."""
    return {k: v for k, v in environ.items() if k in INHERITED or k.startswith(INHERITED_PREFIXES)}


def task_environment(environ: Mapping[str, str], spec_env: Mapping[str, str]) -> dict[str, str]:
    """A task's environment: the allow-listed ``environ`` with the job's own variables on top."""
    return {**inherited(environ), **spec_env}
